"""The quote pages: editor (422 on bad figures), detail, client page, PDF, milestone page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from billing.gateway.memory import InMemoryGateway
from tests.integration.test_quotes import PROFILE, accept
from webapp.extensions import db
from webapp.quotes.models import Quote


@pytest.fixture
def gateway():
    return InMemoryGateway()


@pytest.fixture
def app_config(app_config, gateway):
    return {**app_config, "GATEWAY_FACTORY": lambda creds: gateway}


def _csrf(client, path):
    return re.search(
        r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)
    ).group(1)


@pytest.fixture
def logged_in(client, make_freelancer):
    made = make_freelancer()
    client.patch("/api/v1/me", headers=made["headers"], json=PROFILE)
    answer = client.post(
        "/login",
        data={
            "email": made["email"],
            "password": made["password"],
            "csrf_token": _csrf(client, "/login"),
        },
    )
    assert answer.status_code == 302
    return made


FORM = {
    "title": "Logo",
    "currency": "eur",
    "client_name": "Claire",
    "client_email": "claire@example.test",
    "line-0-description": "Logo",
    "line-0-quantity": "1",
    "line-0-unit": "1 000,00",
    "ms-0-title": "Acompte",
    "ms-0-percent": "40",
    "ms-0-trigger": "on_acceptance",
    "ms-1-title": "Livraison",
    "ms-1-amount": "600,00",
    "ms-1-trigger": "on_approval",
}


def test_editor_refuses_a_schedule_one_cent_off_with_422_then_saves(
    app, client, logged_in, gateway
):
    token = _csrf(client, "/quotes/new")
    bad = client.post("/quotes/new", data={**FORM, "ms-1-amount": "600,01", "csrf_token": token})
    assert bad.status_code == 422
    said = re.sub(r"[\u00a0\u202f]", " ", bad.get_data(as_text=True))
    assert "Les jalons font 1 000,01 € sur 1 000,00 €" in said  # in words (issue 15)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Quote)) == 0
    good = client.post("/quotes/new", data={**FORM, "csrf_token": token})
    assert good.status_code == 302
    detail = client.get(good.headers["Location"])
    assert detail.status_code == 200 and "Logo" in detail.get_data(as_text=True)
    with app.app_context():
        quote = db.session.scalar(select(Quote))
        assert quote.total_minor == 100_000
        quote_id = quote.id
    # send from the page, then the client's page and PDF
    client.post(f"/quotes/{quote_id}/send", data={"csrf_token": token})
    api = client.get(f"/api/v1/quotes/{quote_id}", headers=logged_in["headers"]).get_json()
    public = client.get(f"/q/{api['public_token']}")
    assert public.status_code == 200 and "accept-form" in public.get_data(as_text=True)
    accept(client, gateway, api["public_token"])
    pdf = client.get(f"/q/{api['public_token']}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert client.get("/q/q_forged").status_code == 404
    assert client.get("/milestones/m_forged").status_code == 404
