"""`InMemoryGateway`: Stripe test mode's rules, idempotency and fault injection, no I/O."""

from __future__ import annotations

import inspect

import pytest

from billing.errors import CardError, GatewayAuthError, GatewayRejected, GatewayUnavailable
from billing.gateway.memory import InMemoryGateway
from billing.gateway.port import (
    CANCELED,
    REQUIRES_ACTION,
    REQUIRES_CAPTURE,
    REQUIRES_PAYMENT_METHOD,
    SUCCEEDED,
    CaptureMethod,
    PaymentGateway,
    PaymentIntentResult,
)
from billing.gateway.stripe_adapter import StripeGateway
from billing.money import Money

EUR_100 = Money(100_00, "eur")


@pytest.fixture
def gateway() -> InMemoryGateway:
    return InMemoryGateway()


@pytest.fixture
def customer(gateway: InMemoryGateway) -> str:
    return gateway.create_customer(email="c@example.test", name="C", idempotency_key="cus-1")


@pytest.fixture
def pay(gateway: InMemoryGateway, customer: str):
    """A factory: a confirmed PaymentIntent; each call gets its own key unless given one."""
    keys = iter(range(1, 10_000))

    def pay(
        card: str = "pm_card_visa",
        capture_method: CaptureMethod = "automatic",
        *,
        amount: Money = EUR_100,
        off_session: bool = True,
        key: str | None = None,
    ) -> PaymentIntentResult:
        return gateway.create_payment_intent(
            amount=amount,
            customer_id=customer,
            payment_method_id=card,
            capture_method=capture_method,
            off_session=off_session,
            idempotency_key=key or f"pi-{next(keys)}",
        )

    return pay


# --- both implementations fit the port ---------------------------------------


def _port_methods() -> list[str]:
    return [name for name in vars(PaymentGateway) if not name.startswith("_")]


@pytest.mark.parametrize("implementation", [InMemoryGateway, StripeGateway])
@pytest.mark.parametrize("method", _port_methods())
def test_implementations_match_the_port_signatures(implementation: type, method: str) -> None:
    expected = inspect.signature(getattr(PaymentGateway, method))
    actual = inspect.signature(getattr(implementation, method))
    assert list(actual.parameters.items()) == list(expected.parameters.items())


# --- outcomes of the test cards ------------------------------------------------


@pytest.mark.parametrize(
    ("card", "status", "failure_code", "decline_code", "hard"),
    [
        ("pm_card_visa", SUCCEEDED, None, None, None),
        ("pm_card_mastercard", SUCCEEDED, None, None, None),
        (
            "pm_card_chargeCustomerFail",
            REQUIRES_PAYMENT_METHOD,
            "card_declined",
            "generic_decline",
            False,
        ),
        (
            "pm_card_visa_chargeDeclined",
            REQUIRES_PAYMENT_METHOD,
            "card_declined",
            "generic_decline",
            False,
        ),
        (
            "pm_card_insufficientFunds",
            REQUIRES_PAYMENT_METHOD,
            "card_declined",
            "insufficient_funds",
            False,
        ),
        ("pm_card_lost", REQUIRES_PAYMENT_METHOD, "card_declined", "lost_card", True),
        ("pm_card_threeDSecure2Required", REQUIRES_ACTION, None, None, None),
        (
            "pm_card_authenticationRequired",
            REQUIRES_PAYMENT_METHOD,
            "authentication_required",
            "authentication_required",
            False,
        ),
    ],
)
def test_off_session_outcome_of_each_test_card(
    pay,
    card: str,
    status: str,
    failure_code: str | None,
    decline_code: str | None,
    hard: bool | None,
) -> None:
    result = pay(card)
    assert result.status == status
    if failure_code is None:
        assert result.failure is None
    else:
        assert result.failure is not None
        assert (result.failure.code, result.failure.decline_code) == (failure_code, decline_code)
        assert result.failure.hard is hard
        assert result.amount_received_minor == 0


def test_authentication_required_card_asks_for_action_on_session(pay) -> None:
    assert pay("pm_card_authenticationRequired", off_session=False).status == REQUIRES_ACTION


