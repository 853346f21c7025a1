"""`StripeGateway` against the real localstripe server, over HTTP.

What the browser does (Stripe.js `confirmCardSetup`) is played by `confirm_card_setup`
with the SDK. Network faults come from `RecordingProxy` between the adapter and
the server.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests
import stripe

from billing.errors import GatewayAuthError, GatewayRejected, GatewayUnavailable
from billing.gateway.port import (
    CANCELED,
    REQUIRES_ACTION,
    REQUIRES_CAPTURE,
    REQUIRES_PAYMENT_METHOD,
    SUCCEEDED,
    CaptureMethod,
    PaymentIntentResult,
)
from billing.gateway.stripe_adapter import StripeGateway
from billing.money import Money
from tests.plugins.fake_stripe import TEST_SECRET_KEY, free_port
from tests.support.recording_proxy import RecordingProxy

pytestmark = pytest.mark.stripe

EUR_120 = Money(120_00, "eur")
THREE_D_SECURE_CARD = "4000002500003155"


def key(label: str) -> str:
    """A fresh idempotency key: localstripe does not honour them, real Stripe does."""
    return f"test-{label}-{uuid.uuid4().hex}"


@pytest.fixture
def browser(localstripe_url: str) -> Iterator[stripe.StripeClient]:
    """A raw SDK client doing what Stripe.js does in the client's browser."""
    with requests.Session() as session:
        yield stripe.StripeClient(
            TEST_SECRET_KEY,
            base_addresses={"api": localstripe_url},
            http_client=stripe.RequestsClient(session=session),
        )


def confirm_card_setup(browser: stripe.StripeClient, setup_intent_id: str, card: str) -> str:
    """Stripe.js `confirmCardSetup`: attach a card to the SetupIntent; returns its status."""
    intent = browser.v1.setup_intents.confirm(setup_intent_id, params={"payment_method": card})
    return intent.status


@pytest.fixture
def customer_id(stripe_gateway: StripeGateway) -> str:
    return stripe_gateway.create_customer(
        email="client@example.test", name="Client", idempotency_key=key("customer")
    )


@pytest.fixture
def pay(stripe_gateway: StripeGateway, customer_id: str):
    """A factory: one off-session PaymentIntent with a saved card."""

    def pay(
        card: str = "pm_card_visa",
        capture_method: CaptureMethod = "automatic",
        amount: Money = EUR_120,
    ) -> PaymentIntentResult:
        return stripe_gateway.create_payment_intent(
            amount=amount,
            customer_id=customer_id,
            payment_method_id=card,
            capture_method=capture_method,
            off_session=True,
            idempotency_key=key("pi"),
            metadata={"booking_id": "42"},
        )

    return pay


def test_check_connection_and_customer(stripe_gateway: StripeGateway) -> None:
    stripe_gateway.check_connection()
    customer = stripe_gateway.create_customer(
        email="ana@example.test", name="Ana", idempotency_key=key("c"), metadata={"client": "7"}
    )
    assert customer.startswith("cus_")


def test_setup_intent_confirmed_in_browser_shows_card(
    stripe_gateway: StripeGateway, customer_id: str, browser: stripe.StripeClient
) -> None:
    # given a SetupIntent for the customer
    created = stripe_gateway.create_setup_intent(
        customer_id=customer_id, idempotency_key=key("si"), metadata={"booking_id": "1"}
    )
    assert created.status == REQUIRES_PAYMENT_METHOD
    assert created.client_secret.startswith(created.id)
    # when the browser confirms it with a card
    assert confirm_card_setup(browser, created.id, "pm_card_visa") == SUCCEEDED
    # then the server sees the saved card
    seen = stripe_gateway.retrieve_setup_intent(created.id)
    assert seen.status == SUCCEEDED
    assert seen.customer_id == customer_id
    assert seen.payment_method_id is not None and seen.payment_method_id.startswith("pm_")
    card = stripe_gateway.retrieve_card(seen.payment_method_id)
    assert (card.brand, card.last4, card.exp_year) == ("visa", "4242", 2030)


def test_off_session_payment_succeeds(pay, customer_id: str) -> None:
    result = pay()
    assert result.status == SUCCEEDED
    assert result.amount == EUR_120
    assert (result.amount_received_minor, result.amount_capturable_minor) == (120_00, 0)
    assert result.customer_id == customer_id
    assert result.metadata == {"booking_id": "42"}
    assert result.failure is None


def test_hold_then_full_capture(pay, stripe_gateway: StripeGateway) -> None:
    hold = pay(capture_method="manual")
    assert hold.status == REQUIRES_CAPTURE
    assert (hold.amount_capturable_minor, hold.amount_received_minor) == (120_00, 0)

    captured = stripe_gateway.capture_payment_intent(
        hold.id, amount_minor=None, idempotency_key=key("cap")
    )
    assert captured.status == SUCCEEDED
    assert (captured.amount_capturable_minor, captured.amount_received_minor) == (0, 120_00)


