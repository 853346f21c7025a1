"""Invoice and credit-note PDFs: templates/pdf/invoice.html through Jinja2 and WeasyPrint.

No Flask here. The wording lives in `LABELS`, not in the gettext catalogue:
the French mentions are legal texts (CGI art. 242 nonies A, 293 B; Code de
commerce L441-9, L441-10, D441-5) that must read exactly so, whatever a
translation pass does; the English version is a courtesy rendering.

Factur-X (PDF/A-3 with the CII XML embedded) is the direction for the French
e-invoicing reform; WeasyPrint can write PDF/A-3 and attachments, so it will
be an extra step on these bytes, not a new renderer.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, select_autoescape

from billing.invoicing import service
from billing.invoicing.models import KIND_CREDIT_NOTE, Invoice
from billing.money import minor_exponent

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
_BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "invoice": "Facture",
        "credit_note": "Avoir",
        "number": "N°",
        "issue_date": "Date d'émission",
        "service_date": "Date de la prestation",
        "due_date": "Date d'échéance",
        "seller": "Émetteur",
        "buyer": "Client",
        "siret": "SIRET",
        "vat_number": "N° TVA intracommunautaire",
        "email": "E-mail",
        "description": "Désignation",
        "quantity": "Qté",
        "unit_price": "Prix unitaire HT",
        "unit_price_incl": "Prix unitaire TTC",
        "vat_rate": "TVA",
        "line_total": "Total HT",
        "total_excl": "Total HT",
        "total_vat": "TVA",
        "total_incl": "Total TTC",
        "vat_at": "TVA à {rate}",
        "vat_base": "base {base}",
        "franchise": "TVA non applicable, art. 293 B du CGI",
        "credited_invoice": "Avoir sur la facture n° {number} du {date}",
        "reason": "Motif",
        "terms": "Conditions de paiement",
        "terms_due": "Paiement au plus tard le {due}, par virement bancaire ou par carte.",
        "terms_credit": "Montant remboursé ou déduit des sommes dues.",
        "penalties_legal": "Pénalités de retard : taux BCE majoré de 10 points "
        "(art. L441-10 du Code de commerce).",
        "penalties_rate": "Pénalités de retard : {rate} par an (art. L441-10 du Code de commerce).",
        "penalties_consumer": "Pénalités de retard : taux de l'intérêt légal en vigueur.",
        "indemnity": "Indemnité forfaitaire pour frais de recouvrement de 40 € "
        "(art. L441-10 et D441-5 du Code de commerce).",
        "no_discount": "Pas d'escompte pour paiement anticipé.",
        "bank": "Coordonnées bancaires",
        "payments": "Paiements reçus",
        "paid_on": "{amount} le {date} ({method})",
        "balance": "Reste à payer",
        "refund_due": "Trop-perçu à rembourser",
        "paid_in_full": "Facture acquittée.",
        "method_card": "carte bancaire",
        "method_transfer": "virement",
        "method_other": "autre moyen",
        "fingerprint": "Empreinte SHA-256",
        "page": "Page",
    },
    "en": {
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "number": "No.",
        "issue_date": "Issue date",
        "service_date": "Date of service",
        "due_date": "Due date",
        "seller": "From",
        "buyer": "Bill to",
        "siret": "SIRET",
        "vat_number": "VAT number",
        "email": "E-mail",
        "description": "Description",
        "quantity": "Qty",
        "unit_price": "Unit price excl. VAT",
        "unit_price_incl": "Unit price incl. VAT",
        "vat_rate": "VAT",
        "line_total": "Total excl. VAT",
        "total_excl": "Total excl. VAT",
        "total_vat": "VAT",
        "total_incl": "Total incl. VAT",
        "vat_at": "VAT at {rate}",
        "vat_base": "on {base}",
        "franchise": "VAT not applicable, art. 293 B du CGI (French VAT franchise).",
        "credited_invoice": "Credit note for invoice {number} of {date}",
        "reason": "Reason",
        "terms": "Payment terms",
        "terms_due": "Payment due by {due}, by bank transfer or card.",
        "terms_credit": "Amount refunded or deducted from sums owed.",
        "penalties_legal": "Late payment penalties: ECB rate plus 10 percentage points "
        "(French Commercial Code art. L441-10).",
        "penalties_rate": "Late payment penalties: {rate} per year "
        "(French Commercial Code art. L441-10).",
        "penalties_consumer": "Late payment penalties: the legal interest rate in force.",
        "indemnity": "Fixed recovery fee of €40 for late payment "
        "(French Commercial Code art. L441-10 and D441-5).",
        "no_discount": "No discount for early payment.",
        "bank": "Bank details",
        "payments": "Payments received",
        "paid_on": "{amount} on {date} ({method})",
        "balance": "Balance due",
        "refund_due": "Overpayment to refund",
        "paid_in_full": "Paid in full.",
        "method_card": "card",
        "method_transfer": "bank transfer",
        "method_other": "other",
        "fingerprint": "SHA-256 fingerprint",
        "page": "Page",
    },
}

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


class _Formatter:
    """Money, dates, rates and quantities in one locale."""

    def __init__(self, locale: str, currency: str) -> None:
        self.locale = _BABEL_LOCALES.get(locale, "fr_FR")
        self.currency = currency

    def money(self, minor: int) -> str:
        exp = minor_exponent(self.currency)
        return format_currency(
            Decimal(minor).scaleb(-exp), self.currency.upper(), locale=self.locale
        )

    def date(self, value: date) -> str:
        return format_date(value, format="long", locale=self.locale)

    def rate(self, basis_points: int) -> str:
        return format_decimal(Decimal(basis_points) / 100, locale=self.locale) + " %"

    def quantity(self, milli: int) -> str:
        return format_decimal(Decimal(milli) / 1000, locale=self.locale)


def render_html(invoice: Invoice, *, locale: str | None = None) -> str:
    """The document as HTML (what the PDF is made from)."""
    lang = locale if locale in LABELS else invoice.locale if invoice.locale in LABELS else "fr"
    t = LABELS[lang]
    fmt = _Formatter(lang, invoice.currency)
    buyer = invoice.buyer
    is_credit = invoice.kind == KIND_CREDIT_NOTE
    if invoice.penalty_rate_bp is not None and buyer.get("is_business"):
        penalties = t["penalties_rate"].format(rate=fmt.rate(invoice.penalty_rate_bp))
    elif buyer.get("is_business"):
        penalties = t["penalties_legal"]
    elif invoice.penalty_rate_bp is not None:
        penalties = t["penalties_rate"].format(rate=fmt.rate(invoice.penalty_rate_bp))
    else:
        # L441-10 binds professionals; a consumer owes the legal interest rate.
        penalties = t["penalties_consumer"]
    context: dict[str, Any] = {
        "t": t,
        "fmt": fmt,
        "lang": lang,
        "invoice": invoice,
        "is_credit": is_credit,
        "title": t["credit_note"] if is_credit else t["invoice"],
        "credited": invoice.credited_invoice,
        "vat_rows": service.vat_summary(invoice),
        "franchise": invoice.vat_regime == service.VAT_FRANCHISE,
        "penalties": penalties,
        "payments": invoice.payments,
        "balance": service.balance_due(invoice),
        "refund_due": service.refund_due(invoice),
        "paid": service.paid_minor(invoice),
        "stylesheet": (TEMPLATES / "pdf" / "invoice.css").read_text(encoding="utf-8"),
    }
    return _env.get_template("pdf/invoice.html").render(context)


def render_pdf(invoice: Invoice, *, locale: str | None = None) -> bytes:
    """The invoice or credit note as A4 PDF bytes, in `locale` (default: the invoice's)."""
    from weasyprint import HTML  # heavy import, only when a PDF is made

    html = render_html(invoice, locale=locale)
    return HTML(string=html, base_url=str(TEMPLATES / "pdf")).write_pdf()


def filename(invoice: Invoice) -> str:
    """`F2026-0001.pdf`."""
    return f"{invoice.number}.pdf"
