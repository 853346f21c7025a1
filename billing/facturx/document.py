"""Issuing the Factur-X document of an invoice: build the XML, check it, refuse it in
plain words or make the PDF/A-3 and keep the XML beside it.

`issued_pdf_bytes(session, invoice)` is what `billing.invoicing.documents.store`
calls at issue, in the issuing savepoint: a refusal (`EInvoiceRefused`, a
`NotAllowed`) rolls the invoice and its number back, and the caller tells the
freelancer which rule failed.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.errors import NotAllowed
from billing.facturx import cii, pdfa, rules
from billing.facturx.models import EInvoice
from billing.invoicing.models import Invoice
from billing.invoicing.pdf_labels import LABELS
from billing.typography import Formatter

# Rule → what the freelancer can do about it, for the rules our own data can break.
PLAIN: dict[str, str] = {
    "BR-FR-09": "the seller's SIRET must be 14 digits starting with the SIREN: check the SIRET "
    "on your business profile",
    "BR-FR-10": "the seller's SIREN (the first 9 digits of your SIRET) is missing: fill in your "
    "SIRET on your business profile",
    "BR-FR-13": "the seller has no e-invoicing address (your SIREN): fill in your SIRET on your "
    "business profile",
    "BR-FR-11": "the client is a business in France but has no SIREN: add the client's SIREN "
    "(9 digits)",
    "BR-FR-21": "the client is a business in France but has no SIREN to address the e-invoice "
    "to: add the client's SIREN",
    "BR-FR-12": "the client has no address to receive an e-invoice: add the client's e-mail "
    "address (or SIREN for a business)",
    "BR-FR-16": "this VAT rate is not a French rate (20, 10, 8.5, 5.5, 2.1 %…): check the VAT "
    "rate on your business profile",
    "BR-FR-CO-12": "an invoice in a currency other than the euro must also state its VAT in "
    "euros, which Acompte cannot do yet: invoice in euros",
    "BR-S-02": "VAT is charged but the invoice has no seller VAT number: fill in your intra-EU "
    "VAT number on your business profile",
    "BR-AE-02": "a reverse-charge invoice needs both VAT numbers: fill in yours on your "
    "business profile and the client's",
    "BR-AE-03": "a reverse-charge invoice needs both VAT numbers: fill in yours on your "
    "business profile and the client's",
    "BR-E-02": "the invoice has no seller VAT number or tax identifier: fill in your SIRET or "
    "VAT number on your business profile",
    "BR-CO-26": "the seller has no identifier (SIRET, SIREN or VAT number): fill in your "
    "SIRET on your business profile",
    "BR-08": "the seller's postal address is missing: fill it in on your business profile",
    "BR-09": "the seller's address has no country: fill in your postal address",
    "BR-10": "the client's postal address is missing: add the client's address",
    "BR-11": "the client's address has no country: add the client's country",
    "BR-06": "the seller's legal name is missing: fill it in on your business profile",
    "BR-07": "the client's name is missing",
    "XSD": "the e-invoice's structure is not valid (XSD)",
}


class EInvoiceRefused(NotAllowed):
    """The document's e-invoice breaks a rule: it is not issued. `.report` has every failure."""

    code = "einvoice_invalid"

    def __init__(self, invoice: Invoice, report: rules.Report) -> None:
        self.report = report
        self.failures = report.failures
        super().__init__(refusal_message(invoice, report))


def refusal_message(invoice: Invoice, report: rules.Report) -> str:
    """What the freelancer reads: the document was not issued, which rules failed and why."""
    title = {"credit_note": "credit note", "debit_note": "debit note"}.get(
        invoice.kind, "invoice" if invoice.kind == "invoice" else f"{invoice.kind} invoice"
    )
    seen: dict[str, str] = {}
    for failure in report.failures:
        if failure.rule not in seen:
            seen[failure.rule] = PLAIN.get(failure.rule) or failure.text
    reasons = "; ".join(f"rule {rule}: {why}" for rule, why in list(seen.items())[:5])
    more = f" (and {len(seen) - 5} more)" if len(seen) > 5 else ""
    return (
        f"This {title} was not issued: its e-invoice (Factur-X, EN 16931 and French rules) "
        f"fails {reasons}{more}."
    )


def identity(invoice: Invoice) -> list[str]:
    """The seller's legal identity lines, as the PDF prints them (French)."""
    from billing.invoicing.pdf import identity_lines

    return identity_lines(invoice.seller, LABELS["fr"], Formatter("fr", invoice.currency))


def build_and_check(invoice: Invoice) -> tuple[bytes, rules.Report]:
    """The invoice's CII XML and what the rule sets say about it."""
    xml = cii.build_xml(invoice, identity(invoice))
    return xml, rules.check(xml)


def issued_pdf_bytes(session: Session, invoice: Invoice, *, strict: bool = True) -> bytes:
    """The Factur-X PDF/A-3 of a document being issued, its XML stored beside it; flushed.

    `strict` (at issue): a failing XML raises `EInvoiceRefused`. Not strict (an
    invoice issued before Factur-X, rendered for the first time now): its PDF
    is made without an XML rather than with one that breaks the rules.
    """
    xml, report = build_and_check(invoice)
    if not report.ok:
        if strict:
            raise EInvoiceRefused(invoice, report)
        return pdfa.render_pdfa(invoice)
    data = pdfa.embed(pdfa.render_pdfa(invoice), xml, invoice)
    session.add(
        EInvoice(
            invoice_id=invoice.id,
            xml=xml,
            sha256=hashlib.sha256(xml).hexdigest(),
            profile="en16931",
            rule_sets=report.rule_sets,
            warnings=[asdict(w) for w in report.warnings[:50]],
        )
    )
    session.flush()
    return data


def einvoice_of(session: Session, invoice_id: int) -> EInvoice | None:
    """The stored e-invoice of an issued document (None before Factur-X or when refused)."""
    return session.scalar(select(EInvoice).where(EInvoice.invoice_id == invoice_id))
