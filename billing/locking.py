"""Row locks that work on PostgreSQL and SQLite alike.

A gateway call happens while the aggregate row is locked, so a second worker
racing on the same payment waits, then sees the new state and stops.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from billing.db import Base, utcnow

M = TypeVar("M", bound=Base)


@cache
def _touch(model: type[Base]) -> Any:
    """`UPDATE … SET updated_at WHERE id RETURNING` the row: built once per model."""
    return (
        update(model)
        .where(model.id == bindparam("lock_id"))  # type: ignore[attr-defined]
        .values(updated_at=bindparam("lock_at"))
        .returning(model)
        .execution_options(populate_existing=True, synchronize_session=False)
    )


@cache
def _select(model: type[Base]) -> Any:
    """`SELECT … FOR UPDATE` the row: built once per model."""
    return (
        select(model)
        .where(model.id == bindparam("lock_id"))  # type: ignore[attr-defined]
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def lock(session: Session, model: type[M], row_id: int) -> M | None:
    """Lock one row for the rest of the transaction and return it fresh.

    PostgreSQL: `SELECT … FOR UPDATE`. SQLite has no row locks; a write takes
    the database's write lock until commit, so we touch the row first, which
    serialises competing transactions the same way — one `UPDATE … RETURNING`
    (SQLite ≥ 3.35) that also reads the row back.
    """
    if session.get_bind().dialect.name == "sqlite" and hasattr(model, "updated_at"):
        return session.scalar(_touch(model), {"lock_id": row_id, "lock_at": utcnow()})
    return session.scalar(_select(model), {"lock_id": row_id})
