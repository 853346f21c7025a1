"""The state machines of quotes and milestones: one table each, one function that moves.

Every move appends an event (the timeline the recourse pack is built from).
Asking for the state something is already in is `AlreadyDone`; a move the
table does not list is `NotAllowed`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from billing import events
from billing.states import StateMachine
from webapp.quotes.models import Milestone, Quote

# Quote statuses.
DRAFT, SENT, VIEWED, ACCEPTED, DECLINED, EXPIRED = (
    "draft",
    "sent",
    "viewed",
    "accepted",
    "declined",
    "expired",
)
QUOTE_MACHINE = StateMachine(
    "quote",
    {
        DRAFT: {SENT},
        # A new version sent again stays `sent`; the client opening it makes it `viewed`.
        SENT: {VIEWED, ACCEPTED, DECLINED, EXPIRED},
        VIEWED: {SENT, ACCEPTED, DECLINED, EXPIRED},
        ACCEPTED: set(),
        DECLINED: set(),
        EXPIRED: set(),
    },
)
QUOTE_TRANSITIONS = QUOTE_MACHINE.table
OPEN_FOR_CLIENT = frozenset({SENT, VIEWED})
EDITABLE = frozenset({DRAFT, SENT, VIEWED})

# Milestone statuses and triggers.
PENDING, DELIVERED, APPROVED, OBJECTED = "pending", "delivered", "approved", "objected"
CHARGING, PAID, PAYMENT_FAILED, CANCELLED = "charging", "paid", "payment_failed", "cancelled"
ON_ACCEPTANCE, ON_APPROVAL, ON_DATE = "on_acceptance", "on_approval", "on_date"
TRIGGERS = (ON_ACCEPTANCE, ON_APPROVAL, ON_DATE)

MILESTONE_MACHINE = StateMachine(
    "milestone",
    {
        # pending → charging: the deposit at acceptance, or an on_date milestone on its date.
        PENDING: {DELIVERED, CHARGING, CANCELLED, PAID},
        DELIVERED: {APPROVED, OBJECTED, CANCELLED, PAID},
        # Resolving an objection: deliver a revision, charge after agreement, or cancel.
        OBJECTED: {DELIVERED, APPROVED, CANCELLED, PAID},
        APPROVED: {CHARGING, CANCELLED, PAID},
        CHARGING: {PAID, PAYMENT_FAILED},
        # A failed charge is retried (a new payment) or settled by bank transfer.
        PAYMENT_FAILED: {CHARGING, PAID, CANCELLED},
        PAID: set(),
        CANCELLED: set(),
    },
)
MILESTONE_TRANSITIONS = MILESTONE_MACHINE.table


def _move(
    machine: StateMachine,
    kind: str,
    row: Quote | Milestone,
    new_status: str,
    session: Session,
    *,
    actor: str,
    action: str | None,
    data: dict[str, Any] | None,
) -> None:
    old = row.status
    machine.require(old, new_status, what=f"{kind} {row.id}")
    row.status = new_status
    session.flush()
    events.record(
        session,
        subject_type=kind,
        subject_id=row.id,
        action=action or f"{kind}_{new_status}",
        actor=actor,
        freelancer_id=row.freelancer_id,
        data={"from": old, "to": new_status, **(data or {})},
    )


def move_quote(
    session: Session,
    quote: Quote,
    new_status: str,
    *,
    actor: str,
    action: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Move a quote along `QUOTE_MACHINE` and record the event."""
    _move(
        QUOTE_MACHINE,
        "quote",
        quote,
        new_status,
        session,
        actor=actor,
        action=action,
        data=data,
    )


def move_milestone(
    session: Session,
    milestone: Milestone,
    new_status: str,
    *,
    actor: str,
    action: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Move a milestone along `MILESTONE_MACHINE` and record the event."""
    _move(
        MILESTONE_MACHINE,
        "milestone",
        milestone,
        new_status,
        session,
        actor=actor,
        action=action,
        data={"quote_id": milestone.quote_id, **(data or {})},
    )
