"""Tenant isolation over every API route, and the contract's error shape everywhere."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from billing.models import Event
from webapp.accounts.models import Freelancer

# Routes anyone may call. Every other /api/v1 route must demand a bearer token.
PUBLIC_API = {"/api/v1/signup", "/api/v1/tokens", "/api/v1/openapi.json"}
PUBLIC_PREFIXES = ("/api/v1/public/",)


def _api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "1", rule.rule)


def test_every_private_api_route_demands_a_token(app, client):
    checked = 0
    for method, path in _api_rules(app):
        if path in PUBLIC_API or path.startswith(PUBLIC_PREFIXES):
            continue
        for headers in ({}, {"Authorization": "Bearer acp_forged"}, {"Authorization": "Basic x"}):
            answer = client.open(path, method=method, json={}, headers=headers)
            assert answer.status_code == 401, (method, path, headers)
            assert answer.get_json()["error"]["code"] == "unauthorized"
        checked += 1
    assert checked >= 5


def test_every_freelancer_page_needs_login(app, client):
    pages = [
        r.rule
        for r in app.url_map.iter_rules()
        if "GET" in r.methods
        and r.endpoint.split(".")[0] in ("accounts", "stripe_connect")
        and r.rule not in ("/", "/login", "/signup", "/<slug>/photo")  # the photo is public
    ]
    assert "/dashboard" in pages and "/profile" in pages
    for page in pages:
        answer = client.get(page)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], page


def test_one_freelancer_never_sees_or_changes_another(client, make_freelancer, db_session):
    alice = make_freelancer(display_name="Alice")
    bob = make_freelancer(display_name="Bob")
    # reading
    assert client.get("/api/v1/me", headers=alice["headers"]).get_json()["display_name"] == "Alice"
    assert client.get("/api/v1/me", headers=bob["headers"]).get_json()["display_name"] == "Bob"
    # writing with Bob's token changes Bob only
    client.patch("/api/v1/me", headers=bob["headers"], json={"legal_name": "Bob SARL"})
    rows = {f.display_name: f.legal_name for f in db_session.scalars(select(Freelancer))}
    assert rows == {"Alice": "", "Bob": "Bob SARL"}
    # Stripe connection status is per freelancer
    status = client.get("/api/v1/stripe-account", headers=alice["headers"]).get_json()
    assert status["connected"] is False


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        ("not json", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        ("email=a", "application/x-www-form-urlencoded", 415),
        (
            '{"email": 5, "password": null, "display_name": "", "slug": "A"}',
            "application/json",
            422,
        ),
        (
            '{"email": "a@b.test", "password": "long enough pw", "display_name": "A",'
            ' "slug": "abc", "extra": 1}',
            "application/json",
            422,
        ),
    ],
)
def test_bad_signup_bodies_get_the_error_shape(client, body, content_type, status, db_session):
    answer = client.post("/api/v1/signup", data=body, content_type=content_type)
    assert answer.status_code == status
    error = answer.get_json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert db_session.scalar(select(Freelancer)) is None


def test_validation_errors_name_each_field(client):
    answer = client.post(
        "/api/v1/signup",
        json={"email": "nope", "password": "short", "display_name": "", "slug": "-x-"},
    )
    assert answer.status_code == 422
    assert set(answer.get_json()["error"]["fields"]) == {
        "email",
        "password",
        "display_name",
        "slug",
    }


@pytest.mark.parametrize(
    "changes, bad_field",
    [
        ({"siret": "73282932000075"}, "siret"),  # Luhn check digit off by one
        ({"siret": "7328293200007"}, "siret"),  # 13 digits
        ({"iban": "FR7630006000011234567890188"}, "iban"),  # checksum
        ({"bic": "AGRI"}, "bic"),
        ({"timezone": "Europe/Pariss"}, "timezone"),
        ({"currency": "eurx"}, "currency"),
        ({"payment_terms_days": 61}, "payment_terms_days"),  # L441-10: 60 days at most
        ({"payment_terms_days": -1}, "payment_terms_days"),
        ({"payment_terms_days": "30"}, "payment_terms_days"),
        ({"vat_rate": 100.01}, "vat_rate"),
        ({"vat_rate": "20.005"}, "vat_rate"),
        ({"vat_rate": True}, "vat_rate"),
        ({"vat_regime": "vat"}, "vat_rate"),  # VAT regime without a rate
        ({"vat_regime": "micro"}, "vat_regime"),
        ({"penalty_rate": -1}, "penalty_rate"),
        ({"slug": "new-slug"}, "slug"),  # read-only
        ({"unknown": 1}, "unknown"),
    ],
)
def test_invalid_profile_changes_nothing(client, make_freelancer, changes, bad_field):
    freelancer = make_freelancer()
    before = client.get("/api/v1/me", headers=freelancer["headers"]).get_json()
    answer = client.patch(
        "/api/v1/me",
        headers=freelancer["headers"],
        json={"legal_name": "Should not be saved", **changes},
    )
    assert answer.status_code == 422, answer.get_json()
    assert bad_field in answer.get_json()["error"]["fields"]
    assert client.get("/api/v1/me", headers=freelancer["headers"]).get_json() == before


def test_profile_boundaries_are_accepted(client, make_freelancer):
    freelancer = make_freelancer()
    for changes in (
        {"payment_terms_days": 60},
        {"payment_terms_days": 0},
        {"vat_regime": "vat", "vat_rate": "5.5"},
        {"vat_rate": 100},
        {"penalty_rate": None},
        {"vat_regime": "franchise"},
    ):
        answer = client.patch("/api/v1/me", headers=freelancer["headers"], json=changes)
        assert answer.status_code == 200, (changes, answer.get_json())
    assert answer.get_json()["vat_rate"] == 0  # franchise resets the rate


def test_profile_changes_are_recorded_as_events(client, make_freelancer, db_session):
    freelancer = make_freelancer()
    client.patch("/api/v1/me", headers=freelancer["headers"], json={"legal_name": "X EI"})
    actions = [
        e.action
        for e in db_session.scalars(
            select(Event)
            .where(Event.subject_type == "freelancer", Event.subject_id == str(freelancer["id"]))
            .order_by(Event.id)
        )
    ]
    assert actions == ["signed_up", "api_token_issued", "profile_updated"]


def test_unknown_api_path_and_method(client):
    assert client.get("/api/v1/nothing-here").get_json()["error"]["code"] == "not_found"
    answer = client.delete("/api/v1/signup")
    assert answer.status_code == 405
    assert answer.get_json()["error"]["code"] == "method_not_allowed"


def test_oversized_body_is_refused(client):
    answer = client.post(
        "/api/v1/signup", data="x" * (9 * 1024 * 1024), content_type="application/json"
    )
    assert answer.status_code == 413


def test_openapi_lists_every_documented_route(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {"/signup", "/tokens", "/me", "/stripe-account"} <= set(spec["paths"])
    assert spec["paths"]["/me"]["patch"]["security"] == [{"bearer": []}]


def test_no_two_views_answer_the_same_path_and_method(app):
    seen: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            key = (rule.rule, method)
            assert key not in seen, f"{key} is served by {seen.get(key)} and {rule.endpoint}"
            seen[key] = rule.endpoint
    # a placeholder-only path (e.g. /m/<token> and /m/<id>) also shadows another feature's
    shapes: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        shape = re.sub(r"<[^>]+>", "<>", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            key = (shape, method)
            assert key not in shapes or shapes[key] == rule.endpoint, (key, shapes[key], rule)
            shapes[key] = rule.endpoint


def test_a_freelancer_slug_never_shadows_an_app_path(app):
    from webapp.accounts.schemas import RESERVED_SLUGS

    first_segments = {
        rule.rule.strip("/").split("/")[0]
        for rule in app.url_map.iter_rules()
        if rule.rule.strip("/") and not rule.rule.strip("/").startswith("<")
    }
    # slugs are at least 3 characters: shorter segments (/b, /m, /q) cannot clash
    clashing = {s for s in first_segments if len(s) >= 3} - RESERVED_SLUGS
    assert not clashing, f"add to RESERVED_SLUGS: {sorted(clashing)}"


def test_a_405_says_which_methods_the_path_allows(client):
    # given a path that exists for other methods
    answer = client.delete("/api/v1/tokens")
    # then the 405 names them (RFC 9110), in the error shape
    assert answer.status_code == 405
    assert answer.get_json()["error"]["code"] == "method_not_allowed"
    allowed = {m.strip() for m in answer.headers["Allow"].split(",")}
    assert {"GET", "POST"} <= allowed
    page = client.put("/login")
    assert page.status_code == 405 and "GET" in page.headers["Allow"]


def test_the_openapi_document_is_valid_openapi(client):
    from openapi_spec_validator import validate

    # given the document fuzzers and client generators read
    spec = client.get("/api/v1/openapi.json").get_json()
    # then it validates against the OpenAPI schema (bounds are numbers, not strings)
    validate(spec)
    offering = spec["components"]["schemas"]["Offering"]["properties"]
    assert offering["deposit_percent"]["maximum"] == 100
