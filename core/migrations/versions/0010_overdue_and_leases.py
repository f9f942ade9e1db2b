"""invoices remember the day they were reported overdue; scheduled jobs take leases;
import jobs keep a heartbeat and count their runs (a job whose worker died is resumed);
card payments remember what they captured beyond their invoice's open amount

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


def downgrade() -> None:
    op.drop_table('job_leases')
    with op.batch_alter_table('payer_payments', schema=None) as batch_op:
        batch_op.drop_column('unapplied_minor')
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_column('runs')
        batch_op.drop_column('heartbeat_at')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('overdue_notified_on')
