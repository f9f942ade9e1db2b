"""Import jobs: a statement file uploaded through the API, imported in the background
(a Celery task with a broker; a thread of the API process without one)."""

from __future__ import annotations

import functools
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from camt.errors import CamtError
from core.db import changed, is_transient, transaction
from core.errors import KvitsError
from core.settings import Settings
from reconciliation.models import ImportJob
from reconciliation.report import ImportReport
from reconciliation.source import ImportOptions, PreparedStatement

_log = logging.getLogger("kvits.import")
LOCAL_IMPORTS = 2  # imports at once in a process without a broker
ATTEMPTS = 3  # an import that meets a concurrent one of the same entries reads again
# how far an import running in this process has read (SQLite: the import holds the only
# write lock, so its progress cannot be written to the job row until it ends)
_PROGRESS: dict[int, int] = {}
_PROGRESS_LOCK = threading.Lock()
_IN_LINE: set[int] = set()  # jobs this process has in line or running (no broker)


def progress_of(job: ImportJob) -> int:
    with _PROGRESS_LOCK:
        return _PROGRESS.get(job.id, job.progress_bytes)


# a running import writes its heartbeat this often (not on SQLite, where the import holds
# the only write lock), and one silent for STALE lost its worker: the next run takes over
HEARTBEAT = 5.0  # float-ok: seconds
STALE = 60.0  # float-ok: seconds
MAX_RUNS = 3  # a file that kills its worker every time is failed, not retried forever
BUSY = "busy"  # another worker is importing the job right now


def _silence(factory: sessionmaker[Session], stale: float) -> float:  # float-ok: seconds
    """How long a running job may be silent: on SQLite it cannot beat at all, so only an
    hour without an end counts as a dead worker."""
    return max(stale, 3600.0) if factory.kw["bind"].dialect.name == "sqlite" else stale  # float-ok: seconds


def _claim(session: Session, job_id: int, stale: float) -> str | None:  # float-ok: seconds
    """Take the job: queued, or running with a worker that stopped beating. None when
    taken; else why not ("skipped": finished; BUSY: someone is on it)."""
    now = datetime.now(UTC)
    silent = or_(ImportJob.heartbeat_at < now - timedelta(seconds=stale),
                 and_(ImportJob.heartbeat_at.is_(None), ImportJob.started_at < now - timedelta(seconds=stale)))
    taken = changed(session, update(ImportJob).where(
        ImportJob.id == job_id, or_(ImportJob.state == "queued", and_(ImportJob.state == "running", silent)))
        .values(state="running", started_at=now, heartbeat_at=now, runs=ImportJob.runs + 1))
    if taken:
        return None
    job = session.get(ImportJob, job_id)
    return BUSY if job is not None and job.state == "running" else "skipped"


def run_job(factory: sessionmaker[Session], job_id: int, options: ImportOptions,
            stale: float = STALE) -> str:  # float-ok: seconds
    """Import the job's file once; return the job's final state. A job finished, or being
    imported by a live worker, is left alone ("skipped", BUSY); one whose worker died in
    the middle (nothing of it was stored: the import is one transaction) is imported
    again from the start, at most MAX_RUNS times."""
    from reconciliation.service import import_statement

    stale = _silence(factory, stale)
    with transaction(factory) as session:
        refused = _claim(session, job_id, stale)
        if refused is not None:
            return refused
        job = session.get(ImportJob, job_id)
        assert job is not None
        path, merchant_id, file_name, runs = Path(job.path), job.merchant_id, job.file_name, job.runs
        if runs > MAX_RUNS:
            job.state, job.finished_at = "failed", datetime.now(UTC)
            job.error = (f"the import stopped {MAX_RUNS} times without finishing (its worker died each time); "
                         "nothing of it was stored: check the file, or upload it again")
            path.unlink(missing_ok=True)
            return "failed"
        if runs > 1:
            _log.warning("import job %s: run %s, its previous worker stopped in the middle", job_id, runs)
    sqlite = factory.kw["bind"].dialect.name == "sqlite"
    last = [0.0]

    def progress(done: int) -> None:
        with _PROGRESS_LOCK:
            _PROGRESS[job_id] = done
        if not sqlite and time.monotonic() - last[0] > 0.5:
            last[0] = time.monotonic()
            with transaction(factory) as s:
                s.execute(update(ImportJob).where(ImportJob.id == job_id).values(progress_bytes=done)
                          .execution_options(synchronize_session=False))

    stop = threading.Event()
    if not sqlite:
        threading.Thread(target=_beat, args=(factory, job_id, stop), daemon=True,
                         name=f"kvits-import-{job_id}-heartbeat").start()
    state, values = "failed", {}
    try:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with PreparedStatement(path, options, progress, file_name) as prepared:
                    session = factory()
                    try:
                        with session.begin():
                            report = import_statement(session, merchant_id, prepared, options=options)
                    finally:
                        session.close()
            except (IntegrityError, OperationalError) as exc:
                # another import stored some of the same entries at the same moment (or the
                # database chose this one as a deadlock's victim): nothing of this one was
                # stored; read again, the other's entries now count as already imported
                if attempt == ATTEMPTS or not (isinstance(exc, IntegrityError) or is_transient(exc)):
                    raise
                _log.info("import job %s met a concurrent import, attempt %s: %s", job_id, attempt, exc.orig)
                continue
            state, values = "done", {"result": summary(report), "progress_bytes": path.stat().st_size}
            break
    except (CamtError, KvitsError) as exc:
        values = {"error": str(exc)[:4000]}
    except Exception:
        _log.exception("import job %s failed", job_id)
        values = {"error": "an internal error stopped the import; nothing of it was stored"}
    finally:
        stop.set()
        path.unlink(missing_ok=True)
        with _PROGRESS_LOCK:
            _PROGRESS.pop(job_id, None)
    with transaction(factory) as session:
        session.execute(update(ImportJob).where(ImportJob.id == job_id)
                        .values(state=state, finished_at=datetime.now(UTC), **values)
                        .execution_options(synchronize_session=False))
    return state


