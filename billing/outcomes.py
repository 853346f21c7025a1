"""How the engine tells product features what happened to their money.

Billing never reaches into bookings, quotes or messages. A feature subscribes
to the payments of its subject type; the engine calls it, in the same
transaction, after each status change of a payment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from sqlalchemy.orm import Session

from billing.models import Payment

Subscriber = Callable[[Session, Payment, str, str], None]
_subscribers: dict[str, list[Subscriber]] = defaultdict(list)


ANY_SUBJECT = "*"


def subscribe(subject_type: str) -> Callable[[Subscriber], Subscriber]:
    """Decorator: call `fn(session, payment, old_status, new_status)` on changes.

    `subject_type` is e.g. "booking" or "milestone"; `ANY_SUBJECT` hears every
    payment (the dunning module listens to every failed charge this way).
    """

    def decorate(fn: Subscriber) -> Subscriber:
        if fn not in _subscribers[subject_type]:
            _subscribers[subject_type].append(fn)
        return fn

    return decorate


def unsubscribe(subject_type: str, fn: Subscriber) -> None:
    """Remove a subscriber (tests)."""
    if fn in _subscribers[subject_type]:
        _subscribers[subject_type].remove(fn)


def notify(session: Session, payment: Payment, old_status: str, new_status: str) -> None:
    """Tell the payment's subject what changed."""
    for fn in list(_subscribers[payment.subject_type]) + list(_subscribers[ANY_SUBJECT]):
        fn(session, payment, old_status, new_status)
