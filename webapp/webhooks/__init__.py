"""Stripe webhook endpoints: one for the instance's keys, one per connected account.

The mechanics (verify, store, deduplicate, process) live in `billing.webhooks`;
this package only knows HTTP and which secret belongs to which URL.
"""

from __future__ import annotations

import importlib

# Modules whose import registers webhook handlers (`billing.webhooks.registry`).
# They must be imported before the first event arrives, or its type has no
# handler and the event is marked ignored for good.
HANDLER_MODULES = ("billing.payment_webhooks",)


def load_handlers() -> None:
    """Import every module that registers webhook handlers (idempotent; fails loudly)."""
    for name in HANDLER_MODULES:
        importlib.import_module(name)
