"""Every booking payment is backed by an invoice, and every refund by a credit note.

Through the invoices feature's one ledger subscriber (`webapp.invoices.ledger`),
like quotes and paid messages: one invoice per captured payment (the
prepayment, the deposit, the balance, a captured hold or the fee kept on a
late cancellation or a no-show). `what_to_invoice` is what bookings register
there; an invoice that cannot be issued (an incomplete business profile)
never undoes a charge, it leaves `booking_invoice_not_issued` (or
`booking_credit_note_not_issued`) on the booking's timeline instead.
"""

from __future__ import annotations

from flask_babel import force_locale, gettext
from sqlalchemy.orm import Session

from billing.models import Payment
from webapp import clients
from webapp.accounts.models import Freelancer
from webapp.booking.models import CANCELLED, NO_SHOW, Booking
from webapp.invoices.issue import priced_line
from webapp.invoices.ledger import ToInvoice

SOURCE = "booking_payment"
NOT_ISSUED = "booking_invoice_not_issued"
CREDIT_NOT_ISSUED = "booking_credit_note_not_issued"


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


def what_to_invoice(session: Session, payment: Payment) -> ToInvoice | None:
    """The invoice of a succeeded booking payment (its source: the payment itself)."""
    booking = session.get(Booking, int(payment.subject_id))
    if booking is None or booking.freelancer_id != payment.freelancer_id:
        return None
    freelancer = session.get(Freelancer, booking.freelancer_id)
    assert freelancer is not None
    return ToInvoice(
        lines=[
            priced_line(
                freelancer,
                _description(booking, payment, booking.client_locale or freelancer.locale),
                payment.amount_captured_minor,
            )
        ],
        # The client said whether they book for a company (webapp.clients).
        buyer=clients.buyer_party(
            booking.client_name,
            booking.client_email,
            booking.client_is_business,
            booking.client_details,
        ),
        service_date=booking.start_at.date(),
        # The client's language: the invoice is theirs to read.
        locale=booking.client_locale or freelancer.locale,
        source_type=SOURCE,
        source_id=payment.id,
    )
