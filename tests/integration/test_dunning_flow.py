"""Dunning end to end against the real localstripe server.

A milestone charged off-session with `pm_card_chargeCustomerFail` (saved fine,
declined later) fails → a case opens with an unpaid invoice and the J+0 e-mail
→ `billing run-due` at J+1, J+7, J+15, J+30, J+45 does each step once, even
twice over → the client pays with a new card through the link → the case
closes, the invoice is paid, nothing runs after.
"""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import stripe
from sqlalchemy import func, select

from billing import cards, payments
from billing.dunning.models import DunningCase, DunningStep
from billing.invoicing.models import Invoice
from billing.money import Money
from billing.payments import Subject
from tests.conftest import ARTIFACTS
from tests.plugins.fake_stripe import TEST_SECRET_KEY
from webapp.mail.models import OutboundEmail

pytestmark = pytest.mark.stripe

PROFILE = {
    "legal_name": "Atelier Dupont EI",
    "siret": "73282932000074",
    "legal_form": "ei",
    "address": "12 rue des Lilas\n75011 Paris",
    "iban": "FR1420041010050500013M02606",
    "bic": "PSSTFRPPPAR",
}


@pytest.fixture
def app_config(app_config, localstripe_url):
    return {
        **app_config,
        "STRIPE_API_BASE": localstripe_url,
        "STRIPE_SECRET_KEY": TEST_SECRET_KEY,
        "STRIPE_JS_URL": f"{localstripe_url}/js.stripe.com/v3/",
        "WTF_CSRF_ENABLED": False,
    }


@pytest.fixture
def browser(localstripe_url):
    """A raw SDK client doing what Stripe.js does in the client's browser."""
    with requests.Session() as session:
        yield stripe.StripeClient(
            TEST_SECRET_KEY,
            base_addresses={"api": localstripe_url},
            http_client=stripe.RequestsClient(session=session),
        )


@pytest.fixture
def freelancer(make_freelancer, client):
    f = make_freelancer()
    answer = client.patch("/api/v1/me", json=PROFILE, headers=f["headers"])
    assert answer.status_code == 200, answer.get_json()
    return f


def fail_off_session_charge(app, browser, freelancer_id, *, card="pm_card_chargeCustomerFail"):
    """Save `card` for a milestone, then charge it off-session: the charge fails."""
    from webapp.extensions import db
    from webapp.stripe_connect import gateway

    with app.app_context():
        session = db.session
        gw = gateway(freelancer_id)
        customer = cards.ensure_customer(
            session, gw, freelancer_id=freelancer_id, email="client@example.test", name="Client SA"
        )
        setup, _secret = cards.start_card_setup(
            session, gw, customer=customer, subject=Subject("milestone", "9001")
        )
        session.commit()
        browser.v1.setup_intents.confirm(
            setup.stripe_setup_intent_id, params={"payment_method": card}
        )
        setup = cards.complete_card_setup(session, gw, setup.id)
        payment = payments.prepare_payment(
            session,
            customer=customer,
            subject=Subject("milestone", "9001"),
            purpose="milestone",
            amount=Money(1200_00, "eur"),
            payment_method_id=setup.payment_method_id,
            capture_method="automatic",
            off_session=True,
        )
        session.commit()
        payments.execute_payment(session, gw, payment.id)
        session.commit()
        assert payment.status == payments.FAILED
        return payment.id


