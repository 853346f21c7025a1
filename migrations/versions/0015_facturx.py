"""Factur-X: each issued document's CII XML, and the supplier invoices received (issue 12).

Revision ID: 0015_facturx
Revises: 0014_notifications
"""

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision = "0015_facturx"
down_revision = "0014_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoice_einvoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("profile", sa.String(length=20), nullable=False),
        sa.Column("rule_sets", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_invoice_einvoice_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_einvoice")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_invoice_einvoice_invoice_id")),
    )
    op.create_table(
        "supplier_invoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("freelancer_id", sa.Integer(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("type_code", sa.String(length=10), nullable=False),
        sa.Column("seller_name", sa.String(length=300), nullable=False),
        sa.Column("seller_siren", sa.String(length=20), nullable=False),
        sa.Column("seller_vat_number", sa.String(length=40), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_excl_vat_minor", sa.BigInteger(), nullable=True),
        sa.Column("total_vat_minor", sa.BigInteger(), nullable=True),
        sa.Column("total_incl_vat_minor", sa.BigInteger(), nullable=True),
        sa.Column("due_payable_minor", sa.BigInteger(), nullable=True),
        sa.Column("rule_sets", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["freelancer_id"],
            ["freelancer.id"],
            name=op.f("fk_supplier_invoice_freelancer_id_freelancer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_invoice")),
        sa.UniqueConstraint(
            "freelancer_id", "sha256", name=op.f("uq_supplier_invoice_freelancer_id_sha256")
        ),
    )
    op.create_index(
        "ix_supplier_invoice_freelancer_received",
        "supplier_invoice",
        ["freelancer_id", "received_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_supplier_invoice_freelancer_received", table_name="supplier_invoice")
    op.drop_table("supplier_invoice")
    op.drop_table("invoice_einvoice")
