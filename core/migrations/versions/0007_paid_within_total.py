"""invoices: never more paid than the total (a second line of defence behind the row
locks that serialise payments to one invoice)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 17:00:00
"""

from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_invoices_paid_within_total'), 'paid_minor <= total_minor')


def downgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoices_paid_within_total'), type_='check')
