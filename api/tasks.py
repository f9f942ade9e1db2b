"""The API's background work as Celery tasks (used when a broker is configured)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, session_factory
from core.settings import get_settings
from core.tasks import celery_app

app = celery_app()


@lru_cache(maxsize=1)
def _factory() -> sessionmaker[Session]:
    return session_factory(make_engine(get_settings().resolved_database_url()))


@app.task(name="webhooks.pump", acks_late=True)  # type: ignore[untyped-decorator]
def pump_webhooks() -> dict[str, int]:
    from api.webhooks import pump

    return pump(_factory(), private_ok=get_settings().webhook_allow_private)
