"""Importing a bank statement and settling invoices with its lines: each file once
(its SHA-256), each line once (its bank reference), each match an event, undoable.

Operations flush; the caller commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import events
from billing.books import matching
from billing.books.models import BankLine, BankMatch, BankStatement, StripePayout
from billing.books.statements import BANK_ZONE, Statement
from billing.db import utcnow
from billing.dunning import service as dunning
from billing.dunning.models import DunningCase
from billing.errors import NotAllowed
from billing.invoicing import service as invoicing
from billing.invoicing.models import CREDITED, DEBIT_KINDS, PAID, Invoice
from webapp.books.settle import lock_case_of, record_transfer


@dataclass(slots=True)
class Imported:
    """An import's outcome: the statement, its new lines, how many were matched."""

    statement: BankStatement
    lines: int
    matched: int
    unmatched: int
    new: bool


def allocated_minor(session: Session, line: BankLine) -> int:
    """What of the line is assigned to invoices (undone matches do not count)."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(BankMatch.amount_minor), 0)).where(
                BankMatch.line_id == line.id, BankMatch.undone_at.is_(None)
            )
        )
        or 0
    )


def payout_of(session: Session, line: BankLine) -> StripePayout | None:
    """The Stripe payout this bank line carries, once recognised."""
    return session.scalar(select(StripePayout).where(StripePayout.bank_line_id == line.id))


def left_minor(session: Session, line: BankLine) -> int:
    """What of a credit line still waits for an invoice (0 for a debit or a Stripe payout)."""
    if line.amount_minor > 0 and payout_of(session, line) is not None:
        return 0
    return max(0, line.amount_minor - allocated_minor(session, line))


def match_payout(session: Session, line: BankLine, *, actor: str = events.SYSTEM) -> bool:
    """Recognise a credit as a Stripe payout already read from Stripe; True when it is one.

    Only a line with nothing on an invoice yet: money a match placed stays where it is.
    """
    if line.amount_minor <= 0 or allocated_minor(session, line) or payout_of(session, line):
        return False
    rows = session.scalars(
        select(StripePayout).where(
            StripePayout.freelancer_id == line.freelancer_id,
            StripePayout.bank_line_id.is_(None),
            StripePayout.status != "failed",
        )
    ).all()
    candidates = [
        matching.OpenPayout(
            p.id, p.stripe_payout_id, p.amount_minor, p.currency, p.arrival_on,
            p.statement_descriptor,
        )
        for p in rows
    ]  # fmt: skip
    found = matching.payout_for(
        line.amount_minor,
        line.currency,
        line.booked_on,
        f"{line.counterparty} {line.remittance}",
        candidates,
    )
    if found is None:
        return False
    payout = session.get(StripePayout, found.id)
    payout.bank_line_id = line.id
    session.flush()
    events.record(
        session,
        subject_type="bank_line",
        subject_id=line.id,
        action="bank_line_payout_recognised",
        actor=actor,
        freelancer_id=line.freelancer_id,
        data={"payout": payout.stripe_payout_id, "amount_minor": payout.amount_minor},
    )
    return True


def open_invoices(session: Session, freelancer_id: int) -> list[Invoice]:
    """The freelancer's invoices still owed, oldest first."""
    rows = session.scalars(
        select(Invoice)
        .where(
            Invoice.freelancer_id == freelancer_id,
            Invoice.kind.in_(DEBIT_KINDS),
            Invoice.status.notin_((PAID, CREDITED)),
        )
        .order_by(Invoice.issue_date, Invoice.id)
    )
    return [i for i in rows if invoicing.balance_due(i) > 0]


def _open(invoice: Invoice) -> matching.OpenInvoice:
    buyer = invoice.buyer or {}
    return matching.OpenInvoice(
        id=invoice.id,
        number=invoice.number,
        balance_minor=invoicing.balance_due(invoice),
        currency=invoice.currency,
        issue_date=invoice.issue_date,
        names=tuple(n for n in (buyer.get("name"), buyer.get("legal_name")) if n),
    )


def settle(
    session: Session, line: BankLine, invoice: Invoice, amount_minor: int, *, how: str, actor: str
) -> BankMatch:
    """Record part of a line as a transfer on an invoice, and the match; flushed."""
    paid_at = datetime.combine(line.booked_on, time(12), tzinfo=BANK_ZONE)
    payment = record_transfer(
        session,
        invoice,
        amount_minor=amount_minor,
        paid_at=min(paid_at, utcnow()),
        reference=f"{line.bank_reference} {line.remittance}"[:200],
        actor=actor,
    )
    match = BankMatch(
        freelancer_id=line.freelancer_id,
        line_id=line.id,
        invoice_id=invoice.id,
        amount_minor=amount_minor,
        how=how,
        payment_id=payment.id,
    )
    session.add(match)
    session.flush()
    events.record(
        session,
        subject_type="bank_line",
        subject_id=line.id,
        action="bank_line_matched",
        actor=actor,
        freelancer_id=line.freelancer_id,
        data={"invoice": invoice.number, "amount_minor": amount_minor, "how": how},
    )
    return match