def test_successful_payment_amounts(pay, customer: str) -> None:
    result = pay()
    assert result.amount == EUR_100
    assert (result.amount_received_minor, result.amount_capturable_minor) == (100_00, 0)
    assert result.customer_id == customer
    assert result.client_secret.startswith(f"{result.id}_secret_")


@pytest.mark.parametrize(("amount", "allowed"), [(49, False), (50, True)])
def test_stripe_minimum_charge_in_euros(pay, amount: int, allowed: bool) -> None:
    if allowed:
        assert pay(amount=Money(amount, "eur")).status == SUCCEEDED
    else:
        with pytest.raises(GatewayRejected) as raised:
            pay(amount=Money(amount, "eur"))
        assert raised.value.stripe_code == "amount_too_small"


def test_unknown_customer_or_card_is_rejected(gateway: InMemoryGateway, customer: str) -> None:
    with pytest.raises(GatewayRejected) as raised:
        gateway.create_payment_intent(
            amount=EUR_100,
            customer_id="cus_nope",
            payment_method_id="pm_card_visa",
            capture_method="automatic",
            off_session=True,
            idempotency_key="k",
        )
    assert raised.value.http_status == 404
    with pytest.raises(GatewayRejected):
        gateway.retrieve_card("pm_nope")


# --- 3-D Secure -------------------------------------------------------------


@pytest.mark.parametrize("capture_method", ["automatic", "manual"])
def test_passed_authentication_completes_the_payment(
    gateway: InMemoryGateway, pay, capture_method: CaptureMethod
) -> None:
    pending = pay("pm_card_threeDSecure2Required", capture_method)
    done = gateway.complete_authentication(pending.id, success=True)
    expected = SUCCEEDED if capture_method == "automatic" else REQUIRES_CAPTURE
    assert done.status == expected
    assert gateway.retrieve_payment_intent(pending.id).status == expected


def test_failed_authentication_needs_a_new_card(gateway: InMemoryGateway, pay) -> None:
    pending = pay("pm_card_threeDSecure2Required")
    failed = gateway.complete_authentication(pending.id, success=False)
    assert failed.status == REQUIRES_PAYMENT_METHOD
    assert failed.payment_method_id is None
    assert failed.failure is not None
    assert failed.failure.code == "payment_intent_authentication_failure"
    with pytest.raises(GatewayRejected):
        gateway.complete_authentication(pending.id, success=True)


# --- manual capture, cancel, refund: Stripe's state rules -------------------


def test_hold_then_full_capture(gateway: InMemoryGateway, pay) -> None:
    hold = pay(capture_method="manual")
    assert (hold.status, hold.amount_capturable_minor, hold.amount_received_minor) == (
        REQUIRES_CAPTURE,
        100_00,
        0,
    )
    captured = gateway.capture_payment_intent(hold.id, amount_minor=None, idempotency_key="cap")
    assert (captured.status, captured.amount_capturable_minor, captured.amount_received_minor) == (
        SUCCEEDED,
        0,
        100_00,
    )


@pytest.mark.parametrize(("amount", "allowed"), [(100_00, True), (100_01, False), (0, False)])
def test_capture_at_most_the_capturable_amount(
    gateway: InMemoryGateway, pay, amount: int, allowed: bool
) -> None:
    hold = pay(capture_method="manual")
    if allowed:
        result = gateway.capture_payment_intent(hold.id, amount_minor=amount, idempotency_key="c")
        assert result.amount_received_minor == amount
    else:
        with pytest.raises(GatewayRejected):
            gateway.capture_payment_intent(hold.id, amount_minor=amount, idempotency_key="c")
        assert gateway.retrieve_payment_intent(hold.id).status == REQUIRES_CAPTURE


def test_partial_capture_receives_the_part(gateway: InMemoryGateway, pay) -> None:
    hold = pay(capture_method="manual")
    gateway.capture_payment_intent(hold.id, amount_minor=30_00, idempotency_key="cap")
    seen = gateway.retrieve_payment_intent(hold.id)
    assert (seen.status, seen.amount_received_minor, seen.amount_capturable_minor) == (
        SUCCEEDED,
        30_00,
        0,
    )


