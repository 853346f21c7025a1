"""The append-only timeline."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from billing.db import utcnow
from billing.models import Event

SYSTEM = "system"
STRIPE = "stripe"
CLIENT = "client"


def freelancer_actor(freelancer_id: int) -> str:
    """The actor string of a freelancer acting on their own data."""
    return f"freelancer:{freelancer_id}"


def record(
    session: Session,
    *,
    subject_type: str,
    subject_id: int | str,
    action: str,
    actor: str = SYSTEM,
    freelancer_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Append one event; flushed, not committed."""
    event = Event(**_columns(subject_type, subject_id, action, actor, freelancer_id, data))
    session.add(event)
    session.flush()
    return event


@cache
def _insert() -> Any:
    return insert(Event.__table__)


def append(
    session: Session,
    *,
    subject_type: str,
    subject_id: int | str,
    action: str,
    actor: str = SYSTEM,
    freelancer_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append one event like `record`, with no ORM object: the ledger's own events.

    One INSERT built once and run on the session's connection at once (the
    payment writes record one or two per phase; issue 14). Call it with
    nothing of the timeline pending in the session, as `record` leaves it.
    """
    columns = _columns(subject_type, subject_id, action, actor, freelancer_id, data)
    session.connection().execute(_insert(), {"occurred_at": utcnow(), **columns})


def _columns(
    subject_type: str,
    subject_id: int | str,
    action: str,
    actor: str,
    freelancer_id: int | None,
    data: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "action": action,
        "actor": actor,
        "freelancer_id": freelancer_id,
        "data": data or {},
    }


def timeline(session: Session, subject_type: str, subject_id: int | str) -> list[Event]:
    """One object's events, oldest first."""
    return list(
        session.scalars(
            select(Event)
            .where(Event.subject_type == subject_type, Event.subject_id == str(subject_id))
            .order_by(Event.id)
        )
    )
