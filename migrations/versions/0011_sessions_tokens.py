"""Session versions (log-out ends every copy of a session) and API tokens' expiry and label.

Revision ID: 0011_sessions_tokens
Revises: 0010_due_indexes
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision = "0011_sessions_tokens"
down_revision = "0010_due_indexes"
branch_labels = None
depends_on = None

# Tokens issued before expiry existed get the default lifetime from now.
LEGACY_TOKEN_DAYS = 90


def upgrade() -> None:
    with op.batch_alter_table("freelancer") as batch:
        batch.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(
            sa.Column("label", sa.String(length=100), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
    api_token = sa.table("api_token", sa.column("expires_at", UTCDateTime()))
    op.execute(
        api_token.update().values(expires_at=datetime.now(UTC) + timedelta(days=LEGACY_TOKEN_DAYS))
    )
    with op.batch_alter_table("api_token") as batch:
        batch.alter_column("expires_at", existing_type=UTCDateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("label")
    with op.batch_alter_table("freelancer") as batch:
        batch.drop_column("session_version")
