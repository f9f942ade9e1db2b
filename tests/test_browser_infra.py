"""The browser-test infrastructure itself: system Chromium through Playwright, against an
app served live by uvicorn - a form posted, a redirect followed, a screenshot taken."""

from __future__ import annotations

import html
from urllib.parse import urlencode
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Form
from fastapi.responses import HTMLResponse, RedirectResponse
from playwright.sync_api import Page

from tests.browser import MOBILE, LiveServer, LiveServerFactory

pytestmark = pytest.mark.browser


def make_app() -> FastAPI:
    """A stand-in for a bank SCA page: a form whose POST redirects (303, as SCA flows do)
    to a page showing what was submitted."""
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def form() -> str:
        return """<!doctype html><title>Confirm</title>
<form method="post" action="/submit">
  <label>Code <input name="code" id="code" autocomplete="off"></label>
  <button type="submit" id="confirm">Confirm</button>
</form>"""

    @app.post("/submit")
    def submit(code: str = Form()) -> RedirectResponse:
        return RedirectResponse(f"/done?{urlencode({'code': code})}", status_code=303)

    @app.get("/done", response_class=HTMLResponse)
    def done(code: str = "") -> str:
        return f'<!doctype html><title>Done</title><p id="result">{html.escape(code)}</p>'

    return app


def test_form_post_redirect_and_screenshot(
    page: Page, live_server_factory: LiveServerFactory, tmp_path: Path
) -> None:
    base_url = live_server_factory(make_app())
    page.goto(f"{base_url}/")
    page.fill("#code", "123456")
    page.click("#confirm")
    page.wait_for_url(f"{base_url}/done?code=123456")
    assert page.inner_text("#result") == "123456"

    shot = tmp_path / "done.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("viewport", [MOBILE], indirect=True)
def test_mobile_viewport(page: Page, live_server_factory: LiveServerFactory) -> None:
    base_url = live_server_factory(make_app())
    page.goto(base_url)
    assert page.evaluate("[window.innerWidth, window.innerHeight]") == [390, 844]


def test_live_server_context_manager_stops() -> None:
    with LiveServer(make_app()) as server:
        url = server.url
        assert httpx.get(f"{url}/").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/", timeout=2)
