"""How the engine tells product features what happened to their money.

Billing never reaches into bookings, quotes or messages. A feature subscribes
to the payments of its subject type; the engine calls it, in the same
transaction, after each status change of a payment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from sqlalchemy.orm import Session

from billing.models import Payment, Refund

Subscriber = Callable[[Session, Payment, str, str], None]
RefundSubscriber = Callable[[Session, Payment, Refund], None]
SubjectLock = Callable[[Session, str], object]
_subscribers: dict[str, list[Subscriber]] = defaultdict(list)
_refund_subscribers: dict[str, list[RefundSubscriber]] = defaultdict(list)
_subject_locks: dict[str, SubjectLock] = {}


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


def subscribe_refunds(subject_type: str, fn: RefundSubscriber) -> None:
    """Call `fn(session, payment, refund)` once Stripe confirmed a refund of this subject type."""
    if fn not in _refund_subscribers[subject_type]:
        _refund_subscribers[subject_type].append(fn)


def notify_refund(session: Session, payment: Payment, refund: Refund) -> None:
    """Tell the payment's subject that money went back (e.g. to issue a credit note)."""
    for fn in list(_refund_subscribers[payment.subject_type]):
        fn(session, payment, refund)


def register_subject_lock(subject_type: str, fn: SubjectLock) -> None:
    """How to lock a subject row (`fn(session, subject_id)`), taken before its payments'.

    The one lock order of the engine: subject (booking, milestone, question),
    then payment, then what subscribers touch (dunning case, invoice). The
    webhook path and the features' own paths then never wait on each other
    in opposite orders (a deadlock on PostgreSQL).
    """
    _subject_locks[subject_type] = fn


def lock_subject(session: Session, subject_type: str, subject_id: str) -> None:
    """Lock the subject row of a payment, if its feature said how."""
    fn = _subject_locks.get(subject_type)
    if fn is not None:
        fn(session, subject_id)
