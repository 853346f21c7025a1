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
from billing.gateway.stripe_adapter import payment_intent_result
from billing.locking import lock
from billing.models import Payment, StripeAccount
from billing.payments import apply_result
from billing.webhooks import registry

PAYMENT_INTENT_EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.amount_capturable_updated",
    "payment_intent.requires_action",
    "payment_intent.processing",
)


def payment_for_endpoint(session: Session, endpoint: str, payment_intent_id: str) -> Payment | None:
    """The payment behind a PaymentIntent, only if it belongs to this endpoint's account.

    An event signed with one freelancer's secret can never touch another
    freelancer's payments.
    """
    query = select(Payment.id).where(Payment.stripe_payment_intent_id == payment_intent_id)
    own_accounts = select(StripeAccount.freelancer_id)
    if endpoint == INSTANCE_ENDPOINT:
        query = query.where(Payment.freelancer_id.not_in(own_accounts))
    else:
        account_id = int(endpoint.removeprefix("account:"))
        query = query.where(
            Payment.freelancer_id.in_(own_accounts.where(StripeAccount.id == account_id))
        )
    payment_id = session.scalar(query)
    return None if payment_id is None else lock(session, Payment, payment_id)


def on_payment_intent_event(session: Session, endpoint: str, event: dict[str, Any]) -> None:
    """Apply a PaymentIntent event to its payment, if we know it."""
    obj = event["data"]["object"]
    payment = payment_for_endpoint(session, endpoint, obj["id"])
    if payment is None:
        # Not ours (another app on the same account) or not committed yet: our
        # own synchronous call will apply the state.
        return
    created = int(event["created"])
    apply_result(
        session,
        payment,
        payment_intent_result(obj),
        now=datetime.fromtimestamp(created, UTC),
        actor=events.STRIPE,
        event_created=created,
    )


for _event_type in PAYMENT_INTENT_EVENTS:
    registry.register(_event_type, on_payment_intent_event)
