"""Stripe webhooks: signature, tolerance, deduplication, order, rollback, retries, accounts.

Handlers here are test-only (registered with `registry.override`); the real
payment handlers have their own tests. Signatures are built with hmac exactly
as Stripe builds them, not with the code under test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import count
from typing import Any

import pytest
import stripe
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import events, webhooks
from billing.db import utcnow
from billing.models import Event, Payment, PaymentCustomer, StripeAccount, WebhookEvent
from webapp.extensions import db
from webapp.stripe_connect.service import connect

INSTANCE_SECRET = "whsec_instance_secret"  # tests/conftest.py base_config
ACCOUNT_SECRET = "whsec_account_secret_1234"
RECORDED = "acompte_test.recorded"
EXPLODES = "acompte_test.explodes"
PI_UPDATED = "acompte_test.payment_intent.updated"
UNKNOWN = "acompte_test.nobody_handles_this"

_ids = count(1)


def stripe_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """`Stripe-Signature` as Stripe computes it: HMAC-SHA256 of "<t>.<body>"."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def make_event(event_type: str = RECORDED, **fields: Any) -> dict[str, Any]:
    event = {
        "id": f"evt_test_{next(_ids)}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {}},
    }
    event.update(fields)
    return event


@pytest.fixture
def post_event(client) -> Callable[..., Any]:
    """Post an event (or raw bytes) signed like Stripe; returns the test response."""

    def post(
        event: dict[str, Any] | bytes,
        *,
        path: str = "/stripe/webhook",
        secret: str = INSTANCE_SECRET,
        age: int = 0,
        header: str | None = None,
    ) -> Any:
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        if header is None:
            header = stripe_signature(body, secret, int(time.time()) - age)
        return client.post(
            path,
            data=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )

    return post


def record_handler(session: Session, endpoint: str, event: dict[str, Any]) -> None:
    """A test handler whose work is a row: rolled back or committed with the event's."""
    events.record(
        session,
        subject_type="webhook_test",
        subject_id=event["id"],
        action=event["type"],
        actor=events.STRIPE,
        data={"endpoint": endpoint},
    )


def exploding_handler(session: Session, endpoint: str, event: dict[str, Any]) -> None:
    """Writes, then fails: its write must not survive."""
    record_handler(session, endpoint, event)
    raise RuntimeError("card fingerprint service down")


TERMINAL = {"succeeded", "canceled"}


def monotonic_payment_handler(session: Session, endpoint: str, event: dict[str, Any]) -> None:
    """The out-of-order rule of billing/webhooks.py, applied to a Payment row."""
    intent = event["data"]["object"]
    payment = session.scalar(
        select(Payment).where(Payment.stripe_payment_intent_id == intent["id"])
    )
    if event["created"] < payment.stripe_event_created:
        return  # older than what is applied
    if payment.status in TERMINAL and intent["status"] != payment.status:
        return  # never backwards from a terminal state, even at an equal second
    payment.status = intent["status"]
    payment.stripe_event_created = event["created"]


@pytest.fixture
def handlers() -> Iterator[None]:
    with webhooks.registry.override(
        {
            RECORDED: record_handler,
            EXPLODES: exploding_handler,
            PI_UPDATED: monotonic_payment_handler,
        }
    ):
        yield


def rows(session: Session) -> list[WebhookEvent]:
    # A fresh transaction: what the requests committed, not a stale snapshot.
    session.rollback()
    return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


def handler_runs(session: Session, event_id: str) -> int:
    session.rollback()
    return session.scalar(
        select(func.count(Event.id)).where(
            Event.subject_type == "webhook_test", Event.subject_id == event_id
        )
    )


# --- signature and tolerance --------------------------------------------------


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda body, t: stripe_signature(body, "whsec_attacker", t), id="other-secret"
        ),
        pytest.param(
            lambda body, t: stripe_signature(body + b" ", INSTANCE_SECRET, t), id="other-body"
        ),
        pytest.param(
            lambda body, t: stripe_signature(body, INSTANCE_SECRET, t).replace("v1=", "v0="),
            id="other-scheme",
        ),
        pytest.param(
            lambda body, t: stripe_signature(body, INSTANCE_SECRET, t).replace(f"t={t}", "t=x"),
            id="garbled-timestamp",
        ),
        pytest.param(
            lambda body, t: stripe_signature(body, INSTANCE_SECRET, t).split(",")[1],
            id="no-timestamp",
        ),
        pytest.param(lambda body, t: "", id="empty"),
        pytest.param(lambda body, t: "t=1,v1=" + "é" * 64, id="non-ascii"),
    ],
)
def test_forged_signature_is_refused_and_stores_nothing(post_event, db_session, handlers, forge):
    body = json.dumps(make_event()).encode()
    answer = post_event(body, header=forge(body, int(time.time())))
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "invalid_signature"
    assert set(answer.get_json()["error"]) == {"code", "message", "fields"}
    assert rows(db_session) == []