def auto_match(session: Session, line: BankLine, *, actor: str = events.SYSTEM) -> bool:
    """Match one credit line by number, else by amount and name; True when all of it is placed."""
    left = left_minor(session, line)
    if left <= 0:
        return True
    invoices = {i.id: i for i in open_invoices(session, line.freelancer_id)}
    how, parts = matching.allocate(
        left,
        line.currency,
        line.booked_on,
        line.remittance,
        line.counterparty,
        [_open(i) for i in invoices.values()],
    )
    for invoice_id, amount in parts:
        settle(session, line, invoices[invoice_id], amount, how=how, actor=actor)
    return left_minor(session, line) == 0


def import_statement(
    session: Session, freelancer_id: int, data: bytes, parsed: Statement, filename: str, actor: str
) -> Imported:
    """Store the statement once and its new lines once, then match the new credits."""
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalar(
        select(BankStatement).where(
            BankStatement.freelancer_id == freelancer_id, BankStatement.sha256 == digest
        )
    )
    if existing is not None:
        return Imported(existing, 0, 0, 0, new=False)
    statement = BankStatement(
        freelancer_id=freelancer_id,
        sha256=digest,
        format=parsed.format,
        filename=filename[:200],
        account=parsed.account[:64],
    )
    session.add(statement)
    session.flush()
    known = set(
        session.scalars(
            select(BankLine.bank_reference).where(
                BankLine.freelancer_id == freelancer_id,
                BankLine.bank_reference.in_([p.reference for p in parsed.lines]),
            )
        )
    )
    new_lines: list[BankLine] = []
    for p in parsed.lines:
        if p.reference in known:
            continue  # an overlapping statement: the line is booked already
        known.add(p.reference)
        line = BankLine(
            freelancer_id=freelancer_id,
            statement_id=statement.id,
            bank_reference=p.reference,
            booked_on=p.booked_on,
            amount_minor=p.amount_minor,
            currency=p.currency,
            counterparty=p.counterparty,
            remittance=p.remittance,
        )
        session.add(line)
        new_lines.append(line)
    session.flush()
    events.record(
        session,
        subject_type="bank_statement",
        subject_id=statement.id,
        action="bank_statement_imported",
        actor=actor,
        freelancer_id=freelancer_id,
        data={"format": parsed.format, "lines": len(new_lines), "sha256": digest},
    )
    matched = unmatched = 0
    for line in new_lines:
        if line.amount_minor <= 0:
            continue
        if match_payout(session, line, actor=actor) or auto_match(session, line, actor=actor):
            matched += 1
        else:
            unmatched += 1
    return Imported(statement, len(new_lines), matched, unmatched, new=True)


def review(session: Session, freelancer_id: int) -> list[tuple[BankLine, int]]:
    """Credit lines with money not yet placed on an invoice, newest first, with what is left."""
    rows = session.scalars(
        select(BankLine)
        .where(BankLine.freelancer_id == freelancer_id, BankLine.amount_minor > 0)
        .order_by(BankLine.booked_on.desc(), BankLine.id.desc())
    )
    out = [(line, left_minor(session, line)) for line in rows]
    return [(line, left) for line, left in out if left > 0]


def assign(
    session: Session, line: BankLine, invoice: Invoice, *, actor: str, amount_minor: int | None
) -> BankMatch:
    """The freelancer's one-click assignment: as much of the line as the invoice owes."""
    left = left_minor(session, line)
    balance = invoicing.balance_due(invoice)
    if line.currency != invoice.currency:
        raise NotAllowed("the line and the invoice are in different currencies")
    amount = amount_minor if amount_minor is not None else min(left, balance)
    if amount <= 0 or amount > left:
        raise NotAllowed(f"at most what is left of the line, {left}")
    return settle(session, line, invoice, amount, how="manual", actor=actor)


def undo(session: Session, match: BankMatch, *, actor: str) -> DunningCase | None:
    """Undo a match: the payment it recorded is reversed, the line waits for review again,
    and the invoice's dunning case, closed as paid, reopens if the invoice is owed again
    (returned, so the freelancer is told)."""
    if match.undone_at is not None:
        raise NotAllowed("this match is already undone")
    lock_case_of(session, match.invoice_id)  # the case before the invoice, as the sweep does
    reversal = invoicing.reverse_payment(
        session, match.payment_id, reason=f"bank match {match.id} undone", actor=actor
    )
    match.undone_at = utcnow()
    match.reversal_payment_id = reversal.id
    session.flush()
    events.record(
        session,
        subject_type="bank_line",
        subject_id=match.line_id,
        action="bank_line_match_undone",
        actor=actor,
        freelancer_id=match.freelancer_id,
        data={
            "match": match.id,
            "invoice_id": match.invoice_id,
            "amount_minor": match.amount_minor,
        },
    )
    return reopen_case(session, match.invoice_id, actor=actor)


def reopen_case(session: Session, invoice_id: int, *, actor: str) -> DunningCase | None:
    """The invoice's paid dunning case, open again when the invoice is owed again; flushed."""
    case = session.scalar(select(DunningCase).where(DunningCase.invoice_id == invoice_id))
    invoice = session.get(Invoice, invoice_id)
    if case is None or case.status != dunning.PAID or invoice is None:
        return None
    if invoice.status in (PAID, CREDITED) or invoicing.balance_due(invoice) <= 0:
        return None
    dunning.reopen(session, case, actor=actor, now=utcnow(), data={"why": "bank match undone"})
    return case


def matches_of(session: Session, line: BankLine) -> list[BankMatch]:
    """A line's matches, undone ones included, oldest first."""
    return list(
        session.scalars(
            select(BankMatch).where(BankMatch.line_id == line.id).order_by(BankMatch.id)
        )
    )
