"""Webhook handlers that keep the payment ledger in line with Stripe.

Our synchronous calls already apply Stripe's answers; webhooks cover what
happens outside them: 3-D Secure completed in the browser, a capture or
cancellation made in Stripe's dashboard, an answer lost to a timeout.
Handlers are scoped to the account the event came from, skip stale events
(`stripe_event_created`) and never move a payment backwards.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events
from billing.credentials import INSTANCE_ENDPOINT
from billing.gateway.stripe_objects import payment_intent_result
from billing.ledger import CREATE, TERMINAL, apply_result, finish_write, lock_for_write
from billing.models import Payment, PaymentCustomer, StripeAccount
from billing.payments import PAYMENT_METADATA
from billing.webhooks import HandlerRegistry
from billing.webhooks import registry as default_registry

PAYMENT_INTENT_EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.amount_capturable_updated",
    "payment_intent.requires_action",
    "payment_intent.processing",
)


def _own(endpoint: str):  # noqa: ANN202 (a SQL condition)
    own_accounts = select(StripeAccount.freelancer_id)
    if endpoint == INSTANCE_ENDPOINT:
        return Payment.freelancer_id.not_in(own_accounts)
    account_id = int(endpoint.removeprefix("account:"))
    return Payment.freelancer_id.in_(own_accounts.where(StripeAccount.id == account_id))


def payment_for_endpoint(session: Session, endpoint: str, obj: dict[str, Any]) -> int | None:
    """The payment behind a PaymentIntent, only if it belongs to this endpoint's account.

    An event signed with one freelancer's secret can never touch another
    freelancer's payments. A PaymentIntent whose create answer we never
    stored (a crash, a timeout; or the webhook simply came first) is found by
    the `acompte_payment_id` we put in its metadata, and only if its customer
    is that payment's customer.
    """
    found = session.scalar(
        select(Payment.id).where(Payment.stripe_payment_intent_id == obj["id"], _own(endpoint))
    )
    if found is not None:
        return found
    raw = (obj.get("metadata") or {}).get(PAYMENT_METADATA)
    if not isinstance(raw, str) or not raw.isdigit() or len(raw) > 18:
        return None
    return session.scalar(
        select(Payment.id)
        .join(PaymentCustomer, PaymentCustomer.id == Payment.customer_id)
        .where(
            Payment.id == int(raw),
            Payment.stripe_payment_intent_id.is_(None),
            PaymentCustomer.stripe_customer_id == obj.get("customer"),
            _own(endpoint),
        )
    )


def on_payment_intent_event(session: Session, endpoint: str, event: dict[str, Any]) -> None:
    """Apply a PaymentIntent event to its payment, if we know it."""
    obj = event["data"]["object"]
    payment_id = payment_for_endpoint(session, endpoint, obj)
    if payment_id is None:
        # Not ours (another app on the same account).
        return
    payment = lock_for_write(session, payment_id)
    created = int(event["created"])
    result = payment_intent_result(obj)
    apply_result(
        session,
        payment,
        result,
        now=datetime.fromtimestamp(created, UTC),
        actor=events.STRIPE,
        event_created=created,
    )
    # Stripe's word settles a write whose answer was lost: its PaymentIntent
    # is known (a create), or it reached the state the write was for.
    if payment.in_flight == CREATE or (
        payment.in_flight is not None and payment.status in TERMINAL
    ):
        finish_write(payment)
    session.flush()


def register(registry: HandlerRegistry = default_registry) -> None:
    """Register the PaymentIntent handlers (idempotent): the app factory's step."""
    for event_type in PAYMENT_INTENT_EVENTS:
        registry.register(event_type, on_payment_intent_event)
