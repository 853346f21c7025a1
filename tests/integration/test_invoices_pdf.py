"""The invoice PDF, rendered for real (WeasyPrint), read back with poppler: every
mandatory French mention, in French and in English; PNGs kept in test-artifacts/."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from billing.invoicing import pdf, service
from billing.invoicing.service import Party
from webapp.accounts.models import Freelancer
from webapp.extensions import make_engine
from webapp.models import Base

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SELLER = Party(
    "Camille Martin",
    "Camille Martin EI",
    "73282932000074",
    "12 rue de la Paix\n75002 Paris",
    "camille@example.test",
    True,
)
COMPANY = Party(
    "Jean Dupont", "ACME SAS", "55203253400646", "3 avenue Foch\n69006 Lyon", "j@acme.fr", True
)
PERSON = Party("Marie Curie", "", "", "5 rue Lhomond\n75005 Paris", "marie@example.fr", False)

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils missing: run scripts/system-deps.sh"
)


@pytest.fixture
def session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'pdf.sqlite'}")
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        session.add(Freelancer(email="c@x.fr", password_hash="x", display_name="C", slug="cm"))
        session.flush()
        yield session
    engine.dispose()


def _issue(session, *, buyer, vat_regime, lines, penalty_rate_bp=None, source_id=1):
    return service.issue_invoice(
        session,
        freelancer_id=1,
        seller=SELLER,
        buyer=buyer,
        lines=lines,
        currency="eur",
        issue_date=date(2026, 3, 5),
        service_date=date(2026, 3, 4),
        due_date=date(2026, 4, 4),
        vat_regime=vat_regime,
        penalty_rate_bp=penalty_rate_bp,
        iban="FR7630006000011234567890189",
        bic="AGRIFRPP",
        source_type="test",
        source_id=source_id,
    )


def _render(invoice, locale: str, name: str, tmp_path: Path, body: bytes | None = None) -> str:
    """The PDF's text (whitespace collapsed); its first page saved as a PNG artefact."""
    body = body or pdf.render_pdf(invoice, locale=locale)
    assert body.startswith(b"%PDF-")
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(body)
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "80",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            path,
            ARTIFACTS / f"invoice-{name}",
        ],
        check=True,
    )
    assert (ARTIFACTS / f"invoice-{name}.png").stat().st_size > 10_000
    pages = subprocess.run(["pdfinfo", path], check=True, capture_output=True, text=True)
    if invoice.kind != "final":  # a final lists its deposits and may need a second page
        assert re.search(r"Pages:\s+1\b", pages.stdout), "an ordinary invoice fits on one page"
    return pdf_text(path)


def pdf_text(path: Path) -> str:
    """The text of a PDF file, whitespace collapsed (no-break spaces as spaces)."""
    text = subprocess.run(
        ["pdftotext", path, "-"], check=True, capture_output=True, text=True
    ).stdout
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\xa0", " "))


# --- issue 11: every document, VAT / franchise × B2B / B2C × kind -------------------

FR_ADDRESS = {
    "line1": "12 rue de la Paix",
    "postal_code": "75002",
    "city": "Paris",
    "country": "FR",
}
BUSINESS = {
    "company": "ACME SAS",
    "siren": "552032534",
    "vat_number": "FR40303265045",
    "postal_address": {
        "line1": "3 avenue Foch",
        "line2": "",
        "postal_code": "69006",
        "city": "Lyon",
        "country": "FR",
    },
}
EU_BUSINESS = {
    "company": "Muster GmbH",
    "siren": "",
    "vat_number": "DE136695976",
    "postal_address": {
        "line1": "Hauptstraße 1",
        "line2": "",
        "postal_code": "10115",
        "city": "Berlin",
        "country": "DE",
    },
}
CONSUMER = {
    "company": "",
    "siren": "",
    "vat_number": "",
    "postal_address": {
        "line1": "5 rue Lhomond",
        "line2": "",
        "postal_code": "75005",
        "city": "Paris",
        "country": "FR",
    },
}


