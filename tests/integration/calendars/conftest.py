"""Fixtures of the calendar tests: Radicale and an ICS feed on 127.0.0.1, a Paris freelancer."""

from __future__ import annotations

import pytest

from tests.support.calendar_servers import ics_feed, radicale


@pytest.fixture(scope="module")
def caldav_server(tmp_path_factory):
    with radicale(tmp_path_factory.mktemp("radicale")) as url:
        yield url


@pytest.fixture
def feed():
    with ics_feed() as served:
        yield served


@pytest.fixture
def app_config(app_config):
    return {**app_config, "CALENDAR_ALLOW_PRIVATE_HOSTS": True}


@pytest.fixture
def seller(client, make_freelancer, db_session):
    """A freelancer in Paris, open 09:00–18:00 on weekdays, selling one-hour sessions."""
    freelancer = make_freelancer()
    weekly = [{"weekday": d, "start": "09:00", "end": "18:00"} for d in range(5)]
    put = client.put(
        "/api/v1/availability",
        json={"timezone": "Europe/Paris", "weekly": weekly, "exceptions": []},
        headers=freelancer["headers"],
    )
    assert put.status_code == 200, put.get_json()
    created = client.post(
        "/api/v1/offerings",
        json={
            "title": "Session",
            "duration_minutes": 60,
            "amount_minor": 10_000,
            "currency": "EUR",
            "payment_policy": "prepay",
            "free_cancel_hours": 24,
            "late_cancel_fee_percent": 0,
            "no_show_fee_percent": 100,
            "buffer_minutes": 15,
            "min_notice_minutes": 0,
        },
        headers=freelancer["headers"],
    )
    assert created.status_code == 201, created.get_json()
    freelancer["offering_id"] = created.get_json()["id"]
    return freelancer
