"""Imports every module that registers due work, in the order run-due runs them.

Stripe's news first (webhooks), then the features' money movements, then
dunning (which reads their failures), then e-mail (which sends what they all
queued in this same run).
"""

import importlib

DUE_MODULES = (
    "webapp.webhooks.due",
    "webapp.booking.due",
    "webapp.quotes.due",
    "webapp.messages.due",
    "webapp.dunning.due",
    "webapp.mail.due",
)

for _name in DUE_MODULES:
    importlib.import_module(_name)
