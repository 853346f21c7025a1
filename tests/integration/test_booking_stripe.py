"""Each payment policy end to end against the real localstripe server.

The browser's part (confirmCardSetup, the 3-D Secure modal) is played with the
SDK and localstripe's own authentication endpoint; due work runs as
`billing run-due --now` does, at chosen times.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
import stripe
from sqlalchemy import select

from billing.models import Payment
from webapp.booking import closing
from webapp.booking.models import Booking
from webapp.due import run_due
from webapp.extensions import db
from webapp.mail.models import OutboundEmail

pytestmark = pytest.mark.stripe

ALL_WEEK = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
PK = "pk_test_booking"


@pytest.fixture
def app_config(app_config, localstripe_url):
    return {
        **app_config,
        "STRIPE_API_BASE": localstripe_url,
        "STRIPE_SECRET_KEY": "sk_test_booking",
        "STRIPE_PUBLISHABLE_KEY": PK,
    }


@pytest.fixture
def sdk(localstripe_url):
    return stripe.StripeClient("sk_test_booking", base_addresses={"api": localstripe_url})


@pytest.fixture
def seller(client, make_freelancer):
    freelancer = make_freelancer(locale="en")  # e-mail subjects asserted in English
    answer = client.put(
        "/api/v1/availability",
        json={"timezone": "UTC", "weekly": ALL_WEEK, "exceptions": []},
        headers=freelancer["headers"],
    )
    assert answer.status_code == 200

    def offering(policy, **overrides):
        body = {
            "title": f"{policy} call",
            "duration_minutes": 60,
            "amount_minor": 10_000,
            "currency": "eur",
            "payment_policy": policy,
            "free_cancel_hours": 24,
            "late_cancel_fee_percent": 50,
            "no_show_fee_percent": 80,
            "min_notice_minutes": 0,
            **overrides,
        }
        created = client.post("/api/v1/offerings", json=body, headers=freelancer["headers"])
        assert created.status_code == 201, created.get_json()
        return created.get_json()

    freelancer["offering"] = offering
    return freelancer


def hour_in(days: float) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)


class Flow:
    """One client's booking, driven as the public pages drive it."""

    def __init__(self, client, app, sdk, seller, offering, start):
        self.client, self.app, self.sdk = client, app, sdk
        self.start = start
        self.slug, self.offering = seller["slug"], offering
        created = client.post(
            f"/api/v1/public/freelancers/{seller['slug']}/bookings",
            json={
                "offering_id": offering["id"],
                "start": start.isoformat(),
                "client": {"name": "Camille", "email": "camille@example.test"},
            },
        )
        assert created.status_code == 201, created.get_json()
        self.body = created.get_json()
        self.id = self.body["booking_id"]
        self.token = self.body["manage_token"]

    def save_card(self, pm="pm_card_visa"):
        setup_id = self.body["setup_intent_client_secret"].split("_secret_")[0]
        self.sdk.v1.setup_intents.confirm(setup_id, params={"payment_method": pm})

    def confirm(self):
        return self.client.post(
            f"/api/v1/public/bookings/{self.id}/confirm", json={"manage_token": self.token}
        )

    def booking(self):
        with self.app.app_context():
            booking = db.session.get(Booking, self.id)
            db.session.expunge(booking)
            return booking

    def payments(self):
        with self.app.app_context():
            rows = db.session.scalars(
                select(Payment).where(Payment.subject_id == str(self.id)).order_by(Payment.id)
            ).all()
            return [(p.purpose, p.status, p.amount_captured_minor, p.off_session) for p in rows]

    def run_due(self, at):
        with self.app.app_context():
            return run_due(at)

    def call(self, fn, *args, now):
        with self.app.app_context():
            return fn(db.session, *args, now=now)


@pytest.fixture
def flow(client, app, sdk, seller):
    def make(policy, days=2.0, **overrides):
        offering = seller["offering"](policy, **overrides)
        return Flow(client, app, sdk, seller, offering, hour_in(days))

    return make


def test_prepay_charges_in_full_at_booking(flow):
    f = flow("prepay")
    f.save_card()
    assert f.confirm().get_json() == {"status": "confirmed"}
    assert f.payments() == [("charge", "succeeded", 10_000, False)]
    assert f.booking().payment_state == "captured"


def test_hold_is_captured_after_the_session_once_even_if_run_twice(flow):
    f = flow("hold")
    f.save_card()
    assert f.confirm().get_json()["status"] == "confirmed"
    assert f.payments() == [("hold", "authorized", 0, False)]
    end = f.start + timedelta(hours=1)
    # one second before end + grace: nothing; at it: captured; again: nothing more
    f.run_due(end + timedelta(hours=1) - timedelta(seconds=1))
    assert f.booking().status == "confirmed"
    lines = f.run_due(end + timedelta(hours=1))
    assert any("completed" in line for line in lines)
    f.run_due(end + timedelta(hours=1, minutes=1))
    assert f.payments() == [("hold", "succeeded", 10_000, False)]
    assert f.booking().status == "completed"
    assert f.booking().payment_state == "captured"


