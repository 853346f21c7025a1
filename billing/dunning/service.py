"""The dunning case lifecycle: open, pause, resume, close, and the step sweep.

State transitions live in `TRANSITIONS`; every change appends an event on
the case (`subject_type="dunning_case"`), the timeline the recourse pack
prints. Side effects (e-mails, invoices, letters, card retries) belong to the
caller, through the `StepRunner` protocol, so this module stays free of any
web framework.

Exactly once. `sweep_case` locks the case row, checks its guards (paid?
paused? promise date passed?), then records each due step as a
`dunning_step` row — unique per (case, step) — together with its side effect
in the caller's one transaction. A second worker waits on the lock, then
sees the step rows and does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import events
from billing.dunning.models import DunningCase, DunningSettings, DunningStep
from billing.dunning.schedule import (
    DunningConfig,
    PlannedStep,
    config_from,
    next_step,
    plan,
    steps_to_run,
)
from billing.errors import AlreadyDone, NotAllowed
from billing.locking import lock
from billing.states import StateMachine

OPEN, PAUSED, PAID, RESOLVED, WRITTEN_OFF = "open", "paused", "paid", "resolved", "written_off"
CLOSED = frozenset({PAID, RESOLVED, WRITTEN_OFF})
SUBJECT = "dunning_case"

MACHINE = StateMachine(
    "dunning case",
    {
        OPEN: {PAUSED, PAID, RESOLVED, WRITTEN_OFF},
        PAUSED: {OPEN, PAID, RESOLVED, WRITTEN_OFF},
        # Only when the payment that closed it is undone (a bank match reversed, issue 17).
        PAID: {OPEN},
        RESOLVED: set(),
        WRITTEN_OFF: set(),
    },
)
TRANSITIONS = MACHINE.table
# The event each move records.
_ACTIONS = {
    (OPEN, PAUSED): "dunning_paused",
    (PAUSED, OPEN): "dunning_resumed",
    (PAID, OPEN): "dunning_reopened",
}


def record(
    session: Session,
    case: DunningCase,
    action: str,
    *,
    actor: str,
    data: dict | None = None,
    at: datetime | None = None,
) -> None:
    """Append one event to the case's timeline (`at`: the sweep's clock, e.g. run-due --now)."""
    event = events.record(
        session,
        subject_type=SUBJECT,
        subject_id=case.id,
        action=action,
        actor=actor,
        freelancer_id=case.freelancer_id,
        data=data or {},
    )
    if at is not None:
        event.occurred_at = at
        session.flush()


def transition(
    session: Session,
    case: DunningCase,
    new_status: str,
    *,
    actor: str,
    now: datetime,
    data: dict | None = None,
) -> None:
    """Move the case; `AlreadyDone` when it is there already, `NotAllowed` when forbidden."""
    old = case.status
    MACHINE.require(old, new_status, what=f"dunning case {case.id}")
    case.status = new_status
    if new_status in CLOSED:
        case.closed_at = now
    if new_status != PAUSED:
        case.pause_kind, case.promise_date = None, None
    session.flush()
    action = _ACTIONS.get((old, new_status), f"dunning_{new_status}")
    record(session, case, action, actor=actor, data={"from": old, **(data or {})}, at=now)


@dataclass(frozen=True, slots=True)
class NewCase:
    """What opening a case needs to know."""

    freelancer_id: int
    source_key: str
    subject_type: str
    subject_id: str
    amount_minor: int
    currency: str
    reason: str
    anchor_at: datetime
    token_hash: str
    token_enc: str
    client_name: str = ""
    client_email: str = ""
    client_is_business: bool = False
    locale: str = "fr"
    invoice_id: int | None = None
    failed_payment_id: int | None = None
    customer_id: int | None = None
    payment_method_id: str | None = None
    original_purpose: str = ""
    hard_decline: bool = False


def find_case(session: Session, freelancer_id: int, source_key: str) -> DunningCase | None:
    """The freelancer's case opened by `source_key`, if any."""
    return session.scalar(
        select(DunningCase).where(
            DunningCase.freelancer_id == freelancer_id, DunningCase.source_key == source_key
        )
    )


