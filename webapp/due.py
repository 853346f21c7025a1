"""Due work: what `billing run-due` and the worker's periodic task run.

Each feature registers a runner `(session, now) -> list[str]`; every runner is
idempotent, so running twice, or on two workers at once, does each thing once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import click
from sqlalchemy.orm import Session

from billing.db import utcnow

DueRunner = Callable[[Session, datetime], list[str]]
RUNNERS: list[tuple[str, DueRunner]] = []


def due_runner(name: str) -> Callable[[DueRunner], DueRunner]:
    """Register a piece of due work under a name shown in run-due's output."""

    def decorate(fn: DueRunner) -> DueRunner:
        RUNNERS.append((name, fn))
        return fn

    return decorate


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


def run_due(now: datetime) -> list[str]:
    """Run every registered runner once as of `now`; returns what was done."""
    from webapp import due_work  # noqa: F401  (registers the runners)
    from webapp.extensions import db

    lines: list[str] = []
    for name, runner in RUNNERS:
        with db.new_session() as session:
            done = runner(session, now)
            session.commit()
        lines.extend(f"{name}: {line}" for line in done)
    if not lines:
        lines.append(f"nothing due at {now.isoformat()}")
    return lines
