"""Bad input never answers 500 (issue 10): ids out of range, NUL and lone surrogates,
far-away dates, partial quote updates, concurrent signing, unexpected database refusals.

Every test runs on SQLite and (with TEST_DATABASE_URL) on PostgreSQL.
"""

from __future__ import annotations

import re
import threading
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from billing.gateway.memory import InMemoryGateway
from billing.models import Payment
from tests.integration.test_booking_api import ALL_WEEK
from tests.integration.test_quotes import PROFILE, quote_body
from webapp.extensions import db
from webapp.quotes.models import QuoteAcceptance

BIG = [2**31, 2**63]
PASSWORD = "correct horse battery"


@pytest.fixture
def gateway():
    return InMemoryGateway()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request, app_config, gateway, tmp_path):
    """The app on SQLite, then on PostgreSQL."""
    from webapp import create_app
    from webapp.extensions import limiter

    if request.param == "sqlite":
        config = dict(app_config)
    else:
        from tests.conftest import base_config

        config = base_config(request.getfixturevalue("pg_database_url"), tmp_path)
    config["GATEWAY_FACTORY"] = lambda creds: gateway
    config["RATELIMIT_ENABLED"] = False
    made = create_app(config)
    _test_routes(made)
    limiter.reset()
    yield made
    db.session.remove()
    db.engine.dispose()


class _Duplicate(Exception):
    sqlstate = "23505"  # unique_violation


class _NotNull(Exception):
    sqlstate = "23502"  # not_null_violation: a bug


def _test_routes(app):
    """Views that meet database errors nobody expected (added before the first request)."""
    from sqlalchemy.exc import IntegrityError

    from webapp.booking.models import Offering

    @app.get("/api/v1/_test_duplicate")
    def _duplicate():
        raise IntegrityError("INSERT", {}, _Duplicate())

    @app.get("/api/v1/_test_bug")
    def _bug():
        raise IntegrityError("INSERT", {}, _NotNull())

    @app.post("/api/v1/_test_overflow/<int:offering_id>")
    def _overflow(offering_id):
        offering = db.session.get(Offering, offering_id)
        offering.amount_minor = 2**63
        db.session.commit()
        return "kept", 200

    from webapp.extensions import csrf

    csrf.exempt(_overflow)


_n = iter(range(1, 10**6))


@pytest.fixture
def seller(client):
    """A freelancer with a complete profile, availability, an offering and a sent quote."""
    n = next(_n)
    who = {"email": f"bad{n}@example.test", "password": PASSWORD}
    signed = client.post(
        "/api/v1/signup", json={**who, "display_name": f"Bad {n}", "slug": f"bad-input-{n}"}
    )
    assert signed.status_code == 201, signed.get_json()
    token = client.post("/api/v1/tokens", json=who).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.patch("/api/v1/me", headers=headers, json=PROFILE).status_code == 200
    client.put(
        "/api/v1/availability",
        json={"timezone": "UTC", "weekly": ALL_WEEK, "exceptions": []},
        headers=headers,
    )
    offering = client.post(
        "/api/v1/offerings",
        headers=headers,
        json={
            "title": "Call",
            "duration_minutes": 60,
            "amount_minor": 10_000,
            "currency": "EUR",
            "payment_policy": "prepay",
        },
    )
    assert offering.status_code == 201, offering.get_json()
    quote = client.post("/api/v1/quotes", headers=headers, json=quote_body()).get_json()
    client.post(f"/api/v1/quotes/{quote['id']}/send", headers=headers)
    return {
        **who,
        "slug": f"bad-input-{n}",
        "headers": headers,
        "offering": offering.get_json(),
        "quote": quote,
    }


def log_in(client, who):
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    data = {"email": who["email"], "password": who["password"]}
    if match:
        data["csrf_token"] = match.group(1)
    assert client.post("/login", data=data).status_code == 302


# --- 1. ids ---------------------------------------------------------------------------

