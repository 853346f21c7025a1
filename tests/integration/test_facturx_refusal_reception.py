"""Factur-X (issue 12): a document whose e-invoice breaks a rule is not issued and the
freelancer is told which rule in plain words; the issued PDF's bytes never change;
supplier invoices are received (a hand-written CII, a Factur-X PDF), garbage is 422,
and one freelancer never sees another's."""

from __future__ import annotations

import hashlib
import io
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from facturx import generate_from_binary
from sqlalchemy import func, select

from billing.errors import NotAllowed
from billing.facturx import document, rules
from billing.invoicing.models import Invoice
from billing.invoicing.service import Line, Party
from webapp.accounts.models import Freelancer
from webapp.extensions import db
from webapp.invoices.issue import issue_or_report, issue_unpaid

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "facturx" / "supplier_en16931.xml"
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
ADDRESS = {"line1": "3 avenue Foch", "postal_code": "69006", "city": "Lyon", "country": "FR"}
GOOD_BUYER = Party(
    "Jean", "ACME SAS", "", "", "j@acme.fr", True, siren="552100554", postal_address=ADDRESS
)
# A French company whose SIREN was never recorded (an older client): BR-FR-11.
NO_SIREN = Party("Jean", "ACME SAS", "", "", "j@acme.fr", True, postal_address=ADDRESS)


@pytest.fixture(scope="module", autouse=True)
def _compiled_schematrons():
    rules.warm_up()


@pytest.fixture
def seller(client, make_freelancer):
    f = make_freelancer()
    assert client.patch("/api/v1/me", json=PROFILE, headers=f["headers"]).status_code == 200
    return f


def _issue(app, freelancer_id: int, buyer: Party, source_id: str = "1") -> Invoice:
    freelancer = db.session.get(Freelancer, freelancer_id)
    return issue_unpaid(
        db.session,
        freelancer=freelancer,
        lines=[Line("Atelier", 1, 50_000, 0)],
        buyer=buyer,
        service_date=date(2026, 3, 4),
        source_type="test",
        source_id=source_id,
    )


def test_a_broken_document_is_refused_at_issue_naming_the_rule(app, seller):
    with app.app_context():
        # when the e-invoice would break a French rule
        with pytest.raises(document.EInvoiceRefused) as refused:
            _issue(app, seller["id"], NO_SIREN)
        db.session.rollback()
        # then the freelancer reads which rule and what to do, in plain words
        message = str(refused.value)
        assert "was not issued" in message and "BR-FR-11" in message
        assert "add the client's SIREN" in message
        assert isinstance(refused.value, NotAllowed)
        assert {f.rule for f in refused.value.failures} >= {"BR-FR-11", "BR-FR-21"}
        # nothing was kept, and no number was used
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0
        # the issuing sites report it and keep what they recorded
        reported: list[str] = []
        assert (
            issue_or_report(
                db.session, lambda: _issue(app, seller["id"], NO_SIREN), reported.append
            )
            is None
        )
        assert "BR-FR-11" in reported[0]
        invoice = _issue(app, seller["id"], GOOD_BUYER, "2")
        db.session.commit()
        assert invoice.number.endswith("-0001")


def test_a_missing_seller_siren_names_br_fr_10():
    # An invoice snapshot whose seller has neither SIREN nor SIRET (never issuable
    # through the profile, which asks for the SIRET first).
    line = SimpleNamespace(
        position=1,
        description="Atelier",
        unit_includes_vat=False,
        unit_amount_minor=10_000,
        quantity_milli=1000,
        vat_rate_bp=0,
        total_excl_vat_minor=10_000,
        vat_minor=0,
        total_incl_vat_minor=10_000,
    )
    invoice = SimpleNamespace(
        kind="invoice",
        number="F2026-0009",
        issue_date=date(2026, 3, 5),
        service_date=date(2026, 3, 4),
        due_date=date(2026, 4, 4),
        currency="eur",
        vat_regime="franchise",
        penalty_rate_bp=None,
        recovery_indemnity=True,
        iban="",
        bic="",
        total_excl_vat_minor=10_000,
        total_vat_minor=0,
        total_incl_vat_minor=10_000,
        reason="",
        credited_invoice=None,
        lines=[line],
        locale="fr",
        mentions={"category": "services"},
        seller={
            "legal_name": "Camille Martin EI",
            "siret": "",
            "siren": "",
            "postal_address": PROFILE["postal_address"],
        },
        buyer={
            "name": "Marie",
            "legal_name": "Marie",
            "is_business": False,
            "email": "m@example.fr",
            "postal_address": ADDRESS,
        },
    )
    _xml, report = document.build_and_check(invoice)
    assert not report.ok
    message = document.refusal_message(invoice, report)
    assert "BR-FR-10" in message and "seller's SIREN" in message


