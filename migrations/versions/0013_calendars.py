"""Calendar connections, busy intervals and written-back events (issue 16).

Revision ID: 0013_calendars
Revises: 0012_documents
"""

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision = "0013_calendars"
down_revision = "0012_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_connection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("freelancer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=True),
        sa.Column("password_enc", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_synced_at", UTCDateTime(), nullable=True),
        sa.Column("next_sync_at", UTCDateTime(), nullable=False),
        sa.Column("failure_notified_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('caldav', 'ics')", name=op.f("ck_calendar_connection_kind")),
        sa.CheckConstraint(
            "status IN ('pending', 'ok', 'failing')", name=op.f("ck_calendar_connection_status")
        ),
        sa.ForeignKeyConstraint(
            ["freelancer_id"],
            ["freelancer.id"],
            name=op.f("fk_calendar_connection_freelancer_id_freelancer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_connection")),
    )
    op.create_index(
        op.f("ix_calendar_connection_freelancer_id"), "calendar_connection", ["freelancer_id"]
    )
    op.create_index(
        op.f("ix_calendar_connection_next_sync_at"), "calendar_connection", ["next_sync_at"]
    )
    op.create_table(
        "calendar_calendar",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("freelancer_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("blocks", sa.Boolean(), nullable=False),
        sa.Column("receives_bookings", sa.Boolean(), nullable=False),
        sa.Column("sync_tag", sa.String(length=255), nullable=True),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["calendar_connection.id"],
            name=op.f("fk_calendar_calendar_connection_id_calendar_connection"),
        ),
        sa.ForeignKeyConstraint(
            ["freelancer_id"],
            ["freelancer.id"],
            name=op.f("fk_calendar_calendar_freelancer_id_freelancer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_calendar")),
        sa.UniqueConstraint(
            "connection_id", "url", name=op.f("uq_calendar_calendar_connection_id_url")
        ),
    )
    op.create_index(
        op.f("ix_calendar_calendar_connection_id"), "calendar_calendar", ["connection_id"]
    )
    op.create_index(
        op.f("ix_calendar_calendar_freelancer_id"), "calendar_calendar", ["freelancer_id"]
    )
    op.create_table(
        "calendar_busy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("freelancer_id", sa.Integer(), nullable=False),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("end_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_calendar_busy_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendar_calendar.id"],
            name=op.f("fk_calendar_busy_calendar_id_calendar_calendar"),
        ),
        sa.ForeignKeyConstraint(
            ["freelancer_id"],
            ["freelancer.id"],
            name=op.f("fk_calendar_busy_freelancer_id_freelancer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_busy")),
    )
    op.create_index(op.f("ix_calendar_busy_calendar_id"), "calendar_busy", ["calendar_id"])
    op.create_index(
        "ix_calendar_busy_freelancer_start", "calendar_busy", ["freelancer_id", "start_at"]
    )
    op.create_table(
        "calendar_write",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("freelancer_id", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["booking.id"], name=op.f("fk_calendar_write_booking_id_booking")
        ),
        sa.ForeignKeyConstraint(
            ["freelancer_id"],
            ["freelancer.id"],
            name=op.f("fk_calendar_write_freelancer_id_freelancer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_write")),
    )
    op.create_index(op.f("ix_calendar_write_booking_id"), "calendar_write", ["booking_id"])
    op.create_index("ix_calendar_write_pending", "calendar_write", ["done_at", "due_at"])
    op.create_table(
        "calendar_written_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("href", sa.String(length=2000), nullable=False),
        sa.Column("written_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["booking.id"],
            name=op.f("fk_calendar_written_event_booking_id_booking"),
        ),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendar_calendar.id"],
            name=op.f("fk_calendar_written_event_calendar_id_calendar_calendar"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_written_event")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_calendar_written_event_booking_id")),
    )
    op.create_index(
        op.f("ix_calendar_written_event_calendar_id"), "calendar_written_event", ["calendar_id"]
    )


def downgrade() -> None:
    op.drop_table("calendar_written_event")
    op.drop_table("calendar_write")
    op.drop_table("calendar_busy")
    op.drop_table("calendar_calendar")
    op.drop_table("calendar_connection")
