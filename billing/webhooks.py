"""Stripe webhooks: verify, store raw, deduplicate, process through a handler registry.

The life of an event (DESIGN.md, "Webhooks"):

1. `verify` the `Stripe-Signature` header against the endpoint's signing
   secret before anything is stored: a forged request writes no row.
2. `receive` stores the raw event once per (endpoint, event id). Stripe
   delivers at least once and sometimes twice at the same moment, so the
   unique constraint, not a prior SELECT, is what makes a duplicate harmless.
3. `process` runs the handler registered for the event type inside a
   SAVEPOINT and records the outcome on the row; the caller commits both in
   one transaction. A failing handler leaves the row `failed` with its error,
   and `retry_failed` (the due runner) tries again later. The row is never
   deleted: it is the raw log reconciliation and disputes rely on.

Statuses: received → processed | ignored (no handler for the type) | failed.

Rule for handlers: safe out of order. Stripe does not guarantee delivery
order, and a retried old event can arrive after a newer one. A handler must

- compare the event's `created` with the `stripe_event_created` it stored on
  its row when it last applied an event, skip the event when it is older, and
  store the new `created` when it applies one;
- never move a terminal state backwards (a `succeeded` payment does not
  become `processing` because a late `payment_intent.processing` arrived,
  even with an equal `created`: Stripe's timestamps have one-second
  resolution);
- be idempotent: a handler may run again for the same event after a crash
  between its writes and the commit, or on a retry.

Handlers take `(session, endpoint, event)`: `endpoint` names the Stripe
account the event came from ("instance" or "account:<id>"), which the handler
must use to scope its lookups to that account's rows; `event` is the parsed
JSON. They flush, never commit. This module never imports flask.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.db import utcnow
from billing.errors import BillingError
from billing.models import WebhookEvent

Handler = Callable[[Session, str, dict[str, Any]], None]

DEFAULT_TOLERANCE = 300
SIGNATURE_SCHEME = "v1"

RECEIVED = "received"
PROCESSED = "processed"
IGNORED = "ignored"
FAILED = "failed"
# Rows in these states are done: processing them again is a no-op.
FINISHED = frozenset({PROCESSED, IGNORED})

MAX_ATTEMPTS = 5
# A row still "received" this long after arrival was orphaned by a crash
# between the commit that stored it and the one that processed it.
ORPHAN_AFTER = timedelta(minutes=1)
# Column sizes of webhook_event: longer values are refused as malformed rather
# than left to fail in the database (a DataError on PostgreSQL).
_MAX_EVENT_ID = 255
_MAX_TYPE = 100
_MAX_ERROR = 4000
_BIGINT_MAX = 2**63 - 1


class WebhookError(BillingError):
    """Base of the errors raised while receiving a webhook."""

    code = "webhook_error"


class SignatureError(WebhookError):
    """The signature is missing, malformed, or made with another secret: a forgery."""

    code = "invalid_signature"


class StaleSignature(SignatureError):
    """The signature is valid but its timestamp is outside the tolerance: a replay."""

    code = "stale_signature"


class MalformedEvent(WebhookError):
    """The body is signed but is not a Stripe event (JSON object with id, type, created)."""

    code = "malformed_event"


# --- the handler registry ---------------------------------------------------


class HandlerRegistry:
    """Handlers keyed by event type; one handler per type.

    One handler per type keeps the order of effects obvious: the handler for
    `payment_intent.succeeded` updates the ledger and then tells the features
    that subscribed to payment outcomes.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, event_type: str, handler: Handler) -> Handler:
        """Register `handler` for `event_type`; a second, different handler is refused."""
        existing = self._handlers.get(event_type)
        if existing is not None and existing is not handler:
            raise ValueError(f"a handler is already registered for {event_type!r}: {existing!r}")
        self._handlers[event_type] = handler
        return handler

    def handles(self, event_type: str) -> Callable[[Handler], Handler]:
        """Decorator form of `register`."""

        def decorate(handler: Handler) -> Handler:
            return self.register(event_type, handler)

        return decorate

    def unregister(self, event_type: str) -> None:
        """Forget the handler of `event_type` (no error when there is none)."""
        self._handlers.pop(event_type, None)

    def get(self, event_type: str) -> Handler | None:
        """The handler of `event_type`, or None (the event will be ignored)."""
        return self._handlers.get(event_type)

    def types(self) -> frozenset[str]:
        """Every event type with a handler."""
        return frozenset(self._handlers)

    @contextmanager
    def override(self, handlers: Mapping[str, Handler]) -> Iterator[HandlerRegistry]:
        """Temporarily replace (or add) handlers; the previous ones come back on exit.

        For tests: register test-only handlers without leaking them into other
        tests, even when the test fails.
        """
        previous = {event_type: self._handlers.get(event_type) for event_type in handlers}
        self._handlers.update(handlers)
        try:
            yield self
        finally:
            for event_type, handler in previous.items():
                if handler is None:
                    self._handlers.pop(event_type, None)
                else:
                    self._handlers[event_type] = handler


