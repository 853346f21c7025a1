"""Stripe fees and payouts in the books (issue 17): a card payment's fee, the payout that
carries the net to the bank, recognised on the statement, in the FEC and beside the
livre des recettes; with the in-memory Stripe (a real fee) and over HTTP with localstripe."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from billing.books.models import StripeBalanceTxn
from billing.gateway.memory import InMemoryGateway
from tests.integration.test_booking_api import ALL_WEEK, book, save_card
from tests.integration.test_books import PROFILE, camt, upload
from webapp.extensions import db


@pytest.fixture
def gateway():
    return InMemoryGateway()


@pytest.fixture
def app_config(app_config, gateway):
    return {**app_config, "GATEWAY_FACTORY": lambda creds: gateway}


@pytest.fixture
def seller(client, make_freelancer):
    f = make_freelancer()
    h = f["headers"]
    profile = {**PROFILE, "timezone": "Europe/Paris"}
    assert client.patch("/api/v1/me", json=profile, headers=h).status_code == 200
    week = {"timezone": "UTC", "weekly": ALL_WEEK, "exceptions": []}
    assert client.put("/api/v1/availability", json=week, headers=h).status_code == 200
    body = {
        "title": "Call",
        "duration_minutes": 60,
        "amount_minor": 10_000,
        "currency": "EUR",
        "payment_policy": "prepay",
        "free_cancel_hours": 24,
        "late_cancel_fee_percent": 50,
        "no_show_fee_percent": 100,
        "buffer_minutes": 0,
        "min_notice_minutes": 0,
    }
    created = client.post("/api/v1/offerings", json=body, headers=h)
    assert created.status_code == 201, created.get_json()
    f["offering_id"] = created.get_json()["id"]
    return f


def paid_booking(client, app, gateway, seller, days: int = 3) -> int:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    made = book(client, seller, {"id": seller["offering_id"]}, start.isoformat())
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    with app.app_context():
        save_card(db.session, gateway, body["booking_id"])
    confirmed = client.post(
        f"/api/v1/public/bookings/{body['booking_id']}/confirm",
        json={"manage_token": body["manage_token"]},
    )
    assert confirmed.get_json() == {"status": "confirmed"}
    return body["booking_id"]


def statement(booked_on: date, amount_minor: int, who: str, text: str, ref: str = "PO") -> bytes:
    return camt((ref, amount_minor, who, text), booked_on=booked_on)


def test_a_payout_is_gross_less_fees_recognised_on_the_statement_and_in_the_fec(
    client, app, gateway, seller
):
    # given a card payment of 100,00 € (Stripe keeps 1,75 €) and its payout
    h = seller["headers"]
    paid_booking(client, app, gateway, seller)
    payout = gateway.create_payout()
    arrival = datetime.fromtimestamp(payout.arrival_date, UTC).date()
    assert payout.amount_minor == 9_825
    # and the bank statement showing it, imported before Stripe is read
    line = statement(arrival, 9_825, "STRIPE PAYMENTS EUROPE", f"STRIPE {payout.id}")
    assert upload(client, seller, line).get_json()["unmatched"] == 1
    # when the payouts are read from Stripe
    today = date.today()
    period = {"from": today.isoformat(), "to": (today + timedelta(days=5)).isoformat()}
    synced = client.post("/api/v1/books/payouts/sync", json=period, headers=h)
    assert synced.get_json() == {"payouts": 1, "transactions": 1, "recognised": 1}
    again = client.post("/api/v1/books/payouts/sync", json=period, headers=h)
    assert again.get_json() == {"payouts": 1, "transactions": 0, "recognised": 0}
    # then the payout adds up: gross - fees = net = what reached the bank
    query = f"from={period['from']}&to={period['to']}"
    report = client.get(f"/api/v1/books/payouts?{query}", headers=h).get_json()
    [one] = report["payouts"]
    assert (one["gross_minor"], one["fees_minor"], one["net_minor"]) == (10_000, 175, 9_825)
    assert one["difference_minor"] == 0 and one["bank_booked_on"] == arrival.isoformat()
    [txn] = one["transactions"]
    assert txn["invoice_number"].startswith("F") and txn["client"] == "Client"
    assert report["totals"] == [
        {
            "currency": "eur",
            "gross_minor": 10_000,
            "refunds_minor": 0,
            "fees_minor": 175,
            "net_minor": 9_825,
            "paid_out_minor": 9_825,
        }
    ]
    # and the payout is not left to review as an unmatched transfer
    assert client.get("/api/v1/bank-lines", headers=h).get_json()["lines"] == []
    csv_rows = client.get(f"/api/v1/books/payouts.csv?{query}", headers=h).get_data(as_text=True)
    assert ";100,00;1,75;98,25;EUR;" in csv_rows
    # the FEC: card money through Stripe (467), the fee to 627, the payout to the bank
    fec = client.get(f"/api/v1/books/fec?year={today.year}", headers=h).get_data(as_text=True)
    rows = [r.split("\t") for r in fec.split("\r\n")[1:] if r]
    legs = {(r[4], r[11], r[12]) for r in rows}
    assert ("467000", "100,00", "0,00") in legs and ("411000", "0,00", "100,00") in legs
    assert ("627000", "1,75", "0,00") in legs and ("467000", "0,00", "1,75") in legs
    if arrival.year == today.year:
        assert ("512000", "98,25", "0,00") in legs and ("467000", "0,00", "98,25") in legs
    balance: dict[str, int] = {}
    for r in rows:
        cents = int(r[11].replace(",", "")) - int(r[12].replace(",", ""))
        balance[r[2]] = balance.get(r[2], 0) + cents
    assert set(balance.values()) == {0}
    stripe_left = sum(
        int(r[11].replace(",", "")) - int(r[12].replace(",", "")) for r in rows if r[4] == "467000"
    )
    assert stripe_left == (0 if arrival.year == today.year else 9_825)
    # the accounts are the freelancer's: the FEC follows a change
    ours = {"stripe": {"number": "580000"}, "fees": {"number": "627800", "label": "Commissions"}}
    changed = client.put("/api/v1/books/accounts", json=ours, headers=h)
    assert changed.status_code == 200 and changed.get_json()["bank"]["number"] == "512000"
    fec = client.get(f"/api/v1/books/fec?year={today.year}", headers=h).get_data(as_text=True)
    numbers = {tuple(r.split("\t")[4:6]) for r in fec.split("\r\n")[1:] if r}
    assert ("580000", "Stripe (compte de transit)") in numbers
    assert ("627800", "Commissions") in numbers and "467000" not in fec
    for bad in ({"stripe": {"number": "58 0"}}, {"cash": {"number": "530000"}}):
        assert client.put("/api/v1/books/accounts", json=bad, headers=h).status_code == 422
    # the livre des recettes stays gross; the URSSAF turnover too
    receipts = client.get(f"/api/v1/books/receipts?{query}", headers=h).get_data(as_text=True)
    assert ";100,00;EUR;Carte (Stripe);" in receipts
    urssaf = client.get(f"/api/v1/books/urssaf?{query}", headers=h).get_json()
    assert sum(m["total_minor"] for m in urssaf["months"]) == 10_000
    assert urssaf["split"] is False


def test_a_payout_is_recognised_when_the_statement_comes_after_stripe_is_read(
    client, app, gateway, seller
):
    h = seller["headers"]
    paid_booking(client, app, gateway, seller)
    payout = gateway.create_payout()
    arrival = datetime.fromtimestamp(payout.arrival_date, UTC).date()
    today = date.today()
    period = {"from": today.isoformat(), "to": (today + timedelta(days=5)).isoformat()}
    assert client.post("/api/v1/books/payouts/sync", json=period, headers=h).status_code == 200
    # a client's transfer of the same amount without "Stripe" is not taken for the payout
    other = statement(arrival, 9_825, "Jean Dupont", "VIREMENT", "O1")
    assert upload(client, seller, other).get_json()["unmatched"] == 1
    late = statement(arrival + timedelta(days=1), 9_825, "STRIPE", "Payout", "O2")
    assert upload(client, seller, late).get_json() | {"id": 0} == {
        "id": 0,
        "format": "camt053",
        "account": "",
        "lines": 1,
        "matched": 1,
        "unmatched": 0,
    }
    [waiting] = client.get("/api/v1/bank-lines", headers=h).get_json()["lines"]
    assert waiting["counterparty"] == "Jean Dupont"


@pytest.fixture
def no_csrf(app_config):
    app_config["WTF_CSRF_ENABLED"] = False


def test_a_refund_is_a_negative_receipt_and_leaves_the_payout(
    no_csrf, client, app, gateway, seller
):
    # given two paid sessions, one cancelled by the freelancer (refunded in full)
    h = seller["headers"]
    paid_booking(client, app, gateway, seller, days=3)
    cancelled = paid_booking(client, app, gateway, seller, days=4)
    answer = client.post(f"/api/v1/bookings/{cancelled}/cancel", json={}, headers=h)
    assert answer.status_code == 200, answer.get_json()
    payout = gateway.create_payout()
    assert payout.amount_minor == 2 * (10_000 - 175) - 10_000
    # when the freelancer reads the payouts from the books page
    client.post("/login", data={"email": seller["email"], "password": seller["password"]})
    today = date.today()
    query = f"from={today}&to={today + timedelta(days=5)}"
    assert client.post(f"/books/payouts/sync?{query}").status_code == 302
    page = client.get(f"/books?{query}").get_data(as_text=True)
    assert "Pas encore sur un relevé importé" in page and "96,50" in page
    # then the payout shows the refund, and adds up
    [one] = client.get(f"/api/v1/books/payouts?{query}", headers=h).get_json()["payouts"]
    assert (one["gross_minor"], one["refunds_minor"], one["fees_minor"]) == (20_000, -10_000, 350)
    assert one["net_minor"] == one["amount_minor"] == 9_650 and one["difference_minor"] == 0
    # the livre des recettes: two receipts and the refund, negative; the URSSAF total is net
    receipts = client.get(f"/api/v1/books/receipts?{query}", headers=h).get_data(as_text=True)
    amounts = [row.split(";")[3] for row in receipts.strip().split("\r\n")[1:]]
    assert sorted(amounts) == ["-100,00", "100,00", "100,00"]
    urssaf = client.get(f"/api/v1/books/urssaf?{query}", headers=h).get_json()
    assert sum(q["total_minor"] for q in urssaf["quarters"]) == 10_000
    # the FEC gives the refund back to the client from the Stripe account
    fec = client.get(f"/api/v1/books/fec?year={today.year}", headers=h).get_data(as_text=True)
    legs = {tuple(r.split("\t")[i] for i in (4, 11, 12)) for r in fec.split("\r\n")[1:] if r}
    assert ("411000", "100,00", "0,00") in legs and ("467000", "0,00", "100,00") in legs


def test_bad_periods_are_422(client, seller):
    h = seller["headers"]
    for path in ("payouts", "urssaf", "payouts.csv", "receipts.pdf"):
        assert (
            client.get(f"/api/v1/books/{path}?from=2026-02-01&to=2026-01-01", headers=h).status_code
            == 422
        )
        assert (
            client.get(f"/api/v1/books/{path}?from=x&to=2026-01-01", headers=h).status_code == 422
        )
    bad = {"from": "2026-01-01", "to": "2040-01-01"}
    assert client.post("/api/v1/books/payouts/sync", json=bad, headers=h).status_code == 422


class TestLocalstripe:
    """The real HTTP path: the SDK against localstripe (whose fee is always 0)."""

    @pytest.fixture
    def app_config(self, app_config, localstripe_url):
        config = {**app_config, "STRIPE_API_BASE": localstripe_url}
        config.pop("GATEWAY_FACTORY", None)
        return config

    def test_payouts_and_what_they_paid_out_are_read_over_http(
        self, client, app, seller, stripe_gateway
    ):
        from billing.money import Money

        # localstripe links no transactions to a payout: a payout takes what was made
        # since the payout before it, so a first one sweeps what other tests left
        raw = stripe_gateway._client.v1  # noqa: SLF001 (test setup: Stripe's own API)
        raw.payouts.create(params={"amount": 1, "currency": "eur"})
        time.sleep(1.1)
        customer = stripe_gateway.create_customer(
            email="b@example.test", name="B", idempotency_key="bk-c"
        )
        intent = stripe_gateway.create_payment_intent(
            amount=Money(5_000, "eur"),
            customer_id=customer,
            payment_method_id="pm_card_visa",
            capture_method="automatic",
            off_session=True,
            idempotency_key="bk-pi",
        )
        stripe_gateway.refund(intent.id, amount_minor=1_000, idempotency_key="bk-re")
        time.sleep(1.1)
        made = raw.payouts.create(params={"amount": 4_000, "currency": "eur"}).to_dict()
        h = seller["headers"]
        today = date.today()
        period = {"from": today.isoformat(), "to": (today + timedelta(days=3)).isoformat()}
        synced = client.post("/api/v1/books/payouts/sync", json=period, headers=h)
        assert synced.status_code == 200, synced.get_json()
        query = f"from={period['from']}&to={period['to']}"
        report = client.get(f"/api/v1/books/payouts?{query}", headers=h).get_json()
        [ours] = [p for p in report["payouts"] if p["id"] == made["id"]]
        assert [(t["type"], t["gross_minor"], t["fee_minor"]) for t in ours["transactions"]] == [
            ("charge", 5_000, 0),
            ("refund", -1_000, 0),
        ]
        assert (ours["gross_minor"], ours["refunds_minor"], ours["net_minor"]) == (
            5_000,
            -1_000,
            4_000,
        )
        assert ours["difference_minor"] == 0
        with app.app_context():
            stored = db.session.scalars(select(StripeBalanceTxn.payment_intent_id)).all()
            assert stored.count(intent.id) == 2
