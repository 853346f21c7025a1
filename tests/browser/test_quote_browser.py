"""A client accepts a quote in real Chromium: signs, saves the test card, pays the deposit."""

from __future__ import annotations

from sqlalchemy import select

from billing.models import Payment
from tests.integration.test_quotes import PROFILE, quote_body
from webapp.extensions import db


def _fill_card(page, number: str) -> None:
    card = page.locator("#card-element")
    card.locator('input[placeholder="number"]').fill(number)
    card.locator('input[placeholder="exp_month"]').fill("12")
    card.locator('input[placeholder="exp_year"]').fill("34")
    card.locator('input[placeholder="cvc"]').fill("123")
    card.locator('input[placeholder="postal_code"]').fill("75011")


def test_client_accepts_a_quote_and_pays_the_deposit(live_server, page, artifact):
    # given a sent quote
    client = live_server.client
    client.post(
        "/api/v1/signup",
        json={
            "email": "marie@example.test",
            "password": "correct horse battery",
            "display_name": "Marie",
            "slug": "marie-browser",
        },
    )
    token = client.post(
        "/api/v1/tokens", json={"email": "marie@example.test", "password": "correct horse battery"}
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    client.patch("/api/v1/me", headers=headers, json=PROFILE)
    quote = client.post("/api/v1/quotes", headers=headers, json=quote_body()).get_json()
    assert client.post(f"/api/v1/quotes/{quote['id']}/send", headers=headers).status_code == 200

    # when the client opens the link, signs, saves the card and pays
    page.goto(f"{live_server.url}/q/{quote['public_token']}?lang=en")
    assert page.locator("#quote-status").inner_text() == "viewed"
    page.locator("#signer_name").fill("Claire Client")
    page.locator("#accept_terms").check()
    _fill_card(page, "4242424242424242")
    page.locator("#accept-button").click()

    # then the page reloads accepted, with the evidence, and the deposit is paid
    page.wait_for_selector("#acceptance", timeout=20_000)
    assert page.locator("#quote-status").inner_text() == "accepted"
    assert "Claire Client" in page.locator("#acceptance").inner_text()
    artifact("quote-accepted", page)
    with live_server.app.app_context():
        payment = db.session.scalar(select(Payment))
        assert payment.status == "succeeded" and payment.amount_minor == 30_000
        assert payment.off_session is False
