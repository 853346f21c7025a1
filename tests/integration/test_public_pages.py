"""The server-rendered parts of the client pages (booking, confirmation, manage).

The pages read what the public JSON API answers (`webapp.public.reads`); most
tests here answer for it with canned bodies in the contract's shapes, so that
what is checked is the page: status codes, escaping, headers, words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.public_reads import ApiAnswer, patch_reads

OFFERING = {
    "id": 7,
    "title": "Coaching call",
    "description": "Thirty minutes to unblock you.",
    "duration_minutes": 90,
    "amount_minor": 12050,
    "currency": "eur",
    "payment_policy": "deposit",
    "deposit_percent": 30.0,
    "free_cancel_hours": 24,
    "late_cancel_fee_percent": 50.0,
    "no_show_fee_percent": 100.0,
}
FREELANCER = {
    "display_name": "Camille Martin",
    "slug": "camille",
    "timezone": "Europe/Paris",
    "publishable_key": "pk_test_from_api",
    "offerings": [OFFERING],
}
BOOKING = {
    "id": 41,
    "status": "confirmed",
    "offering": {"id": 7, "title": "Coaching call", "currency": "eur"},
    "freelancer": {"display_name": "Camille Martin", "slug": "camille"},
    "timezone": "Europe/Paris",
    "start": "2031-03-04T09:00:00+00:00",
    "end": "2031-03-04T10:30:00+00:00",
    "amount_minor": 12050,
    "currency": "eur",
    "payment_policy": "hold",
    "free_cancel_hours": 24,
    "late_cancel_fee_percent": 50.0,
    "no_show_fee_percent": 100.0,
    "payment_state": "secured",
    "cancellation": {"fee_amount_minor": 0, "refund_amount_minor": 12050},
}
GOOD_TOKEN = "bk_good-token"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[tuple[str, dict[str, str]]]]:
    """Answer the pages' API reads with `freelancer` / `booking` bodies; returns the calls made."""
    calls: list[tuple[str, dict[str, str]]] = []

    def install(
        freelancer: dict[str, Any] | None = None, booking: dict[str, Any] | None = None
    ) -> list[tuple[str, dict[str, str]]]:
        def fake(path: str, params: dict[str, str] | None = None) -> ApiAnswer:
            calls.append((path, dict(params or {})))
            if freelancer and path == f"/api/v1/public/freelancers/{freelancer['slug']}":
                return ApiAnswer(200, freelancer)
            if (
                booking
                and path == f"/api/v1/public/bookings/{booking['id']}"
                and (params or {}).get("manage_token") == GOOD_TOKEN
            ):
                return ApiAnswer(200, booking)
            return ApiAnswer(404, {"error": {"code": "not_found", "message": "Not found."}})

        patch_reads(monkeypatch, fake)
        return calls

    return install


def test_an_unknown_slug_is_a_404_page(client, api):
    api(freelancer=FREELANCER)
    answer = client.get("/nobody-here")
    assert answer.status_code == 404
    assert "text/html" in answer.content_type


@pytest.mark.parametrize("slug", ["api", "login", "signup", "dashboard", "static", "pay"])
def test_reserved_words_are_never_a_freelancer_page(client, api, slug):
    # given an API that would even answer for that slug
    calls = api(freelancer={**FREELANCER, "slug": slug})
    answer = client.get(f"/{slug}")
    # then the app's own page (or a 404), never a booking page, and no API read
    assert b"booking-app" not in answer.data
    assert calls == []


@pytest.mark.parametrize(
    ("path", "expected"), [("/login", 200), ("/signup", 200), ("/api/v1/openapi.json", 200)]
)
def test_the_apps_own_paths_are_not_shadowed(client, api, path, expected):
    api(freelancer=FREELANCER)
    answer = client.get(path)
    assert answer.status_code == expected
    assert b"booking-app" not in answer.data


@pytest.mark.parametrize("slug", ["UPPER", "a", "-dash", "x" * 61, "dots.dots"])
def test_malformed_slugs_are_404_without_asking_the_api(client, api, slug):
    calls = api(freelancer=FREELANCER)
    assert client.get(f"/{slug}").status_code == 404
    assert calls == []


def test_the_booking_page_shows_offerings_price_policy_and_terms_in_english(client, api):
    api(freelancer=FREELANCER)
    answer = client.get("/camille?lang=en")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Book a session with Camille Martin" in page
    assert "Coaching call" in page and "Thirty minutes to unblock you." in page
    assert "€120.50" in page
    assert "1 h 30 min" in page
    assert "30 % deposit now, the rest after the session." in page
    assert (
        "Free cancellation until 24 h before the session; after that 50 % is charged; "
        "no-show: 100 %." in page
    )
    # the card is saved with the publishable key the API gives for this freelancer
    assert "pk_test_from_api" in page
    assert "/js.stripe.com/v3/" in page


def test_the_booking_page_formats_money_for_french_readers(client, api):
    api(freelancer=FREELANCER)
    page = client.get("/camille?lang=fr").get_data(as_text=True)
    assert "120,50\xa0€" in page
    assert "avant la séance\xa0; ensuite" in page  # French typography


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        ("prepay", "Paid in full when booking."),
        ("hold", "Your card is pre-authorised when booking; it is charged after the session."),
    ],
)
def test_each_policy_is_stated_in_plain_words(client, api, policy, words):
    api(freelancer={**FREELANCER, "offerings": [{**OFFERING, "payment_policy": policy}]})
    assert words in client.get("/camille?lang=en").get_data(as_text=True)


