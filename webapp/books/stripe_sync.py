"""Reading Stripe's payouts and what they paid out into the books (issue 17).

`read` talks to Stripe with no transaction open (the gateway port: `list_payouts`,
`list_payout_transactions`); `store` then writes each payout and balance
transaction once (by Stripe id; a payout's status is refreshed) and recognises
payouts on bank lines already imported, so a statement imported before the read
leaves no payout in the review list. Operations flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events
from billing.books.models import BankLine, StripeBalanceTxn, StripePayout
from billing.db import utcnow
from billing.gateway.port import BalanceTransactionResult, PaymentGateway, PayoutResult
from webapp.books import service

Found = list[tuple[PayoutResult, list[BalanceTransactionResult]]]


@dataclass(frozen=True, slots=True)
class Synced:
    """What a read brought: payouts seen, new transactions, payouts found on the statement."""

    payouts: int
    transactions: int
    recognised: int


def _stamp(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def read(gateway: PaymentGateway, start: date, end: date) -> Found:
    """The payouts arriving from `start` to `end` and their transactions, from Stripe.

    Stripe's arrival dates are calendar days (midnight UTC); a day of margin on each
    side catches a payout whose day differs from the freelancer's local one.
    """
    low = datetime.combine(start - timedelta(days=1), time(0), tzinfo=UTC)
    high = datetime.combine(end + timedelta(days=1), time(23, 59, 59), tzinfo=UTC)
    payouts = gateway.list_payouts(
        arrival_from=int(low.timestamp()), arrival_to=int(high.timestamp())
    )
    return [(p, gateway.list_payout_transactions(p.id)) for p in payouts]


def store(
    session: Session, freelancer_id: int, account: str | None, found: Found, *, actor: str
) -> Synced:
    """Write what `read` brought, then recognise the payouts on the bank lines; flushed."""
    new_txns = 0
    for payout, txns in found:
        row = session.scalar(
            select(StripePayout).where(
                StripePayout.freelancer_id == freelancer_id,
                StripePayout.stripe_payout_id == payout.id,
            )
        )
        if row is None:
            row = StripePayout(
                freelancer_id=freelancer_id,
                stripe_account=account,
                stripe_payout_id=payout.id,
                created_at=_stamp(payout.created),
            )
            session.add(row)
        row.amount_minor = payout.amount_minor
        row.currency = payout.currency.lower()
        row.status = payout.status[:20]
        row.arrival_on = _stamp(payout.arrival_date).date()
        row.statement_descriptor = payout.statement_descriptor[:100]
        row.synced_at = utcnow()
        session.flush()
        known = set(
            session.scalars(
                select(StripeBalanceTxn.stripe_txn_id).where(
                    StripeBalanceTxn.freelancer_id == freelancer_id,
                    StripeBalanceTxn.stripe_txn_id.in_([t.id for t in txns]),
                )
            )
        )
        for txn in txns:
            if txn.id in known:
                continue
            known.add(txn.id)
            new_txns += 1
            session.add(
                StripeBalanceTxn(
                    freelancer_id=freelancer_id,
                    payout_id=row.id,
                    stripe_txn_id=txn.id,
                    type=txn.type[:30],
                    amount_minor=txn.amount_minor,
                    fee_minor=txn.fee_minor,
                    net_minor=txn.amount_minor - txn.fee_minor,
                    currency=txn.currency.lower(),
                    created_at=_stamp(txn.created),
                    source_id=txn.source_id or "",
                    payment_intent_id=txn.payment_intent_id or "",
                )
            )
    session.flush()
    recognised = 0
    waiting = session.scalars(
        select(BankLine)
        .where(BankLine.freelancer_id == freelancer_id, BankLine.amount_minor > 0)
        .order_by(BankLine.booked_on, BankLine.id)
    )
    for line in waiting:
        if service.match_payout(session, line, actor=actor):
            recognised += 1
    events.record(
        session,
        subject_type="freelancer",
        subject_id=freelancer_id,
        action="stripe_payouts_read",
        actor=actor,
        freelancer_id=freelancer_id,
        data={"payouts": len(found), "transactions": new_txns, "recognised": recognised},
    )
    return Synced(len(found), new_txns, recognised)