def test_missing_signature_header_is_refused(client, db_session):
    answer = client.post("/stripe/webhook", json=make_event())
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "invalid_signature"
    assert rows(db_session) == []


@pytest.mark.parametrize("age", [310, -310], ids=["old", "future"])
def test_timestamp_outside_tolerance_is_refused(post_event, db_session, handlers, age):
    answer = post_event(make_event(), age=age)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "stale_signature"
    assert rows(db_session) == []


def test_timestamp_within_tolerance_is_accepted(post_event, db_session, handlers):
    answer = post_event(make_event(), age=290)
    assert answer.status_code == 200
    assert len(rows(db_session)) == 1


@pytest.mark.parametrize(
    ("age", "accepted"),
    [(300, True), (301, False), (-300, True), (-301, False)],
)
def test_tolerance_boundary(age, accepted):
    body = b'{"id": "evt_1"}'
    now = 1_800_000_000
    header = stripe_signature(body, INSTANCE_SECRET, now - age)
    if accepted:
        webhooks.verify(body, header, INSTANCE_SECRET, tolerance=300, now=now)
    else:
        with pytest.raises(webhooks.StaleSignature):
            webhooks.verify(body, header, INSTANCE_SECRET, tolerance=300, now=now)


def test_stripe_sdk_signatures_are_accepted_and_rolled_secrets_too():
    body = json.dumps(make_event()).encode()
    now = int(time.time())
    sdk_header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), INSTANCE_SECRET, now
    )
    webhooks.verify(body, sdk_header, INSTANCE_SECRET, now=now)
    assert webhooks.sign(body, INSTANCE_SECRET, now) == sdk_header
    # While a secret is rolled Stripe signs with both: either matching is enough.
    old = stripe_signature(body, "whsec_old_one", now).split(",")[1]
    webhooks.verify(body, f"{sdk_header},{old}", INSTANCE_SECRET, now=now)


def test_empty_secret_refuses_everything():
    body = b"{}"
    with pytest.raises(webhooks.SignatureError):
        webhooks.verify(body, stripe_signature(body, "", 1), "", now=1)


# --- malformed events ----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(json.dumps({"id": "x"}).encode("utf-16"), id="utf16"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(json.dumps({"type": RECORDED, "created": 1}).encode(), id="no-id"),
        pytest.param(json.dumps({"id": "evt_x", "created": 1}).encode(), id="no-type"),
        pytest.param(json.dumps({"id": "evt_x", "type": RECORDED}).encode(), id="no-created"),
        pytest.param(
            json.dumps({"id": "evt_x", "type": RECORDED, "created": "1"}).encode(),
            id="created-string",
        ),
        pytest.param(
            json.dumps({"id": "evt_x", "type": RECORDED, "created": True}).encode(),
            id="created-bool",
        ),
        pytest.param(
            json.dumps({"id": "evt_x", "type": RECORDED, "created": 2**64}).encode(),
            id="created-huge",
        ),
        pytest.param(
            json.dumps({"id": "e" * 256, "type": RECORDED, "created": 1}).encode(),
            id="id-too-long",
        ),
        pytest.param(
            json.dumps({"id": "evt_\u0000", "type": RECORDED, "created": 1}).encode(),
            id="id-with-nul",
        ),
        pytest.param(
            json.dumps({"id": "evt_x", "type": "t" * 101, "created": 1}).encode(),
            id="type-too-long",
        ),
    ],
)
def test_malformed_event_with_a_valid_signature_is_refused(post_event, db_session, handlers, body):
    answer = post_event(body)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "malformed_event"
    assert rows(db_session) == []


def test_get_is_not_allowed_as_json(client):
    answer = client.get("/stripe/webhook")
    assert answer.status_code == 405
    assert answer.get_json()["error"]["code"] == "method_not_allowed"


# --- deduplication ---------------------------------------------------------------


