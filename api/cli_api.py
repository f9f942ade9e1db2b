"""`kvits serve`, `kvits merchants create`, `kvits clients create`: the HTTP API and the
merchants and machine clients it serves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console

merchants_app = typer.Typer(help="Merchants (tenants): create, list, update.", no_args_is_help=True)
users_app = typer.Typer(help="People who sign in to the web pages.", no_args_is_help=True)
clients_app = typer.Typer(help="Machine clients of the HTTP API (OAuth2 client credentials): create, list, revoke.",
                          no_args_is_help=True)
out = Console(highlight=False)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs, metrics at /metrics)."""
    import uvicorn

    from core.observe import log_config
    from core.settings import get_settings

    settings = get_settings()
    typer.echo(f"kvits API on http://{host}:{port}/  (docs at /docs)", err=True)
    with _shared_metrics("serve", workers > 1):
        uvicorn.run("api.cli_api:make_app", factory=True, host=host, port=port, workers=workers,
                    log_config=log_config(settings.log_format, settings.log_level), access_log=False,
                    proxy_headers=True)


@contextmanager
def _shared_metrics(kind: str, wanted: bool = True) -> Iterator[None]:
    """Processes that share their counters need one folder, set before prometheus_client
    is imported: the operator's PROMETHEUS_MULTIPROC_DIR, else a fresh one of this host's
    (removed when the command ends)."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    if not wanted or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    folder = Path(tempfile.gettempdir()) / f"kvits-metrics-{kind}-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def make_app():  # type: ignore[no-untyped-def]
    """uvicorn's factory: each worker process opens its own database engine."""
    from api.app import create_app
    from api.runtime import Runtime

    runtime = Runtime()
    app = create_app(runtime.settings, runtime.factory)
    if not runtime.settings.broker_url:  # no beat: this process runs the daily jobs
        from core.tasks import every
        from invoices.overdue import run_overdue_job

        from api.webhooks import pump_soon
        from reconciliation.jobs import resume_here

        factory, settings = runtime.factory, runtime.settings
        every(3600, lambda: run_overdue_job(factory, settings.timezone), "invoices.mark_overdue")
        every(60, lambda: resume_here(factory, settings, then=lambda: pump_soon(factory, settings)),
              "statements.resume_jobs")
        from reconciliation.tasks import run_feeds

        every(3600, lambda: run_feeds(factory, settings), "statements.fetch_feeds")
    return app


@merchants_app.command("create")
def merchants_create(code: str, name: Annotated[str | None, typer.Option(help="Display name")] = None,
                     iban: Annotated[str | None, typer.Option(help="Account payers' bank payments go to")] = None) -> None:
    """Create merchant CODE (or say that it exists)."""
    from api.cli_state import State
    from core.models import Merchant
    from core.tenancy import get_or_create_merchant, set_iban
    from sqlalchemy import select

    rt = State.rt()
    with rt.unit() as session:
        known = session.scalar(select(Merchant.id).where(Merchant.code == code))
        merchant = get_or_create_merchant(session, code, name)
        if iban is not None:
            set_iban(session, merchant, _iban(iban))
        out.print(f"merchant {merchant.code} ({merchant.name}) {'exists' if known else 'created'}")


def _iban(value: str) -> str:
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        return str(IBAN(value).compact)
    except SchwiftyException as exc:
        raise typer.BadParameter(f"{value!r} is not an IBAN: {exc}", param_hint="--iban") from None


@merchants_app.command("list")
def merchants_list() -> None:
    """Every merchant: code, name, IBAN, fee."""
    from api.cli_state import State
    from core.models import Merchant
    from sqlalchemy import select

    rt = State.rt()
    with rt.unit() as session:
        rows = list(session.scalars(select(Merchant).order_by(Merchant.code)))
        for m in rows:
            out.print(f"{m.code}  {m.name}  IBAN {m.iban or '-'}  fee {m.fee_bp / 100:g}%")
        if not rows:
            out.print("no merchants: kvits demo, or kvits merchants create CODE")


@merchants_app.command("update")
def merchants_update(
    code: str,
    name: Annotated[str | None, typer.Option(help="Display name (shown to payers)")] = None,
    iban: Annotated[str | None, typer.Option(help="Account payers' bank payments go to")] = None,
    fee_bp: Annotated[int | None, typer.Option(min=0, max=10000, help="Fee per payment in basis points (100 = 1%)")] = None,
    partial_payments: Annotated[bool | None, typer.Option("--partial-payments/--whole-amount-only",
                                                          help="May payers pay part of what is due")] = None,
) -> None:
    """Change merchant CODE's name, IBAN, fee or partial-payment choice."""
    from api.cli_state import State
    from core.errors import KvitsError
    from core.models import Merchant
    from core.tenancy import set_iban
    from sqlalchemy import select

    rt = State.rt()
    with rt.unit() as session:
        merchant = session.scalar(select(Merchant).where(Merchant.code == code))
        if merchant is None:
            raise KvitsError(f"no merchant {code!r}: kvits merchants create {code}")
        if name is not None:
            merchant.name = name[:200]
        if iban is not None:
            set_iban(session, merchant, _iban(iban))
        if fee_bp is not None:
            merchant.fee_bp = fee_bp
        if partial_payments is not None:
            merchant.partial_payments = partial_payments
        out.print(f"merchant {merchant.code}: {merchant.name}, IBAN {merchant.iban or '-'}, fee {merchant.fee_bp / 100:g}%, "
                  f"{'partial payments allowed' if merchant.partial_payments else 'whole amount only'}")


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="What the client is, e.g. 'bookkeeping sync'")],
    scope: Annotated[list[str] | None, typer.Option(help="Scope to grant (repeat); default all")] = None,
) -> None:
    """Create a client for the merchant (-m); prints its id and secret once."""
    from api.cli_state import State
    from api.clients import create_client

    rt = State.rt()
    with rt.unit() as session:
        merchant_id = rt.merchant_id(session)
        client = create_client(session, merchant_id, name, scope or [])
    out.print(f"client_id:     {client.client_id}\nclient_secret: {client.secret}\nscopes:        {' '.join(client.scopes)}")
    out.print("[yellow]the secret is shown only now: keep it[/yellow]")


