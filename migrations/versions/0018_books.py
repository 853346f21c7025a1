"""The books: bank statements and their lines, transfer matches, invoices by hand (issue 17).

Revision ID: 0018_books
Revises: 0017_public_version
"""

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision = "0018_books"
down_revision = "0017_public_version"
branch_labels = None
depends_on = None

_SIGNED = (
    "(reverses_id IS NULL AND amount_minor > 0) OR (reverses_id IS NOT NULL AND amount_minor < 0)"
)


def _defer_foreign_keys() -> None:
    # As in 0012: SQLite rebuilds invoice_payment (batch mode) to change its CHECK.
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if bind.connection.dbapi_connection.in_transaction:
        op.execute("PRAGMA defer_foreign_keys = ON")
    else:
        op.execute("PRAGMA foreign_keys = OFF")


def upgrade() -> None:
    _defer_foreign_keys()
    with op.batch_alter_table("invoice_payment") as batch:
        batch.add_column(sa.Column("reverses_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_invoice_payment_reverses_id_invoice_payment"),
            "invoice_payment",
            ["reverses_id"],
            ["id"],
        )
        batch.create_unique_constraint(op.f("uq_invoice_payment_reverses_id"), ["reverses_id"])
        batch.drop_constraint(op.f("ck_invoice_payment_amount_positive"), type_="check")
        batch.create_check_constraint(op.f("ck_invoice_payment_amount_positive"), _SIGNED)
    op.create_table(
        "bank_statement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("freelancer_id", sa.Integer(), sa.ForeignKey("freelancer.id"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("freelancer_id", "sha256"),
        sa.CheckConstraint("format IN ('camt053', 'camt054', 'ofx', 'csv')", name="format"),
    )
    op.create_index(op.f("ix_bank_statement_freelancer_id"), "bank_statement", ["freelancer_id"])
    op.create_table(
        "bank_line",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("freelancer_id", sa.Integer(), sa.ForeignKey("freelancer.id"), nullable=False),
        sa.Column("statement_id", sa.Integer(), sa.ForeignKey("bank_statement.id"), nullable=False),
        sa.Column("bank_reference", sa.String(200), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("counterparty", sa.String(200), nullable=False),
        sa.Column("remittance", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("freelancer_id", "bank_reference"),
        sa.CheckConstraint("amount_minor <> 0", name="amount_not_zero"),
        sa.CheckConstraint("currency = lower(currency)", name="currency_lower"),
    )
    op.create_index(op.f("ix_bank_line_freelancer_id"), "bank_line", ["freelancer_id"])
    op.create_index(op.f("ix_bank_line_statement_id"), "bank_line", ["statement_id"])
    op.create_table(
        "bank_match",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("freelancer_id", sa.Integer(), sa.ForeignKey("freelancer.id"), nullable=False),
        sa.Column("line_id", sa.Integer(), sa.ForeignKey("bank_line.id"), nullable=False),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoice.id"), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("how", sa.String(20), nullable=False),
        sa.Column(
            "payment_id",
            sa.Integer(),
            sa.ForeignKey("invoice_payment.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column(
            "reversal_payment_id",
            sa.Integer(),
            sa.ForeignKey("invoice_payment.id"),
            nullable=True,
            unique=True,
        ),
        sa.Column("undone_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint("how IN ('number', 'amount_name', 'manual')", name="how"),
        sa.CheckConstraint(
            "(undone_at IS NULL) = (reversal_payment_id IS NULL)", name="undone_reversed"
        ),
    )
    op.create_index(op.f("ix_bank_match_freelancer_id"), "bank_match", ["freelancer_id"])
    op.create_index(op.f("ix_bank_match_line_id"), "bank_match", ["line_id"])
    op.create_index(op.f("ix_bank_match_invoice_id"), "bank_match", ["invoice_id"])


def downgrade() -> None:
    _defer_foreign_keys()
    op.drop_table("bank_match")
    op.drop_table("bank_line")
    op.drop_table("bank_statement")
    op.execute("DELETE FROM invoice_payment WHERE reverses_id IS NOT NULL")
    with op.batch_alter_table("invoice_payment") as batch:
        batch.drop_constraint(op.f("ck_invoice_payment_amount_positive"), type_="check")
        batch.create_check_constraint(
            op.f("ck_invoice_payment_amount_positive"), "amount_minor > 0"
        )
        batch.drop_constraint(op.f("uq_invoice_payment_reverses_id"), type_="unique")
        batch.drop_constraint(
            op.f("fk_invoice_payment_reverses_id_invoice_payment"), type_="foreignkey"
        )
        batch.drop_column("reverses_id")
