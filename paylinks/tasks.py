"""Pay link work for Celery workers (with a broker): following payments in flight."""

from __future__ import annotations

from functools import lru_cache

from core.db import make_engine, session_factory
from core.settings import get_settings
from core.tasks import celery_app
from paylinks.follow import follow_due
from paylinks.service import Payments, payments_for

app = celery_app()


@lru_cache(maxsize=1)
def _payments() -> Payments:
    settings = get_settings()
    return payments_for(settings, session_factory(make_engine(settings.resolved_database_url())))


@app.task(name="paylinks.follow_due")  # type: ignore[untyped-decorator]
def follow_due_task() -> int:
    """Ask the banks about payments in flight that are due: for beat, every minute, and
    a few seconds after each payment starts."""
    return follow_due(_payments())