API_SAMPLE = [
    ("get", "/api/v1/quotes/{id}"),
    ("patch", "/api/v1/quotes/{id}"),
    ("post", "/api/v1/milestones/{id}/cancel"),
    ("get", "/api/v1/offerings/{id}"),
    ("get", "/api/v1/bookings/{id}"),
    ("post", "/api/v1/bookings/{id}/cancel"),
    ("get", "/api/v1/invoices/{id}"),
    ("get", "/api/v1/messages/{id}"),
    ("get", "/api/v1/dunning/cases/{id}"),
    ("get", "/api/v1/public/bookings/{id}?manage_token=x"),
    ("get", "/api/v1/public/freelancers/{slug}/offerings/{id}/slots?from=2030-01-01&to=2030-01-02"),
]
PAGE_SAMPLE = [
    "/quotes/{id}",
    "/quotes/{id}/edit",
    "/sessions/offerings/{id}",
    "/sessions/bookings/{id}",
    "/invoices/{id}",
    "/messages/{id}",
    "/dunning/cases/{id}",
    "/b/{id}/manage?token=x",
]


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize("method, path", API_SAMPLE)
def test_api_ids_out_of_range_are_404(client, seller, method, path, big):
    url = path.format(id=big, slug=seller["slug"])
    answer = getattr(client, method)(url, headers=seller["headers"], json={})
    assert answer.status_code == 404, answer.get_data(as_text=True)
    assert answer.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize("path", PAGE_SAMPLE)
def test_page_ids_out_of_range_are_404(client, seller, path, big):
    log_in(client, seller)
    answer = client.get(path.format(id=big))
    assert answer.status_code == 404
    # the same page with a real id opens (the route exists, only the id is refused)
    assert client.get(f"/sessions/offerings/{seller['offering']['id']}").status_code == 200


def _int_rules():
    from werkzeug.routing import IntegerConverter

    from webapp import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    rules = []
    for rule in app.url_map.iter_rules():
        if not any(isinstance(c, IntegerConverter) for c in rule._converters.values()):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            rules.append((method, rule.rule))
    return rules


INT_RULES = _int_rules()


def test_every_int_route_is_covered():
    assert len(INT_RULES) >= 60


@pytest.mark.parametrize("method, rule", INT_RULES)
def test_every_int_route_survives_a_huge_id(client, seller, method, rule):
    log_in(client, seller)

    def fill(match: re.Match[str]) -> str:
        converter = match.group(1) or ""
        if converter.startswith("int"):
            return str(2**63)
        return seller["slug"] if match.group(2) == "slug" else "x"

    url = re.sub(r"<(?:([a-z]+(?:\([^)]*\))?):)?([a-z_]+)>", fill, rule)
    answer = client.open(url, method=method, headers=seller["headers"], json={})
    assert answer.status_code < 500, (method, url, answer.get_data(as_text=True)[:300])


def test_body_ids_out_of_range_are_422(client, seller):
    start = (date.today() + timedelta(days=3)).isoformat() + "T10:00:00+00:00"
    for big in (2**31, 2**40, 2**63):
        answer = client.post(
            f"/api/v1/public/freelancers/{seller['slug']}/bookings",
            json={
                "offering_id": big,
                "start": start,
                "client": {"name": "C", "email": "c@example.test"},
            },
        )
        assert answer.status_code == 422, answer.get_json()
        assert "offering_id" in answer.get_json()["error"]["fields"]
    token = seller["quote"]["public_token"]
    answer = client.post(
        f"/api/v1/public/quotes/{token}/accept/confirm", json={"acceptance_id": 2**63}
    )
    assert answer.status_code == 422
    assert "acceptance_id" in answer.get_json()["error"]["fields"]


def test_huge_amounts_in_bodies_are_422(client, seller):
    answer = client.put(
        "/api/v1/messages/settings",
        headers=seller["headers"],
        json={
            "enabled": True,
            "price_minor": 1000,
            "currency": "eur",
            "urgent_price_minor": 2000,
            "urgent_delay_hours": 2**63,
        },
    )
    assert answer.status_code == 422, answer.get_json()


# --- 2. NUL and lone surrogates ---------------------------------------------------------

# NUL, lone surrogates, and the control characters no XML document (Factur-X) can carry.
BAD = ["nul\u0000byte", "lone \ud800 surrogate", "\udfff", "bell\u0007", "Qc\u0011k\u001a"]


def _raw_json(client, method, url, body: dict[str, Any], headers=None):
    """`json.dumps` writes a lone surrogate as the escape `\\ud800` (valid JSON)."""
    import json

    return client.open(
        url,
        method=method,
        data=json.dumps(body),
        content_type="application/json",
        headers=headers or {},
    )


def _refused(answer, field):
    assert answer.status_code == 422, answer.get_data(as_text=True)
    error = answer.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"], error


