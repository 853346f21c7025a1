"""Due work item by item, with the in-memory gateway.

- one failing item is rolled back, recorded on the item and never stops the
  others; `run-due` prints one line per item, the failure too, and exits 0;
- the periodic task enqueues one task per item (Huey immediate mode);
- `--now` governs every time the run writes: a simulated month of daily
  `run-due --now` after a failed off-session charge opens the case, dates the
  invoice and fires each dunning step on its simulated day, never earlier.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from billing import clock, events
from billing.dunning.models import DunningCase, DunningStep
from billing.gateway.memory import InMemoryGateway
from billing.invoicing.models import Invoice
from billing.models import CardSetup, Event, Payment
from tests.integration.test_booking_api import book, slot_in
from tests.integration.test_quotes import PROFILE, accept, quote_body
from webapp import due, tasks
from webapp.booking.models import Booking
from webapp.mail.models import OutboundEmail
from webapp.quotes.models import Milestone, Quote

PARIS = ZoneInfo("Europe/Paris")
ALL_WEEK = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]


@pytest.fixture
def gateway():
    return InMemoryGateway()


@pytest.fixture
def app_config(app_config, gateway):
    return {**app_config, "GATEWAY_FACTORY": lambda creds: gateway}


@pytest.fixture
def immediate(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tasks run at enqueue, in this thread, on in-memory storage; then everything is put back."""
    monkeypatch.setattr(tasks, "_bound_app", None)
    monkeypatch.setattr(tasks.huey, "storage", tasks.huey.storage)
    tasks.huey.immediate = True
    yield
    tasks.huey.immediate = False


@pytest.fixture
def seller(client, make_freelancer):
    """A freelancer open around the clock with one prepay offering."""
    freelancer = make_freelancer()
    put = client.put(
        "/api/v1/availability",
        json={"timezone": "UTC", "weekly": ALL_WEEK, "exceptions": []},
        headers=freelancer["headers"],
    )
    assert put.status_code == 200, put.get_json()
    offering = client.post(
        "/api/v1/offerings",
        json={
            "title": "Call",
            "duration_minutes": 60,
            "amount_minor": 10_000,
            "currency": "EUR",
            "payment_policy": "prepay",
            "free_cancel_hours": 24,
            "late_cancel_fee_percent": 50,
            "no_show_fee_percent": 100,
            "buffer_minutes": 0,
            "min_notice_minutes": 0,
        },
        headers=freelancer["headers"],
    )
    assert offering.status_code == 201, offering.get_json()
    freelancer["offering"] = offering.get_json()
    return freelancer


@pytest.fixture
def pending_bookings(client, seller) -> list[int]:
    """Three bookings left unpaid: each is due to expire 15 minutes after it was made."""
    ids = []
    for n in range(3):
        answer = book(
            client, seller, seller["offering"], slot_in(2 + n), email=f"c{n}@example.test"
        )
        assert answer.status_code == 201, answer.get_json()
        ids.append(answer.get_json()["booking_id"])
    return ids


def statuses(db_session, ids):
    db_session.rollback()  # a fresh snapshot: the run committed in its own sessions
    return [db_session.get(Booking, booking_id).status for booking_id in ids]


def registered(app, name):
    with app.app_context():
        return due.kind_named(name)


def replace_run(app, name, run):
    """Swap one registered kind's `run` (the registry is the app's, set by the factory)."""
    with app.app_context():
        kinds = due.kinds()
    app.extensions[due.EXTENSION_KEY] = tuple(
        dataclasses.replace(kind, run=run) if kind.name == name else kind for kind in kinds
    )


# --- one item's failure is that item's alone ------------------------------------------


def test_a_failing_item_is_recorded_and_the_others_run(app, db_session, seller, pending_bookings):
    first, broken, last = pending_bookings
    real = registered(app, "booking-expire")

    def run(session, booking_id, now):
        if booking_id == broken:
            # a write of the failing item's own: rolled back with it
            events.record(session, subject_type="booking", subject_id=broken, action="half_done")
            raise RuntimeError("the card fingerprint service is down")
        return real.run(session, booking_id, now)

    replace_run(app, "booking-expire", run)
    later = datetime.now(UTC) + timedelta(minutes=16)
    # when run-due runs
    result = app.test_cli_runner().invoke(args=["billing", "run-due", "--now", later.isoformat()])
    # then every other item was done, the failure said so, and the run succeeded
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"booking-expire: booking {first}: expired",
        f"booking-expire: booking {broken}: failed: RuntimeError: the card fingerprint service"
        " is down",
        f"booking-expire: booking {last}: expired",
    ]
    assert statuses(db_session, pending_bookings) == ["expired", "pending_payment", "expired"]
    # the failure is on the item's timeline, its half-done write is not
    timeline = events.timeline(db_session, "booking", broken)
    assert "half_done" not in [e.action for e in timeline]
    [failure] = [e for e in timeline if e.action == "due_work_failed"]
    assert failure.freelancer_id == seller["id"]
    assert failure.data == {
        "kind": "booking-expire",
        "error": "RuntimeError: the card fingerprint service is down",
    }
    assert failure.occurred_at == later.astimezone(UTC)

    # when the cause is fixed, the next run does the item that failed, once
    replace_run(app, "booking-expire", real.run)
    again = app.test_cli_runner().invoke(args=["billing", "run-due", "--now", later.isoformat()])
    assert again.output.splitlines() == [f"booking-expire: booking {broken}: expired"]
    assert statuses(db_session, pending_bookings) == ["expired"] * 3


