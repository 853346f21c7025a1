"""Each dunning step happens once when two workers sweep at the same time (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from billing import cards, payments
from billing.dunning.models import DunningCase, DunningStep
from billing.gateway.memory import InMemoryGateway
from billing.money import Money
from billing.payments import Subject
from tests.conftest import base_config
from webapp import create_app
from webapp.mail.models import OutboundEmail

pytestmark = pytest.mark.postgres

PROFILE = {
    "legal_name": "Atelier Dupont EI",
    "siret": "73282932000074",
    "legal_form": "ei",
    "address": "12 rue des Lilas, 75011 Paris",
    "iban": "FR1420041010050500013M02606",
    "bic": "PSSTFRPPPAR",
}


@pytest.fixture
def pg_dunning_app(pg_database_url, tmp_path):
    from webapp.extensions import db, limiter

    gateway = InMemoryGateway()
    app = create_app(
        {**base_config(pg_database_url, tmp_path), "GATEWAY_FACTORY": lambda creds: gateway}
    )
    limiter.reset()
    yield app
    db.session.remove()
    db.engine.dispose()


def test_two_workers_sweep_each_step_once(pg_dunning_app):
    from webapp.due import run_due
    from webapp.extensions import db
    from webapp.stripe_connect import gateway

    app = pg_dunning_app
    client = app.test_client()
    body = {
        "email": "pg@example.test",
        "password": "correct horse battery",
        "display_name": "PG",
        "slug": "pg-dunning",
    }
    assert client.post("/api/v1/signup", json=body).status_code == 201
    token = client.post(
        "/api/v1/tokens", json={"email": body["email"], "password": body["password"]}
    )
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    assert client.patch("/api/v1/me", json=PROFILE, headers=headers).status_code == 200

    # given a failed off-session charge (a case with its J+0 notice)
    with app.app_context():
        session = db.session
        freelancer_id = client.get("/api/v1/me", headers=headers).get_json()["id"]
        gw = gateway(freelancer_id)
        customer = cards.ensure_customer(
            session, gw, freelancer_id=freelancer_id, email="c@example.test", name="C"
        )
        payment = payments.prepare_payment(
            session,
            customer=customer,
            subject=Subject("booking", "5"),
            purpose="balance",
            amount=Money(500_00, "eur"),
            payment_method_id="pm_card_chargeCustomerFail",
            capture_method="automatic",
            off_session=True,
        )
        session.commit()
        payments.execute_payment(session, gw, payment.id)
        session.commit()
        anchor = session.scalars(select(DunningCase)).one().anchor_at

    # when two workers run the due work at the same instant, for each milestone day
    for day in (1, 7, 15, 30, 45):
        errors: list[BaseException] = []
        barrier = threading.Barrier(2)

        def worker(when=anchor + timedelta(days=day), barrier=barrier, errors=errors):
            try:
                with app.app_context():
                    barrier.wait()
                    run_due(when)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []

    # then every step exists once, one retry payment was made, one e-mail per reminder
    with app.app_context():
        session = db.session
        steps = session.execute(
            select(DunningStep.step, func.count()).group_by(DunningStep.step)
        ).all()
        assert all(n == 1 for _, n in steps)
        assert {s for s, _ in steps} >= {
            "notice",
            "retry_1",
            "friendly",
            "formal",
            "formal_notice",
            "recourse",
        }
        retries = session.scalar(
            select(func.count()).where(payments.Payment.purpose == "dunning_retry")
        )
        assert retries == 2  # retry_1 at J+1, retry_3 at J+7 (retry_2 skipped as late)
        to_client = session.scalar(
            select(func.count()).where(OutboundEmail.to_addr == "c@example.test")
        )
        assert to_client == 4  # notice, friendly, formal, mise en demeure
