"""The freelancer's own calendars: connections, their calendars, busy times, write-back.

A `CalendarConnection` is one CalDAV account or one ICS feed URL. Its
`ConnectedCalendar` rows are what it offers (a CalDAV account's calendars,
the feed itself): each may block slots, and one of the freelancer's may
receive bookings. `BusyTime` holds the busy intervals of the last good read
of each blocking calendar within the booking horizon, so slot requests never
call a remote server. `CalendarWrite` is the outbox of the write-back (one
row per booking change) and `WrittenEvent` remembers where a booking's
event was written, so a move or a cancellation reaches the same calendar.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base, UTCDateTime, utcnow

CALDAV, ICS = "caldav", "ics"
KINDS = (CALDAV, ICS)
# Connection statuses: never read yet, last read good, last read failed.
PENDING, OK, FAILING = "pending", "ok", "failing"


class CalendarConnection(Base):
    """One CalDAV account or ICS feed of a freelancer, and how its last reads went."""

    __tablename__ = "calendar_connection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(String(2000))
    username: Mapped[str | None] = mapped_column(String(320))
    # Encrypted with the app's SecretBox, like the Stripe keys.
    password_enc: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_sync_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The freelancer is told once per run of failures; cleared by a good read.
    failure_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('caldav', 'ics')", name="kind"),
        CheckConstraint("status IN ('pending', 'ok', 'failing')", name="status"),
    )


class ConnectedCalendar(Base):
    """One calendar of a connection: does it block slots, does it receive bookings."""

    __tablename__ = "calendar_calendar"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("calendar_connection.id"), index=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    name: Mapped[str] = mapped_column(String(200))
    blocks: Mapped[bool] = mapped_column(Boolean, default=True)
    receives_bookings: Mapped[bool] = mapped_column(Boolean, default=False)
    # The source's ctag (CalDAV) or ETag (ICS) at the last good read.
    sync_tag: Mapped[str | None] = mapped_column(String(255))
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("connection_id", "url"),)


class BusyTime(Base):
    """A busy interval of a blocking calendar (pieces of at most a day, see `busy`)."""

    __tablename__ = "calendar_busy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendar_calendar.id"), index=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Slot requests read one freelancer's busy times in a window only.
        Index("ix_calendar_busy_freelancer_start", "freelancer_id", "start_at"),
        CheckConstraint("end_at > start_at", name="ends_after_start"),
    )


class CalendarWrite(Base):
    """The write-back outbox: a booking changed, make its calendar event match it."""

    __tablename__ = "calendar_write"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id"), index=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_calendar_write_pending", "done_at", "due_at"),)


class WrittenEvent(Base):
    """Where a booking's event was written (one per booking)."""

    __tablename__ = "calendar_written_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id"), unique=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendar_calendar.id"), index=True)
    href: Mapped[str] = mapped_column(String(2000))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
