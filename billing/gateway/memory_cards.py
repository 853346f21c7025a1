"""The test payment methods of `InMemoryGateway` (Stripe's own aliases) and
Stripe's minimum charge amounts.

What a payment with each card does:

- `pm_card_visa`, `pm_card_mastercard`: succeeds.
- `pm_card_chargeCustomerFail`, `pm_card_visa_chargeDeclined`: declined,
  `card_declined` / `generic_decline`.
- `pm_card_insufficientFunds`: declined, `insufficient_funds` (soft decline).
- `pm_card_lost`: declined, `lost_card` (hard decline: never retry the card).
- `pm_card_threeDSecure2Required`: `requires_action` on or off session (what
  localstripe does); finish it with `complete_authentication`.
- `pm_card_authenticationRequired`: `requires_action` on session; off session
  declined with `authentication_required` (what real Stripe does).
"""

from __future__ import annotations

from dataclasses import dataclass

from billing.errors import GatewayRejected

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


def rejected(message: str, code: str, status: int = 400) -> GatewayRejected:
    """The `GatewayRejected` Stripe's answer `status` with error `code` turns into."""
    return GatewayRejected(message, stripe_code=code, http_status=status)


def card_scenario(payment_method_id: str) -> CardScenario:
    """The scenario of a test payment method; unknown ids are Stripe's 404."""
    card = TEST_CARDS.get(payment_method_id)
    if card is None:
        raise rejected(f"No such PaymentMethod: '{payment_method_id}'", "resource_missing", 404)
    return card