def open_case(
    session: Session, new: NewCase, *, actor: str = events.SYSTEM
) -> tuple[DunningCase, bool]:
    """Open the case for `new.source_key`, or return the existing one (and False).

    Two workers opening the same case at once: the unique constraint refuses
    the second insert (inside a savepoint), which then reads the first.
    """
    existing = find_case(session, new.freelancer_id, new.source_key)
    if existing is not None:
        return existing, False
    case = DunningCase(
        freelancer_id=new.freelancer_id,
        source_key=new.source_key,
        invoice_id=new.invoice_id,
        subject_type=new.subject_type,
        subject_id=str(new.subject_id),
        failed_payment_id=new.failed_payment_id,
        customer_id=new.customer_id,
        payment_method_id=new.payment_method_id,
        original_purpose=new.original_purpose,
        amount_minor=new.amount_minor,
        currency=new.currency,
        client_name=new.client_name,
        client_email=new.client_email,
        client_is_business=new.client_is_business,
        locale=new.locale,
        reason=new.reason,
        hard_decline=new.hard_decline,
        status=OPEN,
        anchor_at=new.anchor_at,
        token_hash=new.token_hash,
        token_enc=new.token_enc,
        pause_reason="",
    )
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        existing = find_case(session, new.freelancer_id, new.source_key)
        if existing is None:
            raise
        return existing, False
    record(
        session,
        case,
        "dunning_opened",
        actor=actor,
        data={
            "reason": new.reason,
            "amount_minor": new.amount_minor,
            "currency": new.currency,
            "invoice_id": new.invoice_id,
            "failed_payment_id": new.failed_payment_id,
            "hard_decline": new.hard_decline,
        },
    )
    return case, True


# --- client and freelancer actions -------------------------------------------


def pause(
    session: Session,
    case: DunningCase,
    *,
    kind: str,
    actor: str,
    now: datetime,
    reason: str = "",
    promise_date: date | None = None,
) -> None:
    """Pause the escalation: a dispute (reason), a promise to pay (date), or the freelancer."""
    if kind == "dispute" and not reason.strip():
        raise NotAllowed("a dispute needs a reason")
    if kind == "promise" and (promise_date is None or promise_date <= now.date()):
        raise NotAllowed("a promise to pay needs a date in the future")
    transition(
        session,
        case,
        PAUSED,
        actor=actor,
        now=now,
        data={
            "kind": kind,
            "reason": reason,
            "promise_date": promise_date.isoformat() if promise_date else None,
        },
    )
    case.pause_kind, case.pause_reason, case.promise_date = kind, reason, promise_date
    session.flush()


def resume(
    session: Session, case: DunningCase, *, actor: str, now: datetime, why: str = ""
) -> None:
    """Start the escalation again where it stood."""
    if case.status != PAUSED:
        if case.status == OPEN:
            raise AlreadyDone(f"dunning case {case.id} is not paused")
        raise NotAllowed(f"dunning case {case.id} is {case.status}")
    transition(session, case, OPEN, actor=actor, now=now, data={"why": why} if why else None)


def close(
    session: Session,
    case: DunningCase,
    status: str,
    *,
    actor: str,
    now: datetime,
    data: dict | None = None,
) -> None:
    """Paid, resolved or written off: no step runs after."""
    if status not in CLOSED:
        raise NotAllowed(f"{status} does not close a case")
    transition(session, case, status, actor=actor, now=now, data=data)


def reopen(
    session: Session, case: DunningCase, *, actor: str, now: datetime, data: dict | None = None
) -> None:
    """A paid case whose invoice is owed again (its transfer undone): the steps resume
    where they stopped; the ones already sent are not sent again."""
    transition(session, case, OPEN, actor=actor, now=now, data=data)
    case.closed_at = None
    session.flush()


# --- the sweep ---------------------------------------------------------------


def config_for(session: Session, freelancer_id: int) -> DunningConfig:
    """The freelancer's settings over the defaults."""
    row = session.scalar(
        select(DunningSettings).where(DunningSettings.freelancer_id == freelancer_id)
    )
    return config_from(row.config if row else None)


def steps_of(session: Session, case_id: int) -> dict[str, DunningStep]:
    """The case's recorded steps by name."""
    rows = session.scalars(select(DunningStep).where(DunningStep.case_id == case_id))
    return {row.step: row for row in rows}


