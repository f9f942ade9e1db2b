"""Running kvits as a service: readiness, the schedule beat sends, and a real Celery
worker on Redis doing kvits' work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.settings import Settings
from tests.conftest import REPO_ROOT
from tests.e2e.test_cli import kvits

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient


def test_ready_checks_the_database_and_the_broker(factory: sessionmaker[Session]) -> None:
    alone = TestClient(create_app(Settings(secret_key="r" * 40), factory))
    assert alone.get("/ready").json() == {"status": "ready", "database": "ok", "broker": "not configured"}
    assert alone.get("/health").json() == {"status": "ok"}
    broken = TestClient(create_app(Settings(secret_key="r" * 40, broker_url="redis://127.0.0.1:9/0"), factory))
    answer = broken.get("/ready")
    assert answer.status_code == 503 and answer.json()["code"] == "not_ready"
    assert answer.json()["checks"]["database"] == "ok" and "broker" in answer.json()["detail"]


def test_ready_with_redis(factory: sessionmaker[Session], redis_url: str) -> None:
    client = TestClient(create_app(Settings(secret_key="r" * 40, broker_url=redis_url), factory))
    assert client.get("/ready").json() == {"status": "ready", "database": "ok", "broker": "ok"}


def test_beat_sends_every_periodic_task_a_worker_knows() -> None:
    import importlib

    from core.tasks import BEAT_SCHEDULE, TASK_MODULES, celery_app

    for module in TASK_MODULES:
        importlib.import_module(module)
    names = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert names == {"webhooks.pump", "psd2.poll_due", "paylinks.follow_due", "invoices.mark_overdue",
                     "statements.resume_jobs", "statements.fetch_feeds"}
    assert names <= set(celery_app().tasks)
    every = {entry["task"]: entry["schedule"] for entry in BEAT_SCHEDULE.values()}
    assert every.pop("invoices.mark_overdue") == 3600  # daily work, looked at hourly
    assert every.pop("statements.fetch_feeds") == 3600  # each feed every KVITS_FEED_EVERY_HOURS
    assert all(seconds <= 60 for seconds in every.values())


def test_worker_and_beat_need_a_broker(sqlite_url: str) -> None:
    for command in ("worker", "beat"):
        done = kvits(command, db=sqlite_url, env={"KVITS_BROKER_URL": ""})
        assert done.returncode == 1 and "needs a broker: set KVITS_BROKER_URL" in done.stderr


def test_a_worker_on_redis_does_kvits_work(sqlite_url: str, redis_url: str, tmp_path: Path) -> None:
    """`kvits worker` takes a task from Redis and runs it against the database; the
    request id of whoever sent it is on the worker's (JSON) log lines, and its metrics
    count the tasks."""
    import socket

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "KVITS_DATABASE_URL": sqlite_url, "KVITS_BROKER_URL": redis_url, "COLUMNS": "200",
           "KVITS_LOG_FORMAT": "json"}
    env.pop("KVITS_MERCHANT", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--concurrency", "1",
                                   "--metrics-port", str(port)], cwd=REPO_ROOT,
                                  env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            sender = subprocess.run([sys.executable, "-c", "from core.tasks import celery_app; "
                                     "from core.observe import REQUEST_ID; REQUEST_ID.set('req-from-api-1'); "
                                     "celery_app().send_task('paylinks.follow_due'); celery_app().send_task('webhooks.pump')"],
                                    cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
            assert sender.returncode == 0, sender.stderr
            for _ in range(300):
                text = log.read_text()
                if "paylinks.follow_due" in text and "webhooks.pump" in text and text.count("succeeded") >= 2:
                    break
                time.sleep(0.1)
            else:
                pytest.fail("the worker did not run the tasks:\n" + log.read_text()[-3000:])
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        finally:
            worker.terminate()
            worker.wait(20)
    text = log.read_text()
    assert "Traceback" not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    done = [line for line in lines if "succeeded" in line["message"]]
    assert {line["task"] for line in done} == {"paylinks.follow_due", "webhooks.pump"}
    assert {line["request_id"] for line in done} == {"req-from-api-1"}
    assert 'kvits_tasks_total{outcome="success",task="paylinks.follow_due"} 1.0' in metrics
    assert 'kvits_task_duration_seconds_count{task="webhooks.pump"} 1.0' in metrics
