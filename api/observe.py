"""Each request: an id (echoed as X-Request-ID, on every log line and in the tasks it
starts), one access log line, and its count and latency in the metrics; `/metrics`."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.problems import Problem, problem_response
from core.metrics import LATENCY, REQUESTS, database_registry, exposition
from core.observe import REQUEST_ID, request_id_from

_access = logging.getLogger("kvits.access")


class Observe:
    """Outermost ASGI middleware (it sees what the others refuse too)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
        rid = request_id_from(given)
        token = REQUEST_ID.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"  # a template: never a token
            method = scope["method"]
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            _access.info("%s %s %s %.1fms", method, route, status, elapsed * 1000,
                         extra={"method": method, "route": route, "status": status,
                                "duration_ms": round(elapsed * 1000, 1)})
            REQUEST_ID.reset(token)


_PROXIED = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host", "x-forwarded-proto")


def _local(request: Request) -> bool:
    """A scraper on this host, not a payer through the proxy in front."""
    if request.client is None or any(h in request.headers for h in _PROXIED):
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def metrics_router(token: str) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", response_class=Response,
                responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}})
    def metrics(request: Request) -> Response:
        """Prometheus metrics: requests, latencies, tasks, imports, matches applied,
        payments and refunds by state. Loopback callers, or `Authorization: Bearer
        KVITS_METRICS_TOKEN`."""
        given = request.headers.get("authorization", "")
        allowed = hmac.compare_digest(given.encode(), f"Bearer {token}".encode()) if token else _local(request)
        if not allowed:
            return problem_response(request, Problem(
                403, "forbidden", "metrics are served to this host's scraper, or with the bearer token "
                                  "set in KVITS_METRICS_TOKEN"))
        registry = request.app.state.metrics_registry
        if registry is None:
            registry = request.app.state.metrics_registry = database_registry(request.app.state.factory)
        return Response(exposition(registry), media_type=CONTENT_TYPE_LATEST)

    return router
