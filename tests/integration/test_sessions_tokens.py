"""Sessions that end, tokens that expire and can be revoked, log-in throttles, the audit trail.

Each test runs on SQLite and on PostgreSQL (when TEST_DATABASE_URL is set).
The Redis test uses database 11 (skipped with the reason when Redis is down).
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import select, update

from billing.db import utcnow
from billing.models import Event
from tests.conftest import base_config
from tests.support.requirements import unavailable
from webapp import create_app
from webapp.accounts import security
from webapp.accounts.models import ApiToken, Freelancer

PASSWORD = "correct horse battery"
REDIS_URL = "redis://127.0.0.1:6379/11"
# Redis database 11 is this file's alone: its tests run in one test worker, one by one.
pytestmark = pytest.mark.xdist_group("redis-db-11")
_addresses = count(1)


def fresh_address() -> str:
    n = next(_addresses)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app_config(request, database_url, tmp_path):
    if request.param == "postgres":
        database_url = request.getfixturevalue("pg_database_url")
    return {**base_config(database_url, tmp_path), "WTF_CSRF_ENABLED": True}


def another_app(config):
    """A second app (another worker); the engine it replaces is closed, not leaked."""
    from webapp.extensions import db

    if db.engine is not None:
        db.engine.dispose()
    return create_app(config)


def csrf_token(client, path: str = "/login", **kwargs) -> str:
    page = client.get(path, **kwargs)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def page_login(client, email: str, password: str = PASSWORD, **kwargs):
    token = csrf_token(client, **kwargs)
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, **kwargs
    )


def copy_session(source, target) -> None:
    target.set_cookie("session", source.get_cookie("session").value)


def dashboard_status(client, **kwargs) -> int:
    answer = client.get("/dashboard", **kwargs)
    if answer.status_code == 302:
        assert "/login" in answer.headers["Location"]
    return answer.status_code


def actions(db_session, freelancer_id: int) -> list[Event]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            select(Event)
            .where(Event.subject_type == "freelancer", Event.subject_id == str(freelancer_id))
            .order_by(Event.id)
        )
    )


# --- sessions -------------------------------------------------------------------


def test_a_cookie_copied_before_logout_is_refused_after_it(app, client, make_freelancer):
    freelancer = make_freelancer()
    assert page_login(client, freelancer["email"]).status_code == 302
    thief = app.test_client()
    copy_session(client, thief)
    assert dashboard_status(thief) == 200  # the copy works while the session lives

    token = csrf_token(client, "/dashboard")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302

    assert dashboard_status(thief) == 302
    assert dashboard_status(client) == 302


def test_logout_ends_the_accounts_other_sessions_too(app, client, make_freelancer):
    freelancer = make_freelancer()
    other_device = app.test_client()
    assert page_login(client, freelancer["email"]).status_code == 302
    assert page_login(other_device, freelancer["email"]).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/dashboard")})
    assert dashboard_status(other_device) == 302


def test_password_change_ends_other_sessions_and_keeps_this_one(
    app, client, make_freelancer, db_session
):
    freelancer = make_freelancer()
    assert page_login(client, freelancer["email"]).status_code == 302
    copy = app.test_client()
    copy_session(client, copy)

    wrong = client.post(
        "/password",
        data={
            "current_password": "not it at all",
            "new_password": "a brand new password",
            "csrf_token": csrf_token(client, "/password"),
        },
    )
    assert wrong.status_code == 422
    assert dashboard_status(copy) == 200

    changed = client.post(
        "/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a brand new password",
            "csrf_token": csrf_token(client, "/password"),
        },
    )
    assert changed.status_code == 302
    assert dashboard_status(client) == 200
    assert dashboard_status(copy) == 302
    fresh = app.test_client()
    assert page_login(fresh, freelancer["email"]).status_code == 401
    assert page_login(fresh, freelancer["email"], "a brand new password").status_code == 302
    done = [e.action for e in actions(db_session, freelancer["id"])]
    assert "password_change_failed" in done and "password_changed" in done


def test_password_change_revokes_every_api_token(client, make_freelancer):
    freelancer = make_freelancer()  # its fixture token, and one more
    second = client.post(
        "/api/v1/tokens", json={"email": freelancer["email"], "password": PASSWORD}
    ).get_json()["token"]
    bearers = [freelancer["headers"], {"Authorization": f"Bearer {second}"}]
    assert all(client.get("/api/v1/me", headers=h).status_code == 200 for h in bearers)
    assert page_login(client, freelancer["email"]).status_code == 302
    profile = client.get("/profile").get_data(as_text=True)
    assert 'href="/password"' in profile

    changed = client.post(
        "/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a brand new password",
            "csrf_token": csrf_token(client, "/password"),
        },
    )
    assert changed.status_code == 302
    assert [client.get("/api/v1/me", headers=h).status_code for h in bearers] == [401, 401]
    fresh = client.post(
        "/api/v1/tokens",
        json={"email": freelancer["email"], "password": "a brand new password"},
    )
    assert fresh.status_code == 201
    headers = {"Authorization": f"Bearer {fresh.get_json()['token']}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_strong_protection_refuses_the_cookie_from_another_client(app, client, make_freelancer):
    freelancer = make_freelancer()
    here = {"environ_base": {"REMOTE_ADDR": "10.9.9.1"}, "headers": {"User-Agent": "Browser A"}}
    assert page_login(client, freelancer["email"], **here).status_code == 302
    assert dashboard_status(client, **here) == 200

    elsewhere = app.test_client()
    copy_session(client, elsewhere)
    assert (
        dashboard_status(
            elsewhere,
            environ_base={"REMOTE_ADDR": "10.9.9.2"},
            headers={"User-Agent": "Browser A"},
        )
        == 302
    )
    other_agent = app.test_client()
    copy_session(client, other_agent)
    assert (
        dashboard_status(
            other_agent,
            environ_base={"REMOTE_ADDR": "10.9.9.1"},
            headers={"User-Agent": "Browser B"},
        )
        == 302
    )


def test_session_cookie_is_not_permanent(client, make_freelancer):
    freelancer = make_freelancer()
    answer = page_login(client, freelancer["email"])
    cookie = next(v for v in answer.headers.getlist("Set-Cookie") if v.startswith("session="))
    assert "Expires=" not in cookie and "Max-Age" not in cookie


def test_sessions_end_after_idle_time_and_absolute_lifetime(
    app, client, make_freelancer, monkeypatch
):
    freelancer = make_freelancer()
    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr(security, "_now", lambda: clock["now"])
    assert page_login(client, freelancer["email"]).status_code == 302

    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    absolute = app.config["SESSION_ABSOLUTE_HOURS"] * 3600
    # Active every hour: the idle clock restarts, until the absolute lifetime.
    while clock["now"] + idle / 2 < 1_800_000_000.0 + absolute:
        clock["now"] += idle / 2
        assert dashboard_status(client) == 200
    clock["now"] = 1_800_000_000.0 + absolute + 1
    assert dashboard_status(client) == 302

    assert page_login(client, freelancer["email"]).status_code == 302
    clock["now"] += idle + 1
    assert dashboard_status(client) == 302


# --- bearer tokens ----------------------------------------------------------------


def test_token_answer_has_id_and_expiry(client, make_freelancer):
    freelancer = make_freelancer()
    default = client.post(
        "/api/v1/tokens", json={"email": freelancer["email"], "password": PASSWORD}
    ).get_json()
    assert isinstance(default["id"], int)
    from datetime import datetime

    expires = datetime.fromisoformat(default["expires_at"])
    assert abs(expires - (utcnow() + timedelta(days=90))) < timedelta(minutes=5)

    short = client.post(
        "/api/v1/tokens",
        json={
            "email": freelancer["email"],
            "password": PASSWORD,
            "expires_in_days": 7,
            "label": "ci",
        },
    ).get_json()
    expires = datetime.fromisoformat(short["expires_at"])
    assert abs(expires - (utcnow() + timedelta(days=7))) < timedelta(minutes=5)
    assert short["label"] == "ci"

    for bad in (0, 366, "7", True):
        answer = client.post(
            "/api/v1/tokens",
            json={"email": freelancer["email"], "password": PASSWORD, "expires_in_days": bad},
        )
        assert answer.status_code == 422, bad


def test_tokens_are_listed_without_secrets(client, make_freelancer):
    freelancer = make_freelancer()
    other = make_freelancer()
    listed = client.get("/api/v1/tokens", headers=freelancer["headers"])
    assert listed.status_code == 200
    tokens = listed.get_json()["tokens"]
    assert len(tokens) == 1
    assert set(tokens[0]) == {"id", "label", "created_at", "expires_at", "last_used_at"}
    assert tokens[0]["last_used_at"] is not None  # this very request used it
    assert freelancer["token"] not in listed.get_data(as_text=True)
    assert other["token"] not in listed.get_data(as_text=True)
    assert client.get("/api/v1/tokens").status_code == 401


def test_a_revoked_token_is_refused(client, make_freelancer, db_session):
    freelancer = make_freelancer()
    spare = client.post(
        "/api/v1/tokens", json={"email": freelancer["email"], "password": PASSWORD}
    ).get_json()
    spare_headers = {"Authorization": f"Bearer {spare['token']}"}
    assert client.get("/api/v1/me", headers=spare_headers).status_code == 200

    revoked = client.delete(f"/api/v1/tokens/{spare['id']}", headers=freelancer["headers"])
    assert revoked.status_code == 204
    assert client.get("/api/v1/me", headers=spare_headers).status_code == 401
    assert client.get("/api/v1/me", headers=freelancer["headers"]).status_code == 200
    ids = [
        t["id"] for t in client.get("/api/v1/tokens", headers=freelancer["headers"]).json["tokens"]
    ]
    assert spare["id"] not in ids
    assert any(e.action == "api_token_revoked" for e in actions(db_session, freelancer["id"]))


def test_another_freelancers_token_cannot_be_revoked(client, make_freelancer, db_session):
    mine = make_freelancer()
    theirs = make_freelancer()
    their_id = client.get("/api/v1/tokens", headers=theirs["headers"]).json["tokens"][0]["id"]
    assert client.delete(f"/api/v1/tokens/{their_id}", headers=mine["headers"]).status_code == 404
    assert client.delete("/api/v1/tokens/999999", headers=mine["headers"]).status_code == 404
    assert client.get("/api/v1/me", headers=theirs["headers"]).status_code == 200


def test_an_expired_token_is_refused(client, make_freelancer, db_session):
    freelancer = make_freelancer()
    db_session.execute(
        update(ApiToken)
        .where(ApiToken.freelancer_id == freelancer["id"])
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db_session.commit()
    answer = client.get("/api/v1/me", headers=freelancer["headers"])
    assert answer.status_code == 401


# --- log-in throttles ----------------------------------------------------------


def test_the_21st_wrong_password_from_fresh_addresses_is_throttled(client, make_freelancer):
    victim = make_freelancer()
    bystander = make_freelancer()
    for attempt in range(20):
        where = {"environ_base": {"REMOTE_ADDR": fresh_address()}}
        if attempt % 2:
            answer = page_login(client, victim["email"], "wrong password", **where)
        else:
            answer = client.post(
                "/api/v1/tokens",
                json={"email": victim["email"].upper(), "password": "wrong password"},
                **where,
            )
        assert answer.status_code == 401, attempt

    where = {"environ_base": {"REMOTE_ADDR": fresh_address()}}
    throttled = client.post(
        "/api/v1/tokens", json={"email": victim["email"], "password": PASSWORD}, **where
    )
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["Retry-After"]) <= 15 * 60
    page = page_login(client, victim["email"], **where)
    assert page.status_code == 429
    assert int(page.headers["Retry-After"]) > 0

    ok = client.post(
        "/api/v1/tokens", json={"email": bystander["email"], "password": PASSWORD}, **where
    )
    assert ok.status_code == 201
    assert page_login(app_client := client, bystander["email"], **where).status_code == 302
    assert app_client is client


def test_successful_log_ins_do_not_count_against_the_account(client, make_freelancer):
    freelancer = make_freelancer()
    for _ in range(25):
        answer = client.post(
            "/api/v1/tokens",
            json={"email": freelancer["email"], "password": PASSWORD},
            environ_base={"REMOTE_ADDR": fresh_address()},
        )
        assert answer.status_code == 201


def test_one_address_is_throttled_whatever_the_account(client):
    where = {"environ_base": {"REMOTE_ADDR": "10.200.0.1"}}
    for n in range(10):
        answer = client.post(
            "/api/v1/tokens", json={"email": f"nobody{n}@example.test", "password": "x"}, **where
        )
        assert answer.status_code == 401
    answer = client.post(
        "/api/v1/tokens", json={"email": "nobody@example.test", "password": "x"}, **where
    )
    assert answer.status_code == 429
    assert "Retry-After" in answer.headers


@pytest.mark.parametrize("proxies", [0, 1])
def test_trusted_proxies_make_limits_see_the_client(app, app_config, proxies):
    client = another_app({**app_config, "TRUSTED_PROXIES": proxies}).test_client()
    proxy = {"REMOTE_ADDR": "10.250.0.1"}
    for n in range(10):
        answer = client.post(
            "/api/v1/tokens",
            json={"email": f"nobody{n}@example.test", "password": "x"},
            environ_base=proxy,
            headers={"X-Forwarded-For": "203.0.113.7"},
        )
        assert answer.status_code == 401
    other_client = client.post(
        "/api/v1/tokens",
        json={"email": "nobody@example.test", "password": "x"},
        environ_base=proxy,
        headers={"X-Forwarded-For": "203.0.113.8"},
    )
    # Behind one trusted proxy, another client has its own budget; with none,
    # X-Forwarded-For is not believed and everyone shares the proxy's.
    assert other_client.status_code == (401 if proxies else 429)


def test_throttles_live_in_redis_when_configured(app_config, make_freelancer, client):
    import redis

    connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError as exc:
        unavailable("redis", f"Redis at {REDIS_URL} is unreachable ({exc})")
    finally:
        connection.close()
    victim = make_freelancer(email=f"victim-{uuid.uuid4().hex[:8]}@example.test")
    shared = {**app_config, "RATELIMIT_STORAGE_URI": REDIS_URL}
    # Two "workers" one after the other: the second sees the first's failures.
    for _worker in range(2):
        worker = another_app(shared).test_client()
        for _ in range(10):
            answer = worker.post(
                "/api/v1/tokens",
                json={"email": victim["email"], "password": "wrong password"},
                environ_base={"REMOTE_ADDR": fresh_address()},
            )
            assert answer.status_code == 401
    answer = (
        another_app(shared)
        .test_client()
        .post(
            "/api/v1/tokens",
            json={"email": victim["email"], "password": PASSWORD},
            environ_base={"REMOTE_ADDR": fresh_address()},
        )
    )
    assert answer.status_code == 429


# --- audit trail -----------------------------------------------------------------


def test_access_events_carry_address_and_user_agent(app, client, make_freelancer, db_session):
    freelancer = make_freelancer()
    where = {"environ_base": {"REMOTE_ADDR": "10.77.0.1"}, "headers": {"User-Agent": "Probe/1"}}
    assert page_login(client, freelancer["email"], "wrong password", **where).status_code == 401
    assert page_login(client, freelancer["email"], **where).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/dashboard", **where)}, **where)
    created = client.post(
        "/api/v1/tokens", json={"email": freelancer["email"], "password": PASSWORD}, **where
    ).get_json()
    client.delete(
        f"/api/v1/tokens/{created['id']}",
        headers={**freelancer["headers"], "User-Agent": "Probe/1"},
        environ_base=where["environ_base"],
    )

    events = actions(db_session, freelancer["id"])
    seen = {}
    for event in events:
        if event.data.get("ip") == "10.77.0.1":
            seen.setdefault(event.action, event)
    for action in (
        "login_failed",
        "logged_in",
        "logged_out",
        "api_token_issued",
        "api_token_revoked",
    ):
        assert action in seen, (action, [(e.action, e.data) for e in events])
        assert seen[action].data["user_agent"] == "Probe/1"
        assert seen[action].actor == f"freelancer:{freelancer['id']}"
    assert seen["api_token_issued"].data["token_id"] == created["id"]
    assert seen["api_token_revoked"].data["token_id"] == created["id"]
    assert "wrong password" not in str([e.data for e in events])


def test_failed_log_in_for_an_unknown_e_mail_records_nothing(client, db_session):
    before = db_session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
    client.post("/api/v1/tokens", json={"email": "ghost@example.test", "password": "x"})
    after = db_session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
    assert before == after
    assert (
        db_session.scalar(select(Freelancer.id).where(Freelancer.email == "ghost@example.test"))
        is None
    )
