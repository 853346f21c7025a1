"""The issued document: an invoice's PDF rendered once, at issue, and kept byte for byte.

CGI art. 289 VII: an issued invoice may not be altered. The PDF is stored with
its SHA-256 in the issuing transaction; every download, e-mail attachment and
recourse pack returns those bytes. What happens later (payments, credit
notes) is shown on the invoice's page, never written into the document.

`issued_pdf(session, invoice)` is the one function other code calls for an
invoice's PDF bytes.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.invoicing.models import Invoice, InvoiceDocument


def _render(session: Session, invoice: Invoice, *, strict: bool = True) -> bytes:
    # Factur-X (issue 12): a PDF/A-3 with its checked CII XML embedded; a failing
    # XML refuses the issue (`billing.facturx.document.EInvoiceRefused`).
    from billing.facturx import document  # WeasyPrint and Saxon: loaded when a PDF is made

    return document.issued_pdf_bytes(session, invoice, strict=strict)


def store(session: Session, invoice: Invoice, *, strict: bool = True) -> InvoiceDocument:
    """Render the issued invoice's PDF and keep it with its SHA-256; flushed."""
    data = _render(session, invoice, strict=strict)
    document = InvoiceDocument(
        invoice_id=invoice.id, pdf=data, sha256=hashlib.sha256(data).hexdigest()
    )
    session.add(document)
    session.flush()
    return document


def document_of(session: Session, invoice: Invoice) -> InvoiceDocument:
    """The stored document; an invoice issued before documents were stored gets its
    PDF rendered from its frozen content now, once, and kept."""
    document = session.scalar(
        select(InvoiceDocument).where(InvoiceDocument.invoice_id == invoice.id)
    )
    return document if document is not None else store(session, invoice, strict=False)


def issued_pdf(session: Session, invoice: Invoice) -> bytes:
    """The invoice's PDF exactly as issued (the same bytes every time)."""
    return document_of(session, invoice).pdf


def pdf_sha256(session: Session, invoice: Invoice) -> str | None:
    """The stored PDF's SHA-256, or None when it was never rendered (older invoices)."""
    return session.scalar(
        select(InvoiceDocument.sha256).where(InvoiceDocument.invoice_id == invoice.id)
    )
