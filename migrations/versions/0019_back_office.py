"""Back office: what the freelancer's pages need (issue 15).

Revision ID: 0019_back_office
Revises: 0018_books
"""

revision = "0019_back_office"
down_revision = "0018_books"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
