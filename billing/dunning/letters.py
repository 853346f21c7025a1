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
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, select_autoescape

from billing.dunning.penalties import Penalties
from billing.money import minor_exponent

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
_BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "formal_notice": "Mise en demeure de payer",
        "registered": "Lettre recommandée avec demande d'avis de réception",
        "copy_by_email": "Copie adressée par courriel",
        "subject": "Objet : mise en demeure — facture n° {number}",
        "greeting": "Madame, Monsieur,",
        "body_intro": (
            "Sauf erreur de notre part, la facture n° {number} du {issue_date}, d'un montant "
            "de {amount} TTC, arrivée à échéance le {due_date}, reste impayée malgré nos "
            "relances."
        ),
        "body_demand": (
            "Par la présente, nous vous mettons en demeure de nous régler la somme de "
            "{total}, détaillée ci-dessous, au plus tard le {deadline} ({days} jours à "
            "compter de la présente)."
        ),
        "body_b2b": (
            "Conformément à l'article L441-10 du Code de commerce, cette somme est majorée "
            "de pénalités de retard au taux de {rate} l'an, courant depuis le lendemain de "
            "l'échéance, et de l'indemnité forfaitaire pour frais de recouvrement de 40 € "
            "(article D441-5)."
        ),
        "body_consumer": (
            "Conformément à l'article 1231-6 du Code civil, cette somme porte intérêts au "
            "taux légal ({rate} l'an) à compter de la présente mise en demeure."
        ),
        "next_steps": (
            "À défaut de paiement dans ce délai, nous engagerons sans autre avis une "
            "procédure de recouvrement judiciaire (injonction de payer auprès du tribunal "
            "compétent) ou confierons la créance à un organisme de recouvrement, les frais "
            "en résultant restant à votre charge."
        ),
        "pay_how": "Vous pouvez régler par carte via le lien sécurisé : {link}, ou par virement.",
        "closing": (
            "Nous vous prions d'agréer, Madame, Monsieur, l'expression de nos salutations "
            "distinguées."
        ),
        "principal": "Principal (facture n° {number})",
        "paid_already": "Déjà réglé",
        "interest": "Intérêts de retard au {as_of} ({days} jours)",
        "indemnity": "Indemnité forfaitaire pour frais de recouvrement",
        "total": "Total dû",
        "signature": "Signature",
        "date_place": "Le {date}",
        "iban": "IBAN {iban} — BIC {bic}",
        "recourse_pack": "Dossier de recouvrement",
        "recourse_intro": (
            "Pièces pour une requête en injonction de payer (articles 1405 et suivants du "
            "Code de procédure civile), une médiation ou un organisme de recouvrement."
        ),
        "creditor": "Créancier",
        "debtor": "Débiteur",
        "claim": "Créance",
        "quote": "Devis signé",
        "quote_evidence": "Preuve d'acceptation",
        "signed_by": "Signé par « {name} » le {when}",
        "ip_ua": "Adresse IP {ip} — navigateur {ua}",
        "sha": "Empreinte SHA-256 de la version {version} acceptée : {sha}",
        "no_quote": "Pas de devis : la créance résulte de la facture ci-jointe.",
        "invoices": "Factures",
        "timeline": "Chronologie des relances et événements",
        "when": "Date",
        "what": "Événement",
        "who": "Par",
        "amounts": "Montants dus au {as_of}",
        "attached": "Pièces jointes : la mise en demeure, puis les factures.",
        "milestones": "Jalons",
    },
    "en": {
        "formal_notice": "Formal notice to pay (mise en demeure)",
        "registered": "Registered letter with acknowledgement of receipt",
        "copy_by_email": "Copy sent by e-mail",
        "subject": "Re: formal notice (mise en demeure) — invoice {number}",
        "greeting": "Dear Sir or Madam,",
        "body_intro": (
            "Unless we are mistaken, invoice {number} of {issue_date}, for {amount} including "
            "VAT, due on {due_date}, remains unpaid despite our reminders."
        ),
        "body_demand": (
            "We hereby give you formal notice to pay the sum of {total}, detailed below, by "
            "{deadline} at the latest ({days} days from this letter)."
        ),
        "body_b2b": (
            "Under article L441-10 of the French Code de commerce, late-payment interest at "
            "{rate} a year runs from the day after the due date, plus the fixed 40 EUR "
            "recovery indemnity (article D441-5)."
        ),
        "body_consumer": (
            "Under article 1231-6 of the French Code civil, this sum bears interest at the "
            "legal rate ({rate} a year) from this formal notice."
        ),
        "next_steps": (
            "Failing payment by that date, we will start court recovery proceedings "
            "(injonction de payer) or hand the debt to a collection agency without further "
            "notice, the resulting costs being yours."
        ),
        "pay_how": "You can pay by card through the secure link {link}, or by bank transfer.",
        "closing": "Yours faithfully,",
        "principal": "Principal (invoice {number})",
        "paid_already": "Already paid",
        "interest": "Late-payment interest as of {as_of} ({days} days)",
        "indemnity": "Fixed recovery indemnity",
        "total": "Total due",
        "signature": "Signature",
        "date_place": "{date}",
        "iban": "IBAN {iban} — BIC {bic}",
        "recourse_pack": "Recourse pack",
        "recourse_intro": (
            "Documents for an injonction de payer (order for payment), mediation or a "
            "collection agency."
        ),
        "creditor": "Creditor",
        "debtor": "Debtor",
        "claim": "Claim",
        "quote": "Signed quote",
        "quote_evidence": "Acceptance evidence",
        "signed_by": "Signed by “{name}” on {when}",
        "ip_ua": "IP address {ip} — browser {ua}",
        "sha": "SHA-256 of accepted version {version}: {sha}",
        "no_quote": "No quote: the claim arises from the attached invoice.",
        "invoices": "Invoices",
        "timeline": "Timeline of reminders and events",
        "when": "Date",
        "what": "Event",
        "who": "By",
        "amounts": "Amounts due as of {as_of}",
        "attached": "Attached: the formal notice, then the invoices.",
        "milestones": "Milestones",
    },
}


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


