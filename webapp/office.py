"""The back office's words: times in the account's zone, event and step names in words.

Template filters (registered by `register`):
- `when`: an ISO timestamp (or a datetime) in the signed-in freelancer's time zone,
  as the page's locale writes it ("mer. 16 déc. 2026, 09:00").
- `event_words`: an event code of a timeline ("card_declined") as a sentence.
- `step_words`: a dunning step, outcome or reason code in words.
Unknown codes are still shown without underscores, never as a raw code.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_time
from flask import Flask
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

EVENTS = {
    "booking_requested": _l("Booking requested"),
    "booking_confirmed": _l("Booking confirmed"),
    "booking_cancelled": _l("Booking cancelled"),
    "booking_auto_cancelled": _l("Booking cancelled automatically"),
    "booking_expired": _l("Checkout abandoned"),
    "booking_rescheduled": _l("Booking moved"),
    "booking_completed": _l("Session completed"),
    "booking_no_show": _l("Client did not come"),
    "booking_payment_failed": _l("Payment failed"),
    "booking_invoice_not_issued": _l("Invoice not issued"),
    "booking_credit_note_not_issued": _l("Credit note not issued"),
    "card_setup_started": _l("Card entry started"),
    "card_saved": _l("Card saved"),
    "card_declined": _l("Card declined"),
    "payment_created": _l("Payment prepared"),
    "payment_authorized": _l("Amount held on the card"),
    "payment_succeeded": _l("Payment received"),
    "payment_captured": _l("Payment collected"),
    "payment_failed": _l("Payment failed"),
    "payment_released": _l("Hold released"),
    "payment_refunded": _l("Refunded"),
    "payment_refund_requested": _l("Refund requested"),
    "payment_requires_action": _l("The client must confirm the payment"),
    "payment_outcome_unknown": _l("Payment outcome awaited from Stripe"),
    "payment_release_reason": _l("Reason for the release noted"),
    "dunning_opened": _l("Recovery opened"),
    "dunning_invoice_linked": _l("Invoice attached"),
    "dunning_invoice_missing": _l("Invoice missing"),
    "dunning_paid": _l("Paid"),
    "dunning_paused": _l("Reminders paused"),
    "dunning_resumed": _l("Reminders resumed"),
    "dunning_resolved": _l("Marked as settled"),
    "dunning_written_off": _l("Written off"),
    "dunning_client_paying": _l("The client is paying"),
    "dunning_call_done": _l("Call done"),
    "dunning_retry": _l("Card retried"),
    "dunning_retry_failed": _l("Card retry failed"),
    "dunning_retry_succeeded": _l("Card retry succeeded"),
    "dunning_retries_stopped": _l("Card retries stopped"),
    "dunning_charge_failed_again": _l("The card was declined again"),
    "dunning_registered_letter_recorded": _l("Registered letter recorded"),
    "dunning_penalty_invoice_failed": _l("Penalty invoice not issued"),
    "dunning_step_notice": _l("Payment failure notice sent"),
    "dunning_step_friendly": _l("Friendly reminder sent"),
    "dunning_step_formal": _l("Formal notice sent"),
    "dunning_step_formal_notice": _l("Formal notice sent"),
    "dunning_step_call": _l("Call to make"),
    "dunning_step_call_done": _l("Call done"),
    "dunning_step_recourse": _l("Recourse pack ready"),
    "dunning_step_retry": _l("Card retried"),
    "dunning_step_sent": _l("Reminder sent"),
    "quote_created": _l("Quote created"),
    "quote_version_created": _l("New version of the quote"),
    "quote_sent": _l("Quote sent to the client"),
    "quote_resent": _l("Quote sent again"),
    "quote_viewed": _l("The client opened the quote"),
    "quote_revised_after_view": _l("Quote changed after the client saw it"),
    "quote_signed": _l("Quote signed"),
    "quote_accepted": _l("Quote accepted"),
    "quote_declined": _l("Quote declined"),
    "milestone_delivered": _l("Milestone delivered"),
    "milestone_approved": _l("Milestone approved"),
    "milestone_auto_approved": _l("Milestone approved automatically"),
    "milestone_approved_after_agreement": _l("Milestone approved after agreement"),
    "milestone_objected": _l("The client objected to a milestone"),
    "milestone_approval_reminder_sent": _l("Approval reminder sent"),
    "milestone_invoiced": _l("Milestone invoiced"),
    "milestone_invoice_not_issued": _l("Milestone invoice not issued"),
    "milestone_paid_by_transfer": _l("Milestone paid by bank transfer"),
    "milestone_payment_failed": _l("Milestone payment failed"),
    "milestone_paid": _l("Milestone paid"),
    "milestone_cancelled": _l("Milestone cancelled"),
}

STEPS = {
    "notice": _l("payment failure notice"),
    "retry": _l("card retry"),
    "friendly": _l("friendly reminder"),
    "formal": _l("formal notice"),
    "formal_notice": _l("formal notice"),
    "call": _l("phone call"),
    "recourse": _l("recourse pack"),
    "sent": _l("sent"),
    "task_open": _l("to do"),
    "task_done": _l("done"),
    "succeeded": _l("succeeded"),
    "failed": _l("failed"),
    "skipped": _l("skipped"),
    "card_declined": _l("card declined"),
    "insufficient_funds": _l("insufficient funds"),
    "expired_card": _l("card expired"),
    "authentication_required": _l("the bank asks the client to confirm"),
    "payment_failed": _l("payment failed"),
    "capture_failed": _l("payment not collected"),
    "freelancer": _l("paused by you"),
    "promise": _l("payment promised"),
    "dispute": _l("disputed by the client"),
}


def _words(code: str) -> str:
    """An unknown code, at least without underscores: "late_fee" → "Late fee"."""
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def event_words(code: str | None) -> str:
    """A timeline event code in the page's language."""
    if not code:
        return ""
    message = EVENTS.get(code)
    return str(message) if message else _words(code)


def step_words(code: str | None) -> str:
    """A dunning step, outcome or reason code in words ("retry_2" → "card retry 2")."""
    if not code:
        return ""
    base, _sep, number = str(code).rpartition("_")
    if base and number.isdigit():
        return f"{step_words(base)} {number}"
    message = STEPS.get(code)
    return str(message) if message else _words(code).lower()


def account_zone() -> ZoneInfo:
    """The signed-in freelancer's time zone (Europe/Paris when unknown)."""
    name = getattr(current_user, "timezone", None) or "Europe/Paris"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Paris")


def when(value: str | datetime | None, fmt: str = "medium") -> str:
    """A moment in the account's zone, as the page's locale writes it."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    local = value.astimezone(account_zone())
    locale = str(get_locale() or "fr")
    return f"{format_date(local, fmt, locale=locale)}, {format_time(local, 'short', locale=locale)}"


def register(app: Flask) -> None:
    """The back office's filters."""
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["event_words"] = event_words
    app.jinja_env.filters["step_words"] = step_words
