"""Two real consumers (`flask --app webapp worker`) on one Redis queue share the due work.

Thirty unpaid bookings are past their 15 minutes. Each item task is enqueued
twice (as two schedulers would), on top of what the consumers' own periodic
task enqueues: both consumers run items, and each booking expires once.
Skipped with the reason when Redis is unreachable, unless REQUIRE_REDIS=1.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from billing.models import Event
from tests.integration.test_booking_api import book, slot_in
from tests.integration.test_due_items import (  # noqa: F401  (fixtures)
    app_config,
    gateway,
    seller,
)
from tests.integration.test_worker import queue_at, real_worker, worker_env
from tests.support.requirements import empty_redis
from webapp import tasks
from webapp.booking.models import Booking

REDIS_URL = "redis://127.0.0.1:6379/13"
# Redis database 13 is this file's alone: its tests run in one test worker, one by one.
pytestmark = pytest.mark.xdist_group("redis-db-13")
BOOKINGS = 30


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Redis database 13, emptied before and after."""
    with empty_redis(REDIS_URL) as url:
        yield url


@pytest.fixture
def overdue_bookings(client, seller, db_session) -> list[int]:  # noqa: F811 (the fixture)
    """Unpaid bookings whose 15 minutes ended a minute ago."""
    ids = []
    for n in range(BOOKINGS):
        start = slot_in(2 + n / 24)
        answer = book(client, seller, seller["offering"], start, email=f"c{n}@example.test")
        assert answer.status_code == 201, answer.get_json()
        ids.append(answer.get_json()["booking_id"])
    db_session.execute(
        update(Booking)
        .where(Booking.id.in_(ids))
        .values(pending_expires_at=datetime.now(UTC) - timedelta(minutes=1))
    )
    db_session.commit()
    return ids


def wait_until(condition, timeout: float, what: str, logs) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout} s:\n" + "\n".join(p.read_text() for p in logs))
        time.sleep(0.2)


def test_two_consumers_share_the_items_and_each_happens_once(
    tmp_path, database_url, redis_url, db_session, overdue_bookings
):
    env = worker_env(tmp_path, database_url, redis_url)
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    now_iso = datetime.now(UTC).isoformat()
    with (
        queue_at(redis_url),
        real_worker(env, logs[0]) as first,
        real_worker(env, logs[1]) as second,
    ):
        # given two consumers, and every item enqueued twice
        for _ in range(2):
            for booking_id in overdue_bookings:
                tasks.run_due_item("booking-expire", booking_id, now_iso)

        # when they have drained the queue
        def all_expired() -> bool:
            db_session.rollback()
            statuses = db_session.scalars(
                select(Booking.status).where(Booking.id.in_(overdue_bookings))
            ).all()
            return set(statuses) == {"expired"}

        wait_until(all_expired, 90, "the bookings did not all expire", logs)
        wait_until(lambda: tasks.huey.pending_count() == 0, 60, "the queue did not drain", logs)
        for process in (first, second):
            process.send_signal(signal.SIGINT)
        for process, log in zip((first, second), logs, strict=True):
            assert process.wait(timeout=30) == 0, log.read_text()

    # then both consumers did some of the work
    done = [re.findall(r"booking-expire: booking (\d+): expired", log.read_text()) for log in logs]
    assert done[0] and done[1], f"one consumer did everything: {[len(d) for d in done]}"
    # and each booking expired once: one line, one transition, across both
    expired = sorted(int(booking_id) for lines in done for booking_id in lines)
    assert expired == sorted(overdue_bookings)
    transitions = db_session.execute(
        select(Event.subject_id, func.count())
        .where(
            Event.subject_type == "booking",
            Event.subject_id.in_([str(i) for i in overdue_bookings]),
            Event.action == "booking_expired",
        )
        .group_by(Event.subject_id)
    ).all()
    assert len(transitions) == BOOKINGS and all(n == 1 for _, n in transitions)
    failures = db_session.scalar(select(func.count()).where(Event.action == "due_work_failed"))
    assert failures == 0
