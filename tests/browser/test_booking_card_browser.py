"""The booking pages a client reads about their money, in real Chromium against localstripe.

- The card page: a far-away hold whose card declined later → the client opens
  the e-mailed "update your card" link, gives a new card → the hold is placed
  at once and the booking is secured.
- The amounts: a 30 % deposit shows what is charged now and what after the
  session; a late-cancelled hold shows the fee and the release apart; both
  languages, with screenshots in test-artifacts/.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import stripe
from sqlalchemy import select

from billing.models import Payment
from tests.browser.conftest import LiveServer
from tests.browser.test_booking_browser import RetryingClient
from webapp.booking.models import Booking
from webapp.due import run_due
from webapp.extensions import db

pytestmark = [pytest.mark.browser, pytest.mark.stripe]


def seller(live_server: LiveServer, n: str, **offering: Any) -> dict[str, Any]:
    client = RetryingClient(live_server)
    body = {
        "email": f"cardpage{n}@example.test",
        "password": "correct horse battery",
        "display_name": "Camille Martin",
        "slug": f"camille-card-{n}",
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
            "duration_minutes": 60,
            "amount_minor": 9000,
            "currency": "eur",
            "payment_policy": "hold",
            "free_cancel_hours": 24,
            "late_cancel_fee_percent": 50,
            "no_show_fee_percent": 100,
            "min_notice_minutes": 60,
            "location": "12 rue Oberkampf, 75011 Paris",
            **offering,
        },
    )
    assert created.status_code == 201, created.get_json()
    assert (
        client.put(
            "/api/v1/availability",
            headers=headers,
            json={
                "timezone": "Europe/Paris",
                "weekly": [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)],
                "exceptions": [],
            },
        ).status_code
        == 200
    )
    return {"slug": body["slug"], "offering_id": created.get_json()["id"]}


def book(live_server: LiveServer, who: dict[str, Any], hours: int, card: str, locale: str):
    """Book `hours` ahead through the public API, save `card` as Stripe.js would; (id, token)."""
    client = RetryingClient(live_server)
    start = (datetime.now(UTC) + timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
    created = client.post(
        f"/api/v1/public/freelancers/{who['slug']}/bookings",
        json={
            "offering_id": who["offering_id"],
            "start": start.isoformat(),
            "client": {
                "name": "Alex",
                "email": "alex@example.test",
                "locale": locale,
                "timezone": "Europe/Paris",
            },
        },
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    sdk = stripe.StripeClient(
        live_server.app.config["STRIPE_SECRET_KEY"],
        base_addresses={"api": live_server.app.config["STRIPE_API_BASE"]},
    )
    seti = body["setup_intent_client_secret"].split("_secret_")[0]
    sdk.v1.setup_intents.confirm(seti, params={"payment_method": card})
    confirmed = client.post(
        f"/api/v1/public/bookings/{body['booking_id']}/confirm",
        json={"manage_token": body["manage_token"]},
    )
    assert confirmed.status_code == 200, confirmed.get_json()
    return body["booking_id"], body["manage_token"]


def booking_row(live_server: LiveServer, booking_id: int) -> Booking:
    with live_server.app.app_context():
        row = db.session.get(Booking, booking_id)
        db.session.expunge(row)
        return row


def fill_card(page: Any, number: str) -> None:
    card = page.locator("#card-element")
    card.locator('input[placeholder="number"]').fill(number)
    card.locator('input[placeholder="exp_month"]').fill("12")
    card.locator('input[placeholder="exp_year"]').fill("34")
    card.locator('input[placeholder="cvc"]').fill("123")
    card.locator('input[placeholder="postal_code"]').fill("75011")


def test_a_failed_late_hold_is_fixed_on_the_card_page(page, live_server, artifact):
    # given a session 20 days away, its card saved, and the hold 72 h before declined
    who = seller(live_server, "fix")
    booking_id, token = book(live_server, who, 20 * 24, "pm_card_chargeCustomerFail", "en")
    due = booking_row(live_server, booking_id).hold_due_at
    with live_server.app.app_context():
        run_due(due)
    assert booking_row(live_server, booking_id).payment_state == "failed"

    # when the client follows the e-mail's link to the card page and gives a new card
    page.goto(f"{live_server.url}/b/{booking_id}/card?token={token}&lang=en")
    page.get_by_role("heading", name="Update my card").wait_for()
    assert page.get_by_text("We could not hold €90.00 on your card").is_visible()
    assert page.get_by_text("12 rue Oberkampf, 75011 Paris").is_visible()
    fill_card(page, "4242424242424242")
    artifact("booking-card-page", page)
    page.get_by_role("button", name="Save the card and hold €90.00").click()

    # then the hold is placed there and then, and the booking is secured
    page.wait_for_url(re.compile(rf"/b/{booking_id}/manage\?"))
    page.get_by_role("heading", name="Manage my booking").wait_for()
    row = booking_row(live_server, booking_id)
    assert (row.status, row.payment_state) == ("confirmed", "secured")
    with live_server.app.app_context():
        holds = db.session.scalars(
            select(Payment).where(Payment.subject_id == str(booking_id)).order_by(Payment.id)
        ).all()
        assert [(p.purpose, p.status) for p in holds] == [
            ("hold", "failed"),
            ("hold", "authorized"),
        ]
    assert page.get_by_text("Held on your card (not charged yet)").is_visible()
    assert page.locator("#needs-card").count() == 0
    artifact("booking-card-secured", page)
    assert page.errors == []


@pytest.mark.parametrize(
    ("lang", "now_text", "later_text"),
    [
        ("en", "€72.00", "€168.00"),
        ("fr", "72,00\u00a0€", "168,00\u00a0€"),
    ],
)
def test_a_deposit_shows_what_is_charged_now_and_later(
    page, live_server, artifact, lang, now_text, later_text
):
    who = seller(
        live_server,
        f"dep-{lang}",
        payment_policy="deposit",
        deposit_percent=30,
        amount_minor=24_000,
    )
    booking_id, token = book(live_server, who, 72, "pm_card_visa", lang)
    page.goto(f"{live_server.url}/b/{booking_id}/manage?token={token}&lang={lang}")
    summary = page.locator("dl.summary")
    summary.wait_for()
    text = summary.inner_text()
    charged = "Charged" if lang == "en" else "Débité"
    later = "Charged after the session" if lang == "en" else "Débité après la séance"
    assert re.search(rf"{charged}\s+{re.escape(now_text)}", text), text
    assert later in text and later_text in text
    assert ("Paid." if lang == "en" else "Payé.") not in text
    artifact(f"booking-deposit-{lang}", page)
    assert page.errors == []


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_late_cancelled_hold_shows_the_fee_and_the_release(page, live_server, artifact, lang):
    # a session in 4 hours: inside the 24 h, so cancelling costs 50 % of €90
    who = seller(live_server, f"cancel-{lang}")
    booking_id, token = book(live_server, who, 4, "pm_card_visa", lang)
    page.goto(f"{live_server.url}/b/{booking_id}/manage?token={token}&lang={lang}")
    amounts = page.locator("ul.cancel-amounts")
    amounts.wait_for()
    text = amounts.inner_text()
    if lang == "en":
        assert "Fee kept: €45.00" in text and "Hold released (never charged): €45.00" in text
    else:
        assert "Frais retenus\u00a0: 45,00\u00a0€" in text
        assert "Empreinte levée (jamais débitée)\u00a0: 45,00\u00a0€" in text
    artifact(f"booking-cancel-quote-{lang}", page)
    page.locator("#cancel-open").click()
    with page.expect_navigation():  # the page reloads once the booking is cancelled
        page.locator("#cancel-submit").click()
    page.locator("dl.summary").wait_for()
    summary = page.locator("dl.summary").inner_text()
    assert ("€45.00" if lang == "en" else "45,00\u00a0€") in summary
    released = (
        "Hold released (never charged)" if lang == "en" else "Empreinte levée (jamais débitée)"
    )
    assert released in summary, summary
    artifact(f"booking-cancelled-{lang}", page)
    assert page.errors == []


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_reschedule_keeps_the_hold_and_says_so(page, live_server, artifact, lang):
    # given a €90 hold three days away
    who = seller(live_server, f"move-{lang}")
    booking_id, token = book(live_server, who, 72, "pm_card_visa", lang)
    before = booking_row(live_server, booking_id).start_at
    # when the client moves it to another free time on the manage page
    page.goto(f"{live_server.url}/b/{booking_id}/manage?token={token}&lang={lang}")
    page.locator("#reschedule-open").click()
    # four days from now, later but still within the hold's week (next month's grid if need be)
    later = (date.today() + timedelta(days=4)).isoformat()
    page.locator("#days button.day").first.wait_for()
    if page.locator(f'#days button[data-date="{later}"]').count() == 0:
        page.locator('#days [data-nav="next"]').click()
    page.locator(f'#days button.day[data-date="{later}"]').click()
    page.locator("#times button.slot").nth(2).click()
    # the page reloads once the move is answered: wait for that reload, not for a lull
    with page.expect_navigation(wait_until="load"):
        page.locator("#reschedule-submit").click()
    page.wait_for_load_state("networkidle")
    # then the booking moved, its money did not: still held, charged after the session
    row = booking_row(live_server, booking_id)
    assert row.start_at != before and row.reschedule_count == 1
    assert row.payment_state == "secured"
    summary = page.locator("dl.summary").inner_text()
    held = "Held on your card (not charged yet)" if lang == "en" else "Empreinte sur votre carte"
    amount = "€90.00" if lang == "en" else "90,00\u00a0€"
    assert held in summary and amount in summary, summary
    later = "Charged after the session" if lang == "en" else "Débité après la séance"
    assert later in summary
    assert (
        "Fee kept: €0.00" if lang == "en" else "Frais retenus\u00a0: 0,00\u00a0€"
    ) in page.locator("ul.cancel-amounts").inner_text()
    artifact(f"booking-rescheduled-{lang}", page)
    assert page.errors == []
