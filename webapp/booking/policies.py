"""The money rules of a session, as pure functions: what to secure, when, and what to keep.

The service turns these decisions into `billing.payments` calls. Amounts are
integer minor units; percentages are basis points, rounded half up
(`billing.money.Money.percent`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from billing.ledger import HOLD_WINDOW_OFF_SESSION, HOLD_WINDOW_ON_SESSION
from billing.money import Money
from webapp.booking.models import DEPOSIT, HOLD, PREPAY

# Stripe refuses charges below these (`amount_too_small`); a smaller fee is waived.
MINIMUM_CHARGE_MINOR = {"eur": 50, "usd": 50, "chf": 50, "cad": 50, "gbp": 30}
# Session end plus this: the default moment the money is collected (CAPTURE_GRACE_MINUTES).
DEFAULT_CAPTURE_GRACE = timedelta(hours=1)
# An off-session hold must still be capturable at end + grace, with this margin.
HOLD_MARGIN = timedelta(hours=6)

CHARGE, HOLD_NOW, CARD_ONLY = "charge", "hold", "card_only"


@dataclass(frozen=True, slots=True)
class Terms:
    """The deal as booked."""

    policy: str
    amount_minor: int
    currency: str
    deposit_bp: int
    free_cancel_hours: int
    late_cancel_fee_bp: int
    no_show_fee_bp: int

    @property
    def price(self) -> Money:
        return Money(self.amount_minor, self.currency)


@dataclass(frozen=True, slots=True)
class ConfirmPlan:
    """What to do with the saved card when the client confirms."""

    kind: str  # CHARGE (prepay, deposit), HOLD_NOW, CARD_ONLY (secure later)
    amount_minor: int = 0
    purpose: str = ""
    hold_due_at: datetime | None = None


def deposit_minor(terms: Terms) -> int:
    """The share charged at booking under `deposit`, rounded half up."""
    return terms.price.percent(terms.deposit_bp).amount_minor


def free_cancel_until(start: datetime, terms: Terms) -> datetime:
    """The last moment a client cancellation is free (inclusive)."""
    return start - timedelta(hours=terms.free_cancel_hours)


def cancellation_fee(terms: Terms, start: datetime, now: datetime) -> int:
    """What a client cancellation at `now` costs: 0 until the free limit, then the late fee."""
    if now <= free_cancel_until(start, terms):
        return 0
    return terms.price.percent(terms.late_cancel_fee_bp).amount_minor


def no_show_fee(terms: Terms) -> int:
    """What the freelancer keeps when the client does not come."""
    return terms.price.percent(terms.no_show_fee_bp).amount_minor


def hold_due_at(
    start: datetime, end: datetime, *, hold_lead: timedelta, grace: timedelta
) -> datetime:
    """When to place the off-session hold of a far-away session.

    `hold_lead` before the start, but never so early that the hold (Visa
    merchant-initiated: under 5 days) would lapse before end + grace.
    """
    latest_safe = end + grace + HOLD_MARGIN - HOLD_WINDOW_OFF_SESSION
    return max(start - hold_lead, latest_safe)


def confirm_plan(
    terms: Terms,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    grace: timedelta,
    hold_lead: timedelta,
) -> ConfirmPlan:
    """Charge, hold now, or save the card and hold later, by policy and distance."""
    if terms.policy == PREPAY:
        return ConfirmPlan(CHARGE, terms.amount_minor, "charge")
    if terms.policy == DEPOSIT:
        amount = deposit_minor(terms)
        if amount <= 0:
            return ConfirmPlan(CARD_ONLY)
        return ConfirmPlan(CHARGE, amount, "deposit")
    assert terms.policy == HOLD
    # Captured at end + grace: the on-session hold must still be alive then.
    if end + grace + HOLD_MARGIN <= now + HOLD_WINDOW_ON_SESSION:
        return ConfirmPlan(HOLD_NOW, terms.amount_minor, "hold")
    return ConfirmPlan(
        CARD_ONLY, hold_due_at=hold_due_at(start, end, hold_lead=hold_lead, grace=grace)
    )


@dataclass(frozen=True, slots=True)
class Held:
    """An authorised hold on the card."""

    payment_id: int
    capturable_minor: int
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Collected:
    """A captured payment, with what can still be refunded."""

    payment_id: int
    refundable_minor: int


@dataclass(frozen=True, slots=True)
class Step:
    """One ledger operation: capture, release, refund or charge (off-session)."""

    action: str
    amount_minor: int = 0
    payment_id: int | None = None


def settle_steps(
    target_minor: int, held: list[Held], collected: list[Collected], now: datetime
) -> list[Step]:
    """The operations that leave exactly `target_minor` with the freelancer.

    Captures from live holds first (partially if need be; Stripe releases the
    rest), releases holds that are not needed or have lapsed (an expired
    authorisation is never captured: the card is charged instead), refunds
    what was collected beyond the target (newest first), and charges the
    saved card off-session for what is still missing.
    """
    need = target_minor - sum(c.refundable_minor for c in collected)
    steps: list[Step] = []
    for hold in held:
        alive = hold.expires_at is None or now < hold.expires_at
        if alive and need > 0:
            amount = min(need, hold.capturable_minor)
            steps.append(Step("capture", amount, hold.payment_id))
            need -= amount
        else:
            steps.append(Step("release", 0, hold.payment_id))
    if need < 0:
        excess = -need
        for charge in sorted(collected, key=lambda c: c.payment_id, reverse=True):
            amount = min(excess, charge.refundable_minor)
            if amount > 0:
                steps.append(Step("refund", amount, charge.payment_id))
                excess -= amount
        need = 0
    if need > 0:
        steps.append(Step("charge", need))
    return steps


def below_minimum(amount_minor: int, currency: str) -> bool:
    """Whether Stripe would refuse a charge this small."""
    return amount_minor < MINIMUM_CHARGE_MINOR.get(currency, 1)