def test_a_failing_search_does_not_stop_the_other_kinds(app, db_session, pending_bookings):
    with app.app_context():
        kinds = due.kinds()

    def broken_find(session, now):
        raise RuntimeError("bad query")

    app.extensions[due.EXTENSION_KEY] = tuple(
        dataclasses.replace(kind, find=broken_find) if kind.name == "webhooks" else kind
        for kind in kinds
    )
    later = datetime.now(UTC) + timedelta(minutes=16)
    with app.app_context():
        lines = due.run_due(later)
    assert len(lines) == 3 and all(line.endswith(": expired") for line in lines)


def test_nothing_due_says_so(app):
    result = app.test_cli_runner().invoke(
        args=["billing", "run-due", "--now", "2026-11-22T10:00:00+01:00"]
    )
    assert result.exit_code == 0
    assert result.output == "nothing due at 2026-11-22T10:00:00+01:00\n"


def test_the_kinds_run_in_order_webhooks_first_mail_last(app):
    with app.app_context():
        names = [kind.name for kind in due.kinds()]
    assert names[0] == "webhooks" and names[-1] == "mail"
    assert names.index("booking-collect") < names.index("dunning-missed-failures")
    assert names.index("quotes-charge") < names.index("dunning-sweep")
    assert len(set(names)) == len(names)


def test_one_reconcile_sweep_for_every_feature_right_after_webhooks(app):
    with app.app_context():
        names = [kind.name for kind in due.kinds()]
    assert names[:2] == ["webhooks", "payments-reconcile"]
    # the features' own sweeps of payments in doubt are gone
    assert not {"booking-reconcile", "quotes-settle"} & set(names)


# --- the worker: one task per item ---------------------------------------------------------


def test_the_periodic_task_enqueues_one_task_per_item(
    immediate, app, db_session, monkeypatch, pending_bookings
):
    tasks.bind_app(app)
    enqueued = []
    real_task = tasks.run_due_item

    def spy(kind, item_id, now_iso):
        enqueued.append((kind, item_id))
        return real_task(kind, item_id, now_iso)

    monkeypatch.setattr(tasks, "run_due_item", spy)
    # when the minute's task runs 16 minutes after the bookings were made
    with clock.frozen(datetime.now(UTC) + timedelta(minutes=16)):
        tasks.enqueue_due_work()
    # then each booking was its own task, and each one expired
    assert enqueued == [("booking-expire", booking_id) for booking_id in pending_bookings]
    assert statuses(db_session, pending_bookings) == ["expired"] * 3


def test_an_item_task_records_its_failure_instead_of_raising(
    immediate, app, db_session, pending_bookings
):
    tasks.bind_app(app)

    def run(session, booking_id, now):
        raise ValueError("boom")

    replace_run(app, "booking-expire", run)
    later = datetime.now(UTC) + timedelta(minutes=16)
    # when the item task runs in the worker and its item fails
    tasks.run_due_item("booking-expire", pending_bookings[0], later.isoformat())
    # then the failure is on the item (not a Huey error) and nothing else changed
    db_session.rollback()
    timeline = events.timeline(db_session, "booking", pending_bookings[0])
    [failure] = [e for e in timeline if e.action == "due_work_failed"]
    assert failure.data == {"kind": "booking-expire", "error": "ValueError: boom"}
    assert statuses(db_session, pending_bookings) == ["pending_payment"] * 3


# --- --now governs every write: a simulated month ------------------------------------------


@pytest.fixture
def freelancer(client, make_freelancer):
    made = make_freelancer()
    answer = client.patch("/api/v1/me", headers=made["headers"], json=PROFILE)
    assert answer.status_code == 200, answer.get_json()
    return made


def at_nine(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=PARIS)


def run_due(app, when: datetime) -> str:
    result = app.test_cli_runner().invoke(args=["billing", "run-due", "--now", when.isoformat()])
    assert result.exit_code == 0, result.output
    assert ": failed: " not in result.output, result.output
    return result.output


