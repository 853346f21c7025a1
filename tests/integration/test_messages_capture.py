"""Paid messages with the in-memory gateway: what a failed capture does (option a:
the answer stays unsent and the freelancer is told), and the answer race on PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from billing.errors import GatewayRejected, GatewayUnavailable
from billing.gateway.memory import InMemoryGateway
from billing.models import Payment
from tests.conftest import base_config
from webapp import create_app
from webapp.mail.models import OutboundEmail
from webapp.messages.models import Answer, Question

PRICE = 30_00


@pytest.fixture
def gateway():
    return InMemoryGateway()


@pytest.fixture
def app_config(app_config, gateway):
    return {**app_config, "GATEWAY_FACTORY": lambda creds: gateway}


def ask_and_hold(client, headers, slug, gateway, card="pm_card_visa"):
    """Settings on, a question asked, the card saved (as the browser would), the hold placed."""
    client.put(
        "/api/v1/messages/settings",
        json={"enabled": True, "price_minor": PRICE, "currency": "eur"},
        headers=headers,
    )
    asked = client.post(
        f"/api/v1/public/freelancers/{slug}/messages",
        json={"name": "Léa", "email": "lea@example.test", "text": "A question"},
    ).get_json()
    gateway.confirm_setup_intent(asked["setup_intent_client_secret"].split("_secret_")[0], card)
    confirmed = client.post(
        f"/api/v1/public/messages/{asked['message_id']}/confirm", json={"token": asked["token"]}
    ).get_json()
    return asked["message_id"], asked["token"], confirmed


def fresh(db_session, model, row_id):
    db_session.rollback()
    return db_session.get(model, row_id)


@pytest.mark.parametrize(
    "error",
    [
        GatewayUnavailable("timeout talking to Stripe"),
        GatewayRejected("This PaymentIntent could not be captured.", http_status=400),
    ],
)
def test_failed_capture_keeps_the_answer_unsent_and_tells_the_freelancer(
    client, make_freelancer, gateway, db_session, error
):
    f = make_freelancer()
    message_id, token, confirmed = ask_and_hold(client, f["headers"], f["slug"], gateway)
    assert confirmed["status"] == "awaiting_answer"
    # given Stripe fails the capture
    gateway.fail_next("capture_payment_intent", error)
    # when the freelancer answers
    answer = client.post(
        f"/api/v1/messages/{message_id}/answer", json={"text": "Secret"}, headers=f["headers"]
    )
    # then the API says so, nothing is sent, the payment is still a hold
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "capture_failed"
    question = fresh(db_session, Question, message_id)
    assert question.status == "capture_failed"
    assert fresh(db_session, Payment, question.payment_id).status == "authorized"
    draft = db_session.scalar(select(Answer).where(Answer.question_id == message_id))
    assert draft.text == "Secret" and draft.sent_at is None
    assert "Secret" not in client.get(f"/m/{token}").get_data(as_text=True)
    public = client.get(f"/api/v1/public/messages/{message_id}?token={token}").get_json()
    assert public["answer"]["sent_at"] is None
    client_mails = db_session.scalars(
        select(OutboundEmail).where(OutboundEmail.to_addr == "lea@example.test")
    ).all()
    assert not any("Secret" in m.body_text for m in client_mails)
    assert db_session.scalar(
        select(OutboundEmail).where(
            OutboundEmail.to_addr == f["email"], OutboundEmail.body_text.contains(str(error))
        )
    )
    # when the freelancer retries and Stripe is back: captured once, answer sent
    retry = client.post(
        f"/api/v1/messages/{message_id}/answer", json={"text": "Secret"}, headers=f["headers"]
    )
    assert retry.status_code == 200, retry.get_json()
    question = fresh(db_session, Question, message_id)
    assert question.status == "answered"
    assert fresh(db_session, Payment, question.payment_id).amount_captured_minor == PRICE
    assert "Secret" in client.get(f"/m/{token}").get_data(as_text=True)
    assert gateway.payment_intents[question_payment_intent(db_session, message_id)].status == (
        "succeeded"
    )


def question_payment_intent(db_session, message_id):
    question = fresh(db_session, Question, message_id)
    return fresh(db_session, Payment, question.payment_id).stripe_payment_intent_id


def test_capture_failed_question_is_released_at_the_deadline(
    app, client, make_freelancer, gateway, db_session
):
    f = make_freelancer()
    message_id, _, _ = ask_and_hold(client, f["headers"], f["slug"], gateway)
    gateway.fail_next("capture_payment_intent", GatewayRejected("no", http_status=400))
    client.post(f"/api/v1/messages/{message_id}/answer", json={"text": "x"}, headers=f["headers"])
    deadline = fresh(db_session, Question, message_id).deadline_at
    result = app.test_cli_runner().invoke(
        args=["billing", "run-due", "--now", deadline.isoformat()]
    )
    assert f"question {message_id}: no answer in time, hold released" in result.output
    question = fresh(db_session, Question, message_id)
    assert question.status == "expired"
    assert fresh(db_session, Payment, question.payment_id).status == "canceled"


def test_declined_card_offers_a_new_card_on_the_same_question(
    client, make_freelancer, gateway, db_session
):
    f = make_freelancer()
    message_id, token, confirmed = ask_and_hold(
        client, f["headers"], f["slug"], gateway, card="pm_card_chargeCustomerFail"
    )
    assert confirmed["status"] == "failed"
    assert confirmed["setup_intent_client_secret"]
    assert fresh(db_session, Question, message_id).status == "pending_payment"
    # the client saves a good card and confirms again: held
    gateway.confirm_setup_intent(
        confirmed["setup_intent_client_secret"].split("_secret_")[0], "pm_card_visa"
    )
    again = client.post(f"/api/v1/public/messages/{message_id}/confirm", json={"token": token})
    assert again.get_json()["status"] == "awaiting_answer"


def test_three_d_secure_asks_the_browser_then_confirm_reconciles(
    client, make_freelancer, gateway, db_session
):
    f = make_freelancer()
    message_id, token, confirmed = ask_and_hold(
        client, f["headers"], f["slug"], gateway, card="pm_card_threeDSecure2Required"
    )
    assert confirmed["status"] == "requires_action"
    assert confirmed["payment_intent_client_secret"]
    # the browser completes the challenge (confirmCardPayment), then confirms again
    gateway.complete_authentication(question_payment_intent(db_session, message_id), True)
    again = client.post(f"/api/v1/public/messages/{message_id}/confirm", json={"token": token})
    assert again.get_json()["status"] == "awaiting_answer"


# --- PostgreSQL: two workers answering at once ----------------------------------


@pytest.mark.postgres
def test_two_workers_answering_at_once_capture_once(pg_database_url, tmp_path: Path):
    gateway = InMemoryGateway()
    app = create_app(
        {**base_config(pg_database_url, tmp_path), "GATEWAY_FACTORY": lambda creds: gateway}
    )
    from webapp.extensions import db, limiter

    limiter.reset()
    client = app.test_client()
    client.post(
        "/api/v1/signup",
        json={
            "email": "r@example.test",
            "password": "correct horse battery",
            "display_name": "R",
            "slug": "racer",
        },
    )
    token = client.post(
        "/api/v1/tokens", json={"email": "r@example.test", "password": "correct horse battery"}
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    message_id, _, confirmed = ask_and_hold(client, headers, "racer", gateway)
    assert confirmed["status"] == "awaiting_answer"
    # Stripe is slow to answer the capture: the second worker arrives meanwhile.
    real_capture = gateway.capture_payment_intent
    entered = threading.Event()

    def slow_capture(*args, **kwargs):
        entered.set()
        threading.Event().wait(0.5)
        return real_capture(*args, **kwargs)

    gateway.capture_payment_intent = slow_capture
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def answer():
        barrier.wait()
        response = app.test_client().post(
            f"/api/v1/messages/{message_id}/answer", json={"text": "Once"}, headers=headers
        )
        statuses.append(response.status_code)

    workers = [threading.Thread(target=answer) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert entered.is_set()
    assert sorted(statuses) == [200, 409]
    captures = [call for call in gateway.calls if call[0] == "capture_payment_intent"]
    assert len(captures) == 1
    with app.app_context():
        question = db.session.get(Question, message_id)
        assert question.status == "answered"
        assert db.session.get(Payment, question.payment_id).amount_captured_minor == PRICE
        db.session.remove()
    db.engine.dispose()
