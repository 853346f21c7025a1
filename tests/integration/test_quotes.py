"""Quotes end to end through the API with the in-memory gateway: validation, versions,
acceptance with deposit, milestones, the due runner, idempotency and tenant isolation."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from billing.db import utcnow
from billing.gateway.memory import InMemoryGateway
from billing.models import Event, Payment
from webapp.extensions import db
from webapp.mail.models import OutboundEmail
from webapp.quotes.models import Milestone, Quote, QuoteAcceptance, QuoteVersion


@pytest.fixture
def gateway():
    return InMemoryGateway()


@pytest.fixture
def app_config(app_config, gateway):
    return {**app_config, "GATEWAY_FACTORY": lambda creds: gateway}


def quote_body(**overrides):
    body = {
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
        "lines": [
            {"description": "Design et intégration", "quantity": 1, "unit_amount_minor": 100_000}
        ],
        "milestones": [
            {"title": "Acompte", "percent": 30, "trigger": "on_acceptance"},
            {"title": "Maquettes", "amount_minor": 40_000, "trigger": "on_approval"},
            {"title": "Mise en ligne", "amount_minor": 30_000, "trigger": "on_approval"},
        ],
    }
    body.update(overrides)
    return body


PROFILE = {
    "legal_name": "Marie Dupont EI",
    "siret": "73282932000074",
    "legal_form": "ei",
    "address": "1 rue de la Paix, 75002 Paris",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
}


@pytest.fixture
def freelancer(client, make_freelancer):
    """A freelancer whose profile is complete enough for invoices."""
    made = make_freelancer()
    answer = client.patch("/api/v1/me", headers=made["headers"], json=PROFILE)
    assert answer.status_code == 200, answer.get_json()
    return made


@pytest.fixture
def make_quote(client, freelancer):
    def make(send=True, who=None, **overrides):
        who = who or freelancer
        answer = client.post("/api/v1/quotes", headers=who["headers"], json=quote_body(**overrides))
        assert answer.status_code == 201, answer.get_json()
        quote = answer.get_json()
        if send:
            sent = client.post(f"/api/v1/quotes/{quote['id']}/send", headers=who["headers"])
            assert sent.status_code == 200, sent.get_json()
        return quote

    return make


def accept(client, gateway, token, pm="pm_card_visa", name="Claire Client"):
    signed = client.post(
        f"/api/v1/public/quotes/{token}/accept",
        json={"signer_name": name, "accept_terms": True},
        headers={"User-Agent": "pytest-browser/1.0"},
    )
    assert signed.status_code == 200, signed.get_json()
    secret = signed.get_json()["setup_intent_client_secret"]
    gateway.confirm_setup_intent(secret.split("_secret_")[0], pm)
    return client.post(
        f"/api/v1/public/quotes/{token}/accept/confirm",
        json={"acceptance_id": signed.get_json()["acceptance_id"]},
    )


def count(model, *where):
    with db.new_session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def run_due(app, now):
    from webapp.due import run_due as run

    with app.app_context():
        return run(now)


def charges(gateway):
    return [c for c in gateway.calls if c[0] == "create_payment_intent"]


# --- creating, validating, versions ---------------------------------------------------------


def test_create_send_view_accept_charges_the_deposit(app, client, gateway, make_quote, freelancer):
    quote = make_quote()
    token = quote["public_token"]
    assert quote["status"] == "draft"
    # the milestones were converted to exact amounts
    assert [m["amount_minor"] for m in quote["milestones"]] == [30_000, 40_000, 30_000]
    # sending e-mailed the client the link
    with app.app_context():
        mail = db.session.scalar(
            select(OutboundEmail).where(OutboundEmail.to_addr == "claire@example.test")
        )
        assert token in mail.body_text
    # the client views it
    seen = client.get(f"/api/v1/public/quotes/{token}").get_json()
    assert seen["status"] == "viewed" and seen["content"]["total_minor"] == 100_000
    # and accepts: card saved, deposit charged on session
    answer = accept(client, gateway, token)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "accepted"
    assert [m["status"] for m in body["milestones"]] == ["paid", "pending", "pending"]
    assert len(charges(gateway)) == 1
    detail = client.get(f"/api/v1/quotes/{quote['id']}", headers=freelancer["headers"]).get_json()
    evidence = detail["acceptance"]
    assert evidence["signer_name"] == "Claire Client"
    assert evidence["user_agent"] == "pytest-browser/1.0"
    assert evidence["ip"] == "127.0.0.1"
    assert evidence["content_sha256"] == detail["content_sha256"]
    actions = [e["action"] for e in detail["timeline"]]
    for action in ("quote_created", "quote_sent", "quote_viewed", "quote_signed", "quote_accepted"):
        assert action in actions
    assert "milestone_paid" in actions
    # the deposit is backed by an invoice
    assert "milestone_invoiced" in actions
    with app.app_context():
        from billing.invoicing.models import Invoice

        invoice = db.session.scalar(
            select(Invoice).where(Invoice.freelancer_id == freelancer["id"])
        )
        assert invoice is not None and invoice.total_incl_vat_minor == 30_000


@pytest.mark.parametrize(
    "milestones, field",
    [
        (  # one minor unit over the total
            [
                {"title": "A", "amount_minor": 30_000, "trigger": "on_acceptance"},
                {"title": "B", "amount_minor": 70_001, "trigger": "on_approval"},
            ],
            "milestones",
        ),
        (  # one minor unit under
            [
                {"title": "A", "amount_minor": 30_000, "trigger": "on_acceptance"},
                {"title": "B", "amount_minor": 69_999, "trigger": "on_approval"},
            ],
            "milestones",
        ),
        ([{"title": "A", "amount_minor": -100, "trigger": "on_acceptance"}], "milestones"),
        ([{"title": "A", "amount_minor": 100_000, "trigger": "on_delivery"}], "milestones"),
        ([{"title": "A", "amount_minor": 100_000, "trigger": "on_date"}], "milestones"),
        ([], "milestones"),
    ],
)
def test_invalid_milestones_are_refused_and_nothing_is_written(
    client, freelancer, milestones, field
):
    answer = client.post(
        "/api/v1/quotes", headers=freelancer["headers"], json=quote_body(milestones=milestones)
    )
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["error"]["fields"]
    assert count(Quote) == 0 and count(Milestone) == 0 and count(QuoteVersion) == 0


def test_exact_sum_is_accepted(client, freelancer):
    milestones = [
        {"title": "A", "amount_minor": 30_000, "trigger": "on_acceptance"},
        {"title": "B", "amount_minor": 70_000, "trigger": "on_approval"},
    ]
    answer = client.post(
        "/api/v1/quotes", headers=freelancer["headers"], json=quote_body(milestones=milestones)
    )
    assert answer.status_code == 201


def test_a_change_after_sending_makes_a_new_version_and_a_new_hash(
    client, gateway, make_quote, freelancer
):
    quote = make_quote()
    token = quote["public_token"]
    first = client.get(f"/api/v1/public/quotes/{token}").get_json()
    # the client signs version 1 but has not saved the card yet
    signed = client.post(
        f"/api/v1/public/quotes/{token}/accept",
        json={"signer_name": "Claire", "accept_terms": True},
    ).get_json()
    changed = client.patch(
        f"/api/v1/quotes/{quote['id']}",
        headers=freelancer["headers"],
        json={"terms": "Nouvelles conditions"},
    )
    assert changed.status_code == 200, changed.get_json()
    after = client.get(f"/api/v1/public/quotes/{token}").get_json()
    assert after["version"] == 2 and first["version"] == 1
    assert after["content_sha256"] != first["content_sha256"]
    assert [v["number"] for v in changed.get_json()["versions"]] == [1, 2]
    # the signature on version 1 no longer counts
    gateway.confirm_setup_intent(
        signed["setup_intent_client_secret"].split("_secret_")[0], "pm_card_visa"
    )
    refused = client.post(
        f"/api/v1/public/quotes/{token}/accept/confirm",
        json={"acceptance_id": signed["acceptance_id"]},
    )
    assert refused.status_code == 409
    assert charges(gateway) == []
    # signing version 2 works and the evidence carries version 2's hash
    assert accept(client, gateway, token).status_code == 200
    detail = client.get(f"/api/v1/quotes/{quote['id']}", headers=freelancer["headers"]).get_json()
    assert detail["acceptance"]["version"] == 2
    assert detail["acceptance"]["content_sha256"] == after["content_sha256"]


def test_accepting_twice_or_after_expiry_is_refused(app, client, gateway, make_quote):
    quote = make_quote()
    token = quote["public_token"]
    assert accept(client, gateway, token).status_code == 200
    again = client.post(
        f"/api/v1/public/quotes/{token}/accept",
        json={"signer_name": "Claire", "accept_terms": True},
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_accepted"
    assert count(QuoteAcceptance) == 2 - 1 + 0  # one acceptance row (the second was refused)
    assert len(charges(gateway)) == 1
    # an expired quote: valid until yesterday
    expired = make_quote(valid_until=(date.today() - timedelta(days=2)).isoformat())
    answer = client.post(
        f"/api/v1/public/quotes/{expired['public_token']}/accept",
        json={"signer_name": "Claire", "accept_terms": True},
    )
    assert answer.status_code == 409 and answer.get_json()["error"]["code"] == "expired"
    assert count(QuoteAcceptance, QuoteAcceptance.quote_id == expired["id"]) == 0


def test_the_terms_must_be_ticked(client, make_quote):
    token = make_quote()["public_token"]
    answer = client.post(
        f"/api/v1/public/quotes/{token}/accept",
        json={"signer_name": "Claire", "accept_terms": False},
    )
    assert answer.status_code == 422 and "accept_terms" in answer.get_json()["error"]["fields"]
    assert count(QuoteAcceptance) == 0


def test_a_draft_is_not_visible_to_the_client(client, make_quote):
    token = make_quote(send=False)["public_token"]
    assert client.get(f"/api/v1/public/quotes/{token}").status_code == 404
    assert client.get("/api/v1/public/quotes/q_forged").status_code == 404


# --- milestones and the due runner -------------------------------------------------------------


@pytest.fixture
def accepted(client, gateway, make_quote):
    quote = make_quote()
    assert accept(client, gateway, quote["public_token"]).status_code == 200
    return quote


def deliver(client, freelancer, milestone_id, note="https://example.test/maquettes"):
    answer = client.post(
        f"/api/v1/milestones/{milestone_id}/deliver",
        headers=freelancer["headers"],
        json={"note": note},
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_deliver_approve_then_run_due_charges_once(app, client, gateway, accepted, freelancer):
    ms = accepted["milestones"][1]["id"]
    delivered = deliver(client, freelancer, ms)
    assert delivered["status"] == "delivered"
    # the delivery e-mail tells the client the auto-approval date and carries their link
    with app.app_context():
        mail = db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id.desc())).first()
        # (French: the freelancer's language) the auto-approval date is announced
        assert "/milestones/m_" in mail.body_text and "automatiquement" in mail.body_text
        token = mail.body_text.split("/milestones/")[1].split()[0]
    approved = client.post(f"/api/v1/public/milestones/{ms}/approve", json={"token": token})
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    lines = run_due(app, utcnow())
    assert any("charged 40000 eur" in line for line in lines), lines
    run_due(app, utcnow())  # twice: nothing more
    assert len(charges(gateway)) == 2  # deposit + this milestone
    with app.app_context():
        assert db.session.get(Milestone, ms).status == "paid"
        payment = db.session.scalar(select(Payment).where(Payment.subject_id == str(ms)))
        assert payment.off_session is True and payment.amount_minor == 40_000


def test_auto_approval_at_day_n_boundary(app, client, gateway, accepted, freelancer):
    ms = accepted["milestones"][1]["id"]
    delivered = deliver(client, freelancer, ms)
    from datetime import datetime

    at = datetime.fromisoformat(delivered["auto_approve_at"])
    # one second before: nothing is approved (the day-before reminder goes out)
    lines = run_due(app, at - timedelta(seconds=1))
    assert not any("auto-approved" in line for line in lines)
    assert any("reminder sent" in line for line in lines)
    assert len(charges(gateway)) == 1
    # at the deadline: approved and charged
    lines = run_due(app, at)
    assert any("auto-approved" in line for line in lines)
    assert len(charges(gateway)) == 2
    with app.app_context():
        milestone = db.session.get(Milestone, ms)
        assert milestone.status == "paid" and milestone.approved_by == "auto"
    # the reminder went out once only
    assert count(Event, Event.action == "milestone_approval_reminder_sent") == 1


def test_objection_pauses_the_charge_and_tells_the_freelancer(
    app, client, gateway, accepted, freelancer
):
    ms = accepted["milestones"][1]["id"]
    deliver(client, freelancer, ms)
    token = accepted["public_token"]  # the quote's link also scopes its milestones
    empty = client.post(
        f"/api/v1/public/milestones/{ms}/object", json={"token": token, "reason": " "}
    )
    assert empty.status_code == 422
    objected = client.post(
        f"/api/v1/public/milestones/{ms}/object", json={"token": token, "reason": "Le logo manque"}
    )
    assert objected.status_code == 200 and objected.get_json()["status"] == "objected"
    with app.app_context():
        mail = db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id.desc())).first()
        assert mail.to_addr == freelancer["email"] and "Le logo manque" in mail.body_text
    # (read first: 30 days on, the stored body is redacted by MAIL_RETENTION_DAYS)
    run_due(app, utcnow() + timedelta(days=30))  # long after the auto-approval date
    assert len(charges(gateway)) == 1
    # resolved by agreement: charged by the next run
    resolved = client.post(
        f"/api/v1/milestones/{ms}/resolve",
        headers=freelancer["headers"],
        json={"action": "charge", "note": "ok par tel"},
    )
    assert resolved.get_json()["status"] == "approved"
    run_due(app, utcnow())
    assert len(charges(gateway)) == 2


def ms_payment(app, milestone_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            select(Payment.id).where(
                Payment.subject_type == "milestone", Payment.subject_id == str(milestone_id)
            )
        )


def test_a_stripe_timeout_after_the_charge_leaves_one_charge(
    app, client, gateway, accepted, freelancer
):
    ms = accepted["milestones"][1]["id"]
    deliver(client, freelancer, ms)
    client.post(f"/api/v1/public/milestones/{ms}/approve", json={"token": accepted["public_token"]})
    # a Stripe that ignores idempotency keys, like localstripe: a repeated
    # create would really charge twice
    gateway.honour_idempotency = False
    gateway.timeout_after_success("create_payment_intent")
    # the charge goes through at Stripe but our call times out: the row stays
    # in doubt, then the reconcile sweep finds the PaymentIntent and adopts it
    lines = run_due(app, utcnow())
    assert any("outcome unknown" in line for line in lines), lines
    lines = run_due(app, utcnow())
    assert any(f"payment {ms_payment(app, ms)}: created → succeeded" in line for line in lines)
    with app.app_context():
        assert db.session.get(Milestone, ms).status == "paid"
    run_due(app, utcnow())
    assert count(Payment, Payment.subject_id == str(ms)) == 1
    # one create call for this milestone (plus the deposit's), one PaymentIntent each
    assert len(charges(gateway)) == 2
    assert len(gateway._intents) == 2


def test_a_declined_off_session_charge_moves_to_payment_failed(
    app, client, gateway, make_quote, freelancer
):
    quote = make_quote()
    # this card saves fine and pays the deposit on session... then fails later
    assert accept(client, gateway, quote["public_token"]).status_code == 200
    ms = quote["milestones"][1]["id"]
    with app.app_context():
        from billing.models import CardSetup

        q = db.session.get(Quote, quote["id"])
        db.session.get(CardSetup, q.card_setup_id).payment_method_id = "pm_card_chargeCustomerFail"
        db.session.commit()
    deliver(client, freelancer, ms)
    client.post(f"/api/v1/public/milestones/{ms}/approve", json={"token": quote["public_token"]})
    run_due(app, utcnow())
    run_due(app, utcnow())
    with app.app_context():
        assert db.session.get(Milestone, ms).status == "payment_failed"
    assert count(Event, Event.action == "milestone_payment_failed") == 1
    assert len(charges(gateway)) == 2  # never retried blindly
    # the client pays by transfer: the freelancer records it
    paid = client.post(
        f"/api/v1/milestones/{ms}/manual-payment",
        headers=freelancer["headers"],
        json={"reference": "VIR 123"},
    )
    assert paid.status_code == 200 and paid.get_json()["status"] == "paid"
    assert paid.get_json()["paid_by"] == "bank_transfer"


def test_on_date_milestone_is_charged_on_its_date(app, client, gateway, make_quote):
    due = date.today() + timedelta(days=10)
    quote = make_quote(
        milestones=[
            {"title": "Acompte", "amount_minor": 50_000, "trigger": "on_acceptance"},
            {
                "title": "Solde",
                "amount_minor": 50_000,
                "trigger": "on_date",
                "due_date": due.isoformat(),
            },
        ]
    )
    accept(client, gateway, quote["public_token"])
    from datetime import UTC, datetime

    run_due(app, datetime.combine(due - timedelta(days=2), datetime.min.time(), tzinfo=UTC))
    assert len(charges(gateway)) == 1
    run_due(app, datetime.combine(due, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12))
    assert len(charges(gateway)) == 2


def test_quotes_expire_after_their_validity(app, client, make_quote):
    quote = make_quote(valid_until=date.today().isoformat())
    run_due(app, utcnow())
    assert client.get(f"/api/v1/public/quotes/{quote['public_token']}").get_json()["status"] in (
        "sent",
        "viewed",
    )
    run_due(app, utcnow() + timedelta(days=2))
    assert (
        client.get(f"/api/v1/public/quotes/{quote['public_token']}").get_json()["status"]
        == "expired"
    )


# --- tenant isolation ----------------------------------------------------------------------------


def test_one_freelancer_never_sees_or_acts_on_anothers_quotes(
    client, gateway, make_freelancer, make_quote, freelancer
):
    quote = make_quote()
    accept(client, gateway, quote["public_token"])
    ms = quote["milestones"][1]["id"]
    mallory = make_freelancer()
    h = mallory["headers"]
    assert client.get("/api/v1/quotes", headers=h).get_json() == {"quotes": []}
    assert client.get(f"/api/v1/quotes/{quote['id']}", headers=h).status_code == 404
    assert (
        client.patch(f"/api/v1/quotes/{quote['id']}", headers=h, json={"title": "x"}).status_code
        == 404
    )
    assert client.post(f"/api/v1/quotes/{quote['id']}/send", headers=h).status_code == 404
    for action, body in (
        ("deliver", {"note": "x"}),
        ("resolve", {"action": "cancel"}),
        ("cancel", {}),
        ("manual-payment", {}),
    ):
        assert (
            client.post(f"/api/v1/milestones/{ms}/{action}", headers=h, json=body).status_code
            == 404
        )
    # another quote's token does not open this milestone
    other = make_quote(who=mallory)
    for action in ("approve", "object"):
        answer = client.post(
            f"/api/v1/public/milestones/{ms}/{action}",
            json={"token": other["public_token"], "reason": "x"},
        )
        assert answer.status_code == 404
    # pages
    assert client.get(f"/quotes/{quote['id']}").status_code == 302  # not logged in


def test_freelancer_pages_are_scoped(client, make_freelancer, make_quote):
    quote = make_quote()
    mallory = make_freelancer()
    import re

    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    logged = client.post(
        "/login",
        data={"email": mallory["email"], "password": mallory["password"], "csrf_token": csrf},
    )
    assert logged.status_code == 302
    assert client.get("/quotes").status_code == 200
    assert client.get(f"/quotes/{quote['id']}").status_code == 404
    assert client.get(f"/quotes/{quote['id']}/edit").status_code == 404


# --- issue 11: the quote document and its milestone invoices ------------------------


def _pdf_text(data: bytes, tmp_path, name: str) -> str:
    import subprocess

    path = tmp_path / f"{name}.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.replace("\u202f", " ").replace("\xa0", " ").split())


def test_quote_number_and_L221_5_withdrawal_form_for_a_consumer(client, make_quote, tmp_path):
    consumer = {"name": "Claire Client", "email": "claire@example.test"}
    quote = make_quote(client=consumer, valid_until="2027-01-01")
    text = _pdf_text(client.get(f"/q/{quote['public_token']}/pdf").data, tmp_path, "consumer")
    assert re.search(r"Devis n° D20\d\d-0001 du \d", text), text[:300]
    assert "Valable jusqu’au 1er janvier 2027" in text
    assert "Droit de rétractation" in text and "L221-18" in text
    assert "Formulaire type de rétractation" in text
    assert "1231-6" in text and "L441-10" not in text and "40 EUR" not in text
    assert "Marie Dupont EI" in text and "Entrepreneur individuel (EI)" in text


def test_business_quote_has_the_L441_10_clauses_and_no_withdrawal(client, make_quote, tmp_path):
    first = make_quote()
    second = make_quote()
    assert (first["number"], second["number"]) != (None, None)
    text = _pdf_text(client.get(f"/q/{second['public_token']}/pdf").data, tmp_path, "b2b")
    assert re.search(r"Devis n° D20\d\d-0002", text)
    assert "L441-10" in text and "D441-5" in text and "SIREN 552032534" in text
    assert "Droit de rétractation" not in text


def test_CGI_289_milestones_are_deposit_invoices_then_a_final_that_deducts_them(
    app, client, gateway, accepted, freelancer
):
    for milestone in accepted["milestones"][1:]:
        deliver(client, freelancer, milestone["id"])
        with app.app_context():
            mail = db.session.scalars(
                select(OutboundEmail).order_by(OutboundEmail.id.desc())
            ).first()
            token = mail.body_text.split("/milestones/")[1].split()[0]
        approved = client.post(
            f"/api/v1/public/milestones/{milestone['id']}/approve", json={"token": token}
        )
        assert approved.status_code == 200, approved.get_json()
        run_due(app, utcnow())
    listed = client.get("/api/v1/invoices", headers=freelancer["headers"]).get_json()["invoices"]
    kinds = sorted((i["number"], i["kind"]) for i in listed)
    assert [k for _, k in kinds] == ["deposit", "deposit", "final"], kinds
    final = next(i for i in listed if i["kind"] == "final")
    detail = client.get(f"/api/v1/invoices/{final['id']}", headers=freelancer["headers"])
    mentions = detail.get_json()["mentions"]
    assert mentions["quote"]["total_minor"] == 100_000
    assert [d["number"] for d in mentions["deposits"]] == [n for n, k in kinds if k == "deposit"]
    assert "Design et intégration" in detail.get_json()["lines"][0]["description"]
