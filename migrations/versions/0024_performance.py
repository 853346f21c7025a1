"""Recent events of one kind from an index: the late-money notices' sweep (issues 13, 14).

Revision ID: 0024_performance
Revises: 0023_office_forms
"""

from alembic import op

revision = "0024_performance"
down_revision = "0023_office_forms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_event_action_occurred", "event", ["action", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_event_action_occurred", table_name="event")
