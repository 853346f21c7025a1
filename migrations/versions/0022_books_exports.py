"""Books: exports and Stripe reconciliation (issue 17).

Stripe payouts and the balance transactions each paid out (gross, fee, net), a
payout's bank statement line, and the freelancer's FEC account numbers.

Revision ID: 0022_books_exports
Revises: 0021_checkout_notices
"""

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision = "0022_books_exports"
down_revision = "0021_checkout_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_payout",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("freelancer_id", sa.Integer(), sa.ForeignKey("freelancer.id"), nullable=False),
        sa.Column("stripe_account", sa.String(80), nullable=True),
        sa.Column("stripe_payout_id", sa.String(255), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("arrival_on", sa.Date(), nullable=False),
        sa.Column("statement_descriptor", sa.String(100), nullable=False),
        sa.Column(
            "bank_line_id", sa.Integer(), sa.ForeignKey("bank_line.id"), nullable=True, unique=True
        ),
        sa.Column("synced_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("freelancer_id", "stripe_payout_id"),
        sa.CheckConstraint("currency = lower(currency)", name="currency_lower"),
    )
    op.create_index(op.f("ix_stripe_payout_freelancer_id"), "stripe_payout", ["freelancer_id"])
    op.create_table(
        "stripe_balance_txn",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("freelancer_id", sa.Integer(), sa.ForeignKey("freelancer.id"), nullable=False),
        sa.Column("payout_id", sa.Integer(), sa.ForeignKey("stripe_payout.id"), nullable=False),
        sa.Column("stripe_txn_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=False),
        sa.Column("payment_intent_id", sa.String(255), nullable=False),
        sa.UniqueConstraint("freelancer_id", "stripe_txn_id"),
        sa.CheckConstraint("net_minor = amount_minor - fee_minor", name="net_is_amount_less_fee"),
    )
    op.create_index(
        op.f("ix_stripe_balance_txn_freelancer_id"), "stripe_balance_txn", ["freelancer_id"]
    )
    op.create_index(op.f("ix_stripe_balance_txn_payout_id"), "stripe_balance_txn", ["payout_id"])
    op.create_table(
        "books_settings",
        sa.Column("freelancer_id", sa.Integer(), sa.ForeignKey("freelancer.id"), primary_key=True),
        sa.Column("accounts", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("books_settings")
    op.drop_index(op.f("ix_stripe_balance_txn_payout_id"), table_name="stripe_balance_txn")
    op.drop_index(op.f("ix_stripe_balance_txn_freelancer_id"), table_name="stripe_balance_txn")
    op.drop_table("stripe_balance_txn")
    op.drop_index(op.f("ix_stripe_payout_freelancer_id"), table_name="stripe_payout")
    op.drop_table("stripe_payout")