def test_deposit_now_and_balance_off_session_after(flow):
    f = flow("deposit", deposit_percent=30)
    f.save_card()
    f.confirm()
    assert f.payments() == [("deposit", "succeeded", 3_000, False)]
    f.run_due(f.start + timedelta(hours=2))
    assert f.payments() == [
        ("deposit", "succeeded", 3_000, False),
        ("balance", "succeeded", 7_000, True),
    ]
    assert f.booking().status == "completed"


def test_free_cancellation_releases_the_hold(flow, client):
    f = flow("hold")
    f.save_card()
    f.confirm()
    quote = client.get(f"/api/v1/public/bookings/{f.id}?manage_token={f.token}").get_json()
    assert quote["cancellation"]["fee_amount_minor"] == 0
    answer = client.post(f"/api/v1/public/bookings/{f.id}/cancel", json={"manage_token": f.token})
    assert answer.get_json()["status"] == "cancelled"
    assert answer.get_json()["fee_amount_minor"] == 0
    assert f.payments() == [("hold", "canceled", 0, False)]
    assert f.booking().payment_state == "released"


def test_late_cancellation_captures_the_fee_and_releases_the_rest(flow):
    f = flow("hold")
    f.save_card()
    f.confirm()
    # 24 h before is the last free second; one second later the 50 % fee applies
    late = f.start - timedelta(hours=24) + timedelta(seconds=1)
    answer = f.call(closing.cancel_by_client, f.id, f.token, now=late)
    assert answer["fee_amount_minor"] == 5_000
    assert answer["released_amount_minor"] == 5_000
    assert f.payments() == [("hold", "succeeded", 5_000, False)]
    assert f.booking().payment_state == "fee_charged"


def test_late_cancellation_of_a_prepaid_session_refunds_the_rest(flow):
    f = flow("prepay")
    f.save_card()
    f.confirm()
    answer = f.call(closing.cancel_by_client, f.id, f.token, now=f.start - timedelta(hours=2))
    assert (answer["fee_amount_minor"], answer["refunded_amount_minor"]) == (5_000, 5_000)


def test_no_show_keeps_the_no_show_fee(flow, seller):
    f = flow("hold")
    f.save_card()
    f.confirm()
    answer = f.call(closing.mark_no_show, seller["id"], f.id, now=f.start + timedelta(minutes=10))
    assert answer["status"] == "no_show"
    assert f.payments() == [("hold", "succeeded", 8_000, False)]


def test_far_future_saves_the_card_then_holds_before_the_session(flow):
    f = flow("hold", days=20)
    f.save_card()
    assert f.confirm().get_json()["status"] == "confirmed"
    booking = f.booking()
    assert f.payments() == []
    assert booking.payment_state == "card_saved"
    assert booking.hold_due_at == f.start - timedelta(hours=72)
    f.run_due(booking.hold_due_at - timedelta(seconds=1))
    assert f.payments() == []
    f.run_due(booking.hold_due_at)
    assert f.payments() == [("hold", "authorized", 0, True)]
    f.run_due(f.start + timedelta(hours=2))
    assert f.payments() == [("hold", "succeeded", 10_000, True)]


def test_far_future_hold_that_fails_asks_to_fix_the_card_then_cancels(flow, app):
    f = flow("hold", days=20)
    f.save_card("pm_card_chargeCustomerFail")
    f.confirm()
    due = f.booking().hold_due_at
    f.run_due(due)
    assert f.booking().payment_state == "failed"
    with app.app_context():
        subjects = [e.subject for e in db.session.scalars(select(OutboundEmail))]
    assert any("Action needed" in s for s in subjects)
    # a failed pre-authorisation is not money owed: no dunning case, no second e-mail
    with app.app_context():
        from billing.dunning.models import DunningCase

        assert db.session.scalar(select(DunningCase)) is None
    deadline = f.start - timedelta(hours=24)
    f.run_due(deadline - timedelta(seconds=1))
    assert f.booking().status == "confirmed"
    f.run_due(deadline)
    assert f.booking().status == "cancelled"


def test_declined_card_keeps_the_booking_pending(flow):
    f = flow("prepay")
    f.save_card("pm_card_chargeCustomerFail")
    answer = f.confirm()
    assert answer.status_code == 402
    assert answer.get_json()["error"]["code"] in ("card_declined", "generic_decline")
    assert f.booking().status == "pending_payment"
    assert f.booking().payment_state == "failed"