@pytest.mark.parametrize("bad", BAD)
def test_tokens_refuse_bad_strings(client, seller, bad):
    _refused(_raw_json(client, "POST", "/api/v1/tokens", {"email": bad, "password": "x"}), "email")
    _refused(
        _raw_json(client, "POST", "/api/v1/tokens", {"email": seller["email"], "password": bad}),
        "password",
    )


@pytest.mark.parametrize("bad", BAD)
def test_offering_title_profile_and_quote_refuse_bad_strings(client, seller, bad):
    headers = seller["headers"]
    oid = seller["offering"]["id"]
    _refused(
        _raw_json(client, "PATCH", f"/api/v1/offerings/{oid}", {"title": bad}, headers), "title"
    )
    assert client.get(f"/api/v1/offerings/{oid}", headers=headers).get_json()["title"] == "Call"
    _refused(
        _raw_json(client, "PATCH", "/api/v1/me", {"display_name": bad}, headers), "display_name"
    )
    assert client.get("/api/v1/me", headers=headers).get_json()["display_name"].startswith("Bad ")
    body = quote_body()
    body["client"]["name"] = bad
    _refused(_raw_json(client, "POST", "/api/v1/quotes", body, headers), "client.name")
    body = quote_body()
    body["lines"][0]["description"] = bad
    _refused(_raw_json(client, "POST", "/api/v1/quotes", body, headers), "lines.0.description")
    qid = seller["quote"]["id"]
    _refused(_raw_json(client, "PATCH", f"/api/v1/quotes/{qid}", {"title": bad}, headers), "title")
    quote = client.get(f"/api/v1/quotes/{qid}", headers=headers).get_json()
    assert quote["title"] == "Refonte du site"
    assert len(client.get("/api/v1/quotes", headers=headers).get_json()["quotes"]) == 1


@pytest.mark.parametrize("bad", BAD)
def test_public_booking_refuses_bad_strings(client, seller, bad):
    start = (date.today() + timedelta(days=3)).isoformat() + "T10:00:00+00:00"
    answer = _raw_json(
        client,
        "POST",
        f"/api/v1/public/freelancers/{seller['slug']}/bookings",
        {
            "offering_id": seller["offering"]["id"],
            "start": start,
            "client": {"name": bad, "email": "c@example.test"},
        },
    )
    _refused(answer, "client.name")


def test_a_page_form_refuses_nul(client, seller):
    log_in(client, seller)
    oid = seller["offering"]["id"]
    answer = client.post(
        f"/sessions/offerings/{oid}", data={"title": "a\u0000b", "duration_minutes": "60"}
    )
    assert answer.status_code == 422
    assert "title" in answer.get_data(as_text=True)
    answer = client.post("/login", data={"email": "\u0000", "password": "x"})
    assert answer.status_code == 422
    headers = seller["headers"]
    assert client.get(f"/api/v1/offerings/{oid}", headers=headers).get_json()["title"] == "Call"


def test_a_page_form_with_surrogate_bytes_is_no_500(client, seller):
    """A form cannot carry a lone surrogate: its UTF-8-like bytes decode to U+FFFD."""
    log_in(client, seller)
    answer = client.post(
        "/login",
        data=b"email=%ED%A0%80&password=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code < 500


@pytest.mark.parametrize("bad", ["a\u0000b", "\ud800"])
def test_bad_strings_in_query_and_path_are_refused(client, seller, bad):
    from urllib.parse import quote

    answer = client.get(
        f"/api/v1/public/bookings/1?manage_token={quote(bad, errors='surrogatepass')}"
    )
    assert answer.status_code in (404, 422)
    answer = client.get(f"/api/v1/public/quotes/{quote(bad, errors='surrogatepass')}")
    assert answer.status_code in (404, 422)
    answer = client.get("/q/a%00b")
    assert answer.status_code == 404


# --- 3. dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first, last",
    [("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31"), ("0001-01-01", "0001-01-01")],
)
def test_slots_far_away_dates_are_400(client, seller, first, last):
    url = (
        f"/api/v1/public/freelancers/{seller['slug']}/offerings/{seller['offering']['id']}/slots"
        f"?from={first}&to={last}&tz=Pacific/Kiritimati"
    )
    answer = client.get(url)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert set(answer.get_json()["error"]["fields"]) & {"from", "to"}