def run_due(app, when):
    result = app.test_cli_runner().invoke(args=["billing", "run-due", "--now", when.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def state(db_session):
    db_session.rollback()  # a fresh snapshot: the app committed in other sessions
    case = db_session.scalars(select(DunningCase)).one()
    steps = {s.step: s.outcome for s in db_session.scalars(select(DunningStep))}
    # The client's e-mails (the freelancer's notices are `test_notifications`'s).
    emails = db_session.scalars(
        select(OutboundEmail)
        .where(OutboundEmail.to_addr == case.client_email)
        .order_by(OutboundEmail.id)
    ).all()
    return case, steps, emails


def link_token(email: OutboundEmail) -> str:
    match = re.search(r"/pay/(pay_[A-Za-z0-9_\-]+)", email.body_text)
    assert match, email.body_text
    return match.group(1)


def pdf_text(pdf: bytes, tmp_path: Path, name: str) -> str:
    """The PDF's text (pdftotext) and its pages as PNGs kept in test-artifacts/."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(path), str(ARTIFACTS / name)], check=True)
    assert list(ARTIFACTS.glob(f"{name}*.png"))
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_failed_charge_to_paid_through_the_link(
    app, client, db_session, browser, freelancer, tmp_path
):
    # given a milestone charge that fails off-session
    payment_id = fail_off_session_charge(app, browser, freelancer["id"])

    # then a case is open, with an unpaid invoice and the J+0 e-mail
    case, steps, emails = state(db_session)
    assert case.status == "open" and case.failed_payment_id == payment_id
    assert case.reason == "card_declined"
    invoice = db_session.get(Invoice, case.invoice_id)
    assert invoice.status == "issued" and invoice.total_incl_vat_minor == 1200_00
    assert steps == {"notice": "sent"}
    assert [e.to_addr for e in emails if "F20" in e.subject] == ["client@example.test"]
    token = link_token(emails[-1])
    assert client.get(f"/pay/{token}").status_code == 200
    j0 = case.anchor_at

    # when the due work runs at J+1 (retry, declined again), twice
    for _ in range(2):
        run_due(app, j0 + timedelta(days=1))
    case, steps, emails_j1 = state(db_session)
    assert steps["retry_1"] == "failed"
    retries = db_session.scalar(
        select(func.count()).where(
            payments.Payment.purpose == "dunning_retry", payments.Payment.subject_id == "9001"
        )
    )
    assert retries == 1

    # and at J+7, J+15, J+30, J+45, each twice
    expected = {7: "friendly", 15: "formal", 30: "formal_notice", 45: "recourse"}
    for day, step in expected.items():
        before = len(state(db_session)[2])
        run_due(app, j0 + timedelta(days=day))
        run_due(app, j0 + timedelta(days=day))
        case, steps, emails = state(db_session)
        assert steps[step] in ("sent", "ready"), steps
        sent = len(emails) - before
        assert sent == (0 if step == "recourse" else 1), (step, sent)
    assert steps["retry_2"] == "skipped" and steps["retry_3"] == "failed"
    assert db_session.scalar(select(func.count(DunningStep.id))) == len(steps)
    formal = [e for e in emails if e.attachments]
    assert len(formal) == 1 and formal[0].attachments[0]["filename"].startswith("mise-en-demeure")

    # a consumer owes legal interest only from the mise en demeure: nothing to bill yet
    assert case.penalty_invoice_id is None
    assert db_session.get(Invoice, invoice.id).total_incl_vat_minor == 1200_00

    # the freelancer's PDFs carry the mandatory content
    login = client.post(
        "/login", data={"email": freelancer["email"], "password": freelancer["password"]}
    )
    assert login.status_code == 302
    notice = client.get(f"/dunning/cases/{case.id}/mise-en-demeure.pdf")
    assert notice.status_code == 200 and notice.mimetype == "application/pdf"
    text = " ".join(pdf_text(notice.data, tmp_path, "mise_en_demeure").split())
    assert "Mise en demeure" in text or "MISE EN DEMEURE" in text
    assert invoice.number in text
    assert "1 200,00 €" in text  # the amount
    assert "1231-6" in text and "taux légal" in text  # a consumer: legal interest, no 40 €
    assert "40 €" not in text
    assert "injonction de payer" in text
    assert "Signature" in text and "Atelier Dupont EI" in text
    assert "jours à compter de la présente" in text
    pack = client.get(f"/dunning/cases/{case.id}/recourse-pack.pdf")
    assert pack.status_code == 200
    text = " ".join(pdf_text(pack.data, tmp_path, "recourse_pack").split())
    assert "Dossier de recouvrement" in text
    assert "Relance amiable".lower() in text.lower() and "Mise en demeure" in text
    assert invoice.number in text
    assert "Facture" in text  # the invoices' own pages are appended

    # when the client pays with a new card through the link
    data = client.get(f"/api/v1/public/pay/{token}").get_json()
    assert data["amount_minor"] == 1200_00 and data["currency"] == "eur"
    assert data["reason"] == "card_declined"
    secret = data["setup_intent_client_secret"]
    browser.v1.setup_intents.confirm(
        secret.split("_secret_")[0], params={"payment_method": "pm_card_visa"}
    )
    answer = client.post(f"/api/v1/public/pay/{token}/confirm", json={})
    assert answer.status_code == 200, answer.get_json()
    db_session.rollback()
    assert answer.get_json() == {"status": "paid"}

    # then the case is closed, the invoice paid, and nothing runs after
    case, steps_after, emails_after = state(db_session)
    assert case.status == "paid"
    assert db_session.get(Invoice, invoice.id).status == "paid"
    assert client.get(f"/api/v1/public/pay/{token}").get_json()["status"] == "paid"
    again = client.post(f"/api/v1/public/pay/{token}/confirm", json={})
    assert again.get_json() == {"status": "paid"}
    run_due(app, j0 + timedelta(days=60))
    _, steps_later, emails_later = state(db_session)
    assert steps_later == steps_after
    assert len(emails_later) == len(emails_after)
