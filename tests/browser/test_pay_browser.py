"""The client fixes a failed payment in real Chromium: new 3-D Secure card, paid receipt."""

from __future__ import annotations

import re

import pytest
import requests
import stripe
from sqlalchemy import select

from billing import cards, payments
from billing.dunning.models import DunningCase
from billing.invoicing.models import Invoice
from billing.money import Money
from billing.payments import Subject
from webapp.mail.models import OutboundEmail

pytestmark = [pytest.mark.browser, pytest.mark.stripe]

THREE_D_SECURE = "4000002500003155"
PROFILE = {
    "legal_name": "Atelier Dupont EI",
    "siret": "73282932000074",
    "legal_form": "ei",
    "address": "12 rue des Lilas, 75011 Paris",
    "iban": "FR1420041010050500013M02606",
    "bic": "PSSTFRPPPAR",
}


@pytest.fixture
def sdk(localstripe_url, live_server):
    """What Stripe.js does when a card is saved (here: the card that fails later)."""
    with requests.Session() as session:
        yield stripe.StripeClient(
            live_server.app.config["STRIPE_SECRET_KEY"],
            base_addresses={"api": localstripe_url},
            http_client=stripe.RequestsClient(session=session),
        )


def open_case(live_server, sdk) -> str:
    """A freelancer whose client's saved card fails off-session; returns the link's token."""
    from webapp.extensions import db
    from webapp.stripe_connect import gateway

    client = live_server.client
    body = {
        "email": "cam@example.test",
        "password": "correct horse battery",
        "display_name": "Camille",
        "slug": "camille-pay",
    }
    assert client.post("/api/v1/signup", json=body).status_code == 201
    token = client.post(
        "/api/v1/tokens", json={"email": body["email"], "password": body["password"]}
    )
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    me = client.patch("/api/v1/me", json=PROFILE, headers=headers).get_json()
    with live_server.app.app_context():
        session = db.session
        gw = gateway(me["id"])
        customer = cards.ensure_customer(
            session, gw, freelancer_id=me["id"], email="alex@example.test", name="Alex"
        )
        setup, _ = cards.start_card_setup(
            session, gw, customer=customer, subject=Subject("booking", "3")
        )
        session.commit()
        sdk.v1.setup_intents.confirm(
            setup.stripe_setup_intent_id, params={"payment_method": "pm_card_chargeCustomerFail"}
        )
        setup = cards.complete_card_setup(session, gw, setup.id)
        payment = payments.prepare_payment(
            session,
            customer=customer,
            subject=Subject("booking", "3"),
            purpose="balance",
            amount=Money(1200_00, "eur"),
            payment_method_id=setup.payment_method_id,
            capture_method="automatic",
            off_session=True,
        )
        session.commit()
        payments.execute_payment(session, gw, payment.id)
        session.commit()
        emails = session.scalars(
            select(OutboundEmail).where(OutboundEmail.to_addr == "alex@example.test")
        )
        text = "".join(e.body_text for e in emails)
    return re.search(r"/pay/(pay_[A-Za-z0-9_\-]+)", text).group(1)


def test_client_pays_with_a_3d_secure_card_and_sees_the_receipt(page, live_server, sdk, artifact):
    token = open_case(live_server, sdk)

    # given the fix-my-payment page from the e-mail
    page.goto(f"{live_server.url}/pay/{token}?lang=en")
    page.get_by_role("heading", name=re.compile("Amount due")).wait_for()
    shown = page.inner_text("#pay").replace("\u202f", " ").replace("\xa0", " ")
    assert "1 200,00 €" in shown and "declined" in shown
    card = page.locator("#card-element")
    for name, value in [
        ("number", THREE_D_SECURE),
        ("exp_month", "12"),
        ("exp_year", "34"),
        ("cvc", "123"),
        ("postal_code", "75011"),
    ]:
        card.locator(f'input[placeholder="{name}"]').fill(value)
    artifact("pay-link-filled", page)

    # when the client pays, completing 3-D Secure once: the card goes with the payment
    page.locator("#pay-button").click()
    page.get_by_role("button", name="Complete authentication").click()

    # then the paid receipt shows, and the case and invoice are paid
    page.locator("#paid-receipt").wait_for(state="visible")
    artifact("pay-link-paid", page)
    from webapp.extensions import db

    with live_server.app.app_context():
        case = db.session.scalars(select(DunningCase)).one()
        assert case.status == "paid"
        assert db.session.get(Invoice, case.invoice_id).status == "paid"
    page.reload()
    page.locator("#receipt").wait_for()
