"""Every e-mail the app sends, kept: the outbox in development, the audit trail always."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base, UTCDateTime, utcnow


class OutboundEmail(Base):
    """One e-mail: stored first, then delivered by SMTP when `SMTP_URL` is set."""

    __tablename__ = "outbound_email"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int | None] = mapped_column(ForeignKey("freelancer.id"), index=True)
    to_addr: Mapped[str] = mapped_column(String(320))
    # Answers go to the freelancer, not to Acompte's sender address.
    reply_to: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    # [{filename, content_type, data_b64}]: .ics invitations, PDF invoices.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # outbox (no SMTP configured) | queued | sent | failed
    status: Mapped[str] = mapped_column(String(20), default="queued")
    error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # E-mails left queued or failed (the mail due kind).
    __table_args__ = (Index("ix_outbound_email_status_created", "status", "created_at"),)
