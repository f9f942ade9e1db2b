"""pay links, payers' payments, the fee ledger; the merchant's IBAN, fee rate and
partial-payment choice; when an invoice was viewed and what is pending at a bank

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 17:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
ACTIVE = "state IN ('awaiting_sca', 'created', 'pending')"
STATES = ("'created', 'awaiting_sca', 'pending', 'authorised', 'captured', 'settled', 'failed', 'cancelled', "
          "'refunded', 'partially_refunded'")


def upgrade() -> None:
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('iban', sa.String(length=34), nullable=True))
        batch_op.add_column(sa.Column('fee_bp', sa.Integer(), nullable=False, server_default='100'))
        batch_op.add_column(sa.Column('partial_payments', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('viewed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pending_minor', sa.BigInteger(), nullable=False, server_default='0'))
    op.create_table(
        'pay_links',
        sa.Column('id', ID, nullable=False),
        sa.Column('merchant_id', ID, nullable=False),
        sa.Column('invoice_id', ID, nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_pay_links_merchant_id_merchants')),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_pay_links_invoice_id_invoices')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pay_links')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_pay_links_token_hash')),
    )
    op.create_index(op.f('ix_pay_links_merchant_id'), 'pay_links', ['merchant_id'])
    op.create_index(op.f('ix_pay_links_invoice_id'), 'pay_links', ['invoice_id'])
    op.create_index('uq_pay_links_live', 'pay_links', ['invoice_id'], unique=True,
                    sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
    op.create_table(
        'payer_payments',
        sa.Column('id', ID, nullable=False),
        sa.Column('merchant_id', ID, nullable=False),
        sa.Column('invoice_id', ID, nullable=False),
        sa.Column('pay_link_id', ID, nullable=True),
        sa.Column('method', sa.String(length=8), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('end_to_end_id', sa.String(length=35), nullable=False),
        sa.Column('bank_id', sa.String(length=64), nullable=True),
        sa.Column('attempt_id', ID, nullable=True),
        sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
        sa.Column('failure', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('authorised_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('amount_minor > 0', name=op.f('ck_payer_payments_amount_positive')),
        sa.CheckConstraint('refunded_minor >= 0 AND refunded_minor <= amount_minor', name=op.f('ck_payer_payments_refunded')),
        sa.CheckConstraint("method IN ('bank', 'card')", name=op.f('ck_payer_payments_method')),
        sa.CheckConstraint(f"state IN ({STATES})", name=op.f('ck_payer_payments_state')),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_payer_payments_merchant_id_merchants')),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payer_payments_invoice_id_invoices')),
        sa.ForeignKeyConstraint(['pay_link_id'], ['pay_links.id'], name=op.f('fk_payer_payments_pay_link_id_pay_links')),
        sa.ForeignKeyConstraint(['attempt_id'], ['psd2_payment_attempts.id'],
                                name=op.f('fk_payer_payments_attempt_id_psd2_payment_attempts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payer_payments')),
        sa.UniqueConstraint('merchant_id', 'end_to_end_id', name=op.f('uq_payer_payments_merchant_id_end_to_end_id')),
    )
    op.create_index(op.f('ix_payer_payments_merchant_id'), 'payer_payments', ['merchant_id'])
    op.create_index(op.f('ix_payer_payments_invoice_id'), 'payer_payments', ['invoice_id'])
    op.create_index('uq_payer_payments_active', 'payer_payments', ['invoice_id'], unique=True,
                    sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))
    op.create_table(
        'fee_ledger',
        sa.Column('id', ID, nullable=False),
        sa.Column('merchant_id', ID, nullable=False),
        sa.Column('payment_id', ID, nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('base_minor', sa.BigInteger(), nullable=False),
        sa.Column('fee_minor', sa.BigInteger(), nullable=False),
        sa.Column('rate_bp', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('fee', 'refund', 'reversal')", name=op.f('ck_fee_ledger_kind')),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_fee_ledger_merchant_id_merchants')),
        sa.ForeignKeyConstraint(['payment_id'], ['payer_payments.id'], name=op.f('fk_fee_ledger_payment_id_payer_payments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fee_ledger')),
        sa.UniqueConstraint('payment_id', 'kind', name=op.f('uq_fee_ledger_payment_id_kind')),
    )
    op.create_index(op.f('ix_fee_ledger_merchant_id'), 'fee_ledger', ['merchant_id'])
    op.create_index(op.f('ix_fee_ledger_month'), 'fee_ledger', ['month'])


def downgrade() -> None:
    op.drop_table('fee_ledger')
    op.drop_table('payer_payments')
    op.drop_table('pay_links')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('pending_minor')
        batch_op.drop_column('viewed_at')
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('partial_payments')
        batch_op.drop_column('fee_bp')
        batch_op.drop_column('iban')
