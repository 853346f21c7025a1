"""Payments read by subject, writes in doubt and expiring quotes, from indexes (issue 14).

`ix_payment_subject`: a booking's (milestone's, question's…) payments, read by
every totals computation, were a scan of the whole table. `ix_payment_in_flight`
(partial: only rows marked in flight): the reconcile sweep's writes in doubt.
`ix_quote_status_valid_until`: the quote expiry sweep.

Revision ID: 0016_payment_indexes
Revises: 0015_facturx
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_payment_indexes"
down_revision = "0015_facturx"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_quote_status_valid_until", "quote", ["status", "valid_until"])
    op.create_index("ix_payment_subject", "payment", ["subject_type", "subject_id"])
    op.create_index(
        "ix_payment_in_flight",
        "payment",
        ["in_flight_since"],
        postgresql_where=sa.text("in_flight IS NOT NULL"),
        sqlite_where=sa.text("in_flight IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_payment_in_flight", table_name="payment")
    op.drop_index("ix_payment_subject", table_name="payment")
    op.drop_index("ix_quote_status_valid_until", table_name="quote")
