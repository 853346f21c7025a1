"""The freelancer's public version: the key of the cached public profile (issue 14).

Revision ID: 0017_public_version
Revises: 0016_payment_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_public_version"
down_revision = "0016_payment_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("freelancer") as batch:
        batch.add_column(
            sa.Column("public_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("freelancer") as batch:
        batch.drop_column("public_version")
