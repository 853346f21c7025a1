"""The payment gateway: one port, two implementations.

- `billing.gateway.port`: the `PaymentGateway` Protocol and its result dataclasses
  (re-exported here); the only Stripe vocabulary the engine sees.
- `billing.gateway.stripe_adapter.StripeGateway`: the official SDK, against real
  Stripe or the `localstripe` fake server (`python -m webapp.dev.fakestripe`).
- `billing.gateway.memory.InMemoryGateway`: Stripe test mode in dictionaries,
  with idempotency and fault injection, for fast unit tests.

The implementations are imported from their modules, not from here, so that
importing the port never loads the `stripe` SDK.
"""

from billing.gateway.port import (
    HARD_DECLINE_CODES,
    BalanceTransactionResult,
    CaptureMethod,
    CardDetails,
    Failure,
    PaymentGateway,
    PaymentIntentResult,
    PayoutResult,
    RefundResult,
    SetupIntentResult,
)

__all__ = [
    "HARD_DECLINE_CODES",
    "BalanceTransactionResult",
    "CaptureMethod",
    "CardDetails",
    "Failure",
    "PaymentGateway",
    "PaymentIntentResult",
    "PayoutResult",
    "RefundResult",
    "SetupIntentResult",
]
