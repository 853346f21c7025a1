"""The books: bank statements and their lines, transfer matches, invoices by hand (issue 17).

Revision ID: 0018_books
Revises: 0017_public_version
"""

revision = "0018_books"
down_revision = "0017_public_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
