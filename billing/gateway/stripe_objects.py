"""Stripe's JSON as the port's dataclasses, and SDK errors as billing errors.

Shared by the adapter (API answers) and the webhook handlers (event objects),
so both read Stripe the same way. localstripe differences are handled here:
its PaymentIntents carry no `amount_capturable` / `amount_received`; they are
derived from the expanded `latest_charge`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from billing.errors import (
    CardError,
    GatewayAuthError,
    GatewayError,
    GatewayRejected,
    GatewayUnavailable,
)
from billing.gateway.port import (
    REQUIRES_CAPTURE,
    SUCCEEDED,
    CardDetails,
    Failure,
    PaymentIntentResult,
    RefundResult,
    SetupIntentResult,
)
from billing.money import Money

if TYPE_CHECKING:  # the SDK (and aiohttp) load with the first gateway, not the app
    import stripe


def translate(exc: stripe.StripeError) -> GatewayError:
    """The billing error for an SDK error; says whether the outcome is known."""
    import stripe

    message = exc.user_message or str(exc) or type(exc).__name__
    status = exc.http_status
    code = exc.code
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return GatewayAuthError(message, stripe_code=code, http_status=status)
    if isinstance(exc, stripe.CardError):
        decline_code = error_body(exc).get("decline_code")
        return CardError(message, stripe_code=code, decline_code=decline_code, http_status=status)
    if isinstance(exc, stripe.InvalidRequestError | stripe.IdempotencyError):
        return GatewayRejected(message, stripe_code=code or "invalid_request", http_status=status)
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError):
        return GatewayUnavailable(message, stripe_code=code, http_status=status)
    # Any other 4xx is a refusal we understood; anything else leaves the outcome unknown.
    if status is not None and 400 <= status < 500:
        return GatewayRejected(message, stripe_code=code, http_status=status)
    return GatewayUnavailable(message, stripe_code=code, http_status=status)


def error_body(exc: stripe.StripeError) -> Mapping[str, Any]:
    """The `error` object of Stripe's JSON answer, or an empty mapping."""
    body = exc.json_body.get("error") if isinstance(exc.json_body, Mapping) else None
    return body if isinstance(body, Mapping) else {}


def object_id(value: object) -> str | None:
    """An object id whether Stripe sent it as a string or expanded it."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def metadata_of(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def refund_result(data: Mapping[str, Any], payment_intent_id: str) -> RefundResult:
    return RefundResult(
        id=data["id"],
        payment_intent_id=object_id(data.get("payment_intent")) or payment_intent_id,
        amount_minor=int(data["amount"]),
        status=data["status"],
    )


def setup_intent_result(data: Mapping[str, Any]) -> SetupIntentResult:
    """A SetupIntent as Stripe's JSON has it (an API answer or a webhook's object)."""
    return SetupIntentResult(
        id=data["id"],
        client_secret=data["client_secret"],
        status=data["status"],
        customer_id=object_id(data.get("customer")),
        payment_method_id=object_id(data.get("payment_method")),
    )


def _failure(data: Mapping[str, Any]) -> Failure | None:
    error = data.get("last_payment_error")
    if not error:
        return None
    return Failure(
        code=error.get("code") or error.get("type") or "unknown",
        message=error.get("message") or "",
        decline_code=error.get("decline_code"),
    )


def _received_amounts(data: Mapping[str, Any]) -> tuple[int, int]:
    """(amount_capturable, amount_received) in minor units."""
    if "amount_received" in data and "amount_capturable" in data:
        return int(data["amount_capturable"] or 0), int(data["amount_received"] or 0)
    # localstripe: no such fields, but `latest_charge` comes expanded.
    charge = data.get("latest_charge")
    if not isinstance(charge, Mapping) or charge.get("status") != SUCCEEDED:
        return 0, 0
    if data.get("status") == REQUIRES_CAPTURE:
        return int(charge["amount"]), 0
    if not charge.get("captured"):
        return 0, 0
    if charge.get("amount_captured") is not None:
        return 0, int(charge["amount_captured"])
    # A partial capture in localstripe refunds the rest at once, as a refund
    # tied to the charge only; refunds we ask for name the PaymentIntent.
    refunds = (charge.get("refunds") or {}).get("data") or []
    released = sum(int(r["amount"]) for r in refunds if not r.get("payment_intent"))
    return 0, int(charge["amount"]) - released


def payment_intent_result(data: Mapping[str, Any]) -> PaymentIntentResult:
    """A PaymentIntent as Stripe's JSON has it (an API answer or a webhook event's object).

    Public so the webhook handlers read events the same way the adapter reads answers.
    """
    capturable, received = _received_amounts(data)
    return PaymentIntentResult(
        id=data["id"],
        client_secret=data["client_secret"],
        status=data["status"],
        amount=Money(int(data["amount"]), str(data["currency"]).lower()),
        amount_capturable_minor=capturable,
        amount_received_minor=received,
        customer_id=object_id(data.get("customer")),
        payment_method_id=object_id(data.get("payment_method")),
        failure=_failure(data),
        metadata=metadata_of(data.get("metadata")),
    )


def card_details(payment_method_id: str, method: Mapping[str, Any]) -> CardDetails:
    """A PaymentMethod's card: brand, last four and expiry; `GatewayRejected` if not a card."""
    card = method.get("card")
    if not card:
        raise GatewayRejected(
            f"{payment_method_id} is a {method.get('type')} payment method, not a card"
        )
    return CardDetails(
        # The id we were given: Stripe's test aliases (`pm_card_visa`) come
        # back under a fresh `pm_...` id, which the caller never stored.
        payment_method_id=payment_method_id,
        brand=str(card["brand"]),
        last4=str(card["last4"]),
        exp_month=int(card["exp_month"]),
        exp_year=int(card["exp_year"]),
    )
