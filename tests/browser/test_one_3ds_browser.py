"""One 3-D Secure per client-present payment, in real Chromium against localstripe.

The card 4000002500003155 asks 3-D Secure for every payment. Where money moves
at once (a deposit booking, a quote's deposit), the page makes the card a
PaymentMethod and the server charges it with `setup_future_usage` — so the
bank's dialog appears exactly once, and the card is kept for the charges made
later without the client. The dialogs are counted as localstripe's Stripe.js
adds them to the page; the browser's calls to Stripe are counted too.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from billing.models import CardSetup, Payment, PaymentCustomer
from tests.browser.conftest import LiveServer
from tests.browser.test_booking_browser import choose_a_time, fill_details_and_card
from tests.browser.test_booking_card_browser import booking_row, seller
from tests.browser.test_quote_browser import _fill_card
from tests.integration.test_quotes import PROFILE, quote_body
from tests.support.card_given import THREE_D_SECURE, payment_method
from webapp.extensions import db

pytestmark = [pytest.mark.browser, pytest.mark.stripe]

# Reports each 3-D Secure dialog localstripe's Stripe.js appends (its two buttons) to
# Python, so that the count survives the page's reload after paying.
COUNT_DIALOGS = """
new MutationObserver((changes) => {
  for (const change of changes) {
    for (const node of change.addedNodes) {
      if (node.nodeType === 1 && /Complete authentication/.test(node.textContent || "")) {
        window.acompteDialogShown();
      }
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


class StripeCalls:
    """The 3-D Secure dialogs shown, and the browser's own requests to Stripe, by kind."""

    def __init__(self, page: Any, stripe_base: str) -> None:
        self.paths: list[str] = []
        self.dialogs = 0
        page.expose_function("acompteDialogShown", self._dialog)
        page.add_init_script(COUNT_DIALOGS)
        page.on(
            "request",
            lambda request: (
                self.paths.append(request.url.split("?")[0])
                if request.method == "POST" and request.url.startswith(stripe_base)
                else None
            ),
        )

    def _dialog(self) -> None:
        self.dialogs += 1

    def count(self, pattern: str) -> int:
        return sum(1 for path in self.paths if re.search(pattern, path))


def watch(page: Any, live_server: LiveServer) -> StripeCalls:
    return StripeCalls(page, live_server.app.config["STRIPE_API_BASE"])


def complete_the_one_dialog(page: Any) -> None:
    page.get_by_role("button", name="Complete authentication").click()


def test_a_deposit_booking_asks_three_d_secure_once_and_keeps_the_card(page, live_server, artifact):
    # given a 30 % deposit offering and its booking page, a time picked, the 3155 card typed
    who = seller(live_server, "one3ds", payment_policy="deposit", deposit_percent=30, location="")
    calls = watch(page, live_server)
    choose_a_time(page, live_server, {"slug": who["slug"]})
    fill_details_and_card(page, THREE_D_SECURE)

    # when the client books and completes the bank's dialog
    page.locator("#pay-button").click()
    complete_the_one_dialog(page)

    # then the booking is confirmed after exactly one dialog
    page.wait_for_url(re.compile(r"/b/\d+/confirmed\?token="))
    page.get_by_role("heading", name="Your booking is confirmed").wait_for()
    artifact("one-3ds-booking-confirmed", page)
    assert calls.dialogs == 1
    assert calls.count(r"/v1/payment_methods$") == 1
    assert calls.count(r"/v1/setup_intents/[^/]+/confirm$") == 0
    assert calls.count(r"/v1/payment_intents/[^/]+/_authenticate$") == 1
    booking_id = int(re.search(r"/b/(\d+)/", page.url).group(1))
    row = booking_row(live_server, booking_id)
    assert (row.status, row.payment_state) == ("confirmed", "captured")

    # and the card is the client's at Stripe, kept for the balance charged off session
    with live_server.app.app_context():
        [deposit] = db.session.scalars(
            select(Payment).where(Payment.subject_id == str(booking_id))
        ).all()
        assert (deposit.purpose, deposit.status, deposit.amount_captured_minor) == (
            "deposit",
            "succeeded",
            2_700,
        )
        assert deposit.setup_future_usage == "off_session"
        assert deposit.payment_method_id == row.payment_method_id
        setup = db.session.get(CardSetup, row.card_setup_id)
        assert (setup.status, setup.stripe_setup_intent_id) == ("succeeded", None)
        customer = db.session.get(PaymentCustomer, row.customer_id)
        stripe_customer = customer.stripe_customer_id
    stripe_base = live_server.app.config["STRIPE_API_BASE"]
    assert payment_method(stripe_base, row.payment_method_id)["customer"] == stripe_customer
    assert page.errors == []


def test_a_quote_deposit_asks_three_d_secure_once_and_keeps_the_card(page, live_server, artifact):
    # given a sent quote with a 30 % deposit and two milestones charged later
    client = live_server.client
    body = {
        "email": "one3ds-quote@example.test",
        "password": "correct horse battery",
        "display_name": "Marie",
        "slug": "marie-one-3ds",
    }
    assert client.post("/api/v1/signup", json=body).status_code == 201
    token = client.post(
        "/api/v1/tokens", json={"email": body["email"], "password": body["password"]}
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    client.patch("/api/v1/me", headers=headers, json=PROFILE)
    quote = client.post("/api/v1/quotes", headers=headers, json=quote_body()).get_json()
    assert client.post(f"/api/v1/quotes/{quote['id']}/send", headers=headers).status_code == 200
    calls = watch(page, live_server)

    # when the client signs, types the 3155 card and completes the bank's dialog
    page.goto(f"{live_server.url}/q/{quote['public_token']}?lang=en")
    page.locator("#signer_name").fill("Claire Client")
    page.locator("#accept_terms").check()
    _fill_card(page, THREE_D_SECURE)
    page.locator("#accept-button").click()
    complete_the_one_dialog(page)

    # then the quote is accepted and its deposit paid, after exactly one dialog
    page.wait_for_selector("#acceptance", timeout=20_000)
    assert page.locator("#quote-status").inner_text() == "accepted"
    artifact("one-3ds-quote-accepted", page)
    assert calls.dialogs == 1
    assert calls.count(r"/v1/payment_methods$") == 1
    assert calls.count(r"/v1/setup_intents/[^/]+/confirm$") == 0
    assert calls.count(r"/v1/payment_intents/[^/]+/_authenticate$") == 1
    with live_server.app.app_context():
        [deposit] = db.session.scalars(select(Payment)).all()
        assert (deposit.status, deposit.amount_captured_minor, deposit.off_session) == (
            "succeeded",
            30_000,
            False,
        )
        assert deposit.setup_future_usage == "off_session"
        customer = db.session.get(PaymentCustomer, deposit.customer_id)
        stripe_customer = customer.stripe_customer_id
    stripe_base = live_server.app.config["STRIPE_API_BASE"]
    assert payment_method(stripe_base, deposit.payment_method_id)["customer"] == stripe_customer
    assert page.errors == []
