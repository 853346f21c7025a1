"""A transfer imported while `run-due` sends the case's next step (PostgreSQL, issue 17).

Two threads, the race forced both ways by a hook: the sweep held right before it
sends the step while the import runs, and the import held right after it recorded
the payment (its transaction still open) while the sweep runs; then free-for-all
rounds started by a barrier. Whatever the order, no step e-mail of the case is
created after the payment, the case ends paid, and the invoice is paid once.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from billing import clock
from billing.db import utcnow
from billing.dunning.models import DunningCase, DunningStep
from billing.invoicing.models import Invoice, InvoicePayment
from webapp.books import settle
from webapp.dunning import steps
from webapp.mail.models import OutboundEmail

pytestmark = pytest.mark.postgres

PROFILE = {
    "legal_name": "Camille Martin EI",
    "siret": "73282932000074",
    "legal_form": "ei",
    "address": "12 rue de la Paix, 75002 Paris",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
}
CLIENT = {"name": "Jean Dupont", "email": "jean@acme.example", "is_business": False}
AMOUNT = 40_000
HOLD = 0.3  # seconds a hooked thread waits, the other one running meanwhile


def _seller(client: FlaskClient) -> dict[str, str]:
    who = {"email": "race@example.test", "password": "correct horse battery"}
    body = {**who, "display_name": "Race", "slug": "race-books"}
    assert client.post("/api/v1/signup", json=body).status_code == 201
    token = client.post("/api/v1/tokens", json=who).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.patch("/api/v1/me", json=PROFILE, headers=headers).status_code == 200
    return headers


def _camt(reference: str, number: str) -> bytes:
    entry = (
        f"<Ntry><Amt Ccy='EUR'>{AMOUNT / 100:.2f}</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
        f"<Sts>BOOK</Sts><BookgDt><Dt>{date.today().isoformat()}</Dt></BookgDt>"
        f"<AcctSvcrRef>{reference}</AcctSvcrRef><NtryDtls><TxDtls><RltdPties><Dbtr>"
        f"<Nm>Jean Dupont</Nm></Dbtr></RltdPties><RmtInf><Ustrd>{number}</Ustrd></RmtInf>"
        "</TxDtls></NtryDtls></Ntry>"
    )
    return (
        "<?xml version='1.0'?><Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'>"
        f"<BkToCstmrStmt><Stmt><Id>{reference}</Id>{entry}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def _overdue_case(app: Flask, client: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    """An invoice by hand, overdue, its dunning case open with a reminder due now."""
    from webapp.dunning.due import open_for_overdue_invoice
    from webapp.extensions import db

    # An invoice issued and due ten days ago (J+9 today), its case opened at J+1:
    # the reminders of the days between are due at the real time now.
    issued = utcnow() - timedelta(days=10)
    body = {
        "client": CLIENT,
        "lines": [{"description": "Atelier", "quantity": 1, "unit_amount_minor": AMOUNT}],
        "due_date": issued.date().isoformat(),
    }
    with clock.frozen(issued):
        answer = client.post("/api/v1/invoices", json=body, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    made = answer.get_json()
    with app.app_context():
        assert open_for_overdue_invoice(db.session, made["id"], issued + timedelta(days=2))
        db.session.commit()
        case = db.session.scalars(
            select(DunningCase).where(DunningCase.invoice_id == made["id"])
        ).one()
        assert case.status == "open"
        return {"invoice": made, "case_id": case.id, "anchor": case.anchor_at}


def _in_thread(app: Flask, work: Callable[[], None], errors: list[BaseException]) -> Any:
    def run() -> None:
        try:
            with app.app_context():
                work()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    return threading.Thread(target=run)


def _check(app: Flask, round_: dict[str, Any], wall: dict[str, list[float]]) -> list[str]:
    """The outcome of one round; returns the names of the steps sent during it.

    Two clocks: the rows' own timestamps, and `wall`, the real times at which the
    step e-mails and the payment were written (the due run freezes the app's clock
    at its start, so a row's timestamp alone would not show a late step).
    """
    from webapp.extensions import db

    with app.app_context():
        session = db.session
        case = session.get(DunningCase, round_["case_id"])
        invoice = session.get(Invoice, round_["invoice"]["id"])
        assert case is not None and invoice is not None
        assert case.status == "paid"
        assert invoice.status == "paid"
        payments = session.scalars(
            select(InvoicePayment).where(InvoicePayment.invoice_id == invoice.id)
        ).all()
        assert [p.amount_minor for p in payments] == [AMOUNT]  # paid once
        paid_recorded = payments[0].created_at
        sent = session.scalars(
            select(DunningStep).where(DunningStep.case_id == case.id, DunningStep.outcome == "sent")
        ).all()
        for step in sent:
            email = session.get(OutboundEmail, step.data["email_id"])
            assert email is not None
            assert email.created_at < paid_recorded, (step.step, email.created_at, paid_recorded)
        [paid_wall] = wall["payment"]
        assert all(at < paid_wall for at in wall["step"]), wall
        return [s.step for s in sent if s.id not in round_["steps_before"]]


def _steps_of(app: Flask, case_id: int) -> set[int]:
    from webapp.extensions import db

    with app.app_context():
        return set(db.session.scalars(select(DunningStep.id).where(DunningStep.case_id == case_id)))


def test_a_transfer_imported_while_run_due_sends_a_step_stops_the_case(pg_app, monkeypatch):
    from webapp.due import run_due

    app = pg_app
    client = app.test_client()
    headers = _seller(client)
    hooks: dict[str, threading.Event | None] = {"before_send": None, "after_payment": None}
    wall: dict[str, list[float]] = {"step": [], "payment": []}
    real_send, real_thanks = steps.send_step_email, settle.send_thanks

    def send_step_email(*args: Any, **kwargs: Any) -> dict[str, Any]:
        event = hooks["before_send"]
        if event is not None:
            event.set()  # the import may run now: the step is about to be sent
            time.sleep(HOLD)
        data = real_send(*args, **kwargs)
        wall["step"].append(time.time())
        return data

    def send_thanks(*args: Any, **kwargs: Any) -> None:
        wall["payment"].append(time.time())
        event = hooks["after_payment"]
        if event is not None:
            event.set()  # the payment is flushed, its transaction still open
            time.sleep(HOLD)
        real_thanks(*args, **kwargs)

    monkeypatch.setattr(steps, "send_step_email", send_step_email)
    monkeypatch.setattr(settle, "send_thanks", send_thanks)

    rounds = ["step first"] * 3 + ["import first"] * 3 + ["together"] * 6
    outcomes: dict[str, list[list[str]]] = {mode: [] for mode in set(rounds)}
    for n, mode in enumerate(rounds):
        round_ = _overdue_case(app, client, headers)
        round_["steps_before"] = _steps_of(app, round_["case_id"])
        number = round_["invoice"]["number"]
        statement = _camt(f"RACE-{n}", number)
        errors: list[BaseException] = []
        event = threading.Event()
        barrier = threading.Barrier(2)
        hooks["before_send"] = event if mode == "step first" else None
        wall["step"], wall["payment"] = [], []
        hooks["after_payment"] = event if mode == "import first" else None

        def sweep(mode: str = mode, event=event, barrier=barrier) -> None:
            if mode == "together":
                barrier.wait()
            elif mode == "import first":
                assert event.wait(10)
            run_due(utcnow())

        def import_(mode: str = mode, statement=statement, event=event, barrier=barrier) -> None:
            if mode == "together":
                barrier.wait()
            elif mode == "step first":
                assert event.wait(10)
            answer = app.test_client().post(
                "/api/v1/bank-statements",
                data={"file": (io.BytesIO(statement), "statement.xml")},
                headers=headers,
                content_type="multipart/form-data",
            )
            assert answer.status_code == 201, answer.get_data(as_text=True)
            assert answer.get_json()["matched"] == 1

        threads = [_in_thread(app, sweep, errors), _in_thread(app, import_, errors)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == [], (mode, errors)
        assert event.is_set() or mode == "together", mode  # the hook ran: a real race
        outcomes[mode].append(_check(app, round_, wall))

    # the sweep held at the step sent it before the payment; the one behind the import
    # found the case paid and sent nothing
    assert all(sent for sent in outcomes["step first"]), outcomes
    assert not any(sent for sent in outcomes["import first"]), outcomes
