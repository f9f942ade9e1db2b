"""A payer in headless Chromium pays through each dialect's SCA pages, the way a person
does: pick a test user, type the one-time code, confirm, land back at the merchant.

KVITS_SCREENSHOTS=docs writes the pages' screenshots into docs/ (how docs/sandbox-*.png
were made); otherwise they go to the test's temporary folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import Page

from psd2 import PaymentOrder
from tests.browser import MOBILE, LiveServer
from tests.conftest import REPO_ROOT
from tests.psd2.conftest import Sandbox
from tests.psd2.payer import query

pytestmark = pytest.mark.browser


@pytest.fixture
def merchant_site() -> Iterator[str]:
    """Where the bank sends the payer back: a page of the merchant's."""
    app = FastAPI()

    @app.get("/back/{outcome}", response_class=HTMLResponse)
    def back(outcome: str) -> str:
        return f"<!doctype html><title>Merchant</title><h1 id=outcome>Back at the merchant: {outcome}</h1>"

    with LiveServer(app) as server:
        yield server.url


def shots(tmp_path: Path) -> Path:
    return REPO_ROOT / "docs" if os.environ.get("KVITS_SCREENSHOTS") == "docs" else tmp_path


@pytest.mark.parametrize("bank_id", ["dzintars", "kalevi", "gintaro", "nordbalt-lt"])
def test_payer_pays_through_the_sca_pages(live_sandbox: Sandbox, merchant_site: str, page: Page, bank_id: str,
                                          tmp_path: Path) -> None:
    client = live_sandbox.client(bank_id)
    shop = live_sandbox.account("veikals", "dzintars")
    order = PaymentOrder(Decimal("121.00"), "EUR", shop.iban, "SIA Piemera Veikals", f"pay_web_{bank_id[:6]}",
                         creditor_reference="RF46INV20260043")
    initiation = client.initiate(order, psu_ip="192.0.2.10", redirect_uri=f"{merchant_site}/back/ok",
                                 nok_redirect_uri=f"{merchant_site}/back/failed",
                                 psu_user_agent="Mozilla/5.0 (test)")
    page.goto(initiation.sca_redirect or "")
    assert page.get_by_role("heading", name="Confirm payment").is_visible()
    assert page.get_by_text("121.00 EUR").is_visible() and page.get_by_text("RF46INV20260043").is_visible()
    folder = shots(tmp_path)
    if bank_id in ("dzintars", "kalevi"):
        page.screenshot(path=str(folder / f"sandbox-sca-{bank_id}-login.png"), full_page=True)
    page.get_by_label("Alise Ozola").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("One-time code").fill("123456")
    if bank_id == "dzintars":
        page.screenshot(path=str(folder / "sandbox-sca-dzintars-code.png"), full_page=True)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{merchant_site}/back/ok*")
    assert "Back at the merchant: ok" in page.inner_text("#outcome")
    if initiation.oauth_state:
        client.finish_oauth(initiation.oauth_state, initiation.oauth_verifier or "", f"{merchant_site}/back/ok",
                            query(page.url))
    assert client.status(initiation.product, initiation.payment_id).transaction_status == "ACTC"
    live_sandbox.clock.advance(days=1)
    assert client.status(initiation.product, initiation.payment_id).outcome == "completed"
    assert (folder / "sandbox-sca-dzintars-login.png").exists() or bank_id != "dzintars"


def test_wrong_codes_in_the_browser_end_at_the_failure_page(live_sandbox: Sandbox, merchant_site: str,
                                                            page: Page) -> None:
    client = live_sandbox.client("dzintars")
    shop = live_sandbox.account("veikals", "dzintars")
    initiation = client.initiate(PaymentOrder(Decimal("5.00"), "EUR", shop.iban, "Shop", "pay_web_wrong"),
                                 psu_ip="192.0.2.10", redirect_uri=f"{merchant_site}/back/ok",
                                 nok_redirect_uri=f"{merchant_site}/back/failed")
    page.goto(initiation.sca_redirect or "")
    page.get_by_label("Alise Ozola").check()
    page.keyboard.press("Tab")  # the form works from the keyboard: to the Continue button
    page.keyboard.press("Enter")
    for code in ("111111", "222222"):
        page.get_by_label("One-time code").fill(code)
        page.get_by_role("button", name="Confirm").click()
        assert page.get_by_role("alert").is_visible()
    page.get_by_label("One-time code").fill("333333")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{merchant_site}/back/failed")
    assert client.status(initiation.product, initiation.payment_id).outcome == "rejected"


@pytest.mark.parametrize("viewport", [MOBILE], indirect=True)
def test_sca_page_fits_a_phone(live_sandbox: Sandbox, merchant_site: str, page: Page, tmp_path: Path) -> None:
    client = live_sandbox.client("nordbalt-lv")
    shop = live_sandbox.account("veikals", "dzintars")
    initiation = client.initiate(PaymentOrder(Decimal("48.40"), "EUR", shop.iban, "SIA Piemera Veikals",
                                              "pay_web_phone", creditor_reference="RF19INV20260044"),
                                 psu_ip="192.0.2.10", redirect_uri=f"{merchant_site}/back/ok")
    page.goto(initiation.sca_redirect or "")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    page.screenshot(path=str(shots(tmp_path) / "sandbox-sca-phone.png"), full_page=True)