def test_partial_capture_receives_only_the_part(pay, stripe_gateway: StripeGateway) -> None:
    hold = pay(capture_method="manual")
    stripe_gateway.capture_payment_intent(hold.id, amount_minor=30_01, idempotency_key=key("cap"))
    # read back, not just the capture's answer
    seen = stripe_gateway.retrieve_payment_intent(hold.id)
    assert seen.status == SUCCEEDED
    assert seen.amount_received_minor == 30_01
    assert seen.amount == EUR_120


def test_cancel_releases_the_hold(pay, stripe_gateway: StripeGateway) -> None:
    hold = pay(capture_method="manual")
    canceled = stripe_gateway.cancel_payment_intent(hold.id, idempotency_key=key("cancel"))
    assert canceled.status == CANCELED
    assert stripe_gateway.retrieve_payment_intent(hold.id).status == CANCELED


def test_capture_after_cancel_is_rejected(pay, stripe_gateway: StripeGateway) -> None:
    hold = pay(capture_method="manual")
    stripe_gateway.cancel_payment_intent(hold.id, idempotency_key=key("cancel"))
    paid = pay()
    with pytest.raises(GatewayRejected) as raised:
        stripe_gateway.cancel_payment_intent(paid.id, idempotency_key=key("cancel"))
    assert raised.value.http_status == 400


def test_refund_full_and_partial(pay, stripe_gateway: StripeGateway) -> None:
    full = stripe_gateway.refund(pay().id, amount_minor=None, idempotency_key=key("re"))
    assert (full.amount_minor, full.status) == (120_00, SUCCEEDED)

    paid = pay()
    part = stripe_gateway.refund(
        paid.id, amount_minor=20_00, idempotency_key=key("re"), metadata={"reason": "late"}
    )
    assert (part.payment_intent_id, part.amount_minor) == (paid.id, 20_00)
    # a refund does not change what was received (Stripe semantics)
    assert stripe_gateway.retrieve_payment_intent(paid.id).amount_received_minor == 120_00


def test_declined_card_is_an_outcome_not_an_exception(pay) -> None:
    # localstripe answers 402 with only the charge id; the adapter finds the intent
    result = pay(card="pm_card_chargeCustomerFail")
    assert result.id.startswith("pi_")
    assert result.status == REQUIRES_PAYMENT_METHOD
    assert result.failure is not None
    assert result.failure.code == "card_declined"
    assert result.amount_received_minor == 0


def test_three_d_secure_card_requires_action(
    stripe_gateway: StripeGateway, customer_id: str, browser: stripe.StripeClient, pay
) -> None:
    # given a 3-D Secure card saved through a SetupIntent
    method = browser.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {
                "number": THREE_D_SECURE_CARD,
                "exp_month": 12,
                "exp_year": 2034,
                "cvc": "123",
            },
        }
    )
    setup = stripe_gateway.create_setup_intent(customer_id=customer_id, idempotency_key=key("si"))
    assert confirm_card_setup(browser, setup.id, method.id) == REQUIRES_ACTION
    # when the server charges it
    result = pay(card=method.id)
    # then the client must authenticate
    assert result.status == REQUIRES_ACTION
    assert result.failure is None
    assert result.client_secret.startswith(result.id)


def test_unknown_payment_intent_is_rejected(stripe_gateway: StripeGateway) -> None:
    with pytest.raises(GatewayRejected) as raised:
        stripe_gateway.retrieve_payment_intent("pi_doesnotexist")
    assert raised.value.http_status == 404


def test_refused_key_is_an_auth_error(localstripe_url: str) -> None:
    # localstripe accepts any sk_ key; anything else gets its 401
    with (
        StripeGateway("pk_test_not_a_secret", api_base=localstripe_url) as gateway,
        pytest.raises(GatewayAuthError) as raised,
    ):
        gateway.check_connection()
    assert raised.value.http_status == 401


def test_nothing_listening_is_unavailable() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with StripeGateway(TEST_SECRET_KEY, api_base=dead, max_network_retries=0) as gateway:
        started = time.monotonic()
        with pytest.raises(GatewayUnavailable):
            gateway.create_customer(email="a@example.test", name="A", idempotency_key=key("c"))
    assert time.monotonic() - started < 2


# --- on the wire, through the recording proxy --------------------------------


@pytest.fixture
def proxy(localstripe_url: str) -> Iterator[RecordingProxy]:
    with RecordingProxy(localstripe_url) as proxy:
        yield proxy


def proxied(proxy: RecordingProxy, retries: int = 2) -> StripeGateway:
    return StripeGateway(
        TEST_SECRET_KEY, api_base=proxy.url, max_network_retries=retries, timeout=5
    )


