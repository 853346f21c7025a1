"""The client's card is read from Stripe with the booking unlocked.

On SQLite a row lock is the database's write lock: a Stripe read made while
`confirm` holds the booking would stop every other freelancer's writes for as
long as Stripe takes. The gateway below tries, at each Stripe call, to take
the write lock from a connection of its own, as another request would.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from billing.gateway.memory import InMemoryGateway
from tests.integration.test_booking_api import book, save_card, seller, slot_in  # noqa: F401
from webapp.extensions import db


class WatchingGateway:
    """The in-memory gateway, noting at each Stripe call whether others could write."""

    WATCHED = (
        "retrieve_setup_intent",
        "retrieve_card",
        "create_customer",
        "create_setup_intent",
        "create_payment_intent",
    )

    def __init__(self, inner: InMemoryGateway) -> None:
        self.inner = inner
        self.seen: list[str] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name not in self.WATCHED:
            return target

        def watched(*args: Any, **kwargs: Any) -> Any:
            self.seen.append(f"{name} others_can_write={_others_can_write()}")
            return target(*args, **kwargs)

        return watched


def _others_can_write() -> bool:
    path = db.engine.url.database
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


@pytest.fixture
def gateway():
    return WatchingGateway(InMemoryGateway())


@pytest.fixture
def app_config(app_config, gateway):
    return {**app_config, "GATEWAY_FACTORY": lambda creds: gateway}


def _booked(client, seller, **offering):  # noqa: F811
    created = book(client, seller, seller["offering"](**offering), slot_in(3))
    assert created.status_code == 201, created.get_json()
    return created.get_json()


def _confirm(client, body):
    return client.post(
        f"/api/v1/public/bookings/{body['booking_id']}/confirm",
        json={"manage_token": body["manage_token"]},
    )


def test_confirm_reads_the_saved_card_with_nothing_locked(client, db_session, gateway, seller):  # noqa: F811
    # given a booking whose card the browser saved
    body = _booked(client, seller)
    save_card(db_session, gateway.inner, body["booking_id"])
    gateway.seen.clear()
    # when the client confirms
    confirmed = _confirm(client, body)
    # then it is charged, and every Stripe call left the database free to others
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json() == {"status": "confirmed"}
    assert gateway.seen[:2] == [
        "retrieve_setup_intent others_can_write=True",
        "retrieve_card others_can_write=True",
    ]
    assert all(line.endswith("others_can_write=True") for line in gateway.seen), gateway.seen


def test_a_card_not_saved_yet_is_refused_after_an_unlocked_read(
    client,
    db_session,
    gateway,
    seller,  # noqa: F811
):
    # given a booking whose card form was opened but not completed
    body = _booked(client, seller)
    gateway.seen.clear()
    # when the client confirms too early
    early = _confirm(client, body)
    # then the refusal is Stripe's, read with nothing locked; the booking keeps its slot
    assert early.status_code == 409
    assert early.get_json()["error"]["code"] == "not_allowed"
    assert "not saved yet" in early.get_json()["error"]["message"]
    assert gateway.seen == ["retrieve_setup_intent others_can_write=True"]
    # and once the card is saved, the same booking confirms
    save_card(db_session, gateway.inner, body["booking_id"])
    assert _confirm(client, body).get_json() == {"status": "confirmed"}


def test_another_card_form_is_opened_with_nothing_locked(client, db_session, gateway, seller):  # noqa: F811
    # given a pending booking
    body = _booked(client, seller)
    gateway.seen.clear()
    # when the client asks for another card form
    answer = client.post(
        f"/api/v1/public/bookings/{body['booking_id']}/card-setup",
        json={"manage_token": body["manage_token"]},
    )
    # then Stripe was called with the database free, and the booking points at the new form
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["setup_intent_client_secret"]
    assert gateway.seen == ["create_setup_intent others_can_write=True"]
    save_card(db_session, gateway.inner, body["booking_id"])
    assert _confirm(client, body).get_json() == {"status": "confirmed"}
