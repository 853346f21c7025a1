"""A client books and pays on the public page, in real Chromium against localstripe.

Card numbers are Stripe's test cards, as localstripe implements them:
4000002500003155 needs 3-D Secure, 4000000000000002 is declined when saved,
4000000000000341 is saved fine and declined when charged.
"""

from __future__ import annotations

import re
import time
from itertools import count
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.stripe]

THREE_D_SECURE = "4000002500003155"
DECLINED_WHEN_SAVED = "4000000000000002"
DECLINED_WHEN_CHARGED = "4000000000000341"
_seq = count(1)


class RetryingClient:
    """The live server's test client, retrying a write that lost SQLite's snapshot race.

    localstripe delivers the previous tests' late events to this server's
    webhook while the setup writes; under WAL a deferred transaction that read
    before another writer committed fails at once with "database is locked"
    (SQLITE_BUSY_SNAPSHOT) instead of waiting. Setup only: the flows under test
    are never retried.
    """

    def __init__(self, live_server: LiveServer) -> None:
        self.client = live_server.client

    def __getattr__(self, method: str) -> Any:
        call = getattr(self.client, method)

        def retrying(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(5):
                try:
                    return call(*args, **kwargs)
                except OperationalError as exc:
                    if "database is locked" not in str(exc) or attempt == 4:
                        raise
                    time.sleep(0.2)
            raise AssertionError("unreachable")

        return retrying


@pytest.fixture
def offering(live_server: LiveServer) -> dict[str, Any]:
    """A freelancer open every day 08:00–20:00 (Paris) with one 1-hour `hold` offering."""
    client = RetryingClient(live_server)
    n = next(_seq)
    body = {
        "email": f"browser{n}@example.test",
        "password": "correct horse battery",
        "display_name": "Camille Martin",
        "slug": f"camille-{n}",
    }
    assert client.post("/api/v1/signup", json=body).status_code == 201
    token = client.post(
        "/api/v1/tokens", json={"email": body["email"], "password": body["password"]}
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post(
        "/api/v1/offerings",
        headers=headers,
        json={
            "title": "Coaching call",
            "description": "One hour to unblock your project.",
            "duration_minutes": 60,
            "amount_minor": 9000,
            "currency": "eur",
            "payment_policy": "hold",
            "free_cancel_hours": 24,
            "late_cancel_fee_percent": 50,
            "no_show_fee_percent": 100,
            "min_notice_minutes": 60,
        },
    )
    assert created.status_code == 201, created.get_json()
    availability = client.put(
        "/api/v1/availability",
        headers=headers,
        json={
            "timezone": "Europe/Paris",
            "weekly": [{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(7)],
            "exceptions": [],
        },
    )
    assert availability.status_code == 200, availability.get_json()
    return {"slug": body["slug"], "id": created.get_json()["id"], "headers": headers}


def choose_a_time(page: Any, live_server: LiveServer, offering: dict[str, Any]) -> str:
    """Open the booking page, pick the second day shown and its first time; the slot's start."""
    page.goto(f"{live_server.url}/{offering['slug']}?lang=en")
    page.get_by_role("heading", name="Book a session with Camille Martin").wait_for()
    page.get_by_label(re.compile("Coaching call")).check()
    page.locator("#days button.day").nth(1).click()
    first = page.locator("#times button.slot").first
    first.click()
    return first.get_attribute("data-start")


def fill_details_and_card(page: Any, number: str) -> None:
    page.get_by_label("Your name").fill("Alex Client")
    page.get_by_label("Your e-mail").fill("alex@example.test")
    card = page.locator("#card-element")
    card.locator('input[placeholder="number"]').fill(number)
    card.locator('input[placeholder="exp_month"]').fill("12")
    card.locator('input[placeholder="exp_year"]').fill("34")
    card.locator('input[placeholder="cvc"]').fill("123")
    card.locator('input[placeholder="postal_code"]').fill("75011")


def test_book_with_3d_secure_and_see_the_confirmation(
    page, mobile_page, live_server, offering, artifact
):
    # given the public page, an offering chosen and a time picked
    choose_a_time(page, live_server, offering)
    assert page.get_by_text("Your card is pre-authorised when booking").first.is_visible()
    assert page.get_by_text("We hold this time for you for 15 minutes").is_visible()
    fill_details_and_card(page, THREE_D_SECURE)
    artifact("booking-page-desktop", page)

    # when the client books and completes every 3-D Secure dialog the bank shows
    page.get_by_role("button", name="Book and pay").click()
    authenticate = page.get_by_role("button", name="Complete authentication")
    for _ in range(3):
        try:
            authenticate.click(timeout=5_000)
        except Exception:  # no (more) dialog: the page has moved on
            break
        if "/confirmed" in page.url:
            break

    # then the confirmation page shows the booking, secured
    page.wait_for_url(re.compile(r"/b/\d+/confirmed\?token="))
    page.get_by_role("heading", name="Your booking is confirmed").wait_for()
    assert page.get_by_text("Coaching call").first.is_visible()
    assert page.get_by_role("link", name="Add to calendar").is_visible()
    assert page.get_by_role("link", name="Manage my booking").is_visible()
    artifact("booking-confirmation", page)
    assert page.errors == []

    # and the page works on a phone too
    choose_a_time(mobile_page, live_server, offering)
    fill_details_and_card(mobile_page, THREE_D_SECURE)
    artifact("booking-page-mobile", mobile_page)
    assert mobile_page.locator("#pay-button").is_visible()
    assert mobile_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("number", [DECLINED_WHEN_SAVED, DECLINED_WHEN_CHARGED])
def test_a_declined_card_says_so(page, live_server, offering, number):
    choose_a_time(page, live_server, offering)
    fill_details_and_card(page, number)
    page.get_by_role("button", name="Book and pay").click()
    error = page.locator("#pay-error")
    error.wait_for(state="visible")
    assert "declined" in error.inner_text()
    assert "/confirmed" not in page.url
    assert page.errors == []


def test_a_slot_taken_meanwhile_refreshes_the_times(page, live_server, offering):
    # given the client picked a time…
    start = choose_a_time(page, live_server, offering)
    fill_details_and_card(page, "4242424242424242")
    # …and someone else books it first
    taken = live_server.client.post(
        f"/api/v1/public/freelancers/{offering['slug']}/bookings",
        json={
            "offering_id": offering["id"],
            "start": start,
            "client": {"name": "Quicker", "email": "quick@example.test"},
        },
    )
    assert taken.status_code == 201, taken.get_json()

    # when the client books and pays
    page.get_by_role("button", name="Book and pay").click()

    # then they are told, and that time is no longer offered
    page.get_by_text("this time was just taken").first.wait_for()
    page.locator("#times button.slot").first.wait_for()
    assert page.locator(f'#times button.slot[data-start="{start}"]').count() == 0
    assert page.locator("#step-pay").is_hidden()
    assert page.errors == []