def test_every_post_carries_our_idempotency_key(proxy: RecordingProxy) -> None:
    with proxied(proxy) as gateway:
        customer = gateway.create_customer(email="k@example.test", name="K", idempotency_key="c-1")
        setup = gateway.create_setup_intent(customer_id=customer, idempotency_key="si-1")
        hold = gateway.create_payment_intent(
            amount=EUR_120,
            customer_id=customer,
            payment_method_id="pm_card_visa",
            capture_method="manual",
            off_session=False,
            idempotency_key="pi-1",
        )
        gateway.capture_payment_intent(hold.id, amount_minor=50_00, idempotency_key="cap-1")
        gateway.refund(hold.id, amount_minor=10_00, idempotency_key="re-1")
        gateway.retrieve_setup_intent(setup.id)

    posts = proxy.posts()
    assert [p.header("Idempotency-Key") for p in posts] == ["c-1", "si-1", "pi-1", "cap-1", "re-1"]
    assert all(p.header("Authorization") == f"Bearer {TEST_SECRET_KEY}" for p in posts)
    body = posts[2].body.decode()
    assert "confirm=true" in body and "off_session" not in body
    assert [r.header("Idempotency-Key") for r in proxy.requests if r.method == "GET"] == [None]


def test_503_is_retried_with_backoff_and_the_same_key(proxy: RecordingProxy) -> None:
    proxy.fail_next(1, status=503)
    with proxied(proxy) as gateway:
        started = time.monotonic()
        customer = gateway.create_customer(
            email="r@example.test", name="R", idempotency_key="c-503"
        )
        elapsed = time.monotonic() - started

    assert customer.startswith("cus_")
    assert [(p.outcome, p.header("Idempotency-Key")) for p in proxy.posts()] == [
        ("failed:503", "c-503"),
        ("forwarded", "c-503"),
    ]
    assert elapsed >= 0.45  # the SDK waits at least 0.5 s before a retry


def test_429_is_retried_by_the_adapter_with_the_same_key(proxy: RecordingProxy) -> None:
    # the SDK itself does not retry 429: StripeGateway's own backoff does
    proxy.fail_next(2, status=429)
    with proxied(proxy, retries=2) as gateway:
        started = time.monotonic()
        gateway.create_customer(email="l@example.test", name="L", idempotency_key="c-429")
        elapsed = time.monotonic() - started

    outcomes = [(p.outcome, p.header("Idempotency-Key")) for p in proxy.posts()]
    assert outcomes == [("failed:429", "c-429")] * 2 + [("forwarded", "c-429")]
    assert elapsed >= 0.25 + 0.5  # jittered 0.5 s then 1 s, at least half of each


def test_persistent_503_becomes_unavailable(proxy: RecordingProxy) -> None:
    proxy.fail_next(2, status=503)
    with proxied(proxy, retries=1) as gateway, pytest.raises(GatewayUnavailable) as raised:
        gateway.create_customer(email="u@example.test", name="U", idempotency_key="c-down")
    assert raised.value.http_status == 503
    assert len(proxy.posts()) == 2


def test_timeout_after_the_write_succeeded(proxy: RecordingProxy, browser) -> None:
    # given Stripe performs the write but the answer never reaches us
    proxy.drop_after_forward(1, method="POST")
    email = f"lost-{uuid.uuid4().hex}@example.test"
    # then the outcome is unknown to the caller...
    with proxied(proxy, retries=0) as gateway, pytest.raises(GatewayUnavailable):
        gateway.create_customer(email=email, name="Lost", idempotency_key="c-lost")
    # ...although the customer exists: reconciliation, not a blind retry
    found = browser.v1.customers.list(params={"email": email})
    assert len(found.data) == 1
    assert [p.outcome for p in proxy.posts()] == ["dropped"]


def test_sdk_retry_after_a_dropped_answer_reuses_the_key(proxy: RecordingProxy) -> None:
    # Real Stripe replays the first answer for the same key; localstripe would
    # execute twice, so this only proves what we send.
    proxy.drop_after_forward(1, method="POST")
    with proxied(proxy, retries=1) as gateway:
        gateway.create_customer(email="d@example.test", name="D", idempotency_key="c-drop")
    assert [(p.outcome, p.header("Idempotency-Key")) for p in proxy.posts()] == [
        ("dropped", "c-drop"),
        ("forwarded", "c-drop"),
    ]


def test_answer_slower_than_the_timeout_is_unavailable(proxy: RecordingProxy) -> None:
    proxy.drop_after_forward(1, pause=1.0, method="POST")
    gateway = StripeGateway(TEST_SECRET_KEY, api_base=proxy.url, max_network_retries=0, timeout=0.3)
    started = time.monotonic()
    with gateway, pytest.raises(GatewayUnavailable) as raised:
        gateway.create_customer(email="slow@example.test", name="S", idempotency_key="c-slow")
    assert time.monotonic() - started < 0.9  # our timeout, not the server's pause
    assert "timed out" in str(raised.value).lower()