@clients_app.command("list")
def clients_list() -> None:
    """The merchant's (-m) clients: id, name, scopes, and whether revoked."""
    from api.cli_state import State
    from api.clients import list_clients

    rt = State.rt()
    with rt.unit() as session:
        rows = list_clients(session, rt.merchant_id(session))
        for c in rows:
            state = f"revoked {c.revoked_at:%Y-%m-%d %H:%M}" if c.revoked_at else "active"
            out.print(f"{c.client_id}  {state:<24} {c.name}  [{c.scopes}]")
        if not rows:
            out.print("no clients: kvits clients create --name ...")


@clients_app.command("revoke")
def clients_revoke(client_id: str) -> None:
    """Revoke CLIENT_ID: no new tokens, and those it holds stop working within seconds."""
    from api.cli_state import State
    from api.clients import revoke

    rt = State.rt()
    with rt.unit() as session:
        client = revoke(session, rt.merchant_id(session), client_id)
        out.print(f"client {client.client_id} ({client.name}) revoked")


@users_app.command("create")
def users_create(
    email: str,
    role: Annotated[str, typer.Option(help="owner, finance or read_only")] = "owner",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Create a person of the merchant (-m) who signs in at /login (password asked for)."""
    import sys

    from api.cli_state import State
    from api.people import create_user

    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    rt = State.rt()
    with rt.unit() as session:
        user = create_user(session, rt.merchant_id(session), email, password, role)
        out.print(f"user {user.email} ({user.role}) created")


def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Worker processes")] = 2,
    loglevel: Annotated[str | None, typer.Option(help="debug, info, warning (default KVITS_LOG_LEVEL)")] = None,
    metrics_port: Annotated[int, typer.Option(help="Serve this worker's task metrics at "
                                                   "http://127.0.0.1:PORT/metrics (0: not)")] = 0,
) -> None:
    """A Celery worker: statement imports, webhook deliveries, payment polling, the daily
    jobs (needs KVITS_BROKER_URL)."""
    from core.errors import KvitsError
    from core.settings import get_settings

    settings = get_settings()
    if not settings.broker_url:
        raise KvitsError("kvits worker needs a broker: set KVITS_BROKER_URL (e.g. redis://127.0.0.1:6379/0); "
                         "without one kvits serve does this work itself")
    level = loglevel or settings.log_level
    with _shared_metrics("worker", bool(metrics_port)):
        app = _celery_with_our_logs(settings.log_format, level)
        if metrics_port:
            from prometheus_client import CollectorRegistry, multiprocess, start_http_server

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            start_http_server(metrics_port, addr="127.0.0.1", registry=registry)
        app.worker_main(["worker", f"--concurrency={concurrency}", f"--loglevel={level}"])


def _celery_with_our_logs(fmt: str, level: str):  # type: ignore[no-untyped-def]
    """The Celery app, logging as the API does (request ids, JSON when asked)."""
    from celery import signals

    from core.observe import configure_logging
    from core.tasks import celery_app

    def setup(**_: object) -> None:
        configure_logging(fmt, level)

    signals.setup_logging.connect(setup, weak=False, dispatch_uid="kvits-logging")
    return celery_app()


def beat(loglevel: Annotated[str | None, typer.Option(help="debug, info, warning (default KVITS_LOG_LEVEL)")] = None,
         ) -> None:
    """Celery beat: sends the scheduled work to the workers (needs KVITS_BROKER_URL): every
    minute webhook retries, payment polling, following pay link payments, resuming lost
    imports; every hour the overdue report and the bank feeds due. Run one; a second by
    mistake does no harm (the hourly jobs take a lease, the others lock their rows)."""
    import tempfile
    from pathlib import Path

    from core.errors import KvitsError
    from core.settings import get_settings

    settings = get_settings()
    if not settings.broker_url:
        raise KvitsError("kvits beat needs a broker: set KVITS_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    level = loglevel or settings.log_level
    schedule = Path(tempfile.gettempdir()) / "kvits-beat-schedule"
    _celery_with_our_logs(settings.log_format, level).start(
        ["beat", f"--loglevel={level}", f"--schedule={schedule}"])
