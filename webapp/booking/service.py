"""The freelancer's catalogue: offerings, availability, and the free slots they make.

Plain operations that take a session, flush and never commit; the views
commit. Bookings occupy the slots (`busy_spans`); claiming one is `claim`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events
from billing.db import utcnow
from webapp.accounts.models import Freelancer
from webapp.booking.errors import NotFound
from webapp.booking.models import ACTIVE, Availability, Booking, Offering
from webapp.booking.slots import MAX_SPAN, Rules, Slot, SlotSpec, free_slots
from webapp.calendars.store import busy_between


def freelancer_by_slug(session: Session, slug: str) -> Freelancer:
    """The active freelancer behind a public page, or `NotFound`."""
    freelancer = session.scalar(select(Freelancer).where(Freelancer.slug == slug))
    if freelancer is None or not freelancer.is_active:
        raise NotFound(f"no freelancer {slug}")
    return freelancer


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
    """Free slots of `offering` starting in the window.

    Busy: the freelancer's active bookings and the busy times of their
    blocking calendars; `ignore_bookings` ignores both (is the time offered
    at all?). A claim calls this inside its transaction, after its lock.
    """
    now = now or utcnow()
    availability = get_availability(session, freelancer)
    rules = Rules(availability.timezone, availability.weekly, availability.exceptions)
    busy = (
        []
        if ignore_bookings
        else busy_spans(
            session, freelancer.id, window_start, window_end, exclude_booking_id=exclude_booking_id
        )
        # The freelancer's own calendars, as last synced (never a remote call).
        + busy_between(session, freelancer.id, window_start, window_end)
    )
    return free_slots(
        rules,
        spec_of(offering),
        busy=busy,
        window_start=window_start,
        window_end=window_end,
        now=now,
    )
