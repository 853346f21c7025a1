"""What can go wrong with a booking, as named exceptions the API and pages answer.

`NotFound` 404, `SlotTaken` 409, `InvalidRequest` 422 with field messages,
`PaymentFailed` 402, `Expired` (a `NotAllowed`) 409 `booking_expired`;
`ClaimedWithoutCard` when the slot is held but Stripe failed right after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from billing.errors import GatewayError, NotAllowed

if TYPE_CHECKING:
    from webapp.booking.models import Booking


class NotFound(Exception):
    """No such object for this freelancer (or the client link is wrong)."""


class SlotTaken(Exception):
    """Another booking holds that time."""


class ClaimedWithoutCard(Exception):
    """The slot is claimed (committed, pending payment) but Stripe failed to open the card setup.

    The booking keeps its slot until `pending_expires_at`, like an abandoned
    checkout; with `manage_token` the client opens a new SetupIntent
    (`POST /public/bookings/{id}/card-setup`). `error` is the gateway's.
    """

    def __init__(self, booking: Booking, token: str, error: GatewayError) -> None:
        super().__init__(str(error))
        self.booking_id = booking.id
        self.status = booking.status
        self.pending_expires_at = booking.pending_expires_at
        self.token = token
        self.error = error


class InvalidRequest(Exception):
    """Bad input about the booking itself, with field messages."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(m for ms in fields.values() for m in ms))
        self.fields = fields


class Expired(NotAllowed):
    """The 15 minutes a pending booking holds its slot have passed."""

    code = "booking_expired"


class PaymentFailed(Exception):
    """The card was declined or authentication failed; the booking is unchanged otherwise."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code
