"""import jobs of uploaded statements; idempotency keys, audit events, the event outbox
and webhooks of the API

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 09:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'import_jobs',
        sa.Column('id', ID, nullable=False),
        sa.Column('merchant_id', ID, nullable=False),
        sa.Column('state', sa.String(length=8), nullable=False),
        sa.Column('file_name', sa.String(length=200), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('progress_bytes', sa.BigInteger(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('queued','running','done','failed')", name=op.f('ck_import_jobs_state')),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_import_jobs_merchant_id_merchants')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs')),
    )
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_jobs_merchant_id'), ['merchant_id'], unique=False)
    op.create_table(
        'idempotency_keys',
        sa.Column('id', ID, nullable=False),
        sa.Column('merchant_id', ID, nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_idempotency_keys_merchant_id_merchants')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
        sa.UniqueConstraint('merchant_id', 'key', name=op.f('uq_idempotency_keys_merchant_id_key')),
    )
    op.create_table(
        'audit_events',
        sa.Column('id', ID, nullable=False),
        sa.Column('merchant_id', ID, nullable=False),
        sa.Column('actor', sa.String(length=80), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('subject', sa.String(length=40), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_audit_events_merchant_id_merchants')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_subject'), ['subject'], unique=False)
    op.create_table(
        'outbox_events',
        sa.Column('id', ID, nullable=False),
        sa.Column('merchant_id', ID, nullable=False),
        sa.Column('type', sa.String(length=60), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('fanned_out', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_outbox_events_merchant_id_merchants')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_events')),
    )
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_events_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_events_fanned_out'), ['fanned_out'], unique=False)
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', ID, nullable=False),
        sa.Column('merchant_id', ID, nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('secret', sa.String(length=80), nullable=False),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_webhook_endpoints_merchant_id_merchants')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints')),
    )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_endpoints_merchant_id'), ['merchant_id'], unique=False)
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', ID, nullable=False),
        sa.Column('merchant_id', ID, nullable=False),
        sa.Column('endpoint_id', ID, nullable=False),
        sa.Column('event_id', ID, nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('log', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('pending','delivered','failed')", name=op.f('ck_webhook_deliveries_state')),
        sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'],
                                name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints')),
        sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'], name=op.f('fk_webhook_deliveries_event_id_outbox_events')),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_webhook_deliveries_merchant_id_merchants')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
        sa.UniqueConstraint('endpoint_id', 'event_id', name=op.f('uq_webhook_deliveries_endpoint_id')),
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_endpoint_id'), ['endpoint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_next_attempt_at'), ['next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_endpoints')
    op.drop_table('outbox_events')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_subject'))
        batch_op.drop_index(batch_op.f('ix_audit_events_merchant_id'))
    op.drop_table('audit_events')
    op.drop_table('idempotency_keys')
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_jobs_merchant_id'))
    op.drop_table('import_jobs')
