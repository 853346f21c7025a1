"""Payment webhooks: ledger kept in line with Stripe, out of order, scoped to one account."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from billing import cards, payments
from billing.gateway.memory import InMemoryGateway
from billing.models import Payment, StripeAccount
from billing.money import Money
from billing.payments import Subject
from billing.webhooks import sign
from webapp.extensions import db

INSTANCE_SECRET = "whsec_instance_secret"


@pytest.fixture
def gateway():
    return InMemoryGateway()


@pytest.fixture
def hold(app, make_freelancer, gateway):
    """A 3-D Secure hold waiting for the client: `requires_action`."""
    freelancer = make_freelancer()
    with app.app_context():
        customer = cards.ensure_customer(
            db.session, gateway, freelancer_id=freelancer["id"], email="c@example.test", name="C"
        )
        payment = payments.prepare_payment(
            db.session,
            customer=customer,
            subject=Subject("booking", 1),
            purpose="hold",
            amount=Money(8_000, "eur"),
            payment_method_id="pm_card_threeDSecure2Required",
            capture_method="manual",
            off_session=False,
        )
        db.session.commit()
        payments.execute_payment(db.session, gateway, payment.id)
        db.session.commit()
        assert payment.status == payments.REQUIRES_ACTION
        return payment.id, payment.stripe_payment_intent_id, freelancer


def pi_event(event_id, event_type, pi_id, status, created, **extra):
    obj = {
        "id": pi_id,
        "object": "payment_intent",
        "client_secret": f"{pi_id}_secret_x",
        "status": status,
        "amount": 8_000,
        "currency": "eur",
        "amount_capturable": 8_000 if status == "requires_capture" else 0,
        "amount_received": 8_000 if status == "succeeded" else 0,
        "customer": "cus_x",
        "payment_method": "pm_x",
        "metadata": {},
        "last_payment_error": None,
        **extra,
    }
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": created,
        "data": {"object": obj},
    }


def deliver(client, event, secret=INSTANCE_SECRET, path="/stripe/webhook"):
    payload = json.dumps(event).encode()
    header = sign(payload, secret, int(time.time()))
    return client.post(
        path, data=payload, content_type="application/json", headers={"Stripe-Signature": header}
    )


def status_of(db_session, payment_id):
    db_session.expire_all()
    return db_session.get(Payment, payment_id)


def test_authentication_completed_in_the_browser_authorises_the_hold(client, hold, db_session):
    payment_id, pi_id, _ = hold
    answer = deliver(
        client,
        pi_event(
            "evt_1", "payment_intent.amount_capturable_updated", pi_id, "requires_capture", 1_000
        ),
    )
    assert answer.status_code == 200
    payment = status_of(db_session, payment_id)
    assert payment.status == payments.AUTHORIZED
    assert payment.amount_capturable_minor == 8_000
    assert payment.stripe_event_created == 1_000


def test_events_out_of_order_never_move_backwards(client, hold, db_session):
    payment_id, pi_id, _ = hold
    # the newer event (captured) arrives first, the older (authorised) after it
    deliver(client, pi_event("evt_new", "payment_intent.succeeded", pi_id, "succeeded", 2_000))
    deliver(
        client,
        pi_event(
            "evt_old", "payment_intent.amount_capturable_updated", pi_id, "requires_capture", 1_000
        ),
    )
    payment = status_of(db_session, payment_id)
    assert payment.status == payments.SUCCEEDED
    assert payment.amount_captured_minor == 8_000


def test_same_second_stale_state_is_ignored(client, hold, db_session):
    payment_id, pi_id, _ = hold
    deliver(client, pi_event("evt_a", "payment_intent.canceled", pi_id, "canceled", 1_500))
    deliver(
        client,
        pi_event(
            "evt_b", "payment_intent.amount_capturable_updated", pi_id, "requires_capture", 1_500
        ),
    )
    assert status_of(db_session, payment_id).status == payments.CANCELED


def test_duplicate_event_applies_once(client, hold, db_session):
    payment_id, pi_id, _ = hold
    event = pi_event(
        "evt_dup",
        "payment_intent.payment_failed",
        pi_id,
        "requires_payment_method",
        1_000,
        last_payment_error={
            "code": "card_declined",
            "message": "Declined",
            "decline_code": "insufficient_funds",
        },
    )
    deliver(client, event)
    second = deliver(client, event)
    assert second.get_json()["duplicate"] is True
    payment = status_of(db_session, payment_id)
    assert payment.status == payments.FAILED
    assert payment.failure_code == "insufficient_funds"
    failed_events = [
        e for e in db_session.scalars(select(payments.events.Event)) if e.action == "payment_failed"
    ]
    assert len(failed_events) == 1


def test_another_accounts_event_cannot_touch_this_payment(
    app, client, hold, db_session, make_freelancer
):
    payment_id, pi_id, _ = hold
    # given Mallory connected her own Stripe account (with her own webhook secret)
    mallory = make_freelancer()
    with app.app_context():
        from webapp.stripe_connect import secret_box

        box = secret_box()
        account = StripeAccount(
            freelancer_id=mallory["id"],
            secret_key_enc=box.encrypt("sk_x"),
            secret_key_last4="sk_x",
            publishable_key="pk_test_x",
            webhook_secret_enc=box.encrypt("whsec_mallory_1234"),
            webhook_token="mallory-token",
        )
        db.session.add(account)
        db.session.commit()
    # when she sends a correctly signed event naming the victim's PaymentIntent
    answer = deliver(
        client,
        pi_event("evt_m", "payment_intent.succeeded", pi_id, "succeeded", 9_000),
        secret="whsec_mallory_1234",
        path="/stripe/webhook/mallory-token",
    )
    # then it is accepted as an event of her account but changes nothing of the victim's
    assert answer.status_code == 200
    assert status_of(db_session, payment_id).status == payments.REQUIRES_ACTION