def test_the_same_event_twice_is_stored_and_handled_once(post_event, db_session, handlers):
    # given an event delivered once
    event = make_event()
    first = post_event(event)
    # when Stripe delivers it again
    second = post_event(event)
    # then one row, one handler run, and the second answer says duplicate
    assert first.status_code == second.status_code == 200
    assert first.get_json() == {"received": True, "duplicate": False, "status": "processed"}
    assert second.get_json() == {"received": True, "duplicate": True, "status": "processed"}
    [row] = rows(db_session)
    assert (row.stripe_event_id, row.endpoint, row.attempts) == (event["id"], "instance", 1)
    assert handler_runs(db_session, event["id"]) == 1


def test_a_lost_race_on_the_unique_constraint_is_a_duplicate_not_an_error(
    post_event, db_session, handlers, monkeypatch
):
    # given an event already stored, and a lookup that misses it, as when two
    # deliveries arrive at the same moment
    event = make_event()
    post_event(event)
    monkeypatch.setattr(webhooks, "find", lambda *args: None)
    # when the second delivery inserts
    again = webhooks.receive(db_session, "instance", json.dumps(event).encode())
    # then the constraint stops it, and the transaction is still usable
    assert again is None
    assert db_session.scalar(select(func.count(WebhookEvent.id))) == 1
    db_session.commit()


def test_process_twice_runs_the_handler_once(db_session, handlers):
    row = webhooks.receive(db_session, "instance", json.dumps(make_event()).encode())
    webhooks.process(db_session, row)
    webhooks.process(db_session, row)
    db_session.commit()
    assert handler_runs(db_session, row.stripe_event_id) == 1


def test_an_unknown_event_type_is_stored_and_ignored(post_event, db_session, handlers):
    event = make_event(UNKNOWN)
    answer = post_event(event)
    assert answer.get_json() == {"received": True, "duplicate": False, "status": "ignored"}
    [row] = rows(db_session)
    assert (row.type, row.status, row.attempts) == (UNKNOWN, "ignored", 0)
    assert json.loads(row.payload) == event


# --- order --------------------------------------------------------------------


@pytest.fixture
def payment(make_freelancer, db_session) -> Payment:
    freelancer = make_freelancer()
    customer = PaymentCustomer(
        freelancer_id=freelancer["id"], email="client@example.test", name="Client"
    )
    db_session.add(customer)
    db_session.flush()
    payment = Payment(
        freelancer_id=freelancer["id"],
        customer_id=customer.id,
        subject_type="booking",
        subject_id="1",
        purpose="prepay",
        amount_minor=12_000,
        currency="eur",
        capture_method="automatic",
        payment_method_id="pm_card_visa",
        status="processing",
        idempotency_key="payment:1:1",
        stripe_payment_intent_id="pi_test_order",
    )
    db_session.add(payment)
    db_session.commit()
    return payment


def intent_event(status: str, created: int) -> dict[str, Any]:
    return make_event(
        PI_UPDATED,
        created=created,
        data={"object": {"id": "pi_test_order", "object": "payment_intent", "status": status}},
    )


@pytest.mark.parametrize("late_created", [999, 1000], ids=["older", "same-second"])
def test_an_older_event_after_a_newer_one_leaves_the_newer_state(
    post_event, db_session, handlers, payment, late_created
):
    # given the newer event applied first
    post_event(intent_event("succeeded", created=1000))
    # when the older one arrives late
    answer = post_event(intent_event("processing", created=late_created))
    # then it is recorded as processed, and the payment keeps the newer state
    assert answer.get_json()["status"] == "processed"
    db_session.refresh(payment)
    assert (payment.status, payment.stripe_event_created) == ("succeeded", 1000)
    assert [row.status for row in rows(db_session)] == ["processed", "processed"]


def test_events_in_order_are_applied(post_event, db_session, handlers, payment):
    post_event(intent_event("requires_capture", created=1000))
    post_event(intent_event("succeeded", created=1001))
    db_session.refresh(payment)
    assert (payment.status, payment.stripe_event_created) == ("succeeded", 1001)


# --- failure, rollback, retry ------------------------------------------------------


def test_a_failing_handler_keeps_the_row_and_rolls_back_only_its_own_work(
    post_event, db_session, handlers
):
    # given an event processed fine
    good = make_event()
    post_event(good)
    # when a handler writes, then raises
    bad = make_event(EXPLODES)
    answer = post_event(bad)
    # then Stripe still gets a 200, and the row is kept with its error
    assert answer.status_code == 200
    assert answer.get_json() == {"received": True, "duplicate": False, "status": "failed"}
    first, failed = rows(db_session)
    assert (failed.status, failed.attempts, failed.processed_at) == ("failed", 1, None)
    assert failed.error == "RuntimeError: card fingerprint service down"
    # its partial write is gone; the other event is untouched
    assert handler_runs(db_session, bad["id"]) == 0
    assert (first.status, handler_runs(db_session, good["id"])) == ("processed", 1)
    # and the next event is processed normally
    later = make_event()
    assert post_event(later).get_json()["status"] == "processed"


