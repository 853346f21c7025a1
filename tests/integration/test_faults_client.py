"""Fault injection, client present: Stripe acts, our web request never hears back.

Each scenario drives a page's API call in-process (Flask test client) while
`FaultProxy` forwards the scenario's Stripe write, lets localstripe act, then
drops the connection, and the network stays down for the SDK's own retries
of that write (same idempotency key): the request sees a connection error.
Then, per variant:

- `client-retries`: the client (or freelancer) sends the same request again,
  then the sweep (`billing run-due`) runs;
- `sweep-only`: nobody comes back; only the sweep runs.

Every scenario must end with Stripe's own records (read from localstripe
directly) and our rows agreeing, each amount moved exactly once.

`test_sdk_retry_of_a_lost_create_is_not_a_second_charge`: only the first
answer is lost and the SDK's automatic retry reaches Stripe. Real Stripe
would replay the first answer for the same key; localstripe ignores keys, so
this proves we never rely on the key (DESIGN.md: "never by sending the write
again and trusting the key").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import stripe as stripe_sdk

from billing.db import utcnow
from tests.faults import proxied, run_due
from tests.faults.agreement import Ledger, assert_agree, ledger
from tests.faults.report import count_scenario
from tests.faults.stripe_truth import StripeView
from tests.faults.world import DECLINED_LATER, World, make_world, ok, pay_link_token
from tests.support.fault_proxy import FaultProxy

pytestmark = pytest.mark.stripe

CREATE = r"/v1/payment_intents"
CAPTURE = r"/v1/payment_intents/[^/]+/capture"
CANCEL = r"/v1/payment_intents/[^/]+/cancel"
REFUND = r"/v1/refunds"


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
    }


@pytest.fixture
def world(app, client, localstripe_url, make_freelancer) -> World:  # noqa: ANN001
    return make_world(app, client, StripeView(localstripe_url), make_freelancer)


attempt = proxied.attempt


@dataclass
class Flow:
    """One client-present flow: the faulted request, its repeat, and the expected end."""

    email: str
    path: str  # the Stripe write the proxy drops
    request: Callable[[], Any]  # the client's request (sent once faulted, once again)
    check: Callable[[Ledger], None]  # the end state, after the sweep
    method: str = "POST"


def authorized(result: Ledger) -> list[int]:
    return sorted(i.amount for i in result.intents if i.status == "requires_capture")


# --- the scenarios -------------------------------------------------------------


def booking_charged(policy: str, amount: int, **overrides: Any) -> Callable[[World], Flow]:
    """A booking confirmed with the client present: prepay charge, hold, or deposit."""

    def build(w: World) -> Flow:
        booked = w.book(policy, **overrides)

        def check(result: Ledger) -> None:
            booking = booked.booking()
            kept = authorized(result) if policy == "hold" else result.captured
            if booking.status == "confirmed":
                assert kept == [amount], result.report()
                assert result.refunded == []
            else:
                # the documented alternative: a booking that could not be kept
                # gives everything back
                assert booking.status in ("expired", "cancelled"), booking.status
                assert kept == [] or result.refunded == [amount], result.report()
            assert len(result.intents) == 1, result.report()

        return Flow(booked.email, CREATE, booked.confirm, check)

    return build


def booking_cancel_refund(w: World) -> Flow:
    """A prepaid session cancelled in time: the refund is the faulted write."""
    booked = w.book("prepay", days=5)
    assert ok(booked.confirm())["status"] == "confirmed"

    def check(result: Ledger) -> None:
        assert booked.booking().status == "cancelled"
        assert (result.captured, result.refunded) == ([10_000], [10_000]), result.report()
        assert [i.refunds for i in result.intents] == [1], result.report()

    return Flow(booked.email, REFUND, booked.cancel, check)


def booking_cancel_late_fee(w: World) -> Flow:
    """A hold cancelled late: the fee captured (the rest released) is the faulted write."""
    booked = w.book("hold", days=0.5)
    assert ok(booked.confirm())["status"] == "confirmed"

    def check(result: Ledger) -> None:
        assert booked.booking().status == "cancelled"
        assert (result.captured, result.refunded) == ([5_000], []), result.report()

    return Flow(booked.email, CAPTURE, booked.cancel, check)


def booking_cancel_prepaid_late(w: World) -> Flow:
    """A prepaid session cancelled late: half is refunded (the faulted write), half kept."""
    booked = w.book("prepay", days=0.5)
    assert ok(booked.confirm())["status"] == "confirmed"

    def check(result: Ledger) -> None:
        assert booked.booking().status == "cancelled"
        assert (result.captured, result.refunded) == ([10_000], [5_000]), result.report()
        assert [i.refunds for i in result.intents] == [1], result.report()

    return Flow(booked.email, REFUND, booked.cancel, check)


def booking_reschedule_release(w: World) -> Flow:
    """A held session moved far away: its hold is released (the faulted write)."""
    booked = w.book("hold", days=2)
    assert ok(booked.confirm())["status"] == "confirmed"
    new_start = (booked.start + timedelta(days=12)).isoformat()

    def request() -> Any:
        return w.client.post(
            f"/api/v1/public/bookings/{booked.id}/reschedule",
            json={"manage_token": booked.token, "start": new_start},
        )

    def check(result: Ledger) -> None:
        booking = booked.booking()
        assert booking.status == "confirmed"
        assert booking.start_at.isoformat() == new_start
        assert [i.status for i in result.intents] == ["canceled"], result.report()
        assert result.captured == []

    return Flow(booked.email, CANCEL, request, check)


def quote_deposit(w: World) -> Flow:
    """Quote accepted: the deposit charged with the client present."""
    quoted = w.quote(
        [
            {"title": "Acompte", "percent": 30, "trigger": "on_acceptance"},
            {"title": "Solde", "amount_minor": 70_000, "trigger": "on_approval"},
        ]
    )
    quoted.accept()

    def check(result: Ledger) -> None:
        assert result.captured == [30_000], result.report()
        assert len(result.intents) == 1, result.report()
        detail = quoted.detail()
        assert detail["status"] == "accepted"
        assert [m["status"] for m in detail["milestones"]][0] == "paid"

    return Flow(quoted.email, CREATE, quoted.confirm, check)


def question_capture(w: World) -> Flow:
    """A paid question answered: the capture of its hold is the faulted write."""
    asked = w.ask()
    assert ok(asked.confirm())["status"] == "awaiting_answer"

    def check(result: Ledger) -> None:
        assert result.captured == [3_000], result.report()
        assert asked.question().status == "answered"

    return Flow(asked.email, CAPTURE, asked.answer, check)


def question_hold(w: World) -> Flow:
    """A paid question confirmed: the hold placed with the client present."""
    asked = w.ask()

    def check(result: Ledger) -> None:
        assert authorized(result) == [3_000], result.report()
        assert len(result.intents) == 1, result.report()
        assert asked.question().status == "awaiting_answer"

    return Flow(asked.email, CREATE, asked.confirm, check)


def _declined_milestone(w: World) -> tuple[Any, str]:
    """A milestone charge declined off-session: a dunning case and its pay link."""
    quoted = w.quote([{"title": "Livraison", "amount_minor": 100_000, "trigger": "on_approval"}])
    quoted.accept(DECLINED_LATER)
    assert ok(quoted.confirm())["status"] == "accepted"
    quoted.deliver_and_approve(0)
    run_due.inline(w.app, utcnow() + timedelta(minutes=1))
    return quoted, pay_link_token(w, quoted.email)


def pay_link_confirm(w: World) -> Flow:
    """Fix my payment: a new card saved, the owed amount charged (the faulted write)."""
    quoted, token = _declined_milestone(w)
    data = ok(w.client.get(f"/api/v1/public/pay/{token}"))
    w.stripe.confirm_setup(data["setup_intent_client_secret"], "pm_card_visa")

    def check(result: Ledger) -> None:
        assert result.captured == [100_000], result.report()
        assert ok(w.client.get(f"/api/v1/public/pay/{token}"))["status"] == "paid"

    return Flow(
        quoted.email,
        CREATE,
        lambda: w.client.post(f"/api/v1/public/pay/{token}/confirm", json={}),
        check,
    )


def pay_link_retry(w: World) -> Flow:
    """Fix my payment: the card on file tried again (declined again): one attempt, not two."""
    quoted, token = _declined_milestone(w)

    def check(result: Ledger) -> None:
        assert result.captured == [], result.report()
        # the declined milestone charge, and the one retry the client asked for
        assert len(result.intents) == 2, result.report()

    return Flow(
        quoted.email,
        CREATE,
        lambda: w.client.post(f"/api/v1/public/pay/{token}/retry", json={}),
        check,
    )


FLOWS: dict[str, Callable[[World], Flow]] = {
    "booking-prepay-charge": booking_charged("prepay", 10_000),
    "booking-hold": booking_charged("hold", 10_000),
    "booking-deposit": booking_charged("deposit", 3_000, deposit_percent=30),
    "booking-cancel-refund": booking_cancel_refund,
    "booking-cancel-late-fee-capture": booking_cancel_late_fee,
    "booking-cancel-late-partial-refund": booking_cancel_prepaid_late,
    "booking-reschedule-release": booking_reschedule_release,
    "quote-accept-deposit": quote_deposit,
    "question-hold": question_hold,
    "question-capture-on-answer": question_capture,
    "pay-link-confirm": pay_link_confirm,
    "pay-link-retry": pay_link_retry,
}
VARIANTS = ["client-retries", "sweep-only"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("build", FLOWS.values(), ids=FLOWS.keys())
def test_answer_lost_after_stripe_acted_then_retry_and_sweep_converge(
    build, variant, world, proxy, app, db_session
):  # noqa: ANN001
    # given the flow, and the answer to its Stripe write lost after Stripe acted
    flow = build(world)
    fault = proxy.drop(flow.method, flow.path, network_down=True)
    seen = [attempt(flow.request)]
    fault.release()  # the network is back
    assert fault.reached.is_set(), f"the request never made that write: {seen}"
    # when the client comes back (or not), then the sweep runs
    if variant == "client-retries":
        seen.append(attempt(flow.request))
    start = utcnow()
    outputs = [
        run_due.inline(app, start + timedelta(minutes=3)),
        run_due.inline(app, start + timedelta(minutes=20)),
    ]
    # then Stripe and our rows agree, each amount moved once
    context = f"the client saw: {seen}\nthe sweep said:\n" + "\n".join(outputs)
    result = ledger(db_session, world.stripe, flow.email)
    assert not result.problems, f"{result.report()}\n{context}"
    try:
        flow.check(result)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{context}") from None
    rejected = [line for line in "\n".join(outputs).splitlines() if "GatewayRejected" in line]
    assert not rejected, context


def test_sdk_retry_of_a_lost_create_is_not_a_second_charge(world, proxy, app, db_session):
    # given a prepay booking whose charge's first answer is lost, the network fine after
    booked = world.book("prepay")
    fault = proxy.drop("POST", CREATE)
    seen = [attempt(booked.confirm), attempt(booked.confirm)]
    assert fault.reached.is_set()
    run_due.inline(app, utcnow() + timedelta(minutes=3))
    # then whatever the SDK repeated on its own, the client paid once
    repeats = [r.outcome for r in proxy.matching("POST", CREATE)]
    result = assert_agree(
        db_session,
        world.stripe,
        booked.email,
        captured=[10_000],
        context=f"the client saw: {seen}\ncreates on the wire: {repeats}",
    )
    assert len(result.intents) == 1, result.report()
    assert booked.booking().status == "confirmed"


# --- 3-D Secure completed, the webhook never comes --------------------------------


def test_three_d_secure_prepay_without_its_webhook_ends_confirmed_or_refunded(
    world, app, db_session
):
    # given a prepay booking with a 3-D Secure card
    booked = world.book("prepay", card=None)
    card = world.stripe.three_d_secure_card()
    world.stripe.confirm_setup(booked.created["setup_intent_client_secret"], card)
    first = ok(booked.confirm())
    assert first["status"] == "requires_action"
    # when the client completes 3-D Secure, and no webhook is ever delivered
    paid = world.stripe.authenticate(first["payment_intent_client_secret"])
    assert paid["status"] == "succeeded"
    # and the browser never calls confirm again; the sweep runs past the expiry
    start = utcnow()
    outputs = [
        run_due.inline(app, start + timedelta(minutes=20)),
        run_due.inline(app, start + timedelta(minutes=40)),
    ]
    context = "the sweep said:\n" + "\n".join(outputs)
    # then the money is not left in limbo: the booking confirmed and invoiced, or all refunded
    booking = booked.booking()
    if booking.status == "confirmed":
        result = assert_agree(
            db_session, world.stripe, booked.email, captured=[10_000], context=context
        )
        assert booking.payment_state == "captured", context
    else:
        result = assert_agree(
            db_session,
            world.stripe,
            booked.email,
            captured=[10_000],
            refunded=[10_000],
            context=context,
        )
        assert booking.status in ("expired", "cancelled"), context
    assert booking.status != "requires_action", context
    assert len(result.intents) == 1, result.report()
    rejected = [line for line in "\n".join(outputs).splitlines() if "GatewayRejected" in line]
    assert not rejected, context
