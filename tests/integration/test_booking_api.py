"""Sessions through the JSON API with the in-memory gateway: policies, errors, isolation."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from billing.gateway.memory import InMemoryGateway
from billing.models import CardSetup
from webapp.booking.models import Booking

ALL_WEEK = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]


@pytest.fixture
def gateway():
    return InMemoryGateway()


@pytest.fixture
def app_config(app_config, gateway):
    return {**app_config, "GATEWAY_FACTORY": lambda creds: gateway}


@pytest.fixture
def seller(client, make_freelancer):
    """A freelancer open around the clock (UTC), with a helper to add offerings."""
    freelancer = make_freelancer()
    put = client.put(
        "/api/v1/availability",
        json={"timezone": "UTC", "weekly": ALL_WEEK, "exceptions": []},
        headers=freelancer["headers"],
    )
    assert put.status_code == 200, put.get_json()

    def offering(**overrides):
        body = {
            "title": "Call",
            "duration_minutes": 60,
            "amount_minor": 10_000,
            "currency": "EUR",
            "payment_policy": "prepay",
            "free_cancel_hours": 24,
            "late_cancel_fee_percent": 50,
            "no_show_fee_percent": 100,
            "buffer_minutes": 0,
            "min_notice_minutes": 0,
        }
        body.update(overrides)
        created = client.post("/api/v1/offerings", json=body, headers=freelancer["headers"])
        assert created.status_code == 201, created.get_json()
        return created.get_json()

    freelancer["offering"] = offering
    return freelancer


def slot_in(days: float) -> str:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    return start.isoformat()


def book(client, seller, offering, start, email="client@example.test"):
    return client.post(
        f"/api/v1/public/freelancers/{seller['slug']}/bookings",
        json={
            "offering_id": offering["id"],
            "start": start,
            "client": {"name": "Client", "email": email},
        },
    )


def save_card(db_session, gateway, booking_id, pm="pm_card_visa"):
    setup = db_session.scalars(
        select(CardSetup).where(CardSetup.subject_id == str(booking_id)).order_by(CardSetup.id)
    ).all()[-1]
    gateway.confirm_setup_intent(setup.stripe_setup_intent_id, pm)


def booked_and_confirmed(client, db_session, gateway, seller, offering, start, pm="pm_card_visa"):
    created = book(client, seller, offering, start)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    save_card(db_session, gateway, body["booking_id"], pm)
    confirmed = client.post(
        f"/api/v1/public/bookings/{body['booking_id']}/confirm",
        json={"manage_token": body["manage_token"]},
    )
    return body, confirmed


def test_prepay_books_then_charges_in_full(client, db_session, gateway, seller):
    offering = seller["offering"]()
    body, confirmed = booked_and_confirmed(
        client, db_session, gateway, seller, offering, slot_in(3)
    )
    assert body["status"] == "pending_payment"
    assert body["setup_intent_client_secret"]
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json() == {"status": "confirmed"}
    detail = client.get(f"/api/v1/bookings/{body['booking_id']}", headers=seller["headers"])
    data = detail.get_json()
    assert data["payment"]["state"] == "captured"
    assert data["payment"]["captured_minor"] == 10_000
    actions = [e["action"] for e in data["timeline"]]
    assert "booking_confirmed" in actions and "payment_succeeded" in actions


def test_same_slot_twice_is_a_clean_409(client, seller):
    offering = seller["offering"]()
    start = slot_in(2)
    assert book(client, seller, offering, start).status_code == 201
    again = book(client, seller, offering, start, email="other@example.test")
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "slot_taken"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"offering_id": 999_999}, "offering_id"),
        ({"start": "2020-01-01T10:00:00+00:00"}, "start"),
        ({"client": {"name": "C", "email": "not-an-email"}}, "client"),
        ({"start": "2030-01-01T10:00:00"}, "start"),
    ],
)
def test_bad_booking_input_changes_nothing(client, db_session, seller, change, field):
    offering = seller["offering"]()
    body = {
        "offering_id": offering["id"],
        "start": slot_in(2),
        "client": {"name": "Client", "email": "c@example.test"},
        **change,
    }
    answer = client.post(f"/api/v1/public/freelancers/{seller['slug']}/bookings", json=body)
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["error"]["fields"]
    assert db_session.scalars(select(Booking)).all() == []


def test_wrong_token_is_404(client, seller):
    offering = seller["offering"]()
    body = book(client, seller, offering, slot_in(2)).get_json()
    for path in ("confirm", "cancel"):
        answer = client.post(
            f"/api/v1/public/bookings/{body['booking_id']}/{path}",
            json={"manage_token": "bkg_wrong"},
        )
        assert answer.status_code == 404
    view = client.get(f"/api/v1/public/bookings/{body['booking_id']}?manage_token=nope")
    assert view.status_code == 404


def log_in(client, who):
    import re

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(
        "/login", data={"email": who["email"], "password": who["password"], "csrf_token": token}
    )
    assert answer.status_code == 302


FREELANCER_ROUTES = [
    ("get", "/api/v1/offerings/{offering}"),
    ("patch", "/api/v1/offerings/{offering}"),
    ("delete", "/api/v1/offerings/{offering}"),
    ("get", "/api/v1/bookings/{booking}"),
    ("post", "/api/v1/bookings/{booking}/complete"),
    ("post", "/api/v1/bookings/{booking}/no-show"),
    ("post", "/api/v1/bookings/{booking}/cancel"),
]


@pytest.mark.parametrize("method, path", FREELANCER_ROUTES)
def test_another_freelancers_ids_are_404(client, make_freelancer, seller, method, path):
    # given a booking of `seller`, and someone else with a valid token
    offering = seller["offering"]()
    booking = book(client, seller, offering, slot_in(2)).get_json()
    intruder = make_freelancer()
    url = path.format(offering=offering["id"], booking=booking["booking_id"])
    kwargs = {"headers": intruder["headers"]}
    if method == "patch":
        kwargs["json"] = {"title": "Mine now"}
    # when / then
    answer = getattr(client, method)(url, **kwargs)
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "not_found"
    listed = client.get("/api/v1/bookings", headers=intruder["headers"]).get_json()
    assert listed["bookings"] == []
    own = client.get(f"/api/v1/offerings/{offering['id']}", headers=seller["headers"])
    assert own.get_json()["title"] == "Call"


@pytest.mark.parametrize("path", ["/sessions/offerings/{offering}", "/sessions/bookings/{booking}"])
def test_another_freelancers_pages_are_404(client, make_freelancer, seller, path):
    offering = seller["offering"]()
    booking = book(client, seller, offering, slot_in(2)).get_json()
    intruder = make_freelancer()
    log_in(client, intruder)
    url = path.format(offering=offering["id"], booking=booking["booking_id"])
    assert client.get(url).status_code == 404


def test_pages_render_for_the_owner(client, seller):
    offering = seller["offering"]()
    booking = book(client, seller, offering, slot_in(2)).get_json()
    log_in(client, seller)
    for url in (
        "/sessions/offerings",
        f"/sessions/offerings/{offering['id']}",
        "/sessions/offerings/new",
        "/sessions/availability",
        "/sessions/bookings",
        f"/sessions/bookings/{booking['booking_id']}",
    ):
        page = client.get(url)
        assert page.status_code == 200, url


def test_slots_are_rendered_in_the_clients_zone(client, seller):
    offering = seller["offering"]()
    day = (datetime.now(UTC) + timedelta(days=3)).date()
    answer = client.get(
        f"/api/v1/public/freelancers/{seller['slug']}/offerings/{offering['id']}/slots",
        query_string={"from": day.isoformat(), "to": day.isoformat(), "tz": "Asia/Tokyo"},
    )
    slots = answer.get_json()["slots"]
    assert len(slots) == 24
    assert all(
        s["start"].endswith("+09:00") and s["start"].startswith(day.isoformat()) for s in slots
    )
    bad = client.get(
        f"/api/v1/public/freelancers/{seller['slug']}/offerings/{offering['id']}/slots",
        query_string={"from": day.isoformat(), "to": day.isoformat(), "tz": "Mars/Base"},
    )
    assert bad.status_code == 400
    assert "tz" in bad.get_json()["error"]["fields"]


def test_pending_booking_expires_after_fifteen_minutes_and_frees_the_slot(app, client, seller):
    from webapp.due import run_due

    offering = seller["offering"]()
    start = slot_in(2)
    body = book(client, seller, offering, start).get_json()
    created = datetime.now(UTC)
    with app.app_context():
        run_due(created + timedelta(minutes=14))
    assert book(client, seller, offering, start, email="b@example.test").status_code == 409
    with app.app_context():
        run_due(created + timedelta(minutes=16))
    view = client.get(
        f"/api/v1/public/bookings/{body['booking_id']}?manage_token={body['manage_token']}"
    )
    assert view.get_json()["status"] == "expired"
    assert book(client, seller, offering, start, email="b@example.test").status_code == 201


def test_offering_form_takes_prices_as_people_type_them(client, seller):
    import re

    log_in(client, seller)
    page = client.get("/sessions/offerings/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {
        "csrf_token": token,
        "title": "Audit",
        "duration_minutes": "45",
        "currency": "eur",
        "payment_policy": "prepay",
        "active": "on",
    }
    bad = client.post("/sessions/offerings/new", data={**form, "price": "90,505"})
    assert bad.status_code == 422
    good = client.post("/sessions/offerings/new", data={**form, "price": "90,50"})
    assert good.status_code == 302
    offerings = client.get("/api/v1/offerings", headers=seller["headers"]).get_json()
    audit = [o for o in offerings["offerings"] if o["title"] == "Audit"]
    assert [o["amount_minor"] for o in audit] == [9050]
    page = client.get(f"/sessions/offerings/{audit[0]['id']}").get_data(as_text=True)
    assert 'value="90.50"' in page
    listing = client.get("/sessions/offerings").get_data(as_text=True)
    assert "90,50" in listing or "90.50" in listing


@pytest.mark.parametrize("policy, status", [("prepay", "succeeded"), ("hold", "requires_capture")])
def test_confirm_after_a_lost_answer_resumes_the_payment_never_a_second_one(
    client, db_session, gateway, seller, policy, status
):
    # given a booking whose first confirm made the payment at Stripe, the answer lost
    gateway.honour_idempotency = False  # a second create would be a second charge
    offering = seller["offering"](payment_policy=policy)
    created = book(client, seller, offering, slot_in(1))
    body = created.get_json()
    save_card(db_session, gateway, body["booking_id"])
    gateway.timeout_after_success("create_payment_intent")
    url = f"/api/v1/public/bookings/{body['booking_id']}/confirm"
    first = client.post(url, json={"manage_token": body["manage_token"]})
    assert first.status_code == 503, first.get_json()
    # when the client confirms again
    again = client.post(url, json={"manage_token": body["manage_token"]})
    # then the booking is confirmed on the one PaymentIntent Stripe made
    assert again.status_code == 200, again.get_json()
    assert again.get_json() == {"status": "confirmed"}
    intents = list(gateway.payment_intents.values())
    assert [(i.status, i.amount.amount_minor) for i in intents] == [(status, 10_000)]


# --- issue 11: a company books a session -------------------------------------------

COMPANY_CLIENT = {
    "name": "Jean Dupont",
    "email": "jean@acme.test",
    "is_business": True,
    "company": "ACME SAS",
    "siren": "552032534",
    "postal_address": {
        "line1": "3 avenue Foch",
        "postal_code": "69006",
        "city": "Lyon",
        "country": "FR",
    },
}
FULL_PROFILE = {
    "legal_name": "Camille Martin",
    "legal_form": "ei",
    "siret": "73282932000074",
    "postal_address": {
        "line1": "12 rue de la Paix",
        "postal_code": "75002",
        "city": "Paris",
        "country": "FR",
    },
}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"siren": ""}, "siren"),
        ({"siren": "552032535"}, "siren"),  # Luhn check digit off by one
        ({"postal_address": None}, "postal_address"),
        ({"company": ""}, "company"),
    ],
)
def test_L441_9_a_company_booking_needs_its_siren_company_and_address(
    client, db_session, seller, change, field
):
    offering = seller["offering"]()
    answer = client.post(
        f"/api/v1/public/freelancers/{seller['slug']}/bookings",
        json={
            "offering_id": offering["id"],
            "start": slot_in(3),
            "client": {**COMPANY_CLIENT, **change},
        },
    )
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["error"]["fields"]["client"]


def test_D441_5_a_company_booking_is_invoiced_to_the_company_with_the_indemnity(
    client, db_session, gateway, seller
):
    patched = client.patch("/api/v1/me", json=FULL_PROFILE, headers=seller["headers"])
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["missing_for_invoicing"] == []
    offering = seller["offering"]()
    created = client.post(
        f"/api/v1/public/freelancers/{seller['slug']}/bookings",
        json={"offering_id": offering["id"], "start": slot_in(3), "client": COMPANY_CLIENT},
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    save_card(db_session, gateway, body["booking_id"])
    confirmed = client.post(
        f"/api/v1/public/bookings/{body['booking_id']}/confirm",
        json={"manage_token": body["manage_token"]},
    )
    assert confirmed.status_code == 200, confirmed.get_json()
    listed = client.get("/api/v1/invoices", headers=seller["headers"]).get_json()["invoices"]
    assert len(listed) == 1 and listed[0]["kind"] == "invoice"
    assert len(listed[0]["pdf_sha256"]) == 64 and listed[0]["total_minor"] == 10_000
    detail = client.get(f"/api/v1/invoices/{listed[0]['id']}", headers=seller["headers"])
    invoice = detail.get_json()
    assert invoice["buyer"]["is_business"] is True
    assert invoice["buyer"]["legal_name"] == "ACME SAS"
    assert invoice["buyer"]["siren"] == "552032534"
    assert invoice["recovery_indemnity"] is True
    pdf = client.get(f"/api/v1/invoices/{listed[0]['id']}.pdf", headers=seller["headers"])
    again = client.get(f"/api/v1/invoices/{listed[0]['id']}.pdf", headers=seller["headers"])
    assert pdf.data == again.data
    assert hashlib.sha256(pdf.data).hexdigest() == listed[0]["pdf_sha256"]


def test_an_incomplete_profile_is_told_what_invoicing_needs(client, seller):
    me = client.get("/api/v1/me", headers=seller["headers"]).get_json()
    assert "legal_form" in me["missing_for_invoicing"]
    refused = client.patch(
        "/api/v1/me",
        json={"legal_form": "gmbh", "activity": "software", "share_capital_minor": -1},
        headers=seller["headers"],
    )
    assert refused.status_code == 422
    assert set(refused.get_json()["error"]["fields"]) == {
        "legal_form",
        "activity",
        "share_capital_minor",
    }
