"""No double booking on PostgreSQL: the exclusion constraint decides, under real concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from billing.gateway.memory import InMemoryGateway
from webapp.booking import checkout
from webapp.booking.errors import SlotTaken
from webapp.booking.models import Booking
from webapp.extensions import db

pytestmark = pytest.mark.postgres

ATTEMPTS = 50


@pytest.fixture
def seller(pg_app):
    gateway = InMemoryGateway()
    pg_app.config["GATEWAY_FACTORY"] = lambda creds: gateway
    client = pg_app.test_client()
    assert (
        client.post(
            "/api/v1/signup",
            json={
                "email": "pg@example.test",
                "password": "correct horse battery",
                "display_name": "PG",
                "slug": "pg-seller",
            },
        ).status_code
        == 201
    )
    token = client.post(
        "/api/v1/tokens", json={"email": "pg@example.test", "password": "correct horse battery"}
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    week = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
    client.put("/api/v1/availability", json={"timezone": "UTC", "weekly": week}, headers=headers)
    offering = client.post(
        "/api/v1/offerings",
        json={
            "title": "Call",
            "duration_minutes": 60,
            "amount_minor": 5_000,
            "currency": "eur",
            "payment_policy": "hold",
            "buffer_minutes": 15,
            "min_notice_minutes": 0,
        },
        headers=headers,
    ).get_json()
    return {"offering": offering, "headers": headers, "client": client}


def test_fifty_concurrent_attempts_give_one_booking(pg_app, seller):
    # given one free slot and 50 clients who want it at the same moment
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    barrier = threading.Barrier(ATTEMPTS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        with pg_app.app_context():
            data = {
                "offering_id": seller["offering"]["id"],
                "start": start,
                "client": {"name": f"Client {n}", "email": f"c{n}@example.test"},
            }
            barrier.wait()
            try:
                checkout.book(db.session, "pg-seller", data)
                result = "booked"
            except SlotTaken:
                db.session.rollback()
                result = "taken"
            except Exception as exc:  # anything else is a failure of the test
                db.session.rollback()
                result = f"error: {type(exc).__name__}: {exc}"
            with lock:
                outcomes.append(result)

    # when
    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then exactly one booking, and 49 clean "slot taken"
    assert sorted(outcomes).count("booked") == 1, outcomes
    assert outcomes.count("taken") == ATTEMPTS - 1, outcomes
    with pg_app.app_context():
        assert len(db.session.scalars(select(Booking)).all()) == 1


def test_the_database_itself_refuses_an_overlap(pg_app, seller):
    # given one booking
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    with pg_app.app_context():
        checkout.book(
            db.session,
            "pg-seller",
            {
                "offering_id": seller["offering"]["id"],
                "start": start,
                "client": {"name": "A", "email": "a@example.test"},
            },
        )
        # when a raw insert bypasses the application's checks (overlapping its buffer)
        row = db.session.scalars(select(Booking)).one()
        with pytest.raises(Exception, match="booking_no_overlap"):
            db.session.execute(
                text(
                    "INSERT INTO booking (freelancer_id, offering_id, client_name, client_email,"
                    " client_timezone, start_at, end_at, block_start, block_end, status, title,"
                    " amount_minor, currency, payment_policy, deposit_bp, free_cancel_hours,"
                    " late_cancel_fee_bp, no_show_fee_bp, secure_deadline_hours, payment_state,"
                    " manage_token_hash, manage_token_enc, reschedule_count, created_at,"
                    " updated_at) VALUES (:f, :o, 'B', 'b@example.test', 'UTC', :s, :e, :s, :e,"
                    " 'confirmed', 'x', 100, 'eur', 'hold', 0, 24, 0, 0, 24, 'none', 'h2', 'x',"
                    " 0, now(), now())"
                ),
                {
                    "f": row.freelancer_id,
                    "o": row.offering_id,
                    "s": row.end_at + timedelta(minutes=10),
                    "e": row.end_at + timedelta(minutes=70),
                },
            )
        db.session.rollback()
