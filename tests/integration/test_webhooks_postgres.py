"""Concurrent deliveries of one Stripe event, on PostgreSQL: one row, one handler run.

Stripe may deliver an event twice at the same moment (a retry racing a slow
first answer, or two web nodes). Both requests pass the "seen it?" lookup; the
unique constraint on (endpoint, stripe_event_id) must stop the second without
a 500 and without running the handler twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import events, webhooks
from billing.models import Event, WebhookEvent
from webapp.extensions import db

pytestmark = pytest.mark.postgres

INSTANCE_SECRET = "whsec_instance_secret"  # tests/conftest.py base_config
RECORDED = "acompte_test.recorded"
DELIVERIES = 4
ROUNDS = 5


def stripe_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """`Stripe-Signature` as Stripe computes it: HMAC-SHA256 of "<t>.<body>"."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def slow_record_handler(session: Session, endpoint: str, event: dict[str, Any]) -> None:
    """Records its run, slowly, so that the other deliveries arrive while it works."""
    events.record(session, subject_type="webhook_test", subject_id=event["id"], action="ran")
    time.sleep(0.05)


@pytest.fixture
def handlers() -> Iterator[None]:
    with webhooks.registry.override({RECORDED: slow_record_handler}):
        yield


def count_where(model: Any, *criteria: Any) -> int:
    with db.new_session() as session:
        return session.scalar(select(func.count(model.id)).where(*criteria))


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_concurrent_deliveries_of_one_event_store_and_handle_it_once(pg_app, handlers, round_):
    # given one signed event
    event_id = f"evt_concurrent_{round_}"
    body = json.dumps(
        {"id": event_id, "object": "event", "type": RECORDED, "created": int(time.time())}
    ).encode()
    headers = {
        "Stripe-Signature": stripe_signature(body, INSTANCE_SECRET, int(time.time())),
        "Content-Type": "application/json",
    }
    start = threading.Barrier(DELIVERIES)

    def deliver(_: int) -> tuple[int, dict[str, Any]]:
        # Each delivery is its own client, hence its own request session.
        client = pg_app.test_client()
        start.wait()
        answer = client.post("/stripe/webhook", data=body, headers=headers)
        return answer.status_code, answer.get_json()

    # when it is delivered several times at the same moment
    with ThreadPoolExecutor(DELIVERIES) as pool:
        answers = list(pool.map(deliver, range(DELIVERIES)))

    # then every answer is a 200, exactly one is not a duplicate
    assert {status for status, _ in answers} == {200}, answers
    assert sorted(body["duplicate"] for _, body in answers) == [False] + [True] * (DELIVERIES - 1)
    # and there is one row, processed, and one handler run
    assert count_where(WebhookEvent, WebhookEvent.stripe_event_id == event_id) == 1
    assert count_where(Event, Event.subject_id == event_id) == 1
    with db.new_session() as session:
        row = session.scalar(select(WebhookEvent).where(WebhookEvent.stripe_event_id == event_id))
        assert (row.status, row.attempts) == ("processed", 1)


def test_a_second_insert_waits_for_the_first_and_becomes_a_duplicate(pg_app):
    # given a first delivery stored but not yet committed
    body = json.dumps(
        {"id": "evt_waiting", "object": "event", "type": RECORDED, "created": 1}
    ).encode()
    with db.new_session() as first, db.new_session() as second:
        assert webhooks.receive(first, "instance", body) is not None
        # when a second delivery inserts meanwhile (its lookup saw nothing yet)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(webhooks.receive, second, "instance", body)
            time.sleep(0.2)
            assert not pending.done(), "the unique index should make it wait"
            first.commit()
            # then it is told "duplicate" once the first commits, and its
            # transaction is still usable
            assert pending.result(timeout=10) is None
        assert second.scalar(select(func.count(WebhookEvent.id))) == 1
        second.commit()
