"""An in-memory `PaymentGateway` that behaves like Stripe test mode, for fast unit tests.

Test payment methods (Stripe's own aliases) and what a payment with them does:

- `pm_card_visa`, `pm_card_mastercard`: succeeds.
- `pm_card_chargeCustomerFail`, `pm_card_visa_chargeDeclined`: declined,
  `card_declined` / `generic_decline`.
- `pm_card_insufficientFunds`: declined, `insufficient_funds` (soft decline).
- `pm_card_lost`: declined, `lost_card` (hard decline: never retry the card).
- `pm_card_threeDSecure2Required`: `requires_action` on or off session (what
  localstripe does); finish it with `complete_authentication`.
- `pm_card_authenticationRequired`: `requires_action` on session; off session
  declined with `authentication_required` (what real Stripe does).

It keeps Stripe's rules: capture only from `requires_capture` and at most the
capturable amount, cancel never after `succeeded`, refunds at most what was
received minus what was refunded, Stripe's minimum charge amounts. It honours
idempotency keys as Stripe does (same key and parameters: the first answer is
replayed and nothing runs twice; same key, other parameters: `GatewayRejected`),
records every call in `calls`, and can inject faults (`fail_next`,
`timeout_after_success`) so callers can test their recovery.
"""

from __future__ import annotations

import secrets
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import count
from typing import Any, TypeVar

from billing.errors import (
    CardError,
    GatewayAuthError,
    GatewayError,
    GatewayRejected,
    GatewayUnavailable,
)
from billing.gateway.port import (
    CANCELED,
    REQUIRES_ACTION,
    REQUIRES_CAPTURE,
    REQUIRES_PAYMENT_METHOD,
    SUCCEEDED,
    CaptureMethod,
    CardDetails,
    Failure,
    PaymentIntentResult,
    RefundResult,
    SetupIntentResult,
)
from billing.money import Money

T = TypeVar("T")

DECLINED = "Your card was declined."


@dataclass(frozen=True, slots=True)
class CardScenario:
    """How a test payment method behaves."""

    brand: str
    last4: str
    decline_code: str | None = None  # set: every charge is declined with it
    setup_declined: bool = False  # declined already when saved (all but chargeCustomerFail)
    three_d_secure: bool = False  # every payment asks for authentication
    off_session_fails_authentication: bool = False  # real Stripe's off-session 3DS decline


TEST_CARDS: dict[str, CardScenario] = {
    "pm_card_visa": CardScenario("visa", "4242"),
    "pm_card_mastercard": CardScenario("mastercard", "4444"),
    "pm_card_chargeCustomerFail": CardScenario("visa", "0341", decline_code="generic_decline"),
    "pm_card_visa_chargeDeclined": CardScenario(
        "visa", "0002", decline_code="generic_decline", setup_declined=True
    ),
    "pm_card_insufficientFunds": CardScenario(
        "visa", "9995", decline_code="insufficient_funds", setup_declined=True
    ),
    "pm_card_lost": CardScenario("visa", "9987", decline_code="lost_card", setup_declined=True),
    "pm_card_threeDSecure2Required": CardScenario("visa", "3220", three_d_secure=True),
    "pm_card_authenticationRequired": CardScenario(
        "visa", "3184", three_d_secure=True, off_session_fails_authentication=True
    ),
}

# Stripe refuses charges below these (code `amount_too_small`).
MINIMUM_CHARGE_MINOR = {"eur": 50, "usd": 50, "chf": 50, "cad": 50, "gbp": 30}


@dataclass(slots=True)
class _Intent:
    result: PaymentIntentResult
    capture_method: CaptureMethod
    refunded_minor: int = 0


@dataclass
class _Faults:
    errors: dict[str, deque[GatewayError]] = field(default_factory=lambda: defaultdict(deque))
    timeouts: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _rejected(message: str, code: str, status: int = 400) -> GatewayRejected:
    return GatewayRejected(message, stripe_code=code, http_status=status)