def _freelancer(session, *, regime: str, legal_form: str = "ei", **extra) -> Freelancer:
    f = session.get(Freelancer, 1)
    f.display_name = "Camille Martin"
    f.legal_name = "Camille Martin" if legal_form == "ei" else "Studio Martin"
    f.legal_form = legal_form
    f.siret = "73282932000074"
    f.postal_address = FR_ADDRESS
    f.vat_regime = regime
    f.vat_rate_bp = 2000 if regime == "vat" else 0
    f.vat_number = "FR40303265045" if regime == "vat" else ""
    f.iban, f.bic = "FR7630006000011234567890189", "AGRIFRPP"
    f.mediator = "CM2C, www.cm2c.net"
    f.insurance = "MMA, contrat 123, France entière"
    for key, value in extra.items():
        setattr(f, key, value)
    session.flush()
    return f


def _bill(session, freelancer, *, business, details, kind="invoice", mentions=None, **kw):
    from webapp.clients import buyer_party
    from webapp.invoices.issue import issue_unpaid, priced_line

    name = "Jean Dupont" if business else "Marie Curie"
    buyer = buyer_party(name, "client@example.test", business, details)
    return issue_unpaid(
        session,
        freelancer=freelancer,
        lines=kw.pop("lines", None) or [priced_line(freelancer, "Atelier de conception", 1200_00)],
        buyer=buyer,
        service_date=date(2026, 3, 4),
        source_type="test",
        source_id=kw.pop("source_id", kind),
        now=kw.pop("now", datetime(2026, 3, 5, 9, tzinfo=UTC)),
        kind=kind,
        extra_mentions=mentions,
        **kw,
    )


def _stored_text(session, invoice, name, tmp_path) -> str:
    from billing.invoicing.documents import issued_pdf

    return _render(invoice, invoice.locale, name, tmp_path, body=issued_pdf(session, invoice))


def near(text: str, label: str, value: str, within: int = 400) -> bool:
    """`value` printed shortly after `label` (table cells come out in reading order)."""
    at = text.find(label)
    return at >= 0 and value in text[at : at + len(label) + within]


QUOTE = {"number": "D2026-0001", "date": "2026-02-20", "total_minor": 3600_00}
MATRIX = [(regime, business) for regime in ("vat", "franchise") for business in (True, False)]


def _common_mentions(text, *, regime, business):
    # CGI ann. II art. 242 nonies A: both parties, numbers, dates; R526-26: "EI"
    assert "Camille Martin EI" in text
    assert "Entrepreneur individuel (EI)" in text
    assert "SIRET : 73282932000074" in text
    assert "12 rue de la Paix 75002 Paris" in text
    assert near(text, "Date d’émission", "5 mars 2026")
    if business:
        assert "ACME SAS" in text and "SIREN : 552032534" in text
        assert "3 avenue Foch 69006 Lyon" in text
    else:
        assert "Marie Curie" in text and "5 rue Lhomond 75005 Paris" in text
        assert "SIREN" not in text
    if regime == "franchise":
        assert "TVA non applicable, art. 293 B du CGI" in text
    # décret 2022-1299: the operation category
    assert "Catégorie de l’opération : prestation de services" in text


@pytest.mark.parametrize("regime, business", MATRIX)
def test_CGI_289_deposit_invoice_is_titled_facture_d_acompte_and_names_the_quote(
    session, tmp_path, regime, business
):
    f = _freelancer(session, regime=regime)
    invoice = _bill(
        session,
        f,
        business=business,
        details=BUSINESS if business else CONSUMER,
        kind="deposit",
        mentions={"quote": QUOTE},
    )
    text = _stored_text(session, invoice, f"deposit-{regime}-{business}", tmp_path)
    _common_mentions(text, regime=regime, business=business)
    assert "Facture d’acompte" in text
    assert "Acompte sur le devis n° D2026-0001 du 20 février 2026" in text
    assert "3 600,00 € TTC" in text
    # L441-10 / D441-5 for businesses; Code civil 1231-6 for consumers, no 40 €
    if business:
        assert "Pénalités de retard : taux de la BCE majoré de 10 points" in text
        assert "Indemnité forfaitaire pour frais de recouvrement de 40 €" in text
        assert "Médiateur" not in text
    else:
        assert "intérêt légal à compter de la mise en demeure (art. 1231-6 du Code civil)" in text
        assert "40 €" not in text and "L441-10" not in text
        # Code de la consommation L616-1: the consumer mediator
        assert "Médiateur de la consommation (art. L616-1 du Code de la consommation)" in text