@pytest.mark.parametrize(
    ("card", "capture_method", "capturable"),
    [
        ("pm_card_visa", "automatic", False),  # succeeded
        ("pm_card_chargeCustomerFail", "manual", False),  # declined
        ("pm_card_threeDSecure2Required", "manual", False),  # requires_action
        ("pm_card_visa", "manual", True),
    ],
)
def test_capture_only_from_requires_capture(
    gateway: InMemoryGateway, pay, card: str, capture_method: CaptureMethod, capturable: bool
) -> None:
    intent = pay(card, capture_method)
    if capturable:
        gateway.capture_payment_intent(intent.id, amount_minor=None, idempotency_key="c")
    else:
        with pytest.raises(GatewayRejected) as raised:
            gateway.capture_payment_intent(intent.id, amount_minor=None, idempotency_key="c")
        assert raised.value.stripe_code == "payment_intent_unexpected_state"


@pytest.mark.parametrize(
    ("card", "capture_method", "cancelable"),
    [
        ("pm_card_visa", "manual", True),  # a hold is released
        ("pm_card_chargeCustomerFail", "automatic", True),
        ("pm_card_threeDSecure2Required", "automatic", True),
        ("pm_card_visa", "automatic", False),  # succeeded: refund instead
    ],
)
def test_cancel_never_after_success(
    gateway: InMemoryGateway, pay, card: str, capture_method: CaptureMethod, cancelable: bool
) -> None:
    intent = pay(card, capture_method)
    if cancelable:
        canceled = gateway.cancel_payment_intent(intent.id, idempotency_key="x")
        assert (canceled.status, canceled.amount_capturable_minor) == (CANCELED, 0)
        with pytest.raises(GatewayRejected):
            gateway.cancel_payment_intent(intent.id, idempotency_key="x-again")
    else:
        with pytest.raises(GatewayRejected):
            gateway.cancel_payment_intent(intent.id, idempotency_key="x")
        assert gateway.retrieve_payment_intent(intent.id).status == SUCCEEDED


def test_refund_full(gateway: InMemoryGateway, pay) -> None:
    paid = pay()
    refund = gateway.refund(paid.id, amount_minor=None, idempotency_key="re")
    assert (refund.payment_intent_id, refund.amount_minor, refund.status) == (
        paid.id,
        100_00,
        SUCCEEDED,
    )
    with pytest.raises(GatewayRejected) as raised:
        gateway.refund(paid.id, amount_minor=None, idempotency_key="re-2")
    assert raised.value.stripe_code == "charge_already_refunded"


def test_partial_refunds_up_to_what_was_received(gateway: InMemoryGateway, pay) -> None:
    hold = pay(capture_method="manual")
    gateway.capture_payment_intent(hold.id, amount_minor=60_00, idempotency_key="cap")
    gateway.refund(hold.id, amount_minor=59_99, idempotency_key="re-1")
    with pytest.raises(GatewayRejected) as raised:
        gateway.refund(hold.id, amount_minor=2, idempotency_key="re-2")  # one cent too many
    assert raised.value.stripe_code == "amount_too_large"
    last = gateway.refund(hold.id, amount_minor=1, idempotency_key="re-3")
    assert last.amount_minor == 1
    assert gateway.refunded_minor(hold.id) == 60_00


def test_refund_of_a_hold_is_rejected(gateway: InMemoryGateway, pay) -> None:
    hold = pay(capture_method="manual")
    with pytest.raises(GatewayRejected):
        gateway.refund(hold.id, amount_minor=None, idempotency_key="re")


# --- idempotency, like Stripe ---------------------------------------------


def test_same_key_same_params_replays_without_a_second_charge(
    gateway: InMemoryGateway, pay
) -> None:
    first = pay(key="booking-7-attempt-1")
    again = pay(key="booking-7-attempt-1")
    assert again == first
    assert len([c for c in gateway.calls if c[0] == "create_payment_intent"]) == 2
    other = pay(key="booking-7-attempt-2")
    assert other.id != first.id


