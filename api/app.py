"""The HTTP API merchants' software talks to (`kvits serve`): OAuth2 client credentials,
customers and invoices so far, every error as RFC 9457 problem details."""

from __future__ import annotations

import binascii
import hashlib
import hmac
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.middleware.sessions import SessionMiddleware
from sqlalchemy.orm import Session, sessionmaker

from api import problems
from api.clients import ActiveClients
from api.oauth import TokenServer
from api.observe import Observe, metrics_router
from api.problems import Problem, problem_response
from api.routes import customers, feeds, invoices, payments, reconciliation, statements, web, webhooks
from api.security import signing_key
from core.db import transaction
from core.events import take_emitted
from core.oauth_request import FormRequest
from core.settings import Settings
from paylinks import web as paylinks_web
from paylinks.follow import Follower
from paylinks.refunds import refunds_for
from paylinks.service import payments_for
from paylinks.web import Guesses
from psd2.registry import Registry
from reconciliation.feeds import feeds_for

MAX_BODY = 1024 * 1024  # JSON bodies; statement uploads will have their own, documented limit


_NUL = "text must not contain the NUL character (U+0000)"
_NUL_FORMS = (b"\x00", b"\\u0000")  # raw, as a JSON escape (and %00 in a form)


class BodyLimit:
    """Refuse bodies over `limit` bytes as they stream in, whatever Content-Length says,
    and NUL characters anywhere but in an uploaded file: no database stores them in text
    (PostgreSQL refuses them) and no name, reference or address has one."""

    def __init__(self, app: Any, limit: int, streamed: tuple[str, ...] = ()) -> None:
        self.app, self.limit, self.streamed = app, limit, streamed

    @staticmethod
    async def refuse(scope: Any, receive: Any, send: Any, problem: Problem) -> None:
        """A problem, or on the token endpoint an OAuth error (RFC 6749 words its own)."""
        if scope["path"] == "/oauth/token":
            response: Response = oauth_error(problem.status, "invalid_request", problem.detail)
        else:
            response = problem_response(Request(scope), problem)
        await response(scope, receive, send)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            await self.refuse(scope, receive, send, Problem(400, "bad_request", _NUL))
            return
        if scope["path"] in self.streamed:  # those count their own bytes
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self.refuse(scope, receive, send, _too_large(self.limit))
            return
        form = dict(scope.get("headers", [])).get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded")
        forms = (*_NUL_FORMS, b"%00") if form else _NUL_FORMS
        # read the whole body first (at most `limit` bytes), so that a refusal is an
        # answer of its own and not an error in the middle of the route's parsing
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # the client went away: let the app see it
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await self.refuse(scope, receive, send, _too_large(self.limit))
                return
        if any(nul in body for nul in forms):
            await self.refuse(scope, receive, send, Problem(400, "bad_request", _NUL))
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _check_database(factory: sessionmaker[Session]) -> str:
    from sqlalchemy import text

    try:
        with transaction(factory) as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001  (a readiness answer, not an error page)
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return "ok"


def _check_broker(url: str) -> str:
    if not url:
        return "not configured"
    from kombu.connection import Connection

    try:
        with Connection(url, connect_timeout=2) as connection:  # type: ignore[no-untyped-call]
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return "ok"


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    """An error of the token endpoint as OAuth 2.0 (RFC 6749, 5.2) words it."""
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers={"Cache-Control": "no-store"})


def _too_large(limit: int) -> Problem:
    return Problem(413, "too_large", f"the body is larger than {limit} bytes")


