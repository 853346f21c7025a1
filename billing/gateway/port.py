"""The payment gateway port: what the engine needs from Stripe, and nothing more.

Two implementations: `billing.gateway.stripe_adapter.StripeGateway` (the
official SDK, talking to Stripe or to the `localstripe` fake server) and
`billing.gateway.memory.InMemoryGateway` (fast unit tests of our own logic).

Rules every implementation keeps:
- every write takes an `idempotency_key` (from a committed row, or a stored
  nonce), yet callers never rely on it: before repeating a write whose answer
  was lost they look the object up (`find_*`, by our metadata) and adopt it;
- a declined card or a 3-D Secure challenge on a PaymentIntent is an
  *outcome* (`PaymentIntentResult.failure` / `status == "requires_action"`),
  not an exception;
- exceptions are the `billing.errors.Gateway*` family only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from billing.money import Money

CaptureMethod = Literal["automatic", "manual"]
# Save the card for later off-session charges with the payment itself (no SetupIntent).
SetupFutureUsage = Literal["off_session"]

# Stripe's PaymentIntent statuses.
REQUIRES_PAYMENT_METHOD = "requires_payment_method"
REQUIRES_CONFIRMATION = "requires_confirmation"
REQUIRES_ACTION = "requires_action"
PROCESSING = "processing"
REQUIRES_CAPTURE = "requires_capture"
SUCCEEDED = "succeeded"
CANCELED = "canceled"

# Decline codes after which retrying the same card is pointless or forbidden
# (card networks fine merchants who retry these).
HARD_DECLINE_CODES = frozenset(
    {
        "do_not_honor_permanently",
        "do_not_try_again",
        "fraudulent",
        "invalid_account",
        "lost_card",
        "merchant_blacklist",
        "pickup_card",
        "restricted_card",
        "revocation_of_all_authorizations",
        "revocation_of_authorization",
        "security_violation",
        "stolen_card",
        "stop_payment_order",
        "card_not_supported",
        "currency_not_supported",
        "incorrect_number",
        "invalid_number",
        "expired_card",
    }
)


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a payment attempt failed, as Stripe reported it."""

    code: str
    message: str
    decline_code: str | None = None

    @property
    def hard(self) -> bool:
        """A hard decline: no automatic retry of this card."""
        return (self.decline_code or self.code) in HARD_DECLINE_CODES


@dataclass(frozen=True, slots=True)
class SetupIntentResult:
    id: str
    client_secret: str
    status: str
    customer_id: str | None
    payment_method_id: str | None


@dataclass(frozen=True, slots=True)
class PaymentIntentResult:
    id: str
    client_secret: str
    status: str
    amount: Money
    amount_capturable_minor: int
    amount_received_minor: int
    customer_id: str | None
    payment_method_id: str | None
    failure: Failure | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RefundResult:
    id: str
    payment_intent_id: str | None
    amount_minor: int
    status: str


@dataclass(frozen=True, slots=True)
class CardDetails:
    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True, slots=True)
class BalanceTransactionResult:
    """One movement of the Stripe balance (issue 17, the books): a charge, a refund, a fee…

    `amount_minor` is gross and signed (a refund is negative), `fee_minor` what Stripe
    kept, `net_minor` = amount - fee; `created` in Unix seconds. `payment_intent_id`
    is the PaymentIntent behind a charge or refund, when Stripe tells it.
    """

    id: str
    type: str
    amount_minor: int
    fee_minor: int
    net_minor: int
    currency: str
    created: int
    source_id: str | None = None
    payment_intent_id: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class PayoutResult:
    """Money sent from the Stripe balance to the bank account; times in Unix seconds."""

    id: str
    amount_minor: int
    currency: str
    status: str
    created: int
    arrival_date: int
    statement_descriptor: str = ""
    automatic: bool = True


class PaymentGateway(Protocol):
    """What the engine asks of a payment provider."""

    def check_connection(self) -> None:
        """Raise `GatewayAuthError` if the keys are refused."""

    def create_customer(
        self, *, email: str, name: str, idempotency_key: str, metadata: dict[str, str] | None = None
    ) -> str:
        """Create a customer and return its id."""

    def create_setup_intent(
        self, *, customer_id: str, idempotency_key: str, metadata: dict[str, str] | None = None
    ) -> SetupIntentResult:
        """Start saving a card for off-session use (confirmed in the browser)."""

    def retrieve_setup_intent(self, setup_intent_id: str) -> SetupIntentResult:
        """Read a SetupIntent, e.g. after the browser confirmed it."""

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
        """Create and confirm a PaymentIntent with a saved card.

        A decline comes back as a result with `failure` set; a 3-D Secure
        challenge as `status == "requires_action"`. `setup_future_usage`
        ("off_session") saves the card, authenticated by this payment's own
        3-D Secure, for later off-session charges: the client-present flows
        that charge at once need no SetupIntent (one 3-D Secure, not two).
        """

    def attach_payment_method(
        self, payment_method_id: str, *, customer_id: str, idempotency_key: str
    ) -> CardDetails:
        """Attach a PaymentMethod the browser made (`createPaymentMethod`) to the customer.

        Harmless to repeat for the same customer. A card the bank refuses at
        once raises `CardError`. Returns the card's brand, last four and expiry.
        """

    def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntentResult:
        """Read a PaymentIntent's current state."""

    def capture_payment_intent(
        self, payment_intent_id: str, *, amount_minor: int | None, idempotency_key: str
    ) -> PaymentIntentResult:
        """Capture an authorised PaymentIntent, fully (`None`) or partially."""

    def cancel_payment_intent(
        self, payment_intent_id: str, *, idempotency_key: str
    ) -> PaymentIntentResult:
        """Cancel a PaymentIntent, releasing any hold."""

    def refund(
        self,
        payment_intent_id: str,
        *,
        amount_minor: int | None,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
    ) -> RefundResult:
        """Refund a captured PaymentIntent, fully (`None`) or partially."""

    def find_payment_intent(
        self, *, customer_id: str, metadata_key: str, metadata_value: str
    ) -> PaymentIntentResult | None:
        """The customer's PaymentIntent whose metadata has this key and value, if any.

        The recovery read: before repeating a create whose answer was lost, find
        what the first attempt made and adopt it. Strongly consistent.
        """

    def find_refund(
        self, payment_intent_id: str, *, metadata_key: str, metadata_value: str
    ) -> RefundResult | None:
        """The PaymentIntent's refund whose metadata has this key and value, if any."""

    def find_customer(self, *, email: str, metadata_key: str, metadata_value: str) -> str | None:
        """The id of the customer with this e-mail and metadata, if any."""

    def retrieve_card(self, payment_method_id: str) -> CardDetails:
        """Brand, last four digits and expiry of a saved card."""

    def list_payouts(self, *, arrival_from: int, arrival_to: int) -> list[PayoutResult]:
        """The payouts arriving from `arrival_from` to `arrival_to` (Unix seconds, inclusive)."""

    def list_payout_transactions(self, payout_id: str) -> list[BalanceTransactionResult]:
        """The balance transactions a payout pays out (charges, refunds, fees), not the
        payout's own; each charge or refund names its PaymentIntent when known."""
