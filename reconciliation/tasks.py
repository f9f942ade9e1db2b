"""The import job as a Celery task. Acks late, and the job row is the record: a worker
that dies mid-import leaves nothing stored (one transaction) and its job is imported
again, by the redelivered message or by `resume_jobs` (beat, every minute) once the
job's heartbeat has gone silent for KVITS_IMPORT_STALE_SECONDS; a broker that restarted
empty loses no import either, as `resume_jobs` sends queued jobs again."""

from __future__ import annotations

from functools import lru_cache

from celery import Task
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, session_factory
from core.settings import Settings, get_settings
from core.tasks import celery_app
from reconciliation.jobs import BUSY, options_for, resumable, run_job

app = celery_app()


@lru_cache(maxsize=1)
def _factory() -> sessionmaker[Session]:
    return session_factory(make_engine(get_settings().resolved_database_url()))


@app.task(name="statements.import_job", bind=True, acks_late=True, max_retries=None)  # type: ignore[untyped-decorator]
def import_job(self: Task, job_id: int) -> str:
    stale = get_settings().import_stale_seconds
    state = run_job(_factory(), job_id, options_for(get_settings()), stale=stale)
    if state == BUSY:  # another worker is on it: look again once it could have gone silent
        raise self.retry(countdown=stale)
    if state != "skipped":
        app.send_task("webhooks.pump")  # deliver what the import committed (statement.imported, ...)
    return state


@app.task(name="statements.resume_jobs")  # type: ignore[untyped-decorator]
def resume_jobs() -> int:
    """For beat, every minute: send again the imports whose task was lost (a broker that
    restarted empty) or whose worker died in the middle; the database says which."""
    ids = resumable(_factory(), get_settings().import_stale_seconds)
    for job_id in ids:
        import_job.apply_async(args=(job_id,))
    return len(ids)


@app.task(name="statements.fetch_feeds")  # type: ignore[untyped-decorator]
def fetch_feeds() -> int | None:
    """For beat, hourly: fetch the bank feeds due (KVITS_FEED_EVERY_HOURS) and import them;
    one run at a time (None: another holds the lease)."""
    return run_feeds(_factory(), get_settings())


def run_feeds(factory: sessionmaker[Session], settings: Settings) -> int | None:
    from datetime import timedelta

    from core.leases import lease
    from reconciliation.feeds import feeds_for

    with lease(factory, "statements.fetch_feeds", 3600) as mine:
        if not mine:
            return None
        return feeds_for(settings, factory).fetch_due(timedelta(hours=settings.feed_every_hours))
