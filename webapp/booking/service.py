"""Sessions: offerings, availability, bookings and their money, as plain functions.

Operations take a session, flush and never commit. The *facade* functions at
the end (`book`, `confirm`, `cancel_by_client`, …) run whole use cases for
routes and due runners: they commit where the payment ledger requires it
(a payment row is committed before Stripe is called, see `billing.payments`).
"""

from __future__ import annotations

import hmac
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from billing import cards, events, outcomes, payments
from billing.db import utcnow
from billing.errors import AlreadyDone, GatewayError, NotAllowed
from billing.gateway.port import PaymentGateway
from billing.locking import lock
from billing.models import CardSetup, Payment, PaymentCustomer, Refund
from billing.money import Money
from billing.payments import Subject
from billing.states import StateMachine
from webapp.accounts.models import Freelancer, hash_token, new_token
from webapp.booking import policies
from webapp.booking.models import (
    ACTIVE,
    CANCELLED,
    COMPLETED,
    CONFIRMED,
    EXPIRED,
    HOLD,
    NO_SHOW,
    PENDING_PAYMENT,
    REQUIRES_ACTION,
    Availability,
    Booking,
    Offering,
)
from webapp.booking.slots import MAX_SPAN, Rules, Slot, SlotSpec, free_slots
from webapp.errors import transient_db_error

SUBJECT = "booking"
PENDING_TTL = timedelta(minutes=15)
SECURING = ("charge", "hold", "deposit")

# Table-driven transitions of a booking; anything else is `NotAllowed`.
MACHINE = StateMachine(
    "booking",
    {
        PENDING_PAYMENT: {REQUIRES_ACTION, CONFIRMED, CANCELLED, EXPIRED},
        REQUIRES_ACTION: {PENDING_PAYMENT, CONFIRMED, CANCELLED, EXPIRED},
        CONFIRMED: {CANCELLED, COMPLETED, NO_SHOW},
        CANCELLED: set(),
        COMPLETED: set(),
        NO_SHOW: set(),
        EXPIRED: set(),
    },
)
TRANSITIONS = MACHINE.table


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


def subject(booking: Booking) -> Subject:
    """The ledger subject of a booking's payments."""
    return Subject(SUBJECT, booking.id)


def record(session: Session, booking: Booking, action: str, actor: str, **data: object) -> None:
    """Append one event to the booking's timeline."""
    events.record(
        session,
        subject_type=SUBJECT,
        subject_id=booking.id,
        action=action,
        actor=actor,
        freelancer_id=booking.freelancer_id,
        data=dict(data),
    )


def transition(
    session: Session, booking: Booking, new_status: str, *, actor: str, **data: object
) -> None:
    """Move the booking to `new_status`; `AlreadyDone` if there, `NotAllowed` if forbidden."""
    old = booking.status
    MACHINE.require(old, new_status, what=f"booking {booking.id}")
    booking.status = new_status
    if "target_minor" in data:
        booking.settle_target_minor = int(data["target_minor"])  # type: ignore[call-overload]
    elif new_status == EXPIRED:
        booking.settle_target_minor = 0
    if new_status in (CANCELLED, EXPIRED):
        booking.cancelled_by = actor
        booking.cancelled_at = utcnow()
    session.flush()
    record(session, booking, f"booking_{new_status}", actor, **{"from": old, **data})


# --- offerings and availability ---------------------------------------------


def offerings(session: Session, freelancer_id: int, *, active_only: bool = False) -> list[Offering]:
    """The freelancer's offerings (archived ones never)."""
    query = select(Offering).where(
        Offering.freelancer_id == freelancer_id, Offering.archived_at.is_(None)
    )
    if active_only:
        query = query.where(Offering.active.is_(True))
    return list(session.scalars(query.order_by(Offering.id)))


def get_offering(session: Session, freelancer_id: int, offering_id: int) -> Offering:
    """One offering of this freelancer, or `NotFound`."""
    offering = session.scalar(
        select(Offering).where(
            Offering.id == offering_id,
            Offering.freelancer_id == freelancer_id,
            Offering.archived_at.is_(None),
        )
    )
    if offering is None:
        raise NotFound(f"no offering {offering_id}")
    return offering


