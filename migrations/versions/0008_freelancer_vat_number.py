"""The freelancer's intra-EU VAT number (mandatory on invoices when VAT is charged).

Revision ID: 0008_vat_number
Revises: 0007_merge_features
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_vat_number"
down_revision = "0007_merge_features"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("freelancer") as batch:
        batch.add_column(
            sa.Column("vat_number", sa.String(length=20), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("freelancer") as batch:
        batch.drop_column("vat_number")
