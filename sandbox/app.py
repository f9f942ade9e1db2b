"""The sandbox as one FastAPI app: every bank host, the SCA pages, the OAuth server, the
card acquirer (`/acquirer`), and a back office (`/_sandbox/...`) for people and tests:
accounts, statements, faults, clock."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date, timedelta

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from sandbox import acquirer_routes, sca, statements, xs2a
from sandbox.acquirer import ACQUIRER_KEY, TEST_CARDS
from sandbox.xs2a import EARLIEST
from sandbox.banks import BANKS, BY_ID, BankProfile, hosts
from sandbox.errors import TppError, format_error
from sandbox.faults import FaultPlan
from sandbox.validation import is_uuid
from sandbox.oauth import TPP_CLIENT_ID, TPP_CLIENT_SECRET, Server
from sandbox.users import ONE_TIME_CODE, USERS
from sandbox.world import Settings, World


@dataclass(slots=True)
class SandboxConfig:
    world: Settings = field(default_factory=Settings)
    faults: FaultPlan = field(default_factory=FaultPlan)
    token_lifetime: timedelta = timedelta(minutes=5)


class FaultRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    bank: str = Field(description="bank id, or * for every bank")
    operation: str = "any"
    fault: str
    times: int = Field(1, ge=1, le=1000)
    slow_seconds: float | None = Field(None, gt=0, le=120, description="delay of slow and timeout-after faults")


class ClockRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    days: float = Field(0, ge=0, le=366)
    seconds: float = Field(0, ge=0, le=366 * 86400)


MAX_CLOCK_OFFSET = timedelta(days=5 * 366)  # further on, years of daily traffic would pile up


def create_app(world: World | None = None, config: SandboxConfig | None = None) -> FastAPI:
    config = config or SandboxConfig()
    world = world or World(settings=config.world)
    faults = config.faults
    # no /docs: its page loads from a CDN, which a sandbox on a closed machine cannot reach
    app = FastAPI(title="kvits sandbox banks", version="1.3.12", docs_url=None, redoc_url=None,
                  description="Imitation Baltic banks speaking Berlin Group NextGenPSD2.")
    app.state.world = world
    app.state.faults = faults
    oauth = Server(world, config.token_lifetime)
    app.state.oauth = oauth

    def token_check(bank: BankProfile, request: Request) -> None:
        if bank.dialect != "oauth":
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise TppError(401, "TOKEN_INVALID", f"{bank.name} needs a bearer token (client credentials)")
        with world.lock:
            state = oauth.token_state(token)
        if state == "expired":
            raise TppError(401, "TOKEN_EXPIRED", "the access token has expired")
        if state == "unknown":
            raise TppError(401, "TOKEN_UNKNOWN", "the access token is not known")

    for api_path, banks in hosts().items():
        host = xs2a.Host(api_path, banks, world, faults, token_check)
        app.include_router(xs2a.router(host))
        app.include_router(sca.router(banks[0].host_path, banks, world,
                                      oauth if banks[0].dialect == "oauth" else None))
    app.include_router(acquirer_routes.router(world))

    def echo(request: Request) -> str | None:
        value = request.headers.get("x-request-id")
        return value if value and is_uuid(value) else None  # never reflect arbitrary header bytes

    @app.exception_handler(TppError)
    def tpp_error(request: Request, exc: TppError) -> Response:
        return exc.response(echo(request))

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(acquirer_routes.PREFIX + "/v1/"):
            return acquirer_routes.http_error(request.url.path, request.method, exc.status_code)
        # an address or method the bank does not serve: under /v1 in the standard's shape too
        if any(request.url.path.startswith(p + "/v1/") for p in hosts()):
            error = TppError(405, "SERVICE_INVALID", f"{request.method} is not offered here") if exc.status_code == 405 \
                else TppError(404, "RESOURCE_UNKNOWN", f"{request.url.path[:120]} is not offered here")
            return error.response(echo(request))
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"msg": "bad request", "loc": ()}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return format_error(f"{where}: {first['msg']}", where or None).response(echo(request))

    # -- back office -------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        base = str(request.base_url).rstrip("/")
        rows = "".join(
            f"<tr><td>{b.name}</td><td>{b.id}</td><td>{b.bic}</td><td>{b.dialect}</td>"
            f"<td><code>{base}{b.api_path}/v1/</code>{'?bic=' + b.bic if b.dialect == 'hub' else ''}</td></tr>"
            for b in BANKS)
        users = "".join(f"<li><code>{u.id}</code> {u.name}: {u.description}</li>" for u in USERS)
        cards = "".join(f"<tr><td><code>{n}</code></td><td>{html.escape(what)}</td></tr>" for n, _, what in TEST_CARDS)
        return HTMLResponse(
            "<!doctype html><html lang=en><meta charset=utf-8><title>kvits sandbox banks</title>"
            "<body style='font-family:system-ui;max-width:60rem;margin:2rem auto'>"
            "<h1>kvits sandbox banks</h1><table border=1 cellpadding=4><tr><th>Bank</th><th>id</th>"
            f"<th>BIC</th><th>dialect</th><th>API</th></tr>{rows}</table>"
            f"<h2>Test users</h2><ul>{users}</ul><p>One-time code: <code>{ONE_TIME_CODE}</code>. "
            f"OAuth client of the OAuth bank: <code>{TPP_CLIENT_ID}</code> / <code>{TPP_CLIENT_SECRET}</code>.</p>"
            f"<h2>Card acquirer</h2><p>Sandbox Card Acquiring: a JSON API at <code>{base}/acquirer/v1/</code> "
            f"(header <code>Authorization: Bearer {ACQUIRER_KEY}</code>) opens card payments that the payer "
            "pays on the acquirer's hosted card form (with 3-D Secure); captures and refunds are paid out "
            "each next business day as one booking on the merchant's account. Test cards (any future "
            "expiry, any CVC, any name; any other valid number is authorised):</p>"
            f"<table border=1 cellpadding=4><tr><th>Card</th><th>What happens</th></tr>{cards}</table>"
            "<p>Accounts: <a href='/_sandbox/accounts'>/_sandbox/accounts</a>. API description: "
            "<a href='/openapi.json'>/openapi.json</a>.</p></body></html>")

    @app.get("/_sandbox/banks", tags=["back office"])
    def list_banks(request: Request) -> list[dict[str, object]]:
        base = str(request.base_url).rstrip("/")
        return [{"id": b.id, "name": b.name, "bic": b.bic, "country": b.country, "dialect": b.dialect,
                 "base_url": base + b.api_path, "products": list(b.products)} for b in BANKS]

    @app.get("/_sandbox/accounts", tags=["back office"])
    def list_accounts() -> list[dict[str, object]]:
        with world.lock:
            world.tick()
            return [{"bank": a.bank.id, "iban": a.iban, "owner": a.owner.id, "owner_name": a.owner.name,
                     "balance": f"{a.balance():.2f}", "available": f"{a.available:.2f}", "currency": a.currency}
                    for a in world.accounts.values()]

    @app.get("/_sandbox/banks/{bank_id}/accounts/{iban}/statement", tags=["back office"])
    def statement(bank_id: str, iban: str, request: Request) -> Response:
        """camt.053 of what the bank booked on the account from `from` to `to` (dates)."""
        bank = BY_ID.get(bank_id)
        if bank is None:
            return JSONResponse({"error": f"no bank {bank_id!r}; banks: {', '.join(BY_ID)}"}, status_code=404)
        with world.lock:
            world.tick()
            account = world.accounts.get(iban.replace(" ", "").upper())
            if account is None or account.bank != bank:
                return JSONResponse({"error": f"{bank.name} holds no account {iban}"}, status_code=404)
            today = world.today()
            try:
                start = date.fromisoformat(request.query_params.get("from", (today - timedelta(days=30)).isoformat()))
                end = date.fromisoformat(request.query_params.get("to", today.isoformat()))
            except ValueError:
                return JSONResponse({"error": "from and to must be dates (YYYY-MM-DD)"}, status_code=400)
            if start > end or end > today or start < EARLIEST:
                return JSONResponse({"error": f"period {start} .. {end} is not valid ({EARLIEST} up to today {today})"},
                                    status_code=400)
            body = statements.camt053(account, start, end, world.now())
        return Response(body, media_type="application/xml")

    @app.post("/_sandbox/faults", tags=["back office"])
    def add_fault(fault: FaultRequest) -> dict[str, object]:
        if fault.bank != "*" and fault.bank not in BY_ID:
            return JSONResponse({"error": f"no bank {fault.bank!r}"}, status_code=404)  # type: ignore[return-value]
        try:
            faults.add(fault.bank, fault.operation, fault.fault, fault.times)  # type: ignore[arg-type]
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)  # type: ignore[return-value]
        if fault.slow_seconds is not None:
            faults.slow_seconds = fault.slow_seconds
        pending = faults.pending()
        return {"waiting": len(pending), "pending": pending[:100], "slow_seconds": faults.slow_seconds}

    @app.delete("/_sandbox/faults", tags=["back office"])
    def clear_faults() -> dict[str, object]:
        faults.clear()
        return {"waiting": 0, "pending": [], "slow_seconds": faults.slow_seconds}

    @app.post("/_sandbox/clock", tags=["back office"])
    def advance_clock(move: ClockRequest) -> dict[str, str]:
        """Move the sandbox's time forward (e.g. one day, to see standard payments settle)."""
        with world.lock:
            step = timedelta(days=move.days, seconds=move.seconds)
            offset = getattr(world.clock, "offset", timedelta(0))
            if offset + step > MAX_CLOCK_OFFSET:
                return JSONResponse({"error": f"the sandbox's time moves at most {MAX_CLOCK_OFFSET.days} days ahead "
                                              "in all (restart it to start over)"}, status_code=400)  # type: ignore[return-value]
            world.clock.advance(days=move.days, seconds=move.seconds)
            world.tick()
            return {"now": world.now().isoformat(), "today": world.today().isoformat()}

    @app.get("/_sandbox/clock", tags=["back office"])
    def read_clock() -> dict[str, str]:
        with world.lock:
            return {"now": world.now().isoformat(), "today": world.today().isoformat()}

    return app
