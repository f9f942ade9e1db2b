"""The HTTP API merchants' software talks to (`kvits serve`): OAuth2 client credentials,
customers and invoices so far, every error as RFC 9457 problem details."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from starlette.middleware.sessions import SessionMiddleware
from sqlalchemy.orm import Session, sessionmaker

from api import problems
from api.oauth import TokenServer
from api.problems import Problem, problem_response
from api.routes import customers, invoices, reconciliation, statements, web, webhooks
from api.security import signing_key
from core.db import transaction
from core.events import take_emitted
from core.oauth_request import FormRequest
from core.settings import Settings

MAX_BODY = 1024 * 1024  # JSON bodies; statement uploads will have their own, documented limit


class BodyLimit:
    """Refuse bodies over `limit` bytes as they stream in, whatever Content-Length says."""

    def __init__(self, app: Any, limit: int, streamed: tuple[str, ...] = ()) -> None:
        self.app, self.limit, self.streamed = app, limit, streamed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.streamed:  # those count their own bytes
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            response = problem_response(Request(scope, receive), _too_large(self.limit))
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                # an HTTPException: FastAPI passes it on from body parsing untouched
                raise HTTPException(413, f"the body is larger than {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


def _too_large(limit: int) -> Problem:
    return Problem(413, "too_large", f"the body is larger than {limit} bytes")


def create_app(settings: Settings, factory: sessionmaker[Session]) -> FastAPI:
    app = FastAPI(title="kvits API", version="0.1.0",
                  description="Invoices, customers and (to come) payments, statements and reconciliation "
                              "for merchants' software. OAuth2 client credentials at /oauth/token.")
    app.state.settings = settings
    app.state.factory = factory
    app.state.signing_key = signing_key(settings)
    problems.install(app)
    app.include_router(customers.router)
    app.include_router(invoices.router)
    app.include_router(statements.router)
    app.include_router(reconciliation.router)
    app.include_router(webhooks.router)
    app.include_router(web.router)

    @app.middleware("http")
    async def deliver_events(request: Request, call_next: Any) -> Response:
        # a write may have committed events (invoice paid, suggestion decided): deliver
        # them; the committed outbox is the source, so a rolled back request sends nothing
        response: Response = await call_next(request)
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and response.status_code < 400 and take_emitted():
            from api.webhooks import pump_soon

            pump_soon(factory, settings)
        return response

    @app.post("/oauth/token", tags=["auth"], summary="Get an access token (client credentials)")
    async def token(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        # TLS ends at the proxy in front of `kvits serve` (README, Production); authlib's
        # own https check would see the internal http address, so it is given the public form
        uri = str(request.url.replace(scheme="https"))
        oauth_request = FormRequest("POST", uri, request.headers, {}, form)
        with transaction(factory) as session:
            server = TokenServer(session, app.state.signing_key, settings.token_lifetime)
            response: Response = server.create_token_response(oauth_request)
        return response

    @app.get("/health", tags=["operations"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    # the session cookie is signed with a key derived from, not equal to, the token key
    session_key = hmac.new(app.state.signing_key.raw_value, b"kvits session cookie", hashlib.sha256).hexdigest()
    app.add_middleware(SessionMiddleware, secret_key=session_key, session_cookie="kvits_session",
                       max_age=8 * 3600, same_site="lax", https_only=settings.cookie_secure)
    app.add_middleware(BodyLimit, limit=MAX_BODY, streamed=("/v1/statements",))
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
