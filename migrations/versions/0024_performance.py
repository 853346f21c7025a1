"""Performance (issue 14).

Revision ID: 0024_performance
Revises: 0023_office_forms
"""

revision = "0024_performance"
down_revision = "0023_office_forms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
