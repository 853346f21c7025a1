"""Checkout and notices (issue 13).

Revision ID: 0021_checkout_notices
Revises: 0020_einvoice_transmission
"""

revision = "0021_checkout_notices"
down_revision = "0020_einvoice_transmission"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
