"""Test-wide fixtures: ../shared in place, and databases (SQLite always, PostgreSQL
when KVITS_TEST_DATABASE_URL is set - and on CI it must be)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, session_factory, upgrade

# The browser fixtures, defined once for every test module: two session-scoped
# Playwright instances in one process would collide on its event loop.
from tests.browser import (  # noqa: F401
    browser,
    chromium_executable,
    live_server_factory,
    page,
    playwright_instance,
    viewport,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
ON_CI = os.environ.get("CI") == "true"


def locate_shared_dir() -> Path | None:
    env = os.environ.get("KVITS_SHARED_DIR")
    folder = Path(env) if env else REPO_ROOT.parent / "shared"
    return folder if folder.is_dir() else None


def need_shared() -> Path:
    folder = locate_shared_dir()
    if folder is None:
        where = os.environ.get("KVITS_SHARED_DIR") or str(REPO_ROOT.parent / "shared")
        message = f"shared folder not found at {where} (set KVITS_SHARED_DIR)"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (samples, cases, specs), read in place. Skips when absent, fails on CI."""
    return need_shared()


# ---------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


_PG_READY: dict[str, Engine] = {}


def _postgres_engine() -> Engine:
    url = os.environ.get("KVITS_TEST_DATABASE_URL", "")
    if not url:
        if ON_CI:
            pytest.fail("KVITS_TEST_DATABASE_URL is not set: on CI the PostgreSQL tests must run")
        pytest.skip("KVITS_TEST_DATABASE_URL not set (PostgreSQL tests)")
    if url not in _PG_READY:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        except Exception as exc:  # unreachable server: a failure on CI, a skip elsewhere
            if ON_CI:
                pytest.fail(f"PostgreSQL at KVITS_TEST_DATABASE_URL unreachable: {exc}")
            pytest.skip(f"PostgreSQL unreachable: {exc}")
        upgrade(engine)
        _PG_READY[url] = engine
    return _PG_READY[url]


def _truncate(engine: Engine) -> None:
    """Empty every table. A background thread of the previous test (an import, a webhook
    sender finishing its attempt) may still hold a lock: the TRUNCATE may then be chosen
    as a deadlock's victim, and is tried again once that work is done."""
    from sqlalchemy.exc import OperationalError

    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    for attempt in range(10):
        try:
            with engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            return
        except OperationalError:
            if attempt == 9:
                raise
            time.sleep(0.2 * (attempt + 1))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database: a fresh SQLite file, or the truncated PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "kvits.db"
        shutil.copy(_sqlite_template, path)
        yield f"sqlite:///{path}"
    else:
        engine = _postgres_engine()
        _truncate(engine)
        yield engine.url.render_as_string(hide_password=False)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """SQLite only, for tests about the embedded default (CLI, demo)."""
    path = tmp_path / "kvits.db"
    shutil.copy(_sqlite_template, path)
    return f"sqlite:///{path}"


# ---------------------------------------------------------------- CI: nothing may skip


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """On CI (CI=true) a skipped test is a failed test: a missing service, browser or
    shared folder must not turn into a green run that checked nothing."""
    outcome = yield
    report = outcome.get_result()
    if ON_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"skipped on CI, which must run every test: {reason}"


# ---------------------------------------------------------------- Redis


@pytest.fixture
def redis_url() -> str:
    """KVITS_TEST_REDIS_URL (`.ci/run` sets it), emptied for the test; skipped without it
    (failed on CI, like PostgreSQL)."""
    url = os.environ.get("KVITS_TEST_REDIS_URL", "")
    if not url:
        if ON_CI:
            pytest.fail("KVITS_TEST_REDIS_URL is not set: on CI the Redis tests must run")
        pytest.skip("KVITS_TEST_REDIS_URL not set (Redis tests)")
    from kombu.connection import Connection

    try:
        with Connection(url, connect_timeout=2) as connection:  # type: ignore[no-untyped-call]
            connection.ensure_connection(max_retries=1, timeout=2)
            connection.default_channel.client.flushdb()
    except Exception as exc:  # noqa: BLE001
        if ON_CI:
            pytest.fail(f"Redis at KVITS_TEST_REDIS_URL unreachable: {exc}")
        pytest.skip(f"Redis unreachable: {exc}")
    return url
