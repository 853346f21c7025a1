"""What the in-memory Stripe keeps, and how every call goes through it: the
objects by id, the log of calls, the idempotency replay, the injected faults.

`MemoryStore` is the base of `InMemoryGateway`; it knows Stripe's bookkeeping,
not its payment rules.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any, TypeVar

from billing.errors import GatewayError, GatewayRejected
from billing.gateway.memory_cards import CardScenario, card_scenario, rejected
from billing.gateway.memory_faults import Faults
from billing.gateway.port import CaptureMethod, PaymentIntentResult, RefundResult, SetupIntentResult

T = TypeVar("T")


@dataclass(slots=True)
class StoredIntent:
    """A PaymentIntent as the store keeps it: its last result and what Stripe adds."""

    result: PaymentIntentResult
    capture_method: CaptureMethod
    refunded_minor: int = 0


def client_secret(object_id: str) -> str:
    """A client secret in Stripe's shape for the object `object_id`."""
    return f"{object_id}_secret_{secrets.token_hex(8)}"


def frozen(metadata: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
    """Metadata as a hashable, order-free value (part of an idempotency fingerprint)."""
    return tuple(sorted((metadata or {}).items()))


class MemoryStore:
    """Stripe's records in dictionaries, under one re-entrant lock."""

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
        # PaymentMethod → the customer it is attached to; PaymentIntent → its
        # `setup_future_usage` (the card saved for off-session use by the payment).
        self.attached: dict[str, str] = {}
        self.future_usage: dict[str, str] = {}
        self._refund_metadata: dict[str, dict[str, str]] = {}
        self._intents: dict[str, StoredIntent] = {}
        self._idempotent: dict[str, tuple[tuple[Any, ...], Any]] = {}
        self._faults = Faults()
        self._ids = count(1)
        self._lock = threading.RLock()

    # --- fault injection ------------------------------------------------------

    def fail_next(self, method: str, error: GatewayError) -> None:
        """The next call to `method` raises `error` without doing anything."""
        with self._lock:
            self._faults.fail_next(method, error)

    def timeout_after_success(self, method: str) -> None:
        """The next call to `method` is performed, then raises `GatewayUnavailable`.

        Like a Stripe timeout after the charge went through: retrying with the
        same idempotency key returns the saved result.
        """
        with self._lock:
            self._faults.timeout_after_success(method)

    # --- how calls run --------------------------------------------------------

    def _record(self, method: str, idempotency_key: str | None) -> None:
        with self._lock:
            self.calls.append((method, idempotency_key))
            self._faults.raise_error(method)

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
                raise rejected("Every write needs an idempotency key.", "idempotency_key_missing")
            fingerprint = (method, *params)
            saved = self._idempotent.get(idempotency_key) if self.honour_idempotency else None
            if saved is not None:
                if saved[0] != fingerprint:
                    raise rejected(
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
            self._faults.raise_timeout(method)
            return outcome

    # --- the records ----------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_mem{next(self._ids):06d}"

    def _card(self, payment_method_id: str) -> CardScenario:
        return card_scenario(payment_method_id)

    def _customer(self, customer_id: str) -> dict[str, Any]:
        if customer_id not in self.customers:
            raise rejected(f"No such customer: '{customer_id}'", "resource_missing", 404)
        return self.customers[customer_id]

    def _intent(self, payment_intent_id: str) -> StoredIntent:
        if payment_intent_id not in self._intents:
            raise rejected(
                f"No such payment_intent: '{payment_intent_id}'", "resource_missing", 404
            )
        return self._intents[payment_intent_id]

    def _setup_intent(self, setup_intent_id: str) -> SetupIntentResult:
        if setup_intent_id not in self.setup_intents:
            raise rejected(f"No such setupintent: '{setup_intent_id}'", "resource_missing", 404)
        return self.setup_intents[setup_intent_id]
