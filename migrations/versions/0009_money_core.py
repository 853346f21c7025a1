"""The money core: which Stripe account holds each object, Stripe writes in flight,
booking settlement after the closing, indexes for the due sweeps.

Revision ID: 0009_money_core
Revises: 0008_vat_number
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_money_core"
down_revision = "0008_vat_number"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment_customer") as batch:
        batch.add_column(sa.Column("stripe_account", sa.String(length=80), nullable=True))
    with op.batch_alter_table("card_setup") as batch:
        batch.add_column(sa.Column("stripe_account", sa.String(length=80), nullable=True))
    with op.batch_alter_table("payment") as batch:
        batch.add_column(sa.Column("stripe_account", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("in_flight", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("in_flight_since", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_payment_status", ["status"])
    with op.batch_alter_table("refund") as batch:
        batch.create_index("ix_refund_status", ["status"])
    with op.batch_alter_table("booking") as batch:
        batch.add_column(sa.Column("settle_target_minor", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("settle_due", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_index("ix_booking_settle_due", ["settle_due"])


def downgrade() -> None:
    with op.batch_alter_table("booking") as batch:
        batch.drop_index("ix_booking_settle_due")
        batch.drop_column("settle_due")
        batch.drop_column("settle_target_minor")
    with op.batch_alter_table("refund") as batch:
        batch.drop_index("ix_refund_status")
    with op.batch_alter_table("payment") as batch:
        batch.drop_index("ix_payment_status")
        batch.drop_column("in_flight_since")
        batch.drop_column("in_flight")
        batch.drop_column("stripe_account")
    with op.batch_alter_table("card_setup") as batch:
        batch.drop_column("stripe_account")
    with op.batch_alter_table("payment_customer") as batch:
        batch.drop_column("stripe_account")
