"""Money, payment policies and cancellation terms in the client's words and language."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from flask_babel import format_currency, format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l


def money(amount_minor: int | None, currency: str | None) -> str:
    """`4500, "eur"` → "45,00 €" (fr) / "€45.00" (en): integer minor units, never floats."""
    if amount_minor is None or not currency:
        return ""
    code = currency.upper()
    digits = get_currency_precision(code)
    return format_currency(Decimal(int(amount_minor)).scaleb(-digits), code)


def percent(value: float | int | str | None) -> str:
    """30.0 → "30", 12.5 → "12,5" (fr): a percentage as the client's locale writes it."""
    if value in (None, ""):
        return "0"
    return format_decimal(Decimal(str(value)).normalize(), format="#,##0.##")


def duration(minutes: int | None) -> str:
    """60 → "1 h", 90 → "1 h 30 min", 20 → "20 min"."""
    if not minutes:
        return ""
    hours, rest = divmod(int(minutes), 60)
    if hours and rest:
        return _("%(h)d h %(m)d min", h=hours, m=rest)
    if hours:
        return _("%(h)d h", h=hours)
    return _("%(m)d min", m=rest)


def policy_text(offering: dict[str, Any]) -> str:
    """When the client's card is charged, in one sentence."""
    policy = offering.get("payment_policy")
    if policy == "prepay":
        return _("Paid in full when booking.")
    if policy == "hold":
        return _("Your card is pre-authorised when booking; it is charged after the session.")
    if policy == "deposit":
        return _(
            "%(percent)s %% deposit now, the rest after the session.",
            percent=percent(offering.get("deposit_percent")),
        )
    return ""


def due_now(offering: dict[str, Any]) -> tuple[str, str]:
    """What booking this offering charges now, in words, and the pay button's label."""
    policy = offering.get("payment_policy")
    currency = offering.get("currency")
    price = offering.get("amount_minor") or 0
    if policy == "deposit":
        deposit = offering.get("deposit_amount_minor") or 0
        return (
            _(
                "%(now)s now (deposit), %(later)s after the session",
                now=money(deposit, currency),
                later=money(price - deposit, currency),
            ),
            _("Book and pay %(amount)s", amount=money(deposit, currency)),
        )
    if policy == "hold":
        return (
            _(
                "Nothing now: %(amount)s held on your card, charged after the session",
                amount=money(price, currency),
            ),
            _(
                "Book and pay after the session (%(amount)s held now)",
                amount=money(price, currency),
            ),
        )
    return (
        _("%(amount)s now", amount=money(price, currency)),
        _("Book and pay %(amount)s", amount=money(price, currency)),
    )


def terms_text(offering: dict[str, Any]) -> str:
    """The cancellation terms, stated plainly before the client pays."""
    hours = offering.get("free_cancel_hours") or 0
    late = percent(offering.get("late_cancel_fee_percent"))
    no_show = percent(offering.get("no_show_fee_percent"))
    parts = []
    if hours:
        parts.append(_("Free cancellation until %(hours)s h before the session", hours=hours))
        parts.append(
            _("after that %(percent)s %% is charged", percent=late)
            if late != "0"
            else _("after that, still free")
        )
    else:
        parts.append(
            _("Cancelling costs %(percent)s %% of the price", percent=late)
            if late != "0"
            else _("Free cancellation at any time")
        )
    parts.append(_("no-show: %(percent)s %%", percent=no_show))
    # French typography puts a non-breaking space before a semicolon.
    separator = "\u00a0; " if str(get_locale()).startswith("fr") else "; "
    return separator.join(parts) + "."


PAYMENT_STATES = {
    "pending_payment": _l("Waiting for your payment."),
    "card_saved": _l("Your card is saved; it will be pre-authorised shortly before the session."),
    "secured": _l("Your card is pre-authorised; you are charged after the session."),
    "authorized": _l("Your card is pre-authorised; you are charged after the session."),
    "paid": _l("Paid."),
    "deposit_paid": _l("Deposit paid; the rest is charged after the session."),
    "captured": _l("Paid."),
    "succeeded": _l("Paid."),
    "released": _l("The pre-authorisation was released: you were not charged."),
    "refunded": _l("Refunded."),
    "fee_charged": _l("The cancellation fee was charged; the rest was released or refunded."),
    "failed": _l("The payment failed."),
    "action_required": _l("Your bank asks you to confirm the payment."),
    "none": _l("Nothing charged yet."),
}


def payment_state_text(state: str | None) -> str:
    """The booking's payment state in plain words (unknown states are shown as they are)."""
    if not state:
        return ""
    message = PAYMENT_STATES.get(state)
    return str(message) if message else state.replace("_", " ")


STATUSES = {
    "pending_payment": _l("Waiting for payment"),
    "confirmed": _l("Confirmed"),
    "cancelled": _l("Cancelled"),
    "canceled": _l("Cancelled"),
    "completed": _l("Completed"),
    "no_show": _l("Missed (no-show)"),
    "expired": _l("Expired: the payment was not completed in time"),
    "payment_failed": _l("Payment failed"),
    "requires_action": _l("Waiting for your bank's confirmation"),
}


# Every other status word a page shows (quotes, milestones, questions, cases, e-mails).
STATE_WORDS = {
    "draft": _l("draft"),
    "sent": _l("sent"),
    "viewed": _l("viewed"),
    "accepted": _l("accepted"),
    "declined": _l("declined"),
    "expired": _l("expired"),
    "pending": _l("pending"),
    "delivered": _l("delivered"),
    "approved": _l("approved"),
    "objected": _l("objected"),
    "charging": _l("charging"),
    "paid": _l("paid"),
    "payment_failed": _l("payment failed"),
    "cancelled": _l("cancelled"),
    "pending_payment": _l("waiting for payment"),
    "awaiting_answer": _l("awaiting answer"),
    "answered": _l("answered"),
    "capture_failed": _l("payment not captured"),
    "open": _l("open"),
    "paused": _l("paused"),
    "resolved": _l("resolved"),
    "written_off": _l("written off"),
    "queued": _l("queued"),
    "outbox": _l("in the outbox"),
    "failed": _l("failed"),
    "secured": _l("secured"),
    "captured": _l("captured"),
    "released": _l("released"),
    "refunded": _l("refunded"),
    "fee_charged": _l("fee charged"),
    "card_saved": _l("card saved"),
    "action_required": _l("action required"),
    "none": _l("nothing yet"),
}


def state_word(status: str | None) -> str:
    """A status (quote, milestone, question, case, payment state) in the page's language."""
    if not status:
        return ""
    message = STATE_WORDS.get(status)
    return str(message) if message else status.replace("_", " ")


def status_text(status: str | None) -> str:
    """The booking's status in plain words."""
    if not status:
        return ""
    message = STATUSES.get(status)
    return str(message) if message else status.replace("_", " ")
