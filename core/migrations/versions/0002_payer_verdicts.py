"""payer verdicts: what a person confirmed or rejected about a payer and a customer

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 06:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'payer_verdicts',
        sa.Column('id', ID, nullable=False),
        sa.Column('merchant_id', ID, nullable=False),
        sa.Column('customer_id', ID, nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('verdict', sa.String(length=12), nullable=False),
        sa.Column('bank_transaction_id', ID, nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('name','iban')", name=op.f('ck_payer_verdicts_kind')),
        sa.CheckConstraint("verdict IN ('confirmed','rejected')", name=op.f('ck_payer_verdicts_verdict')),
        sa.ForeignKeyConstraint(['bank_transaction_id'], ['bank_transactions.id'],
                                name=op.f('fk_payer_verdicts_bank_transaction_id_bank_transactions')),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_payer_verdicts_customer_id_customers')),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_payer_verdicts_merchant_id_merchants')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payer_verdicts')),
        sa.UniqueConstraint('merchant_id', 'customer_id', 'kind', 'value', 'verdict',
                            name=op.f('uq_payer_verdicts_merchant_id_customer_id_kind_value_verdict')),
    )
    with op.batch_alter_table('payer_verdicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payer_verdicts_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payer_verdicts_merchant_id'), ['merchant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payer_verdicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payer_verdicts_merchant_id'))
        batch_op.drop_index(batch_op.f('ix_payer_verdicts_customer_id'))
    op.drop_table('payer_verdicts')