def test_same_key_other_params_is_rejected(gateway: InMemoryGateway, pay) -> None:
    pay(key="k-1")
    with pytest.raises(GatewayRejected) as raised:
        pay(amount=Money(99_99, "eur"), key="k-1")
    assert raised.value.stripe_code == "idempotency_error"
    with pytest.raises(GatewayRejected):
        gateway.create_customer(email="x@example.test", name="X", idempotency_key="k-1")


def test_replayed_capture_does_not_capture_twice(gateway: InMemoryGateway, pay) -> None:
    hold = pay(capture_method="manual")
    first = gateway.capture_payment_intent(hold.id, amount_minor=40_00, idempotency_key="cap")
    again = gateway.capture_payment_intent(hold.id, amount_minor=40_00, idempotency_key="cap")
    assert again == first
    with pytest.raises(GatewayRejected):  # a new key: the intent is no longer capturable
        gateway.capture_payment_intent(hold.id, amount_minor=40_00, idempotency_key="cap-2")


def test_a_rejection_is_replayed_too(gateway: InMemoryGateway, pay) -> None:
    paid = pay()
    for _ in range(2):
        with pytest.raises(GatewayRejected) as raised:
            gateway.capture_payment_intent(paid.id, amount_minor=None, idempotency_key="cap")
        assert raised.value.stripe_code == "payment_intent_unexpected_state"


def test_calls_are_recorded_with_their_keys(gateway: InMemoryGateway, customer: str) -> None:
    setup = gateway.create_setup_intent(customer_id=customer, idempotency_key="si-1")
    gateway.retrieve_setup_intent(setup.id)
    assert gateway.calls == [
        ("create_customer", "cus-1"),
        ("create_setup_intent", "si-1"),
        ("retrieve_setup_intent", None),
    ]


def test_a_write_without_a_key_is_refused(gateway: InMemoryGateway) -> None:
    with pytest.raises(GatewayRejected):
        gateway.create_customer(email="x@example.test", name="X", idempotency_key="")


# --- fault injection ------------------------------------------------------


def test_fail_next_raises_once_and_does_nothing(gateway: InMemoryGateway, pay) -> None:
    gateway.fail_next("create_payment_intent", GatewayUnavailable("Stripe is down"))
    with pytest.raises(GatewayUnavailable):
        pay(key="k")
    assert gateway.payment_intents == {}
    assert pay(key="k").status == SUCCEEDED  # the retry with the same key runs for real


def test_timeout_after_success_then_retry_returns_the_same_charge(
    gateway: InMemoryGateway, pay
) -> None:
    # given Stripe charges the card but the answer is lost
    gateway.timeout_after_success("create_payment_intent")
    with pytest.raises(GatewayUnavailable):
        pay(key="deposit-1")
    # when the caller retries with the same key
    result = pay(key="deposit-1")
    # then it gets the charge that happened, and there is only one
    assert result.status == SUCCEEDED
    assert list(gateway.payment_intents) == [result.id]
    assert gateway.retrieve_payment_intent(result.id) == result


# --- cards, setup intents, keys ---------------------------------------------


def test_setup_intent_confirmed_by_the_browser(gateway: InMemoryGateway, customer: str) -> None:
    setup = gateway.create_setup_intent(customer_id=customer, idempotency_key="si")
    assert (setup.status, setup.payment_method_id) == (REQUIRES_PAYMENT_METHOD, None)
    gateway.confirm_setup_intent(setup.id, "pm_card_visa")
    seen = gateway.retrieve_setup_intent(setup.id)
    assert (seen.status, seen.payment_method_id, seen.customer_id) == (
        SUCCEEDED,
        "pm_card_visa",
        customer,
    )
    card = gateway.retrieve_card("pm_card_visa")
    assert (card.brand, card.last4) == ("visa", "4242")