def create_offering(session: Session, freelancer_id: int, data: dict) -> Offering:
    """A new offering from validated data (`OfferingSchema`)."""
    offering = Offering(freelancer_id=freelancer_id, **data)
    session.add(offering)
    session.flush()
    events.record(
        session,
        subject_type="offering",
        subject_id=offering.id,
        action="offering_created",
        actor=events.freelancer_actor(freelancer_id),
        freelancer_id=freelancer_id,
        data={"title": offering.title, "amount_minor": offering.amount_minor},
    )
    return offering


def update_offering(session: Session, offering: Offering, changes: dict) -> Offering:
    """Apply validated changes; existing bookings keep the terms they were booked with."""
    for name, value in changes.items():
        setattr(offering, name, value)
    session.flush()
    events.record(
        session,
        subject_type="offering",
        subject_id=offering.id,
        action="offering_updated",
        actor=events.freelancer_actor(offering.freelancer_id),
        freelancer_id=offering.freelancer_id,
        data={k: v for k, v in changes.items() if isinstance(v, int | str | bool)},
    )
    return offering


def archive_offering(session: Session, offering: Offering) -> None:
    """Remove an offering from sale; its bookings stay as they are."""
    offering.archived_at = utcnow()
    offering.active = False
    session.flush()
    events.record(
        session,
        subject_type="offering",
        subject_id=offering.id,
        action="offering_archived",
        actor=events.freelancer_actor(offering.freelancer_id),
        freelancer_id=offering.freelancer_id,
    )


def get_availability(session: Session, freelancer: Freelancer) -> Availability:
    """The freelancer's availability; an empty week in their zone if never set."""
    availability = session.scalar(
        select(Availability).where(Availability.freelancer_id == freelancer.id)
    )
    if availability is None:
        return Availability(
            freelancer_id=freelancer.id, timezone=freelancer.timezone, weekly=[], exceptions=[]
        )
    return availability


def put_availability(session: Session, freelancer: Freelancer, data: dict) -> Availability:
    """Replace the whole availability (validated by `AvailabilitySchema`)."""
    availability = session.scalar(
        select(Availability).where(Availability.freelancer_id == freelancer.id)
    )
    if availability is None:
        availability = Availability(freelancer_id=freelancer.id)
        session.add(availability)
    availability.timezone = data["timezone"]
    availability.weekly = data["weekly"]
    availability.exceptions = data["exceptions"]
    session.flush()
    events.record(
        session,
        subject_type="availability",
        subject_id=freelancer.id,
        action="availability_updated",
        actor=events.freelancer_actor(freelancer.id),
        freelancer_id=freelancer.id,
        data={"timezone": data["timezone"], "intervals": len(data["weekly"])},
    )
    return availability


# --- slots -------------------------------------------------------------------


def busy_spans(
    session: Session,
    freelancer_id: int,
    window_start: datetime,
    window_end: datetime,
    *,
    exclude_booking_id: int | None = None,
) -> list[tuple[datetime, datetime]]:
    """Buffered spans of active bookings near the window (index on freelancer, start)."""
    query = select(Booking.block_start, Booking.block_end).where(
        Booking.freelancer_id == freelancer_id,
        Booking.start_at >= window_start - MAX_SPAN,
        Booking.start_at < window_end + MAX_SPAN,
        Booking.status.in_(ACTIVE),
    )
    if exclude_booking_id is not None:
        query = query.where(Booking.id != exclude_booking_id)
    return [(row.block_start, row.block_end) for row in session.execute(query)]


def spec_of(offering: Offering) -> SlotSpec:
    """The slot needs of an offering."""
    return SlotSpec(
        duration=timedelta(minutes=offering.duration_minutes),
        buffer_before=timedelta(minutes=offering.buffer_before_minutes),
        buffer_after=timedelta(minutes=offering.buffer_after_minutes),
        min_notice=timedelta(minutes=offering.min_notice_minutes),
        horizon=timedelta(days=offering.horizon_days),
    )


