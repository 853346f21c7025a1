"""E-invoices handed to the approved platform: each one's transmission state (issue 12).

Revision ID: 0020_einvoice_transmission
Revises: 0019_back_office
"""

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision = "0020_einvoice_transmission"
down_revision = "0019_back_office"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoice_einvoice") as batch:
        batch.add_column(sa.Column("transmission", sa.String(length=20), nullable=True))
        batch.add_column(
            sa.Column("transmission_ref", sa.String(length=200), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("transmission_error", sa.Text(), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("transmission_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("transmitted_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("retry_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
    op.execute(sa.text("UPDATE invoice_einvoice SET updated_at = created_at"))
    with op.batch_alter_table("invoice_einvoice") as batch:
        batch.alter_column("updated_at", existing_type=UTCDateTime(), nullable=False)
        batch.create_index(
            "ix_einvoice_untransmitted",
            ["id"],
            postgresql_where=sa.text("transmission IS NULL"),
            sqlite_where=sa.text("transmission IS NULL"),
        )
        batch.create_index("ix_einvoice_transmission_retry", ["transmission", "retry_at"])


def downgrade() -> None:
    with op.batch_alter_table("invoice_einvoice") as batch:
        batch.drop_index("ix_einvoice_transmission_retry")
        batch.drop_index("ix_einvoice_untransmitted")
        for column in (
            "updated_at",
            "retry_at",
            "transmitted_at",
            "transmission_attempts",
            "transmission_error",
            "transmission_ref",
            "transmission",
        ):
            batch.drop_column(column)
