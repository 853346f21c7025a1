"""What paid questions hear from the ledger, how the ledger locks a question, and what
the invoices' ledger subscriber invoices for a captured hold.

Registered by the app factory (`subscribe_to_ledger`, in `register_billing`),
never by importing this module.
"""

from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events, outcomes, payments
from billing.db import utcnow
from billing.invoicing.models import Invoice
from billing.locking import lock
from billing.models import Payment
from webapp import clients
from webapp.accounts.models import Freelancer
from webapp.invoices import ledger as invoices
from webapp.invoices.issue import local_today, priced_line
from webapp.messages import notify
from webapp.messages.answering import deliver
from webapp.messages.models import Answer, Question
from webapp.messages.states import (
    AWAITING_ANSWER,
    CAPTURE_FAILED,
    PENDING_PAYMENT,
    SUBJECT,
    move,
)


def subscribe_to_ledger() -> None:
    """What paid questions hear from the ledger (the app factory's step; idempotent)."""
    # The question before its payment: the engine's one lock order.
    outcomes.register_subject_lock(SUBJECT, lock_question)
    outcomes.subscribe(SUBJECT)(on_payment)
    invoices.register(
        SUBJECT, what_to_invoice, not_issued="message_invoice_failed", issued=record_invoice
    )


def lock_question(session: Session, subject_id: str) -> None:
    """Lock the question a payment belongs to (taken before the payment's row)."""
    if subject_id.isdigit():
        lock(session, Question, int(subject_id))


def on_payment(session: Session, payment: Payment, old: str, new: str) -> None:
    """A hold authorised (now, or later by a 3-D Secure webhook): the clock starts.

    A capture whose answer was lost, found succeeded later (the sweep, a
    webhook): the saved answer goes out then, with its invoice.
    """
    if new == payments.SUCCEEDED and payment.subject_id.isdigit():
        question = session.get(Question, int(payment.subject_id))
        if question is not None and question.status == CAPTURE_FAILED:
            reply = session.scalar(select(Answer).where(Answer.question_id == question.id))
            if reply is not None and reply.sent_at is None:
                deliver(session, question, reply, now=utcnow(), actor=events.SYSTEM)
        return
    if new != payments.AUTHORIZED or not payment.subject_id.isdigit():
        return
    question = session.get(Question, int(payment.subject_id))
    if question is None or question.status != PENDING_PAYMENT:
        return
    if question.payment_id != payment.id:
        return
    authorized_at = payment.authorized_at
    assert authorized_at is not None
    question.deadline_at = authorized_at + timedelta(hours=question.answer_delay_hours)
    if payment.hold_expires_at is not None and question.deadline_at > payment.hold_expires_at:
        # Settings keep the delay inside the window; never promise past the hold.
        question.deadline_at = payment.hold_expires_at
    move(
        session,
        question,
        AWAITING_ANSWER,
        actor=events.STRIPE,
        data={"payment_id": payment.id, "deadline_at": question.deadline_at.isoformat()},
    )
    notify.asked(session, question)


def _question_of(session: Session, payment: Payment) -> Question | None:
    if not payment.subject_id.isdigit():
        return None
    question = session.get(Question, int(payment.subject_id))
    if question is None or question.payment_id != payment.id:
        return None
    return question


def what_to_invoice(session: Session, payment: Payment) -> invoices.ToInvoice | None:
    """The invoice backing a question's captured hold: the answer, dated today."""
    question = _question_of(session, payment)
    if question is None:
        return None
    freelancer = session.get(Freelancer, question.freelancer_id)
    assert freelancer is not None
    today = local_today(freelancer, utcnow())
    line = priced_line(
        freelancer,
        str(_l("Answer to a paid question (%(date)s)", date=today)),
        payment.amount_captured_minor,
    )
    return invoices.ToInvoice(
        lines=[line],
        buyer=clients.buyer_party(
            question.client_name,
            question.client_email,
            question.client_is_business,
            question.client_details,
        ),
        service_date=today,
        locale=question.client_locale,
        source_type=SUBJECT,
        source_id=question.id,
    )


def record_invoice(session: Session, payment: Payment, invoice: Invoice) -> None:
    """The question shows its invoice (the client's receipt)."""
    question = _question_of(session, payment)
    if question is not None:
        question.invoice_id = invoice.id
        session.flush()