def slots_for(
    session: Session,
    freelancer: Freelancer,
    offering: Offering,
    window_start: datetime,
    window_end: datetime,
    *,
    now: datetime | None = None,
    exclude_booking_id: int | None = None,
    ignore_bookings: bool = False,
) -> list[Slot]:
    """Free slots of `offering` starting in the window."""
    now = now or utcnow()
    availability = get_availability(session, freelancer)
    rules = Rules(availability.timezone, availability.weekly, availability.exceptions)
    busy = (
        []
        if ignore_bookings
        else busy_spans(
            session, freelancer.id, window_start, window_end, exclude_booking_id=exclude_booking_id
        )
    )
    return free_slots(
        rules,
        spec_of(offering),
        busy=busy,
        window_start=window_start,
        window_end=window_end,
        now=now,
    )


def _offered_slot(
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


# The advisory-lock namespace of booking claims ("bkg"): one key per freelancer.
_CLAIM_LOCK_SPACE = 0x626B67
# A claim waits at most this long for another claim of the same freelancer.
CLAIM_LOCK_TIMEOUT = "5s"
# A claim that hits a deadlock, serialization failure, lock timeout or unique
# race is run again from the start, this many times in all, with a jittered pause.
CLAIM_ATTEMPTS = 4
CLAIM_BACKOFF = 0.02  # seconds, doubled per attempt, times 0.5–1.5


def _serialise_writers(session: Session, freelancer_id: int) -> None:
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


def _is_overlap(exc: DBAPIError) -> bool:
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
        if _is_overlap(exc):
            raise SlotTaken("slot taken") from None
        raise


# --- bookings ----------------------------------------------------------------


def freelancer_by_slug(session: Session, slug: str) -> Freelancer:
    """The active freelancer behind a public page, or `NotFound`."""
    freelancer = session.scalar(select(Freelancer).where(Freelancer.slug == slug))
    if freelancer is None or not freelancer.is_active:
        raise NotFound(f"no freelancer {slug}")
    return freelancer


def booking_for_client(session: Session, booking_id: int, token: str) -> Booking:
    """The booking a manage link opens, or `NotFound` (the same for a wrong token)."""
    booking = session.get(Booking, booking_id)
    if booking is None or not hmac.compare_digest(
        booking.manage_token_hash, hash_token(token or "")
    ):
        raise NotFound("no such booking")
    return booking


def get_booking(session: Session, freelancer_id: int, booking_id: int) -> Booking:
    """One booking of this freelancer, or `NotFound`."""
    booking = session.scalar(
        select(Booking).where(Booking.id == booking_id, Booking.freelancer_id == freelancer_id)
    )
    if booking is None:
        raise NotFound(f"no booking {booking_id}")
    return booking


def list_bookings(
    session: Session, freelancer_id: int, *, upcoming: bool | None = None, limit: int = 200
) -> list[Booking]:
    """The freelancer's bookings: upcoming soonest first, past most recent first."""
    now = utcnow()
    query = select(Booking).where(Booking.freelancer_id == freelancer_id)
    if upcoming is True:
        query = query.where(Booking.end_at >= now).order_by(Booking.start_at)
    elif upcoming is False:
        query = query.where(Booking.end_at < now).order_by(Booking.start_at.desc())
    else:
        query = query.order_by(Booking.start_at.desc())
    return list(session.scalars(query.limit(limit)))


def terms_of(booking: Booking) -> policies.Terms:
    """The money terms the booking was made with."""
    return policies.Terms(
        policy=booking.payment_policy,
        amount_minor=booking.amount_minor,
        currency=booking.currency,
        deposit_bp=booking.deposit_bp,
        free_cancel_hours=booking.free_cancel_hours,
        late_cancel_fee_bp=booking.late_cancel_fee_bp,
        no_show_fee_bp=booking.no_show_fee_bp,
    )


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
            if _is_overlap(exc):
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
    _serialise_writers(session, freelancer.id)
    slot = _offered_slot(session, freelancer, offering, data["start"], now)
    client = data["client"]
    booking = Booking(
        freelancer_id=freelancer.id,
        offering_id=offering.id,
        client_name=client["name"],
        client_email=client["email"],
        client_timezone=client.get("timezone") or "UTC",
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


def open_card_setup(session: Session, gateway: PaymentGateway, booking: Booking) -> str:
    """The client's Stripe customer and a SetupIntent for a claimed booking; its client secret.

    `cards` commits its own rows around each Stripe call, so nothing is
    locked while Stripe answers; the ids land on the booking (flushed, the
    caller commits). Gateway errors propagate.
    """
    customer = cards.ensure_customer(
        session,
        gateway,
        freelancer_id=booking.freelancer_id,
        email=booking.client_email,
        name=booking.client_name,
    )
    setup, secret = cards.start_card_setup(
        session, gateway, customer=customer, subject=subject(booking)
    )
    booking.customer_id = customer.id
    booking.card_setup_id = setup.id
    session.flush()
    return secret


def new_card_setup(session: Session, gateway: PaymentGateway, booking: Booking) -> str:
    """A fresh SetupIntent for this booking (another card, fixing a failed one, or the
    first one when Stripe failed right after the claim)."""
    if booking.status not in ACTIVE:
        raise NotAllowed(f"booking {booking.id} is {booking.status}")
    return open_card_setup(session, gateway, booking)


# --- the ledger seen from a booking -----------------------------------------


def booking_payments(session: Session, booking: Booking) -> list[Payment]:
    """Every payment of the booking, oldest first."""
    return list(
        session.scalars(
            select(Payment)
            .where(Payment.subject_type == SUBJECT, Payment.subject_id == str(booking.id))
            .order_by(Payment.id)
        )
    )


@dataclass
class Totals:
    """What the ledger says about a booking's money, in minor units."""

    secured_minor: int = 0
    captured_minor: int = 0
    refunded_minor: int = 0
    released_minor: int = 0
    last: Payment | None = None
    held: list[policies.Held] = field(default_factory=list)
    collected: list[policies.Collected] = field(default_factory=list)


def totals(session: Session, booking: Booking) -> Totals:
    """Derived from the payment rows, never stored."""
    out = Totals()
    for payment in booking_payments(session, booking):
        out.last = payment
        if payment.status == payments.AUTHORIZED:
            out.secured_minor += payment.amount_capturable_minor
            out.held.append(
                policies.Held(payment.id, payment.amount_capturable_minor, payment.hold_expires_at)
            )
        elif payment.status == payments.SUCCEEDED:
            net = payment.amount_captured_minor - payment.amount_refunded_minor
            out.captured_minor += net
            out.refunded_minor += payment.amount_refunded_minor
            if payment.capture_method == "manual":
                out.released_minor += payment.amount_minor - payment.amount_captured_minor
            out.collected.append(policies.Collected(payment.id, net))
        elif payment.status == payments.CANCELED and payment.authorized_at is not None:
            out.released_minor += payment.amount_minor
    return out


def payment_state(booking: Booking, t: Totals) -> str:
    """One word for the bookings table: secured, captured, released, refunded, fee_charged…"""
    if t.last is not None and t.last.status == payments.FAILED:
        return "failed"
    if t.last is not None and t.last.status == payments.REQUIRES_ACTION:
        return "action_required"
    if t.secured_minor > 0:
        return "secured"
    if booking.status in (CANCELLED, NO_SHOW) and t.captured_minor > 0:
        return "fee_charged"
    if t.captured_minor > 0:
        return "captured"
    if t.refunded_minor > 0:
        return "refunded"
    if t.released_minor > 0:
        return "released"
    if booking.payment_method_id:
        return "card_saved"
    return "none"


def refresh_payment_state(session: Session, booking: Booking) -> str:
    """Recompute the cached payment state; record a change on the timeline."""
    new = payment_state(booking, totals(session, booking))
    if new != booking.payment_state:
        old, booking.payment_state = booking.payment_state, new
        session.flush()
        record(session, booking, "payment_state_changed", events.SYSTEM, **{"from": old, "to": new})
    return new


def _lock_subject(session: Session, subject_id: str) -> None:
    lock(session, Booking, int(subject_id))


def on_refund(session: Session, payment: Payment, refund: Refund) -> None:
    """A refund Stripe confirmed: the credit note (avoir) that records it."""
    booking = session.get(Booking, int(payment.subject_id))
    if booking is None or booking.freelancer_id != payment.freelancer_id:
        return
    from webapp.booking.invoicing import credit_refund

    credit_refund(session, booking, payment, refund.amount_minor, refund.reason)


# Closed bookings that keep nothing of a late payment but a fee, if any.
CLOSED = (CANCELLED, "expired")


def subscribe_to_ledger() -> None:
    """What bookings hear from the ledger (the app factory's step; idempotent)."""
    outcomes.register_subject_lock(SUBJECT, _lock_subject)
    outcomes.subscribe_refunds(SUBJECT, on_refund)
    outcomes.subscribe(SUBJECT)(on_payment_change)


def on_payment_change(session: Session, payment: Payment, old: str, new: str) -> None:
    """Keep the booking in step with its payments (synchronous answers and webhooks)."""
    booking = session.get(Booking, int(payment.subject_id))
    if booking is None or booking.freelancer_id != payment.freelancer_id:
        return
    if (
        payment.purpose in SECURING
        and booking.status in CLOSED
        and new in (payments.AUTHORIZED, payments.SUCCEEDED)
    ):
        # Money that arrived after the booking closed (3-D Secure completed
        # after it expired, or while it was being cancelled): the choice is to
        # give it back in full (or down to the fee already due), never to
        # book a slot that may have gone to someone else. The settle sweep
        # does it, outside this transaction.
        booking.settle_due = True
        record(session, booking, "late_payment_to_return", events.SYSTEM, payment_id=payment.id)
    if payment.purpose in SECURING:
        if new in (payments.AUTHORIZED, payments.SUCCEEDED) and booking.status in (
            PENDING_PAYMENT,
            REQUIRES_ACTION,
        ):
            transition(session, booking, CONFIRMED, actor=events.SYSTEM, payment_id=payment.id)
            booking.pending_expires_at = None
            from webapp.booking import emails

            emails.send_confirmation(session, booking)
        elif new == payments.REQUIRES_ACTION and booking.status == PENDING_PAYMENT:
            transition(session, booking, REQUIRES_ACTION, actor=events.SYSTEM)
        elif new == payments.FAILED and booking.status == REQUIRES_ACTION:
            transition(session, booking, PENDING_PAYMENT, actor=events.SYSTEM)
    if new == payments.SUCCEEDED and payment.amount_captured_minor > 0:
        from webapp.booking.invoicing import invoice_payment

        invoice_payment(session, booking, payment)
    if new == payments.FAILED:
        record(
            session,
            booking,
            "booking_payment_failed",
            events.SYSTEM,
            payment_id=payment.id,
            purpose=payment.purpose,
            failure_code=payment.failure_code,
            off_session=payment.off_session,
        )
    refresh_payment_state(session, booking)


def settle(
    session: Session,
    gateway: PaymentGateway,
    booking: Booking,
    target_minor: int,
    *,
    now: datetime,
    actor: str,
    reason: str,
) -> list[int]:
    """Leave exactly `target_minor` with the freelancer; returns payments to execute.

    Captures, releases and refunds happen now (each under the payment's lock
    with its idempotency key). A missing amount becomes an off-session charge
    that is only *prepared*: the caller commits, then runs `execute`.
    """
    t = totals(session, booking)
    to_execute: list[int] = []
    for step in policies.settle_steps(target_minor, t.held, t.collected, now):
        if step.action == "capture":
            payments.capture(
                session,
                gateway,
                step.payment_id,
                amount_minor=step.amount_minor,
                now=now,
                actor=actor,
            )
        elif step.action == "release":
            payments.release(session, gateway, step.payment_id, now=now, actor=actor, reason=reason)
        elif step.action == "refund":
            # The credit note follows from the ledger (`on_refund`), here or
            # in the sweep when Stripe's answer was lost.
            payments.refund(
                session,
                gateway,
                step.payment_id,
                amount_minor=step.amount_minor,
                reason=reason,
                actor=actor,
            )
        elif policies.below_minimum(step.amount_minor, booking.currency):
            record(
                session,
                booking,
                "charge_waived_below_minimum",
                actor,
                amount_minor=step.amount_minor,
            )
        elif not booking.payment_method_id:
            record(
                session, booking, "charge_impossible_no_card", actor, amount_minor=step.amount_minor
            )
        else:
            payment = _prepare(session, booking, step.amount_minor, "balance", "automatic", True)
            to_execute.append(payment.id)
    # Released holds/refunds notify through the ledger; refunds alone do not.
    refresh_payment_state(session, booking)
    return to_execute


def _prepare(
    session: Session,
    booking: Booking,
    amount_minor: int,
    purpose: str,
    capture_method: str,
    off_session: bool,
) -> Payment:
    customer = session.get(PaymentCustomer, booking.customer_id)
    assert customer is not None and booking.payment_method_id
    return payments.prepare_payment(
        session,
        customer=customer,
        subject=subject(booking),
        purpose=purpose,
        amount=Money(amount_minor, booking.currency),
        payment_method_id=booking.payment_method_id,
        capture_method=capture_method,  # type: ignore[arg-type]
        off_session=off_session,
    )


def execute(
    session: Session, gateway: PaymentGateway, payment_ids: list[int], now: datetime
) -> None:
    """Run prepared payments (after their rows were committed); declines are outcomes."""
    for payment_id in payment_ids:
        try:
            payments.execute_payment(session, gateway, payment_id, now=now)
        except AlreadyDone:
            continue


def cancellation_quote(booking: Booking, now: datetime, t: Totals | None = None) -> dict:
    """What a client cancellation would cost right now, before they confirm it.

    `refund_amount_minor`: charged money that goes back; `release_amount_minor`:
    held money that is freed; the fee is kept (from the hold, the charge, or
    charged to the saved card when nothing covers it).
    """
    terms = terms_of(booking)
    if booking.status in (PENDING_PAYMENT, REQUIRES_ACTION):
        fee = 0
    else:
        fee = policies.cancellation_fee(terms, booking.start_at, now)
    if t is None:
        return {
            "fee_amount_minor": fee,
            "currency": booking.currency,
            "free_until": policies.free_cancel_until(booking.start_at, terms).isoformat(),
            "is_free": fee == 0,
            "allowed": booking.status in ACTIVE and now < booking.start_at,
        }
    from_charges = min(fee, t.captured_minor)
    from_hold = min(fee - from_charges, t.secured_minor)
    return {
        "fee_amount_minor": fee,
        "currency": booking.currency,
        "refund_amount_minor": t.captured_minor - from_charges,
        "release_amount_minor": t.secured_minor - from_hold,
        "free_until": policies.free_cancel_until(booking.start_at, terms).isoformat(),
        "is_free": fee == 0,
        "allowed": booking.status in ACTIVE and now < booking.start_at,
    }


def settings_grace(config: dict) -> timedelta:
    """Session end plus this: when the money is collected."""
    return timedelta(minutes=int(config.get("BOOKING_CAPTURE_GRACE_MINUTES", 60)))


def lock_booking(session: Session, booking_id: int) -> Booking:
    """The booking, locked for the rest of the transaction."""
    booking = lock(session, Booking, booking_id)
    if booking is None:
        raise NotFound(f"no booking {booking_id}")
    return booking


def offering_hold_lead(session: Session, booking: Booking) -> timedelta:
    """The freelancer's chosen lead time for far-away holds."""
    offering = session.get(Offering, booking.offering_id)
    return timedelta(hours=offering.hold_lead_hours if offering else 72)


def save_card(session: Session, gateway: PaymentGateway, booking: Booking) -> CardSetup:
    """Read the card the browser saved; `NotAllowed` if it is not saved yet."""
    assert booking.card_setup_id is not None
    setup = cards.complete_card_setup(session, gateway, booking.card_setup_id)
    if booking.payment_method_id != setup.payment_method_id:
        booking.payment_method_id = setup.payment_method_id
        session.flush()
    return setup


def hold_policy_unsecured(booking: Booking) -> bool:
    """A confirmed `hold` booking whose hold is not (or no longer) in place."""
    return (
        booking.status == CONFIRMED
        and booking.payment_policy == HOLD
        and booking.payment_state in ("card_saved", "failed", "released")
    )
