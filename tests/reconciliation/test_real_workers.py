"""Imports under real concurrency, on the real services: `kvits worker` processes on
Redis against PostgreSQL (CI sets KVITS_TEST_DATABASE_URL and KVITS_TEST_REDIS_URL).

- 20 statements whose entries overlap, imported at once by two workers: every entry
  stored once and applied once;
- a worker killed in the middle of an import: nothing of it stored, and the job is
  resumed (from the database's record, by the beat's `statements.resume_jobs`) and
  finished, nothing doubled;
- Redis restarted empty while imports wait: no import is lost.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from invoices.models import Invoice
from reconciliation.models import BankTransaction, ImportJob, Payment
from tests.conftest import ON_CI, REPO_ROOT
from tests.helpers import Pay, customer, invoice, merchant, statement_xml

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)

ENTRIES = 30


def _rf(n: int) -> str:
    from invoices.references import rf_from_body

    return rf_from_body(f"2026{n:05d}")


def _books(factory: sessionmaker[Session], count: int) -> int:
    with transaction(factory) as s:
        mid = merchant(s, "m1")
        code = customer(s, mid, "SIA Liels")
        for n in range(count):
            invoice(s, mid, f"W-{n}", code, f"{10 + n}.00", rf=_rf(n))
        return mid


def _pay(n: int) -> Pay:
    return Pay(f"{10 + n}.00", "SIA Liels", iban="LV97HABA0012345678910", rf=_rf(n), ref=f"E-{n:06d}")


def _job(factory: sessionmaker[Session], mid: int, folder: Path, name: str, data: bytes) -> int:
    path = folder / name
    path.write_bytes(data)
    with transaction(factory) as s:
        job = ImportJob(merchant_id=mid, state="queued", file_name=name, size=len(data), path=str(path))
        s.add(job)
        s.flush()
        return job.id


def _env(db_url: str, broker: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "KVITS_DATABASE_URL": db_url, "KVITS_BROKER_URL": broker, "KVITS_AUTO_MIGRATE": "false",
           **extra}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


@contextmanager
def _worker(env: dict[str, str], log: Path, concurrency: int = 2) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--concurrency", str(concurrency)],
                                cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: killed whole when asked
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)


def _send(env: dict[str, str], task: str, *job_ids: int) -> None:
    calls = "; ".join(f"a.send_task({task!r}, args=({j},))" for j in job_ids) if job_ids else f"a.send_task({task!r})"
    done = subprocess.run([sys.executable, "-c", f"from core.tasks import celery_app; a = celery_app(); {calls}"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def _wait(factory: sessionmaker[Session], ids: list[int], log: Path, seconds: float = 180.0) -> dict[int, str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with factory() as s:
            states = dict(s.execute(select(ImportJob.id, ImportJob.state).where(ImportJob.id.in_(ids))).all())
        if all(state in ("done", "failed") for state in states.values()):
            return states
        time.sleep(0.2)
    pytest.fail(f"imports not finished: {states}\n" + log.read_text(errors="replace")[-4000:])


def _stored(factory: sessionmaker[Session]) -> tuple[int, int, int, int]:
    """(transactions, distinct entry refs, payments applied, invoices with more paid than due)"""
    with factory() as s:
        txns = s.scalar(select(func.count()).select_from(BankTransaction)) or 0
        refs = s.scalar(select(func.count(func.distinct(BankTransaction.account_servicer_reference)))) or 0
        applied = s.scalar(select(func.count()).select_from(Payment).where(Payment.kind == "payment")) or 0
        over = s.scalar(select(func.count()).select_from(Invoice).where(Invoice.paid_minor > Invoice.total_minor)) or 0
        return txns, refs, applied, over


def test_twenty_overlapping_imports_at_once_store_and_apply_each_entry_once(
        db_url: str, factory: sessionmaker[Session], redis_url: str, tmp_path: Path) -> None:
    mid = _books(factory, ENTRIES)
    ids = []
    for i in range(20):  # file i holds entries i .. i+11 (mod 30): each entry is in about 8 files
        pays = [_pay((i + k) % ENTRIES) for k in range(12)]
        ids.append(_job(factory, mid, tmp_path, f"overlap-{i}.xml",
                        statement_xml(pays, stmt_id=f"ST-{i}", msg_id=f"MSG-{i}")))
    env = _env(db_url, redis_url)
    log = tmp_path / "workers.log"
    _send(env, "statements.import_job", *ids)  # all queued before the workers start: they take them at once
    with _worker(env, log, 3), _worker(env, log, 3):
        states = _wait(factory, ids, log)
    with factory() as s:
        errors = [e for e in s.scalars(select(ImportJob.error).where(ImportJob.error.is_not(None)))]
    assert set(states.values()) == {"done"}, (errors, log.read_text(errors="replace")[:6000])
    assert _stored(factory) == (ENTRIES, ENTRIES, ENTRIES, 0)
    with factory() as s:
        paid = dict(s.execute(select(Invoice.number, Invoice.paid_minor)).all())
    assert paid == {f"W-{n}": (10 + n) * 100 for n in range(ENTRIES)}


def test_a_worker_killed_in_the_middle_of_an_import_is_resumed_and_nothing_doubles(
        db_url: str, factory: sessionmaker[Session], redis_url: str, tmp_path: Path) -> None:
    big = 6000
    mid = _books(factory, ENTRIES)
    pays = [_pay(n % ENTRIES) if n < ENTRIES else
            Pay("1.00", f"Stranger {n}", text=f"noise {n}", ref=f"N-{n:06d}") for n in range(big)]
    job_id = _job(factory, mid, tmp_path, "big.xml", statement_xml(pays))
    env = _env(db_url, redis_url, KVITS_IMPORT_STALE_SECONDS="3")
    log = tmp_path / "workers.log"
    with _worker(env, log, 1) as first:
        _send(env, "statements.import_job", job_id)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with factory() as s:
                job = s.get(ImportJob, job_id)
                assert job is not None
                if job.state == "running" and job.progress_bytes > 0:
                    break
                assert job.state == "queued", (job.state, job.error)
            time.sleep(0.02)
        else:
            pytest.fail("the import never started:\n" + log.read_text(errors="replace")[-3000:])
        os.killpg(first.pid, signal.SIGKILL)  # the machine dies: the worker and its children at once
        first.wait(10)
    with factory() as s:
        job = s.get(ImportJob, job_id)
        assert job is not None and job.state == "running" and job.runs == 1
    assert _stored(factory) == (0, 0, 0, 0)  # the import is one transaction: nothing half-stored
    time.sleep(3.5)  # its heartbeat goes silent
    with _worker(env, log, 1):
        _send(env, "statements.resume_jobs")  # what beat sends every minute
        states = _wait(factory, [job_id], log)
    assert states == {job_id: "done"}, log.read_text(errors="replace")[-4000:]
    with factory() as s:
        job = s.get(ImportJob, job_id)
        assert job is not None and job.runs == 2 and job.result is not None
        assert job.result["statements"][0]["new_transactions"] == big
    assert _stored(factory) == (big, big, ENTRIES, 0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _redis(port: int) -> Iterator[None]:
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(10)


def test_imports_waiting_when_redis_restarts_empty_are_not_lost(
        db_url: str, factory: sessionmaker[Session], redis_url: str, tmp_path: Path) -> None:
    """Redis here keeps nothing on disk: a restart loses the queue. The database's import
    jobs are the record, and the beat's resume_jobs sends the lost ones again."""
    if shutil.which("redis-server") is None:
        if ON_CI:
            pytest.fail("redis-server is not installed: on CI this test must run")
        pytest.skip("redis-server is not installed (the Redis restart test starts its own)")
    mid = _books(factory, ENTRIES)
    port = _free_port()
    env = _env(db_url, f"redis://127.0.0.1:{port}/0", KVITS_IMPORT_STALE_SECONDS="2")
    ids = [_job(factory, mid, tmp_path, f"wait-{i}.xml",
                statement_xml([_pay(n) for n in range(i * 6, i * 6 + 6)], stmt_id=f"ST-{i}", msg_id=f"M-{i}"))
           for i in range(5)]
    with _redis(port):
        _send(env, "statements.import_job", *ids)  # no worker yet: they wait in Redis
    log = tmp_path / "workers.log"
    with _redis(port):  # back, empty
        time.sleep(2.5)
        with _worker(env, log, 2):
            _send(env, "statements.resume_jobs")
            states = _wait(factory, ids, log)
    assert set(states.values()) == {"done"}
    assert _stored(factory) == (ENTRIES, ENTRIES, ENTRIES, 0)


