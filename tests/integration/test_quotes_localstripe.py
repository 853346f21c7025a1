"""The full quote flow against the real localstripe server: amounts on Stripe to the cent."""

from __future__ import annotations

import pytest
import stripe
from sqlalchemy import select

from billing.db import utcnow
from billing.models import Payment
from tests.integration.test_quotes import PROFILE, quote_body
from webapp.extensions import db


@pytest.fixture
def app_config(app_config, localstripe_url):
    return {**app_config, "STRIPE_API_BASE": localstripe_url, "STRIPE_SECRET_KEY": "sk_test_quotes"}


def test_send_accept_deliver_approve_autoapprove_object(
    app, client, make_freelancer, localstripe_url
):
    sdk = stripe.StripeClient("sk_test_quotes", base_addresses={"api": localstripe_url})
    freelancer = make_freelancer()
    client.patch("/api/v1/me", headers=freelancer["headers"], json=PROFILE)
    body = quote_body(
        lines=[{"description": "Site", "quantity": 1, "unit_amount_minor": 123_457}],
        milestones=[
            {"title": "Acompte", "percent": 30, "trigger": "on_acceptance"},
            {"title": "Maquettes", "percent": 30, "trigger": "on_approval"},
            {"title": "Recette", "percent": 20, "trigger": "on_approval"},
            {"title": "Mise en ligne", "percent": 20, "trigger": "on_approval"},
        ],
    )
    quote = client.post("/api/v1/quotes", headers=freelancer["headers"], json=body).get_json()
    # 30/30/20/20 % of 1234.57: the last percentage milestone carries the remainder
    amounts = [m["amount_minor"] for m in quote["milestones"]]
    assert amounts == [37_037, 37_037, 24_691, 24_692] and sum(amounts) == 123_457
    token = quote["public_token"]
    assert (
        client.post(f"/api/v1/quotes/{quote['id']}/send", headers=freelancer["headers"]).status_code
        == 200
    )

    # accept: the browser confirms the SetupIntent, then the server charges the deposit
    signed = client.post(
        f"/api/v1/public/quotes/{token}/accept",
        json={"signer_name": "Claire", "accept_terms": True},
    ).get_json()
    seti = signed["setup_intent_client_secret"].split("_secret_")[0]
    sdk.v1.setup_intents.confirm(seti, params={"payment_method": "pm_card_visa"})
    confirmed = client.post(f"/api/v1/public/quotes/{token}/accept/confirm", json={})
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["status"] == "accepted"

    ms = [m["id"] for m in quote["milestones"]]
    headers = freelancer["headers"]
    # milestone 2: delivered and approved by the client → charged by run-due
    client.post(f"/api/v1/milestones/{ms[1]}/deliver", headers=headers, json={"note": "v1"})
    client.post(f"/api/v1/public/milestones/{ms[1]}/approve", json={"token": token})
    # milestone 3: delivered, never answered → auto-approved at day 7
    client.post(f"/api/v1/milestones/{ms[2]}/deliver", headers=headers, json={"note": "recette"})
    # milestone 4: delivered, client objects → never charged
    client.post(f"/api/v1/milestones/{ms[3]}/deliver", headers=headers, json={"note": "prod"})
    client.post(f"/api/v1/public/milestones/{ms[3]}/object", json={"token": token, "reason": "bug"})

    from datetime import timedelta

    from webapp.due import run_due

    with app.app_context():
        run_due(utcnow())
        run_due(utcnow() + timedelta(days=7, minutes=1))
        run_due(utcnow() + timedelta(days=8))  # again: nothing new

    detail = client.get(f"/api/v1/quotes/{quote['id']}", headers=headers).get_json()
    assert [m["status"] for m in detail["milestones"]] == ["paid", "paid", "paid", "objected"]
    assert detail["milestones"][2]["approved_by"] == "auto"
    # Stripe holds exactly one succeeded PaymentIntent per charged milestone, to the cent
    with app.app_context():
        rows = db.session.scalars(select(Payment).order_by(Payment.id)).all()
        assert [p.amount_minor for p in rows] == amounts[:3]
        for row in rows:
            intent = sdk.v1.payment_intents.retrieve(row.stripe_payment_intent_id)
            assert intent.status == "succeeded"
            assert intent.amount == row.amount_minor and intent.currency == "eur"
