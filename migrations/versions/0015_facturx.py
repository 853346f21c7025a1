"""Factur-X: each issued document's CII XML, and the supplier invoices received (issue 12).

Revision ID: 0015_facturx
Revises: 0014_notifications
"""

revision = "0015_facturx"
down_revision = "0014_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