def test_the_row_status_and_the_handler_writes_commit_together(db_session, handlers):
    # given an event stored and committed
    row = webhooks.receive(db_session, "instance", json.dumps(make_event()).encode())
    db_session.commit()
    # when it is processed but the caller's transaction rolls back
    webhooks.process(db_session, row)
    db_session.rollback()
    # then neither the handler's write nor the status survived
    assert handler_runs(db_session, row.stripe_event_id) == 0
    assert rows(db_session)[0].status == "received"


def test_the_due_runner_retries_a_failed_event_once_the_handler_is_fixed(
    post_event, db_session, handlers
):
    from webapp.webhooks.due import retry_webhooks

    event = make_event(EXPLODES)
    post_event(event)
    [row] = rows(db_session)
    # given the handler fixed
    with webhooks.registry.override({EXPLODES: record_handler}):
        # when the runner runs before the first backoff (1 min), nothing happens
        with db.new_session() as session:
            assert retry_webhooks(session, row.received_at + timedelta(seconds=59)) == []
        # and after it, the event is processed, in the runner's own transaction
        with db.new_session() as session:
            lines = retry_webhooks(session, row.received_at + timedelta(seconds=60))
            session.commit()
    assert lines == [f"instance {event['id']} ({EXPLODES}): processed"]
    [row] = rows(db_session)
    assert (row.status, row.attempts, row.error) == ("processed", 2, None)
    assert row.processed_at is not None
    assert handler_runs(db_session, event["id"]) == 1


def test_the_due_runner_stops_after_five_attempts(post_event, db_session, handlers):
    from webapp.webhooks.due import retry_webhooks

    post_event(make_event(EXPLODES))
    much_later = utcnow() + timedelta(days=1)
    outputs = []
    for _ in range(6):
        with db.new_session() as session:
            outputs.append(retry_webhooks(session, much_later))
            session.commit()
    [row] = rows(db_session)
    assert (row.status, row.attempts) == ("failed", 5)
    assert [len(lines) for lines in outputs] == [1, 1, 1, 1, 0, 0]
    assert outputs[3][0].endswith("attempt 5/5: RuntimeError: card fingerprint service down")


@pytest.mark.parametrize(("attempts", "minutes"), [(1, 1), (2, 5), (3, 25), (4, 125)])
def test_retry_backoff(attempts, minutes):
    assert webhooks.retry_delay(attempts) == timedelta(minutes=minutes)


def test_the_due_runner_recovers_an_event_a_crash_left_unprocessed(db_session, handlers):
    from webapp.webhooks.due import retry_webhooks

    # given an event stored, then the process died before handling it
    row = webhooks.receive(db_session, "instance", json.dumps(make_event()).encode())
    db_session.commit()
    with db.new_session() as session:
        # not yet: it may still be in flight
        assert retry_webhooks(session, row.received_at + timedelta(seconds=30)) == []
        lines = retry_webhooks(session, row.received_at + timedelta(minutes=1))
        session.commit()
    assert lines == [f"instance {row.stripe_event_id} ({RECORDED}): processed"]
    assert handler_runs(db_session, row.stripe_event_id) == 1


def test_the_webhooks_due_work_runs_first(app):
    from webapp.due import kinds
    from webapp.webhooks.due import find_retries, retry

    with app.app_context():
        first = kinds()[0]
    # Stripe's news first: the rest of the due work reads what it applied.
    assert (first.name, first.find, first.run) == ("webhooks", find_retries, retry)


# --- the registry ----------------------------------------------------------------


def test_override_restores_the_previous_handlers_even_on_error():
    registry = webhooks.HandlerRegistry()
    registry.register(RECORDED, record_handler)
    with pytest.raises(KeyError), registry.override({RECORDED: exploding_handler, UNKNOWN: print}):
        assert registry.get(RECORDED) is exploding_handler
        raise KeyError("test failed")
    assert registry.get(RECORDED) is record_handler
    assert registry.get(UNKNOWN) is None


