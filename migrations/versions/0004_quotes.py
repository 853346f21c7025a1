"""Quotes with milestones: quote, quote_version, quote_acceptance, milestone.

Revision ID: 0004_quotes
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import billing.db

revision = "0004_quotes"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("freelancer_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("client_name", sa.String(length=200), nullable=False),
        sa.Column("client_email", sa.String(length=320), nullable=False),
        sa.Column("client_company", sa.String(length=200), nullable=False),
        sa.Column("client_siret", sa.String(length=14), nullable=False),
        sa.Column("client_address", sa.Text(), nullable=False),
        sa.Column("client_is_business", sa.Boolean(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("auto_approve_days", sa.Integer(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("public_token_hash", sa.String(length=64), nullable=False),
        sa.Column("public_token_enc", sa.Text(), nullable=False),
        sa.Column("acceptance_id", sa.Integer(), nullable=True),
        sa.Column("card_setup_id", sa.Integer(), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'sent', 'viewed', 'accepted', 'declined', 'expired')",
            name=op.f("ck_quote_status"),
        ),
        sa.CheckConstraint(
            "auto_approve_days >= 1 AND auto_approve_days <= 60", name=op.f("ck_quote_auto_days")
        ),
        sa.CheckConstraint("currency = lower(currency)", name=op.f("ck_quote_currency_lower")),
        sa.CheckConstraint("total_minor > 0", name=op.f("ck_quote_total_positive")),
        sa.ForeignKeyConstraint(
            ["card_setup_id"], ["card_setup.id"], name=op.f("fk_quote_card_setup_id_card_setup")
        ),
        sa.ForeignKeyConstraint(
            ["freelancer_id"], ["freelancer.id"], name=op.f("fk_quote_freelancer_id_freelancer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quote")),
        sa.UniqueConstraint("acceptance_id", name=op.f("uq_quote_acceptance_id")),
        sa.UniqueConstraint("public_token_hash", name=op.f("uq_quote_public_token_hash")),
    )
    op.create_index(op.f("ix_quote_freelancer_id"), "quote", ["freelancer_id"], unique=False)
    op.create_table(
        "milestone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quote_id", sa.Integer(), nullable=False),
        sa.Column("freelancer_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("percent_bp", sa.Integer(), nullable=True),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("delivered_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivery_note", sa.Text(), nullable=False),
        sa.Column("auto_approve_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminder_sent_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=20), nullable=True),
        sa.Column("objection_reason", sa.Text(), nullable=False),
        sa.Column("client_token_hash", sa.String(length=64), nullable=True),
        sa.Column("paid_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paid_by", sa.String(length=20), nullable=True),
        sa.Column("created_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'approved', 'objected', 'charging', 'paid',"
            " 'payment_failed', 'cancelled')",
            name=op.f("ck_milestone_status"),
        ),
        sa.CheckConstraint(
            "trigger != 'on_date' OR due_date IS NOT NULL", name=op.f("ck_milestone_date_needs_due")
        ),
        sa.CheckConstraint(
            "trigger IN ('on_acceptance', 'on_approval', 'on_date')",
            name=op.f("ck_milestone_trigger"),
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_milestone_amount_positive")),
        sa.CheckConstraint("currency = lower(currency)", name=op.f("ck_milestone_currency_lower")),
        sa.ForeignKeyConstraint(
            ["freelancer_id"], ["freelancer.id"], name=op.f("fk_milestone_freelancer_id_freelancer")
        ),
        sa.ForeignKeyConstraint(
            ["quote_id"], ["quote.id"], name=op.f("fk_milestone_quote_id_quote")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestone")),
        sa.UniqueConstraint("client_token_hash", name=op.f("uq_milestone_client_token_hash")),
        sa.UniqueConstraint("quote_id", "position", name=op.f("uq_milestone_quote_id_position")),
    )
    op.create_index(
        op.f("ix_milestone_freelancer_id"), "milestone", ["freelancer_id"], unique=False
    )
    op.create_index(op.f("ix_milestone_quote_id"), "milestone", ["quote_id"], unique=False)
    op.create_table(
        "quote_acceptance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quote_id", sa.Integer(), nullable=False),
        sa.Column("freelancer_id", sa.Integer(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("terms_accepted", sa.Boolean(), nullable=False),
        sa.Column("signed_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("card_setup_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'superseded')",
            name=op.f("ck_quote_acceptance_status"),
        ),
        sa.CheckConstraint("terms_accepted", name=op.f("ck_quote_acceptance_terms_accepted")),
        sa.ForeignKeyConstraint(
            ["card_setup_id"],
            ["card_setup.id"],
            name=op.f("fk_quote_acceptance_card_setup_id_card_setup"),
        ),
        sa.ForeignKeyConstraint(
            ["freelancer_id"],
            ["freelancer.id"],
            name=op.f("fk_quote_acceptance_freelancer_id_freelancer"),
        ),
        sa.ForeignKeyConstraint(
            ["quote_id"], ["quote.id"], name=op.f("fk_quote_acceptance_quote_id_quote")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quote_acceptance")),
    )
    op.create_index(
        op.f("ix_quote_acceptance_freelancer_id"),
        "quote_acceptance",
        ["freelancer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_quote_acceptance_quote_id"), "quote_acceptance", ["quote_id"], unique=False
    )
    op.create_table(
        "quote_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quote_id", sa.Integer(), nullable=False),
        sa.Column("freelancer_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["freelancer_id"],
            ["freelancer.id"],
            name=op.f("fk_quote_version_freelancer_id_freelancer"),
        ),
        sa.ForeignKeyConstraint(
            ["quote_id"], ["quote.id"], name=op.f("fk_quote_version_quote_id_quote")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quote_version")),
        sa.UniqueConstraint("quote_id", "number", name=op.f("uq_quote_version_quote_id_number")),
    )
    op.create_index(
        op.f("ix_quote_version_freelancer_id"), "quote_version", ["freelancer_id"], unique=False
    )
    op.create_index(op.f("ix_quote_version_quote_id"), "quote_version", ["quote_id"], unique=False)


def downgrade() -> None:
    op.drop_table("quote_version")
    op.drop_table("quote_acceptance")
    op.drop_table("milestone")
    op.drop_table("quote")
