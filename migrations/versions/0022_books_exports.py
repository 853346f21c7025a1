"""Books: exports and Stripe reconciliation (issue 17).

Revision ID: 0022_books_exports
Revises: 0021_checkout_notices
"""

revision = "0022_books_exports"
down_revision = "0021_checkout_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
