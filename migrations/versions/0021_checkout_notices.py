"""Checkout and notices (issue 13): a payment that saves its card; notices sent once.

- `payment.setup_future_usage`: a client-present payment made with a card given
  on the page (no SetupIntent) also saves the card for off-session charges
  ("off_session"); kept on the row so a create redone after a lost answer asks
  Stripe the same.
- `notice_sent` rows for what was already told before the catch-up sweep
  (`booking-notices`) existed: every cancelled booking, every failed
  off-session hold — so the sweep never sends an old notice again.

Revision ID: 0021_checkout_notices
Revises: 0020_einvoice_transmission
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_checkout_notices"
down_revision = "0020_einvoice_transmission"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment") as batch:
        batch.add_column(sa.Column("setup_future_usage", sa.String(length=20), nullable=True))
    op.execute(
        sa.text(
            "INSERT INTO notice_sent (kind, subject_type, subject_id, sent_at) "
            "SELECT 'booking_cancelled', 'booking', CAST(id AS VARCHAR(64)), CURRENT_TIMESTAMP "
            "FROM booking WHERE status = 'cancelled'"
        )
    )
    op.execute(
        sa.text(
            "INSERT INTO notice_sent (kind, subject_type, subject_id, sent_at) "
            "SELECT 'fix_card', 'payment', CAST(id AS VARCHAR(64)), CURRENT_TIMESTAMP "
            "FROM payment WHERE subject_type = 'booking' AND purpose = 'hold' "
            "AND off_session AND status = 'failed'"
        )
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM notice_sent WHERE kind IN ('booking_cancelled', 'fix_card')"))
    with op.batch_alter_table("payment") as batch:
        batch.drop_column("setup_future_usage")