registry = HandlerRegistry()
handles = registry.handles
register = registry.register


# --- verification -----------------------------------------------------------


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header Stripe would send (tests and the fake server)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},{SIGNATURE_SCHEME}={digest.hexdigest()}"


def verify(
    payload: bytes,
    signature_header: str | None,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    now: int | None = None,
) -> None:
    """Check that `payload` was signed with `secret` less than `tolerance` seconds ago.

    The header is `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<payload>">`, with
    several `v1` entries while a secret is being rolled. Raises
    `SignatureError` for anything forged or malformed and `StaleSignature` for
    a valid signature outside the tolerance (checked after the HMAC, so that
    an attacker learns nothing from the timestamp alone).

    The HMAC is computed over the raw bytes, as Stripe signs them: decoding
    first would refuse valid non-UTF-8 bodies with an exception instead of an
    answer.
    """
    if not secret:
        raise SignatureError("no webhook signing secret is configured for this endpoint")
    if not signature_header:
        raise SignatureError("missing Stripe-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in signature_header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("malformed timestamp in Stripe-Signature") from None
        elif key == SIGNATURE_SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("no timestamp in Stripe-Signature")
    if not signatures:
        raise SignatureError(f"no {SIGNATURE_SCHEME} signature in Stripe-Signature")
    expected = sign(payload, secret, timestamp).rpartition("=")[2].encode()
    # Compare every candidate in constant time, as bytes: compare_digest
    # raises on a str with non-ASCII characters, and headers may carry them.
    if not any(
        hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
        for candidate in signatures
    ):
        raise SignatureError("signature does not match this endpoint's secret")
    current = int(time.time()) if now is None else now
    # Stripe's SDK only refuses old timestamps; a far-future one is refused
    # too, since it would let a captured request be replayed later.
    if abs(current - timestamp) > tolerance:
        raise StaleSignature(
            f"signature timestamp is {current - timestamp} s from now (tolerance {tolerance} s)"
        )


# --- storing ----------------------------------------------------------------


def _is_name(value: Any, max_length: int) -> bool:
    # Printable only: PostgreSQL refuses NUL in text, which would be a 500.
    return isinstance(value, str) and 0 < len(value) <= max_length and value.isprintable()


def parse_event(payload: bytes) -> dict[str, Any]:
    """The event as a dict, or `MalformedEvent` when it is not a Stripe event."""
    # Stripe sends UTF-8; the raw text is what gets stored, so decode first
    # (json.loads would also accept UTF-16 bytes that the column then refuses).
    try:
        event = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise MalformedEvent("the body is not UTF-8 JSON") from None
    if not isinstance(event, dict):
        raise MalformedEvent("the body is not a JSON object")
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    if not _is_name(event_id, _MAX_EVENT_ID):
        raise MalformedEvent("the event has no valid id")
    if not _is_name(event_type, _MAX_TYPE):
        raise MalformedEvent("the event has no valid type")
    # bool is an int in Python; `true` is not a timestamp.
    if isinstance(created, bool) or not isinstance(created, int) or not 0 <= created <= _BIGINT_MAX:
        raise MalformedEvent("the event has no valid created timestamp")
    return event


def find(session: Session, endpoint: str, stripe_event_id: str) -> WebhookEvent | None:
    """The stored row of this event on this endpoint, if any."""
    return session.scalar(
        select(WebhookEvent).where(
            WebhookEvent.endpoint == endpoint, WebhookEvent.stripe_event_id == stripe_event_id
        )
    )


def receive(session: Session, endpoint: str, payload: bytes) -> WebhookEvent | None:
    """Store a verified event; flushes. None when this endpoint already has it.

    Raises `MalformedEvent` (nothing stored) when the payload is not an
    event. Two deliveries of one event at the same moment both pass the
    lookup; the unique constraint on (endpoint, stripe_event_id) stops the
    second, whose INSERT is rolled back to a SAVEPOINT so that the caller's
    transaction stays usable.
    """
    event = parse_event(payload)
    if find(session, endpoint, event["id"]) is not None:
        return None
    row = WebhookEvent(
        endpoint=endpoint,
        stripe_event_id=event["id"],
        type=event["type"],
        stripe_created=event["created"],
        payload=payload.decode(),
        status=RECEIVED,
        attempts=0,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


# --- processing -------------------------------------------------------------


def process(session: Session, row: WebhookEvent, now: datetime | None = None) -> WebhookEvent:
    """Run the row's handler and record the outcome on the row; flushes, never commits.

    The handler runs in a SAVEPOINT: when it raises, only its own writes are
    rolled back and the row becomes `failed` with the error and one more
    attempt; otherwise the row becomes `processed`, to be committed together
    with the handler's writes. A type without a handler is `ignored`. A row
    already processed or ignored is left alone, so calling this twice is safe.
    """
    if row.status in FINISHED:
        return row
    when = now or utcnow()
    handler = registry.get(row.type)
    if handler is None:
        row.status = IGNORED
        row.error = None
        row.processed_at = when
        session.flush()
        return row
    # Counted before the run and flushed, so that the SAVEPOINT below nests in
    # a transaction that has already written: pysqlite opens a transaction
    # only on DML, and a SAVEPOINT that is outermost commits on release.
    row.attempts += 1
    session.flush()
    try:
        with session.begin_nested():
            handler(session, row.endpoint, json.loads(row.payload))
            # Flush inside the SAVEPOINT: a constraint the handler's writes
            # break is the handler's failure, not the caller's.
            session.flush()
    except Exception as exc:  # a handler's bug must not lose the event
        row.status = FAILED
        row.error = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR]
    else:
        row.status = PROCESSED
        row.error = None
        row.processed_at = when
    session.flush()
    return row


def retry_delay(attempts: int) -> timedelta:
    """How long after arrival a row that failed `attempts` times is tried again.

    1 min, 5 min, 25 min, about 2 h: a transient cause (a deploy, a lock
    timeout) has passed by the next try, and a bug gets time to be fixed
    before the last one.
    """
    return timedelta(minutes=5 ** max(attempts - 1, 0))


def retry_failed(
    session: Session, now: datetime, max_attempts: int = MAX_ATTEMPTS
) -> list[WebhookEvent]:
    """Process again the rows that failed (fewer than `max_attempts` runs) or were orphaned.

    Returns the rows tried, with their new status; flushes, never commits.
    Rows are locked with SKIP LOCKED on PostgreSQL, so two runners at once
    try each row once.
    """
    candidates = session.scalars(
        select(WebhookEvent)
        .where(
            or_(
                (WebhookEvent.status == FAILED) & (WebhookEvent.attempts < max_attempts),
                (WebhookEvent.status == RECEIVED)
                & (WebhookEvent.received_at <= now - ORPHAN_AFTER),
            )
        )
        .order_by(WebhookEvent.stripe_created, WebhookEvent.id)
        .with_for_update(skip_locked=True)
    ).all()
    tried: list[WebhookEvent] = []
    for row in candidates:
        if row.status == FAILED and now < row.received_at + retry_delay(row.attempts):
            continue
        process(session, row, now)
        tried.append(row)
    return tried