def test_setup_with_a_3ds_card_needs_authentication(
    gateway: InMemoryGateway, customer: str
) -> None:
    setup = gateway.create_setup_intent(customer_id=customer, idempotency_key="si")
    pending = gateway.confirm_setup_intent(
        setup.id, "pm_card_threeDSecure2Required", authenticated=False
    )
    assert pending.status == REQUIRES_ACTION


def test_setup_with_a_declined_card_is_a_card_error(
    gateway: InMemoryGateway, customer: str
) -> None:
    setup = gateway.create_setup_intent(customer_id=customer, idempotency_key="si")
    with pytest.raises(CardError) as raised:
        gateway.confirm_setup_intent(setup.id, "pm_card_lost")
    assert raised.value.decline_code == "lost_card"
    assert gateway.retrieve_setup_intent(setup.id).status == REQUIRES_PAYMENT_METHOD


@pytest.mark.parametrize(("secret_key", "accepted"), [("sk_test_x", True), ("pk_test_x", False)])
def test_check_connection(secret_key: str, accepted: bool) -> None:
    gateway = InMemoryGateway(secret_key)
    if accepted:
        gateway.check_connection()
    else:
        with pytest.raises(GatewayAuthError):
            gateway.check_connection()


# --- the Stripe adapter's pure parts: reading Stripe's JSON, naming its errors ---


def test_reads_a_real_stripe_payment_intent() -> None:
    from billing.gateway.stripe_objects import payment_intent_result

    result = payment_intent_result(
        {
            "id": "pi_1",
            "client_secret": "pi_1_secret_x",
            "status": "requires_payment_method",
            "amount": 2500,
            "currency": "EUR",
            "amount_capturable": 0,
            "amount_received": 0,
            "customer": {"id": "cus_1", "object": "customer"},
            "payment_method": None,
            "latest_charge": "ch_1",
            "last_payment_error": {
                "code": "card_declined",
                "decline_code": "stolen_card",
                "message": "Your card was declined.",
            },
            "metadata": {"booking_id": 7},
        }
    )
    assert result.amount == Money(2500, "eur")
    assert result.customer_id == "cus_1"
    assert result.failure is not None and result.failure.hard
    assert result.metadata == {"booking_id": "7"}


def test_reads_localstripe_amounts_from_the_expanded_charge() -> None:
    from billing.gateway.stripe_objects import payment_intent_result

    charge = {
        "id": "ch_1",
        "amount": 10_000,
        "status": "succeeded",
        "captured": True,
        # the release of a partial capture (no payment_intent), then a refund we asked for
        "refunds": {"data": [{"amount": 500, "payment_intent": "pi_1"}, {"amount": 7000}]},
    }
    data = {
        "id": "pi_1",
        "client_secret": "s",
        "status": "succeeded",
        "amount": 10_000,
        "currency": "eur",
        "latest_charge": charge,
    }
    result = payment_intent_result(data)
    assert (result.amount_received_minor, result.amount_capturable_minor) == (3000, 0)
    held = payment_intent_result(
        {**data, "status": "requires_capture", "latest_charge": {**charge, "captured": False}}
    )
    assert (held.amount_received_minor, held.amount_capturable_minor) == (0, 10_000)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (lambda s: s.AuthenticationError("bad key", http_status=401), GatewayAuthError),
        (lambda s: s.PermissionError("restricted key", http_status=403), GatewayAuthError),
        (lambda s: s.InvalidRequestError("no such", "id", http_status=404), GatewayRejected),
        (lambda s: s.IdempotencyError("key reused", http_status=400), GatewayRejected),
        (lambda s: s.RateLimitError("slow down", http_status=429), GatewayUnavailable),
        (lambda s: s.APIError("boom", http_status=500), GatewayUnavailable),
        (lambda s: s.APIConnectionError("no route"), GatewayUnavailable),
        (lambda s: s.CardError("declined", None, "card_declined", http_status=402), CardError),
    ],
)
def test_sdk_errors_become_billing_errors(error, expected: type) -> None:
    import stripe

    from billing.gateway.stripe_objects import translate as _translate

    translated = _translate(error(stripe))
    assert type(translated) is expected
