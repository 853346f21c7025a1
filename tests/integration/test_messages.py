"""Paid messages against the real localstripe server: hold on ask, capture on answer,
release on expiry or decline, attachments, escaping, follow-up."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import requests
import stripe
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from billing.models import Event, Payment
from tests.plugins.fake_stripe import TEST_SECRET_KEY
from webapp.mail.models import OutboundEmail
from webapp.messages.models import Question

pytestmark = pytest.mark.stripe

PRICE = 25_00


@pytest.fixture
def app_config(app_config, localstripe_url, tmp_path):
    return {
        **app_config,
        "STRIPE_API_BASE": localstripe_url,
        "STRIPE_SECRET_KEY": TEST_SECRET_KEY,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
    }


def confirm_card_setup(localstripe_url, client_secret, card="pm_card_visa"):
    """What Stripe.js `confirmCardSetup` does in the client's browser."""
    setup_intent_id = client_secret.split("_secret_")[0]
    with requests.Session() as session:
        browser = stripe.StripeClient(
            "sk_test_x",
            base_addresses={"api": localstripe_url},
            http_client=stripe.RequestsClient(session=session),
        )
        return browser.v1.setup_intents.confirm(
            setup_intent_id, params={"payment_method": card}
        ).status


@pytest.fixture
def freelancer(client, make_freelancer):
    """A freelancer who takes paid questions at 25.00 EUR, 72 h, free follow-up."""
    f = make_freelancer()
    answer = client.put(
        "/api/v1/messages/settings",
        json={
            "enabled": True,
            "price_minor": PRICE,
            "currency": "eur",
            "answer_delay_hours": 72,
            "free_follow_up": True,
        },
        headers=f["headers"],
    )
    assert answer.status_code == 200, answer.get_json()
    return f


@pytest.fixture
def held(client, freelancer, localstripe_url):
    """A question whose 25.00 hold is placed: returns (freelancer, message id, token)."""
    asked = client.post(
        f"/api/v1/public/freelancers/{freelancer['slug']}/messages",
        json={"name": "Claire", "email": "claire@example.test", "text": "How do I invoice?"},
    )
    assert asked.status_code == 201, asked.get_json()
    body = asked.get_json()
    assert confirm_card_setup(localstripe_url, body["setup_intent_client_secret"]) == "succeeded"
    confirmed = client.post(
        f"/api/v1/public/messages/{body['message_id']}/confirm", json={"token": body["token"]}
    )
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["status"] == "awaiting_answer"
    return freelancer, body["message_id"], body["token"]


def payment_of(db_session, message_id):
    # Ends the session's snapshot (SQLite WAL), so what the app committed is seen.
    db_session.rollback()
    question = db_session.get(Question, message_id)
    return question, db_session.get(Payment, question.payment_id)


def test_ask_places_a_hold_for_the_price(held, db_session, stripe_gateway):
    _, message_id, _ = held
    question, payment = payment_of(db_session, message_id)
    # then Stripe holds exactly the price, not captured
    intent = stripe_gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    assert intent.status == "requires_capture"
    assert intent.amount.amount_minor == PRICE
    assert payment.capture_method == "manual" and payment.off_session is False
    assert question.status == "awaiting_answer"
    # the deadline is the promised delay after the authorisation, inside the hold
    assert question.deadline_at == payment.authorized_at + timedelta(hours=72)
    assert question.deadline_at < payment.hold_expires_at


def test_confirm_twice_places_one_hold(client, held, db_session):
    _, message_id, token = held
    again = client.post(f"/api/v1/public/messages/{message_id}/confirm", json={"token": token})
    assert again.get_json()["status"] == "awaiting_answer"
    payments = db_session.scalars(
        select(Payment).where(
            Payment.subject_type == "message", Payment.subject_id == str(message_id)
        )
    ).all()
    assert len(payments) == 1


