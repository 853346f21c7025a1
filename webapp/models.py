"""Every table, imported in one place so that metadata is complete (Alembic, tests)."""

from billing.books.models import BankLine, BankMatch, BankStatement
from billing.db import Base
from billing.dunning.models import DunningCase, DunningRate, DunningSettings, DunningStep
from billing.facturx.models import EInvoice, SupplierInvoice
from billing.invoicing.models import Invoice, InvoiceLine, InvoicePayment, InvoiceSequence
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
from webapp.booking.models import Availability, Booking, Offering
from webapp.calendars.models import (
    BusyTime,
    CalendarConnection,
    CalendarWrite,
    ConnectedCalendar,
    WrittenEvent,
)
from webapp.mail.models import OutboundEmail
from webapp.messages.models import Answer, Attachment, MessageSettings, Question
from webapp.notifications.models import NoticeSent, NotificationOptOut
from webapp.quotes.models import Milestone, Quote, QuoteAcceptance, QuoteVersion

__all__ = [
    "Answer",
    "ApiToken",
    "Attachment",
    "Availability",
    "BankLine",
    "BankMatch",
    "BankStatement",
    "Base",
    "Booking",
    "BusyTime",
    "CalendarConnection",
    "CalendarWrite",
    "CardSetup",
    "ConnectedCalendar",
    "DunningCase",
    "DunningRate",
    "DunningSettings",
    "DunningStep",
    "EInvoice",
    "Event",
    "Freelancer",
    "Invoice",
    "InvoiceLine",
    "InvoicePayment",
    "InvoiceSequence",
    "Milestone",
    "NoticeSent",
    "NotificationOptOut",
    "MessageSettings",
    "Offering",
    "OutboundEmail",
    "Payment",
    "PaymentCustomer",
    "Question",
    "Quote",
    "QuoteAcceptance",
    "QuoteVersion",
    "Refund",
    "StripeAccount",
    "SupplierInvoice",
    "WebhookEvent",
    "WrittenEvent",
]
