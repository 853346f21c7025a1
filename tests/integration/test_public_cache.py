"""The public page's cached profile and the public JSON's HTTP caching (issue 14).

The page renders from the service layer in its own request (no HTTP back into
ourselves); the profile is cached per freelancer, public version and language,
and every change to what it shows raises the version in the same transaction —
seen by another worker (a second app on the same database) too.
Runs on SQLite and, with TEST_DATABASE_URL, PostgreSQL.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event

from tests.conftest import base_config
from tests.integration.test_booking_api import ALL_WEEK
from webapp.extensions import db
from webapp.public import cache


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app_config(request, database_url, tmp_path):
    if request.param == "postgres":
        database_url = request.getfixturevalue("pg_database_url")
    return base_config(database_url, tmp_path)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def seller(client, make_freelancer):
    made = make_freelancer()
    headers = made["headers"]
    client.put(
        "/api/v1/availability",
        headers=headers,
        json={"timezone": "Europe/Paris", "weekly": ALL_WEEK, "exceptions": []},
    )
    offering = client.post(
        "/api/v1/offerings",
        headers=headers,
        json={
            "title": "Coaching call",
            "duration_minutes": 60,
            "amount_minor": 9_000,
            "currency": "EUR",
            "payment_policy": "prepay",
        },
    ).get_json()
    return {**made, "offering": offering}


def _statements(app, call):
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        result = call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return result, seen


def test_a_second_view_reads_one_row_and_renders_the_same_page(app, client, seller):
    slug = seller["slug"]
    first, cold = _statements(app, lambda: client.get(f"/{slug}"))
    again, warm = _statements(app, lambda: client.get(f"/{slug}"))
    assert first.status_code == again.status_code == 200
    assert first.get_data() == again.get_data()
    assert "Coaching call" in again.get_data(as_text=True)
    # Cold: the freelancer, zone, offerings, keys, question settings; warm: the version.
    assert len(warm) == 1, warm
    assert len(cold) > len(warm)


def test_an_offering_change_shows_at_once_here_and_after_another_workers_change(
    app, client, seller, app_config
):
    slug = seller["slug"]
    assert "Coaching call" in client.get(f"/{slug}").get_data(as_text=True)

    changed = client.patch(
        f"/api/v1/offerings/{seller['offering']['id']}",
        headers=seller["headers"],
        json={"title": "Strategy session"},
    )
    assert changed.status_code == 200
    page = client.get(f"/{slug}").get_data(as_text=True)
    assert "Strategy session" in page and "Coaching call" not in page

    # Another process changes it through its own engine and session: this
    # process's cached copy is keyed by the old version and is not used again.
    from sqlalchemy.orm import Session

    from webapp.booking.models import Offering
    from webapp.extensions import make_engine

    engine = make_engine(app_config["DATABASE_URL"])
    with Session(engine) as other:
        other.get(Offering, seller["offering"]["id"]).title = "Deep work"
        other.commit()
    engine.dispose()
    page = client.get(f"/{slug}").get_data(as_text=True)
    assert "Deep work" in page and "Strategy session" not in page


@pytest.mark.parametrize(
    "path, body, method",
    [
        ("/api/v1/me", {"display_name": "Camille Renamed"}, "patch"),
        ("/api/v1/availability", {"timezone": "America/New_York", "weekly": ALL_WEEK}, "put"),
        (
            "/api/v1/messages/settings",
            {"enabled": True, "price_minor": 2_500, "currency": "eur"},
            "put",
        ),
    ],
)
def test_each_public_part_raises_the_version(app, client, seller, path, body, method):
    def version():
        with app.app_context():
            return cache.version_of(db.session, seller["slug"])[1]

    before = version()
    answer = getattr(client, method)(path, headers=seller["headers"], json=body)
    assert answer.status_code == 200, answer.get_json()
    assert version() > before


def test_a_booking_does_not_invalidate_the_profile(app, client, seller):
    def version():
        with app.app_context():
            return cache.version_of(db.session, seller["slug"])[1]

    before = version()
    day = date.today() + timedelta(days=3)
    slots = client.get(
        f"/api/v1/public/freelancers/{seller['slug']}/offerings/{seller['offering']['id']}/slots",
        query_string={"from": day.isoformat(), "to": day.isoformat(), "tz": "Europe/Paris"},
    ).get_json()["slots"]
    with app.app_context():
        from webapp.booking.models import Booking

        count_before = db.session.query(Booking).count()
    client.post(
        f"/api/v1/public/freelancers/{seller['slug']}/bookings",
        json={
            "offering_id": seller["offering"]["id"],
            "start": slots[0]["start"],
            "client": {"name": "Léa", "email": "lea@example.test"},
        },
    )
    with app.app_context():
        assert db.session.query(Booking).count() == count_before + 1
    assert version() == before


def test_the_page_html_is_cached_for_anonymous_visitors_only(app, client, seller):
    slug = seller["slug"]
    assert client.get(f"/{slug}").status_code == 200
    _, warm = _statements(app, lambda: client.get(f"/{slug}"))
    assert len(warm) == 1  # the version; no render from the database
    # Another query: rendered afresh (never cached, so no visitor fills the cache).
    odd = client.get(f"/{slug}?utm=x")
    assert odd.status_code == 200
    # A message flashed to this visitor is shown, not hidden behind the cached copy.
    with client.session_transaction() as session:
        session["_flashes"] = [("message", "Votre réservation est annulée.")]
    flashed = client.get(f"/{slug}").get_data(as_text=True)
    assert "Votre réservation est annulée." in flashed
    assert "Votre réservation est annulée." not in client.get(f"/{slug}").get_data(as_text=True)


def test_slots_read_the_version_bookings_and_busy_times_only(app, client, seller):
    day = (date.today() + timedelta(days=3)).isoformat()
    url = f"/api/v1/public/freelancers/{seller['slug']}/offerings/{seller['offering']['id']}/slots"
    query = {"from": day, "to": day, "tz": "Europe/Paris"}
    first = client.get(url, query_string=query).get_json()["slots"]
    answer, warm = _statements(app, lambda: client.get(url, query_string=query))
    assert answer.get_json()["slots"] == first
    # the version, then the window's bookings and busy times in one UNION ALL
    assert len(warm) == 2, warm
    # A booking takes its slot at once (bookings are read each time, not cached).
    booked = client.post(
        f"/api/v1/public/freelancers/{seller['slug']}/bookings",
        json={
            "offering_id": seller["offering"]["id"],
            "start": first[0]["start"],
            "client": {"name": "Léa", "email": "lea@example.test"},
        },
    )
    # (No Stripe here: the booking is held and the card form asked again, 503.)
    assert booked.status_code == 201 or "booking" in (booked.get_json() or {})
    after = client.get(url, query_string=query).get_json()["slots"]
    assert first[0] not in after and after == first[1:]
    # An offering taken off sale has no slots, at once.
    client.patch(
        f"/api/v1/offerings/{seller['offering']['id']}",
        headers=seller["headers"],
        json={"active": False},
    )
    assert client.get(url, query_string=query).status_code == 404


def test_public_json_is_revalidated_by_etag(client, seller):
    profile = client.get(f"/api/v1/public/freelancers/{seller['slug']}")
    assert profile.status_code == 200
    assert profile.headers["Cache-Control"] == "public, no-cache"
    assert "Accept-Language" in profile.headers["Vary"]
    etag = profile.headers["ETag"]
    same = client.get(
        f"/api/v1/public/freelancers/{seller['slug']}", headers={"If-None-Match": etag}
    )
    assert same.status_code == 304 and same.get_data() == b""

    day = (date.today() + timedelta(days=3)).isoformat()
    url = f"/api/v1/public/freelancers/{seller['slug']}/offerings/{seller['offering']['id']}/slots"
    query = {"from": day, "to": day, "tz": "Europe/Paris"}
    slots = client.get(url, query_string=query)
    assert slots.status_code == 200 and slots.headers["Cache-Control"] == "public, no-cache"
    again = client.get(url, query_string=query, headers={"If-None-Match": slots.headers["ETag"]})
    assert again.status_code == 304

    client.patch(
        f"/api/v1/offerings/{seller['offering']['id']}",
        headers=seller["headers"],
        json={"title": "Renamed"},
    )
    changed = client.get(
        f"/api/v1/public/freelancers/{seller['slug']}", headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.get_json()["offerings"][0]["title"] == "Renamed"


def test_an_unknown_or_inactive_slug_is_still_a_404(app, client, seller):
    assert client.get("/nobody-here").status_code == 404
    assert client.get("/api/v1/public/freelancers/nobody-here").status_code == 404
    with app.app_context():
        from webapp.accounts.models import Freelancer

        freelancer = db.session.get(Freelancer, seller["id"])
        freelancer.is_active = False
        db.session.commit()
    assert client.get(f"/{seller['slug']}").status_code == 404
