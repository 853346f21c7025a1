"""The dunning sweep, run by `billing run-due` and the worker every minute.

1. Catch up on failed off-session charges that have no case (the subscriber
   could not open one, e.g. no app context, or a crash).
2. Open cases for unpaid invoices past their due date (bank transfers).
3. Sweep every open or paused case: under its row lock, check the guards,
   record each due step with its effect in one transaction; then execute the
   card retries prepared (after that commit, as the ledger requires).
Idempotent: run twice, or on two workers at once, each step happens once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from billing import payments
from billing.dunning import service as engine
from billing.dunning.models import DunningCase
from billing.errors import AlreadyDone, GatewayUnavailable, NotAllowed
from billing.invoicing.models import ISSUED, KIND_INVOICE, PARTIALLY_PAID, Invoice
from billing.models import Payment
from webapp.due import due_runner
from webapp.dunning import service

CATCH_UP_WINDOW = timedelta(days=7)


def _missed_failures(session: Session, now: datetime) -> list[int]:
    later = aliased(Payment)
    key = "payment:" + Payment.subject_type + ":" + Payment.subject_id
    return list(
        session.scalars(
            select(Payment.id)
            .where(
                Payment.status == payments.FAILED,
                Payment.off_session.is_(True),
                # A failed hold is not money owed: its feature asks for another card.
                Payment.capture_method == "automatic",
                Payment.purpose.not_in((service.RETRY_PURPOSE, service.LINK_PURPOSE)),
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
            .order_by(Payment.id)
        )
    )


def _overdue_invoices(session: Session, now: datetime) -> list[int]:
    return list(
        session.scalars(
            select(Invoice.id)
            .where(
                Invoice.kind == KIND_INVOICE,
                Invoice.status.in_((ISSUED, PARTIALLY_PAID)),
                Invoice.due_date < now.date(),
                # Penalties are not chased with more penalties.
                Invoice.source_type != service.PENALTY_SOURCE,
                ~exists().where(DunningCase.invoice_id == Invoice.id),
                # A failed charge's case will link this invoice itself.
                ~exists().where(
                    DunningCase.freelancer_id == Invoice.freelancer_id,
                    DunningCase.subject_type == Invoice.source_type,
                    DunningCase.subject_id == Invoice.source_id,
                ),
            )
            .order_by(Invoice.id)
        )
    )


@due_runner("dunning")
def run(session: Session, now: datetime) -> list[str]:
    """Open what must be opened, then bring every live case up to date."""
    lines: list[str] = []
    for payment_id in _missed_failures(session, now):
        payment = session.get(Payment, payment_id)
        case = service.open_for_failed_payment(session, payment, now=now)
        session.commit()
        lines.append(f"case {case.id} for failed payment {payment_id}")
    for invoice_id in _overdue_invoices(session, now):
        invoice = session.get(Invoice, invoice_id)
        case = service.open_for_overdue_invoice(session, invoice, now=now)
        session.commit()
        lines.append(f"case {case.id} for overdue invoice {invoice.number}")
    live = session.scalars(
        select(DunningCase.id)
        .where(DunningCase.status.in_((engine.OPEN, engine.PAUSED)))
        .order_by(DunningCase.id)
    ).all()
    for case_id in live:
        result = engine.sweep_case(session, case_id, now, service.Steps())
        session.commit()
        lines.extend(result.lines)
        for payment_id in result.payments_to_execute:
            lines.append(_execute(session, case_id, payment_id, now))
    return lines


def _execute(session: Session, case_id: int, payment_id: int, now: datetime) -> str:
    from billing.credentials import credentials_for
    from webapp.stripe_connect import gateway_for, instance_credentials, secret_box

    payment = session.get(Payment, payment_id)
    # The keys are read in this runner's own session: the request-scoped
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
