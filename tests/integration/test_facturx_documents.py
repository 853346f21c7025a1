"""Factur-X for every document kind (issue 12): invoice, deposit (386), final with its
deposits prepaid, credit note (381) referencing the original, debit note — × VAT `S`,
franchise `E` (VATEX-FR-FRANCHISE), reverse charge `AE` — × a French business with its
SIREN, an EU business, a consumer. Each XML passes the XSD, the EN 16931 schematron and
the French BR-FR rules with zero failed assertions; the PDF is PDF/A-3 with the XML
extractable by `facturx.get_xml_from_pdf`, identical to the XML endpoint."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from facturx import get_xml_from_pdf
from lxml import etree
from pypdf import PdfReader

from billing.facturx import rules
from billing.facturx.document import einvoice_of
from billing.invoicing import documents, service
from billing.invoicing.models import KIND_DEBIT_NOTE, KIND_DEPOSIT, KIND_FINAL, Invoice
from billing.invoicing.service import Line, Party
from billing.typography import Formatter
from webapp.accounts.models import Freelancer
from webapp.extensions import db
from webapp.invoices.issue import issue_unpaid

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}
PROFILE = {
    "legal_name": "Camille Martin EI",
    "siret": "73282932000074",
    "legal_form": "ei",
    "address": "12 rue de la Paix, 75002 Paris",
    "postal_address": {
        "line1": "12 rue de la Paix",
        "postal_code": "75002",
        "city": "Paris",
        "country": "FR",
    },
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
}
REGIMES = {
    "vat": {"vat_regime": "vat", "vat_rate": "20", "vat_number": "FR44732829320"},
    "franchise": {"vat_regime": "franchise"},
}
BUYERS = {
    "fr_business": Party(
        "Jean Dupont",
        "ACME SAS",
        "",
        "3 avenue Foch\n69006 Lyon",
        "j@acme.fr",
        True,
        vat_number="FR96552100554",
        siren="552100554",
        postal_address={
            "line1": "3 avenue Foch",
            "postal_code": "69006",
            "city": "Lyon",
            "country": "FR",
        },
    ),
    "eu_business": Party(
        "Hans Weber",
        "Beispiel GmbH",
        "",
        "Hauptstraße 1\n10115 Berlin",
        "h@beispiel.de",
        True,
        vat_number="DE136695976",
        postal_address={
            "line1": "Hauptstraße 1",
            "postal_code": "10115",
            "city": "Berlin",
            "country": "DE",
        },
    ),
    "consumer": Party(
        "Marie Curie",
        "Marie Curie",
        "",
        "5 rue Lhomond\n75005 Paris",
        "marie@example.fr",
        False,
        postal_address={
            "line1": "5 rue Lhomond",
            "postal_code": "75005",
            "city": "Paris",
            "country": "FR",
        },
    ),
}
KINDS = ("invoice", "deposit", "final", "credit_note", "debit_note")


@pytest.fixture(scope="module", autouse=True)
def _compiled_schematrons():
    rules.warm_up()  # compiled once per process, reused by every test


def seller_with(client, make_freelancer, regime: str) -> dict:
    f = make_freelancer()
    body = {**PROFILE, **REGIMES[regime]}
    answer = client.patch("/api/v1/me", json=body, headers=f["headers"])
    assert answer.status_code == 200, answer.get_json()
    return f


def issue_kind(freelancer: Freelancer, kind: str, buyer: Party) -> Invoice:
    """Issue one document of `kind` (and what it needs first) through the app's issuing."""
    lines = [Line("Atelier de conception, 2 h", 2, 15_000, 0), Line("Support imprimé", 1, 4_999, 0)]

    def unpaid(kind: str, source_id: str, lines=lines, **extra) -> Invoice:
        return issue_unpaid(
            db.session,
            freelancer=freelancer,
            lines=[
                Line(li.description, li.quantity, li.unit_amount_minor, freelancer.vat_rate_bp)
                if freelancer.vat_regime == "vat" and kind != KIND_DEBIT_NOTE
                else li
                for li in lines
            ],
            buyer=buyer,
            service_date=date(2026, 3, 4),
            source_type="test",
            source_id=source_id,
            kind=kind,
            **extra,
        )

    quote = {"number": "D2026-0001", "date": "2026-03-01", "total_minor": 60_000}
    if kind == "deposit":
        return unpaid(KIND_DEPOSIT, "d1", extra_mentions={"quote": quote})
    if kind == "final":
        deposit = unpaid(KIND_DEPOSIT, "d1", extra_mentions={"quote": quote})
        deposits = [
            {
                "number": deposit.number,
                "issue_date": deposit.issue_date.isoformat(),
                "total_incl_vat_minor": deposit.total_incl_vat_minor,
            }
        ]
        return unpaid(KIND_FINAL, "f1", extra_mentions={"quote": quote, "deposits": deposits})
    original = unpaid("invoice", "i1")
    if kind == "credit_note":
        return service.issue_credit_note(
            db.session, original.id, reason="Prestation annulée", issue_date=original.issue_date
        )
    if kind == "debit_note":
        return unpaid(
            KIND_DEBIT_NOTE,
            "p1",
            lines=[Line("Indemnité forfaitaire pour frais de recouvrement", 1, 4_000, 0)],
            extra_mentions={"original": {"number": original.number, "issue_date": "2026-03-05"}},
            due_date=date(2026, 4, 20),
        )
    return original