def test_three_d_secure_card_needs_the_browser_then_confirms(flow, sdk, localstripe_url):
    f = flow("prepay")
    pm = sdk.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4000002500003155", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    f.save_card(pm.id)
    # the browser completes 3-D Secure for the SetupIntent too (confirmCardSetup)
    f.sdk.v1.setup_intents.confirm(f.body["setup_intent_client_secret"].split("_secret_")[0])
    first = f.confirm().get_json()
    assert first["status"] == "requires_action"
    secret = first["payment_intent_client_secret"]
    intent_id = secret.split("_secret_")[0]
    # what localstripe's Stripe.js does when the client clicks "Complete authentication"
    request = urllib.request.Request(
        f"{localstripe_url}/v1/payment_intents/{intent_id}/_authenticate?success=true",
        data=json.dumps({"key": PK, "client_secret": secret}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    # the second confirm reconciles with Stripe and confirms the booking
    assert f.confirm().get_json() == {"status": "confirmed"}
    assert f.booking().payment_state == "captured"


def _complete_profile(client, seller):
    answer = client.patch(
        "/api/v1/me",
        headers=seller["headers"],
        json={
            "legal_name": "Léa Martin EI",
            "siret": "73282932000074",
            "legal_form": "ei",
            "address": "1 rue de la Paix, 75002 Paris",
            "iban": "FR7630006000011234567890189",
            "bic": "AGRIFRPP",
        },
    )
    assert answer.status_code == 200


def _invoices(client, seller):
    return client.get("/api/v1/invoices", headers=seller["headers"]).get_json()["invoices"]


def test_prepay_is_invoiced_and_a_refund_gets_a_credit_note(flow, client, seller):
    # given a complete business profile and a prepaid session
    _complete_profile(client, seller)
    f = flow("prepay", days=5)
    f.save_card()
    f.confirm()
    # then the payment is backed by a paid invoice for the amount charged
    [invoice] = _invoices(client, seller)
    assert (invoice["kind"], invoice["status"]) == ("invoice", "paid")
    assert invoice["total_incl_vat_minor"] == 10_000
    # when the client cancels in time, the refund is backed by a credit note
    answer = client.post(f"/api/v1/public/bookings/{f.id}/cancel", json={"manage_token": f.token})
    assert answer.get_json()["refunded_amount_minor"] == 10_000
    kinds = sorted((i["kind"], i["total_incl_vat_minor"]) for i in _invoices(client, seller))
    assert kinds == [("credit_note", 10_000), ("invoice", 10_000)]


def test_a_late_cancellation_fee_is_invoiced_as_such(flow, client, seller):
    _complete_profile(client, seller)
    f = flow("hold", days=0.5)
    f.save_card()
    f.confirm()
    client.post(f"/api/v1/public/bookings/{f.id}/cancel", json={"manage_token": f.token})
    [invoice] = _invoices(client, seller)
    assert invoice["total_incl_vat_minor"] == 5_000
    detail = client.get(f"/api/v1/invoices/{invoice['id']}", headers=seller["headers"]).get_json()
    assert "Late cancellation fee" in detail["lines"][0]["description"]


def _free_slot_after(client, f, days_after: int) -> str:
    day = (f.start + timedelta(days=days_after)).date()
    answer = client.get(
        f"/api/v1/public/freelancers/{f.slug}/offerings/{f.offering['id']}/slots"
        f"?from={day}&to={day}&tz=UTC"
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["slots"][0]["start"]


def test_reschedule_moves_the_booking_without_paying_twice(flow, client):
    # given a prepaid booking
    f = flow("prepay", days=5)
    f.save_card()
    f.confirm()
    new_start = _free_slot_after(client, f, 2)
    # when the client moves it to another free time
    answer = client.post(
        f"/api/v1/public/bookings/{f.id}/reschedule",
        json={"manage_token": f.token, "start": new_start},
    )
    # then it is moved, still confirmed, and charged once only
    assert answer.status_code == 200, answer.get_json()
    booking = f.booking()
    assert booking.start_at == datetime.fromisoformat(new_start)
    assert booking.status == "confirmed"
    assert f.payments() == [("charge", "succeeded", 10_000, False)]
    # and the old time is free again while the new one is taken
    old_day = f.start.date()
    slots = client.get(
        f"/api/v1/public/freelancers/{f.slug}/offerings/{f.offering['id']}/slots"
        f"?from={old_day}&to={old_day}&tz=UTC"
    ).get_json()["slots"]
    assert f.start.isoformat().replace("+00:00", "") in " ".join(s["start"] for s in slots)


def test_reschedule_to_a_taken_time_is_refused_and_changes_nothing(flow, client):
    first = flow("prepay", days=5)
    first.save_card()
    first.confirm()
    second = flow("prepay", days=6)
    second.save_card()
    second.confirm()
    answer = client.post(
        f"/api/v1/public/bookings/{second.id}/reschedule",
        json={"manage_token": second.token, "start": first.start.isoformat()},
    )
    assert answer.status_code in (409, 422)
    assert second.booking().start_at == second.start
