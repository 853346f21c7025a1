"""Stripe webhook endpoints: one for the instance's keys, one per connected account.

The mechanics (verify, store, deduplicate, process) live in `billing.webhooks`;
this package only knows HTTP and which secret belongs to which URL.
"""

from __future__ import annotations


def load_handlers() -> None:
    """Register every webhook handler (idempotent). The app factory calls it; so do
    the webhook routes and the webhook due work, before the first event is read:
    an event whose type has no handler is marked ignored for good."""
    from billing import payment_webhooks, webhooks

    payment_webhooks.register(webhooks.registry)
