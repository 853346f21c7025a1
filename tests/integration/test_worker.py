"""The background worker: tasks run with the app context, due items every minute, consumers.

Immediate mode where no consumer is needed; one real `flask --app webapp worker`
on a SQLite queue, and one on Redis (REDIS_URL-like `HUEY_URL`, skipped with a
reason when Redis is unreachable unless REQUIRE_REDIS=1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import current_app, has_app_context
from huey.exceptions import HueyException

from tests.support.requirements import empty_redis
from webapp import tasks
from webapp.config import PROJECT_ROOT

REDIS_URL = "redis://127.0.0.1:6379/15"
# Redis database 15 is this file's alone: its tests run in one test worker, one by one.
pytestmark = pytest.mark.xdist_group("redis-db-15")


@pytest.fixture
def immediate(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tasks run at enqueue, in this thread, on in-memory storage; then everything is put back."""
    monkeypatch.setattr(tasks, "_bound_app", None)
    monkeypatch.setattr(tasks.huey, "storage", tasks.huey.storage)
    tasks.huey.immediate = True
    yield
    tasks.huey.immediate = False


@tasks.huey.task()
def current_app_id() -> int:
    """A test task: which app's context it ran in."""
    return id(current_app._get_current_object())


def test_a_task_runs_in_the_bound_apps_context(immediate, app, app_config):
    # given the worker's app, and no context in this thread
    tasks.bind_app(app)
    assert not has_app_context()
    # when a task runs
    result = tasks.health_check()
    # then it ran inside the bound app's context, which is gone afterwards
    assert result() == {"app": "webapp", "database": app_config["DATABASE_URL"]}
    assert current_app_id()() == id(app)
    assert not has_app_context()


def test_a_task_keeps_the_callers_context(immediate, app_ctx):
    # given a caller (a request, a test) inside its own app context
    # when a task runs there
    ran_in = current_app_id()()
    # then it used that context and left it in place
    assert ran_in == id(app_ctx)
    assert current_app._get_current_object() is app_ctx


def test_due_work_is_enqueued_every_minute_one_task_per_item(immediate, app_ctx, monkeypatch):
    found_at: list[datetime] = []
    enqueued: list[tuple[str, int, str]] = []

    def fake_find_items(now: datetime) -> list[tuple[str, int]]:
        found_at.append(now)
        return [("booking-expire", 1), ("booking-expire", 2), ("mail", 7)]

    monkeypatch.setattr("webapp.due.find_items", fake_find_items)
    monkeypatch.setattr(tasks, "run_due_item", lambda *args: enqueued.append(args))
    # the schedule: every minute of every hour
    for minute in (0, 1, 29, 59):
        assert tasks.enqueue_due_work.s().validate_datetime(datetime(2026, 11, 22, 10, minute))
    # when the periodic task runs
    tasks.enqueue_due_work()
    # then it searched once, as of now with an offset, and enqueued one task per item
    assert len(found_at) == 1
    assert found_at[0].tzinfo is not None
    assert abs((datetime.now(UTC) - found_at[0]).total_seconds()) < 60
    now_iso = found_at[0].isoformat()
    assert enqueued == [
        ("booking-expire", 1, now_iso),
        ("booking-expire", 2, now_iso),
        ("mail", 7, now_iso),
    ]


def test_an_item_skips_while_another_consumer_holds_its_lock(immediate, app_ctx, monkeypatch):
    from webapp.due import ItemResult

    calls: list[tuple[str, int]] = []

    def run_item(kind, item_id, now):  # noqa: ANN001, ANN202
        calls.append((kind.name, item_id))
        return ItemResult(kind.name, kind.subject, item_id, line="done")

    monkeypatch.setattr("webapp.due.run_item", run_item)
    now_iso = datetime.now(UTC).isoformat()
    # given another consumer in the middle of item 5
    with tasks.due_item_lock("booking-expire", 5):
        # when this consumer's copy of the item comes up
        tasks.run_due_item("booking-expire", 5, now_iso)
        # then it did not run concurrently, but another item runs meanwhile
        tasks.run_due_item("booking-expire", 6, now_iso)
    assert calls == [("booking-expire", 6)]
    assert not tasks.huey.is_locked("due:booking-expire:5"), "the lock is released afterwards"


def test_a_lock_left_by_a_dead_consumer_expires(immediate, app_ctx, monkeypatch):
    # given an item lock taken long ago by a consumer that was killed
    key = f"{tasks.huey.name}.lock.due:mail:3"
    tasks.huey.put_if_empty(key, 0.0)
    # when the item comes up again, its lock is broken and it runs
    with tasks.due_item_lock("mail", 3):
        assert tasks.huey.is_locked("due:mail:3")
    assert not tasks.huey.is_locked("due:mail:3")


def test_the_real_due_work_runs_in_a_task(immediate, app):
    tasks.bind_app(app)
    # nothing is due on an empty database; the point is the real path works
    tasks.enqueue_due_work()


# --- real consumers -----------------------------------------------------------


def worker_env(tmp_path: Path, database_url: str, huey_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        HUEY_URL=huey_url,
        SECRET_KEY="test-secret-key",
        STRIPE_API_BASE="http://127.0.0.1:9",
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def real_worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`flask --app webapp worker` in a subprocess; killed if the test did not stop it."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "webapp", "worker", "--workers", "1"],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


@contextmanager
def queue_at(url: str) -> Iterator[None]:
    """Enqueue from this process into the storage the worker consumes."""
    previous = tasks.use_url(url)
    try:
        yield
    finally:
        tasks.huey.storage.close()
        tasks.huey.storage = previous


def enqueue_and_stop(process: subprocess.Popen[bytes], log_path: Path) -> dict[str, Any]:
    """Enqueue a health check, wait for the worker's answer, then stop it with SIGINT."""
    result = tasks.health_check()
    try:
        answer = result.get(blocking=True, timeout=30)
    except HueyException:
        pytest.fail(f"the worker did not run the task:\n{log_path.read_text()}")
    # when the worker is told to stop as Ctrl-C would
    process.send_signal(signal.SIGINT)
    # then it stops cleanly and promptly
    assert process.wait(timeout=15) == 0, log_path.read_text()
    log = log_path.read_text()
    assert "Shutting down gracefully" in log
    assert "Consumer exiting" in log
    return answer


def test_flask_worker_processes_a_task_and_stops_on_sigint(tmp_path, database_url):
    huey_url = f"sqlite:///{tmp_path / 'queue.sqlite'}"
    env = worker_env(tmp_path, database_url, huey_url)
    log_path = tmp_path / "worker.log"
    with queue_at(huey_url), real_worker(env, log_path) as process:
        answer = enqueue_and_stop(process, log_path)
    # the task ran in the worker's app context, on the worker's database
    assert answer == {"app": "webapp", "database": database_url}
    # and its scheduler ran the periodic due work at start
    assert "run-due: nothing due at" in log_path.read_text()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Redis database 15, emptied before and after; a visible skip when Redis is unreachable."""
    with empty_redis(REDIS_URL) as url:
        yield url


def test_flask_worker_on_redis(tmp_path, database_url, redis_url):
    env = worker_env(tmp_path, database_url, redis_url)
    log_path = tmp_path / "worker.log"
    with queue_at(redis_url), real_worker(env, log_path) as process:
        answer = enqueue_and_stop(process, log_path)
    assert answer == {"app": "webapp", "database": database_url}
