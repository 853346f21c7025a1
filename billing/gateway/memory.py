"""An in-memory `PaymentGateway` that behaves like Stripe test mode, for fast unit tests.

Its test payment methods (Stripe's own aliases: `pm_card_visa`, declines,
3-D Secure) are described in `billing.gateway.memory_cards`.

It keeps Stripe's rules: capture only from `requires_capture` and at most the
capturable amount, cancel never after `succeeded`, refunds at most what was
received minus what was refunded, Stripe's minimum charge amounts. Through
`billing.gateway.memory_store` it honours idempotency keys as Stripe does
(same key and parameters: the first answer is replayed and nothing runs twice;
same key, other parameters: `GatewayRejected`), records every call in `calls`,
and can inject faults (`fail_next`, `timeout_after_success`, from
`billing.gateway.memory_faults`) so callers can test their recovery.
"""

from __future__ import annotations

from dataclasses import replace

from billing.errors import CardError, GatewayAuthError
from billing.gateway.memory_balance import MemoryBalance
from billing.gateway.memory_cards import (
    DECLINED,
    MINIMUM_CHARGE_MINOR,
    TEST_CARDS,
    CardScenario,
    rejected,
)
from billing.gateway.memory_store import StoredIntent, client_secret, frozen
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
    SetupFutureUsage,
    SetupIntentResult,
)
from billing.money import Money

# The test cards are part of this gateway's contract: importable from here too.
__all__ = ["DECLINED", "MINIMUM_CHARGE_MINOR", "TEST_CARDS", "CardScenario", "InMemoryGateway"]


class InMemoryGateway(MemoryBalance):
    """A `PaymentGateway` kept in dictionaries; see the module docstring."""

    # --- what the browser and the client do --------------------------------

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
                raise rejected(
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

        params = (email, name, frozen(metadata))
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
                client_secret=client_secret(intent_id),
                status=REQUIRES_PAYMENT_METHOD,
                customer_id=customer_id,
                payment_method_id=None,
            )
            self.setup_intents[intent_id] = intent
            return intent

        params = (customer_id, frozen(metadata))
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
        setup_future_usage: SetupFutureUsage | None = None,
    ) -> PaymentIntentResult:
        """Create and confirm a PaymentIntent; declines and 3-D Secure are outcomes."""

        def run() -> PaymentIntentResult:
            self._customer(customer_id)
            card = self._card(payment_method_id)
            minimum = MINIMUM_CHARGE_MINOR.get(amount.currency, 1)
            if amount.amount_minor < minimum:
                raise rejected(
                    f"Amount must be at least {minimum} minor units.", "amount_too_small"
                )
            intent_id = self._new_id("pi")
            result = PaymentIntentResult(
                id=intent_id,
                client_secret=client_secret(intent_id),
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
            self._intents[intent_id] = StoredIntent(result, capture_method)
            if setup_future_usage:
                self.future_usage[intent_id] = setup_future_usage
            return result

        params = (
            amount,
            customer_id,
            payment_method_id,
            capture_method,
            off_session,
            frozen(metadata),
            setup_future_usage,
        )
        return self._write("create_payment_intent", idempotency_key, params, run)

    def attach_payment_method(
        self, payment_method_id: str, *, customer_id: str, idempotency_key: str
    ) -> CardDetails:
        """Attach a test card to a customer (again: no change); declined cards refuse it."""

        def run() -> CardDetails:
            self._customer(customer_id)
            card = self._card(payment_method_id)
            if self.attached.get(payment_method_id, customer_id) != customer_id:
                raise rejected("The payment method is attached to another customer.", "invalid")
            if card.setup_declined:
                raise CardError(
                    DECLINED, stripe_code="card_declined", decline_code=card.decline_code
                )
            self.attached[payment_method_id] = customer_id
            return CardDetails(payment_method_id, card.brand, card.last4, 12, 2034)

        params = (payment_method_id, customer_id)
        return self._write("attach_payment_method", idempotency_key, params, run)

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
                raise rejected(
                    f"This PaymentIntent could not be captured because it has a status of "
                    f"{intent.result.status}.",
                    "payment_intent_unexpected_state",
                )
            capturable = intent.result.amount_capturable_minor
            amount = capturable if amount_minor is None else amount_minor
            if amount < 1:
                raise rejected("amount_to_capture must be positive.", "parameter_invalid_integer")
            if amount > capturable:
                raise rejected(
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
                raise rejected(
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
                raise rejected(
                    f"This PaymentIntent has a status of {intent.result.status}: "
                    "nothing to refund.",
                    "payment_intent_unexpected_state",
                )
            refundable = intent.result.amount_received_minor - intent.refunded_minor
            if refundable == 0:
                raise rejected("Charge has already been refunded.", "charge_already_refunded")
            amount = refundable if amount_minor is None else amount_minor
            if amount < 1:
                raise rejected("Refund amount must be positive.", "parameter_invalid_integer")
            if amount > refundable:
                raise rejected(
                    f"Refund amount {amount} is greater than unrefunded amount {refundable}.",
                    "amount_too_large",
                )
            intent.refunded_minor += amount
            refund = RefundResult(self._new_id("re"), payment_intent_id, amount, SUCCEEDED)
            self.refunds[refund.id] = refund
            self._refund_metadata[refund.id] = dict(metadata or {})
            return refund

        params = (payment_intent_id, amount_minor, frozen(metadata))
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

    def _authorised(
        self, result: PaymentIntentResult, capture_method: CaptureMethod
    ) -> PaymentIntentResult:
        amount = result.amount.amount_minor
        if capture_method == "manual":
            return replace(result, status=REQUIRES_CAPTURE, amount_capturable_minor=amount)
        return replace(result, status=SUCCEEDED, amount_received_minor=amount)
