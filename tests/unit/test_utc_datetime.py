"""UTCDateTime on SQLite: what is read back is what was written, aware, in UTC.

Its SQLite reader parses the stored text with `datetime.fromisoformat` instead
of SQLAlchemy's regular expression (issue 14); these tests hold it to the same
answers, for the text SQLAlchemy writes and for text written by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    select,
    text,
    type_coerce,
)

from billing.db import UTCDateTime

metadata = MetaData()
moments = Table(
    "moments", metadata, Column("id", Integer, primary_key=True), Column("at", UTCDateTime)
)

VALUES = [
    datetime(2026, 12, 2, 18, 0, tzinfo=UTC),
    datetime(2026, 12, 2, 18, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 3, 29, 3, 30, 15, 999_999, tzinfo=ZoneInfo("Europe/Paris")),
    datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
]


@pytest.fixture
def engine():
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_values_come_back_equal_aware_and_in_utc(engine):
    with engine.begin() as conn:
        conn.execute(moments.insert(), [{"id": n, "at": v} for n, v in enumerate(VALUES)])
    with engine.connect() as conn:
        read = conn.execute(select(moments.c.at).order_by(moments.c.id)).scalars().all()
        stored = conn.execute(select(type_coerce(moments.c.at, String))).scalars().all()
    assert read == VALUES
    assert all(v.tzinfo is UTC for v in read)
    # Stored as SQLAlchemy writes it: naive UTC text.
    assert stored[0] == "2026-12-02 18:00:00.000000"


def test_text_written_by_hand_reads_the_same(engine):
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO moments (id, at) VALUES (1, '2026-12-02 18:05:00'), (2, NULL)")
        )
    with engine.connect() as conn:
        read = conn.execute(select(moments.c.at).order_by(moments.c.id)).scalars().all()
    assert read == [datetime(2026, 12, 2, 18, 5, tzinfo=UTC), None]


def test_a_naive_value_is_refused(engine):
    with engine.begin() as conn, pytest.raises(Exception, match="naive datetime refused"):
        conn.execute(moments.insert(), {"id": 1, "at": datetime(2026, 12, 2, 18, 0)})