@pytest.mark.parametrize("regime, business", MATRIX)
def test_CGI_289_I_1_c_final_invoice_restates_the_total_and_deducts_each_deposit(
    session, tmp_path, regime, business
):
    f = _freelancer(session, regime=regime)
    deposits = [
        {"number": "F2026-0001", "issue_date": "2026-02-21", "total_incl_vat_minor": 1200_00},
        {"number": "F2026-0002", "issue_date": "2026-03-01", "total_incl_vat_minor": 1200_00},
    ]
    invoice = _bill(
        session,
        f,
        business=business,
        details=BUSINESS if business else CONSUMER,
        kind="final",
        mentions={"quote": QUOTE, "deposits": deposits},
        lines=None,
    )
    text = _stored_text(session, invoice, f"final-{regime}-{business}", tmp_path)
    _common_mentions(text, regime=regime, business=business)
    assert "Facture de solde" in text
    assert "Solde du devis n° D2026-0001 du 20 février 2026" in text
    assert near(text, "Total du devis", "3 600,00 €")
    assert near(text, "Facture d’acompte n° F2026-0001 du 21 février 2026", "− 1 200,00 €")
    assert near(text, "Facture d’acompte n° F2026-0002 du 1er mars 2026", "− 1 200,00 €")
    assert "Net à payer" in text


@pytest.mark.parametrize("regime, business", MATRIX)
def test_CGI_289_credit_note_references_the_original_invoice(session, tmp_path, regime, business):
    f = _freelancer(session, regime=regime)
    invoice = _bill(session, f, business=business, details=BUSINESS if business else CONSUMER)
    note = service.issue_credit_note(
        session,
        invoice.id,
        amount_minor=600_00,
        reason="Séance annulée",
        issue_date=date(2026, 3, 6),
    )
    text = _stored_text(session, note, f"credit-{regime}-{business}", tmp_path)
    assert "Avoir" in text and "N° AV2026-0001" in text
    assert "Avoir sur la facture n° F2026-0001 du 5 mars 2026" in text
    assert "Motif : Séance annulée" in text
    assert "Date d’échéance" not in text


@pytest.mark.parametrize("regime, business", MATRIX)
def test_L441_10_debit_note_is_out_of_vat_scope_without_a_penalty_clause_due_on_the_deadline(
    session, tmp_path, regime, business
):
    from billing.invoicing.service import Line as BillingLine

    f = _freelancer(session, regime=regime)
    lines = [BillingLine("Intérêts de retard, facture F2026-0001 (30 jours)", 1, 21_98, 0)]
    if business:
        lines.append(BillingLine("Indemnité forfaitaire (D441-5), facture F2026-0001", 1, 40_00, 0))
    note = _bill(
        session,
        f,
        business=business,
        details=BUSINESS if business else CONSUMER,
        kind="debit_note",
        lines=lines,
        mentions={"original": {"number": "F2026-0001", "issue_date": "2026-01-05"}},
        due_date=date(2026, 3, 20),
    )
    assert note.due_date == date(2026, 3, 20) and note.total_vat_minor == 0
    text = _stored_text(session, note, f"debit-{regime}-{business}", tmp_path)
    assert "Note de débit" in text
    assert "Hors champ d’application de la TVA" in text
    assert "TVA à" not in text and "0 %" not in text
    assert "Pénalités de retard et indemnité sur la facture n° F2026-0001 du 5 janvier 2026" in text
    assert "À payer au plus tard le 20 mars 2026, date limite fixée par la mise en demeure" in text
    # no penalties on penalties
    assert "Pénalités de retard :" not in text and "Indemnité forfaitaire pour frais" not in text


