"""booking: offerings, availability, bookings (no double booking on PostgreSQL)

Revision ID: 0003_booking
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import billing.db

revision = "0003_booking"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('booking_offering',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('freelancer_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('payment_policy', sa.String(length=10), nullable=False),
    sa.Column('deposit_bp', sa.Integer(), nullable=False),
    sa.Column('free_cancel_hours', sa.Integer(), nullable=False),
    sa.Column('late_cancel_fee_bp', sa.Integer(), nullable=False),
    sa.Column('no_show_fee_bp', sa.Integer(), nullable=False),
    sa.Column('buffer_before_minutes', sa.Integer(), nullable=False),
    sa.Column('buffer_after_minutes', sa.Integer(), nullable=False),
    sa.Column('min_notice_minutes', sa.Integer(), nullable=False),
    sa.Column('horizon_days', sa.Integer(), nullable=False),
    sa.Column('hold_lead_hours', sa.Integer(), nullable=False),
    sa.Column('secure_deadline_hours', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('archived_at', billing.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', billing.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', billing.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("payment_policy IN ('prepay', 'hold', 'deposit')", name=op.f('ck_booking_offering_policy')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_booking_offering_amount_positive')),
    sa.CheckConstraint('buffer_before_minutes >= 0 AND buffer_after_minutes >= 0', name=op.f('ck_booking_offering_buffers')),
    sa.CheckConstraint('currency = lower(currency)', name=op.f('ck_booking_offering_currency_lower')),
    sa.CheckConstraint('deposit_bp >= 0 AND deposit_bp <= 10000', name=op.f('ck_booking_offering_deposit_range')),
    sa.CheckConstraint('duration_minutes > 0 AND duration_minutes <= 720', name=op.f('ck_booking_offering_duration')),
    sa.CheckConstraint('late_cancel_fee_bp >= 0 AND late_cancel_fee_bp <= 10000', name=op.f('ck_booking_offering_late_fee_range')),
    sa.CheckConstraint('no_show_fee_bp >= 0 AND no_show_fee_bp <= 10000', name=op.f('ck_booking_offering_no_show_range')),
    sa.CheckConstraint('secure_deadline_hours < hold_lead_hours', name=op.f('ck_booking_offering_secure_before_hold')),
    sa.ForeignKeyConstraint(['freelancer_id'], ['freelancer.id'], name=op.f('fk_booking_offering_freelancer_id_freelancer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_offering'))
    )
    op.create_index(op.f('ix_booking_offering_freelancer_id'), 'booking_offering', ['freelancer_id'], unique=False)
    op.create_table('booking_availability',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('freelancer_id', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('weekly', sa.JSON(), nullable=False),
    sa.Column('exceptions', sa.JSON(), nullable=False),
    sa.Column('updated_at', billing.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['freelancer_id'], ['freelancer.id'], name=op.f('fk_booking_availability_freelancer_id_freelancer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_availability')),
    sa.UniqueConstraint('freelancer_id', name=op.f('uq_booking_availability_freelancer_id'))
    )
    op.create_table('booking',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('freelancer_id', sa.Integer(), nullable=False),
    sa.Column('offering_id', sa.Integer(), nullable=False),
    sa.Column('client_name', sa.String(length=200), nullable=False),
    sa.Column('client_email', sa.String(length=320), nullable=False),
    sa.Column('client_timezone', sa.String(length=64), nullable=False),
    sa.Column('start_at', billing.db.UTCDateTime(), nullable=False),
    sa.Column('end_at', billing.db.UTCDateTime(), nullable=False),
    sa.Column('block_start', billing.db.UTCDateTime(), nullable=False),
    sa.Column('block_end', billing.db.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('payment_policy', sa.String(length=10), nullable=False),
    sa.Column('deposit_bp', sa.Integer(), nullable=False),
    sa.Column('free_cancel_hours', sa.Integer(), nullable=False),
    sa.Column('late_cancel_fee_bp', sa.Integer(), nullable=False),
    sa.Column('no_show_fee_bp', sa.Integer(), nullable=False),
    sa.Column('secure_deadline_hours', sa.Integer(), nullable=False),
    sa.Column('payment_state', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('card_setup_id', sa.Integer(), nullable=True),
    sa.Column('payment_method_id', sa.String(length=255), nullable=True),
    sa.Column('hold_due_at', billing.db.UTCDateTime(), nullable=True),
    sa.Column('manage_token_hash', sa.String(length=64), nullable=False),
    sa.Column('manage_token_enc', sa.Text(), nullable=False),
    sa.Column('pending_expires_at', billing.db.UTCDateTime(), nullable=True),
    sa.Column('reschedule_count', sa.Integer(), nullable=False),
    sa.Column('cancelled_by', sa.String(length=80), nullable=True),
    sa.Column('cancelled_at', billing.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', billing.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', billing.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('pending_payment', 'requires_action', 'confirmed', 'cancelled', 'completed', 'no_show', 'expired')", name=op.f('ck_booking_status')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_booking_amount_positive')),
    sa.CheckConstraint('block_start <= start_at AND block_end >= end_at', name=op.f('ck_booking_block_covers_session')),
    sa.CheckConstraint('currency = lower(currency)', name=op.f('ck_booking_currency_lower')),
    sa.CheckConstraint('end_at > start_at', name=op.f('ck_booking_ends_after_start')),
    sa.ForeignKeyConstraint(['card_setup_id'], ['card_setup.id'], name=op.f('fk_booking_card_setup_id_card_setup')),
    sa.ForeignKeyConstraint(['customer_id'], ['payment_customer.id'], name=op.f('fk_booking_customer_id_payment_customer')),
    sa.ForeignKeyConstraint(['freelancer_id'], ['freelancer.id'], name=op.f('fk_booking_freelancer_id_freelancer')),
    sa.ForeignKeyConstraint(['offering_id'], ['booking_offering.id'], name=op.f('fk_booking_offering_id_booking_offering')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking')),
    sa.UniqueConstraint('manage_token_hash', name=op.f('uq_booking_manage_token_hash'))
    )
    op.create_index('ix_booking_freelancer_start', 'booking', ['freelancer_id', 'start_at'], unique=False)
    op.create_index(op.f('ix_booking_offering_id'), 'booking', ['offering_id'], unique=False)
    op.create_index('ix_booking_status_start', 'booking', ['status', 'start_at'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # No double booking, enforced by the database: active bookings of one
        # freelancer may not overlap (buffers included). btree_gist gives GiST
        # the `=` on an integer column.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE booking ADD CONSTRAINT booking_no_overlap EXCLUDE USING gist "
            "(freelancer_id WITH =, tstzrange(block_start, block_end, '[)') WITH &&) "
            "WHERE (status IN ('pending_payment', 'requires_action', 'confirmed'))"
        )


def downgrade() -> None:
    op.drop_index("ix_booking_status_start", table_name="booking")
    op.drop_index(op.f("ix_booking_offering_id"), table_name="booking")
    op.drop_index("ix_booking_freelancer_start", table_name="booking")
    op.drop_table("booking")
    op.drop_table("booking_availability")
    op.drop_index(op.f("ix_booking_offering_freelancer_id"), table_name="booking_offering")
    op.drop_table("booking_offering")