def test_a_second_handler_for_a_type_is_refused():
    registry = webhooks.HandlerRegistry()

    @registry.handles(RECORDED)
    def first(session: Session, endpoint: str, event: dict[str, Any]) -> None:
        pass

    registry.register(RECORDED, first)  # the same one again: harmless
    with pytest.raises(ValueError, match="already registered"):
        registry.register(RECORDED, record_handler)
    registry.unregister(RECORDED)
    assert registry.types() == frozenset()


# --- connected accounts ------------------------------------------------------------


class StubGateway:
    def check_connection(self) -> None:
        """Stripe accepted the keys."""


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "GATEWAY_FACTORY": lambda creds: StubGateway()}


@pytest.fixture
def account(app, make_freelancer) -> StripeAccount:
    freelancer = make_freelancer()
    # connect() works in the request's session, as its views call it.
    with app.app_context():
        account = connect(
            freelancer["id"], "sk_test_account1234", "pk_test_account1234", ACCOUNT_SECRET
        )
        db.session.commit()
    return account


def test_an_account_endpoint_uses_that_accounts_secret(post_event, db_session, handlers, account):
    event = make_event()
    answer = post_event(
        event, path=f"/stripe/webhook/{account.webhook_token}", secret=ACCOUNT_SECRET
    )
    assert answer.get_json() == {"received": True, "duplicate": False, "status": "processed"}
    [row] = rows(db_session)
    assert row.endpoint == f"account:{account.id}"
    recorded = db_session.scalar(select(Event).where(Event.subject_id == event["id"]))
    assert recorded.data == {"endpoint": f"account:{account.id}"}


def test_the_same_event_id_on_two_endpoints_is_two_events(
    post_event, db_session, handlers, account
):
    event = make_event()
    post_event(event)
    answer = post_event(
        event, path=f"/stripe/webhook/{account.webhook_token}", secret=ACCOUNT_SECRET
    )
    assert answer.get_json()["duplicate"] is False
    assert {row.endpoint for row in rows(db_session)} == {"instance", f"account:{account.id}"}


@pytest.mark.parametrize(
    ("path", "secret"),
    [("account", INSTANCE_SECRET), ("instance", ACCOUNT_SECRET)],
    ids=["instance-secret-on-account", "account-secret-on-instance"],
)
def test_another_endpoints_secret_is_refused(post_event, db_session, account, path, secret):
    url = "/stripe/webhook" if path == "instance" else f"/stripe/webhook/{account.webhook_token}"
    answer = post_event(make_event(), path=url, secret=secret)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "invalid_signature"
    assert rows(db_session) == []


@pytest.mark.parametrize("token", ["not-a-token", "x" * 300], ids=["unknown", "too-long"])
def test_an_unknown_account_token_is_404(post_event, db_session, account, token):
    answer = post_event(make_event(), path=f"/stripe/webhook/{token}", secret=ACCOUNT_SECRET)
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "not_found"
    assert rows(db_session) == []


def test_an_undecryptable_account_secret_is_a_retryable_error_not_a_500(
    post_event, db_session, account
):
    db_session.get(StripeAccount, account.id).webhook_secret_enc = "gAAAAA-not-a-fernet-token"
    db_session.commit()
    answer = post_event(
        make_event(), path=f"/stripe/webhook/{account.webhook_token}", secret=ACCOUNT_SECRET
    )
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "secret_unavailable"
    assert rows(db_session) == []


# --- end to end, with the real localstripe server ------------------------------------


@pytest.fixture
def served_app(app) -> Iterator[str]:
    """The app over real HTTP on a free loopback port, for localstripe to call."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.stripe
def test_localstripe_delivers_a_signed_event_that_is_stored_and_handled_once(
    served_app, register_localstripe_webhook, stripe_gateway, db_session
):
    # given our instance endpoint registered with localstripe, with our secret
    register_localstripe_webhook(
        f"{served_app}/stripe/webhook", INSTANCE_SECRET, events=["customer.created"]
    )
    with webhooks.registry.override({"customer.created": record_handler}):
        # when something happens on the account
        customer_id = stripe_gateway.create_customer(
            email="client@example.test", name="Client", idempotency_key=f"e2e-{next(_ids)}"
        )
        # then the event arrives (localstripe waits a second), verified and handled
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            stored = [row for row in rows(db_session) if row.type == "customer.created"]
            if stored and stored[0].status != "received":
                break
            time.sleep(0.1)
    [row] = stored
    assert (row.endpoint, row.status) == ("instance", "processed")
    assert json.loads(row.payload)["data"]["object"]["id"] == customer_id
    assert handler_runs(db_session, row.stripe_event_id) == 1
