"""The claim: a slot becomes a pending booking, one claim of a freelancer's time at a time.

The claim is a short transaction of its own, committed before Stripe is
called (`create_booking` then opens the card setup). Competing claims queue
on a per-freelancer lock (`serialise_writers`), the database's exclusion
constraint is the backstop, and a deadlock or unique race runs the claim
again: one winner per slot, the others `SlotTaken`, never a 500.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from billing import events
from billing.db import utcnow
from billing.errors import GatewayError
from billing.gateway.port import PaymentGateway
from webapp import clients
from webapp.accounts.models import Freelancer, hash_token, new_token
from webapp.booking.card import open_card_setup
from webapp.booking.errors import ClaimedWithoutCard, InvalidRequest, SlotTaken
from webapp.booking.lifecycle import PENDING_TTL, record
from webapp.booking.models import PENDING_PAYMENT, Availability, Booking, Offering
from webapp.booking.service import slots_for
from webapp.booking.slots import Slot
from webapp.errors import transient_db_error

# The advisory-lock namespace of booking claims ("bkg"): one key per freelancer.
_CLAIM_LOCK_SPACE = 0x626B67
# A claim waits at most this long for another claim of the same freelancer.
CLAIM_LOCK_TIMEOUT = "5s"
# A claim that hits a deadlock, serialization failure, lock timeout or unique
# race is run again from the start, this many times in all, with a jittered pause.
CLAIM_ATTEMPTS = 4
CLAIM_BACKOFF = 0.02  # seconds, doubled per attempt, times 0.5–1.5


def client_language(given: str | None, freelancer: Freelancer) -> str:
    """The client's language: the API's `client.locale`, else the one their browser asked
    for (the FR/EN switch's cookie, `?lang=`, Accept-Language), else the freelancer's."""
    from flask import has_request_context, request
    from flask_babel import get_locale

    if given:
        return given
    if has_request_context() and (
        request.args.get("lang") or request.cookies.get("lang") or request.accept_languages
    ):
        return str(get_locale() or "fr")
    return freelancer.locale or "fr"


def serialise_writers(session: Session, freelancer_id: int) -> None:
    """One claim or move of this freelancer's time at a time, until the transaction ends.

    Then the overlap check and the insert (or move) are one atomic step and
    competing claims queue instead of racing. PostgreSQL: a transaction-scoped
    advisory lock on the freelancer; without it concurrent inserts meet inside
    the GiST exclusion check of `booking_no_overlap` and deadlock each other
    (the constraint stays as the backstop). SQLite has no exclusion
    constraints: take the database's write lock before the check.

    Lock order: this lock comes before any booking row a claim writes; a
    reschedule holds its own booking row, then this lock.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :freelancer)"),
            {"space": _CLAIM_LOCK_SPACE, "freelancer": freelancer_id},
        )
    elif dialect == "sqlite":
        session.execute(
            update(Availability)
            .where(Availability.freelancer_id == freelancer_id)
            .values(updated_at=utcnow())
        )


def is_overlap(exc: DBAPIError) -> bool:
    """The database refused the insert or move: the time overlaps another booking."""
    return "booking_no_overlap" in str(exc.orig)


def _is_unique_race(exc: DBAPIError) -> bool:
    # PostgreSQL's unique_violation; SQLite serialises writers, so never there.
    return isinstance(exc, IntegrityError) and getattr(exc.orig, "sqlstate", None) == "23505"


def _insert_claim(session: Session, booking: Booking) -> None:
    """Insert the claimed booking; `SlotTaken` if the database refuses the overlap.

    No savepoint: a failed claim rolls its whole (short) transaction back.
    """
    session.add(booking)
    try:
        session.flush()
    except IntegrityError as exc:
        if is_overlap(exc):
            raise SlotTaken("slot taken") from None
        raise


def offered_slot(
    session: Session,
    freelancer: Freelancer,
    offering: Offering,
    start: datetime,
    now: datetime,
    *,
    exclude_booking_id: int | None = None,
) -> Slot:
    """The slot at `start`, or why not: past, not offered (422) or taken (409)."""
    if start <= now:
        raise InvalidRequest({"start": ["This time is in the past."]})
    window = (start, start + timedelta(seconds=1))
    found = slots_for(
        session, freelancer, offering, *window, now=now, exclude_booking_id=exclude_booking_id
    )
    if found:
        return found[0]
    if slots_for(session, freelancer, offering, *window, now=now, ignore_bookings=True):
        raise SlotTaken("slot taken")
    raise InvalidRequest({"start": ["This time is not offered."]})


