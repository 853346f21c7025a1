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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flask import Flask, current_app, has_app_context
from flask.ctx import AppContext
from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.api import Task
from huey.consumer import Consumer
from huey.exceptions import TaskLockedException
from huey.storage import BaseStorage

from webapp.config import PROJECT_ROOT
from webapp.mail import service as mail

log = logging.getLogger(__name__)

# Each due item is run under a lock of its own, so that two consumers (maybe
# on two machines) given the same item (the periodic task is enqueued by every
# consumer's scheduler) do not both work on it; the item's row lock and state
# check keep it exactly-once anyway, the lock saves the work. A consumer killed
# mid-item leaves its lock behind: every lock carries its expiry time, so a
# stale one is broken after this long (Redis 7.4+ also expires it itself).
DUE_ITEM_LOCK_TTL_SECONDS = 10 * 60


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
def enqueue_due_work() -> None:
    """Every minute: find what is due (captures, holds, retries, dunning…), one task per item.

    Every consumer's scheduler enqueues this, so with several consumers an
    item may be enqueued more than once a minute: the item task is idempotent
    and takes the item's lock, so the extra copies skip.
    """
    from billing.db import utcnow
    from webapp.due import find_items

    now = utcnow()
    items = find_items(now)
    for kind, item_id in items:
        run_due_item(kind, item_id, now.isoformat())
    if items:
        log.info("run-due: %s item(s) enqueued at %s", len(items), now.isoformat())
    else:
        log.info("run-due: nothing due at %s", now.isoformat())


# The mail feature's task, made here so that Huey loads with the first e-mail
# enqueued rather than with `webapp.mail.service`; the function's module keeps
# its name on the queue `webapp.mail.service.deliver_email_task`.
deliver_email_task = huey.task(retries=0, name="deliver_email_task")(mail.deliver_email_queued)


@huey.task(retries=0)
def run_due_item(kind: str, item_id: int, now_iso: str) -> None:
    """Run one due item as of `now_iso`; a failure is recorded on the item, never raised.

    No Huey retries: the item is found again by the next minute's search if
    it is still due.
    """
    from datetime import datetime

    from webapp.due import kind_named, run_item

    try:
        due_kind = kind_named(kind)
    except KeyError:
        # Queued by an older release whose kind is gone: nothing to run.
        log.warning("run-due: unknown due kind %r, item %s dropped", kind, item_id)
        return
    try:
        with due_item_lock(kind, item_id):
            result = run_item(due_kind, item_id, datetime.fromisoformat(now_iso))
    except TaskLockedException:
        log.info("run-due: %s %s is being run by another worker", kind, item_id)
        return
    text = result.text()
    if text:
        # Logged, not returned: Huey would keep every returned value in its store.
        log.info("run-due: %s", text)


@contextmanager
def due_item_lock(kind: str, item_id: int) -> Iterator[None]:
    """Hold the Huey lock `due:<kind>:<id>` for the block; TaskLockedException if taken.

    The lock's value is its expiry time: a lock older than
    `DUE_ITEM_LOCK_TTL_SECONDS` was left by a dead consumer and is broken.
    """
    name = f"due:{kind}:{item_id}"
    ttl = DUE_ITEM_LOCK_TTL_SECONDS if getattr(huey.storage, "supports_hash_ttl", False) else None
    lock = huey.lock_task(name, ttl=ttl)
    key = f"{huey.name}.lock.{name}"
    expires = time.time() + DUE_ITEM_LOCK_TTL_SECONDS
    if not huey.put_if_empty(key, expires, ttl):
        held_until = huey.get(key, peek=True)
        if not isinstance(held_until, float) or held_until > time.time():
            raise TaskLockedException(f"unable to acquire lock {name}")
        # Stale: break it, then race for it like everyone else.
        huey.delete(key)
        if not huey.put_if_empty(key, expires, ttl):
            raise TaskLockedException(f"unable to acquire lock {name}")
    try:
        yield
    finally:
        lock.release()


# --- the consumer -----------------------------------------------------------


def run_consumer(app: Flask, workers: int = 2) -> None:
    """Consume tasks with `workers` threads until SIGINT (graceful) or SIGTERM.

    Runs the periodic tasks too (`enqueue_due_work` every minute). Item
    locks a dead consumer left behind expire on their own (`due_item_lock`).
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s worker %(levelname)s %(name)s: %(message)s"
        )
    bind_app(app)
    consumer = Consumer(huey, workers=workers, worker_type="thread", periodic=True)
    consumer.run()
