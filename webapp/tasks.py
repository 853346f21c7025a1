"""Background work with Huey.

Storage from `HUEY_URL`: a SQLite file by default (one machine), `redis://…`
to scale out to many consumers on many machines.

`HUEY_URL` is read from the environment when this module is imported: the web
processes enqueue into that storage, and `flask --app webapp worker` consumes
from it. Both read the same environment, so they agree. The worker also
honours the app's `HUEY_URL` setting (`bind_app`), which only differs from the
environment when an app is built with overrides (tests).

How to write a task:

- Make it idempotent. A task may run twice (a retry after a crash, a periodic
  task enqueued by two schedulers) or on two consumers at once; it must still
  do its work once. Guard with a row lock, a state check or an idempotency key,
  the way the billing code does.
- Take ids, not objects: arguments are pickled into the queue and read back
  later, maybe on another machine; a loaded ORM object would be stale and
  detached. Load what you need inside the task, in its own session.
- Expect an app context: every task runs inside `app.app_context()` (pushed by
  the pre-execute hook below), so `current_app`, `db.session` and the Stripe
  gateway work. The context is popped after the task, which removes its
  `db.session`; commit what you mean to keep.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flask import Flask, current_app, has_app_context
from flask.ctx import AppContext
from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.api import Task
from huey.consumer import Consumer
from huey.storage import BaseStorage, SqliteStorage

from webapp.config import PROJECT_ROOT

log = logging.getLogger(__name__)

# The lock that keeps two consumers (maybe on two machines) from running the
# due work at once. Runners are idempotent anyway; the lock saves the work.
RUN_DUE_LOCK = "run-due"
# Redis 7.4+ can expire the lock, so a consumer killed mid-run cannot block due
# work forever. Older Redis and SQLite cannot; see `run_consumer` for SQLite.
RUN_DUE_LOCK_TTL_SECONDS = 15 * 60


def make_huey(url: str | None) -> Huey:
    """A Huey instance for `url` (sqlite:///path or redis://host:port/db)."""
    url = url or "sqlite:///instance/huey.sqlite"
    if url.startswith("redis://") or url.startswith("rediss://"):
        return RedisHuey("acompte", url=url)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_absolute():
            path = PROJECT_ROOT / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey("acompte", filename=str(path))
    raise ValueError(f"HUEY_URL must be sqlite:///… or redis://…, got {urlparse(url).scheme}://")


huey = make_huey(os.environ.get("HUEY_URL"))


def use_url(url: str) -> BaseStorage:
    """Point the shared `huey` at the storage for `url`; returns the storage it replaces.

    Tasks are registered on the module-level instance at import, so the
    storage is swapped rather than the instance.
    """
    previous = huey.storage
    huey.storage = make_huey(url).storage
    return previous


# --- the app context tasks run in -------------------------------------------

_bound_app: Flask | None = None
_bound_app_lock = threading.Lock()
_pushed = threading.local()


def bind_app(app: Flask) -> None:
    """Make `app` the one tasks run in, and consume from its `HUEY_URL`."""
    global _bound_app
    _bound_app = app
    url = app.config.get("HUEY_URL")
    if url:
        use_url(url)


def task_app() -> Flask:
    """The app tasks run in: the bound one, else one built from the environment.

    The fallback serves consumers started some other way (e.g. `huey_consumer
    webapp.tasks.huey`); `flask --app webapp worker` always binds its app.
    """
    global _bound_app
    with _bound_app_lock:
        if _bound_app is None:
            from webapp import create_app

            _bound_app = create_app()
        return _bound_app


@huey.pre_execute()
def push_app_context(task: Task) -> None:
    """Run every task inside an app context (unless the caller already has one).

    Immediate mode (tests) executes tasks in the caller's thread, which usually
    has its own context: that one is kept.
    """
    stack: list[AppContext | None] = _context_stack()
    if has_app_context():
        stack.append(None)
        return
    context = task_app().app_context()
    context.push()
    stack.append(context)


@huey.post_execute()
def pop_app_context(task: Task, value: Any, exception: BaseException | None) -> None:
    """Pop the context `push_app_context` pushed (its teardown removes `db.session`)."""
    stack = _context_stack()
    if stack:
        context = stack.pop()
        if context is not None:
            context.pop(exception)


def _context_stack() -> list[AppContext | None]:
    # Contexts are per thread, and so are Huey's thread workers.
    if not hasattr(_pushed, "stack"):
        _pushed.stack = []
    return _pushed.stack


# --- tasks ------------------------------------------------------------------


@huey.task()
def health_check() -> dict[str, str]:
    """A no-op that proves a worker is consuming, with the app's context."""
    return {"app": current_app.import_name, "database": current_app.config["DATABASE_URL"]}


@huey.periodic_task(crontab(minute="*"))
def run_due_every_minute() -> list[str]:
    """Run the due work (captures, holds, retries, dunning…) once a minute.

    Every consumer's scheduler enqueues this, so with several consumers it is
    queued several times a minute; the lock makes the extra copies skip (Huey
    logs "unable to acquire lock") instead of running concurrently.
    """
    from billing.db import utcnow
    from webapp.due import run_due

    with huey.lock_task(RUN_DUE_LOCK, ttl=_lock_ttl()):
        lines = run_due(utcnow())
    for line in lines:
        log.info("run-due: %s", line)
    return lines


def _lock_ttl() -> int | None:
    supports_ttl = getattr(huey.storage, "supports_hash_ttl", False)
    return RUN_DUE_LOCK_TTL_SECONDS if supports_ttl else None


# --- the consumer -----------------------------------------------------------


def run_consumer(app: Flask, workers: int = 2) -> None:
    """Consume tasks with `workers` threads until SIGINT (graceful) or SIGTERM.

    Runs the periodic tasks too. A SQLite queue lives on one machine, so a
    `run-due` lock found at start was left by a consumer that died holding it
    and is cleared; on Redis it may belong to a live consumer elsewhere, so it
    is kept (it expires on Redis 7.4+; else `huey.flush_locks("run-due")`).
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s worker %(levelname)s %(name)s: %(message)s"
        )
    bind_app(app)
    stale_locks_are_ours = isinstance(huey.storage, SqliteStorage)
    consumer = Consumer(
        huey,
        workers=workers,
        worker_type="thread",
        periodic=True,
        extra_locks=RUN_DUE_LOCK if stale_locks_are_ours else None,
    )
    consumer.run()
