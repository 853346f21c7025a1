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
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from billing.invoicing import service
from billing.invoicing.models import KIND_CREDIT_NOTE, KIND_DEBIT_NOTE, Invoice
from billing.invoicing.pdf_labels import LABELS
from billing.typography import Formatter

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


_Formatter = Formatter


LEGAL_FORMS = {"eurl": "EURL", "sasu": "SASU", "sas": "SAS", "sarl": "SARL"}


def identity_lines(seller: dict[str, Any], t: dict[str, str], fmt: Formatter) -> list[str]:
    """The seller's legal identity: "EI" (R526-26), capital and registration (R123-237),
    insurance (loi 96-603 art. 22-2)."""
    out = []
    form = seller.get("legal_form") or ""
    if form == "ei":
        out.append(t["ei"])
        out.append(seller.get("registration") or t["exempt_registration"])
    elif form:
        capital = seller.get("share_capital_minor")
        name = LEGAL_FORMS.get(form, "")
        if name and capital is not None:
            out.append(t["capital"].format(form=name, capital=fmt.money(capital)))
        if seller.get("registration"):
            out.append(seller["registration"])
    if seller.get("insurance"):
        out.append(t["insurance"].format(insurance=seller["insurance"]))
    return out


def render_html(invoice: Invoice, *, locale: str | None = None) -> str:
    """The document as HTML (what the PDF is made from)."""
    lang = locale if locale in LABELS else invoice.locale if invoice.locale in LABELS else "fr"
    t = LABELS[lang]
    fmt = _Formatter(lang, invoice.currency)
    buyer = invoice.buyer
    seller = invoice.seller
    is_credit = invoice.kind == KIND_CREDIT_NOTE
    is_debit_note = invoice.kind == KIND_DEBIT_NOTE
    if invoice.penalty_rate_bp is not None and buyer.get("is_business"):
        penalties = t["penalties_rate"].format(rate=fmt.rate(invoice.penalty_rate_bp))
    elif buyer.get("is_business"):
        penalties = t["penalties_legal"]
    else:
        # L441-10 binds professionals; a consumer owes the legal interest rate from the
        # formal notice (Code civil 1231-6), whatever rate a contract names.
        penalties = t["penalties_consumer"]
    mentions = invoice.mentions or {}
    deposits = mentions.get("deposits") or []
    context: dict[str, Any] = {
        "t": t,
        "fmt": fmt,
        "lang": lang,
        "invoice": invoice,
        "seller": seller,
        "buyer": buyer,
        "is_credit": is_credit,
        "is_debit_note": is_debit_note,
        "title": t.get(invoice.kind, t["invoice"]),
        "credited": invoice.credited_invoice,
        "vat_rows": service.vat_summary(invoice),
        "franchise": invoice.vat_regime == service.VAT_FRANCHISE,
        "penalties": penalties,
        "mentions": mentions,
        "identity": identity_lines(seller, t, fmt),
        "category": t["category"].format(
            category=t["category_" + mentions.get("category", "services")]
        ),
        "quote": mentions.get("quote"),
        "deposits": deposits,
        "net_due": invoice.total_incl_vat_minor - sum(d["total_incl_vat_minor"] for d in deposits),
        "date_of": lambda iso: fmt.date(date.fromisoformat(iso)),
        "colon": "\u202f: " if lang == "fr" else ": ",
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
