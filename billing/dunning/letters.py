"""The mise en demeure and the recourse pack, as PDFs (Jinja2 + WeasyPrint, no Flask).

As for invoices, the wording is in `LABELS`, not the gettext catalogue: the
French letter is a legal document (Code civil 1344: a debtor is put on
notice "par une sommation ou par un acte portant interpellation
suffisante"; Code de commerce L441-10 and D441-5 for the penalties), which
must read exactly so; the English text is a courtesy rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from billing.dunning.letter_labels import LABELS
from billing.dunning.penalties import Penalties
from billing.typography import Formatter as TypographyFormatter

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@dataclass(frozen=True, slots=True)
class Letter:
    """Everything the mise en demeure states."""

    locale: str
    currency: str
    creditor: dict[str, Any]  # name, legal_name, siret, address, email, iban, bic
    debtor: dict[str, Any]  # name, legal_name, address, email, is_business
    invoice_number: str
    issue_date: date
    due_date: date
    amount_minor: int  # the invoice total, VAT included
    paid_minor: int
    penalties: Penalties
    rate_bp: int
    letter_date: date
    deadline: date
    pay_link: str
    signature: str
    # What the freelancer recorded: {number, sent_on, received_on} or {not_sent: true}.
    registered_letter: dict[str, Any] | None = None
    timezone: str = "Europe/Paris"
    # The creditor's legal identity lines (EI, capital, registration), as on invoices.
    creditor_identity: tuple[str, ...] = ()

    @property
    def registered(self) -> bool:
        """A registered letter was recorded as sent (the letter may say so)."""
        return bool(self.registered_letter and self.registered_letter.get("number"))

    @property
    def total_minor(self) -> int:
        """Principal still due plus penalties."""
        return self.amount_minor - self.paid_minor + self.penalties.total_minor


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One dated line of the recourse pack's timeline."""

    when: datetime
    what: str
    who: str


@dataclass(frozen=True, slots=True)
class QuoteEvidence:
    """The signed quote and how it was accepted (when the debt comes from a quote)."""

    title: str
    content: dict[str, Any]
    version: int
    sha256: str
    signer_name: str
    signed_at: datetime
    ip: str
    user_agent: str
    milestones: list[dict[str, Any]] = field(default_factory=list)
    number: str = ""
    date: str = ""  # ISO date of the quote


class Formatter(TypographyFormatter):
    """Money, dates, local times and rates in one locale (billing.typography)."""


_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _context(letter: Letter) -> dict[str, Any]:
    lang = letter.locale if letter.locale in LABELS else "fr"
    return {
        "t": LABELS[lang],
        "fmt": Formatter(lang, letter.currency, letter.timezone),
        "day": lambda iso: Formatter(lang, letter.currency).date(date.fromisoformat(iso)),
        "letter": letter,
        "lang": lang,
    }


def formal_notice_html(letter: Letter) -> str:
    """The mise en demeure as HTML."""
    return _env.get_template("pdf/mise_en_demeure.html").render(_context(letter))


def formal_notice_pdf(letter: Letter) -> bytes:
    """The mise en demeure as A4 PDF bytes, ready to print and send by registered mail."""
    from weasyprint import HTML

    return HTML(string=formal_notice_html(letter), base_url=str(TEMPLATES / "pdf")).write_pdf()


@dataclass(frozen=True, slots=True)
class Reminder:
    """A copy of one reminder e-mail as it was sent."""

    sent_at: datetime
    to: str
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class IssuedDocument:
    """An invoice or credit note exactly as issued: its number, PDF bytes and SHA-256."""

    number: str
    title: str
    pdf: bytes
    sha256: str


def recourse_pack_pdf(
    letter: Letter,
    *,
    timeline: list[TimelineEntry],
    quote: QuoteEvidence | None,
    reminders: list[Reminder],
    documents: list[IssuedDocument],
) -> bytes:
    """ONE PDF: the guide, the parties and the claim, the signed quote and its evidence,
    the timeline, the reminders' copies and the letter's proof of sending, then the mise
    en demeure, then every invoice and credit note byte for byte as issued."""
    from io import BytesIO

    from pypdf import PdfReader, PdfWriter
    from weasyprint import HTML

    base = str(TEMPLATES / "pdf")
    context = {
        **_context(letter),
        "timeline": timeline,
        "quote": quote,
        "reminders": reminders,
        "documents": documents,
    }
    cover = HTML(
        string=_env.get_template("pdf/recourse_pack.html").render(context), base_url=base
    ).write_pdf()
    writer = PdfWriter()
    for part in [cover, formal_notice_pdf(letter), *(d.pdf for d in documents)]:
        writer.append(PdfReader(BytesIO(part)))
    out = BytesIO()
    writer.write(out)
    return out.getvalue()
