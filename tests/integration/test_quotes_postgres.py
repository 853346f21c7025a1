"""Concurrency on PostgreSQL: two accepts, two workers — one acceptance, one charge each."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from billing.db import utcnow
from billing.gateway.memory import InMemoryGateway
from billing.models import Payment
from tests.integration.test_quotes import PROFILE, quote_body
from webapp.extensions import db
from webapp.quotes.models import QuoteAcceptance

pytestmark = pytest.mark.postgres


@pytest.fixture
def gateway():
    return InMemoryGateway()


@pytest.fixture
def pg(pg_app, gateway):
    pg_app.config["GATEWAY_FACTORY"] = lambda creds: gateway
    return pg_app


def _setup(pg, gateway):
    client = pg.test_client()
    client.post(
        "/api/v1/signup",
        json={
            "email": "pg@example.test",
            "password": "correct horse battery",
            "display_name": "P",
            "slug": "pg-quotes",
        },
    )
    token = client.post(
        "/api/v1/tokens", json={"email": "pg@example.test", "password": "correct horse battery"}
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    client.patch("/api/v1/me", headers=headers, json=PROFILE)
    quote = client.post("/api/v1/quotes", headers=headers, json=quote_body()).get_json()
    client.post(f"/api/v1/quotes/{quote['id']}/send", headers=headers)
    return client, headers, quote


def _parallel(fn, n=2):
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        barrier.wait()
        results[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_concurrent_accepts_give_one_acceptance_and_one_deposit(pg, gateway):
    client, _headers, quote = _setup(pg, gateway)
    token = quote["public_token"]
    signed = []
    for name in ("Claire", "Claude"):
        s = client.post(
            f"/api/v1/public/quotes/{token}/accept",
            json={"signer_name": name, "accept_terms": True},
        ).get_json()
        gateway.confirm_setup_intent(
            s["setup_intent_client_secret"].split("_secret_")[0], "pm_card_visa"
        )
        signed.append(s)

    def confirm(i):
        return (
            pg.test_client()
            .post(
                f"/api/v1/public/quotes/{token}/accept/confirm",
                json={"acceptance_id": signed[i]["acceptance_id"]},
            )
            .status_code
        )

    assert _parallel(confirm) == [200, 200]
    with pg.app_context():
        accepted = db.session.scalar(
            select(func.count()).where(QuoteAcceptance.status == "accepted")
        )
        deposits = db.session.scalar(select(func.count()).select_from(Payment))
    assert accepted == 1 and deposits == 1
    assert len([c for c in gateway.calls if c[0] == "create_payment_intent"]) == 1


def test_two_workers_at_once_charge_a_milestone_once(pg, gateway):
    client, headers, quote = _setup(pg, gateway)
    token = quote["public_token"]
    s = client.post(
        f"/api/v1/public/quotes/{token}/accept",
        json={"signer_name": "Claire", "accept_terms": True},
    ).get_json()
    gateway.confirm_setup_intent(
        s["setup_intent_client_secret"].split("_secret_")[0], "pm_card_visa"
    )
    client.post(f"/api/v1/public/quotes/{token}/accept/confirm", json={})
    for m in quote["milestones"][1:]:
        client.post(f"/api/v1/milestones/{m['id']}/deliver", headers=headers, json={"note": "x"})
        client.post(f"/api/v1/public/milestones/{m['id']}/approve", json={"token": token})
    from webapp.due import run_due

    def work(_i):
        with pg.app_context():
            return run_due(utcnow() + timedelta(minutes=1))

    _parallel(work, n=4)
    with pg.app_context():
        rows = db.session.scalars(select(Payment).order_by(Payment.id)).all()
    assert [p.amount_minor for p in rows] == [30_000, 40_000, 30_000]
    assert all(p.status == "succeeded" for p in rows)
    assert len({k for n, k in gateway.calls if n == "create_payment_intent"}) == 3
