"""Credit notes (avoirs): the only way to correct an issued invoice.

They carry positive amounts: their kind gives the sign. They reduce what the
credited invoice still asks for; when a credit note exceeds what is left to
pay, the difference is money owed back (`amounts.refund_due`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from billing import events
from billing.errors import AlreadyDone, NotAllowed
from billing.invoicing.amounts import credited_minor
from billing.invoicing.issuing import create_document
from billing.invoicing.models import DEBIT_KINDS, KIND_CREDIT_NOTE, Invoice
from billing.invoicing.status import lock_invoice, refresh_status
from billing.invoicing.validation import Line, check_int


def issue_credit_note(
    session: Session,
    invoice_id: int,
    *,
    amount_minor: int | None = None,
    reason: str,
    issue_date: date,
    actor: str = events.SYSTEM,
) -> Invoice:
    """Issue an avoir on an invoice: in full (`None`: what is not yet credited) or partly.

    The amount includes VAT and is never more than what is left to credit. A
    partial credit on an invoice with several VAT rates is refused (credit it
    in full and issue a new invoice), since how to split it is a choice the
    law leaves to the freelancer.
    """
    if not reason or not reason.strip():
        raise NotAllowed("a credit note states its reason")
    invoice = lock_invoice(session, invoice_id)
    if invoice.kind not in DEBIT_KINDS:
        raise NotAllowed("a credit note cannot itself be credited")
    if issue_date < invoice.issue_date:
        raise NotAllowed("a credit note cannot be dated before the invoice it credits")
    creditable = invoice.total_incl_vat_minor - credited_minor(invoice)
    if creditable <= 0:
        raise AlreadyDone(f"invoice {invoice.number} is already fully credited")
    if amount_minor is not None:
        amount_minor = check_int("amount_minor", amount_minor)
        if not 0 < amount_minor <= creditable:
            raise NotAllowed(f"the credited amount must be between 1 and {creditable}")
    amount = creditable if amount_minor is None else amount_minor
    if amount == invoice.total_incl_vat_minor:
        # In full: the same lines, so every VAT rate is reversed exactly.
        lines = [
            Line(
                description=li.description,
                quantity=Decimal(li.quantity_milli) / 1000,
                unit_amount_minor=li.unit_amount_minor,
                vat_rate_bp=li.vat_rate_bp,
                unit_includes_vat=li.unit_includes_vat,
            )
            for li in invoice.lines
        ]
    else:
        rates = {li.vat_rate_bp for li in invoice.lines}
        if len(rates) != 1:
            raise NotAllowed(
                "this invoice has several VAT rates: credit it in full, then issue a new one"
            )
        # One line priced VAT included: its total is exactly the credited amount.
        lines = [Line(reason.strip(), 1, amount, rates.pop(), unit_includes_vat=True)]
    n = 1 + len(invoice.credit_notes)
    note = create_document(
        session,
        kind=KIND_CREDIT_NOTE,
        freelancer_id=invoice.freelancer_id,
        seller=invoice.seller,
        buyer=invoice.buyer,
        lines=lines,
        currency=invoice.currency,
        issue_date=issue_date,
        service_date=invoice.service_date,
        due_date=issue_date,
        vat_regime=invoice.vat_regime,
        penalty_rate_bp=invoice.penalty_rate_bp,
        recovery_indemnity=False,
        iban=invoice.iban,
        bic=invoice.bic,
        source_type="invoice",
        source_id=f"{invoice.id}:{n}",
        locale=invoice.locale,
        actor=actor,
        credited_invoice_id=invoice.id,
        reason=reason.strip(),
    )
    events.record(
        session,
        subject_type="invoice",
        subject_id=invoice.id,
        action="invoice_credit_note_issued",
        actor=actor,
        freelancer_id=invoice.freelancer_id,
        data={"credit_note": note.number, "amount_minor": amount, "reason": reason.strip()},
    )
    session.refresh(invoice, ["credit_notes"])
    refresh_status(session, invoice, actor=actor)
    return note