def test_a_simulated_month_of_run_due(app, client, db_session, gateway, freelancer):
    # given an accepted quote whose balance is charged on a day six weeks away,
    # with a card that saves fine and is declined off-session
    charge_day = date.today() + timedelta(days=42)
    body = quote_body(
        milestones=[
            {"title": "Acompte", "amount_minor": 50_000, "trigger": "on_acceptance"},
            {
                "title": "Solde",
                "amount_minor": 50_000,
                "trigger": "on_date",
                "due_date": charge_day.isoformat(),
            },
        ]
    )
    quote = client.post("/api/v1/quotes", headers=freelancer["headers"], json=body).get_json()
    sent = client.post(f"/api/v1/quotes/{quote['id']}/send", headers=freelancer["headers"])
    assert sent.status_code == 200, sent.get_json()
    assert accept(client, gateway, quote["public_token"]).status_code == 200
    db_session.get(
        CardSetup, db_session.get(Quote, quote["id"]).card_setup_id
    ).payment_method_id = "pm_card_chargeCustomerFail"
    db_session.commit()
    balance = quote["milestones"][1]["id"]
    before_the_runs = db_session.scalar(select(func.max(Event.id)))

    # when run-due runs the day before: nothing
    run_due(app, at_nine(charge_day - timedelta(days=1)))
    assert db_session.scalar(select(func.count(DunningCase.id))) == 0

    # and on the day: the charge fails, the case opens that day, J+0 only
    j0 = at_nine(charge_day)
    run_due(app, j0)
    db_session.rollback()
    assert db_session.get(Milestone, balance).status == "payment_failed"
    case = db_session.scalars(select(DunningCase)).one()
    assert case.anchor_at == j0.astimezone(UTC)
    assert case.created_at == j0.astimezone(UTC)
    steps = {s.step: s for s in db_session.scalars(select(DunningStep))}
    assert set(steps) == {"notice"}, "J+1 must not fire in the run that opens the case"
    assert steps["notice"].done_at == j0.astimezone(UTC)
    invoice = db_session.get(Invoice, case.invoice_id)
    assert (invoice.issue_date, invoice.due_date) == (charge_day, charge_day)
    assert invoice.created_at == j0.astimezone(UTC)
    failed = db_session.scalar(select(Payment).where(Payment.subject_id == str(balance)))
    assert failed.created_at == j0.astimezone(UTC) and failed.updated_at == j0.astimezone(UTC)
    notice = db_session.scalars(
        select(OutboundEmail)
        .where(OutboundEmail.to_addr == "claire@example.test")
        .order_by(OutboundEmail.id.desc())
    ).first()
    assert notice is not None
    assert notice.created_at == j0.astimezone(UTC)
    case_events = events.timeline(db_session, "dunning_case", case.id)
    assert case_events and {e.occurred_at for e in case_events} == {j0.astimezone(UTC)}

    # one second before J+1: no retry yet
    run_due(app, j0 + timedelta(days=1) - timedelta(seconds=1))
    db_session.rollback()
    assert set(db_session.scalars(select(DunningStep.step))) == {"notice"}

    # then run-due every day of the month: each step on its day, not earlier, once
    first_seen: dict[str, int] = {"notice": 0}
    for day in range(1, 32):
        run_due(app, j0 + timedelta(days=day))
        db_session.rollback()
        for step in db_session.scalars(select(DunningStep)):
            if step.step not in first_seen:
                first_seen[step.step] = day
                assert step.done_at == (j0 + timedelta(days=day)).astimezone(UTC), step.step
    assert first_seen == {
        "notice": 0,
        "retry_1": 1,
        "retry_2": 3,
        "retry_3": 5,
        "friendly": 7,
        "formal": 15,
        "formal_notice": 30,
    }
    steps = {s.step: s for s in db_session.scalars(select(DunningStep))}
    assert {steps[f"retry_{n}"].outcome for n in (1, 2, 3)} == {"failed"}
    # each retry charged on its own simulated day
    retries = db_session.scalars(
        select(Payment).where(Payment.purpose == "dunning_retry").order_by(Payment.id)
    ).all()
    assert [p.created_at for p in retries] == [
        (j0 + timedelta(days=day)).astimezone(UTC) for day in (1, 3, 5)
    ]
    # the business client's penalty invoice is dated the day of the mise en demeure
    penalty = db_session.get(Invoice, db_session.get(DunningCase, case.id).penalty_invoice_id)
    assert penalty.issue_date == charge_day + timedelta(days=30)
    # and nothing the runs wrote is stamped with the real clock
    stamped = db_session.scalars(select(Event.occurred_at).where(Event.id > before_the_runs)).all()
    first_run = at_nine(charge_day - timedelta(days=1)).astimezone(UTC)
    assert stamped and all(t >= first_run for t in stamped)
