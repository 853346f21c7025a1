"""Dunning's due work, as three kinds run by `billing run-due` and the worker.

1. `dunning-missed-failures`: failed off-session charges that have no case
   (the subscriber could not open one, e.g. no app context, or a crash).
2. `dunning-overdue-invoices`: unpaid invoices past their due date (bank
   transfers).
3. `dunning-sweep`: every open or paused case, one item each: under its row
   lock, check the guards, record each due step with its effect in one
   transaction; then, after that commit as the ledger requires, execute the
   card retries the sweep prepared, in the same item.
Idempotent: run twice, or on two workers at once, each step happens once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session, aliased

from billing import payments
from billing.dunning import service as engine
from billing.dunning.models import DunningCase
from billing.errors import AlreadyDone, GatewayUnavailable, NotAllowed
from billing.invoicing.models import DEBIT_KINDS, ISSUED, PARTIALLY_PAID, Invoice
from billing.locking import lock
from billing.models import Payment
from webapp.due import DueKind
from webapp.dunning import opening
from webapp.dunning.cases import LINK_PURPOSE, PENALTY_SOURCE, RETRY_PURPOSE
from webapp.dunning.steps import Steps

CATCH_UP_WINDOW = timedelta(days=7)
BATCH = 200


def _missed_failures(now: datetime) -> Select:
    later = aliased(Payment)
    key = "payment:" + Payment.subject_type + ":" + Payment.subject_id
    return select(Payment.id).where(
        Payment.status == payments.FAILED,
        Payment.off_session.is_(True),
        # A failed hold is not money owed: its feature asks for another card.
        Payment.capture_method == "automatic",
        Payment.purpose.not_in((RETRY_PURPOSE, LINK_PURPOSE)),
        Payment.subject_type != engine.SUBJECT,
        Payment.updated_at >= now - CATCH_UP_WINDOW,
        ~exists().where(
            DunningCase.freelancer_id == Payment.freelancer_id,
            DunningCase.source_key == key,
        ),
        ~exists().where(
            later.subject_type == Payment.subject_type,
            later.subject_id == Payment.subject_id,
            later.freelancer_id == Payment.freelancer_id,
            later.status == payments.SUCCEEDED,
        ),
    )


def find_missed_failures(session: Session, now: datetime) -> list[int]:
    """Failed off-session charges of the last week that no case covers."""
    query = _missed_failures(now).order_by(Payment.id).limit(BATCH)
    return list(session.scalars(query))


def open_for_missed_failure(session: Session, payment_id: int, now: datetime) -> str | None:
    """Open the case of one failed charge, if still uncovered (checked under its lock)."""
    payment = lock(session, Payment, payment_id)
    still_missed = session.scalar(_missed_failures(now).where(Payment.id == payment_id))
    if payment is None or still_missed is None:
        return None
    case = opening.open_for_failed_payment(session, payment, now=now)
    return f"case {case.id} for failed payment {payment_id}"


def _overdue_invoices(now: datetime) -> Select:
    return select(Invoice.id).where(
        Invoice.kind.in_(DEBIT_KINDS),
        Invoice.status.in_((ISSUED, PARTIALLY_PAID)),
        Invoice.due_date < now.date(),
        # Penalties are not chased with more penalties.
        Invoice.source_type != PENALTY_SOURCE,
        ~exists().where(DunningCase.invoice_id == Invoice.id),
        # A failed charge's case will link this invoice itself.
        ~exists().where(
            DunningCase.freelancer_id == Invoice.freelancer_id,
            DunningCase.subject_type == Invoice.source_type,
            DunningCase.subject_id == Invoice.source_id,
        ),
    )


def find_overdue_invoices(session: Session, now: datetime) -> list[int]:
    """Unpaid invoices past their due date that have no case."""
    query = _overdue_invoices(now).order_by(Invoice.id).limit(BATCH)
    return list(session.scalars(query))


def open_for_overdue_invoice(session: Session, invoice_id: int, now: datetime) -> str | None:
    """Open the case of one overdue invoice, if still uncovered (checked under its lock)."""
    invoice = lock(session, Invoice, invoice_id)
    still_overdue = session.scalar(_overdue_invoices(now).where(Invoice.id == invoice_id))
    if invoice is None or still_overdue is None:
        return None
    case = opening.open_for_overdue_invoice(session, invoice, now=now)
    return f"case {case.id} for overdue invoice {invoice.number}"


def find_live_cases(session: Session, now: datetime) -> list[int]:
    """Open and paused cases, the least recently swept first (so a batch never starves one)."""
    return list(
        session.scalars(
            select(DunningCase.id)
            .where(DunningCase.status.in_((engine.OPEN, engine.PAUSED)))
            .order_by(DunningCase.updated_at, DunningCase.id)
            .limit(BATCH)
        )
    )


def sweep(session: Session, case_id: int, now: datetime) -> str | None:
    """Bring one case up to date as of `now`, then execute the card retries it prepared."""
    result = engine.sweep_case(session, case_id, now, Steps())
    case = session.get(DunningCase, case_id)
    if case is not None:
        # Marks the case swept: `find_live_cases` takes the oldest first.
        case.updated_at = now
    session.commit()
    lines = list(result.lines)
    for payment_id in result.payments_to_execute:
        lines.append(_execute(session, case_id, payment_id, now))
    return "; ".join(lines) or None


def _execute(session: Session, case_id: int, payment_id: int, now: datetime) -> str:
    from billing.credentials import credentials_for
    from webapp.stripe_connect import gateway_for, instance_credentials, secret_box

    payment = session.get(Payment, payment_id)
    # The keys are read in this item's own session: the request-scoped
    # `db.session` would open a second SQLite transaction in the same run.
    creds = credentials_for(
        session, payment.freelancer_id, instance=instance_credentials(), box=secret_box()
    )
    try:
        payments.execute_payment(session, gateway_for(creds), payment_id, now=now)
    except AlreadyDone:
        session.rollback()
        return f"case {case_id}: retry payment {payment_id} already executed"
    except (GatewayUnavailable, NotAllowed) as exc:
        # The row stays `created`; reconciliation finds out what happened.
        session.commit()
        return f"case {case_id}: retry payment {payment_id} outcome unknown ({exc})"
    session.commit()
    return f"case {case_id}: retry payment {payment_id} {payment.status}"


def due_kinds() -> list[DueKind]:
    """Dunning's due kinds in run order: open what must be opened, then sweep every case."""
    return [
        DueKind(
            "dunning-missed-failures",
            "payment",
            find_missed_failures,
            open_for_missed_failure,
            Payment,
        ),
        DueKind(
            "dunning-overdue-invoices",
            "invoice",
            find_overdue_invoices,
            open_for_overdue_invoice,
            Invoice,
        ),
        DueKind("dunning-sweep", engine.SUBJECT, find_live_cases, sweep, DunningCase),
    ]
