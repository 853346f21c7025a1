"""The invoice PDF, rendered for real (WeasyPrint), read back with poppler: every
mandatory French mention, in French and in English; PNGs kept in test-artifacts/."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from billing.invoicing import pdf, service
from billing.invoicing.service import Line, Party
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


def _render(invoice, locale: str, name: str, tmp_path: Path) -> str:
    """The PDF's text (whitespace collapsed); its first page saved as a PNG artefact."""
    body = pdf.render_pdf(invoice, locale=locale)
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
    assert re.search(r"Pages:\s+1\b", pages.stdout), "an ordinary invoice fits on one page"
    text = subprocess.run(
        ["pdftotext", "-layout", path, "-"], check=True, capture_output=True, text=True
    ).stdout
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\xa0", " "))


def test_french_b2b_invoice_with_vat_carries_every_mandatory_mention(session, tmp_path):
    invoice = _issue(
        session,
        buyer=COMPANY,
        vat_regime="vat",
        lines=[Line("Atelier de conception", 2, 45_000, 2000), Line("Livre", "1.5", 1999, 550)],
    )
    service.record_payment(
        session,
        invoice.id,
        amount_minor=50_000,
        method="transfer",
        paid_at=datetime(2026, 3, 6, 10, tzinfo=UTC),
    )
    text = _render(invoice, "fr", "fr-b2b-vat", tmp_path)
    for mention in [
        "Facture",
        "N° F2026-0001",
        "Date d'émission 5 mars 2026",
        "Date de la prestation 4 mars 2026",
        "Date d'échéance 4 avril 2026",
        "Camille Martin EI",
        "12 rue de la Paix",
        "SIRET : 73282932000074",
        "camille@example.test",
        "ACME SAS",
        "3 avenue Foch",
        "SIRET : 55203253400646",
        "Atelier de conception",
        "Prix unitaire HT",
        "450,00 €",
        "TVA à 20 %",
        "180,00 €",
        "TVA à 5,5 %",
        "1,65 €",
        "Total HT 929,99 €",
        "Total TTC 1 111,64 €",
        "Paiement au plus tard le 4 avril 2026",
        "Pénalités de retard : taux BCE majoré de 10 points",
        "Indemnité forfaitaire pour frais de recouvrement de 40 €",
        "Pas d'escompte pour paiement anticipé",
        "IBAN : FR7630006000011234567890189",
        "BIC : AGRIFRPP",
        "Paiements reçus 500,00 € le 6 mars 2026 (virement)",
        "Reste à payer 611,64 €",
    ]:
        assert mention in text, mention
    assert "293 B" not in text


def test_french_consumer_invoice_under_franchise(session, tmp_path):
    invoice = _issue(
        session,
        buyer=PERSON,
        vat_regime="franchise",
        lines=[Line("Séance de coaching", 1, 9_000, 0)],
    )
    text = _render(invoice, "fr", "fr-consumer-franchise", tmp_path)
    assert "TVA non applicable, art. 293 B du CGI" in text
    assert "Marie Curie" in text
    assert "Total TTC 90,00 €" in text
    # the 40 € indemnity is for business buyers only; consumers owe the legal rate
    assert "40 €" not in text
    assert "Indemnité forfaitaire" not in text
    assert "taux de l'intérêt légal" in text
    assert "TVA à" not in text


def test_english_rendering_keeps_the_legal_references(session, tmp_path):
    invoice = _issue(
        session,
        buyer=COMPANY,
        vat_regime="franchise",
        lines=[Line("Design workshop", 1, 45_000, 0)],
        penalty_rate_bp=1200,
    )
    text = _render(invoice, "en", "en-b2b-franchise", tmp_path)
    for mention in [
        "Invoice",
        "No. F2026-0001",
        "Issue date 5 March 2026",
        "Date of service 4 March 2026",
        "Due date 4 April 2026",
        "VAT not applicable, art. 293 B du CGI",
        "Late payment penalties: 12 % per year",
        "Fixed recovery fee of €40",
        "No discount for early payment",
        "Total incl. VAT €450.00",
        "IBAN : FR7630006000011234567890189",
        "Balance due €450.00",
    ]:
        assert mention in text, mention


def test_credit_note_pdf_names_the_credited_invoice(session, tmp_path):
    invoice = _issue(
        session, buyer=COMPANY, vat_regime="vat", lines=[Line("Coaching", 1, 10_000, 2000)]
    )
    note = service.issue_credit_note(
        session,
        invoice.id,
        amount_minor=6_000,
        reason="Séance annulée",
        issue_date=date(2026, 3, 6),
    )
    text = _render(note, "fr", "fr-credit-note", tmp_path)
    assert "Avoir" in text
    assert "N° AV2026-0001" in text
    assert "Avoir sur la facture n° F2026-0001 du 5 mars 2026" in text
    assert "Motif : Séance annulée" in text
    assert "Total TTC 60,00 €" in text
    assert "Date d'échéance" not in text
