"""The clock every write reads: the real time, or a frozen one while due work simulates a date.

`billing run-due --now 2027-03-01T09:00:00+01:00` must behave as if it were
that moment everywhere it writes a time (invoice dates, case openings,
event timestamps, the dates in e-mails), not only where a `now` argument is
passed down. `billing.db.utcnow()` reads this clock, so every
`default=utcnow` column and every `utcnow()` call follows it.

The frozen time lives in a context variable: it is private to the thread (or
task) that froze it, so a worker simulating a date never leaks it into
another worker's requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

_frozen: ContextVar[datetime | None] = ContextVar("acompte_frozen_clock", default=None)


def frozen_at() -> datetime | None:
    """The frozen time of this context, or None when the real clock applies."""
    return _frozen.get()


@contextmanager
def frozen(at: datetime) -> Iterator[datetime]:
    """Within the block, `billing.db.utcnow()` returns `at` (an aware datetime).

    Nested blocks are allowed; the previous time comes back on exit, even on
    an exception.
    """
    if at.tzinfo is None:
        raise ValueError("a frozen time needs an offset (naive datetimes are refused)")
    token = _frozen.set(at)
    try:
        yield at
    finally:
        _frozen.reset(token)
