"""Notifications: the client's language and what each person was told (issue 13).

Revision ID: 0014_notifications
Revises: 0013_calendars
"""

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision = "0014_notifications"
down_revision = "0013_calendars"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("booking") as batch:
        batch.add_column(
            sa.Column("client_locale", sa.String(length=5), nullable=False, server_default="fr")
        )
    with op.batch_alter_table("quote") as batch:
        batch.add_column(
            sa.Column("client_locale", sa.String(length=5), nullable=False, server_default="fr")
        )
    with op.batch_alter_table("booking_offering") as batch:
        batch.add_column(
            sa.Column("location", sa.String(length=500), nullable=False, server_default="")
        )
    with op.batch_alter_table("outbound_email") as batch:
        batch.add_column(sa.Column("reply_to", sa.String(length=320), nullable=True))
    op.create_table(
        "notification_opt_out",
        sa.Column("freelancer_id", sa.Integer(), sa.ForeignKey("freelancer.id"), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("freelancer_id", "event"),
    )
    op.create_table(
        "notice_sent",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("kind", "subject_type", "subject_id", name="uq_notice_once"),
    )


def downgrade() -> None:
    op.drop_table("notice_sent")
    op.drop_table("notification_opt_out")
    with op.batch_alter_table("outbound_email") as batch:
        batch.drop_column("reply_to")
    with op.batch_alter_table("booking_offering") as batch:
        batch.drop_column("location")
    with op.batch_alter_table("quote") as batch:
        batch.drop_column("client_locale")
    with op.batch_alter_table("booking") as batch:
        batch.drop_column("client_locale")
