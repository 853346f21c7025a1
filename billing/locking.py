"""Row locks that work on PostgreSQL and SQLite alike.

A gateway call happens while the aggregate row is locked, so a second worker
racing on the same payment waits, then sees the new state and stops.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from billing.db import Base, utcnow

M = TypeVar("M", bound=Base)


def lock(session: Session, model: type[M], row_id: int) -> M | None:
    """Lock one row for the rest of the transaction and return it fresh.

    PostgreSQL: `SELECT … FOR UPDATE`. SQLite has no row locks; a write takes
    the database's write lock until commit, so we touch the row first, which
    serialises competing transactions the same way.
    """
    if session.get_bind().dialect.name == "sqlite" and hasattr(model, "updated_at"):
        session.execute(update(model).where(model.id == row_id).values(updated_at=utcnow()))
    return session.scalar(
        select(model)
        .where(model.id == row_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