class InMemoryGateway:
    """A `PaymentGateway` kept in dictionaries; see the module docstring."""

    def __init__(
        self,
        secret_key: str = "sk_test_memory",  # noqa: S107 (a fake key)
        *,
        honour_idempotency: bool = True,
    ) -> None:
        self.secret_key = secret_key
        # False: every write runs, as on localstripe — a caller that repeats a
        # write instead of looking Stripe up then really pays twice.
        self.honour_idempotency = honour_idempotency
        self.calls: list[tuple[str, str | None]] = []
        self.customers: dict[str, dict[str, Any]] = {}
        self.setup_intents: dict[str, SetupIntentResult] = {}
        self.refunds: dict[str, RefundResult] = {}
        self._refund_metadata: dict[str, dict[str, str]] = {}
        self._intents: dict[str, _Intent] = {}
        self._idempotent: dict[str, tuple[tuple[Any, ...], Any]] = {}
        self._faults = _Faults()
        self._ids = count(1)
        self._lock = threading.RLock()

    # --- fault injection and test helpers ----------------------------------

    def fail_next(self, method: str, error: GatewayError) -> None:
        """The next call to `method` raises `error` without doing anything."""
        with self._lock:
            self._faults.errors[method].append(error)

    def timeout_after_success(self, method: str) -> None:
        """The next call to `method` is performed, then raises `GatewayUnavailable`.

        Like a Stripe timeout after the charge went through: retrying with the
        same idempotency key returns the saved result.
        """
        with self._lock:
            self._faults.timeouts[method] += 1

    def confirm_setup_intent(
        self, setup_intent_id: str, payment_method_id: str, *, authenticated: bool = True
    ) -> SetupIntentResult:
        """What the browser's `confirmCardSetup` does; 3-D Secure cards need `authenticated`.

        Cards that Stripe declines when saved raise `CardError`, as the browser
        would show it; `pm_card_chargeCustomerFail` saves fine and fails later.
        """
        with self._lock:
            intent = self._setup_intent(setup_intent_id)
            card = self._card(payment_method_id)
            if card.setup_declined:
                raise CardError(
                    DECLINED, stripe_code="card_declined", decline_code=card.decline_code
                )
            status = REQUIRES_ACTION if card.three_d_secure and not authenticated else SUCCEEDED
            intent = replace(intent, status=status, payment_method_id=payment_method_id)
            self.setup_intents[setup_intent_id] = intent
            return intent

    def complete_authentication(self, payment_intent_id: str, success: bool) -> PaymentIntentResult:
        """The client passes (or fails) the 3-D Secure challenge of a `requires_action` intent."""
        with self._lock:
            intent = self._intent(payment_intent_id)
            if intent.result.status != REQUIRES_ACTION:
                raise _rejected(
                    "This PaymentIntent needs no action.", "payment_intent_unexpected_state"
                )
            if success:
                intent.result = self._authorised(intent.result, intent.capture_method)
            else:
                # Stripe detaches the payment method after a failed challenge.
                intent.result = replace(
                    intent.result,
                    status=REQUIRES_PAYMENT_METHOD,
                    payment_method_id=None,
                    failure=Failure(
                        "payment_intent_authentication_failure",
                        "The provided PaymentMethod has failed authentication.",
                    ),
                )
            return intent.result

    # --- the port -----------------------------------------------------------

    def check_connection(self) -> None:
        """Refuse keys that are not secret or restricted keys, as Stripe does with 401."""
        self._record("check_connection", None)
        if not self.secret_key.startswith(("sk_", "rk_")):
            raise GatewayAuthError("Invalid API Key provided.", http_status=401)

    def create_customer(
        self, *, email: str, name: str, idempotency_key: str, metadata: dict[str, str] | None = None
    ) -> str:
        """Create a customer and return its id."""

        def run() -> str:
            customer_id = self._new_id("cus")
            self.customers[customer_id] = {"email": email, "name": name, "metadata": metadata or {}}
            return customer_id

        params = (email, name, _frozen(metadata))
        return self._write("create_customer", idempotency_key, params, run)

    def create_setup_intent(
        self, *, customer_id: str, idempotency_key: str, metadata: dict[str, str] | None = None
    ) -> SetupIntentResult:
        """Start saving a card; `confirm_setup_intent` plays the browser's part."""

        def run() -> SetupIntentResult:
            self._customer(customer_id)
            intent_id = self._new_id("seti")
            intent = SetupIntentResult(
                id=intent_id,
                client_secret=_secret(intent_id),
                status=REQUIRES_PAYMENT_METHOD,
                customer_id=customer_id,
                payment_method_id=None,
            )
            self.setup_intents[intent_id] = intent
            return intent

        params = (customer_id, _frozen(metadata))
        return self._write("create_setup_intent", idempotency_key, params, run)

    def retrieve_setup_intent(self, setup_intent_id: str) -> SetupIntentResult:
        """Read a SetupIntent."""
        return self._read("retrieve_setup_intent", lambda: self._setup_intent(setup_intent_id))

    def create_payment_intent(
        self,
        *,
        amount: Money,
        customer_id: str,
        payment_method_id: str,
        capture_method: CaptureMethod,
        off_session: bool,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
    ) -> PaymentIntentResult:
        """Create and confirm a PaymentIntent; declines and 3-D Secure are outcomes."""

        def run() -> PaymentIntentResult:
            self._customer(customer_id)
            card = self._card(payment_method_id)
            minimum = MINIMUM_CHARGE_MINOR.get(amount.currency, 1)
            if amount.amount_minor < minimum:
                raise _rejected(
                    f"Amount must be at least {minimum} minor units.", "amount_too_small"
                )
            intent_id = self._new_id("pi")
            result = PaymentIntentResult(
                id=intent_id,
                client_secret=_secret(intent_id),
                status=REQUIRES_PAYMENT_METHOD,
                amount=amount,
                amount_capturable_minor=0,
                amount_received_minor=0,
                customer_id=customer_id,
                payment_method_id=payment_method_id,
                metadata=dict(metadata or {}),
            )
            if card.decline_code:
                failure = Failure("card_declined", DECLINED, card.decline_code)
                result = replace(result, failure=failure)
            elif card.three_d_secure and off_session and card.off_session_fails_authentication:
                failure = Failure(
                    "authentication_required",
                    "Your card was declined. This transaction requires authentication.",
                    "authentication_required",
                )
                result = replace(result, failure=failure)
            elif card.three_d_secure:
                result = replace(result, status=REQUIRES_ACTION)
            else:
                result = self._authorised(result, capture_method)
            self._intents[intent_id] = _Intent(result, capture_method)
            return result

        params = (
            amount,
            customer_id,
            payment_method_id,
            capture_method,
            off_session,
            _frozen(metadata),
        )
        return self._write("create_payment_intent", idempotency_key, params, run)

    def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntentResult:
        """Read a PaymentIntent's current state."""
        return self._read("retrieve_payment_intent", lambda: self._intent(payment_intent_id).result)

    def capture_payment_intent(
        self, payment_intent_id: str, *, amount_minor: int | None, idempotency_key: str
    ) -> PaymentIntentResult:
        """Capture an authorised PaymentIntent; the rest of a partial capture is released."""

        def run() -> PaymentIntentResult:
            intent = self._intent(payment_intent_id)
            if intent.result.status != REQUIRES_CAPTURE:
                raise _rejected(
                    f"This PaymentIntent could not be captured because it has a status of "
                    f"{intent.result.status}.",
                    "payment_intent_unexpected_state",
                )
            capturable = intent.result.amount_capturable_minor
            amount = capturable if amount_minor is None else amount_minor
            if amount < 1:
                raise _rejected("amount_to_capture must be positive.", "parameter_invalid_integer")
            if amount > capturable:
                raise _rejected(
                    f"amount_to_capture {amount} exceeds amount_capturable {capturable}.",
                    "amount_too_large",
                )
            intent.result = replace(
                intent.result,
                status=SUCCEEDED,
                amount_capturable_minor=0,
                amount_received_minor=amount,
            )
            return intent.result

        params = (payment_intent_id, amount_minor)
        return self._write("capture_payment_intent", idempotency_key, params, run)

    def cancel_payment_intent(
        self, payment_intent_id: str, *, idempotency_key: str
    ) -> PaymentIntentResult:
        """Cancel a PaymentIntent, releasing any hold; never after it succeeded."""

        def run() -> PaymentIntentResult:
            intent = self._intent(payment_intent_id)
            if intent.result.status in (SUCCEEDED, CANCELED):
                raise _rejected(
                    f"You cannot cancel this PaymentIntent because it has a status of "
                    f"{intent.result.status}.",
                    "payment_intent_unexpected_state",
                )
            intent.result = replace(intent.result, status=CANCELED, amount_capturable_minor=0)
            return intent.result

        return self._write("cancel_payment_intent", idempotency_key, (payment_intent_id,), run)

    def refund(
        self,
        payment_intent_id: str,
        *,
        amount_minor: int | None,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
    ) -> RefundResult:
        """Refund a captured PaymentIntent, at most what is still unrefunded."""

        def run() -> RefundResult:
            intent = self._intent(payment_intent_id)
            if intent.result.status != SUCCEEDED:
                raise _rejected(
                    f"This PaymentIntent has a status of {intent.result.status}: "
                    "nothing to refund.",
                    "payment_intent_unexpected_state",
                )
            refundable = intent.result.amount_received_minor - intent.refunded_minor
            if refundable == 0:
                raise _rejected("Charge has already been refunded.", "charge_already_refunded")
            amount = refundable if amount_minor is None else amount_minor
            if amount < 1:
                raise _rejected("Refund amount must be positive.", "parameter_invalid_integer")
            if amount > refundable:
                raise _rejected(
                    f"Refund amount {amount} is greater than unrefunded amount {refundable}.",
                    "amount_too_large",
                )
            intent.refunded_minor += amount
            refund = RefundResult(self._new_id("re"), payment_intent_id, amount, SUCCEEDED)
            self.refunds[refund.id] = refund
            self._refund_metadata[refund.id] = dict(metadata or {})
            return refund

        params = (payment_intent_id, amount_minor, _frozen(metadata))
        return self._write("refund", idempotency_key, params, run)

    def find_payment_intent(
        self, *, customer_id: str, metadata_key: str, metadata_value: str
    ) -> PaymentIntentResult | None:
        """The customer's PaymentIntent with this metadata, if any."""

        def run() -> PaymentIntentResult | None:
            for intent in self._intents.values():
                result = intent.result
                if (
                    result.customer_id == customer_id
                    and result.metadata.get(metadata_key) == metadata_value
                ):
                    return result
            return None

        return self._read("find_payment_intent", run)

    def find_refund(
        self, payment_intent_id: str, *, metadata_key: str, metadata_value: str
    ) -> RefundResult | None:
        """The PaymentIntent's refund with this metadata, if any."""

        def run() -> RefundResult | None:
            for refund_id, refund in self.refunds.items():
                if (
                    refund.payment_intent_id == payment_intent_id
                    and self._refund_metadata.get(refund_id, {}).get(metadata_key) == metadata_value
                ):
                    return refund
            return None

        return self._read("find_refund", run)

    def find_customer(self, *, email: str, metadata_key: str, metadata_value: str) -> str | None:
        """The customer with this e-mail and metadata, if any."""

        def run() -> str | None:
            for customer_id, data in self.customers.items():
                if data["email"] == email and data["metadata"].get(metadata_key) == metadata_value:
                    return customer_id
            return None

        return self._read("find_customer", run)

    def retrieve_card(self, payment_method_id: str) -> CardDetails:
        """Brand, last four digits and expiry of a test card."""

        def run() -> CardDetails:
            card = self._card(payment_method_id)
            return CardDetails(payment_method_id, card.brand, card.last4, 12, 2034)

        return self._read("retrieve_card", run)

    @property
    def payment_intents(self) -> dict[str, PaymentIntentResult]:
        """Every PaymentIntent created so far, by id (a snapshot, for assertions)."""
        with self._lock:
            return {pi_id: intent.result for pi_id, intent in self._intents.items()}

    def refunded_minor(self, payment_intent_id: str) -> int:
        """How much of a PaymentIntent has been refunded (Stripe shows it on the charge)."""
        with self._lock:
            return self._intent(payment_intent_id).refunded_minor

    # --- plumbing -----------------------------------------------------------

    def _record(self, method: str, idempotency_key: str | None) -> None:
        with self._lock:
            self.calls.append((method, idempotency_key))
            if self._faults.errors[method]:
                raise self._faults.errors[method].popleft()

    def _read(self, method: str, run: Callable[[], T]) -> T:
        with self._lock:
            self._record(method, None)
            return run()

    def _write(
        self, method: str, idempotency_key: str, params: tuple[Any, ...], run: Callable[[], T]
    ) -> T:
        """Run a write once per idempotency key, replaying its first answer like Stripe."""
        with self._lock:
            self._record(method, idempotency_key)
            if not idempotency_key:
                raise _rejected("Every write needs an idempotency key.", "idempotency_key_missing")
            fingerprint = (method, *params)
            saved = self._idempotent.get(idempotency_key) if self.honour_idempotency else None
            if saved is not None:
                if saved[0] != fingerprint:
                    raise _rejected(
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with.",
                        "idempotency_error",
                    )
                outcome = saved[1]
            else:
                try:
                    outcome = run()
                except GatewayRejected as exc:
                    # Stripe saves an endpoint's error too and replays it.
                    outcome = exc
                self._idempotent[idempotency_key] = (fingerprint, outcome)
            if isinstance(outcome, GatewayRejected):
                raise outcome
            if self._faults.timeouts[method]:
                self._faults.timeouts[method] -= 1
                raise GatewayUnavailable(f"Timed out after {method} succeeded (injected).")
            return outcome

    def _authorised(
        self, result: PaymentIntentResult, capture_method: CaptureMethod
    ) -> PaymentIntentResult:
        amount = result.amount.amount_minor
        if capture_method == "manual":
            return replace(result, status=REQUIRES_CAPTURE, amount_capturable_minor=amount)
        return replace(result, status=SUCCEEDED, amount_received_minor=amount)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_mem{next(self._ids):06d}"

    def _card(self, payment_method_id: str) -> CardScenario:
        card = TEST_CARDS.get(payment_method_id)
        if card is None:
            raise _rejected(
                f"No such PaymentMethod: '{payment_method_id}'", "resource_missing", 404
            )
        return card

    def _customer(self, customer_id: str) -> dict[str, Any]:
        if customer_id not in self.customers:
            raise _rejected(f"No such customer: '{customer_id}'", "resource_missing", 404)
        return self.customers[customer_id]

    def _intent(self, payment_intent_id: str) -> _Intent:
        if payment_intent_id not in self._intents:
            raise _rejected(
                f"No such payment_intent: '{payment_intent_id}'", "resource_missing", 404
            )
        return self._intents[payment_intent_id]

    def _setup_intent(self, setup_intent_id: str) -> SetupIntentResult:
        if setup_intent_id not in self.setup_intents:
            raise _rejected(f"No such setupintent: '{setup_intent_id}'", "resource_missing", 404)
        return self.setup_intents[setup_intent_id]


def _secret(object_id: str) -> str:
    return f"{object_id}_secret_{secrets.token_hex(8)}"


def _frozen(metadata: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((metadata or {}).items()))
