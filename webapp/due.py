"""Due work, item by item: what `billing run-due` and the worker's periodic task run.

Each feature describes its due work as *due kinds* (`DueKind`): `find` lists
the ids of the items due at a time (an indexed, bounded query), `run` handles
one item in its own transaction, under that item's row lock, re-checking its
state. So an item run twice, or on two workers at once, does its thing once,
and one item's failure is that item's alone: it is rolled back, logged,
recorded on the item's timeline (`due_work_failed`) and the others go on.

The kinds are registered on the app by `webapp.due_work.register_due_work`, in
the order `run-due` runs them. Two ways to run them:

- inline (`run_due`, the CLI): every kind in order, each found item at once;
- in the worker (`webapp.tasks`): a periodic task calls `find_items` and
  enqueues one `run_due_item` task per item, which calls `run_item`.

Every item runs inside `billing.clock.frozen(now)`, so `--now` governs every
time the run writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
from flask import Flask, current_app
from sqlalchemy.orm import Session

from billing import clock, events
from billing.db import utcnow

log = logging.getLogger(__name__)

Finder = Callable[[Session, datetime], list[int]]
Runner = Callable[[Session, int, datetime], "str | None"]

EXTENSION_KEY = "acompte.due_kinds"
FAILED_ACTION = "due_work_failed"
_MAX_ERROR = 500


@dataclass(frozen=True)
class DueKind:
    """One kind of due work.

    `name`: shown in run-due's output and carried by the item tasks.
    `subject`: the event subject type of its items (their timeline).
    `find(session, now)`: ids due at `now`, a bounded batch; reads only.
    `run(session, item_id, now)`: do the item if still due; returns a line
    saying what was done, or None for nothing. It may commit (e.g. before a
    Stripe call); whatever it leaves uncommitted is committed after it.
    `model`: the item's ORM class, to file a failure under its freelancer.
    """

    name: str
    subject: str
    find: Finder
    run: Runner
    model: type | None = None


@dataclass(frozen=True)
class ItemResult:
    """What one item run did: a line, nothing (None), or an error."""

    kind: str
    subject: str
    item_id: int
    line: str | None = None
    error: str | None = None

    def text(self) -> str | None:
        """The run-due line: `<kind>: <line>`, `<kind>: <item>: failed: <error>`, or None."""
        if self.error is not None:
            return f"{self.kind}: {self.subject} {self.item_id}: failed: {self.error}"
        if self.line:
            return f"{self.kind}: {self.line}"
        return None


# --- the registry -----------------------------------------------------------


def register_kinds(app: Flask, kinds: Sequence[DueKind]) -> None:
    """Make `kinds` the app's due work, in this order (names must be unique)."""
    names = [kind.name for kind in kinds]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise ValueError(f"due kinds registered twice: {sorted(duplicates)}")
    app.extensions[EXTENSION_KEY] = tuple(kinds)


def kinds() -> tuple[DueKind, ...]:
    """The current app's due kinds, in run order."""
    app = current_app._get_current_object()
    if EXTENSION_KEY not in app.extensions:
        # An app factory that did not call `register_due_work` (older
        # assemblies): register the standard list now rather than do nothing.
        from webapp.due_work import register_due_work

        register_due_work(app)
    return app.extensions[EXTENSION_KEY]


def kind_named(name: str) -> DueKind:
    """The registered kind called `name`; KeyError when there is none."""
    for kind in kinds():
        if kind.name == name:
            return kind
    raise KeyError(f"no due kind named {name!r}")


# --- finding and running ----------------------------------------------------


def find_due(kind: DueKind, now: datetime) -> list[int]:
    """The ids of `kind` due at `now`, read in a session of their own.

    A failing query is logged and counts as nothing due: the other kinds are
    still found, and the next run asks again.
    """
    from webapp.extensions import db

    with db.new_session() as session, clock.frozen(now):
        try:
            return list(kind.find(session, now))
        except Exception:
            log.exception("due kind %s: finding items failed", kind.name)
            return []
        finally:
            session.rollback()


def find_items(now: datetime) -> list[tuple[str, int]]:
    """(kind name, item id) of every item due at `now`, kinds in run order."""
    return [(kind.name, item_id) for kind in kinds() for item_id in find_due(kind, now)]


def run_item(kind: DueKind | str, item_id: int, now: datetime) -> ItemResult:
    """Run one item as of `now` (the clock frozen there); never raises for the item's failure.

    The item's own session is committed after `run`; on any exception it is
    rolled back, the error logged and recorded as a `due_work_failed` event on
    the item, and the result carries the error.
    """
    from webapp.extensions import db

    if isinstance(kind, str):
        kind = kind_named(kind)
    with db.new_session() as session, clock.frozen(now):
        try:
            line = kind.run(session, item_id, now)
            session.commit()
            return ItemResult(kind.name, kind.subject, item_id, line=line)
        except Exception as exc:
            session.rollback()
            # The request-scoped session may hold the failed item's reads
            # (keys, gateways); end them too.
            db.session.rollback()
            error = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR]
            log.exception("due kind %s: %s %s failed", kind.name, kind.subject, item_id)
            _record_failure(session, kind, item_id, error)
            return ItemResult(kind.name, kind.subject, item_id, error=error)


def _record_failure(session: Session, kind: DueKind, item_id: int, error: str) -> None:
    try:
        events.record(
            session,
            subject_type=kind.subject,
            subject_id=item_id,
            action=FAILED_ACTION,
            freelancer_id=_freelancer_of(session, kind, item_id),
            data={"kind": kind.name, "error": error},
        )
        session.commit()
    except Exception:
        # The database itself may be what failed; the log has the error.
        session.rollback()
        log.exception("due kind %s: could not record the failure of %s", kind.name, item_id)


def _freelancer_of(session: Session, kind: DueKind, item_id: int) -> int | None:
    if kind.model is None:
        return None
    row: Any = session.get(kind.model, item_id)
    return getattr(row, "freelancer_id", None)


def run_due(now: datetime) -> list[str]:
    """Run every due item inline as of `now`, kind by kind; returns one line per item done.

    A kind's items are found when its turn comes, so what an earlier kind
    did (a failed charge, an e-mail queued) is seen by the later ones in the
    same run. A failing item is reported and the run goes on.
    """
    lines: list[str] = []
    for kind in kinds():
        for item_id in find_due(kind, now):
            text = run_item(kind, item_id, now).text()
            if text:
                lines.append(text)
    if not lines:
        lines.append(f"nothing due at {now.isoformat()}")
    return lines


def parse_now(text: str | None) -> datetime:
    """`--now`: an ISO 8601 time with an offset (a naive time is refused)."""
    if text is None:
        return utcnow()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {text!r}", param_hint="--now") from None
    if value.tzinfo is None:
        raise click.BadParameter(
            "give an offset, e.g. 2026-11-22T10:00:00+01:00", param_hint="--now"
        )
    return value
