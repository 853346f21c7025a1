"""Every booking payment is backed by an invoice, and every refund by a credit note.

Through the invoices feature (`webapp.invoices.issue`), like quotes and paid
messages: one invoice per captured payment (the prepayment, the deposit, the
balance, a captured hold or the fee kept on a late cancellation or a no-show).
Invoicing runs in a savepoint after the money moved: an invoice that cannot
be issued (an incomplete business profile) never undoes a charge; it leaves
an event on the booking's timeline instead.
"""

from __future__ import annotations

from flask_babel import force_locale, gettext
from sqlalchemy.orm import Session

from billing import events
from billing.errors import BillingError
from billing.invoicing.service import Party
from billing.models import Payment
from webapp.accounts.models import Freelancer
from webapp.booking.models import CANCELLED, NO_SHOW, Booking

SOURCE = "booking_payment"


def _description(booking: Booking, payment: Payment, locale: str) -> str:
    with force_locale(locale):
        if booking.status == CANCELLED:
            label = gettext("Late cancellation fee")
        elif booking.status == NO_SHOW:
            label = gettext("No-show fee")
        elif payment.purpose == "deposit":
            label = gettext("Deposit")
        elif payment.purpose == "balance":
            label = gettext("Balance")
        else:
            label = gettext("Session")
    return f"{label} — {booking.title}"


def invoice_payment(session: Session, booking: Booking, payment: Payment) -> None:
    """Issue the invoice of a succeeded booking payment (idempotent per payment)."""
    from webapp.invoices.issue import issue_for_payment, priced_line

    freelancer = session.get(Freelancer, booking.freelancer_id)
    assert freelancer is not None
    try:
        with session.begin_nested():
            issue_for_payment(
                session,
                payment,
                lines=[
                    priced_line(
                        freelancer,
                        _description(booking, payment, freelancer.locale),
                        payment.amount_captured_minor,
                    )
                ],
                # A session booked online: the client is treated as a consumer.
                buyer=Party(
                    name=booking.client_name,
                    legal_name="",
                    siret="",
                    address="",
                    email=booking.client_email,
                    is_business=False,
                ),
                service_date=booking.start_at.date(),
                locale=freelancer.locale,
                source_type=SOURCE,
                source_id=payment.id,
            )
    except BillingError as exc:
        events.record(
            session,
            subject_type="booking",
            subject_id=booking.id,
            action="booking_invoice_not_issued",
            freelancer_id=booking.freelancer_id,
            data={"payment_id": payment.id, "error": str(exc)},
        )


def credit_refund(
    session: Session, booking: Booking, payment: Payment, amount_minor: int, reason: str
) -> None:
    """A credit note (avoir) for money given back on an invoiced payment."""
    from billing.invoicing import service as invoicing
    from webapp.invoices.issue import local_today

    invoice = invoicing.find_by_source(session, booking.freelancer_id, SOURCE, payment.id)
    if invoice is None:
        return
    freelancer = session.get(Freelancer, booking.freelancer_id)
    assert freelancer is not None
    try:
        with session.begin_nested():
            invoicing.issue_credit_note(
                session,
                invoice.id,
                amount_minor=amount_minor,
                reason=reason or "refund",
                issue_date=local_today(freelancer),
            )
    except BillingError as exc:
        events.record(
            session,
            subject_type="booking",
            subject_id=booking.id,
            action="booking_credit_note_not_issued",
            freelancer_id=booking.freelancer_id,
            data={"payment_id": payment.id, "error": str(exc)},
        )
