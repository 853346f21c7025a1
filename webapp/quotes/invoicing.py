"""Every milestone payment is backed by an invoice, through the invoices feature."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from billing import events
from billing.errors import NotAllowed
from billing.invoicing.models import Invoice
from billing.invoicing.service import Party
from billing.models import Payment
from webapp.accounts.models import Freelancer
from webapp.quotes.models import Milestone, Quote


def _buyer(quote: Quote) -> Party:
    return Party(
        name=quote.client_name,
        legal_name=quote.client_company or quote.client_name,
        siret=quote.client_siret,
        address=quote.client_address,
        email=quote.client_email,
        is_business=quote.client_is_business,
    )


def _line(freelancer: Freelancer, quote: Quote, milestone: Milestone):  # noqa: ANN202
    from webapp.invoices.issue import priced_line

    return priced_line(
        freelancer, f"{quote.title} — {milestone.title}", milestone.amount_minor, quantity=1
    )


def issue_milestone_invoice(
    session: Session, milestone: Milestone, payment: Payment | None, *, paid_on: date | None = None
) -> Invoice:
    """The invoice for a paid milestone: by card (`payment`) or by bank transfer (`paid_on`).

    Idempotent through the invoices feature (one invoice per milestone source).
    """
    from billing.invoicing import service as invoicing
    from webapp.invoices.issue import issue_for_payment, issue_unpaid, local_today

    quote = session.get(Quote, milestone.quote_id)
    freelancer = session.get(Freelancer, milestone.freelancer_id)
    assert quote is not None and freelancer is not None
    lines = [_line(freelancer, quote, milestone)]
    service_date = (milestone.delivered_at.date() if milestone.delivered_at else None) or (
        local_today(freelancer)
    )
    if payment is not None:
        return issue_for_payment(
            session,
            payment,
            lines=lines,
            buyer=_buyer(quote),
            service_date=service_date,
            locale=freelancer.locale,
            source_type="milestone",
            source_id=milestone.id,
        )
    invoice = issue_unpaid(
        session,
        freelancer=freelancer,
        lines=lines,
        buyer=_buyer(quote),
        service_date=service_date,
        source_type="milestone",
        source_id=milestone.id,
        locale=freelancer.locale,
        currency=milestone.currency,
    )
    assert milestone.paid_at is not None
    invoicing.record_payment(
        session,
        invoice.id,
        amount_minor=milestone.amount_minor,
        method="transfer",
        paid_at=milestone.paid_at,
        reference=f"milestone {milestone.id}",
    )
    return invoice


def issue_invoice(session: Session, milestone: Milestone, payment: Payment | None) -> None:
    """Every milestone payment is backed by an invoice (the invoices feature issues it).

    By card: issued for the succeeded payment. By bank transfer: issued, then
    the transfer recorded on it.
    """
    try:
        # A savepoint: an invoice that cannot be issued (e.g. the profile lacks
        # the legal name) must never undo the record of money already taken.
        with session.begin_nested():
            invoice = issue_milestone_invoice(session, milestone, payment)
    except (NotAllowed, ValueError) as exc:
        events.record(
            session,
            subject_type="milestone",
            subject_id=milestone.id,
            action="milestone_invoice_not_issued",
            freelancer_id=milestone.freelancer_id,
            data={"error": str(exc), "payment_id": payment.id if payment else None},
        )
        return
    events.record(
        session,
        subject_type="milestone",
        subject_id=milestone.id,
        action="milestone_invoiced",
        freelancer_id=milestone.freelancer_id,
        data={"invoice_id": invoice.id, "number": getattr(invoice, "number", None)},
    )