def text(tree, path: str) -> list[str]:
    return [e.text for e in tree.xpath(path, namespaces=NS)]


def amount(minor: int) -> str:
    return f"{minor / 100:.2f}"


CASES = [
    (regime, buyer, kind)
    for regime in REGIMES
    for buyer in BUYERS
    for kind in KINDS
    # An EU business under the franchise is billed without VAT (E) like anyone else.
]


@pytest.mark.parametrize(("regime", "buyer", "kind"), CASES)
def test_every_kind_regime_and_buyer_passes_en16931_and_french_rules(
    app, client, make_freelancer, regime, buyer, kind
):
    # given a freelancer under `regime`
    f = seller_with(client, make_freelancer, regime)
    # when the document is issued
    with app.app_context():
        freelancer = db.session.get(Freelancer, f["id"])
        invoice = issue_kind(freelancer, kind, BUYERS[buyer])
        db.session.commit()
        invoice_id, number = invoice.id, invoice.number
        stored = einvoice_of(db.session, invoice_id)
        assert stored is not None, "every issued document has its e-invoice"
        xml = stored.xml
        pdf_bytes = documents.issued_pdf(db.session, invoice)
        totals = (
            invoice.total_excl_vat_minor,
            invoice.total_vat_minor,
            invoice.total_incl_vat_minor,
        )
        deposits = (invoice.mentions or {}).get("deposits") or []
        assert stored.rule_sets == ["xsd", "en16931-cii", "br-fr-cii"]

    if (regime, buyer, kind) == ("vat", "fr_business", "final"):  # kept to look at
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "facturx-final.pdf").write_bytes(pdf_bytes)
        (ARTIFACTS / "facturx-final.xml").write_bytes(xml)
    # then the XML passes the XSD, EN 16931 and BR-FR with zero failed assertions
    report = rules.check(xml)
    assert report.failures == [], report.failures
    tree = etree.fromstring(xml)
    expected_type = {"deposit": "386", "credit_note": "381"}.get(kind, "380")
    assert text(tree, "//rsm:ExchangedDocument/ram:TypeCode") == [expected_type]
    assert text(tree, "//rsm:ExchangedDocument/ram:ID") == [number]
    categories = set(
        text(tree, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode")
    )
    if kind == "debit_note":
        assert categories == {"O"}
    elif regime == "franchise":
        assert categories == {"E"}
        assert text(tree, "//ram:ApplicableTradeTax/ram:ExemptionReasonCode")[0] == (
            "VATEX-FR-FRANCHISE"
        )
    elif buyer == "eu_business":
        assert categories == {"AE"}
    else:
        assert categories == {"S"}
        assert set(text(tree, "//ram:ApplicableTradeTax/ram:RateApplicablePercent")) == {"20.00"}
    seller_ids = text(tree, "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID")
    assert seller_ids == ["732829320"]
    buyer_sirens = text(tree, "//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID")
    assert buyer_sirens == (["552100554"] if buyer == "fr_business" else [])
    bar = text(tree, "//ram:IncludedNote[ram:SubjectCode='BAR']/ram:Content")
    assert bar == [{"fr_business": "B2B", "eu_business": "B2BINT", "consumer": "B2C"}[buyer]]
    if kind == "credit_note":
        assert text(tree, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == [
            number.replace("AV", "F")
        ]
    # its totals are the invoice's, and a final's deposits are the prepaid amount
    summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert text(tree, summation + "TaxBasisTotalAmount") == [amount(totals[0])]
    assert text(tree, summation + "GrandTotalAmount") == [amount(totals[2])]
    prepaid = sum(d["total_incl_vat_minor"] for d in deposits)
    assert text(tree, summation + "DuePayableAmount") == [amount(totals[2] - prepaid)]
    if kind == "final":
        assert prepaid > 0 and text(tree, summation + "TotalPrepaidAmount") == [amount(prepaid)]
        assert text(tree, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID") == ["S4"]

    # the PDF is PDF/A-3 with the Factur-X XMP, and carries exactly this XML
    filename, embedded = get_xml_from_pdf(pdf_bytes, check_xsd=True)
    assert filename == "factur-x.xml" and embedded == xml
    reader = PdfReader(io.BytesIO(pdf_bytes))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert re.search(r"pdfaid:part[^0-9]{1,3}3", xmp), xmp[:500]
    assert re.search(r"pdfaid:conformance[^A-Z]{1,3}B", xmp)
    assert "EN 16931" in xmp and "factur-x.xml" in xmp
    # and the PDF prints the same totals
    page = re.sub(
        r"\s+", " ", reader.pages[0].extract_text().replace("\u202f", " ").replace("\xa0", " ")
    )
    money = Formatter("fr", "eur").money
    assert money(totals[2]).replace("\u202f", " ").replace("\xa0", " ") in page

    # the endpoints answer the stored bytes, the same every time
    xml_answer = client.get(f"/api/v1/invoices/{invoice_id}/facturx.xml", headers=f["headers"])
    assert xml_answer.status_code == 200 and xml_answer.mimetype == "application/xml"
    assert xml_answer.data == xml
    first = client.get(f"/api/v1/invoices/{invoice_id}.pdf", headers=f["headers"])
    second = client.get(f"/api/v1/invoices/{invoice_id}.pdf", headers=f["headers"])
    assert first.data == second.data == pdf_bytes
