"""Pay link work for Celery workers (with a broker): following payments and refunds in flight."""

from __future__ import annotations

from functools import lru_cache

from core.db import make_engine, session_factory
from core.settings import get_settings
from core.tasks import celery_app
from paylinks.follow import follow_due
from paylinks.refunds import Refunds, refunds_for
from paylinks.service import payments_for

app = celery_app()


@lru_cache(maxsize=1)
def _refunds() -> Refunds:
    settings = get_settings()
    return refunds_for(settings, payments_for(settings, session_factory(make_engine(settings.resolved_database_url()))))


@app.task(name="paylinks.follow_due")  # type: ignore[untyped-decorator]
def follow_due_task() -> int:
    """Ask the banks and the acquirer about payments and refunds in flight that are due:
    for beat, every minute, and a few seconds after each payment starts."""
    refunds = _refunds()
    return follow_due(refunds.payments, refunds)