def create_app(settings: Settings, factory: sessionmaker[Session]) -> FastAPI:
    # no redirects to the address with a slash added: they are built from the Host header
    app = FastAPI(title="kvits API", version="0.1.0", redirect_slashes=False,
                  description="Invoices, customers and (to come) payments, statements and reconciliation "
                              "for merchants' software. OAuth2 client credentials at /oauth/token.")
    app.state.settings = settings
    app.state.factory = factory
    app.state.signing_key = signing_key(settings)
    app.state.active_clients = ActiveClients()
    # the payer's pages and their bank payments (PSD2 through the registry's banks)
    app.state.banks = Registry.from_settings(settings.sandbox_url, settings.psd2_banks_file)
    app.state.payments = payments_for(settings, factory, app.state.banks)
    app.state.refunds = refunds_for(settings, app.state.payments, app.state.banks)
    app.state.guesses = Guesses()
    app.state.feeds = feeds_for(settings, factory, app.state.banks)
    if settings.broker_url:  # a worker follows payments whose payer does not come back (beat: every minute)
        from paylinks.tasks import follow_due_task

        app.state.payments.on_start = lambda: follow_due_task.apply_async(countdown=10)
    else:
        app.state.payments.on_start = Follower(app.state.payments, refunds=app.state.refunds).wake
    problems.install(app)
    app.include_router(customers.router)
    app.include_router(invoices.router)
    app.include_router(payments.router)
    app.include_router(statements.router)
    app.include_router(feeds.router)
    app.include_router(reconciliation.router)
    app.include_router(webhooks.router)
    app.include_router(web.router)
    app.include_router(paylinks_web.router)
    app.state.metrics_registry = None
    app.include_router(metrics_router(settings.metrics_token))

    @app.middleware("http")
    async def deliver_events(request: Request, call_next: Any) -> Response:
        # a write may have committed events (invoice paid, suggestion decided): deliver
        # them; the committed outbox is the source, so a rolled back request sends nothing
        response: Response = await call_next(request)
        if take_emitted():  # a payer's GET emits too (invoice.viewed, payment.succeeded)
            from api.webhooks import pump_soon

            pump_soon(factory, settings)
        return response

    @app.post("/oauth/token", tags=["auth"], summary="Get an access token (client credentials)")
    async def token(request: Request) -> Response:
        try:
            form = {k: str(v) for k, v in (await request.form()).items()}
        except HTTPException:
            raise
        except Exception:  # noqa: BLE001  (a form the parser cannot read)
            return oauth_error(400, "invalid_request", "the body is not an application/x-www-form-urlencoded form")
        if "authorization" in request.headers and ("client_secret" in form or "client_id" in form):
            return oauth_error(400, "invalid_request", "authenticate the client one way only: HTTP Basic, or "
                                                       "client_id and client_secret in the form")
        # TLS ends at the proxy in front of `kvits serve` (README, Production); authlib's
        # own https check would see the internal http address, so it is given the public form
        uri = str(request.url.replace(scheme="https"))
        oauth_request = FormRequest("POST", uri, request.headers, {}, form)

        def issue() -> Response:  # argon2 takes its time: off the event loop
            try:
                with transaction(factory) as session:
                    server = TokenServer(session, app.state.signing_key, settings.token_lifetime)
                    response: Response = server.create_token_response(oauth_request)
            except (UnicodeError, ValueError, binascii.Error):  # an Authorization header that decodes to nonsense
                return oauth_error(401, "invalid_client", "the client's credentials cannot be read")
            return response

        return await run_in_threadpool(issue)

    @app.get("/health", tags=["operations"])
    def health() -> dict[str, str]:
        """The process answers (for a load balancer's liveness check)."""
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"])
    def ready(request: Request) -> Response:
        """The process can work: the database answers, and the broker when one is set
        (503 with what is missing otherwise)."""
        checks = {"database": _check_database(factory), "broker": _check_broker(settings.broker_url)}
        failed = {k: v for k, v in checks.items() if v not in ("ok", "not configured")}
        if failed:
            return problem_response(request, Problem(
                503, "not_ready", "; ".join(f"{k}: {v}" for k, v in failed.items()), checks=checks))
        return JSONResponse({"status": "ready", **checks})

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    # the session cookie is signed with a key derived from, not equal to, the token key
    session_key = hmac.new(app.state.signing_key.raw_value, b"kvits session cookie", hashlib.sha256).hexdigest()
    app.add_middleware(SessionMiddleware, secret_key=session_key, session_cookie="kvits_session",
                       max_age=8 * 3600, same_site="lax", https_only=settings.cookie_secure)
    app.add_middleware(BodyLimit, limit=MAX_BODY, streamed=("/v1/statements",))
    app.add_middleware(Observe)  # outermost: request ids, the access log and metrics for every answer
    return app


_PROBLEM_SCHEMA = {
    "type": "object", "required": ["type", "title", "status", "code"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                   "detail": {"type": "string"}, "code": {"type": "string"}, "instance": {"type": "string"},
                   "errors": {"type": "array", "items": {"type": "object"}}},
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's description plus what it cannot know: every operation may answer a
    problem (4xx, 5xx) as application/problem+json."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = _PROBLEM_SCHEMA
    problem = {"description": "A problem (RFC 9457)",
               "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's own shape; ours is the problem above
            responses.setdefault("4XX", problem)
            responses.setdefault("5XX", problem)
    if "/oauth/token" in schema["paths"]:
        schema["paths"]["/oauth/token"]["post"]["requestBody"] = {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["grant_type"], "properties": {
                "grant_type": {"type": "string", "enum": ["client_credentials"]}, "client_id": {"type": "string"},
                "client_secret": {"type": "string"}, "scope": {"type": "string"}}}}}}
        schema["paths"]["/oauth/token"]["post"]["responses"] = {
            "200": {"description": "An access token", "content": {"application/json": {"schema": {"type": "object"}}}},
            "4XX": {"description": "An OAuth2 error", "content": {"application/json": {"schema": {"type": "object"}}}}}
    app.openapi_schema = schema
    return schema
