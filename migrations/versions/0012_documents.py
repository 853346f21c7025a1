"""Documents: legal identity, client addresses, invoice kinds, stored issued PDFs (issue 11).

Revision ID: 0012_documents
Revises: 0011_sessions_tokens
"""

from datetime import date

import sqlalchemy as sa
from alembic import op

from billing.db import UTCDateTime

revision = "0012_documents"
down_revision = "0011_sessions_tokens"
branch_labels = None
depends_on = None

_INVOICE_KINDS = "kind IN ('invoice', 'deposit', 'final', 'credit_note', 'debit_note')"
_SEQUENCE_KINDS = "kind IN ('invoice', 'credit_note', 'quote')"
# The 2026 first half-year (the table of 0006 stopped at 2025 H2).
_RATES_2026 = (
    ("ecb", date(2026, 1, 1), 215, "ECB main refinancing operations rate in force on that day"),
    ("legal", date(2026, 1, 1), 262, "Taux de l'intérêt légal, autres cas (arrêté, JORF)"),
)


def _empty_json() -> sa.TextClause:
    return sa.text("'{}'")


def upgrade() -> None:
    with op.batch_alter_table("freelancer") as batch:
        batch.add_column(sa.Column("legal_form", sa.String(10), nullable=False, server_default=""))
        batch.add_column(sa.Column("share_capital_minor", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("registration", sa.String(200), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("insurance", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("mediator", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("vat_on_debits", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("activity", sa.String(10), nullable=False, server_default="services")
        )
        batch.add_column(sa.Column("reply_to", sa.String(320), nullable=False, server_default=""))
        batch.add_column(sa.Column("postal_address", sa.JSON(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_freelancer_legal_form"),
            "legal_form IN ('', 'ei', 'eurl', 'sasu', 'sas', 'sarl', 'other')",
        )
        batch.create_check_constraint(
            op.f("ck_freelancer_activity"), "activity IN ('services', 'goods', 'mixed')"
        )

    # Existing invoices stay kind `invoice`; penalty invoices become debit notes.
    with op.batch_alter_table("invoice") as batch:
        batch.add_column(
            sa.Column("mentions", sa.JSON(), nullable=False, server_default=_empty_json())
        )
        batch.drop_constraint(op.f("ck_invoice_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_invoice_kind"), _INVOICE_KINDS)
    with op.batch_alter_table("invoice_sequence") as batch:
        batch.drop_constraint(op.f("ck_invoice_sequence_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_invoice_sequence_kind"), _SEQUENCE_KINDS)
    op.create_table(
        "invoice_document",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoice.id"), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("invoice_id"),
    )

    # Existing clients are consumers unless the data says otherwise (quotes have the flag).
    for table in ("booking", "message_question"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column(
                    "client_is_business", sa.Boolean(), nullable=False, server_default=sa.false()
                )
            )
            batch.add_column(
                sa.Column("client_details", sa.JSON(), nullable=False, server_default=_empty_json())
            )
    with op.batch_alter_table("quote") as batch:
        batch.add_column(
            sa.Column("client_details", sa.JSON(), nullable=False, server_default=_empty_json())
        )
        batch.add_column(sa.Column("number", sa.String(32), nullable=True))
    with op.batch_alter_table("dunning_case") as batch:
        batch.add_column(sa.Column("registered_letter", sa.JSON(), nullable=True))

    rate = sa.table(
        "dunning_rate",
        sa.column("kind", sa.String),
        sa.column("valid_from", sa.Date),
        sa.column("rate_bp", sa.Integer),
        sa.column("source", sa.String),
    )
    conn = op.get_bind()
    for kind, valid_from, bp, source in _RATES_2026:
        exists = conn.execute(
            sa.select(rate.c.kind).where(rate.c.kind == kind, rate.c.valid_from == valid_from)
        ).first()
        if exists is None:
            conn.execute(
                rate.insert().values(kind=kind, valid_from=valid_from, rate_bp=bp, source=source)
            )


def downgrade() -> None:
    rate = sa.table("dunning_rate", sa.column("kind", sa.String), sa.column("valid_from", sa.Date))
    op.execute(rate.delete().where(rate.c.valid_from == date(2026, 1, 1)))
    with op.batch_alter_table("dunning_case") as batch:
        batch.drop_column("registered_letter")
    with op.batch_alter_table("quote") as batch:
        batch.drop_column("number")
        batch.drop_column("client_details")
    for table in ("message_question", "booking"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("client_details")
            batch.drop_column("client_is_business")
    op.drop_table("invoice_document")
    invoice = sa.table("invoice", sa.column("kind", sa.String))
    op.execute(
        invoice.update()
        .where(invoice.c.kind.in_(("deposit", "final", "debit_note")))
        .values(kind="invoice")
    )
    with op.batch_alter_table("invoice_sequence") as batch:
        batch.drop_constraint(op.f("ck_invoice_sequence_kind"), type_="check")
        batch.create_check_constraint(
            op.f("ck_invoice_sequence_kind"), "kind IN ('invoice', 'credit_note')"
        )
    with op.batch_alter_table("invoice") as batch:
        batch.drop_constraint(op.f("ck_invoice_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_invoice_kind"), "kind IN ('invoice', 'credit_note')")
        batch.drop_column("mentions")
    with op.batch_alter_table("freelancer") as batch:
        batch.drop_constraint(op.f("ck_freelancer_activity"), type_="check")
        batch.drop_constraint(op.f("ck_freelancer_legal_form"), type_="check")
        for column in (
            "postal_address",
            "reply_to",
            "activity",
            "vat_on_debits",
            "mediator",
            "insurance",
            "registration",
            "share_capital_minor",
            "legal_form",
        ):
            batch.drop_column(column)
