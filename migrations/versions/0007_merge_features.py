"""Merge the feature branches (invoices, booking, quotes, messages, dunning).

Each feature was developed on its own branch from 0001; from here on the
history is linear again.

Revision ID: 0007_merge_features
Revises: 0002_invoices, 0003_booking, 0004_quotes, 0005_messages, 0006_dunning
"""

revision = "0007_merge_features"
down_revision = ("0002_invoices", "0003_booking", "0004_quotes", "0005_messages", "0006_dunning")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