def test_the_freelancers_name_and_offering_text_are_escaped(client, api):
    # given a name and offering text that try to inject markup and break out of the JSON
    evil = '<script>alert("x")</script></script><img src=x onerror=alert(1)>'
    api(
        freelancer={
            **FREELANCER,
            "display_name": evil,
            "offerings": [{**OFFERING, "title": evil, "description": evil}],
        }
    )
    page = client.get("/camille").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert" in page
    # in the page's JSON config too (tojson escapes <, > and &)
    assert "\\u003cscript\\u003ealert" in page


def test_client_pages_send_no_referrer_and_no_store(client, api):
    api(freelancer=FREELANCER, booking=BOOKING)
    pages = ("/camille", f"/b/41/manage?token={GOOD_TOKEN}", f"/b/41/confirmed?token={GOOD_TOKEN}")
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "query", ["?token=bk_wrong", "", "?token=", f"?token={GOOD_TOKEN}x", "?token=" + "a" * 201]
)
@pytest.mark.parametrize("page", ["manage", "confirmed", "booking.ics"])
def test_a_wrong_or_missing_token_is_a_404(client, api, page, query):
    api(booking=BOOKING)
    answer = client.get(f"/b/41/{page}{query}")
    assert answer.status_code == 404
    assert b"Camille" not in answer.data


def test_another_bookings_token_is_a_404(client, api):
    api(booking=BOOKING)
    assert client.get(f"/b/42/manage?token={GOOD_TOKEN}").status_code == 404


def test_the_manage_page_shows_the_booking_and_the_cancellation_amounts(client, api):
    late = {"fee_amount_minor": 6025, "refund_amount_minor": 0, "release_amount_minor": 6025}
    api(booking={**BOOKING, "cancellation": late})
    answer = client.get(f"/b/41/manage?token={GOOD_TOKEN}&lang=en")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Coaching call" in page and "Camille Martin" in page
    assert "Your card is pre-authorised; you are charged after the session." in page
    assert "If you cancel now, the cancellation fee is €60.25." in page
    # the fee, the refund and the release, each as it is: a hold is released, not refunded
    assert "Fee kept: €60.25" in page
    assert "Hold released (never charged): €60.25" in page
    assert "Refunded to your card" not in page
    assert "Move to another time" in page
    # the token is never in the title
    title = page.split("<title>")[1].split("</title>")[0]
    assert GOOD_TOKEN not in title


def test_a_free_cancellation_says_so(client, api):
    api(booking=BOOKING)
    page = client.get(f"/b/41/manage?token={GOOD_TOKEN}&lang=en").get_data(as_text=True)
    assert "If you cancel now, it is free: nothing is charged." in page


def test_a_cancelled_booking_offers_neither_cancel_nor_reschedule(client, api):
    api(booking={**BOOKING, "status": "cancelled"})
    page = client.get(f"/b/41/manage?token={GOOD_TOKEN}&lang=en").get_data(as_text=True)
    assert "Cancelled" in page
    assert 'id="cancel-open"' not in page and 'id="reschedule-open"' not in page


def test_the_language_links_keep_the_token(client, api):
    api(booking=BOOKING)
    page = client.get(f"/b/41/manage?token={GOOD_TOKEN}&lang=en").get_data(as_text=True)
    assert f"/b/41/manage?token={GOOD_TOKEN}&amp;lang=fr" in page


def test_the_confirmation_page_links_the_calendar_file_and_the_manage_page(client, api):
    api(booking=BOOKING)
    page = client.get(f"/b/41/confirmed?token={GOOD_TOKEN}&lang=en").get_data(as_text=True)
    assert "Your booking is confirmed" in page
    assert f"/b/41/booking.ics?token={GOOD_TOKEN}" in page
    assert f"/b/41/manage?token={GOOD_TOKEN}" in page


def test_the_calendar_file_is_the_invitations_event_at_the_booked_time(
    client, api, make_freelancer, db_session
):
    # given the booking behind the page (its token checked by the API, mocked here)
    from datetime import UTC, datetime

    from webapp.booking.ics import booking_uid
    from webapp.booking.models import Booking, Offering

    seller = make_freelancer(display_name="Camille Martin")
    offering = Offering(
        freelancer_id=seller["id"],
        title="Coaching call",
        duration_minutes=90,
        amount_minor=12050,
        currency="eur",
        payment_policy="hold",
        location="12 rue Oberkampf, Paris",
    )
    db_session.add(offering)
    db_session.flush()
    start, end = datetime(2031, 3, 4, 9, tzinfo=UTC), datetime(2031, 3, 4, 10, 30, tzinfo=UTC)
    booking = Booking(
        id=41,
        freelancer_id=seller["id"],
        offering_id=offering.id,
        client_name="Léa",
        client_email="lea@example.test",
        start_at=start,
        end_at=end,
        block_start=start,
        block_end=end,
        status="confirmed",
        title="Coaching call",
        amount_minor=12050,
        currency="eur",
        payment_policy="hold",
        deposit_bp=0,
        free_cancel_hours=24,
        late_cancel_fee_bp=5000,
        no_show_fee_bp=10000,
        secure_deadline_hours=24,
        manage_token_hash="x" * 64,
        manage_token_enc="unused",
        reschedule_count=2,
    )
    db_session.add(booking)
    db_session.commit()
    api(booking=BOOKING)
    answer = client.get(f"/b/41/booking.ics?token={GOOD_TOKEN}")
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert answer.mimetype == "text/calendar"
    assert "attachment" in answer.headers["Content-Disposition"]
    assert "DTSTART:20310304T090000Z" in body
    assert "DTEND:20310304T103000Z" in body
    assert "SUMMARY:Coaching call — Camille Martin" in body
    # the same event as the e-mailed invitation: one UID, the SEQUENCE of its reschedules
    assert f"UID:{booking_uid(41)}" in body
    assert "SEQUENCE:2" in body
    assert "LOCATION:12 rue Oberkampf\\, Paris" in body
    assert GOOD_TOKEN not in body
