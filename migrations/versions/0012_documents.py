"""Documents: legal identity, client addresses, invoice kinds, stored issued PDFs (issue 11).

Revision ID: 0012_documents
Revises: 0011_sessions_tokens
"""

revision = "0012_documents"
down_revision = "0011_sessions_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
