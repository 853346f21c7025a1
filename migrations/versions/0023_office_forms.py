"""Back office forms (issue 15).

Revision ID: 0023_office_forms
Revises: 0022_books_exports
"""

revision = "0023_office_forms"
down_revision = "0022_books_exports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
