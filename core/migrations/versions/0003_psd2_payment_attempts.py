"""psd2 payment attempts: one attempt, one SCA

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 09:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
STATES = ("new", "initiating", "uncertain", "awaiting_sca", "pending", "accepted", "completed",
          "rejected", "cancelled", "failed", "timed_out")


def upgrade() -> None:
    op.create_table(
        'psd2_payment_attempts',
        sa.Column('id', ID, nullable=False),
        sa.Column('merchant_id', ID, nullable=False),
        sa.Column('end_to_end_id', sa.String(length=35), nullable=False),
        sa.Column('bank_id', sa.String(length=64), nullable=False),
        sa.Column('product', sa.String(length=64), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('creditor_iban', sa.String(length=34), nullable=False),
        sa.Column('creditor_name', sa.String(length=70), nullable=False),
        sa.Column('creditor_reference', sa.String(length=35), nullable=True),
        sa.Column('unstructured', sa.String(length=140), nullable=True),
        sa.Column('debtor_iban', sa.String(length=34), nullable=True),
        sa.Column('requested_execution_date', sa.Date(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('bank_payment_id', sa.String(length=200), nullable=True),
        sa.Column('bank_status', sa.String(length=8), nullable=True),
        sa.Column('sca_redirect', sa.Text(), nullable=True),
        sa.Column('authorisation_id', sa.String(length=200), nullable=True),
        sa.Column('oauth_state', sa.String(length=64), nullable=True),
        sa.Column('oauth_verifier', sa.String(length=128), nullable=True),
        sa.Column('redirect_uri', sa.Text(), nullable=False),
        sa.Column('claim', sa.String(length=32), nullable=True),
        sa.Column('orphaned', sa.Integer(), nullable=False),
        sa.Column('polls', sa.Integer(), nullable=False),
        sa.Column('next_poll_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('amount_minor > 0', name=op.f('ck_psd2_payment_attempts_amount_positive')),
        sa.CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in STATES) + ")",
                           name=op.f('ck_psd2_payment_attempts_state')),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'],
                                name=op.f('fk_psd2_payment_attempts_merchant_id_merchants')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_psd2_payment_attempts')),
        sa.UniqueConstraint('merchant_id', 'end_to_end_id',
                            name=op.f('uq_psd2_payment_attempts_merchant_id_end_to_end_id')),
    )
    with op.batch_alter_table('psd2_payment_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_psd2_payment_attempts_merchant_id'), ['merchant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('psd2_payment_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_psd2_payment_attempts_merchant_id'))
    op.drop_table('psd2_payment_attempts')
