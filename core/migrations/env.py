"""Alembic environment. Uses the connection kvits hands over (core.db.upgrade) or the
URL in the config. Models are imported only for autogenerate's comparison."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, engine_from_config, pool

from core.db import Base


def _metadata() -> MetaData:
    import core.models  # noqa: F401
    import invoices.models  # noqa: F401
    import reconciliation.models  # noqa: F401
    import psd2.models  # noqa: F401
    import api.models  # noqa: F401
    import paylinks.models  # noqa: F401

    return Base.metadata


config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=_metadata(), render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=_metadata(), render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
