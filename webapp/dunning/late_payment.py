"""Late-payment penalties (pénalités de retard): the rate table, what a case owes as of
a day, and the separate penalty invoice issued with the formal notice.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events
from billing.db import utcnow
from billing.dunning import penalties, rates
from billing.dunning import service as engine
from billing.dunning.models import DunningCase, DunningRate
from billing.dunning.schedule import (
    FORMAL_NOTICE,
)
from billing.invoicing import service as invoicing
from billing.invoicing.models import KIND_DEBIT_NOTE, Invoice
from billing.typography import Formatter
from webapp.accounts.models import Freelancer
from webapp.dunning.cases import PENALTY_SOURCE, invoice_of


def rate_table(session: Session) -> rates.RateTable:
    """The editable rate table from the database (the seed when empty)."""
    rows = list(session.scalars(select(DunningRate)))
    if not rows:
        return rates.DEFAULT_TABLE
    return rates.RateTable(rates.Rate(r.kind, r.valid_from, r.rate_bp, r.source) for r in rows)


def contractual_floor_today() -> int | None:
    """3 × today's legal rate in basis points (L441-10); while the table lacks this
    half-year, 3 × the latest published one (None with no legal rate at all)."""
    from webapp.extensions import db

    table = rate_table(db.session)
    try:
        return rates.contractual_floor_bp(table, utcnow().date())
    except rates.MissingRate:
        legal = [r for r in table.rates() if r.kind == rates.LEGAL]
        if not legal:
            return None
        return rates.FLOOR_MULTIPLIER * max(legal, key=lambda r: r.valid_from).rate_bp


class RateRefused(ValueError):
    """A rate the table cannot take (bad date, not a percentage)."""


def add_rate(
    session: Session, kind: str, valid_from: date, percent: str, source: str = ""
) -> DunningRate:
    """Add or correct one half-year's rate; flushed. An empty table is seeded first."""
    try:
        value = Decimal(percent.replace(",", "."))
    except InvalidOperation:
        raise RateRefused(f"not a percentage: {percent!r}") from None
    if kind not in rates.KINDS:
        raise RateRefused(f"kind is one of {', '.join(rates.KINDS)}")
    if valid_from.day != 1 or valid_from.month not in (1, 7):
        raise RateRefused("a rate starts on 1 January or 1 July")
    if value.as_tuple().exponent < -2 or not Decimal(-10) <= value <= Decimal(100):  # type: ignore[operator]
        raise RateRefused("a rate is a percentage between -10 and 100 with two decimals at most")
    if session.scalar(select(DunningRate.id).limit(1)) is None:
        for seed in rates.SEED:
            session.add(
                DunningRate(
                    **{f: getattr(seed, f) for f in ("kind", "valid_from", "rate_bp", "source")}
                )
            )
        session.flush()
    row = session.scalar(
        select(DunningRate).where(DunningRate.kind == kind, DunningRate.valid_from == valid_from)
    )
    if row is None:
        row = DunningRate(kind=kind, valid_from=valid_from)
        session.add(row)
    row.rate_bp = int(value * 100)
    row.source = source
    session.flush()
    return row


def penalties_for(
    session: Session, case: DunningCase, as_of: date, *, formal_notice_date: date | None = None
) -> tuple[penalties.Penalties, int]:
    """The case's penalties as of a day, and the rate of `as_of`'s half-year (basis points).

    Interest runs on the invoice's total less what was paid, payment by
    payment (a credit note lowers the principal itself). `rates.MissingRate`
    when a half-year of the period is not in the rate table yet.
    """
    invoice = invoice_of(session, case)
    table = rate_table(session)
    payments: list[tuple[date, int]] = []
    if invoice is None:
        due, amount, business, contractual = (
            case.anchor_at.date(),
            case.amount_minor,
            case.client_is_business,
            None,
        )
    else:
        due = invoice.due_date
        amount = invoice.total_incl_vat_minor - invoicing.credited_minor(invoice)
        payments = [(p.paid_at.date(), p.amount_minor) for p in invoice.payments]
        business, contractual = bool(invoice.buyer.get("is_business")), invoice.penalty_rate_bp
    if formal_notice_date is None:
        step = engine.steps_of(session, case.id).get(FORMAL_NOTICE)
        formal_notice_date = step.done_at.date() if step and step.outcome == "sent" else None
    result = penalties.compute(
        max(0, amount),
        case.currency,
        due_date=due,
        as_of=as_of,
        business=business,
        contractual_rate_bp=contractual,
        formal_notice_date=formal_notice_date,
        table=table,
        payments=payments,
    )
    if not business:
        rate = table.rate_on(rates.LEGAL, as_of)
    elif contractual is not None:
        rate = contractual
    else:
        rate = table.rate_on(rates.ECB, as_of) + rates.ECB_MARGIN_BP
    return result, rate


