"""Fault injection, webhooks: first, twice, out of order, and none at all for a whole day.

Events are localstripe's own: a catcher registered as a webhook endpoint with
our instance's signing secret collects them (payload and signature as sent),
and the test delivers them to `/stripe/webhook` when and as often as the
scenario says. Where localstripe sends no event for a state (a hold just
authorised), the event is built from localstripe's own PaymentIntent object
and signed with the same secret.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe as stripe_sdk

from billing.db import utcnow
from billing.webhooks import sign
from tests.faults import run_due
from tests.faults.agreement import assert_agree, ledger
from tests.faults.report import count_scenario
from tests.faults.stripe_truth import StripeView
from tests.faults.world import World, make_world, ok
from tests.support.fault_proxy import FaultProxy

pytestmark = pytest.mark.stripe

SECRET = "whsec_instance_secret"  # tests/conftest.py's STRIPE_WEBHOOK_SECRET
CREATE = r"/v1/payment_intents"
CAPTURE = r"/v1/payment_intents/[^/]+/capture"


@pytest.fixture(autouse=True)
def _scenario(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    count_scenario(request)
    # the SDK's own retries keep their number, not their seconds of sleep
    monkeypatch.setattr(stripe_sdk._http_client.HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(stripe_sdk._http_client.HTTPClient, "MAX_DELAY", 0.05)


@pytest.fixture
def proxy(localstripe_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(localstripe_url) as proxy:
        yield proxy


@pytest.fixture
def app_config(app_config: dict[str, Any], proxy: FaultProxy) -> dict[str, Any]:
    return {
        **app_config,
        "STRIPE_API_BASE": proxy.url,
        "STRIPE_SECRET_KEY": "sk_test_faults",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_faults",
        "STRIPE_WEBHOOK_SECRET": SECRET,
    }


@pytest.fixture
def world(app, client, localstripe_url, make_freelancer) -> World:  # noqa: ANN001
    return make_world(app, client, StripeView(localstripe_url), make_freelancer)


class Catcher:
    """A webhook endpoint that only keeps what localstripe sends it."""

    def __init__(self) -> None:
        self.events: list[tuple[bytes, str]] = []  # (payload, Stripe-Signature)
        self.changed = threading.Condition()
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with catcher.changed:
                    catcher.events.append((body, self.headers.get("Stripe-Signature", "")))
                    catcher.changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def wait_for(self, event_type: str, intent_id: str, timeout: float = 10.0) -> tuple[bytes, str]:
        """The first event of this type for this PaymentIntent (localstripe waits 1 s to send)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for payload, signature in self.events:
                    event = json.loads(payload)
                    if event["type"] == event_type and event["data"]["object"]["id"] == intent_id:
                        return payload, signature
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {event_type} for {intent_id} from localstripe")
                self.changed.wait(left)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def catcher(register_localstripe_webhook) -> Iterator[Catcher]:  # noqa: ANN001
    catcher = Catcher()
    register_localstripe_webhook(catcher.url, SECRET, ["payment_intent.succeeded"])
    yield catcher
    catcher.close()


def deliver(client, payload: bytes, signature: str | None = None) -> dict[str, Any]:  # noqa: ANN001
    signature = signature or sign(payload, SECRET, int(time.time()))
    answer = client.post(
        "/stripe/webhook",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": signature},
    )
    return ok(answer)


def event_of(intent: dict[str, Any], event_type: str, created: int) -> bytes:
    """An event around localstripe's own PaymentIntent object (for states it sends none of)."""
    event = {
        "id": f"evt_{intent['id']}_{created}",
        "object": "event",
        "type": event_type,
        "created": created,
        "data": {"object": intent},
    }
    return json.dumps(event).encode()


def lost_confirm(world: World, proxy: FaultProxy, policy: str):  # noqa: ANN201
    """A booking whose PaymentIntent Stripe made and we never stored (the answer lost)."""
    booked = world.book(policy)
    fault = proxy.drop("POST", CREATE, network_down=True)
    seen = booked.confirm()
    fault.release()
    [intent] = world.stripe.intents_of(booked.email)
    assert intent.acompte_payment_id is not None
    return booked, intent, seen


# --- webhook first ----------------------------------------------------------------


def test_webhook_first_attaches_the_intent_to_its_row(world, proxy, catcher, client, db_session):
    # given a charge Stripe made whose answer our process never stored
    booked, intent, seen = lost_confirm(world, proxy, "prepay")
    # when its payment_intent.succeeded arrives before any sweep
    payload, signature = catcher.wait_for("payment_intent.succeeded", intent.id)
    deliver(client, payload, signature)
    # then the row holds that PaymentIntent, succeeded, and the booking is confirmed
    result = assert_agree(
        db_session, world.stripe, booked.email, captured=[10_000], context=f"confirm saw {seen}"
    )
    assert len(result.intents) == 1
    assert booked.booking().status == "confirmed"


def test_webhook_twice_moves_nothing_twice(world, proxy, catcher, client, app, db_session):
    booked, intent, _ = lost_confirm(world, proxy, "prepay")
    payload, signature = catcher.wait_for("payment_intent.succeeded", intent.id)
    first = deliver(client, payload, signature)
    second = deliver(client, payload, signature)
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    run_due.inline(app, utcnow() + timedelta(minutes=3))
    result = assert_agree(db_session, world.stripe, booked.email, captured=[10_000])
    assert len(result.intents) == 1
    assert booked.booking().status == "confirmed"


