"""`/api/v1/invoices` and the /invoices pages: reading, PDF, transfers, credit notes,
tenant isolation, errors in the contract's shape, and no way to edit an issued invoice."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from sqlalchemy import func, select

from billing.invoicing.models import Invoice, InvoiceLine, InvoicePayment
from billing.invoicing.service import Line, Party
from webapp.accounts.models import Freelancer
from webapp.extensions import db
from webapp.invoices.issue import issue_unpaid

BUYER = Party("Jean Dupont", "ACME SAS", "55203253400646", "3 av. Foch, Lyon", "j@acme.fr", True)
PROFILE = {
    "legal_name": "Camille Martin EI",
    "siret": "73282932000074",
    "legal_form": "ei",
    "address": "12 rue de la Paix, 75002 Paris",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
}


@pytest.fixture
def seller(client, make_freelancer):
    """A freelancer with a complete profile."""
    f = make_freelancer()
    assert client.patch("/api/v1/me", json=PROFILE, headers=f["headers"]).status_code == 200
    return f


@pytest.fixture
def make_invoice(app):
    def make(freelancer_id: int, amount_minor: int = 50_000, source_id: int = 1) -> int:
        with app.app_context():
            freelancer = db.session.get(Freelancer, freelancer_id)
            invoice = issue_unpaid(
                db.session,
                freelancer=freelancer,
                lines=[Line("Workshop", 1, amount_minor, 0)],
                buyer=BUYER,
                service_date=date(2026, 3, 4),
                source_type="test",
                source_id=source_id,
            )
            db.session.commit()
            return invoice.id

    return make


def _counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Invoice, InvoiceLine, InvoicePayment)
        )


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def test_list_detail_and_pdf(client, seller, make_invoice):
    first = make_invoice(seller["id"], source_id=1)
    second = make_invoice(seller["id"], 12_345, source_id=2)
    listed = client.get("/api/v1/invoices", headers=seller["headers"])
    assert listed.status_code == 200
    rows = listed.get_json()["invoices"]
    # newest first, with totals and status
    assert [r["id"] for r in rows] == [second, first]
    assert rows[0]["number"].endswith("-0002")
    assert rows[0]["amount_minor"] == 12_345
    assert rows[0]["balance_due_minor"] == 12_345
    assert rows[0]["status"] == "issued"
    assert rows[0]["currency"] == "eur"

    detail = client.get(f"/api/v1/invoices/{first}", headers=seller["headers"]).get_json()
    assert detail["seller"]["siret"] == "73282932000074"
    assert detail["buyer"]["legal_name"] == "ACME SAS"
    assert detail["lines"][0]["total_incl_vat_minor"] == 50_000
    assert [e["action"] for e in detail["timeline"]] == ["invoice_issued"]

    got = client.get(f"/api/v1/invoices/{first}.pdf", headers=seller["headers"])
    assert got.status_code == 200
    assert got.mimetype == "application/pdf"
    assert got.data.startswith(b"%PDF-")
    assert got.headers["Content-Disposition"] == f'inline; filename="{detail["number"]}.pdf"'


def test_transfer_payments_boundary_and_errors(app, client, seller, make_invoice):
    invoice_id = make_invoice(seller["id"], 50_000)
    url = f"/api/v1/invoices/{invoice_id}/payments"
    before = _counts(app)
    # balance + 1 is refused, with the field named
    err = _error(client.post(url, json={"amount_minor": 50_001}, headers=seller["headers"]), 422)
    assert "amount_minor" in err["fields"]
    for bad in (
        {"amount_minor": 0},
        {"amount_minor": -1},
        {"amount_minor": "100"},
        {"amount_minor": 10.5},
        {},
        {"amount_minor": 100, "paid_at": "2026-03-05T10:00:00"},  # no offset
        {"amount_minor": 100, "paid_at": "2999-01-01T00:00:00+00:00"},  # future
        {"amount_minor": 100, "surprise": 1},
    ):
        _error(client.post(url, json=bad, headers=seller["headers"]), 422)
    _error(client.post(url, data="nope", headers=seller["headers"]), 415)
    assert _counts(app) == before
    # balance - 1, then the last cent
    ok = client.post(
        url,
        json={
            "amount_minor": 49_999,
            "reference": "VIR 42",
            "paid_at": "2026-03-10T09:00:00+01:00",
        },
        headers=seller["headers"],
    )
    assert ok.status_code == 201
    body = ok.get_json()
    assert (body["status"], body["balance_due_minor"]) == ("partially_paid", 1)
    assert body["payments"][0]["paid_at"] == "2026-03-10T08:00:00+00:00"
    ok = client.post(url, json={"amount_minor": 1}, headers=seller["headers"])
    assert ok.get_json()["status"] == "paid"
    _error(client.post(url, json={"amount_minor": 1}, headers=seller["headers"]), 409)


def test_credit_notes_over_the_api(client, seller, make_invoice):
    invoice_id = make_invoice(seller["id"], 10_000)
    url = f"/api/v1/invoices/{invoice_id}/credit-notes"
    _error(
        client.post(url, json={"amount_minor": 10_001, "reason": "x"}, headers=seller["headers"]),
        422,
    )
    _error(client.post(url, json={"amount_minor": 100}, headers=seller["headers"]), 422)
    made = client.post(
        url, json={"amount_minor": 4_000, "reason": "goodwill"}, headers=seller["headers"]
    )
    assert made.status_code == 201
    note = made.get_json()
    assert note["kind"] == "credit_note"
    assert note["number"].startswith("AV")
    assert note["credited_invoice_id"] == invoice_id
    rest = client.post(url, json={"reason": "cancelled"}, headers=seller["headers"]).get_json()
    assert rest["amount_minor"] == 6_000
    invoice = client.get(f"/api/v1/invoices/{invoice_id}", headers=seller["headers"]).get_json()
    assert invoice["status"] == "credited"
    assert [c["number"] for c in invoice["credit_notes"]] == [note["number"], rest["number"]]
    _error(client.post(url, json={"reason": "again"}, headers=seller["headers"]), 409)
    # a credit note is not itself credited or paid
    _error(
        client.post(
            f"/api/v1/invoices/{note['id']}/credit-notes",
            json={"reason": "x"},
            headers=seller["headers"],
        ),
        409,
    )


def test_another_freelancers_invoice_is_404_everywhere(
    app, client, seller, make_freelancer, make_invoice
):
    invoice_id = make_invoice(seller["id"])
    intruder = make_freelancer()
    before = _counts(app)
    for method, path, body in [
        ("get", f"/api/v1/invoices/{invoice_id}", None),
        ("get", f"/api/v1/invoices/{invoice_id}.pdf", None),
        ("post", f"/api/v1/invoices/{invoice_id}/payments", {"amount_minor": 1}),
        ("post", f"/api/v1/invoices/{invoice_id}/credit-notes", {"reason": "x"}),
    ]:
        response = getattr(client, method)(path, json=body, headers=intruder["headers"])
        assert _error(response, 404)["code"] == "not_found"
    assert client.get("/api/v1/invoices", headers=intruder["headers"]).get_json() == {
        "invoices": []
    }
    assert _counts(app) == before


@pytest.mark.parametrize(
    "path", ["/api/v1/invoices/999999", "/api/v1/invoices/abc", "/api/v1/invoices/-1.pdf"]
)
def test_bad_ids_are_404(client, seller, path):
    _error(client.get(path, headers=seller["headers"]), 404)


def test_no_token_is_401(client):
    _error(client.get("/api/v1/invoices"), 401)


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_an_issued_invoice_cannot_be_edited_through_the_api(
    app, client, seller, make_invoice, method
):
    invoice_id = make_invoice(seller["id"])
    before = client.get(f"/api/v1/invoices/{invoice_id}", headers=seller["headers"]).get_json()
    response = getattr(client, method)(
        f"/api/v1/invoices/{invoice_id}",
        json={
            "lines": [{"description": "forged", "unit_amount_minor": 1}],
            "total_incl_vat_minor": 1,
        },
        headers=seller["headers"],
    )
    assert response.status_code in (404, 405)
    assert response.get_json()["error"]["code"] in ("not_found", "method_not_allowed")
    after = client.get(f"/api/v1/invoices/{invoice_id}", headers=seller["headers"]).get_json()
    assert after == before


def test_openapi_documents_the_invoice_routes(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in [
        "/invoices",
        "/invoices/{invoice_id}",
        "/invoices/{invoice_id}.pdf",
        "/invoices/{invoice_id}/payments",
        "/invoices/{invoice_id}/credit-notes",
    ]:
        assert path in paths


# --- pages -----------------------------------------------------------------------


def _login(client, f):
    client.post("/login", data={"email": f["email"], "password": f["password"]})


@pytest.fixture
def no_csrf(app_config):
    app_config["WTF_CSRF_ENABLED"] = False


def test_pages_list_detail_pdf_and_transfer_form(
    no_csrf, client, seller, make_freelancer, make_invoice
):
    invoice_id = make_invoice(seller["id"], 50_000)
    _login(client, seller)
    listing = client.get("/invoices")
    assert listing.status_code == 200
    assert "ACME SAS" in listing.get_data(as_text=True)
    page = client.get(f"/invoices/{invoice_id}")
    assert page.status_code == 200
    assert f"/invoices/{invoice_id}.pdf" in page.get_data(as_text=True)
    assert client.get(f"/invoices/{invoice_id}.pdf").mimetype == "application/pdf"
    # bad amount: the form comes back with the message, 422
    bad = client.post(f"/invoices/{invoice_id}/payments", data={"amount": "500,01"})
    assert bad.status_code == 422
    good = client.post(f"/invoices/{invoice_id}/payments", data={"amount": "499,99"})
    assert good.status_code == 302
    # CGI 289 VII: what happened after issue is on the page, the PDF stays as issued
    issued = client.get(f"/invoices/{invoice_id}.pdf").data
    html = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert "Depuis l’émission" in html and "499,99" in html
    assert hashlib.sha256(issued).hexdigest() in html
    assert client.get(f"/invoices/{invoice_id}.pdf").data == issued
    # another freelancer's invoice page is a 404
    client.post("/logout")
    _login(client, make_freelancer())
    assert client.get(f"/invoices/{invoice_id}").status_code == 404
    assert client.get(f"/invoices/{invoice_id}.pdf").status_code == 404


def test_a_credit_note_reason_with_a_control_character_is_refused_and_nothing_issued(
    client, seller, make_invoice
):
    # given an issued invoice (its documents are Factur-X: XML 1.0 cannot carry U+0011)
    invoice_id = make_invoice(seller["id"], 10_000)
    url = f"/api/v1/invoices/{invoice_id}/credit-notes"
    # when a credit note's reason carries control characters (the fuzzer's find: a 500)
    answer = client.post(url, json={"reason": "\u00ceQc\u0011k\u001a"}, headers=seller["headers"])
    # then it is refused, naming the field, and nothing is credited
    assert answer.status_code == 422, answer.get_json()
    assert "reason" in answer.get_json()["error"]["fields"]
    invoice = client.get(f"/api/v1/invoices/{invoice_id}", headers=seller["headers"]).get_json()
    assert invoice["credit_notes"] == [] and invoice["status"] != "credited"
    # while tabs and line breaks, and characters beyond the BMP, are text like any other
    made = client.post(
        url, json={"reason": "Séance annulée\n\tle client 🙂"}, headers=seller["headers"]
    )
    assert made.status_code == 201, made.get_json()
