"""Invoice work for Celery: the daily overdue report (beat sends it every hour; the
merchants' day turns at midnight in KVITS_TIMEZONE, and a run that finds nothing new
does nothing)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, session_factory
from core.settings import get_settings
from core.tasks import celery_app
from invoices.overdue import run_overdue_job

app = celery_app()


@lru_cache(maxsize=1)
def _factory() -> sessionmaker[Session]:
    return session_factory(make_engine(get_settings().resolved_database_url()))


@app.task(name="invoices.mark_overdue")  # type: ignore[untyped-decorator]
def mark_overdue_task() -> int | None:
    """How many invoices this run reported overdue (None: another run holds the lease)."""
    return run_overdue_job(_factory(), get_settings().timezone)
