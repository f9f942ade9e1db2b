"""The import job as a Celery task (acks late: a worker that dies mid-import leaves the
job to be retried; the import is one transaction, so nothing half-stored remains)."""

from __future__ import annotations

from functools import lru_cache

from celery import Task
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, session_factory
from core.settings import get_settings
from core.tasks import celery_app
from reconciliation.jobs import run_job
from reconciliation.model import MatchSettings
from reconciliation.source import ImportOptions

app = celery_app()


@lru_cache(maxsize=1)
def _factory() -> sessionmaker[Session]:
    return session_factory(make_engine(get_settings().resolved_database_url()))


def options() -> ImportOptions:
    settings = get_settings()
    return ImportOptions(max_bytes=settings.max_statement_bytes, line_limit=0,
                         settings=MatchSettings(auto_apply_at=settings.auto_apply_at))


@app.task(name="statements.import_job", bind=True, acks_late=True)  # type: ignore[untyped-decorator]
def import_job(self: Task, job_id: int) -> str:
    state = run_job(_factory(), job_id, options())
    app.send_task("webhooks.pump")  # deliver what the import committed (statement.imported, ...)
    return state
