"""Gapless invoice numbers: one continuous series per freelancer, kind and year.

Format: `F2026-0001` for invoices, `AV2026-0001` for credit notes (avoirs).
Two series, each continuous and chronological, restarting every calendar
year with the year in the number — the usual French practice, accepted as
long as no number is skipped or reused inside a series.

The number is taken under a lock on the sequence row (`SELECT … FOR UPDATE`
on PostgreSQL; SQLite's single write lock, taken by the upsert) in the same
transaction as the issue: a rolled-back issue rolls the counter back too, and
a concurrent issue waits for the first to commit.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from billing.errors import NotAllowed
from billing.invoicing.models import DEBIT_KINDS, KIND_CREDIT_NOTE, KIND_INVOICE, InvoiceSequence

KIND_QUOTE = "quote"
PREFIXES = {KIND_INVOICE: "F", KIND_CREDIT_NOTE: "AV", KIND_QUOTE: "D"}


def series_of(kind: str) -> str:
    """The series a document kind is numbered in: deposits, finals and debit notes are
    invoices (one continuous series, CGI ann. II art. 242 nonies A); credit notes and
    quotes (devis) have their own."""
    if kind in DEBIT_KINDS:
        return KIND_INVOICE
    if kind in (KIND_CREDIT_NOTE, KIND_QUOTE):
        return kind
    raise NotAllowed(f"unknown invoice kind {kind!r}")


def format_number(kind: str, year: int, n: int) -> str:
    """`F2026-0001`; past 9999 the number simply grows wider (`F2026-10000`)."""
    return f"{PREFIXES[series_of(kind)]}{year}-{n:04d}"


def _ensure_row(session: Session, freelancer_id: int, kind: str, year: int) -> None:
    # An upsert that does nothing when the row exists: two first issues of the
    # year racing both end up locking the same single row.
    values = {"freelancer_id": freelancer_id, "kind": kind, "year": year, "next_number": 1}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(InvoiceSequence).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(InvoiceSequence).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(dialect)
    session.execute(stmt)


def take_number(session: Session, *, freelancer_id: int, kind: str, issue_date: date) -> str:
    """Reserve the next number of the series for an issue dated `issue_date`.

    Flushes, never commits: the caller's commit makes the number final.
    Raises `NotAllowed` when `issue_date` is earlier than the series' last
    issue (the numbering must stay chronological).
    """
    kind = series_of(kind)
    year = issue_date.year
    _ensure_row(session, freelancer_id, kind, year)
    row = session.scalar(
        select(InvoiceSequence)
        .where(
            InvoiceSequence.freelancer_id == freelancer_id,
            InvoiceSequence.kind == kind,
            InvoiceSequence.year == year,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    if row.last_issue_date is not None and issue_date < row.last_issue_date:
        raise NotAllowed(
            f"numbering must stay chronological: the last {kind} was issued on "
            f"{row.last_issue_date.isoformat()}, after {issue_date.isoformat()}"
        )
    n = row.next_number
    row.next_number = n + 1
    row.last_issue_date = issue_date
    session.flush()
    return format_number(kind, year, n)
