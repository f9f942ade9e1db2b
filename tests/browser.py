"""Headless-browser fixtures: Playwright driving Debian's system Chromium, and a live
uvicorn server for any ASGI app, so tests can walk through real pages (bank SCA pages
of the PSD2 sandbox) the way a payer's browser does.

Browser downloads are blocked on developer machines and in CI, so Playwright never
fetches its own Chromium (`playwright install`): it launches the `chromium` Debian
package, which .ci/run installs and exports as KVITS_CHROMIUM.

Use from a conftest with `from tests.browser import *` (or `pytest_plugins`); mark the
tests `@pytest.mark.browser`. A test wanting the phone layout asks for it with
`@pytest.mark.parametrize("viewport", [MOBILE], indirect=True)`.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import NoReturn

import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)
from starlette.types import ASGIApp

__all__ = [
    "CHROMIUM_ARGS",
    "DESKTOP",
    "MOBILE",
    "LiveServer",
    "LiveServerFactory",
    "browser",
    "chromium_executable",
    "chromium_path",
    "live_server_factory",
    "page",
    "playwright_instance",
    "viewport",
]

# Computed here rather than imported from tests.conftest: a conftest doing
# `from tests.browser import *` at its top would make that import circular.
ON_CI = os.environ.get("CI") == "true"

INSTALL_HINT = (
    "install Debian's Chromium (apt-get install --no-install-recommends chromium) "
    "or point KVITS_CHROMIUM at a Chromium binary; never `playwright install`, "
    "browser downloads are blocked here and on CI"
)

# Flags this machine needs. --no-sandbox: tests run as root in containers, where
# Chromium's sandbox cannot start. --disable-gpu: there is no GPU. --disable-dev-shm-usage:
# the container's /dev/shm is small and Chromium crashes when it fills up. The rest stop
# Chromium's own traffic (QUIC, component updates, sync, first-run and background
# fetches): on this closed network those connections are refused, and without the flags
# the browser's connections fail.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
MOBILE: ViewportSize = {"width": 390, "height": 844}

# Playwright's 30 s default makes a broken page hang a run for half a minute per step;
# local pages answer in milliseconds.
DEFAULT_TIMEOUT_MS = 10_000


# ---------------------------------------------------------------- Chromium


def chromium_path() -> str:
    """The Chromium binary: $KVITS_CHROMIUM, else `chromium` or `chromium-browser` on
    PATH. Skips the test when there is none (fails on CI, like tests/conftest.py's
    need_shared, so a missing browser never passes as a green run)."""
    env = os.environ.get("KVITS_CHROMIUM")
    if env:
        # An explicit setting that points nowhere is a broken setup, not "no browser":
        # say so instead of silently falling back to PATH.
        if shutil.which(env) is None:
            _missing(f"KVITS_CHROMIUM={env} is not an executable; {INSTALL_HINT}")
        return env
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    _missing(f"Chromium not found (KVITS_CHROMIUM unset, no chromium on PATH): {INSTALL_HINT}")


def _missing(message: str) -> NoReturn:
    if ON_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Path of the Chromium binary the browser tests drive (see chromium_path)."""
    return chromium_path()


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    """One Playwright driver for the session: starting it costs a Node process."""
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright, chromium_executable: str) -> Iterator[Browser]:
    """Headless system Chromium, shared by the session; tests get isolation from a fresh
    context each (the `page` fixture), which is far cheaper than a browser each."""
    launched = playwright_instance.chromium.launch(
        executable_path=chromium_executable, headless=True, args=list(CHROMIUM_ARGS)
    )
    yield launched
    launched.close()


@pytest.fixture
def viewport(request: pytest.FixtureRequest) -> ViewportSize:
    """DESKTOP unless a test parametrizes it indirectly (MOBILE for the phone layout)."""
    chosen: ViewportSize = getattr(request, "param", DESKTOP)
    return chosen


@pytest.fixture
def page(browser: Browser, viewport: ViewportSize) -> Iterator[Page]:
    """A page in a new browser context (own cookies and storage), closed after the test."""
    context: BrowserContext = browser.new_context(viewport=viewport)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


# ---------------------------------------------------------------- live server


class LiveServer:
    """Serves an ASGI app with uvicorn on 127.0.0.1 from a background thread.

    `with LiveServer(app) as server: ... server.url ...`; or start() and stop().
    """

    def __init__(self, app: ASGIApp, *, startup_timeout: float = 10.0) -> None:
        self.app = app
        self.startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL without trailing slash, e.g. http://127.0.0.1:41234."""
        if not self.port:
            raise RuntimeError("LiveServer is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        if self._thread is not None:
            return self
        # Bind port 0 ourselves and hand uvicorn the socket: the kernel picks a free port
        # and nobody can take it between "find a free port" and "bind it".
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            # Chromium keeps connections alive: without a bound, shutdown could wait on
            # them for as long as the browser lives.
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run, name=f"live-server-{self.port}", daemon=True
        )
        self._thread.start()
        self._wait_started()
        return self

    def _run(self) -> None:
        assert self._server is not None and self._socket is not None
        try:
            # In a non-main thread uvicorn installs no signal handlers, so Ctrl-C still
            # reaches pytest.
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            self._error = exc

    def _wait_started(self) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + self.startup_timeout
        # The listening socket already accepts TCP connections (the kernel queues them),
        # so readiness is uvicorn's `started`: the app's lifespan startup has run and
        # requests are being served.
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"live server did not start within {self.startup_timeout}s"
                    + (f": {self._error!r}" if self._error else " (see uvicorn's log)")
                ) from self._error
            time.sleep(0.01)
        with socket.create_connection(("127.0.0.1", self.port), timeout=self.startup_timeout):
            pass

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive() and self._server is not None:
                # Graceful shutdown wedged (a request that never ends): cut it short.
                self._server.force_exit = True
                self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


LiveServerFactory = Callable[[ASGIApp], str]
"""What the `live_server_factory` fixture yields: `live_server(app) -> base_url`."""


@pytest.fixture
def live_server_factory() -> Iterator[LiveServerFactory]:
    """`live_server(app) -> base_url`: serves each app it is given until the test ends."""
    servers: list[LiveServer] = []

    def live_server(app: ASGIApp) -> str:
        server = LiveServer(app).start()
        servers.append(server)
        return server.url

    yield live_server
    for server in reversed(servers):
        server.stop()
