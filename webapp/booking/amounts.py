"""What the client's money does, stated honestly: charged now, held, charged later and when.

One reading of the ledger (`ledger.totals`) for the confirmation e-mail, the
client's pages (through the public API's `money` object) and the cancellation
notices, so a deposit is never shown as "paid" and a release never as nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from webapp.booking.models import CONFIRMED, DEPOSIT, HOLD, PREPAY, Booking


@dataclass(frozen=True, slots=True)
class MoneyPlan:
    """A booking's money, in minor units: what moved, what waits, and when."""

    price_minor: int
    currency: str
    charged_minor: int
    held_minor: int
    refunded_minor: int
    released_minor: int
    # Charged after the session (a deposit's balance, a hold captured), and when.
    later_minor: int
    later_at: datetime | None
    # A far-away `hold` session: the card is held on this date.
    hold_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        """The public API's `money` object."""
        return {
            "price_minor": self.price_minor,
            "currency": self.currency,
            "charged_minor": self.charged_minor,
            "held_minor": self.held_minor,
            "refunded_minor": self.refunded_minor,
            "released_minor": self.released_minor,
            "later_minor": self.later_minor,
            "later_at": self.later_at.isoformat() if self.later_at else None,
            "hold_at": self.hold_at.isoformat() if self.hold_at else None,
        }


def money_plan(session: Session, booking: Booking) -> MoneyPlan:
    """The booking's money as the ledger says it, and what the terms still have to move."""
    from webapp.booking.ledger import totals
    from webapp.booking.lifecycle import grace

    t = totals(session, booking)
    later_minor, later_at, hold_at = 0, None, None
    if booking.status == CONFIRMED:
        collect_at = booking.end_at + grace()
        if booking.payment_policy in (DEPOSIT, PREPAY):
            later_minor = max(booking.amount_minor - t.captured_minor - t.secured_minor, 0)
        elif booking.payment_policy == HOLD:
            # The held amount (or the whole price, once held) is charged after the session.
            later_minor = booking.amount_minor - t.captured_minor
            if t.secured_minor == 0 and booking.hold_due_at is not None:
                hold_at = booking.hold_due_at
        later_at = collect_at if later_minor else None
    return MoneyPlan(
        price_minor=booking.amount_minor,
        currency=booking.currency,
        charged_minor=t.captured_minor,
        held_minor=t.secured_minor,
        refunded_minor=t.refunded_minor,
        released_minor=t.released_minor,
        later_minor=later_minor,
        later_at=later_at,
        hold_at=hold_at,
    )
