"""Dunning rules with the in-memory gateway: hard declines, disputes, promises, payments
by transfer, business penalties, the API's errors and tenant isolation."""

from __future__ import annotations

import re
import subprocess
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from billing import cards, payments
from billing.dunning.models import DunningCase, DunningStep
from billing.gateway.memory import InMemoryGateway
from billing.invoicing import service as invoicing
from billing.invoicing.models import Invoice
from billing.money import Money
from billing.payments import Subject
from tests.conftest import ARTIFACTS
from webapp.mail.models import OutboundEmail

PROFILE = {
    "legal_name": "Atelier Dupont EI",
    "siret": "73282932000074",
    "legal_form": "ei",
    "address": "12 rue des Lilas\n75011 Paris",
    "iban": "FR1420041010050500013M02606",
    "bic": "PSSTFRPPPAR",
}


@pytest.fixture
def fake_gateway():
    return InMemoryGateway()


@pytest.fixture
def app_config(app_config, fake_gateway):
    return {**app_config, "GATEWAY_FACTORY": lambda creds: fake_gateway}


@pytest.fixture
def freelancer(make_freelancer, client):
    f = make_freelancer()
    assert client.patch("/api/v1/me", json=PROFILE, headers=f["headers"]).status_code == 200
    return f


def failed_charge(app, freelancer_id, card="pm_card_chargeCustomerFail", subject_id="77"):
    from webapp.extensions import db
    from webapp.stripe_connect import gateway

    with app.app_context():
        session = db.session
        gw = gateway(freelancer_id)
        customer = cards.ensure_customer(
            session, gw, freelancer_id=freelancer_id, email="ana@example.test", name="Ana"
        )
        payment = payments.prepare_payment(
            session,
            customer=customer,
            subject=Subject("booking", subject_id),
            purpose="balance",
            amount=Money(300_00, "eur"),
            payment_method_id=card,
            capture_method="automatic",
            off_session=True,
        )
        session.commit()
        payments.execute_payment(session, gw, payment.id)
        session.commit()


