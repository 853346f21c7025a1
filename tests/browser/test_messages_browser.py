"""A paid question in real Chromium: the client asks and saves the test card (the
amount is held), the freelancer answers through the API (captured), and the
client's private page shows the answer and the receipt."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.stripe]


@pytest.fixture
def live_server_config(live_server_config: dict[str, Any], tmp_path) -> dict[str, Any]:
    return {**live_server_config, "UPLOAD_FOLDER": str(tmp_path / "uploads")}


def freelancer(server: LiveServer) -> dict[str, str]:
    client = server.client
    body = {
        "email": "nina@example.test",
        "password": "correct horse battery",
        "display_name": "Nina Conseil",
        "slug": "nina",
    }
    assert client.post("/api/v1/signup", json=body).status_code == 201
    token = client.post(
        "/api/v1/tokens", json={"email": body["email"], "password": body["password"]}
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    settings = client.put(
        "/api/v1/messages/settings",
        json={"enabled": True, "price_minor": 45_00, "currency": "eur", "answer_delay_hours": 48},
        headers=headers,
    )
    assert settings.status_code == 200
    return headers


def test_ask_a_paid_question_then_read_the_answer_and_receipt(
    live_server: LiveServer, page: Any, artifact: Any, tmp_path
) -> None:
    headers = freelancer(live_server)
    notes = tmp_path / "notes.txt"
    notes.write_text("Context: my invoices are late.\n")

    # given the ask page states the price and the delay
    page.goto(f"{live_server.url}/nina/ask?lang=en")
    assert "€45.00" in page.content() and "48 hours" in page.content()
    # when the client writes the question, joins a file and saves the test card
    page.fill("#f-text", "How should I word a <b>late-payment</b> reminder?")
    page.set_input_files("#f-file", str(notes))
    page.fill("#f-name", "Hugo Petit")
    page.fill("#f-email", "hugo@example.test")
    page.fill("#card-element input[placeholder=number]", "4242424242424242")
    page.fill("#card-element input[placeholder=exp_month]", "12")
    page.fill("#card-element input[placeholder=exp_year]", "34")
    page.fill("#card-element input[placeholder=cvc]", "123")
    page.fill("#card-element input[placeholder=postal_code]", "75001")
    artifact("messages-ask-filled", page)
    page.click("#ask-submit")
    # then they land on their private thread, waiting for the answer
    page.wait_for_url(re.compile(r"/m/msg_"), timeout=20_000)
    assert "Waiting for the answer" in page.content()
    assert "notes.txt" in page.content()
    assert page.errors == []

    # when the freelancer answers through the API
    inbox = live_server.client.get("/api/v1/messages", headers=headers).get_json()["messages"]
    assert len(inbox) == 1 and inbox[0]["status"] == "awaiting_answer"
    answered = live_server.client.post(
        f"/api/v1/messages/{inbox[0]['id']}/answer",
        json={"text": "Start friendly: <i>a reminder that…</i>"},
        headers=headers,
    )
    assert answered.status_code == 200, answered.get_json()

    # then the client's page shows the answer (escaped) and the receipt
    page.reload()
    answer = page.locator(".answer-text")
    assert answer.inner_text() == "Start friendly: <i>a reminder that…</i>"
    receipt = page.locator(".receipt").inner_text()
    # the amount as the page's language writes it (babel), not "45.00 EUR"
    assert "€45.00" in receipt and "4242" in receipt
    assert "<b>late-payment</b>" in page.locator(".question-text").first.inner_text()
    artifact("messages-answer-and-receipt", page)
    assert page.errors == []
