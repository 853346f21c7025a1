"""The URSSAF turnover and the PDFs of the books (issue 17): receipts cashed per month and
quarter (goods apart from services), and PDFs whose totals are the payments of the range."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from billing.invoicing.models import InvoicePayment
from tests.integration.test_books import PROFILE, camt, invoice, upload
from webapp.extensions import db


@pytest.fixture
def seller(client, make_freelancer):
    f = make_freelancer()
    assert client.patch("/api/v1/me", json=PROFILE, headers=f["headers"]).status_code == 200
    return f


def pay(client, seller, made: dict, amount: int, paid_on: date) -> None:
    body = {"amount_minor": amount, "paid_at": f"{paid_on.isoformat()}T10:00:00+01:00"}
    answer = client.post(
        f"/api/v1/invoices/{made['id']}/payments", json=body, headers=seller["headers"]
    )
    assert answer.status_code == 201, answer.get_json()


def pdf_text(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"[\u202f\xa0]", " ", text)


def euros(minor: int) -> str:
    """As babel writes it in French (spaces normalised): 1 234,56 €."""
    whole, cents = divmod(minor, 100)
    return f"{whole:,}".replace(",", " ") + f",{cents:02d} €"


@pytest.fixture
def year() -> int:
    return date.today().year - 1  # a whole past year: payments may be dated in it


def test_urssaf_turnover_is_receipts_per_month_and_quarter_goods_apart(client, seller, year):
    h = seller["headers"]
    services = invoice(client, seller, 100_000)
    assert client.patch("/api/v1/me", json={"activity": "mixed"}, headers=h).status_code == 200
    assert client.patch("/api/v1/me", json={"activity": "goods"}, headers=h).status_code == 200
    goods = invoice(client, seller, 40_000)
    pay(client, seller, services, 30_000, date(year, 1, 31))
    pay(client, seller, services, 70_000, date(year, 4, 2))
    pay(client, seller, goods, 40_000, date(year, 2, 10))
    query = f"from={year}-01-01&to={year}-06-30"
    answer = client.get(f"/api/v1/books/urssaf?{query}", headers=h)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["split"] is True
    months = {m["period"]: (m["goods_minor"], m["services_minor"]) for m in body["months"]}
    assert months == {
        f"{year}-01": (0, 30_000),
        f"{year}-02": (40_000, 0),
        f"{year}-03": (0, 0),  # a nil month is still declared
        f"{year}-04": (0, 70_000),
        f"{year}-05": (0, 0),
        f"{year}-06": (0, 0),
    }
    quarters = {q["period"]: q["total_minor"] for q in body["quarters"]}
    assert quarters == {f"{year}-Q1": 70_000, f"{year}-Q2": 70_000}
    # a range cut inside a quarter counts only its own days
    part = client.get(f"/api/v1/books/urssaf?from={year}-02-01&to={year}-04-01", headers=h)
    assert {q["period"]: q["total_minor"] for q in part.get_json()["quarters"]} == {
        f"{year}-Q1": 40_000,
        f"{year}-Q2": 0,
    }
    csv_text = client.get(f"/api/v1/books/urssaf.csv?{query}", headers=h).get_data(as_text=True)
    assert f"{year}-Q1;01/01/{year};31/03/{year};400,00;300,00;0,00;700,00;EUR" in csv_text


def test_services_only_accounts_are_not_split(client, seller, year):
    made = invoice(client, seller, 12_345)
    pay(client, seller, made, 12_345, date(year, 3, 3))
    h = seller["headers"]
    body = client.get(f"/api/v1/books/urssaf?from={year}-01-01&to={year}-12-31", headers=h)
    assert body.get_json()["split"] is False
    assert [q["services_minor"] for q in body.get_json()["quarters"]] == [12_345, 0, 0, 0]


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_the_receipts_pdf_totals_the_payments_of_the_range(client, seller, app, year, locale):
    # given payments inside and outside the range
    h = {**seller["headers"], "Accept-Language": locale}
    a = invoice(client, seller, 123_456)
    b = invoice(client, seller, 50_050)
    pay(client, seller, a, 100_000, date(year, 5, 1))
    pay(client, seller, a, 23_456, date(year, 6, 15))
    pay(client, seller, b, 50_050, date(year, 7, 1))  # outside
    start, end = date(year, 5, 1), date(year, 6, 30)
    # when the PDF of the range is made
    answer = client.get(f"/api/v1/books/receipts.pdf?from={start}&to={end}", headers=h)
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    text = pdf_text(answer.data)
    # then its total is the sum of the payments of the range, no more
    with app.app_context():
        paid = [p for p in db.session.scalars(select(InvoicePayment)) if p.paid_at.year == year]
        in_range = sum(p.amount_minor for p in paid if start <= p.paid_at.date() <= end)
    assert in_range == 123_456
    total_label = "Total des recettes" if locale == "fr" else "Total receipts"
    if locale == "fr":
        assert re.search(rf"{total_label}\s*{re.escape(euros(in_range))}", text), text
    else:
        assert re.search(rf"{total_label}\s*€1,234.56", text), text
    assert a["number"] in text and b["number"] not in text


def test_urssaf_and_payouts_pdfs(client, seller, year):
    h = seller["headers"]
    made = invoice(client, seller, 80_000)
    pay(client, seller, made, 80_000, date(year, 8, 20))
    urssaf = client.get(f"/api/v1/books/urssaf.pdf?from={year}-07-01&to={year}-09-30", headers=h)
    text = pdf_text(urssaf.data)
    assert "Chiffre d’affaires pour l’URSSAF" in text and f"T3 {year}" in text
    assert re.search(rf"Août {year}\s*{re.escape(euros(80_000))}", text), text
    payouts = client.get(f"/api/v1/books/payouts.pdf?from={year}-07-01&to={year}-09-30", headers=h)
    assert "Aucun virement sur cette période" in pdf_text(payouts.data)


@pytest.fixture
def no_csrf(app_config):
    app_config["WTF_CSRF_ENABLED"] = False


def test_the_page_assigns_part_of_a_line_and_shows_the_reports(no_csrf, client, seller, year):
    made = invoice(client, seller, 20_000)
    upload(client, seller, camt(("PP1", 15_000, "Marie Petit", "merci")))
    client.post("/login", data={"email": seller["email"], "password": seller["password"]})
    [line] = client.get("/api/v1/bank-lines", headers=seller["headers"]).get_json()["lines"]
    url = f"/books/lines/{line['id']}/assign"
    bad = client.post(url, data={"invoice_id": made["id"], "amount": "douze"})
    assert bad.status_code == 422
    done = client.post(url, data={"invoice_id": made["id"], "amount": "50,00"})
    assert done.status_code == 302
    [line] = client.get("/api/v1/bank-lines", headers=seller["headers"]).get_json()["lines"]
    assert line["left_minor"] == 10_000
    page = client.get(f"/books?from={year}-01-01&to={date.today()}").get_data(as_text=True)
    assert "Chiffre d’affaires pour l’URSSAF" in page and "Virements Stripe" in page
    pdf = client.get(
        f"/books/reports/receipts.pdf?from={date.today() - timedelta(days=1)}&to={date.today()}"
    )
    assert pdf.status_code == 200 and euros(5_000) in pdf_text(pdf.data)
    saved = client.post("/books/accounts", data={"account_stripe": "580000"})
    assert saved.status_code == 302
    accounts = client.get("/api/v1/books/accounts", headers=seller["headers"]).get_json()
    assert accounts["stripe"]["number"] == "580000" and accounts["bank"]["number"] == "512000"
    assert client.post("/books/accounts", data={"account_bank": "5 12"}).status_code == 302
    accounts = client.get("/api/v1/books/accounts", headers=seller["headers"]).get_json()
    assert accounts["bank"]["number"] == "512000"
