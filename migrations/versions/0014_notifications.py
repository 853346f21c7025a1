"""Notifications: the client's language and what each person was told (issue 13).

Revision ID: 0014_notifications
Revises: 0013_calendars
"""

revision = "0014_notifications"
down_revision = "0013_calendars"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
