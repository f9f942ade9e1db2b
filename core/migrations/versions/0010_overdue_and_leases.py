"""invoices remember the day they were reported overdue; scheduled jobs take leases;
import jobs keep a heartbeat and count their runs (a job whose worker died is resumed);
card payments remember what they captured beyond their invoice's open amount;
bank feeds: statements fetched through PSD2 account information

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 23:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overdue_notified_on', sa.Date(), nullable=True))
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('runs', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('payer_payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unapplied_minor', sa.BigInteger(),
                                      server_default='0', nullable=False))
    op.create_table(
        'job_leases',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('holder', sa.String(length=80), nullable=False),
        sa.Column('until', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_job_leases')),
    )
    op.create_table(
        'bank_feeds',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('iban', sa.String(length=34), nullable=False),
        sa.Column('bank_id', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('consent_id', sa.String(length=200), nullable=False),
        sa.Column('sca_url', sa.Text(), nullable=True),
        sa.Column('oauth_state', sa.String(length=200), nullable=True),
        sa.Column('oauth_verifier', sa.String(length=200), nullable=True),
        sa.Column('valid_until', sa.Date(), nullable=False),
        sa.Column('account_id', sa.String(length=200), nullable=True),
        sa.Column('fetched_through', sa.Date(), nullable=True),
        sa.Column('last_fetch_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_result', sa.JSON(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('awaiting_sca', 'active', 'failed', 'expired')",
                           name=op.f('ck_bank_feeds_state')),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_bank_feeds_merchant_id_merchants')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_feeds')),
        sa.UniqueConstraint('key', name=op.f('uq_bank_feeds_key')),
        sa.UniqueConstraint('merchant_id', 'iban', name=op.f('uq_bank_feeds_merchant_id_iban')),
    )
    op.create_index(op.f('ix_bank_feeds_merchant_id'), 'bank_feeds', ['merchant_id'])


def downgrade() -> None:
    op.drop_table('bank_feeds')
    op.drop_table('job_leases')
    with op.batch_alter_table('payer_payments', schema=None) as batch_op:
        batch_op.drop_column('unapplied_minor')
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_column('runs')
        batch_op.drop_column('heartbeat_at')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('overdue_notified_on')
