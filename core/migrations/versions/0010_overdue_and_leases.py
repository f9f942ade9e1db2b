"""invoices remember the day they were reported overdue; scheduled jobs take leases

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
    op.create_table(
        'job_leases',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('holder', sa.String(length=80), nullable=False),
        sa.Column('until', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_job_leases')),
    )


def downgrade() -> None:
    op.drop_table('job_leases')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('overdue_notified_on')
