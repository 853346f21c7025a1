"""Every table, imported in one place so that metadata is complete (Alembic, tests)."""

from billing.db import Base
from billing.models import (
    CardSetup,
    Event,
    Payment,
    PaymentCustomer,
    Refund,
    StripeAccount,
    WebhookEvent,
)
from webapp.accounts.models import ApiToken, Freelancer
from webapp.mail.models import OutboundEmail

__all__ = [
    "ApiToken",
    "Base",
    "CardSetup",
    "Event",
    "Freelancer",
    "OutboundEmail",
    "Payment",
    "PaymentCustomer",
    "Refund",
    "StripeAccount",
    "WebhookEvent",
]
from webapp.quotes.models import Milestone, Quote, QuoteAcceptance, QuoteVersion  # noqa: E402, F401
from webapp.messages.models import Answer, Attachment, MessageSettings, Question  # noqa: E402, F401
from billing.dunning.models import DunningCase, DunningRate, DunningSettings, DunningStep  # noqa: E402, F401
from billing.invoicing.models import Invoice, InvoiceLine, InvoicePayment, InvoiceSequence  # noqa: E402, F401
from webapp.booking.models import Availability, Booking, Offering  # noqa: E402, F401
