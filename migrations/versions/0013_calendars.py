"""Calendar connections, busy intervals and written-back events (issue 16).

Revision ID: 0013_calendars
Revises: 0012_documents
"""

revision = "0013_calendars"
down_revision = "0012_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
