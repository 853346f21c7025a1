"""Declarative base and column types shared by every table of the project."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

from billing import clock

# Stable constraint names, so that Alembic autogenerate and every database
# agree on them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC: the frozen one inside `clock.frozen`."""
    at = clock.frozen_at()
    if at is not None:
        return at.astimezone(UTC)
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC.

    SQLite has no time zones, so values are stored naive in UTC there and made
    aware again on the way out; a naive value on the way in is a bug and is
    refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: times are timezone-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        """SQLite: its stored text read by `datetime.fromisoformat` (one C call).

        SQLAlchemy's own SQLite reader parses each value with a regular
        expression, then `process_result_value` makes it aware: most of the
        cost of reading a few hundred times (a week of slots, a due sweep).
        The text is SQLAlchemy's own `YYYY-MM-DD HH:MM:SS[.ffffff]`; the
        result is the same aware UTC datetime. Other databases: as declared.
        """
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            if isinstance(value, str) and len(value) in (19, 26):
                # Naive UTC text: the offset appended, aware in the same C call
                # (`datetime.replace` would cost more than the parse).
                return parse(value + "+00:00")
            moment = value if isinstance(value, datetime) else parse(value)
            if moment.tzinfo is None:
                return moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC)

        return process


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