def _beat(factory: sessionmaker[Session], job_id: int, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT):
        try:
            with transaction(factory) as s:
                changed(s, update(ImportJob).where(ImportJob.id == job_id, ImportJob.state == "running")
                        .values(heartbeat_at=datetime.now(UTC)))
        except Exception:  # noqa: BLE001  (a missed beat is not the import's failure)
            _log.warning("import job %s: could not write its heartbeat", job_id, exc_info=True)


def resumable(factory: sessionmaker[Session], stale: float = STALE) -> list[int]:  # float-ok: seconds
    """Jobs whose task may have been lost: queued for longer than `stale` (a broker that
    restarted without its queue), or running with a silent worker. The database is the
    record of what is to be done; sending their task again is safe (`run_job` claims)."""
    old = datetime.now(UTC) - timedelta(seconds=_silence(factory, stale))
    with transaction(factory) as session:
        return list(session.scalars(select(ImportJob.id).where(or_(
            and_(ImportJob.state == "queued", ImportJob.created_at < old),
            and_(ImportJob.state == "running", or_(ImportJob.heartbeat_at < old,
                                                   and_(ImportJob.heartbeat_at.is_(None),
                                                        ImportJob.started_at < old))))).order_by(ImportJob.id)))


def options_for(settings: Settings) -> ImportOptions:
    """How a deployment's background imports read and match."""
    from reconciliation.model import MatchSettings

    return ImportOptions(max_bytes=settings.max_statement_bytes, line_limit=0,
                         settings=MatchSettings(auto_apply_at=settings.auto_apply_at))


def resume_here(factory: sessionmaker[Session], settings: Settings, then: Callable[[], None] | None = None) -> int:
    """Without a broker: start again, on threads of this process, the jobs a previous
    process left (stopped or killed in the middle)."""
    ids = resumable(factory, settings.import_stale_seconds)
    for job_id in ids:
        start(factory, job_id, options_for(settings), broker=False, then=then)
    return len(ids)


def summary(report: ImportReport) -> dict[str, Any]:
    return {
        "file_sha256": report.file_sha256,
        "statements": [{"id": f"stm_{s.db_id}" if s.db_id else None, "statement_id": s.statement_id,
                        "account": s.account, "currency": s.currency, "entries": s.entries,
                        "transactions": s.transactions, "new_transactions": s.new_transactions,
                        "already_imported": s.already_imported, "balance_check": s.balance_check,
                        "problems": s.problems} for s in report.statements],
        "counts": dict(report.counts),
        "balance_ok": report.balance_ok,
    }


def start(factory: sessionmaker[Session], job_id: int, options: ImportOptions, broker: bool,
          then: Callable[[], None] | None = None) -> None:
    """Hand the job to a Celery worker, or (no broker) to a thread of this process;
    `then` runs after an in-process job (to deliver the events it committed)."""
    if broker:
        from reconciliation.tasks import import_job

        import_job.apply_async(args=(job_id,))
        return

    with _PROGRESS_LOCK:  # (resume_jobs may find it again while it waits in line here)
        if job_id in _IN_LINE:
            return
        _IN_LINE.add(job_id)

    def run() -> None:
        try:
            run_job(factory, job_id, options)
            if then is not None:
                then()
        except Exception:  # noqa: BLE001  (the job row says failed, or resume_jobs takes it up)
            _log.exception("import job %s stopped", job_id)
        finally:
            with _PROGRESS_LOCK:
                _IN_LINE.discard(job_id)

    _local_imports().submit(run)


@functools.lru_cache(maxsize=1)
def _local_imports() -> ThreadPoolExecutor:
    """Without a broker, this process's imports run on a few threads of their own, the
    rest waiting in line: a thread per upload, each holding a database connection while
    it waits its turn (imports of one merchant follow one another), emptied the
    connection pool under a burst of uploads and stalled the API's own requests."""
    return ThreadPoolExecutor(max_workers=LOCAL_IMPORTS, thread_name_prefix="kvits-import")
