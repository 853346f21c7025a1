"""Fault injection for the card given with the payment (one 3-D Secure), against localstripe.

The new Stripe write of these flows is the attach of the card the page made
(`POST /v1/payment_methods/{id}/attach`), before the PaymentIntent is created
with `setup_future_usage`. Each scenario loses one answer after Stripe acted
(`FaultProxy.drop`, the network down for the SDK's own repeats: the process
never learns what Stripe did, as if it had been killed right after), or holds
the create so that it never reaches Stripe; then the client comes back, or
only the sweep runs. Webhooks: none at all (lost), the event first, twice.

Every scenario ends with Stripe's own records and our rows agreeing, each
amount moved once, and the booking (or quote) secured once the client came
back or the sweep ran.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest

from billing.db import utcnow
from tests.faults import proxied, run_due
from tests.faults.agreement import Ledger, assert_agree, ledger
from tests.faults.report import count_scenario
from tests.faults.world import World
from tests.integration import test_faults_webhooks as webhooks
from tests.integration.test_faults_webhooks import SECRET, deliver
from tests.support.card_given import VISA, browser_card
from tests.support.fault_proxy import FaultProxy

pytestmark = pytest.mark.stripe

CREATE = r"/v1/payment_intents"
ATTACH = r"/v1/payment_methods/[^/]+/attach"

proxy, world = proxied.proxy, proxied.world  # the fixtures
attempt = proxied.attempt
catcher = webhooks.catcher  # localstripe's events, caught as sent


@pytest.fixture(autouse=True)
def _scenario(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    count_scenario(request)
    proxied.fast_sdk_retries(monkeypatch)


@pytest.fixture
def app_config(app_config: dict[str, Any], proxy: FaultProxy) -> dict[str, Any]:
    return {
        **proxied.proxied_config(app_config, proxy, "faults"),
        "STRIPE_WEBHOOK_SECRET": SECRET,
    }


@dataclass
class Flow:
    """One flow with the card given: its request (the same each time) and its end state."""

    email: str
    request: Callable[[], Any]
    secured: Callable[[], bool]
    amount: int


def booking(policy: str, amount: int, **overrides: Any) -> Callable[[World, str], Flow]:
    def build(w: World, localstripe_url: str) -> Flow:
        booked = w.book(policy, card=None, **overrides)
        card = browser_card(localstripe_url, VISA)

        def request() -> Any:
            return w.client.post(
                f"/api/v1/public/bookings/{booked.id}/confirm",
                json={"manage_token": booked.token, "payment_method_id": card},
            )

        return Flow(booked.email, request, lambda: booked.booking().status == "confirmed", amount)

    return build


def quote_deposit(w: World, localstripe_url: str) -> Flow:
    quoted = w.quote(
        [
            {"title": "Acompte", "percent": 30, "trigger": "on_acceptance"},
            {"title": "Solde", "amount_minor": 70_000, "trigger": "on_approval"},
        ]
    )
    signed = w.client.post(
        f"/api/v1/public/quotes/{quoted.token}/accept",
        json={"signer_name": "Claire Client", "accept_terms": True},
    ).get_json()
    card = browser_card(localstripe_url, VISA)

    def request() -> Any:
        return w.client.post(
            f"/api/v1/public/quotes/{quoted.token}/accept/confirm",
            json={"acceptance_id": signed["acceptance_id"], "payment_method_id": card},
        )

    def secured() -> bool:
        detail = quoted.detail()
        return detail["status"] == "accepted" and detail["milestones"][0]["status"] == "paid"

    return Flow(quoted.email, request, secured, 30_000)


FLOWS: dict[str, Callable[[World, str], Flow]] = {
    "booking-prepay": booking("prepay", 10_000),
    "booking-deposit": booking("deposit", 3_000, deposit_percent=30),
    "quote-deposit": quote_deposit,
}
WRITES = {"attach": ATTACH, "create": CREATE}
VARIANTS = ["client-retries", "sweep-only"]


def sweep(app) -> str:  # noqa: ANN001
    start = utcnow()
    return "\n".join(
        [
            run_due.inline(app, start + timedelta(minutes=3)),
            run_due.inline(app, start + timedelta(minutes=20)),
        ]
    )


def check_once(result: Ledger, flow: Flow, context: str) -> None:
    assert not result.problems, f"{result.report()}\n{context}"
    assert len(result.intents) <= 1, f"{result.report()}\n{context}"
    if flow.secured():
        assert result.captured == [flow.amount], f"{result.report()}\n{context}"
        assert result.refunded == [], f"{result.report()}\n{context}"
    else:
        # nothing kept: never charged, or all of it given back
        assert result.captured == [] or result.refunded == [flow.amount], result.report()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
@pytest.mark.parametrize("build", FLOWS.values(), ids=FLOWS.keys())
def test_an_answer_lost_after_stripe_acted_never_charges_twice(
    build, write, variant, world, proxy, app, db_session, localstripe_url
):  # noqa: ANN001
    # given the flow with a card given, and the answer to one of its writes lost
    flow = build(world, localstripe_url)
    fault = proxy.drop("POST", write, network_down=True)
    seen = [attempt(flow.request)]
    fault.release()  # the network is back
    assert fault.reached.is_set(), f"the request never made that write: {seen}"
    # when the client comes back (or not), then the sweep runs
    if variant == "client-retries":
        seen.append(attempt(flow.request))
    said = sweep(app)
    # then Stripe and our rows agree, the amount moved at most once
    context = f"the client saw: {seen}\nthe sweep said:\n{said}"
    result = ledger(db_session, world.stripe, flow.email)
    check_once(result, flow, context)
    if variant == "client-retries" or write == CREATE:
        # the client came back, or Stripe had the payment: it is found and kept
        assert flow.secured(), context
        assert result.captured == [flow.amount], f"{result.report()}\n{context}"
    assert not [line for line in said.splitlines() if "GatewayRejected" in line], context


@pytest.mark.parametrize("build", FLOWS.values(), ids=FLOWS.keys())
def test_a_create_that_never_reached_stripe_is_made_once_with_the_card_kept(
    build, world, proxy, app, db_session, localstripe_url
):  # noqa: ANN001
    # given a flow whose PaymentIntent create is cut before Stripe sees it
    flow = build(world, localstripe_url)
    fault = proxy.hold("POST", CREATE, forward=False)
    seen: list[str] = []
    first = threading.Thread(target=lambda: seen.append(attempt(flow.request)))
    first.start()
    assert fault.wait(), "the request never made the create"
    fault.release()
    first.join(timeout=60)
    # when the client comes back
    seen.append(attempt(flow.request))
    said = sweep(app)
    # then one PaymentIntent, made with the card kept for later, and the flow secured
    context = f"the client saw: {seen}\nthe sweep said:\n{said}"
    result = assert_agree(
        db_session, world.stripe, flow.email, captured=[flow.amount], context=context
    )
    assert len(result.intents) == 1, result.report()
    assert flow.secured(), context
    creates = proxy.matching("POST", CREATE)
    assert len(creates) == 2, [c.outcome for c in creates]
    for create in creates:
        form = parse_qs(create.body.decode())
        assert form["payment_method_options[card][setup_future_usage]"] == ["off_session"]


# --- webhooks: first, twice ---------------------------------------------------------


def lost_create(world: World, proxy: FaultProxy, localstripe_url: str) -> tuple[Flow, Any, str]:
    flow = booking("prepay", 10_000)(world, localstripe_url)
    fault = proxy.drop("POST", CREATE, network_down=True)
    seen = attempt(flow.request)
    fault.release()
    [intent] = world.stripe.intents_of(flow.email)
    return flow, intent, seen


def test_the_webhook_first_confirms_a_booking_paid_with_a_given_card(
    world, proxy, catcher, client, app, db_session, localstripe_url
):  # noqa: ANN001
    # given a charge Stripe made with the given card, whose answer we never stored
    flow, intent, seen = lost_create(world, proxy, localstripe_url)
    # when its payment_intent.succeeded comes before the client or any sweep
    payload, signature = catcher.wait_for("payment_intent.succeeded", intent.id)
    deliver(client, payload, signature)
    # then the booking is confirmed and charged once; the client's return changes nothing
    assert flow.secured(), seen
    again = attempt(flow.request)
    result = assert_agree(
        db_session, world.stripe, flow.email, captured=[10_000], context=f"{seen}\n{again}"
    )
    assert len(result.intents) == 1, result.report()


def test_the_webhook_twice_moves_nothing_twice_for_a_given_card(
    world, proxy, catcher, client, app, db_session, localstripe_url
):  # noqa: ANN001
    flow, intent, _ = lost_create(world, proxy, localstripe_url)
    payload, signature = catcher.wait_for("payment_intent.succeeded", intent.id)
    first = deliver(client, payload, signature)
    second = deliver(client, payload, signature)
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    sweep(app)
    result = assert_agree(db_session, world.stripe, flow.email, captured=[10_000])
    assert len(result.intents) == 1, result.report()
    assert flow.secured()