def test_confirm_before_the_card_is_saved_is_refused(client, freelancer):
    asked = client.post(
        f"/api/v1/public/freelancers/{freelancer['slug']}/messages",
        json={"name": "C", "email": "c@example.test", "text": "Q?"},
    ).get_json()
    answer = client.post(
        f"/api/v1/public/messages/{asked['message_id']}/confirm", json={"token": asked["token"]}
    )
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "not_allowed"


def test_answer_captures_once_even_if_submitted_twice(client, held, db_session, stripe_gateway):
    freelancer, message_id, token = held
    url = f"/api/v1/messages/{message_id}/answer"
    first = client.post(url, json={"text": "Like this."}, headers=freelancer["headers"])
    second = client.post(url, json={"text": "Like this."}, headers=freelancer["headers"])
    assert first.status_code == 200, first.get_json()
    assert second.status_code == 409
    assert second.get_json()["error"]["code"] == "already_done"
    question, payment = payment_of(db_session, message_id)
    assert payment.status == "succeeded" and payment.amount_captured_minor == PRICE
    intent = stripe_gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    assert intent.status == "succeeded"
    captured_events = [
        e
        for e in db_session.scalars(select(Event))
        if e.subject_type == "payment" and e.action == "payment_succeeded"
    ]
    assert len(captured_events) == 1
    # the client sees the answer and the receipt on their link, and got it by e-mail
    page = client.get(f"/m/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # the amount as a French page writes it (babel), not "25.00 EUR"
    assert "Like this." in html and "25,00\u00a0€" in html and "4242" in html
    mails = db_session.scalars(
        select(OutboundEmail).where(OutboundEmail.to_addr == "claire@example.test")
    ).all()
    assert any("Like this." in m.body_text for m in mails)
    public = client.get(f"/api/v1/public/messages/{message_id}?token={token}").get_json()
    assert public["receipt"]["amount_minor"] == PRICE
    assert public["answer"]["text"] == "Like this."


def test_expiry_releases_the_hold_at_the_deadline_not_a_second_before(
    app, held, db_session, stripe_gateway
):
    _, message_id, _ = held
    question, payment = payment_of(db_session, message_id)
    runner = app.test_cli_runner()
    before = (question.deadline_at - timedelta(seconds=1)).isoformat()
    # one second before the deadline: nothing happens
    result = runner.invoke(args=["billing", "run-due", "--now", before])
    assert result.exit_code == 0, result.output
    assert payment_of(db_session, message_id)[0].status == "awaiting_answer"
    # at the deadline: released, and a second run does nothing more
    result = runner.invoke(args=["billing", "run-due", "--now", question.deadline_at.isoformat()])
    assert f"question {message_id}: no answer in time, hold released" in result.output
    again = runner.invoke(args=["billing", "run-due", "--now", question.deadline_at.isoformat()])
    assert f"question {message_id}" not in again.output
    question, payment = payment_of(db_session, message_id)
    assert question.status == "expired" and payment.status == "canceled"
    assert stripe_gateway.retrieve_payment_intent(payment.stripe_payment_intent_id).status == (
        "canceled"
    )
    # the client got the confirmation, then the release notice
    mails = db_session.scalars(
        select(OutboundEmail).where(OutboundEmail.to_addr == "claire@example.test")
    ).all()
    assert len(mails) == 2


def test_answer_after_the_deadline_is_refused(app, client, held, db_session, monkeypatch):
    freelancer, message_id, _ = held
    question, _ = payment_of(db_session, message_id)
    import webapp.messages.api as api

    monkeypatch.setattr(api, "utcnow", lambda: question.deadline_at)
    late = client.post(
        f"/api/v1/messages/{message_id}/answer",
        json={"text": "late"},
        headers=freelancer["headers"],
    )
    assert late.status_code == 409
    assert late.get_json()["error"]["code"] == "deadline_passed"
    assert payment_of(db_session, message_id)[1].status == "authorized"


def test_decline_releases_and_tells_the_client(client, held, db_session, stripe_gateway):
    freelancer, message_id, token = held
    answer = client.post(
        f"/api/v1/messages/{message_id}/decline",
        json={"reason": "Out of my field"},
        headers=freelancer["headers"],
    )
    assert answer.status_code == 200, answer.get_json()
    question, payment = payment_of(db_session, message_id)
    assert question.status == "declined" and payment.status == "canceled"
    assert stripe_gateway.retrieve_payment_intent(payment.stripe_payment_intent_id).status == (
        "canceled"
    )
    assert "Out of my field" in client.get(f"/m/{token}").get_data(as_text=True)
    twice = client.post(
        f"/api/v1/messages/{message_id}/decline",
        json={"reason": "x"},
        headers=freelancer["headers"],
    )
    assert twice.status_code == 409


def test_another_freelancer_cannot_see_answer_or_decline(client, held, make_freelancer):
    _, message_id, _ = held
    other = make_freelancer()
    for method, path, body in [
        ("get", f"/api/v1/messages/{message_id}", None),
        ("post", f"/api/v1/messages/{message_id}/answer", {"text": "x"}),
        ("post", f"/api/v1/messages/{message_id}/decline", {"reason": "x"}),
    ]:
        answer = getattr(client, method)(path, json=body, headers=other["headers"])
        assert answer.status_code == 404, path
    assert client.get("/api/v1/messages", headers=other["headers"]).get_json() == {"messages": []}


def test_wrong_token_sees_nothing(client, held):
    _, message_id, token = held
    assert client.get(f"/api/v1/public/messages/{message_id}?token=wrong").status_code == 404
    assert client.get("/m/msg_wrong").status_code == 404
    assert (
        client.post(
            f"/api/v1/public/messages/{message_id}/confirm", json={"token": token + "x"}
        ).status_code
        == 404
    )


def test_inbox_shows_time_left(client, held):
    freelancer, message_id, _ = held
    inbox = client.get("/api/v1/messages", headers=freelancer["headers"]).get_json()["messages"]
    assert [m["id"] for m in inbox] == [message_id]
    assert 72 * 3600 - 60 < inbox[0]["seconds_left"] <= 72 * 3600


def test_one_free_follow_up_then_a_new_question(client, held, db_session):
    freelancer, message_id, token = held
    client.post(
        f"/api/v1/messages/{message_id}/answer", json={"text": "A"}, headers=freelancer["headers"]
    )
    url = f"/api/v1/public/messages/{message_id}/follow-up"
    follow = client.post(url, json={"token": token, "text": "And then?"})
    assert follow.status_code == 201, follow.get_json()
    assert follow.get_json()["amount_minor"] == 0
    assert follow.get_json()["status"] == "awaiting_answer"
    second = client.post(url, json={"token": token, "text": "And again?"})
    assert second.status_code == 409
    # the freelancer answers the follow-up: nothing captured, nothing charged
    follow_id = follow.get_json()["id"]
    answered = client.post(
        f"/api/v1/messages/{follow_id}/answer", json={"text": "B"}, headers=freelancer["headers"]
    )
    assert answered.status_code == 200
    assert "B" in client.get(f"/m/{token}").get_data(as_text=True)


def test_follow_up_refused_when_the_freelancer_does_not_offer_it(client, held):
    freelancer, message_id, token = held
    client.put(
        "/api/v1/messages/settings",
        json={"enabled": True, "price_minor": PRICE, "currency": "eur", "free_follow_up": False},
        headers=freelancer["headers"],
    )
    client.post(
        f"/api/v1/messages/{message_id}/answer", json={"text": "A"}, headers=freelancer["headers"]
    )
    follow = client.post(
        f"/api/v1/public/messages/{message_id}/follow-up",
        json={"token": token, "text": "?"},
        headers={"Accept-Language": "en"},
    )
    assert follow.status_code == 409
    assert "new question" in follow.get_json()["error"]["message"]


def test_user_text_is_escaped_everywhere(client, freelancer, localstripe_url, db_session):
    evil = "<script>alert(1)</script>"
    asked = client.post(
        f"/api/v1/public/freelancers/{freelancer['slug']}/messages",
        json={"name": evil, "email": "e@example.test", "text": evil},
    ).get_json()
    confirm_card_setup(localstripe_url, asked["setup_intent_client_secret"])
    client.post(
        f"/api/v1/public/messages/{asked['message_id']}/confirm", json={"token": asked["token"]}
    )
    client.post(
        f"/api/v1/messages/{asked['message_id']}/answer",
        json={"text": evil},
        headers=freelancer["headers"],
    )
    html = client.get(f"/m/{asked['token']}").get_data(as_text=True)
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for mail in db_session.scalars(select(OutboundEmail)):
        assert evil not in mail.body_html


def test_unknown_or_disabled_freelancer_has_no_ask(client, make_freelancer):
    f = make_freelancer()
    assert client.get(f"/{f['slug']}/ask").status_code == 404
    asked = client.post(
        f"/api/v1/public/freelancers/{f['slug']}/messages",
        json={"name": "C", "email": "c@example.test", "text": "?"},
    )
    assert asked.status_code == 404


def test_ask_page_states_price_and_delay(client, freelancer):
    page = client.get(f"/{freelancer['slug']}/ask?lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "€25.00" in html and "72 hours" in html


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "", "email": "c@example.test", "text": "?"}, "name"),
        ({"name": "C", "email": "not-an-email", "text": "?"}, "email"),
        ({"name": "C", "email": "c@example.test", "text": ""}, "text"),
        ({"name": "C", "email": "c@example.test", "text": "?", "extra": 1}, "extra"),
    ],
)
def test_bad_ask_is_422_and_changes_nothing(client, freelancer, db_session, body, field):
    answer = client.post(f"/api/v1/public/freelancers/{freelancer['slug']}/messages", json=body)
    assert answer.status_code == 422
    assert field in answer.get_json()["error"]["fields"]
    assert db_session.scalar(select(Question.id)) is None