def test_an_import_by_a_worker_meets_a_manual_match_of_the_same_invoices(
        db_url: str, factory: sessionmaker[Session], redis_url: str, tmp_path: Path) -> None:
    """A worker imports payments for ten invoices while a person assigns other payments
    to the same ten by hand, at the same moments: for each invoice one wins and the
    other sees it; no invoice is paid twice."""
    import threading

    from reconciliation import review
    from reconciliation.service import ImportOptions, import_statement

    count = 10
    mid = _books(factory, count)
    with transaction(factory) as s:  # payments nobody could match: for a person to assign
        import_statement(s, mid, statement_xml([Pay(f"{10 + n}.00", f"Stranger {n}", text="thanks", ref=f"S-{n}")
                                                for n in range(count)], stmt_id="ST-0", msg_id="M-0"),
                         options=ImportOptions())
        strangers = dict(s.execute(select(BankTransaction.account_servicer_reference, BankTransaction.id)).all())
    ids = [_job(factory, mid, tmp_path, f"race-{n}.xml", statement_xml([_pay(n)], stmt_id=f"ST-R{n}", msg_id=f"M-R{n}"))
           for n in range(count)]
    env = _env(db_url, redis_url)
    log = tmp_path / "workers.log"
    refused: list[str] = []

    def by_hand() -> None:
        for n in range(count):
            try:
                with transaction(factory) as s:
                    review.assign(s, mid, strangers[f"S-{n}"], [f"W-{n}"])
            except review.ReviewError as exc:
                refused.append(str(exc))
            time.sleep(0.05)

    with _worker(env, log, 2):
        time.sleep(3)  # the worker is up and waiting
        person = threading.Thread(target=by_hand)
        _send(env, "statements.import_job", *ids)
        person.start()
        states = _wait(factory, ids, log)
        person.join(60)
    assert set(states.values()) == {"done"}
    with factory() as s:
        per_invoice = dict(s.execute(select(Invoice.number, func.count(Payment.id)).join(
            Payment, Payment.invoice_id == Invoice.id).where(Payment.kind == "payment").group_by(Invoice.number)).all())
        paid = dict(s.execute(select(Invoice.number, Invoice.paid_minor)).all())
    assert per_invoice == {f"W-{n}": 1 for n in range(count)}, per_invoice  # one payment each, whoever won
    assert paid == {f"W-{n}": (10 + n) * 100 for n in range(count)}
    assert all("is paid" in why for why in refused), refused  # the person saw the import's
