"""Import jobs: a statement file uploaded through the API, imported in the background
(a Celery task with a broker; a thread of the API process without one)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from camt.errors import CamtError
from core.db import is_transient, transaction
from core.errors import KvitsError
from reconciliation.models import ImportJob
from reconciliation.report import ImportReport
from reconciliation.source import ImportOptions, PreparedStatement

_log = logging.getLogger("kvits.import")
ATTEMPTS = 3  # an import that meets a concurrent one of the same entries reads again
# how far an import running in this process has read (SQLite: the import holds the only
# write lock, so its progress cannot be written to the job row until it ends)
_PROGRESS: dict[int, int] = {}
_PROGRESS_LOCK = threading.Lock()


def progress_of(job: ImportJob) -> int:
    with _PROGRESS_LOCK:
        return _PROGRESS.get(job.id, job.progress_bytes)


def run_job(factory: sessionmaker[Session], job_id: int, options: ImportOptions) -> str:
    """Import the job's file once; return the job's final state. A job already taken by
    another worker (or finished) is left alone."""
    from reconciliation.service import import_statement

    with transaction(factory) as session:
        result = session.execute(update(ImportJob).where(ImportJob.id == job_id, ImportJob.state == "queued")
                                 .values(state="running", started_at=datetime.now(UTC))
                                 .execution_options(synchronize_session=False))
        assert isinstance(result, CursorResult)
        if result.rowcount != 1:
            return "skipped"
        job = session.get(ImportJob, job_id)
        assert job is not None
        path, merchant_id, file_name = Path(job.path), job.merchant_id, job.file_name
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
        path.unlink(missing_ok=True)
        with _PROGRESS_LOCK:
            _PROGRESS.pop(job_id, None)
    with transaction(factory) as session:
        session.execute(update(ImportJob).where(ImportJob.id == job_id)
                        .values(state=state, finished_at=datetime.now(UTC), **values)
                        .execution_options(synchronize_session=False))
    return state


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

    def run() -> None:
        run_job(factory, job_id, options)
        if then is not None:
            then()

    threading.Thread(target=run, daemon=True, name=f"kvits-import-{job_id}").start()
