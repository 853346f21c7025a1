"""The `PaymentGateway` port on the official `stripe` SDK (real Stripe or `localstripe`).

Nothing outside this module sees an SDK type or exception: objects become the
port's dataclasses, `stripe.StripeError` becomes a `billing.errors.Gateway*`.

Retries. The SDK retries by itself, with exponential backoff and jitter
(0.5 s doubling, capped at 5 s) and the *same* idempotency key, on connection
errors and timeouts, on 409 (a concurrent request with that key) and on every
5xx (stripe/_http_client.py `_should_retry`). It does NOT retry 429 (rate limit
or `lock_timeout`) unless Stripe sends `Stripe-Should-Retry: true`, so
`_call` adds a small bounded backoff loop for 429 that replays the identical
request, idempotency key included.

localstripe differences handled here (real Stripe behaves as documented):
- a declined confirm answers 402 with only the charge id in the error body
  (real Stripe adds the PaymentIntent); we follow charge → PaymentIntent;
- PaymentIntents carry no `amount_capturable` / `amount_received`; we derive
  them from the expanded `latest_charge`.
"""

from __future__ import annotations

import random
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote_plus

import requests
import stripe

from billing.errors import GatewayRejected
from billing.gateway import stripe_balance
from billing.gateway.port import (
    BalanceTransactionResult,
    CaptureMethod,
    CardDetails,
    PaymentIntentResult,
    PayoutResult,
    RefundResult,
    SetupFutureUsage,
    SetupIntentResult,
)
from billing.gateway.ratelimit import RateLimiter
from billing.gateway.stripe_objects import (
    card_details,
    error_body,
    metadata_of,
    object_id,
    payment_intent_result,
    refund_result,
    setup_intent_result,
    translate,
)
from billing.money import Money

T = TypeVar("T")