def test_CGI_283_2_eu_business_client_is_reverse_charged(session, tmp_path):
    f = _freelancer(session, regime="vat")
    invoice = _bill(session, f, business=True, details=EU_BUSINESS)
    assert invoice.total_vat_minor == 0 and invoice.total_incl_vat_minor == 1200_00
    assert invoice.mentions["reverse_charge"] is True
    text = _stored_text(session, invoice, "reverse-charge", tmp_path)
    assert "Autoliquidation : TVA due par le preneur (art. 283-2 du CGI" in text
    assert "art. 196 de la directive 2006/112/CE" in text
    assert "N° TVA intracommunautaire : DE136695976" in text
    assert "Hauptstraße 1 10115 Berlin Allemagne" in text


def test_CGI_242_nonies_A_vat_invoice_prints_rates_and_the_seller_vat_number(session, tmp_path):
    f = _freelancer(session, regime="vat", vat_on_debits=True)
    invoice = _bill(session, f, business=True, details=BUSINESS)
    text = _stored_text(session, invoice, "vat-b2b", tmp_path)
    _common_mentions(text, regime="vat", business=True)
    assert "N° TVA intracommunautaire : FR40303265045" in text
    assert "TVA à 20 %" in text and near(text, "Total TTC", "1 200,00 €")
    # CGI 269-2-c, décret 2022-1299: the option for VAT on debits is stated
    assert "Option pour le paiement de la TVA d’après les débits" in text
    # loi 96-603 art. 22-2: the insurance
    assert "Assurance professionnelle : MMA, contrat 123, France entière" in text
    assert "20.0" not in text and "'" not in text  # typographic apostrophes, French decimals


def test_R123_237_company_prints_form_capital_and_registration(session, tmp_path):
    f = _freelancer(
        session,
        regime="vat",
        legal_form="sas",
        share_capital_minor=1000_00,
        registration="RCS Paris 732 829 320",
    )
    invoice = _bill(session, f, business=True, details=BUSINESS)
    text = _stored_text(session, invoice, "company", tmp_path)
    assert "SAS au capital de 1 000,00 €" in text
    assert "RCS Paris 732 829 320" in text
    assert "Entrepreneur individuel" not in text


def test_R526_26_sole_trader_exempt_from_registration_says_so(session, tmp_path):
    f = _freelancer(session, regime="franchise")
    invoice = _bill(session, f, business=False, details=CONSUMER)
    text = _stored_text(session, invoice, "ei-exempt", tmp_path)
    assert "Camille Martin EI" in text
    assert "Dispensé d’immatriculation" in text


def test_first_of_the_month_prints_1er(session, tmp_path):
    f = _freelancer(session, regime="franchise")
    invoice = _bill(
        session, f, business=False, details=CONSUMER, now=datetime(2026, 4, 1, 9, tzinfo=UTC)
    )
    text = _stored_text(session, invoice, "premier", tmp_path)
    assert near(text, "Date d’émission", "1er avril 2026")


def test_CGI_289_VII_issued_pdf_bytes_never_change_after_a_credit_note_and_a_payment(
    session, tmp_path
):
    from billing.invoicing.documents import issued_pdf, pdf_sha256

    f = _freelancer(session, regime="vat")
    invoice = _bill(session, f, business=True, details=BUSINESS)
    before = issued_pdf(session, invoice)
    assert pdf_sha256(session, invoice) == hashlib.sha256(before).hexdigest()
    service.issue_credit_note(
        session, invoice.id, amount_minor=200_00, reason="Remise", issue_date=date(2026, 3, 6)
    )
    service.record_payment(
        session,
        invoice.id,
        amount_minor=500_00,
        method="transfer",
        paid_at=datetime(2026, 3, 7, 10, tzinfo=UTC),
    )
    session.expire_all()
    after = issued_pdf(session, session.get(type(invoice), invoice.id))
    assert after == before
    text = pdf_text(_write(tmp_path / "after.pdf", after))
    assert "Trop-perçu" not in text and "Reste à payer" not in text and "virement" in text


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_an_incomplete_profile_refuses_to_issue_and_names_the_fields(session):
    from billing.errors import NotAllowed

    f = _freelancer(session, regime="vat", legal_form="sarl", vat_number="")
    with pytest.raises(NotAllowed) as refused:
        _bill(session, f, business=True, details=BUSINESS)
    message = str(refused.value)
    for field in ("vat_number", "share_capital_minor", "registration"):
        assert field in message
    assert "legal_form" not in message
