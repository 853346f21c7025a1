"""What each person chose to hear, and the notices that must go out once only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base, UTCDateTime, utcnow


class NotificationOptOut(Base):
    """A notice the freelancer chose not to receive (every notice is on by default)."""

    __tablename__ = "notification_opt_out"

    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), primary_key=True)
    event: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NoticeSent(Base):
    """A notice sent on a schedule (a session reminder): the unique key makes it once only."""

    __tablename__ = "notice_sent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("kind", "subject_type", "subject_id", name="uq_notice_once"),
    )
