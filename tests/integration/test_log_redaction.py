"""Client tokens never reach the logs; stored e-mails lose their links after the retention."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from billing.db import utcnow
from billing.models import Event
from webapp.extensions import db
from webapp.mail.due import REDACTED_NOTE
from webapp.mail.models import OutboundEmail

TOKEN = "q_" + "Zx9-" * 10 + "abc"  # the shape of `new_token("q")`


def _boom(token: str):
    raise RuntimeError(f"cannot show quote {token}")


def _bad_query(token: str):
    db.session.execute(text("SELECT * FROM no_such_table WHERE t = :t"), {"t": token})


@pytest.mark.parametrize("view", [_boom, _bad_query])
def test_a_500_on_a_client_link_logs_the_endpoint_not_the_token(app, client, caplog, view):
    app.view_functions["api.public_quote"] = view
    caplog.set_level(logging.INFO)
    answer = client.get(f"/api/v1/public/quotes/{TOKEN}?lang=en")
    assert answer.status_code == 500
    assert answer.get_json()["error"]["code"] == "internal_error"
    logged = caplog.text
    assert "unhandled error on GET api.public_quote (token=[redacted])" in logged
    assert TOKEN not in logged and TOKEN[2:20] not in logged
    assert "/public/quotes" not in logged


def test_a_500_on_a_page_logs_ids_but_not_the_token(app, client, caplog):
    def broken(token: str, milestone_id: int, action: str):
        raise RuntimeError(f"no milestone {milestone_id} on {token}")

    app.view_functions["quotes_public.quote_milestone_action"] = broken
    answer = client.post(f"/q/{TOKEN}/milestones/7/approve", data={})
    # CSRF is on for pages: switch it off for this view to reach it.
    if answer.status_code == 400:
        app.config["WTF_CSRF_ENABLED"] = False
        answer = client.post(f"/q/{TOKEN}/milestones/7/approve", data={})
    assert answer.status_code == 500
    assert "(action=approve, milestone_id=7, token=[redacted])" in caplog.text
    assert TOKEN not in caplog.text


# --- stored e-mails ----------------------------------------------------------

PROFILE = {
    "legal_name": "Marie Dupont EI",
    "siret": "73282932000074",
    "legal_form": "ei",
    "address": "1 rue de la Paix, 75002 Paris",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
}
QUOTE = {
    "title": "Refonte du site",
    "currency": "eur",
    "client": {
        "name": "Claire Client",
        "email": "claire@example.test",
        "is_business": True,
        "company": "Client SAS",
        "siren": "552032534",
        "postal_address": {
            "line1": "3 avenue Foch",
            "postal_code": "69006",
            "city": "Lyon",
            "country": "FR",
        },
    },
    "terms": "Annulation : l'acompte reste dû.",
    "lines": [{"description": "Design", "quantity": 1, "unit_amount_minor": 100_000}],
    "milestones": [{"title": "Tout", "percent": 100, "trigger": "on_acceptance"}],
}


@pytest.fixture
def app_config(app_config):
    from billing.gateway.memory import InMemoryGateway

    gateway = InMemoryGateway()
    return {**app_config, "GATEWAY_FACTORY": lambda creds: gateway, "SHOW_OUTBOX": True}


def _sent_quote(client, make_freelancer) -> str:
    who = make_freelancer()
    assert client.patch("/api/v1/me", headers=who["headers"], json=PROFILE).status_code == 200
    quote = client.post("/api/v1/quotes", headers=who["headers"], json=QUOTE).get_json()
    sent = client.post(f"/api/v1/quotes/{quote['id']}/send", headers=who["headers"])
    assert sent.status_code == 200, sent.get_json()
    return quote["public_token"]


def _run_due(app, now):
    from webapp.due import run_due

    with app.app_context():
        return run_due(now)


def _stored(app) -> list[OutboundEmail]:
    with app.app_context():
        emails = db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id)).all()
        db.session.expunge_all()
        return emails


def _contains(email: OutboundEmail, token: str) -> bool:
    return any(
        token in str(part)
        for part in (email.subject, email.body_text, email.body_html, email.attachments)
    )


def test_delivered_e_mails_lose_their_links_after_the_retention(app, client, make_freelancer):
    token = _sent_quote(client, make_freelancer)
    with app.app_context():
        # One also delivered by SMTP, one still waiting: only delivered ones expire.
        for status, sent_at in (("sent", utcnow()), ("queued", None)):
            db.session.add(
                OutboundEmail(
                    to_addr="c@example.test",
                    subject="Votre devis",
                    body_text=f"/q/{token}",
                    body_html=f'<a href="/q/{token}">devis</a>',
                    attachments=[
                        {"filename": "a.ics", "content_type": "text/calendar", "data_b64": "eA=="}
                    ],
                    status=status,
                    sent_at=sent_at,
                )
            )
        db.session.commit()
    emails = _stored(app)
    with_token = [e for e in emails if _contains(e, token)]
    assert len(with_token) >= 3
    quote_mail = next(e for e in emails if e.to_addr == "claire@example.test")

    # Before the retention: nothing changes, the outbox shows the e-mail and its link.
    lines = _run_due(app, utcnow() + timedelta(days=29))
    assert not any(line.startswith("mail-retention") for line in lines)
    page = client.get(f"/dev/outbox/{quote_mail.id}")
    assert page.status_code == 200 and token in page.get_data(as_text=True)

    # After it: no delivered e-mail keeps a token; one still waiting is not touched.
    lines = _run_due(app, utcnow() + timedelta(days=31))
    assert any(line.startswith("mail-retention") for line in lines)
    after = _stored(app)
    delivered = [e for e in after if e.status in ("sent", "outbox")]
    assert delivered and not any(_contains(e, token) for e in delivered)
    for email in delivered:
        assert email.body_text == REDACTED_NOTE and email.body_html == ""
        assert email.attachments == [] and email.subject and email.to_addr
    queued = [e for e in after if e.status == "queued"]
    assert queued and all(_contains(e, token) for e in queued)
    # The outbox still lists it (recipient, subject), without the link.
    page = client.get(f"/dev/outbox/{quote_mail.id}")
    assert page.status_code == 200 and token not in page.get_data(as_text=True)
    assert quote_mail.subject.split()[0] in client.get("/dev/outbox").get_data(as_text=True)
    with app.app_context():
        redacted = db.session.scalars(select(Event).where(Event.action == "email_redacted")).all()
        assert len(redacted) == len(delivered)
    # A second run finds nothing left to do.
    assert not any(
        line.startswith("mail-retention") for line in _run_due(app, utcnow() + timedelta(days=32))
    )


def test_retention_zero_keeps_e_mails(app, client, make_freelancer):
    app.config["MAIL_RETENTION_DAYS"] = 0
    token = _sent_quote(client, make_freelancer)
    _run_due(app, utcnow() + timedelta(days=400))
    assert any(_contains(e, token) for e in _stored(app))