_PARTY_FIELDS = (
    "name",
    "legal_name",
    "siret",
    "address",
    "email",
    "is_business",
    "vat_number",
    "siren",
    "postal_address",
)


def _party(buyer: dict) -> invoicing.Party:
    """The penalty invoice bills whoever the unpaid invoice billed."""
    values = {k: buyer.get(k) for k in _PARTY_FIELDS}
    values["siren"] = values["siren"] or ""
    return invoicing.Party(**values)


def bill_penalties(session: Session, case: DunningCase, *, now: datetime) -> Invoice | None:
    """The penalty debit note (never an edit of the issued invoice), once per case: out of
    VAT scope, without a penalty clause of its own, due on the formal notice's deadline."""
    if case.penalty_invoice_id is not None:
        return invoicing.get_invoice(session, case.freelancer_id, case.penalty_invoice_id)
    invoice = invoice_of(session, case)
    if invoice is None:
        return None
    freelancer = session.get(Freelancer, case.freelancer_id)
    assert freelancer is not None
    today = now.astimezone(ZoneInfo(freelancer.timezone)).date()
    result, _rate = penalties_for(session, case, today, formal_notice_date=today)
    if result.total_minor <= 0:
        return None
    from webapp.invoices.issue import issue_or_report, issue_unpaid

    deadline = today + timedelta(
        days=engine.config_for(session, case.freelancer_id).final_deadline_days
    )
    fmt = Formatter(case.locale, case.currency, freelancer.timezone)
    lines = []
    with force_locale(case.locale):
        # Penalties and the indemnity are not subject to VAT (not the price of a service):
        # one line per period, each at its half-year's rate.
        for segment in result.segments:
            if not segment.interest_minor:
                continue
            lines.append(
                invoicing.Line(
                    _(
                        "Late-payment interest, invoice %(number)s, %(first)s – %(last)s "
                        "(%(days)s days on %(balance)s at %(rate)s)",
                        number=invoice.number,
                        first=fmt.date(segment.first_day),
                        last=fmt.date(segment.last_day),
                        days=segment.days,
                        balance=fmt.money(segment.balance_minor),
                        rate=fmt.rate(segment.rate_bp),
                    ),
                    1,
                    segment.interest_minor,
                    0,
                )
            )
        if result.indemnity_minor:
            lines.append(
                invoicing.Line(
                    _(
                        "Fixed recovery indemnity (Code de commerce D441-5), invoice %(number)s",
                        number=invoice.number,
                    ),
                    1,
                    result.indemnity_minor,
                    0,
                )
            )
    buyer = invoice.buyer
    penalty = issue_or_report(
        session,
        lambda: issue_unpaid(
            session,
            freelancer=freelancer,
            lines=lines,
            buyer=_party(buyer),
            service_date=now.date(),
            source_type=PENALTY_SOURCE,
            source_id=invoice.id,
            locale=case.locale,
            currency=case.currency,
            now=now,
            kind=KIND_DEBIT_NOTE,
            extra_mentions={
                "original": {
                    "number": invoice.number,
                    "issue_date": invoice.issue_date.isoformat(),
                }
            },
            due_date=deadline,
        ),
        lambda error: engine.record(
            session,
            case,
            "dunning_penalty_invoice_failed",
            data={"error": error},
            actor=events.SYSTEM,
        ),
    )
    if penalty is None:
        return None
    case.penalty_invoice_id = penalty.id
    session.flush()
    return penalty