# --- attachments ---------------------------------------------------------------


def upload(client, message_id, token, data, filename):
    # Encoded in memory: the test client would spool a large body to an unclosed temp file.
    boundary, body = encode_multipart(
        {"token": token, "file": FileStorage(io.BytesIO(data), filename=filename)}
    )
    return client.post(
        f"/api/v1/public/messages/{message_id}/attachments",
        data=body,
        headers={"Accept-Language": "en"},
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_attachment_is_stored_and_served_only_to_the_two_parties(
    client, held, make_freelancer, tmp_path
):
    freelancer, message_id, token = held
    pdf = b"%PDF-1.4\n% a tiny test document\n"
    stored = upload(client, message_id, token, pdf, "../../etc/contract.pdf")
    assert stored.status_code == 201, stored.get_json()
    file_id = stored.get_json()["id"]
    assert stored.get_json()["filename"] == "etc_contract.pdf"
    # stored under a random name, outside the static folder
    [on_disk] = list((tmp_path / "uploads" / "messages").iterdir())
    assert on_disk.read_bytes() == pdf and "contract" not in on_disk.name
    # the client, with the token
    mine = client.get(f"/api/v1/public/messages/{message_id}/attachments/{file_id}?token={token}")
    assert mine.status_code == 200 and mine.data == pdf
    assert mine.headers["X-Content-Type-Options"] == "nosniff"
    assert mine.headers["Content-Disposition"].startswith("attachment")
    assert client.get(f"/m/{token}/attachments/{file_id}").status_code == 200
    # the freelancer, with their bearer token
    theirs = client.get(
        f"/api/v1/messages/{message_id}/attachments/{file_id}", headers=freelancer["headers"]
    )
    assert theirs.status_code == 200 and theirs.data == pdf
    # nobody else
    other = make_freelancer()
    assert (
        client.get(
            f"/api/v1/messages/{message_id}/attachments/{file_id}", headers=other["headers"]
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/v1/public/messages/{message_id}/attachments/{file_id}?token=wrong"
        ).status_code
        == 404
    )
    assert client.get(f"/m/msg_wrong/attachments/{file_id}").status_code == 404


def test_exe_renamed_pdf_is_refused(client, held, tmp_path):
    _, message_id, token = held
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64
    refused = upload(client, message_id, token, exe, "invoice.pdf")
    assert refused.status_code == 415
    assert "PDF, PNG, JPEG" in refused.get_json()["error"]["message"]
    assert not (tmp_path / "uploads" / "messages").exists() or not list(
        (tmp_path / "uploads" / "messages").iterdir()
    )


def test_size_limit_boundary(client, held):
    _, message_id, token = held
    limit = 5 * 1024 * 1024
    # exactly 5 MB of text is accepted; one byte more is refused with 413
    assert upload(client, message_id, token, b"a" * limit, "notes.txt").status_code == 201
    too_big = upload(client, message_id, token, b"a" * (limit + 1), "notes.txt")
    assert too_big.status_code == 413
    assert "5 MB" in too_big.get_json()["error"]["message"]


# --- settings ------------------------------------------------------------------


@pytest.mark.parametrize("hours, status", [(156, 200), (157, 422), (0, 422), (1, 200)])
def test_answer_delay_must_stay_inside_the_hold_window(client, make_freelancer, hours, status):
    f = make_freelancer()
    answer = client.put(
        "/api/v1/messages/settings",
        json={
            "enabled": True,
            "price_minor": PRICE,
            "currency": "eur",
            "answer_delay_hours": hours,
        },
        headers=f["headers"],
    )
    assert answer.status_code == status, answer.get_json()
    if status == 422:
        assert "answer_delay_hours" in answer.get_json()["error"]["fields"]


@pytest.mark.parametrize("price, status", [(49, 422), (50, 200)])
def test_price_minimum_boundary(client, make_freelancer, price, status):
    f = make_freelancer()
    answer = client.put(
        "/api/v1/messages/settings",
        json={"enabled": True, "price_minor": price, "currency": "eur"},
        headers=f["headers"],
    )
    assert answer.status_code == status


def test_urgent_question_uses_the_urgent_price_and_delay(
    client, make_freelancer, localstripe_url, db_session
):
    f = make_freelancer()
    client.put(
        "/api/v1/messages/settings",
        json={
            "enabled": True,
            "price_minor": PRICE,
            "currency": "eur",
            "urgent_price_minor": 60_00,
            "urgent_delay_hours": 12,
        },
        headers=f["headers"],
    )
    asked = client.post(
        f"/api/v1/public/freelancers/{f['slug']}/messages",
        json={"name": "C", "email": "c@example.test", "text": "Now!", "urgent": True},
    ).get_json()
    confirm_card_setup(localstripe_url, asked["setup_intent_client_secret"])
    client.post(
        f"/api/v1/public/messages/{asked['message_id']}/confirm", json={"token": asked["token"]}
    )
    question, payment = payment_of(db_session, asked["message_id"])
    assert payment.amount_minor == 60_00
    assert question.deadline_at == payment.authorized_at + timedelta(hours=12)


def test_settings_page_takes_prices_as_people_type_them(client, freelancer):
    import re

    login = client.get("/login").get_data(as_text=True)
    login_token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    page = client.post(
        "/login",
        data={
            "email": freelancer["email"],
            "password": freelancer["password"],
            "csrf_token": login_token,
        },
    )
    assert page.status_code == 302
    form_page = client.get("/messages/settings").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form_page).group(1)
    form = {"csrf_token": token, "enabled": "on", "currency": "eur", "answer_delay_hours": "48"}
    bad = client.post("/messages/settings", data={**form, "price": "25,505"})
    assert bad.status_code == 422
    good = client.post("/messages/settings", data={**form, "price": "25,50"})
    assert good.status_code == 302
    settings = client.get("/api/v1/messages/settings", headers=freelancer["headers"]).get_json()
    assert settings["price_minor"] == 2550
    assert 'value="25.50"' in client.get("/messages/settings").get_data(as_text=True)
