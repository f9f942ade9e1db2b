"""`kvits sandbox`: serve the imitation banks, and write a statement of what one booked."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from typing import Annotated

import typer

sandbox_app = typer.Typer(
    help="Imitation banks (Berlin Group PSD2, SCA pages, camt.053): serve them, get statements.",
    invoke_without_command=True,
)


@sandbox_app.callback()
def sandbox_main(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (KVITS_SANDBOX_URL must point here)")] = 8700,
    settle_after: Annotated[float | None, typer.Option(
        help="Seconds after acceptance when standard payments settle (default: next business day)")] = None,
    error_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of API calls answered 500/503/429")] = 0.0,
    slow_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of API calls answered slowly")] = 0.0,
    slow_seconds: Annotated[float, typer.Option(min=0.1, max=120, help="Delay of slow and timeout-after answers")] = 3.0,
    sca_timeout: Annotated[int, typer.Option(min=10, help="Seconds until an unfinished SCA fails (RJCT)")] = 900,
) -> None:
    """Start the sandbox banks (without a subcommand)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from sandbox import FaultPlan, SandboxConfig, Settings, create_app

    world = Settings(sca_timeout=timedelta(seconds=sca_timeout),
                     settle_after=timedelta(seconds=settle_after) if settle_after is not None else None)
    app = create_app(config=SandboxConfig(world=world, faults=FaultPlan(error_rate=error_rate, slow_rate=slow_rate, slow_seconds=slow_seconds)))
    typer.echo(f"kvits sandbox banks on http://{host}:{port}/  (test users and banks listed there)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@sandbox_app.command("statement")
def sandbox_statement(
    bank: Annotated[str, typer.Option(help="Bank id, e.g. dzintars")],
    account: Annotated[str, typer.Option(help="IBAN of an account at that bank")],
    date_from: Annotated[str | None, typer.Option("--from", help="First booking date (YYYY-MM-DD)")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last booking date (YYYY-MM-DD)")] = None,
    url: Annotated[str | None, typer.Option(help="Sandbox address (default KVITS_SANDBOX_URL)")] = None,
) -> None:
    """Write the camt.053 of what BANK booked on ACCOUNT to stdout (from a running sandbox)."""
    import httpx

    from core.errors import KvitsError
    from core.settings import get_settings

    for name, value in (("--from", date_from), ("--to", date_to)):
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise KvitsError(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None
    base = (url or get_settings().sandbox_url).rstrip("/")
    params = {k: v for k, v in (("from", date_from), ("to", date_to)) if v}
    try:
        response = httpx.get(f"{base}/_sandbox/banks/{bank}/accounts/{account}/statement", params=params, timeout=30)
    except httpx.HTTPError as exc:
        raise KvitsError(f"no sandbox answers at {base} ({type(exc).__name__}): start it with `kvits sandbox`") from None
    if response.status_code != 200:
        try:
            detail = response.json().get("error", response.text)
        except ValueError:
            detail = response.text[:200]
        raise KvitsError(f"the sandbox refused: {detail}")
    sys.stdout.buffer.write(response.content)
    sys.stdout.buffer.flush()
