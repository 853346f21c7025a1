"""Indexes behind the due kinds' searches (each finds its items by status and a time).

Revision ID: 0010_due_indexes
Revises: 0009_money_core
"""

from alembic import op

revision = "0010_due_indexes"
down_revision = "0009_money_core"
branch_labels = None
depends_on = None

INDEXES = (
    ("booking", "ix_booking_status_pending", ["status", "pending_expires_at"]),
    ("booking", "ix_booking_status_hold_due", ["status", "hold_due_at"]),
    ("booking", "ix_booking_status_end", ["status", "end_at"]),
    ("milestone", "ix_milestone_status_auto_approve", ["status", "auto_approve_at"]),
    ("invoice", "ix_invoice_status_due", ["status", "due_date"]),
    ("outbound_email", "ix_outbound_email_status_created", ["status", "created_at"]),
    ("dunning_case", "ix_dunning_case_status_updated", ["status", "updated_at"]),
    ("webhook_event", "ix_webhook_event_status_received", ["status", "received_at"]),
    ("payment", "ix_payment_status_updated", ["status", "updated_at"]),
)


def upgrade() -> None:
    # The payment sweep reads (status, updated_at): the status-only index is redundant.
    op.drop_index("ix_payment_status", table_name="payment")
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for table, name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.create_index("ix_payment_status", "payment", ["status"])