class StripeGateway:
    """A `PaymentGateway` talking HTTP to Stripe, or to `localstripe` via `api_base`."""

    # Backoff for 429s, which the SDK leaves to us; tests may shrink these.
    RATE_LIMIT_BASE_DELAY = 0.5
    RATE_LIMIT_MAX_DELAY = 8.0

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str | None = None,
        max_network_retries: int = 3,
        timeout: float = 20.0,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        # One HTTP session per gateway, closed with it: a StripeClient per
        # instance (never the global `stripe.api_key`) so each freelancer's keys
        # stay apart, and no socket outlives its gateway (ResourceWarning).
        self._session = requests.Session()
        self._close = weakref.finalize(self, self._session.close)
        self._max_network_retries = max_network_retries
        # Takes a slot of the account's request budget before each HTTP attempt.
        self._rate_limiter = rate_limiter
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout, session=self._session),
        )

    def close(self) -> None:
        """Release the HTTP connections (also done when the gateway is garbage-collected)."""
        self._close()

    def __enter__(self) -> StripeGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the port -----------------------------------------------------------

    def check_connection(self) -> None:
        """A cheap authenticated read; raises `GatewayAuthError` if the key is refused."""
        self._call(lambda: self._client.v1.customers.list(params={"limit": 1}))

    def create_customer(
        self, *, email: str, name: str, idempotency_key: str, metadata: dict[str, str] | None = None
    ) -> str:
        """Create a customer and return its id."""
        params: dict[str, Any] = {"email": email, "name": name}
        if metadata:
            params["metadata"] = metadata
        customer = self._call(
            lambda: self._client.v1.customers.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        )
        return str(customer.id)

    def create_setup_intent(
        self, *, customer_id: str, idempotency_key: str, metadata: dict[str, str] | None = None
    ) -> SetupIntentResult:
        """Start saving a card for off-session use; the browser confirms it."""
        params: dict[str, Any] = {
            "customer": customer_id,
            "usage": "off_session",
            # Cards only: with Stripe's default automatic payment methods a
            # server-side confirm would also demand a `return_url`.
            "payment_method_types": ["card"],
        }
        if metadata:
            params["metadata"] = metadata
        intent = self._call(
            lambda: self._client.v1.setup_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        )
        return setup_intent_result(intent.to_dict())

    def retrieve_setup_intent(self, setup_intent_id: str) -> SetupIntentResult:
        """Read a SetupIntent, e.g. after the browser confirmed it."""
        intent = self._call(lambda: self._client.v1.setup_intents.retrieve(setup_intent_id))
        return setup_intent_result(intent.to_dict())

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
        """Create and confirm a PaymentIntent; a decline is a result with `failure` set."""
        params: dict[str, Any] = {
            "amount": amount.amount_minor,
            "currency": amount.currency,
            "customer": customer_id,
            "payment_method": payment_method_id,
            "payment_method_types": ["card"],
            "capture_method": capture_method,
            "confirm": True,
        }
        # Only when True: localstripe rejects `off_session` unless `confirm` is
        # also sent, and `off_session=false` means nothing to Stripe.
        if off_session:
            params["off_session"] = True
        if metadata:
            params["metadata"] = metadata
        if setup_future_usage:
            # The card's own option, same effect as the top-level parameter for a
            # card-only PaymentIntent; localstripe accepts (and ignores) it, while
            # it refuses a top-level `setup_future_usage`.
            params["payment_method_options"] = {"card": {"setup_future_usage": setup_future_usage}}
        try:
            intent = self._call(
                lambda: self._intent(
                    "post",
                    "",
                    params,
                    # No blind network retry of a charge: if the answer is
                    # lost, the caller looks the PaymentIntent up instead of
                    # trusting the key (a fake Stripe, or a key over 24 h old,
                    # would charge twice).
                    {"idempotency_key": idempotency_key, "max_network_retries": 0},
                ),
                translate_card_errors=False,
            )
        except stripe.CardError as exc:
            # Stripe answers a declined (or, off-session, an authentication-
            # required) confirm with HTTP 402, yet the PaymentIntent exists and
            # records the failure: return it as an outcome.
            payment_intent_id = self._payment_intent_of_decline(exc)
            if payment_intent_id is None:
                raise translate(exc) from exc
            return self.retrieve_payment_intent(payment_intent_id)
        return payment_intent_result(intent)

    def attach_payment_method(
        self, payment_method_id: str, *, customer_id: str, idempotency_key: str
    ) -> CardDetails:
        """Attach a browser-made PaymentMethod to the customer; the card's details."""
        method = self._call(
            lambda: self._client.v1.payment_methods.attach(
                payment_method_id,
                params={"customer": customer_id},
                options={"idempotency_key": idempotency_key},
            )
        ).to_dict()
        return card_details(payment_method_id, method)

    def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntentResult:
        """Read a PaymentIntent's current state."""
        return payment_intent_result(
            self._call(lambda: self._intent("get", f"/{quote_plus(payment_intent_id)}"))
        )

    def capture_payment_intent(
        self, payment_intent_id: str, *, amount_minor: int | None, idempotency_key: str
    ) -> PaymentIntentResult:
        """Capture an authorised PaymentIntent, fully (`None`) or partially."""
        params: dict[str, Any] = {}
        if amount_minor is not None:
            params["amount_to_capture"] = amount_minor
        path = f"/{quote_plus(payment_intent_id)}/capture"
        return payment_intent_result(
            self._call(
                lambda: self._intent("post", path, params, {"idempotency_key": idempotency_key})
            )
        )

    def cancel_payment_intent(
        self, payment_intent_id: str, *, idempotency_key: str
    ) -> PaymentIntentResult:
        """Cancel a PaymentIntent, releasing any hold."""
        path = f"/{quote_plus(payment_intent_id)}/cancel"
        return payment_intent_result(
            self._call(lambda: self._intent("post", path, {}, {"idempotency_key": idempotency_key}))
        )

    def refund(
        self,
        payment_intent_id: str,
        *,
        amount_minor: int | None,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
    ) -> RefundResult:
        """Refund a captured PaymentIntent, fully (`None`) or partially."""
        params: dict[str, Any] = {"payment_intent": payment_intent_id}
        if amount_minor is not None:
            params["amount"] = amount_minor
        if metadata:
            params["metadata"] = metadata
        refund = self._call(
            lambda: self._client.v1.refunds.create(
                params=params,
                # As for charges: a lost answer is looked up, never re-sent blindly.
                options={"idempotency_key": idempotency_key, "max_network_retries": 0},
            )
        ).to_dict()
        return refund_result(refund, payment_intent_id)

    def find_payment_intent(
        self, *, customer_id: str, metadata_key: str, metadata_value: str
    ) -> PaymentIntentResult | None:
        """The customer's PaymentIntent made for one of our rows (by its metadata), if any.

        A list, not Stripe's Search API: search is eventually consistent (up to
        a minute behind), and this read decides whether a write is repeated.
        """
        try:
            found = self._call(
                lambda: self._client.v1.payment_intents.list(
                    params={"customer": customer_id, "limit": 100}
                )
            )
            intents = (pi.to_dict() for pi in found.auto_paging_iter())
        except GatewayRejected as exc:
            if "Unexpected customer" not in str(exc):
                raise
            # localstripe lists PaymentIntents without filters only.
            found = self._call(lambda: self._client.v1.payment_intents.list(params={"limit": 100}))
            intents = (
                data
                for data in (pi.to_dict() for pi in found.auto_paging_iter())
                if object_id(data.get("customer")) == customer_id
            )
        for data in intents:
            if metadata_of(data.get("metadata")).get(metadata_key) == metadata_value:
                return payment_intent_result(data)
        return None

    def find_refund(
        self, payment_intent_id: str, *, metadata_key: str, metadata_value: str
    ) -> RefundResult | None:
        """The refund of this PaymentIntent made for one of our rows (by its metadata), if any."""
        found = self._call(
            lambda: self._client.v1.refunds.list(
                params={"payment_intent": payment_intent_id, "limit": 100}
            )
        )
        for refund in found.auto_paging_iter():
            data = refund.to_dict()
            if metadata_of(data.get("metadata")).get(metadata_key) == metadata_value:
                return refund_result(data, payment_intent_id)
        return None

    def find_customer(self, *, email: str, metadata_key: str, metadata_value: str) -> str | None:
        """The customer made for one of our rows (by e-mail, then metadata), if any."""
        found = self._call(
            lambda: self._client.v1.customers.list(params={"email": email, "limit": 100})
        )
        for customer in found.auto_paging_iter():
            data = customer.to_dict()
            if metadata_of(data.get("metadata")).get(metadata_key) == metadata_value:
                return str(data["id"])
        return None

    def retrieve_card(self, payment_method_id: str) -> CardDetails:
        """Brand, last four digits and expiry of a saved card."""
        method = self._call(
            lambda: self._client.v1.payment_methods.retrieve(payment_method_id)
        ).to_dict()
        return card_details(payment_method_id, method)

    def list_payouts(self, *, arrival_from: int, arrival_to: int) -> list[PayoutResult]:
        """The payouts arriving in the window (Unix seconds, inclusive), oldest first."""
        return stripe_balance.list_payouts(self._client, self._call, arrival_from, arrival_to)

    def list_payout_transactions(self, payout_id: str) -> list[BalanceTransactionResult]:
        """The charges, refunds and fees one payout pays out (`billing.gateway.stripe_balance`)."""
        return stripe_balance.list_payout_transactions(self._client, self._call, payout_id)

    # --- plumbing -----------------------------------------------------------

    def _intent(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One PaymentIntent request, answered as Stripe's JSON.

        The SDK's own request (same encoding, retries, headers and errors —
        `StripeClient.raw_request`), without building its `StripeObject` tree
        only to turn it back into a dict: about a millisecond a call (issue 14).
        """
        response = self._client.raw_request(
            method, f"/v1/payment_intents{path}", **(params or {}), **(options or {})
        )
        return response.data  # type: ignore[no-any-return]

    def _call(self, operation: Callable[[], T], *, translate_card_errors: bool = True) -> T:
        """Run one SDK call, backing off on 429, and translate its errors."""
        attempt = 0
        while True:
            if self._rate_limiter is not None:
                self._rate_limiter.acquire()
            try:
                return operation()
            except stripe.RateLimitError as exc:
                if attempt >= self._max_network_retries:
                    raise translate(exc) from exc
                attempt += 1
                time.sleep(self._rate_limit_delay(attempt))
            except stripe.StripeError as exc:
                if isinstance(exc, stripe.CardError) and not translate_card_errors:
                    raise
                raise translate(exc) from exc

    def _rate_limit_delay(self, attempt: int) -> float:
        """Exponential backoff with jitter in [delay/2, delay], like the SDK's own."""
        delay = min(self.RATE_LIMIT_BASE_DELAY * 2 ** (attempt - 1), self.RATE_LIMIT_MAX_DELAY)
        return delay * (0.5 + random.random() / 2)

    def _payment_intent_of_decline(self, exc: stripe.CardError) -> str | None:
        """The PaymentIntent a 402 on confirm belongs to, if the error tells us."""
        body = error_body(exc)
        # Real Stripe embeds the whole PaymentIntent in the error.
        payment_intent = object_id(body.get("payment_intent"))
        if payment_intent:
            return payment_intent
        # localstripe gives only the failed charge, which points at its intent.
        charge_id = object_id(body.get("charge"))
        if not charge_id:
            return None
        charge = self._call(lambda: self._client.v1.charges.retrieve(charge_id))
        return object_id(charge.to_dict().get("payment_intent"))
