"""booking.js and checkout.js against the contract's shapes, in real Chromium.

The booking feature's API is answered here (server-side reads through
`webapp.public.reads`, browser calls through Playwright routes), while
the card is real: localstripe's Stripe.js saves it with a real SetupIntent and
its 3-D Secure dialog authenticates a real PaymentIntent. So these tests pin the
client side of the contract, independently of the server side.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from billing.money import Money
from tests.browser.conftest import LiveServer
from tests.support.public_reads import ApiAnswer, patch_reads

pytestmark = [pytest.mark.browser, pytest.mark.stripe]

PARIS = ZoneInfo("Europe/Paris")
TOKEN = "bk_contract-token"
THREE_D_SECURE = "4000002500003155"
_keys = count(1)

OFFERING = {
    "id": 7,
    "title": "Coaching call",
    "description": "One hour to unblock your project.",
    "duration_minutes": 60,
    "amount_minor": 9000,
    "currency": "eur",
    "payment_policy": "hold",
    "deposit_percent": 0,
    "free_cancel_hours": 24,
    "late_cancel_fee_percent": 50,
    "no_show_fee_percent": 100,
}


def slot(day: int, hour: int) -> dict[str, str]:
    start = datetime.now(PARIS).replace(hour=hour, minute=0, second=0, microsecond=0)
    start += timedelta(days=day)
    return {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}


class FakeBookingApi:
    """The public booking API as the contract describes it, with real Stripe objects."""

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway
        self.slots = [slot(2, 10), slot(2, 11), slot(3, 9)]
        self.taken: set[str] = set()
        self.setup_intent_id = ""
        self.payment_intent_id = ""
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.booking: dict[str, Any] | None = None

    def read(self, path: str, params: dict[str, str] | None = None) -> ApiAnswer:
        """Stands in for the server-side reads of the pages."""
        if path == "/api/v1/public/freelancers/camille":
            return ApiAnswer(
                200,
                {
                    "display_name": "Camille Martin",
                    "slug": "camille",
                    "timezone": "Europe/Paris",
                    "publishable_key": "pk_test_browser",
                    "offerings": [OFFERING],
                },
            )
        if path == "/api/v1/public/bookings/41" and (params or {}).get("manage_token") == TOKEN:
            return ApiAnswer(200, self.booking)
        return ApiAnswer(404, {"error": {"code": "not_found", "message": "Not found."}})

    def handle(self, route: Any) -> None:
        """Answers the browser's calls to /api/v1/public/…"""
        request = route.request
        path = request.url.split("/api/v1/public", 1)[1]
        body = json.loads(request.post_data) if request.post_data else {}
        self.requests.append((request.method, path, body))
        status, answer = self.answer(request.method, path.split("?")[0], body)
        route.fulfill(status=status, json=answer)

    def answer(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        key = f"contract-{next(_keys)}-{datetime.now().timestamp()}"
        if method == "GET" and path.endswith("/slots"):
            return 200, {"slots": [s for s in self.slots if s["start"] not in self.taken]}
        if method == "POST" and path == "/freelancers/camille/bookings":
            if body["start"] in self.taken:
                return 409, {"error": {"code": "slot_taken", "message": "Taken.", "fields": {}}}
            customer = self.gateway.create_customer(
                email=body["client"]["email"], name=body["client"]["name"], idempotency_key=key
            )
            setup = self.gateway.create_setup_intent(customer_id=customer, idempotency_key=key)
            self.setup_intent_id = setup.id
            self.booking = {
                "id": 41,
                "status": "pending_payment",
                "offering": {"id": 7, "title": "Coaching call", "currency": "eur"},
                "freelancer": {"display_name": "Camille Martin", "slug": "camille"},
                "start": body["start"],
                "end": body["start"],
                "amount_minor": 9000,
                "currency": "eur",
                **{k: OFFERING[k] for k in ("payment_policy", "free_cancel_hours")},
                "payment_state": "none",
            }
            return 201, {
                "booking_id": 41,
                "status": "pending_payment",
                "manage_token": TOKEN,
                "setup_intent_client_secret": setup.client_secret,
            }
        if method == "POST" and path == "/bookings/41/confirm":
            assert body == {"manage_token": TOKEN}
            return self.confirm(key)
        return 404, {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}

    def confirm(self, key: str) -> tuple[int, Any]:
        if not self.payment_intent_id:
            setup = self.gateway.retrieve_setup_intent(self.setup_intent_id)
            try:
                intent = self.gateway.create_payment_intent(
                    amount=Money(9000, "eur"),
                    customer_id=setup.customer_id,
                    payment_method_id=setup.payment_method_id,
                    capture_method="manual",
                    off_session=False,
                    idempotency_key=key,
                )
            except Exception as exc:  # the adapter's decline error
                return 402, {"error": {"code": "card_declined", "message": str(exc)}}
            self.payment_intent_id = intent.id
        intent = self.gateway.retrieve_payment_intent(self.payment_intent_id)
        if intent.status == "requires_action":
            return 200, {
                "status": "requires_action",
                "payment_intent_client_secret": intent.client_secret,
            }
        if intent.status == "requires_capture":
            self.booking.update(status="confirmed", payment_state="secured")
            return 200, {"status": "confirmed"}
        return 402, {"error": {"code": "card_declined", "message": intent.status}}


@pytest.fixture
def fake_api(page, live_server: LiveServer, stripe_gateway, monkeypatch) -> FakeBookingApi:
    api = FakeBookingApi(stripe_gateway)
    patch_reads(monkeypatch, api.read)
    page.route(re.compile(r".*/api/v1/public/.*"), api.handle)
    return api


def fill(page: Any, number: str) -> None:
    page.get_by_label("Your name").fill("Alex Client")
    page.get_by_label("Your e-mail").fill("alex@example.test")
    card = page.locator("#card-element")
    for name, value in [
        ("number", number),
        ("exp_month", "12"),
        ("exp_year", "34"),
        ("cvc", "123"),
        ("postal_code", "75011"),
    ]:
        card.locator(f'input[placeholder="{name}"]').fill(value)


def test_the_3d_secure_flow_follows_the_contract(page, live_server, fake_api, artifact):
    # given the page, with the only offering opened and a time picked
    page.goto(f"{live_server.url}/camille?lang=en")
    page.locator("#days button.day").first.click()
    page.locator("#times button.slot").first.click()
    assert page.locator("#summary-price").inner_text() == "€90.00"
    fill(page, THREE_D_SECURE)
    artifact("contract-booking-page", page)

    # when booking: 3-D Secure for saving the card, then again for the hold
    page.get_by_role("button", name="Book and pay").click()
    page.get_by_role("button", name="Complete authentication").click()
    page.get_by_role("button", name="Complete authentication").click()

    # then the confirmation page, after exactly the contract's calls
    page.wait_for_url(re.compile(rf"/b/41/confirmed\?token={TOKEN}$"))
    page.get_by_role("heading", name="Your booking is confirmed").wait_for()
    calls = [(m, p.split("?")[0]) for m, p, _ in fake_api.requests]
    assert calls[-3:] == [
        ("POST", "/freelancers/camille/bookings"),
        ("POST", "/bookings/41/confirm"),
        ("POST", "/bookings/41/confirm"),
    ]
    created = fake_api.requests[-3][2]
    assert created["offering_id"] == 7
    assert created["start"] == fake_api.slots[0]["start"]
    assert created["client"] == {
        "name": "Alex Client",
        "email": "alex@example.test",
        "timezone": "Europe/Paris",
    }
    assert page.errors == []


def test_a_failed_authentication_says_so_and_a_retry_works(page, live_server, fake_api):
    page.goto(f"{live_server.url}/camille?lang=en")
    page.locator("#times button.slot").first.click()
    fill(page, THREE_D_SECURE)
    page.get_by_role("button", name="Book and pay").click()
    page.get_by_role("button", name="Fail authentication").click()
    error = page.locator("#pay-error")
    error.wait_for(state="visible")
    assert "authentication with your bank failed" in error.inner_text()
    # the same booking and SetupIntent are reused on the next attempt
    page.get_by_role("button", name="Book and pay").click()
    page.get_by_role("button", name="Complete authentication").click()
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(re.compile(r"/b/41/confirmed"))
    posts = [p for m, p, _ in fake_api.requests if m == "POST" and p.endswith("/bookings")]
    assert len(posts) == 1


def test_a_taken_slot_is_explained_and_the_times_refresh(page, live_server, fake_api):
    page.goto(f"{live_server.url}/camille?lang=en")
    page.locator("#times button.slot").first.click()
    fill(page, "4242424242424242")
    fake_api.taken.add(fake_api.slots[0]["start"])
    page.get_by_role("button", name="Book and pay").click()
    page.locator("#slots-status").get_by_text("just taken").wait_for()
    assert page.locator(f'#times button[data-start="{fake_api.slots[0]["start"]}"]').count() == 0
    assert page.locator("#step-pay").is_hidden()


def test_the_time_zone_can_be_changed(page, live_server, fake_api):
    page.goto(f"{live_server.url}/camille?lang=en")
    first = page.locator("#times button.slot").first
    assert first.inner_text() == "10:00"
    zone = page.get_by_label("Times shown in")  # a searchable list of zones (issue 15)
    zone.fill("America/New_York")
    zone.dispatch_event("change")
    # (a locator assertion: a string predicate is eval'd, which the page's CSP refuses)
    expect(page.locator("#times button.slot").first).not_to_have_text("10:00")
    assert fake_api.requests[-1][1].endswith("tz=America%2FNew_York")
    assert page.locator("#times button.slot").first.inner_text() in ("04:00", "05:00")  # EDT or EST
