"""The sandbox banks for tests: in process (starlette's TestClient) or on a live port,
on a fake clock, with every response recorded and checked against the Berlin Group
OpenAPI file at the end of the test (when ../shared is there; on CI it must be)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from psd2 import Psd2Client, Registry
from psd2.dialects.oauth import forget_tokens
from sandbox import FakeClock, FaultPlan, SandboxConfig, Settings, World, create_app
from sandbox.banks import BANKS
from tests.bg_openapi import RecordedResponse, load_spec, spec_path
from tests.browser import LiveServer
from tests.conftest import ON_CI, locate_shared_dir

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

# Thursday 3 December 2026, 10:00 in Riga: a business day with a weekend two days ahead
START = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
TPP = "https://tpp.example"
_API_PATHS = sorted({b.api_path for b in BANKS}, key=len, reverse=True)


class Recording:
    """ASGI middleware keeping every response the sandbox sends."""

    def __init__(self, app: Any, sink: list[RecordedResponse]) -> None:
        self.app, self.sink = app, sink

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen: dict[str, Any] = {"body": b""}

        async def keep(message: Any) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                seen["type"] = next((v.decode() for k, v in message["headers"] if k.lower() == b"content-type"), None)
            elif message["type"] == "http.response.body":
                seen["body"] += message.get("body", b"")
            await send(message)

        await self.app(scope, receive, keep)
        path = scope["path"]
        base = next((p for p in _API_PATHS if path.startswith(p + "/v1/")), "")
        self.sink.append(RecordedResponse(scope["method"], path, seen.get("status", 0), seen.get("type"),
                                          seen["body"], base))


@dataclass
class Sandbox:
    world: World
    clock: FakeClock
    faults: FaultPlan
    app: Any
    url: str
    http: httpx.Client  # browses the sandbox (TestClient, or a real client for a live one)
    transport: httpx.BaseTransport | None
    recorded: list[RecordedResponse] = field(default_factory=list)

    @property
    def registry(self) -> Registry:
        return Registry.sandbox(self.url)

    def client(self, bank_id: str, **options: Any) -> Psd2Client:
        options.setdefault("sleep", lambda _: None)
        return Psd2Client(self.registry.get(bank_id), transport=self.transport, **options)

    def account(self, user: str, bank_id: str) -> Any:
        return next(a for a in self.world.accounts.values() if a.owner.id == user and a.bank.id == bank_id)

    def bg_checked(self) -> int:
        """Check every recorded Berlin Group response against the spec; return how many."""
        folder = locate_shared_dir()
        if folder is None:
            if ON_CI:
                pytest.fail("../shared is missing: the sandbox's responses must be checked against the spec on CI")
            return 0
        spec = load_spec(spec_path(folder))
        failures, count = [], 0
        for r in self.recorded:
            if not r.base_path or not r.path.startswith(r.base_path + "/v1/"):
                continue
            if 400 <= r.status < 500:
                try:
                    spec.match(r.method, r.path[len(r.base_path):])
                except AssertionError:
                    continue  # a refused call to a path the standard has no template for (unknown product)
            count += 1
            try:
                spec.check(r.method, r.path[len(r.base_path):], r.status, r.content_type, r.body)
            except AssertionError as exc:
                failures.append(str(exc))
        assert not failures, f"{len(failures)} of {count} sandbox responses break the spec:\n" + "\n".join(failures)
        return count


def _world(**settings: Any) -> tuple[World, FakeClock]:
    clock = FakeClock(START)
    return World(clock=clock, settings=Settings(**settings)), clock


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """In-process sandbox; `@pytest.mark.parametrize("sandbox", [{...settings}], indirect=True)` tunes it."""
    forget_tokens()
    world, clock = _world(**getattr(request, "param", {}))
    faults = FaultPlan()
    recorded: list[RecordedResponse] = []
    app = Recording(create_app(world, SandboxConfig(faults=faults)), recorded)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        http = TestClient(app, base_url="http://127.0.0.1")
    box = Sandbox(world, clock, faults, app, "http://127.0.0.1", http, http._transport, recorded)
    yield box
    box.bg_checked()


@pytest.fixture
def live_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The sandbox on a real port: for timeouts, and for the browser."""
    forget_tokens()
    world, clock = _world(**getattr(request, "param", {}))
    faults = FaultPlan(slow_seconds=1.5)
    recorded: list[RecordedResponse] = []
    app = Recording(create_app(world, SandboxConfig(faults=faults)), recorded)
    with LiveServer(app) as server, httpx.Client(timeout=10) as http:
        box = Sandbox(world, clock, faults, app, server.url, http, None, recorded)
        yield box
    box.bg_checked()
