"""Stripe webhook endpoints: one for the instance's keys, one per connected account.

The mechanics (verify, store, deduplicate, process) live in `billing.webhooks`;
this package only knows HTTP and which secret belongs to which URL.
"""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger(__name__)

# Modules whose import registers webhook handlers (`@billing.webhooks.handles`).
# They must be imported before the first event arrives, or its type has no
# handler and the event is marked ignored for good.
HANDLER_MODULES = ("billing.payment_webhooks",)


def load_handlers() -> None:
    """Import every module that registers webhook handlers (idempotent)."""
    for name in HANDLER_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            # Tolerated while the handler module is being written; an error in
            # the log, since every event of its types would be ignored.
            log.error("webhook handler module %s is missing: its events will be ignored", name)
