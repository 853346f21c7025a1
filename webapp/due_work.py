"""Imports every module that registers due work."""

from webapp.mail import due as _mail_due  # noqa: F401
from webapp.webhooks import due as _webhooks_due  # noqa: F401
from webapp.quotes import due as _quotes_due  # noqa: E402, F401
from webapp.messages import due as _messages_due  # noqa: F401
from webapp.booking import due as _booking_due  # noqa: F401
from webapp.dunning import due as _dunning_due  # noqa: F401
