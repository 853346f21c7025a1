"""Every milestone payment is backed by an invoice, through the invoices feature.

By card: the invoices' ledger subscriber (`webapp.invoices.ledger`) issues it
once the milestone is paid, as `what_to_invoice` describes it. By bank
transfer: `issue_invoice`, in the same one savepoint.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from billing import events
from billing.invoicing import service as invoicing
from billing.invoicing.models import KIND_DEPOSIT, KIND_FINAL, KIND_INVOICE, Invoice
from billing.invoicing.service import Line, Party
from billing.models import Payment
from webapp import clients
from webapp.accounts.models import Freelancer
from webapp.invoices.issue import issue_or_report, issue_unpaid, local_today, priced_line
from webapp.invoices.ledger import ToInvoice
from webapp.quotes import transitions as t
from webapp.quotes.lookups import milestones_of
from webapp.quotes.models import Milestone, Quote
from webapp.quotes.numbers import quote_lines, quote_summary

SOURCE = "milestone"
NOT_ISSUED = "milestone_invoice_not_issued"


def _buyer(quote: Quote) -> Party:
    details = dict(quote.client_details or {})
    if not details.get("company"):
        details["company"] = quote.client_company
    party = clients.buyer_party(
        quote.client_name, quote.client_email, quote.client_is_business, details
    )
    if not party.address and quote.client_address:
        # Quotes written before structured addresses kept a text address.
        party = replace(party, address=quote.client_address, siret=quote.client_siret)
    return party


def _kind_and_mentions(
    session: Session, quote: Quote, milestone: Milestone
) -> tuple[str, dict | None, str]:
    """A quote paid in several milestones: deposits (factures d'acompte), then the final
    invoice that restates the quote's total and deducts each deposit invoice (CGI 289
    I-1-c). One milestone: an ordinary invoice."""
    milestones = sorted(milestones_of(session, quote), key=lambda m: m.position)
    if len(milestones) <= 1:
        return KIND_INVOICE, None, ""
    summary = quote_summary(session, quote)
    if milestone.position != milestones[-1].position:
        return KIND_DEPOSIT, {"quote": summary}, ""
    deposits = []
    for earlier in milestones[:-1]:
        invoice = invoicing.find_by_source(session, quote.freelancer_id, SOURCE, earlier.id)
        if invoice is not None:
            deposits.append(
                {
                    "number": invoice.number,
                    "issue_date": invoice.issue_date.isoformat(),
                    "total_incl_vat_minor": invoice.total_incl_vat_minor,
                }
            )
    items = "; ".join(
        f"{line['description']} × {line['quantity']}" for line in quote_lines(session, quote)
    )
    return KIND_FINAL, {"quote": summary, "deposits": deposits}, items


def _invoiced_as(session: Session, milestone: Milestone) -> ToInvoice:
    quote = session.get(Quote, milestone.quote_id)
    freelancer = session.get(Freelancer, milestone.freelancer_id)
    assert quote is not None and freelancer is not None
    kind, mentions, items = _kind_and_mentions(session, quote, milestone)
    description = f"{quote.title} — {milestone.title}"
    if items:
        # The final invoice keeps the quote's line items in words.
        description = f"{description} ({items})"
    line: Line = priced_line(freelancer, description, milestone.amount_minor, quantity=1)
    service_date = (milestone.delivered_at.date() if milestone.delivered_at else None) or (
        local_today(freelancer)
    )
    return ToInvoice(
        lines=[line],
        buyer=_buyer(quote),
        service_date=service_date,
        source_type=SOURCE,
        source_id=milestone.id,
        locale=quote.client_locale or freelancer.locale,
        kind=kind,
        mentions=mentions,
    )


def what_to_invoice(session: Session, payment: Payment) -> ToInvoice | None:
    """The invoice of the card payment that paid a milestone (one invoice per milestone).

    The milestone's own subscriber runs first and moves it to `paid`. A
    payment that did not pay it (the milestone was not waiting for money) is
    not invoiced, nor one arriving when its invoice is paid already; an
    unpaid one (issued by dunning after a failed charge) gets the payment
    recorded on it.
    """
    milestone = session.get(Milestone, int(payment.subject_id))
    if (
        milestone is None
        or milestone.freelancer_id != payment.freelancer_id
        or milestone.status != t.PAID
        or milestone.paid_by != "card"
    ):
        return None
    existing = invoicing.find_by_source(session, milestone.freelancer_id, SOURCE, milestone.id)
    if existing is not None and invoicing.balance_due(existing) <= 0:
        return None
    return _invoiced_as(session, milestone)


def record_invoiced(session: Session, payment: Payment, invoice: Invoice) -> None:
    """The milestone's timeline says which invoice backs its card payment."""
    _record(session, int(payment.subject_id), invoice)


def _record(session: Session, milestone_id: int, invoice: Invoice) -> None:
    milestone = session.get(Milestone, milestone_id)
    assert milestone is not None
    events.record(
        session,
        subject_type=SOURCE,
        subject_id=milestone.id,
        action="milestone_invoiced",
        freelancer_id=milestone.freelancer_id,
        data={"invoice_id": invoice.id, "number": getattr(invoice, "number", None)},
    )


def issue_invoice(session: Session, milestone: Milestone, payment: Payment | None = None) -> None:
    """The invoice of a milestone paid by bank transfer: issued, then the transfer recorded.

    A card payment (`payment`) is invoiced by the invoices' ledger subscriber;
    passing one here asks it to do so now (idempotent).
    """
    if payment is not None:
        from webapp.invoices.ledger import invoice_payment

        invoice_payment(session, payment)
        return
    what = _invoiced_as(session, milestone)
    freelancer = session.get(Freelancer, milestone.freelancer_id)
    assert freelancer is not None

    def issue() -> Invoice:
        invoice = issue_unpaid(
            session,
            freelancer=freelancer,
            lines=what.lines,
            buyer=what.buyer,
            service_date=what.service_date,
            source_type=what.source_type,
            source_id=what.source_id,
            locale=what.locale,
            currency=milestone.currency,
            kind=what.kind,
            extra_mentions=what.mentions,
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

    invoice = issue_or_report(
        session,
        issue,
        lambda error: events.record(
            session,
            subject_type=SOURCE,
            subject_id=milestone.id,
            action=NOT_ISSUED,
            freelancer_id=milestone.freelancer_id,
            data={"error": error, "payment_id": None},
        ),
    )
    if invoice is not None:
        _record(session, milestone.id, invoice)
