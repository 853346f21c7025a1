"""Back office forms (issue 15): the freelancer's description and photo on the booking page.

Revision ID: 0023_office_forms
Revises: 0022_books_exports
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_office_forms"
down_revision = "0022_books_exports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("freelancer") as batch:
        batch.add_column(sa.Column("bio", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("photo", sa.LargeBinary(), nullable=True))
        batch.add_column(
            sa.Column("photo_type", sa.String(length=20), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("photo_sha256", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("freelancer") as batch:
        batch.drop_column("photo_sha256")
        batch.drop_column("photo_type")
        batch.drop_column("photo")
        batch.drop_column("bio")