def create_booking(
    session: Session,
    gateway: PaymentGateway,
    freelancer: Freelancer,
    data: dict,
    *,
    token_box: object,
    now: datetime | None = None,
) -> tuple[Booking, str, str]:
    """Claim the slot (pending payment, committed), then open a SetupIntent for the card.

    Returns the booking, its manage token (shown once; stored hashed) and
    the SetupIntent's client secret; the caller commits the card setup's ids
    on the booking. No database lock is held while Stripe is called. If
    Stripe fails after the claim: `ClaimedWithoutCard` (the booking stays
    pending until it expires, the client can ask for another card setup).
    """
    booking, token = claim_slot(session, freelancer, data, token_box=token_box, now=now)
    try:
        secret = open_card_setup(session, gateway, booking)
    except GatewayError as exc:
        failure = ClaimedWithoutCard(booking, token, exc)
        session.rollback()
        raise failure from exc
    return booking, token, secret


def claim_slot(
    session: Session,
    freelancer: Freelancer,
    data: dict,
    *,
    token_box: object,
    now: datetime | None = None,
) -> tuple[Booking, str]:
    """Claim the slot in a short transaction of its own, committed; returns the booking and token.

    `SlotTaken` when another booking holds the time, `InvalidRequest` for a
    time not offered. A deadlock, serialization failure, lock timeout or unique
    race (another new token is drawn) runs the whole claim again, fresh, after
    a short jittered pause; the next attempt sees the winner's committed
    booking and answers `SlotTaken`. After `CLAIM_ATTEMPTS` the database
    error is raised (`webapp.errors` answers 409 `conflict` or 503 `busy`,
    with Retry-After, never 500).
    """
    now = now or utcnow()
    for attempt in range(1, CLAIM_ATTEMPTS + 1):
        token = new_token("bkg")
        try:
            booking = _claim_once(session, freelancer, data, token, token_box, now)
            session.commit()
            return booking, token
        except DBAPIError as exc:
            session.rollback()
            if is_overlap(exc):
                raise SlotTaken("slot taken") from None
            retry = transient_db_error(exc) is not None or _is_unique_race(exc)
            if not retry or attempt == CLAIM_ATTEMPTS:
                raise
        except BaseException:
            session.rollback()
            raise
        time.sleep(CLAIM_BACKOFF * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")  # pragma: no cover


def _claim_once(
    session: Session,
    freelancer: Freelancer,
    data: dict,
    token: str,
    token_box: object,
    now: datetime,
) -> Booking:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL lock_timeout = '{CLAIM_LOCK_TIMEOUT}'"))
    offering = session.scalar(
        select(Offering).where(
            Offering.id == data["offering_id"],
            Offering.freelancer_id == freelancer.id,
            Offering.active.is_(True),
            Offering.archived_at.is_(None),
        )
    )
    if offering is None:
        raise InvalidRequest({"offering_id": ["Unknown offering."]})
    serialise_writers(session, freelancer.id)
    slot = offered_slot(session, freelancer, offering, data["start"], now)
    client = data["client"]
    booking = Booking(
        freelancer_id=freelancer.id,
        offering_id=offering.id,
        client_name=client["name"],
        client_email=client["email"],
        client_timezone=client.get("timezone") or "UTC",
        client_locale=client_language(client.get("locale"), freelancer),
        client_is_business=bool(client.get("is_business")),
        client_details=clients.details(client),
        start_at=slot.start,
        end_at=slot.end,
        block_start=slot.block_start,
        block_end=slot.block_end,
        status=PENDING_PAYMENT,
        title=offering.title,
        amount_minor=offering.amount_minor,
        currency=offering.currency,
        payment_policy=offering.payment_policy,
        deposit_bp=offering.deposit_bp,
        free_cancel_hours=offering.free_cancel_hours,
        late_cancel_fee_bp=offering.late_cancel_fee_bp,
        no_show_fee_bp=offering.no_show_fee_bp,
        secure_deadline_hours=offering.secure_deadline_hours,
        manage_token_hash=hash_token(token),
        manage_token_enc=token_box.encrypt(token),  # type: ignore[attr-defined]
        pending_expires_at=now + PENDING_TTL,
    )
    _insert_claim(session, booking)
    record(
        session,
        booking,
        "booking_requested",
        events.CLIENT,
        start=slot.start.isoformat(),
        offering_id=offering.id,
        amount_minor=booking.amount_minor,
        currency=booking.currency,
        policy=booking.payment_policy,
    )
    return booking