def case_plan(case: DunningCase, config: DunningConfig) -> list[PlannedStep]:
    """The case's steps: no retries without a saved card, or after a hard decline."""
    retries = bool(case.payment_method_id) and not case.hard_decline
    return plan(config, amount_minor=case.amount_minor, retries=retries)


def due_at(case: DunningCase, step: PlannedStep) -> datetime:
    """When a step falls due: J+0 plus its day count."""
    return case.anchor_at + timedelta(days=step.day)


def upcoming(
    session: Session, case: DunningCase, config: DunningConfig
) -> tuple[str, datetime] | None:
    """The next scheduled step and its time, for the dashboard (None once closed)."""
    if case.status in CLOSED:
        return None
    step = next_step(case_plan(case, config), set(steps_of(session, case.id)))
    return (step.name, due_at(case, step)) if step else None


class StepRunner(Protocol):
    """The side effects of the steps, supplied by the application."""

    def is_paid(self, session: Session, case: DunningCase) -> bool:
        """Whether the money came in some other way (e.g. a transfer recorded on the invoice)."""

    def run(
        self, session: Session, case: DunningCase, step: PlannedStep, now: datetime
    ) -> StepResult:
        """Do the step (flush only); the caller's commit makes it and its record final."""


@dataclass(slots=True)
class StepResult:
    """What a step did: its outcome, details for the timeline, a payment to execute."""

    outcome: str
    data: dict[str, Any] = field(default_factory=dict)
    payment_id: int | None = None


@dataclass(slots=True)
class SweepResult:
    """What one sweep of one case did, and the prepared payments to execute after commit."""

    lines: list[str] = field(default_factory=list)
    payments_to_execute: list[int] = field(default_factory=list)


def record_step(
    session: Session,
    case: DunningCase,
    step: PlannedStep,
    *,
    now: datetime,
    result: StepResult,
) -> DunningStep:
    """Insert the step row (unique per case) and its event."""
    row = DunningStep(
        case_id=case.id,
        freelancer_id=case.freelancer_id,
        step=step.name,
        scheduled_at=due_at(case, step),
        done_at=now,
        outcome=result.outcome,
        payment_id=result.payment_id,
        data=result.data,
    )
    session.add(row)
    session.flush()
    record(
        session,
        case,
        f"dunning_step_{step.name}",
        actor=events.SYSTEM,
        data={"outcome": result.outcome, "day": step.day, **result.data},
        at=now,
    )
    return row


def sweep_case(
    session: Session,
    case_id: int,
    now: datetime,
    runner: StepRunner,
    *,
    config_loader: Callable[[Session, int], DunningConfig] = config_for,
) -> SweepResult:
    """Bring one case up to date as of `now`, under its row lock. Flushes; caller commits."""
    out = SweepResult()
    case = lock(session, DunningCase, case_id)
    if case is None or case.status in CLOSED:
        return out
    if runner.is_paid(session, case):
        close(session, case, PAID, actor=events.SYSTEM, now=now, data={"seen_by": "sweep"})
        out.lines.append(f"case {case.id}: paid, closed")
        return out
    if case.status == PAUSED:
        if case.pause_kind == "promise" and case.promise_date and now.date() > case.promise_date:
            resume(session, case, actor=events.SYSTEM, now=now, why="promise_date_passed")
            out.lines.append(f"case {case.id}: promise of {case.promise_date} missed, resumed")
        else:
            return out
    config = config_loader(session, case.freelancer_id)
    planned = case_plan(case, config)
    done = set(steps_of(session, case.id))
    elapsed = (now - case.anchor_at) // timedelta(days=1)
    to_run, to_skip = steps_to_run(planned, done, elapsed)
    for step in to_skip:
        record_step(session, case, step, now=now, result=StepResult("skipped", {"late": True}))
        out.lines.append(f"case {case.id}: {step.name} skipped (a later step is due)")
    for step in to_run:
        result = runner.run(session, case, step, now)
        record_step(session, case, step, now=now, result=result)
        out.lines.append(f"case {case.id}: {step.name} {result.outcome}")
        if result.payment_id is not None:
            out.payments_to_execute.append(result.payment_id)
        if case.status in CLOSED:
            break
    return out
