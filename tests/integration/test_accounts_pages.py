"""Sign-up, log-in, log-out and profile pages: CSRF, cookies, sessions, rate limits."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from webapp.accounts.models import Freelancer


@pytest.fixture
def app_config(app_config):
    # CSRF is on in these tests, as in production.
    return {**app_config, "WTF_CSRF_ENABLED": True}


def csrf_token(client, path: str) -> str:
    page = client.get(path)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def signup(client, **overrides):
    form = {
        "display_name": "Léa Martin",
        "email": "lea@example.test",
        "password": "a long enough password",
        "slug": "lea-martin",
        "locale": "fr",
    }
    form.update(overrides)
    form["csrf_token"] = csrf_token(client, "/signup")
    return client.post("/signup", data=form)


def test_signup_logs_in_and_lands_on_profile(client):
    answer = signup(client)
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/profile")
    assert client.get("/dashboard").status_code == 200


def test_form_without_csrf_token_is_refused_and_changes_nothing(client, db_session):
    answer = client.post(
        "/signup",
        data={
            "display_name": "X",
            "email": "x@example.test",
            "password": "a long enough password",
            "slug": "xx-x",
        },
    )
    assert answer.status_code == 400
    assert db_session.scalar(select(func.count(Freelancer.id))) == 0


def test_invalid_signup_shows_field_messages(client, db_session):
    answer = signup(client, email="not-an-email", slug="-bad-", password="short")
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'role="alert"' in html
    assert html.count('class="error"') >= 3
    assert db_session.scalar(select(func.count(Freelancer.id))) == 0


def test_session_cookie_flags(app, client):
    signup(client)
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"


def test_secure_cookie_when_served_over_https(tmp_path, database_url):
    from tests.conftest import base_config
    from webapp import create_app

    config = {**base_config(database_url, tmp_path), "SESSION_COOKIE_SECURE": True}
    app = create_app(config)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_login_starts_a_new_session(client):
    signup(client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/dashboard")})
    # given a session that existed before logging in (e.g. planted by an attacker)
    with client.session_transaction() as session:
        session["planted"] = "attacker"
    token = csrf_token(client, "/login")
    answer = client.post(
        "/login",
        data={
            "email": "lea@example.test",
            "password": "a long enough password",
            "csrf_token": token,
        },
    )
    assert answer.status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("_user_id")


def test_wrong_password_and_logout(client):
    signup(client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/dashboard")})
    assert client.get("/dashboard").status_code == 302  # to the login page
    answer = client.post(
        "/login",
        data={
            "email": "lea@example.test",
            "password": "nope",
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    assert answer.status_code == 401


def test_login_attempts_are_rate_limited(client):
    token = csrf_token(client, "/login")
    codes = [
        client.post(
            "/login", data={"email": "who@example.test", "password": "x", "csrf_token": token}
        ).status_code
        for _ in range(11)
    ]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429


def test_api_token_requests_are_rate_limited(client):
    codes = [
        client.post(
            "/api/v1/tokens", json={"email": "who@example.test", "password": "x"}
        ).status_code
        for _ in range(11)
    ]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429


def test_profile_page_saves_valid_and_rejects_invalid(client, db_session):
    signup(client)
    token = csrf_token(client, "/profile")
    good = client.post(
        "/profile",
        data={
            "csrf_token": token,
            "legal_name": "Léa Martin EI",
            "siret": "73282932000074",
            "legal_form": "ei",
            "address": "1 rue de la Paix, 75002 Paris",
            "vat_regime": "franchise",
            "vat_rate": "0",
            "iban": "FR7630006000011234567890189",
            "bic": "AGRIFRPP",
            "timezone": "Europe/Paris",
            "currency": "eur",
            "payment_terms_days": "30",
            "penalty_rate": "",
            "locale": "fr",
            "display_name": "Léa Martin",
        },
    )
    assert good.status_code == 302
    # when the SIRET's check digit is wrong, the IBAN too, and the time zone unknown
    bad = client.post(
        "/profile",
        data={
            "csrf_token": token,
            "legal_name": "Changed",
            "siret": "73282932000075",
            "iban": "FR7630006000011234567890188",
            "timezone": "Mars/Olympus",
        },
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "SIRET" in html and "IBAN" in html
    # then nothing was saved, not even the valid field
    row = db_session.scalar(select(Freelancer))
    db_session.refresh(row)
    assert row.legal_name == "Léa Martin EI"
    assert row.siret == "73282932000074"


def test_profile_page_under_franchise_needs_no_vat_rate(client, db_session):
    signup(client)
    page = client.get("/profile").get_data(as_text=True)
    assert 'name="vat_rate" type="text" value=""' in page
    answer = client.post(
        "/profile",
        data={
            "csrf_token": csrf_token(client, "/profile"),
            "vat_regime": "franchise",
            "vat_rate": "",
            "legal_name": "Léa Martin EI",
        },
    )
    assert answer.status_code == 302
    row = db_session.scalar(select(Freelancer))
    assert (row.vat_regime, row.vat_rate_bp, row.legal_name) == ("franchise", 0, "Léa Martin EI")


def test_dashboard_shows_what_needs_the_freelancer(client):
    signup(client)
    page = client.get("/dashboard?lang=en").get_data(as_text=True)
    for text in (
        "Upcoming sessions: 0",
        "Questions waiting for your answer: 0",
        "Quotes waiting for the client: 0",
        "Unpaid cases being recovered: 0",
    ):
        assert text in page