class Formatter:
    """Money, dates and rates in one locale."""

    def __init__(self, locale: str, currency: str) -> None:
        self.locale = _BABEL_LOCALES.get(locale, "fr_FR")
        self.currency = currency

    def money(self, minor: int) -> str:
        """`1 234,56 €`."""
        exp = minor_exponent(self.currency)
        return format_currency(
            Decimal(minor).scaleb(-exp), self.currency.upper(), locale=self.locale
        )

    def date(self, value: date) -> str:
        """`22 novembre 2026`."""
        return format_date(value, format="long", locale=self.locale)

    def datetime(self, value: datetime) -> str:
        """Date and time, in UTC."""
        return format_datetime(value, format="medium", tzinfo=value.tzinfo, locale=self.locale)

    def rate(self, basis_points: int) -> str:
        """`12,15 %`."""
        return format_decimal(Decimal(basis_points) / 100, locale=self.locale) + " %"


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
        "fmt": Formatter(lang, letter.currency),
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


def recourse_pack_pdf(
    letter: Letter,
    *,
    timeline: list[TimelineEntry],
    quote: QuoteEvidence | None,
    invoice_htmls: list[str],
) -> bytes:
    """ONE PDF: the cover and claim, the quote and its evidence, the timeline, then the
    mise en demeure and the invoices as they were issued (pages appended)."""
    from weasyprint import HTML

    base = str(TEMPLATES / "pdf")
    context = {**_context(letter), "timeline": timeline, "quote": quote}
    cover = HTML(string=_env.get_template("pdf/recourse_pack.html").render(context), base_url=base)
    documents = [cover.render(), HTML(string=formal_notice_html(letter), base_url=base).render()]
    documents += [HTML(string=html, base_url=base).render() for html in invoice_htmls]
    pages = [page for document in documents for page in document.pages]
    return documents[0].copy(pages).write_pdf()
