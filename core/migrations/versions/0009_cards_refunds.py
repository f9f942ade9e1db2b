"""card payments (the acquirer's payment, card, capture, payout), refunds, the fee
ledger per refund, what an invoice gave back, and statement credits that are card payouts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 19:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
OLD_MATCH = ("match_status IN ('applied','suggested','unmatched','not_matched','reversed',"
             "'reversal','rejected')")
NEW_MATCH = ("match_status IN ('applied','suggested','unmatched','not_matched','reversed',"
             "'reversal','rejected','card_payout')")


def upgrade() -> None:
    with op.batch_alter_table('payer_payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acquirer_id', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('card', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('captured_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('payout_id', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('payer_iban', sa.String(length=34), nullable=True))
        batch_op.add_column(sa.Column('payer_name', sa.String(length=140), nullable=True))
        batch_op.create_index(batch_op.f('ix_payer_payments_acquirer_id'), ['acquirer_id'])
        batch_op.create_index(batch_op.f('ix_payer_payments_payout_id'), ['payout_id'])
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refunded_minor', sa.BigInteger(), nullable=False, server_default='0'))
    op.create_table(
        'refunds',
        sa.Column('id', ID, nullable=False),
        sa.Column('merchant_id', ID, nullable=False),
        sa.Column('payment_id', ID, nullable=False),
        sa.Column('invoice_id', ID, nullable=False),
        sa.Column('method', sa.String(length=8), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('end_to_end_id', sa.String(length=35), nullable=False),
        sa.Column('payee_iban', sa.String(length=34), nullable=True),
        sa.Column('payee_name', sa.String(length=140), nullable=True),
        sa.Column('acquirer_refund_id', sa.String(length=80), nullable=True),
        sa.Column('payout_id', sa.String(length=80), nullable=True),
        sa.Column('attempt_id', ID, nullable=True),
        sa.Column('sca_url', sa.Text(), nullable=True),
        sa.Column('failure', sa.Text(), nullable=True),
        sa.Column('requested_by', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('succeeded_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('amount_minor > 0', name=op.f('ck_refunds_amount_positive')),
        sa.CheckConstraint("method IN ('bank', 'card')", name=op.f('ck_refunds_method')),
        sa.CheckConstraint("state IN ('pending', 'awaiting_sca', 'succeeded', 'failed')", name=op.f('ck_refunds_state')),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_refunds_merchant_id_merchants')),
        sa.ForeignKeyConstraint(['payment_id'], ['payer_payments.id'], name=op.f('fk_refunds_payment_id_payer_payments')),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_refunds_invoice_id_invoices')),
        sa.ForeignKeyConstraint(['attempt_id'], ['psd2_payment_attempts.id'],
                                name=op.f('fk_refunds_attempt_id_psd2_payment_attempts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds')),
        sa.UniqueConstraint('merchant_id', 'end_to_end_id', name=op.f('uq_refunds_merchant_id_end_to_end_id')),
    )
    op.create_index(op.f('ix_refunds_merchant_id'), 'refunds', ['merchant_id'])
    op.create_index(op.f('ix_refunds_payment_id'), 'refunds', ['payment_id'])
    op.create_index(op.f('ix_refunds_invoice_id'), 'refunds', ['invoice_id'])
    op.create_index(op.f('ix_refunds_payout_id'), 'refunds', ['payout_id'])
    with op.batch_alter_table('fee_ledger', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refund_id', ID, nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_fee_ledger_refund_id_refunds'), 'refunds', ['refund_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('uq_fee_ledger_payment_id_kind'), type_='unique')
    op.create_index('uq_fee_ledger_payment_kind', 'fee_ledger', ['payment_id', 'kind'], unique=True,
                    sqlite_where=sa.text('refund_id IS NULL'), postgresql_where=sa.text('refund_id IS NULL'))
    op.create_index('uq_fee_ledger_refund', 'fee_ledger', ['refund_id'], unique=True,
                    sqlite_where=sa.text('refund_id IS NOT NULL'), postgresql_where=sa.text('refund_id IS NOT NULL'))
    with op.batch_alter_table('bank_transactions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_bank_transactions_match_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_bank_transactions_match_status'), NEW_MATCH)


def downgrade() -> None:
    with op.batch_alter_table('bank_transactions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_bank_transactions_match_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_bank_transactions_match_status'), OLD_MATCH)
    op.drop_index('uq_fee_ledger_refund', table_name='fee_ledger')
    op.drop_index('uq_fee_ledger_payment_kind', table_name='fee_ledger')
    with op.batch_alter_table('fee_ledger', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_fee_ledger_payment_id_kind'), ['payment_id', 'kind'])
        batch_op.drop_constraint(batch_op.f('fk_fee_ledger_refund_id_refunds'), type_='foreignkey')
        batch_op.drop_column('refund_id')
    op.drop_table('refunds')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('refunded_minor')
    with op.batch_alter_table('payer_payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payer_payments_payout_id'))
        batch_op.drop_index(batch_op.f('ix_payer_payments_acquirer_id'))
        for column in ('payer_name', 'payer_iban', 'payout_id', 'captured_at', 'card', 'acquirer_id'):
            batch_op.drop_column(column)
