"""dunning cases, steps, settings, rate table (seeded with ECB and legal rates)

Revision ID: 0006_dunning
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa
import billing.db

from datetime import date

revision = "0006_dunning"
down_revision = "0001"
branch_labels = None
depends_on = None

_SOURCES = {
    "ecb": "ECB main refinancing operations rate in force on that day",
    "legal": "Taux de l'intérêt légal, autres cas (arrêté, JORF)",
}
# Frozen copy of billing.dunning.rates.SEED as of this revision.
_SEED = [
    ("ecb", date(2022, 1, 1), 0),
    ("ecb", date(2022, 7, 1), 0),
    ("ecb", date(2023, 1, 1), 250),
    ("ecb", date(2023, 7, 1), 400),
    ("ecb", date(2024, 1, 1), 450),
    ("ecb", date(2024, 7, 1), 425),
    ("ecb", date(2025, 1, 1), 315),
    ("ecb", date(2025, 7, 1), 215),
    ("legal", date(2022, 1, 1), 76),
    ("legal", date(2022, 7, 1), 77),
    ("legal", date(2023, 1, 1), 206),
    ("legal", date(2023, 7, 1), 422),
    ("legal", date(2024, 1, 1), 507),
    ("legal", date(2024, 7, 1), 492),
    ("legal", date(2025, 1, 1), 371),
    ("legal", date(2025, 7, 1), 276),
]


def upgrade() -> None:
    op.create_table('dunning_rate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('rate_bp', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.CheckConstraint("kind IN ('ecb', 'legal')", name=op.f('ck_dunning_rate_kind')),
    sa.CheckConstraint('rate_bp >= -1000 AND rate_bp <= 10000', name=op.f('ck_dunning_rate_rate_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dunning_rate')),
    sa.UniqueConstraint('kind', 'valid_from', name=op.f('uq_dunning_rate_kind_valid_from'))
    )
    op.create_table('dunning_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('freelancer_id', sa.Integer(), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('updated_at', billing.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['freelancer_id'], ['freelancer.id'], name=op.f('fk_dunning_settings_freelancer_id_freelancer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dunning_settings')),
    sa.UniqueConstraint('freelancer_id', name=op.f('uq_dunning_settings_freelancer_id'))
    )
    op.create_table('dunning_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('freelancer_id', sa.Integer(), nullable=False),
    sa.Column('source_key', sa.String(length=120), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('subject_type', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('failed_payment_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('payment_method_id', sa.String(length=255), nullable=True),
    sa.Column('original_purpose', sa.String(length=40), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('client_name', sa.String(length=200), nullable=False),
    sa.Column('client_email', sa.String(length=320), nullable=False),
    sa.Column('client_is_business', sa.Boolean(), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('reason', sa.String(length=100), nullable=False),
    sa.Column('hard_decline', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('pause_kind', sa.String(length=20), nullable=True),
    sa.Column('pause_reason', sa.Text(), nullable=False),
    sa.Column('promise_date', sa.Date(), nullable=True),
    sa.Column('anchor_at', billing.db.UTCDateTime(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('token_enc', sa.Text(), nullable=False),
    sa.Column('card_setup_id', sa.Integer(), nullable=True),
    sa.Column('link_payment_id', sa.Integer(), nullable=True),
    sa.Column('penalty_invoice_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', billing.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', billing.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', billing.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("pause_kind IS NULL OR pause_kind IN ('dispute', 'promise', 'freelancer')", name=op.f('ck_dunning_case_pause_kind')),
    sa.CheckConstraint("status IN ('open', 'paused', 'paid', 'resolved', 'written_off')", name=op.f('ck_dunning_case_status')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_dunning_case_amount_positive')),
    sa.CheckConstraint('currency = lower(currency)', name=op.f('ck_dunning_case_currency_lower')),
    sa.ForeignKeyConstraint(['card_setup_id'], ['card_setup.id'], name=op.f('fk_dunning_case_card_setup_id_card_setup')),
    sa.ForeignKeyConstraint(['customer_id'], ['payment_customer.id'], name=op.f('fk_dunning_case_customer_id_payment_customer')),
    sa.ForeignKeyConstraint(['failed_payment_id'], ['payment.id'], name=op.f('fk_dunning_case_failed_payment_id_payment')),
    sa.ForeignKeyConstraint(['freelancer_id'], ['freelancer.id'], name=op.f('fk_dunning_case_freelancer_id_freelancer')),
    sa.ForeignKeyConstraint(['link_payment_id'], ['payment.id'], name=op.f('fk_dunning_case_link_payment_id_payment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dunning_case')),
    sa.UniqueConstraint('freelancer_id', 'source_key', name=op.f('uq_dunning_case_freelancer_id_source_key')),
    sa.UniqueConstraint('invoice_id', name=op.f('uq_dunning_case_invoice_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_dunning_case_token_hash'))
    )
    with op.batch_alter_table('dunning_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dunning_case_freelancer_id'), ['freelancer_id'], unique=False)
    op.create_table('dunning_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('freelancer_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=40), nullable=False),
    sa.Column('scheduled_at', billing.db.UTCDateTime(), nullable=False),
    sa.Column('done_at', billing.db.UTCDateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['dunning_case.id'], name=op.f('fk_dunning_step_case_id_dunning_case')),
    sa.ForeignKeyConstraint(['freelancer_id'], ['freelancer.id'], name=op.f('fk_dunning_step_freelancer_id_freelancer')),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_dunning_step_payment_id_payment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dunning_step')),
    sa.UniqueConstraint('case_id', 'step', name=op.f('uq_dunning_step_case_id_step'))
    )
    with op.batch_alter_table('dunning_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dunning_step_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dunning_step_freelancer_id'), ['freelancer_id'], unique=False)

    # The half-yearly rates penalties are computed from (billing/dunning/rates.py
    # documents the sources); an editable copy, so a new half-year is one row.
    rate = sa.table(
        "dunning_rate",
        sa.column("kind", sa.String),
        sa.column("valid_from", sa.Date),
        sa.column("rate_bp", sa.Integer),
        sa.column("source", sa.String),
    )
    op.bulk_insert(
        rate,
        [
            {"kind": kind, "valid_from": day, "rate_bp": bp, "source": _SOURCES[kind]}
            for kind, day, bp in _SEED
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("dunning_step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dunning_step_freelancer_id"))
        batch_op.drop_index(batch_op.f("ix_dunning_step_case_id"))
    op.drop_table("dunning_step")
    with op.batch_alter_table("dunning_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dunning_case_freelancer_id"))
    op.drop_table("dunning_case")
    op.drop_table("dunning_settings")
    op.drop_table("dunning_rate")
