"""invoices: invoices and credit notes, lines, payments received, gapless sequences

Revision ID: 0002_invoices
Revises: 0001
Create Date: 2026-11-22 19:49:08.982616
"""
from alembic import op
import sqlalchemy as sa
import billing.db

revision = '0002_invoices'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('invoice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('freelancer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('service_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('seller', sa.JSON(), nullable=False),
    sa.Column('buyer', sa.JSON(), nullable=False),
    sa.Column('vat_regime', sa.String(length=20), nullable=False),
    sa.Column('penalty_rate_bp', sa.Integer(), nullable=True),
    sa.Column('recovery_indemnity', sa.Boolean(), nullable=False),
    sa.Column('iban', sa.String(length=34), nullable=False),
    sa.Column('bic', sa.String(length=11), nullable=False),
    sa.Column('total_excl_vat_minor', sa.BigInteger(), nullable=False),
    sa.Column('total_vat_minor', sa.BigInteger(), nullable=False),
    sa.Column('total_incl_vat_minor', sa.BigInteger(), nullable=False),
    sa.Column('source_type', sa.String(length=40), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('credited_invoice_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', billing.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', billing.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("(kind = 'credit_note') = (credited_invoice_id IS NOT NULL)", name=op.f('ck_invoice_credit_note_link')),
    sa.CheckConstraint("kind IN ('invoice', 'credit_note')", name=op.f('ck_invoice_kind')),
    sa.CheckConstraint("status IN ('issued', 'partially_paid', 'paid', 'credited')", name=op.f('ck_invoice_status')),
    sa.CheckConstraint("vat_regime IN ('franchise', 'vat')", name=op.f('ck_invoice_vat_regime')),
    sa.CheckConstraint('currency = lower(currency)', name=op.f('ck_invoice_currency_lower')),
    sa.CheckConstraint('due_date >= issue_date', name=op.f('ck_invoice_due_after_issue')),
    sa.CheckConstraint('total_excl_vat_minor > 0', name=op.f('ck_invoice_excl_vat_positive')),
    sa.CheckConstraint('total_incl_vat_minor = total_excl_vat_minor + total_vat_minor', name=op.f('ck_invoice_totals_add_up')),
    sa.CheckConstraint('total_vat_minor >= 0', name=op.f('ck_invoice_vat_not_negative')),
    sa.ForeignKeyConstraint(['credited_invoice_id'], ['invoice.id'], name=op.f('fk_invoice_credited_invoice_id_invoice')),
    sa.ForeignKeyConstraint(['freelancer_id'], ['freelancer.id'], name=op.f('fk_invoice_freelancer_id_freelancer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice')),
    sa.UniqueConstraint('freelancer_id', 'kind', 'source_type', 'source_id', name=op.f('uq_invoice_freelancer_id_kind_source_type_source_id')),
    sa.UniqueConstraint('freelancer_id', 'number', name=op.f('uq_invoice_freelancer_id_number'))
    )
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_credited_invoice_id'), ['credited_invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoice_freelancer_id'), ['freelancer_id'], unique=False)

    op.create_table('invoice_sequence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('freelancer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('next_number', sa.Integer(), nullable=False),
    sa.Column('last_issue_date', sa.Date(), nullable=True),
    sa.Column('updated_at', billing.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('invoice', 'credit_note')", name=op.f('ck_invoice_sequence_kind')),
    sa.CheckConstraint('next_number >= 1', name=op.f('ck_invoice_sequence_next_number_positive')),
    sa.ForeignKeyConstraint(['freelancer_id'], ['freelancer.id'], name=op.f('fk_invoice_sequence_freelancer_id_freelancer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_sequence')),
    sa.UniqueConstraint('freelancer_id', 'kind', 'year', name=op.f('uq_invoice_sequence_freelancer_id_kind_year'))
    )
    op.create_table('invoice_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('quantity_milli', sa.BigInteger(), nullable=False),
    sa.Column('unit_amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('unit_includes_vat', sa.Boolean(), nullable=False),
    sa.Column('vat_rate_bp', sa.Integer(), nullable=False),
    sa.Column('total_excl_vat_minor', sa.BigInteger(), nullable=False),
    sa.Column('vat_minor', sa.BigInteger(), nullable=False),
    sa.Column('total_incl_vat_minor', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('quantity_milli > 0', name=op.f('ck_invoice_line_quantity_positive')),
    sa.CheckConstraint('total_incl_vat_minor = total_excl_vat_minor + vat_minor', name=op.f('ck_invoice_line_totals_add_up')),
    sa.CheckConstraint('unit_amount_minor >= 0', name=op.f('ck_invoice_line_unit_not_negative')),
    sa.CheckConstraint('vat_rate_bp >= 0 AND vat_rate_bp <= 10000', name=op.f('ck_invoice_line_vat_rate_range')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_invoice_line_invoice_id_invoice')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_line')),
    sa.UniqueConstraint('invoice_id', 'position', name=op.f('uq_invoice_line_invoice_id_position'))
    )
    with op.batch_alter_table('invoice_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_line_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('invoice_payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('paid_at', billing.db.UTCDateTime(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('created_at', billing.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("method IN ('card', 'transfer', 'other')", name=op.f('ck_invoice_payment_method')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_invoice_payment_amount_positive')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_invoice_payment_invoice_id_invoice')),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_invoice_payment_payment_id_payment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_payment')),
    sa.UniqueConstraint('payment_id', name=op.f('uq_invoice_payment_payment_id'))
    )
    with op.batch_alter_table('invoice_payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_payment_invoice_id'), ['invoice_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('invoice_payment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_payment_invoice_id'))
    op.drop_table('invoice_payment')
    with op.batch_alter_table('invoice_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_line_invoice_id'))
    op.drop_table('invoice_line')
    op.drop_table('invoice_sequence')
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_freelancer_id'))
        batch_op.drop_index(batch_op.f('ix_invoice_credited_invoice_id'))
    op.drop_table('invoice')
