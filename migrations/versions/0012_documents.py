"""Documents: legal identity, client addresses, invoice kinds, stored issued PDFs (issue 11).

Revision ID: 0012_documents
Revises: 0011_sessions_tokens
"""

from datetime import UTC, date, datetime

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


def _defer_foreign_keys() -> None:
    # SQLite rebuilds a table to change its CHECK constraints (batch mode): dropping the
    # old copy of a referenced table (freelancer, invoice) must not trip the foreign keys
    # of the rows pointing at it. pysqlite runs DDL outside a transaction until a first
    # write: then foreign keys can simply be switched off for this connection (a
    # NullPool connection, closed after the upgrade); inside a transaction they are
    # deferred to the commit, when the new copy is in place.
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if bind.connection.dbapi_connection.in_transaction:
        op.execute("PRAGMA defer_foreign_keys = ON")
    else:
        op.execute("PRAGMA foreign_keys = OFF")


def upgrade() -> None:
    _defer_foreign_keys()
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

    # Existing invoices stay kind `invoice` (penalty invoices too: an issued document's
    # kind is part of what was issued, CGI 289 VII); their PDFs are rendered and kept
    # on their first download, from their frozen content.
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

    _backfill_quotes(op.get_bind())

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


def _backfill_quotes(conn: sa.Connection) -> None:
    """Existing quotes: their client's details from the older columns (a SIRET's first nine
    digits are the SIREN) and a number in the new series, in creation order per freelancer
    and year; each freelancer's quote series then continues after the last one."""
    quote = sa.table(
        "quote",
        sa.column("id", sa.Integer),
        sa.column("freelancer_id", sa.Integer),
        sa.column("created_at", UTCDateTime()),
        sa.column("client_company", sa.String),
        sa.column("client_siret", sa.String),
        sa.column("client_details", sa.JSON),
        sa.column("number", sa.String),
    )
    sequence = sa.table(
        "invoice_sequence",
        sa.column("freelancer_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("year", sa.Integer),
        sa.column("next_number", sa.Integer),
        sa.column("last_issue_date", sa.Date),
        sa.column("updated_at", UTCDateTime()),
    )
    rows = conn.execute(
        sa.select(
            quote.c.id,
            quote.c.freelancer_id,
            quote.c.created_at,
            quote.c.client_company,
            quote.c.client_siret,
        ).order_by(quote.c.freelancer_id, quote.c.created_at, quote.c.id)
    ).all()
    counters: dict[tuple[int, int], tuple[int, date]] = {}
    for row in rows:
        created = row.created_at.date()
        key = (row.freelancer_id, created.year)
        n = counters.get(key, (0, created))[0] + 1
        counters[key] = (n, created)
        siret = row.client_siret or ""
        details = {
            "company": row.client_company or "",
            "siren": siret[:9] if len(siret) == 14 else "",
            "vat_number": "",
            "postal_address": None,
        }
        conn.execute(
            quote.update()
            .where(quote.c.id == row.id)
            .values(number=f"D{created.year}-{n:04d}", client_details=details)
        )
    for (freelancer_id, year), (n, last) in counters.items():
        conn.execute(
            sequence.insert().values(
                freelancer_id=freelancer_id,
                kind="quote",
                year=year,
                next_number=n + 1,
                last_issue_date=last,
                updated_at=datetime.now(UTC),
            )
        )


def downgrade() -> None:
    _defer_foreign_keys()
    rate = sa.table("dunning_rate", sa.column("kind", sa.String), sa.column("valid_from", sa.Date))
    op.execute(rate.delete().where(rate.c.valid_from == date(2026, 1, 1)))
    sequence = sa.table("invoice_sequence", sa.column("kind", sa.String))
    op.execute(sequence.delete().where(sequence.c.kind == "quote"))
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
