"""Sign-up, tokens and the business profile over the JSON API."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.accounts.models import ApiToken, Freelancer, hash_token

VALID_SIRET = "73282932000074"
VALID_IBAN = "FR7630006000011234567890189"


def test_signup_then_token_then_me(client, make_freelancer):
    # given a freelancer signed up through the API
    freelancer = make_freelancer(slug="marie-dupont", display_name="Marie Dupont")
    # when they read their profile with the bearer token
    me = client.get("/api/v1/me", headers=freelancer["headers"])
    # then it is theirs, with the French defaults
    assert me.status_code == 200
    body = me.get_json()
    assert body["slug"] == "marie-dupont"
    assert body["timezone"] == "Europe/Paris"
    assert body["currency"] == "eur"
    assert body["vat_regime"] == "franchise"
    assert body["penalty_rate"] is None


def test_token_is_stored_hashed(client, make_freelancer, db_session):
    freelancer = make_freelancer()
    stored = db_session.scalars(select(ApiToken.token_hash)).all()
    assert freelancer["token"] not in stored
    assert hash_token(freelancer["token"]) in stored


def test_password_is_argon2id(make_freelancer, db_session):
    make_freelancer(email="argon@example.test")
    row = db_session.scalar(select(Freelancer).where(Freelancer.email == "argon@example.test"))
    assert row.password_hash.startswith("$argon2id$")


def test_duplicate_email_and_slug_conflict(client, make_freelancer, db_session):
    make_freelancer(email="taken@example.test", slug="taken-slug")
    answer = client.post(
        "/api/v1/signup",
        json={
            "email": "TAKEN@example.test",
            "password": "another long password",
            "display_name": "Other",
            "slug": "taken-slug",
        },
    )
    assert answer.status_code == 409
    assert set(answer.get_json()["error"]["fields"]) == {"email", "slug"}
    assert db_session.scalar(select(func.count(Freelancer.id))) == 1


def test_wrong_password_gets_401(client, make_freelancer):
    freelancer = make_freelancer()
    answer = client.post(
        "/api/v1/tokens", json={"email": freelancer["email"], "password": "wrong password!"}
    )
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "invalid_credentials"


def test_patch_profile_valid(client, make_freelancer):
    freelancer = make_freelancer()
    answer = client.patch(
        "/api/v1/me",
        headers=freelancer["headers"],
        json={
            "legal_name": "Marie Dupont EI",
            "siret": "732 829 320 00074",
            "iban": "FR76 3000 6000 0112 3456 7890 189",
            "bic": "AGRIFRPP",
            "vat_regime": "vat",
            "vat_rate": 20,
            "penalty_rate": "13.15",
            "payment_terms_days": 45,
            "timezone": "America/Montreal",
            "currency": "CAD",
        },
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["siret"] == VALID_SIRET
    assert body["iban"] == VALID_IBAN
    assert body["vat_rate"] == 20
    assert body["penalty_rate"] == 13.15
    assert body["currency"] == "cad"


def test_vat_number_is_validated_and_compacted(client, make_freelancer):
    freelancer = make_freelancer()
    bad = client.patch(
        "/api/v1/me", headers=freelancer["headers"], json={"vat_number": "FR40303265046"}
    )
    assert bad.status_code == 422
    assert "vat_number" in bad.get_json()["error"]["fields"]
    good = client.patch(
        "/api/v1/me", headers=freelancer["headers"], json={"vat_number": "fr 40 303 265 045"}
    )
    assert good.status_code == 200
    assert good.get_json()["vat_number"] == "FR40303265045"


# --- issue 11: the legal identity on the profile ------------------------------------


@pytest.mark.parametrize("rate, status", [("7.85", 422), ("7.86", 200), (None, 200)])
def test_L441_10_contractual_rate_below_three_times_the_legal_rate_is_refused(
    client, make_freelancer, rate, status
):
    # 3 × 2.62 % (the legal rate of 2026 H1, the latest published in the table)
    f = make_freelancer()
    answer = client.patch("/api/v1/me", json={"penalty_rate": rate}, headers=f["headers"])
    assert answer.status_code == status, answer.get_json()
    if status == 422:
        assert "penalty_rate" in answer.get_json()["error"]["fields"]


def test_profile_legal_identity_round_trip(client, make_freelancer):
    f = make_freelancer()
    body = {
        "legal_form": "sasu",
        "share_capital_minor": 100_000,
        "registration": "RCS Lyon 732 829 320",
        "insurance": "MMA, contrat 42",
        "mediator": "CM2C, www.cm2c.net",
        "vat_on_debits": True,
        "activity": "mixed",
        "reply_to": "compta@example.test",
        "postal_address": {
            "line1": "3 avenue Foch",
            "postal_code": "69006",
            "city": "Lyon",
            "country": "fr",
        },
    }
    answer = client.patch("/api/v1/me", json=body, headers=f["headers"])
    assert answer.status_code == 200, answer.get_json()
    me = client.get("/api/v1/me", headers=f["headers"]).get_json()
    assert {k: me[k] for k in body if k != "postal_address"} == {
        k: v for k, v in body.items() if k != "postal_address"
    }
    assert me["postal_address"] == {**body["postal_address"], "country": "FR", "line2": ""}
    # a company still lacks its legal name and SIRET for invoicing, and is told so
    assert set(me["missing_for_invoicing"]) == {"legal_name", "siret"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"legal_form": "gmbh"}, "legal_form"),
        ({"activity": "software"}, "activity"),
        ({"share_capital_minor": -1}, "share_capital_minor"),
        ({"share_capital_minor": 1.5}, "share_capital_minor"),
        ({"reply_to": "not-an-address"}, "reply_to"),
        (
            {"postal_address": {"line1": "x", "postal_code": "7500", "city": "P", "country": "FR"}},
            "postal_address",
        ),
        ({"postal_address": {"line1": "x", "postal_code": "75001", "city": "P"}}, "postal_address"),
        ({"vat_on_debits": "maybe"}, "vat_on_debits"),
    ],
)
def test_profile_legal_identity_bad_input_is_422(client, make_freelancer, body, field):
    f = make_freelancer()
    answer = client.patch("/api/v1/me", json=body, headers=f["headers"])
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["error"]["fields"]