def run_due(app, when):
    result = app.test_cli_runner().invoke(args=["billing", "run-due", "--now", when.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def snapshot(db_session):
    db_session.rollback()  # a fresh snapshot: the app committed in its own sessions
    case = db_session.scalars(select(DunningCase).order_by(DunningCase.id)).first()
    steps = {
        s.step: s.outcome
        for s in db_session.scalars(select(DunningStep).where(DunningStep.case_id == case.id))
    }
    emails = db_session.scalars(select(OutboundEmail).order_by(OutboundEmail.id)).all()
    return case, steps, emails


def to_client(case, emails) -> list:
    """The client's e-mails only (the freelancer's notices are `test_notifications`'s)."""
    return [e for e in emails if e.to_addr == case.client_email]


def token_of(emails) -> str:
    found = [re.search(r"/pay/(pay_[A-Za-z0-9_\-]+)", e.body_text) for e in emails]
    return next(m.group(1) for m in found if m)


def test_hard_decline_opens_a_case_without_retries(app, db_session, freelancer):
    # given a lost card (hard decline) charged off-session
    failed_charge(app, freelancer["id"], card="pm_card_lost")
    case, steps, _ = snapshot(db_session)
    assert case.hard_decline and case.reason == "lost_card"
    # when the retry days pass
    for day in (1, 3, 5):
        run_due(app, case.anchor_at + timedelta(days=day))
    # then the card is never charged again
    case, steps, _ = snapshot(db_session)
    assert not any(name.startswith("retry_") for name in steps)
    assert db_session.scalar(select(func.count(payments.Payment.id))) == 1


def test_soft_decline_is_retried_on_schedule(app, db_session, freelancer, fake_gateway):
    failed_charge(app, freelancer["id"], card="pm_card_insufficientFunds")
    case, _, _ = snapshot(db_session)
    run_due(app, case.anchor_at + timedelta(days=1) - timedelta(seconds=1))
    assert "retry_1" not in snapshot(db_session)[1]  # one second early: nothing
    run_due(app, case.anchor_at + timedelta(days=1))
    assert snapshot(db_session)[1]["retry_1"] == "failed"


def test_dispute_pauses_until_the_freelancer_resumes(app, client, db_session, freelancer):
    failed_charge(app, freelancer["id"])
    case, _, emails = snapshot(db_session)
    token = token_of(emails)
    # a dispute needs a reason: 422, nothing changed
    assert client.post(f"/api/v1/public/pay/{token}/dispute", json={}).status_code == 422
    assert snapshot(db_session)[0].status == "open"
    answer = client.post(f"/api/v1/public/pay/{token}/dispute", json={"reason": "Not delivered"})
    assert answer.status_code == 200 and answer.get_json()["status"] == "paused"
    case, _, emails = snapshot(db_session)
    assert emails[-1].to_addr == freelancer["email"]  # the freelancer is told
    # when J+7 passes, no reminder goes out
    run_due(app, case.anchor_at + timedelta(days=7))
    case, steps, after = snapshot(db_session)
    assert "friendly" not in steps and to_client(case, after) == to_client(case, emails)
    # the freelancer resumes: the next sweep sends the friendly reminder
    headers = freelancer["headers"]
    resumed = client.post(f"/api/v1/dunning/cases/{case.id}/resume", json={}, headers=headers)
    assert resumed.status_code == 200, resumed.get_json()
    again = client.post(f"/api/v1/dunning/cases/{case.id}/resume", json={}, headers=headers)
    assert again.status_code == 409
    run_due(app, case.anchor_at + timedelta(days=8))
    assert snapshot(db_session)[1]["friendly"] == "sent"


def test_missed_promise_resumes_automatically(app, client, db_session, freelancer):
    failed_charge(app, freelancer["id"])
    case, _, emails = snapshot(db_session)
    token = token_of(emails)
    promised = (case.anchor_at + timedelta(days=9)).date()
    past = client.post(f"/api/v1/public/pay/{token}/promise", json={"date": "2020-01-01"})
    assert past.status_code == 422
    ok = client.post(f"/api/v1/public/pay/{token}/promise", json={"date": promised.isoformat()})
    assert ok.status_code == 200
    # on the promised day it is still paused; the day after, it resumes and catches up
    run_due(app, case.anchor_at + timedelta(days=9))
    case, steps, _ = snapshot(db_session)
    assert case.status == "paused" and "friendly" not in steps
    run_due(app, case.anchor_at + timedelta(days=10))
    case, steps, _ = snapshot(db_session)
    assert case.status == "open" and steps["friendly"] == "sent"


def test_a_transfer_recorded_on_the_invoice_stops_everything(app, db_session, freelancer):
    from webapp.extensions import db

    failed_charge(app, freelancer["id"])
    case, _, emails = snapshot(db_session)
    with app.app_context():
        invoicing.record_payment(
            db.session,
            case.invoice_id,
            amount_minor=300_00,
            method="transfer",
            paid_at=case.anchor_at + timedelta(days=2),
            reference="VIR 123",
        )
        db.session.commit()
    case, _, _ = snapshot(db_session)
    assert case.status == "paid"
    for day in (7, 15, 30, 45):
        run_due(app, case.anchor_at + timedelta(days=day))
    case, steps, after = snapshot(db_session)
    assert set(steps) == {"notice"} and to_client(case, after) == to_client(case, emails)


def test_overdue_b2b_invoice_gets_penalties_on_a_separate_invoice(
    app, client, db_session, freelancer, tmp_path
):
    from webapp.accounts.models import Freelancer
    from webapp.extensions import db
    from webapp.invoices.issue import issue_unpaid, priced_line

    # given an invoice to a business, issued 40 days ago, due after 30 days
    issued_at = invoicing_now = None
    with app.app_context():
        f = db.session.get(Freelancer, freelancer["id"])
        from billing.db import utcnow

        invoicing_now = utcnow() - timedelta(days=40)
        invoice = issue_unpaid(
            db.session,
            freelancer=f,
            lines=[priced_line(f, "Audit", 2000_00)],
            buyer=invoicing.Party(
                "Bob", "Bob SAS", "73282932000074", "1 rue X, Lyon", "bob@example.test", True
            ),
            service_date=invoicing_now.date(),
            source_type="manual",
            source_id="1",
            now=invoicing_now,
        )
        db.session.commit()
        due, number = invoice.due_date, invoice.number
    issued_at = invoicing_now
    assert issued_at is not None
    # when run-due passes the due date: a case opens with J+0 the day after
    from datetime import UTC, datetime, time

    j0 = datetime.combine(due + timedelta(days=1), time(), tzinfo=UTC)
    run_due(app, j0 - timedelta(seconds=1))
    assert db_session.scalar(select(func.count(DunningCase.id))) == 0
    run_due(app, j0)
    case, steps, emails = snapshot(db_session)
    assert case.reason == "overdue" and steps == {"notice": "sent"}
    # and at J+30 the mise en demeure bills the penalties separately
    run_due(app, j0 + timedelta(days=30))
    case, steps, emails = snapshot(db_session)
    assert steps["formal_notice"] == "sent"
    penalty = db_session.get(Invoice, case.penalty_invoice_id)
    assert penalty.source_type == "penalty" and penalty.status == "issued"
    # 40 € indemnity + interest at ECB + 10 points on 2 000 € for 30+ days
    assert penalty.total_incl_vat_minor > 40_00
    original = db_session.get(Invoice, case.invoice_id)
    assert original.number == number and original.total_incl_vat_minor == 2000_00
    letter = [e for e in emails if e.attachments][0]
    import base64

    pdf = tmp_path / "b2b.pdf"
    pdf.write_bytes(base64.b64decode(letter.attachments[0]["data_b64"]))
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", str(pdf), str(ARTIFACTS / "mise_en_demeure_b2b")],
        check=True,
    )
    text = " ".join(
        subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "L441-10" in text and "D441-5" in text and "40,00 €" in text
    assert number in text and "Bob SAS" in text
    # issue 11: the penalty invoice is a debit note, out of VAT scope, due on the deadline
    assert penalty.kind == "debit_note" and penalty.total_vat_minor == 0
    assert penalty.mentions["original"]["number"] == number
    deadline = date.fromisoformat(penalty.mentions["deadline"])
    assert penalty.due_date == deadline and (deadline - penalty.issue_date).days == 10
    # each period's rate is printed; nothing says a registered letter was sent
    assert "Intérêts du" in text and "au taux de" in text
    assert "recommandée" not in text and "Adressée par courriel" in text
    # no penalty invoice chases itself
    run_due(app, j0 + timedelta(days=200))
    assert db_session.scalar(select(func.count(DunningCase.id))) == 1


def test_api_lists_cases_and_keeps_tenants_apart(
    app, client, db_session, freelancer, make_freelancer
):
    failed_charge(app, freelancer["id"])
    case, _, _ = snapshot(db_session)
    listed = client.get("/api/v1/dunning/cases", headers=freelancer["headers"]).get_json()
    assert [c["id"] for c in listed["cases"]] == [case.id]
    one = client.get(f"/api/v1/dunning/cases/{case.id}", headers=freelancer["headers"]).get_json()
    assert (
        one["next_step"]["step"] == "retry_1" and one["timeline"][0]["action"] == "dunning_opened"
    )
    other = make_freelancer()
    assert (
        client.get(f"/api/v1/dunning/cases/{case.id}", headers=other["headers"]).status_code == 404
    )
    assert (
        client.post(
            f"/api/v1/dunning/cases/{case.id}/pause", json={}, headers=other["headers"]
        ).status_code
        == 404
    )
    assert client.get("/api/v1/dunning/cases", headers=other["headers"]).get_json() == {"cases": []}
    assert client.get("/api/v1/public/pay/pay_nope").status_code == 404
    bad = client.put(
        "/api/v1/dunning/settings", json={"formal_day": 3}, headers=freelancer["headers"]
    )
    assert bad.status_code == 422 and "formal_day" in bad.get_json()["error"]["fields"]
    good = client.put(
        "/api/v1/dunning/settings",
        json={"signature": "accounts_department", "final_deadline_days": 8},
        headers=freelancer["headers"],
    )
    assert good.status_code == 200 and good.get_json()["final_deadline_days"] == 8
    written = client.post(
        f"/api/v1/dunning/cases/{case.id}/write-off",
        json={"note": "gone"},
        headers=freelancer["headers"],
    )
    assert written.get_json()["status"] == "written_off"
    assert (
        client.post(
            f"/api/v1/dunning/cases/{case.id}/resume", json={}, headers=freelancer["headers"]
        ).status_code
        == 409
    )


def test_dashboard_page(app, client, db_session, freelancer):
    failed_charge(app, freelancer["id"])
    app.config["WTF_CSRF_ENABLED"] = False
    client.post("/login", data={"email": freelancer["email"], "password": freelancer["password"]})
    page = client.get("/dunning/")
    assert page.status_code == 200
    assert "300,00" in page.text or "300.00" in page.text
    case, _, _ = snapshot(db_session)
    assert client.get(f"/dunning/cases/{case.id}").status_code == 200


def test_client_can_retry_the_card_on_file_but_never_after_a_hard_decline(
    app, client, db_session, freelancer
):
    # given a lost card: retrying it from the link is refused, nothing is charged
    failed_charge(app, freelancer["id"], card="pm_card_lost", subject_id="81")
    case, _, emails = snapshot(db_session)
    assert 'id="retry-button"' not in client.get(f"/pay/{token_of(emails)}").get_data(True)
    lost = client.post(f"/api/v1/public/pay/{token_of(emails)}/retry", json={})
    assert lost.status_code == 409
    assert db_session.scalar(select(func.count(payments.Payment.id))) == 1


def test_client_retry_of_the_card_on_file_pays_and_closes_the_case(
    app, client, db_session, freelancer
):
    # given a declined charge whose card now works (the client added funds)
    failed_charge(app, freelancer["id"], card="pm_card_chargeCustomerFail", subject_id="82")
    case, _, emails = snapshot(db_session)
    with app.app_context():
        from webapp.extensions import db

        db.session.get(DunningCase, case.id).payment_method_id = "pm_card_visa"
        db.session.commit()
    # when the client asks to try it again from the link (the page offers it)
    assert 'id="retry-button"' in client.get(f"/pay/{token_of(emails)}").get_data(True)
    answer = client.post(f"/api/v1/public/pay/{token_of(emails)}/retry", json={})
    # then it is paid, the case closed, and a second click changes nothing
    assert answer.get_json() == {"status": "paid"}
    case, _, _ = snapshot(db_session)
    assert case.status == "paid"
    again = client.post(f"/api/v1/public/pay/{token_of(emails)}/retry", json={})
    assert again.get_json() == {"status": "paid"}
    succeeded = db_session.scalars(
        select(payments.Payment).where(payments.Payment.status == "succeeded")
    ).all()
    assert [p.amount_minor for p in succeeded] == [300_00]


def test_settings_page_saves_the_escalation_and_refuses_an_impossible_plan(
    client, freelancer, db_session
):
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    client.post(
        "/login",
        data={
            "email": freelancer["email"],
            "password": freelancer["password"],
            "csrf_token": token,
        },
    )
    page = client.get("/dunning/settings?lang=en").get_data(as_text=True)
    assert 'value="1, 3, 5"' in page and 'value="1000.00"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {
        "csrf_token": token,
        "retry_days": "2, 4",
        "friendly_day": "8",
        "formal_day": "16",
        "formal_notice_day": "30",
        "final_deadline_days": "15",
        "recourse_day": "45",
        "call_threshold": "500",
        "call_day": "10",
        "signature": "accounts_department",
        "accounts_department_name": "Service comptable",
        "bill_penalties": "on",
    }
    # a final deadline outside 8–15 days is refused, nothing saved
    assert (
        client.post("/dunning/settings", data={**form, "final_deadline_days": "16"}).status_code
        == 422
    )
    assert client.post("/dunning/settings", data=form).status_code == 302
    saved = client.get("/api/v1/dunning/settings", headers=freelancer["headers"]).get_json()
    assert saved["retry_days"] == [2, 4]
    assert saved["call_threshold_minor"] == 500_00
    assert saved["signature"] == "accounts_department"


# --- issue 11: the registered letter and the case's documents through the API -------


def _overdue_case(app, db_session, freelancer, *, business=True):
    from datetime import UTC, datetime, time

    from billing.db import utcnow
    from webapp.accounts.models import Freelancer
    from webapp.extensions import db
    from webapp.invoices.issue import issue_unpaid, priced_line

    with app.app_context():
        f = db.session.get(Freelancer, freelancer["id"])
        buyer = (
            invoicing.Party(
                "Bob",
                "Bob SAS",
                "73282932000074",
                "1 rue X, Lyon",
                "bob@example.test",
                True,
                siren="732829320",
            )
            if business
            else invoicing.Party("Ana", "", "", "2 rue Y, Paris", "ana@example.test", False)
        )
        invoice = issue_unpaid(
            db.session,
            freelancer=f,
            lines=[priced_line(f, "Audit", 2000_00)],
            buyer=buyer,
            service_date=utcnow().date(),
            source_type="manual",
            source_id="9",
            now=utcnow() - timedelta(days=40),
        )
        db.session.commit()
        due = invoice.due_date
    j0 = datetime.combine(due + timedelta(days=1), time(), tzinfo=UTC)
    run_due(app, j0)
    run_due(app, j0 + timedelta(days=30))
    case, _steps, _emails = snapshot(db_session)
    return case


@pytest.mark.parametrize(
    "body, field",
    [
        ({"sent_on": "2026-01-05"}, "number"),
        ({"number": "1A 234 567 8901 2"}, "sent_on"),
        ({"number": "X", "sent_on": "2026-01-05", "received_on": "2026-01-04"}, "received_on"),
        ({"number": "X", "sent_on": "2999-01-05"}, "sent_on"),
        ({"not_sent": True, "number": "X"}, "number"),
        ({"number": "X", "sent_on": "not a date"}, "sent_on"),
        ({"number": "X" * 41, "sent_on": "2026-01-05"}, "number"),
    ],
)
def test_registered_letter_bad_input_is_422(app, client, db_session, freelancer, body, field):
    case = _overdue_case(app, db_session, freelancer)
    url = f"/api/v1/dunning/cases/{case.id}/registered-letter"
    answer = client.post(url, json=body, headers=freelancer["headers"])
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["error"]["fields"]


def test_the_letter_states_only_the_registered_letter_recorded(
    app, client, db_session, freelancer, tmp_path
):
    case = _overdue_case(app, db_session, freelancer)
    headers = freelancer["headers"]
    base = f"/api/v1/dunning/cases/{case.id}"
    before = client.get(f"{base}/formal-notice.pdf", headers=headers)
    assert before.status_code == 200 and before.mimetype == "application/pdf"
    text = _text(before.data, tmp_path / "before.pdf")
    assert "recommandée" not in text and "Adressée par courriel" in text
    # when the freelancer records the letter and its receipt
    recorded = client.post(
        f"{base}/registered-letter",
        json={"number": "1A 234 567 8901 2", "sent_on": "2026-11-02", "received_on": "2026-11-04"},
        headers=headers,
    )
    assert recorded.status_code == 200, recorded.get_json()
    assert recorded.get_json()["registered_letter"]["number"] == "1A 234 567 8901 2"
    actions = [e["action"] for e in recorded.get_json()["timeline"]]
    assert "dunning_registered_letter_recorded" in actions
    after = _text(client.get(f"{base}/formal-notice.pdf", headers=headers).data, tmp_path / "a.pdf")
    assert "Lettre recommandée avec demande d’avis de réception n° 1A 234 567 8901 2" in after
    assert "envoyée le 2 novembre 2026" in after
    # the pack carries the AR proof, the guide for a business debtor, words not codes
    pack = client.get(f"{base}/recourse-pack.pdf", headers=headers)
    assert pack.status_code == 200
    text = _text(pack.data, tmp_path / "pack.pdf", artefact="recourse_pack_b2b")
    assert "Avis de réception signé le 4 novembre 2026" in text
    assert "tribunal de commerce" in text and "Cerfa n° 12946" in text
    assert "art. 1406 du Code de procédure civile" in text
    assert "SIREN 732829320" in text and "Représenté par Bob" in text
    assert "Copies des relances envoyées" in text and "relance amiable" in text.lower()
    assert "Note de débit" in text and "Facture" in text
    for code in ("generic_decline", "task_open", "system", "UTC"):
        assert code not in text, code


def test_consumer_letter_has_no_L441_10_nor_collection_costs_CPCE_L111_8(
    app, client, db_session, freelancer, tmp_path
):
    case = _overdue_case(app, db_session, freelancer, business=False)
    base = f"/api/v1/dunning/cases/{case.id}"
    letter = client.get(f"{base}/formal-notice.pdf", headers=freelancer["headers"])
    text = _text(letter.data, tmp_path / "consumer.pdf")
    assert "1231-6" in text and "taux légal" in text
    assert "L441-10" not in text and "40 €" not in text and "à votre charge" not in text
    pack = client.get(f"{base}/recourse-pack.pdf", headers=freelancer["headers"])
    text = _text(pack.data, tmp_path / "consumer-pack.pdf")
    assert "tribunal judiciaire" in text and "Cerfa n° 12948" in text
    assert "petites créances" in text  # 2 000 € ≤ 5 000 €, a consumer


def test_case_documents_of_another_freelancer_are_404(
    app, client, db_session, freelancer, make_freelancer
):
    case = _overdue_case(app, db_session, freelancer)
    intruder = make_freelancer()
    for path in ("formal-notice.pdf", "recourse-pack.pdf"):
        got = client.get(f"/api/v1/dunning/cases/{case.id}/{path}", headers=intruder["headers"])
        assert got.status_code == 404
    posted = client.post(
        f"/api/v1/dunning/cases/{case.id}/registered-letter",
        json={"not_sent": True},
        headers=intruder["headers"],
    )
    assert posted.status_code == 404


def _text(data: bytes, path, artefact: str | None = None) -> str:
    path.write_bytes(data)
    if artefact:
        ARTIFACTS.mkdir(exist_ok=True)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", str(path), str(ARTIFACTS / artefact)], check=True
        )
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.replace("\u202f", " ").replace("\xa0", " ").split())