def test_booking_and_quote_dates_are_bounded(client, seller):
    answer = client.post(
        f"/api/v1/public/freelancers/{seller['slug']}/bookings",
        json={
            "offering_id": seller["offering"]["id"],
            "start": "9999-12-31T23:00:00-12:00",
            "client": {"name": "C", "email": "c@example.test"},
        },
    )
    _refused(answer, "start")
    qid = seller["quote"]["id"]
    answer = client.patch(
        f"/api/v1/quotes/{qid}", headers=seller["headers"], json={"valid_until": "9999-12-31"}
    )
    _refused(answer, "valid_until")


# --- 4. partial quote updates -------------------------------------------------------------


def test_patch_quote_with_only_a_title_keeps_the_rest(client, seller):
    qid = seller["quote"]["id"]
    headers = seller["headers"]
    before = client.get(f"/api/v1/quotes/{qid}", headers=headers).get_json()
    answer = client.patch(f"/api/v1/quotes/{qid}", headers=headers, json={"title": "New title"})
    assert answer.status_code == 200, answer.get_json()
    after = answer.get_json()
    assert after["title"] == "New title"
    assert [m["amount_minor"] for m in after["milestones"]] == [
        m["amount_minor"] for m in before["milestones"]
    ]


def test_patch_quote_with_only_a_client_field_keeps_the_others(client, seller):
    qid = seller["quote"]["id"]
    headers = seller["headers"]
    answer = client.patch(
        f"/api/v1/quotes/{qid}", headers=headers, json={"client": {"name": "  Claire Renamed "}}
    )
    assert answer.status_code == 200, answer.get_json()
    quote = client.get(f"/api/v1/quotes/{qid}", headers=headers).get_json()
    text = str(quote)
    assert "Claire Renamed" in text and "claire@example.test" in text
    answer = client.patch(
        f"/api/v1/quotes/{qid}", headers=headers, json={"client": {"siret": "73282932000074"}}
    )
    assert answer.status_code == 200, answer.get_json()
    answer = client.patch(
        f"/api/v1/quotes/{qid}",
        headers=headers,
        json={"milestones": [{"title": "All", "percent": 100}]},
    )
    _refused(answer, "milestones")  # a milestone given is a whole milestone (its trigger)


# --- 5. concurrent signing ------------------------------------------------------------------


def _parallel(fn, n):
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i):
        barrier.wait()
        results[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_five_clients_signing_at_once_give_one_acceptance(app, client, seller, gateway):
    token = seller["quote"]["public_token"]

    def sign_and_confirm(i):
        c = app.test_client()
        signed = c.post(
            f"/api/v1/public/quotes/{token}/accept",
            json={"signer_name": f"Signer {i}", "accept_terms": True},
        )
        if signed.status_code != 200:
            return ("accept", signed.status_code)
        body = signed.get_json()
        gateway.confirm_setup_intent(
            body["setup_intent_client_secret"].split("_secret_")[0], "pm_card_visa"
        )
        confirmed = c.post(
            f"/api/v1/public/quotes/{token}/accept/confirm",
            json={"acceptance_id": body["acceptance_id"]},
        )
        return ("confirm", confirmed.status_code)

    results = _parallel(sign_and_confirm, 5)
    assert all(status < 500 for _, status in results), results
    assert all(status in (200, 409) for _, status in results), results
    with app.app_context():
        accepted = db.session.scalar(
            select(func.count()).where(QuoteAcceptance.status == "accepted")
        )
        deposits = db.session.scalar(select(func.count()).select_from(Payment))
    assert accepted == 1 and deposits == 1, results


# --- 6. database refusals nobody expected -----------------------------------------------------


def test_a_unique_violation_is_a_409_in_the_error_shape(client):
    """A duplicate the code did not check first is a 409 `conflict`; a real bug stays a 500."""
    from sqlalchemy.exc import IntegrityError

    from webapp.errors import input_db_error

    assert input_db_error(IntegrityError("INSERT", {}, _Duplicate()))[0] == 409
    assert input_db_error(IntegrityError("INSERT", {}, _NotNull())) is None
    answer = client.get("/api/v1/_test_duplicate")
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "conflict"
    assert client.get("/api/v1/_test_bug").status_code == 500


def test_an_integer_the_database_cannot_hold_is_422(client, seller):
    """A value past a column's range that no schema bounded: 422 in the error shape."""
    oid = seller["offering"]["id"]
    answer = client.post(f"/api/v1/_test_overflow/{oid}")
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.get_json()["error"]["code"] == "validation_error"
    offering = client.get(f"/api/v1/offerings/{oid}", headers=seller["headers"]).get_json()
    assert offering["amount_minor"] == 10_000