def test_the_pdf_bytes_never_change_after_payment_and_credit_note(
    app, client, seller, make_freelancer
):
    with app.app_context():
        invoice_id = _issue(app, seller["id"], GOOD_BUYER).id
        db.session.commit()
    headers = seller["headers"]
    first = client.get(f"/api/v1/invoices/{invoice_id}.pdf", headers=headers).data
    xml = client.get(f"/api/v1/invoices/{invoice_id}/facturx.xml", headers=headers).data
    paid = client.post(
        f"/api/v1/invoices/{invoice_id}/payments", json={"amount_minor": 10_000}, headers=headers
    )
    assert paid.status_code == 201, paid.get_json()
    note = client.post(
        f"/api/v1/invoices/{invoice_id}/credit-notes",
        json={"amount_minor": 5_000, "reason": "Remise"},
        headers=headers,
    )
    assert note.status_code == 201, note.get_json()
    again = client.get(f"/api/v1/invoices/{invoice_id}.pdf", headers=headers).data
    detail = client.get(f"/api/v1/invoices/{invoice_id}", headers=headers).get_json()
    assert again == first and hashlib.sha256(first).hexdigest() == detail["pdf_sha256"]
    assert client.get(f"/api/v1/invoices/{invoice_id}/facturx.xml", headers=headers).data == xml
    # the credit note has its own e-invoice (381) referencing the original
    note_xml = client.get(f"/api/v1/invoices/{note.get_json()['id']}/facturx.xml", headers=headers)
    assert b"<ram:TypeCode>381</ram:TypeCode>" in note_xml.data
    assert detail["number"].encode() in note_xml.data
    # another freelancer's invoice answers like a missing one
    other = make_freelancer()["headers"]
    for path in (
        f"/api/v1/invoices/{invoice_id}/facturx.xml",
        f"/api/v1/invoices/{invoice_id}.pdf",
    ):
        assert client.get(path, headers=other).status_code == 404


# --- reception -----------------------------------------------------------------------


def _send(client, headers, content: bytes, name: str = "invoice.xml"):
    return client.post(
        "/api/v1/supplier-invoices",
        headers=headers,
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def _supplier_pdf() -> bytes:
    """A Factur-X PDF made from the hand-written XML by the factur-x package alone."""
    from weasyprint import HTML

    plain = HTML(string="<h1>Imprimerie Martin — facture FA-2026-118</h1>").write_pdf()
    return generate_from_binary(plain, FIXTURE.read_bytes(), flavor="factur-x", level="en16931")


def test_reception_accepts_a_hand_written_cii_and_a_factur_x_pdf(client, seller, make_freelancer):
    headers = seller["headers"]
    answer = _send(client, headers, FIXTURE.read_bytes())
    assert answer.status_code == 201, answer.get_json()
    row = answer.get_json()
    assert (row["format"], row["number"], row["seller_siren"]) == (
        "cii",
        "FA-2026-118",
        "552100554",
    )
    assert (row["total_excl_vat_minor"], row["total_vat_minor"], row["total_incl_vat_minor"]) == (
        16_500,
        3_300,
        19_800,
    )
    assert row["issue_date"] == "2026-11-15" and row["currency"] == "eur"
    assert row["rule_sets"] == ["xsd", "en16931-cii", "br-fr-cii"]
    # the French rules it misses (no PMT/PMD/AAB notes) are listed, not fatal
    assert "BR-FR-05" in {w["rule"] for w in row["warnings"]}
    # the same file again is the same invoice
    again = _send(client, headers, FIXTURE.read_bytes())
    assert again.status_code == 200 and again.get_json()["id"] == row["id"]
    pdf = _send(client, headers, _supplier_pdf(), "FA-2026-118.pdf")
    assert pdf.status_code == 201, pdf.get_json()
    assert pdf.get_json()["format"] == "factur-x"
    listed = client.get("/api/v1/supplier-invoices", headers=headers).get_json()
    assert [r["id"] for r in listed["supplier_invoices"]] == [pdf.get_json()["id"], row["id"]]
    file = client.get(f"/api/v1/supplier-invoices/{row['id']}/file", headers=headers)
    assert file.data == FIXTURE.read_bytes()
    # tenant isolation: another freelancer sees nothing and gets 404 on the ids
    other = make_freelancer()["headers"]
    assert client.get("/api/v1/supplier-invoices", headers=other).get_json() == {
        "supplier_invoices": []
    }
    for path in (
        f"/api/v1/supplier-invoices/{row['id']}",
        f"/api/v1/supplier-invoices/{row['id']}/file",
    ):
        assert client.get(path, headers=other).status_code == 404


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"hello, this is not an invoice", "well-formed"),
        (b"%PDF-1.7\n%garbage", "PDF"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', "DOCTYPE"),
        (b"<note><to>you</to></note>", "neither"),
        (
            FIXTURE.read_bytes().replace(
                b"<ram:GrandTotalAmount>198.00", b"<ram:GrandTotalAmount>999.00"
            ),
            "BR-CO-15",
        ),
        (FIXTURE.read_bytes().replace(b"<ram:TypeCode>380</ram:TypeCode>", b""), "XSD"),
    ],
)
def test_reception_refuses_garbage_with_422_listing_the_rules(client, seller, content, expected):
    answer = _send(client, seller["headers"], content)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    error = answer.get_json()["error"]
    assert error["code"] in ("einvoice_invalid", "validation_error")
    assert expected in error["message"] + " ".join(error["fields"].get("file", []))
    assert client.get("/api/v1/supplier-invoices", headers=seller["headers"]).get_json() == {
        "supplier_invoices": []
    }


def test_reception_without_a_file_is_422(client, seller):
    answer = client.post(
        "/api/v1/supplier-invoices",
        headers=seller["headers"],
        data={},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 422


@pytest.fixture
def no_csrf(app_config):
    app_config["WTF_CSRF_ENABLED"] = False


def test_the_page_receives_lists_and_refuses_in_french(no_csrf, client, seller):
    client.post("/login", data={"email": seller["email"], "password": seller["password"]})
    page = client.get("/supplier-invoices/")
    assert page.status_code == 200 and "FA-2026-118" not in page.get_data(as_text=True)
    sent = client.post(
        "/supplier-invoices/",
        data={"file": (io.BytesIO(FIXTURE.read_bytes()), "fa.xml")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    body = sent.get_data(as_text=True)
    assert sent.status_code == 200 and "FA-2026-118" in body and "Imprimerie Martin" in body
    refused = client.post(
        "/supplier-invoices/",
        data={"file": (io.BytesIO(b"nope"), "x.xml")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "Cette facture a été refusée" in refused.get_data(as_text=True)