def test_webhooks_out_of_order_never_move_a_payment_backwards(
    world, proxy, catcher, client, app, db_session
):
    # given a hold, authorised at booking
    booked = world.book("hold")
    assert ok(booked.confirm())["status"] == "confirmed"
    [intent] = world.stripe.intents_of(booked.email)
    authorised = world.stripe.payment_intent(intent.id)
    assert authorised["status"] == "requires_capture"
    # and the session collected after its end: captured at Stripe
    said = run_due.inline(app, booked.start + timedelta(hours=2))
    assert world.stripe.payment_intent(intent.id)["status"] == "succeeded", said
    # when the capture's event arrives first, then the older authorisation's
    payload, signature = catcher.wait_for("payment_intent.succeeded", intent.id)
    deliver(client, payload, signature)
    older = json.loads(payload)["created"] - 60
    deliver(client, event_of(authorised, "payment_intent.amount_capturable_updated", older))
    # then nothing moved backwards: captured once, agreeing with Stripe
    result = assert_agree(db_session, world.stripe, booked.email, captured=[10_000])
    assert len(result.intents) == 1
    assert booked.booking().status == "completed"


# --- no webhook at all for a whole day ---------------------------------------------


def test_a_day_without_webhooks_converges_through_the_sweep(world, proxy, app, db_session):
    """No endpoint registered: a day of bookings, lost answers and 3-D Secure, then run-due."""
    w = world
    expected: dict[str, str] = {}  # client e-mail → the booking's policy
    bookings = []

    def confirmed(policy: str, **kw: Any):  # noqa: ANN202
        booked = w.book(policy, **kw)
        ok(booked.confirm())
        bookings.append(booked)
        expected[booked.email] = policy
        return booked

    # plain bookings of each policy
    for policy in ("prepay", "hold", "deposit"):
        confirmed(policy, days=1.0 + len(bookings) / 24, deposit_percent=30)
    # answers lost after Stripe acted (the network down for the SDK's repeats too)
    for policy in ("prepay", "hold"):
        booked = w.book(policy, days=1.0 + len(bookings) / 24)
        fault = proxy.drop("POST", CREATE, network_down=True)
        booked.confirm()
        fault.release()
        bookings.append(booked)
        expected[booked.email] = policy
    # 3-D Secure completed in the browser, the page closed before confirming again
    for policy in ("prepay", "hold"):
        booked = w.book(policy, days=1.0 + len(bookings) / 24, card=None)
        w.stripe.confirm_setup(
            booked.created["setup_intent_client_secret"], w.stripe.three_d_secure_card()
        )
        first = ok(booked.confirm())
        assert first["status"] == "requires_action"
        w.stripe.authenticate(first["payment_intent_client_secret"])
        bookings.append(booked)
        expected[booked.email] = policy
    # 3-D Secure abandoned
    abandoned = w.book("prepay", days=1.0 + len(bookings) / 24, card=None)
    w.stripe.confirm_setup(
        abandoned.created["setup_intent_client_secret"], w.stripe.three_d_secure_card()
    )
    assert ok(abandoned.confirm())["status"] == "requires_action"
    # a paid question held, its answer's capture lost
    asked = w.ask()
    ok(asked.confirm())
    fault = proxy.drop("POST", CAPTURE, network_down=True)
    asked.answer()
    fault.release()

    # when the day's sweeps run (every 20 minutes for the rest of the day's first hours)
    start = utcnow()
    outputs = [run_due.inline(app, start + timedelta(minutes=m)) for m in (20, 40, 60, 120)]
    context = "the sweep said:\n" + "\n".join(outputs)

    # then every payment's status equals Stripe's, and no booking is left in between
    problems = []
    for booked in [*bookings, abandoned]:
        result = ledger(db_session, w.stripe, booked.email)
        problems += [f"{booked.email}: {p}" for p in result.problems]
        status = booked.booking().status
        secured = result.captured or [
            i.amount for i in result.intents if i.status == "requires_capture"
        ]
        if status == "confirmed" and not secured:
            problems.append(f"{booked.email}: confirmed with nothing secured at Stripe")
        if status not in ("confirmed", "expired", "cancelled"):
            problems.append(f"{booked.email}: booking left {status}")
        if status != "confirmed" and (sum(result.captured) - sum(result.refunded)) > 0:
            problems.append(f"{booked.email}: {status} yet {result.captured} kept")
        if status != "confirmed" and any(i.status == "requires_capture" for i in result.intents):
            problems.append(f"{booked.email}: {status} yet a hold left on the card")
        if len(result.intents) > 1:
            problems.append(f"{booked.email}: {len(result.intents)} PaymentIntents")
    result = ledger(db_session, w.stripe, asked.email)
    problems += [f"{asked.email}: {p}" for p in result.problems]
    if result.captured != [3_000]:
        problems.append(f"{asked.email}: captured {result.captured}")
    assert abandoned.booking().status == "expired", context
    assert not problems, "\n".join(problems) + "\n" + context
