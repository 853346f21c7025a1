"""The Factur-X PDF: the invoice's own HTML rendered as PDF/A-3b by WeasyPrint, then the
CII XML embedded as `factur-x.xml` with the Factur-X XMP metadata by the `factur-x`
package (`generate_from_binary`) — no PDF surgery of our own.

PDF/A-3 is the archival PDF that may carry attachments; `pdfaid:part=3`,
`conformance=B` and the `fx:` extension schema (document file name, type
INVOICE, conformance level EN 16931) are what a receiving platform reads.
"""

from __future__ import annotations

import warnings

from facturx import generate_from_binary, get_xml_from_pdf

from billing.invoicing.models import Invoice
from billing.invoicing.pdf_labels import LABELS

LANGS = {"fr": "fr-FR", "en": "en-GB"}


def render_pdfa(invoice: Invoice, *, locale: str | None = None) -> bytes:
    """The invoice as PDF/A-3b bytes, without the XML yet."""
    from weasyprint import HTML  # heavy import, only when a PDF is made

    from billing.invoicing import pdf

    html = pdf.render_html(invoice, locale=locale)
    with warnings.catch_warnings():
        # WeasyPrint reads its sRGB output-intent profile from a file it never closes.
        warnings.simplefilter("ignore", ResourceWarning)
        return HTML(string=html, base_url=str(pdf.TEMPLATES / "pdf")).write_pdf(
            pdf_variant="pdf/a-3b"
        )


def metadata(invoice: Invoice) -> dict[str, str]:
    """The PDF's document information (also written into its XMP)."""
    seller = invoice.seller.get("legal_name") or invoice.seller.get("name") or ""
    title = LABELS["fr"].get(invoice.kind, LABELS["fr"]["invoice"])
    return {
        "author": seller,
        "keywords": "Factur-X, EN 16931, " + title,
        "title": f"{seller}: {title} {invoice.number}",
        "subject": f"{title} {invoice.number} du {invoice.issue_date.isoformat()}, {seller}",
    }


def embed(pdf_bytes: bytes, xml: bytes, invoice: Invoice) -> bytes:
    """The PDF/A-3 with `factur-x.xml` attached (AFRelationship Data) and the Factur-X XMP."""
    return generate_from_binary(
        pdf_bytes,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=False,  # checked before, with the schematrons
        pdf_metadata=metadata(invoice),
        lang=LANGS.get(invoice.locale, "fr-FR"),
    )


def extract_xml(pdf_bytes: bytes) -> tuple[str | None, bytes | None]:
    """(file name, XML bytes) of the Factur-X XML inside a PDF, or (None, None)."""
    filename, xml = get_xml_from_pdf(pdf_bytes, check_xsd=False)
    return filename or None, xml or None
