"""A payer in headless Chromium on a phone-sized screen: opens the pay link, picks their
bank, authorises the payment at the sandbox bank, comes back to the receipt; another pays
by card on the sandbox acquirer's form, through 3-D Secure. And the pay page in each of
the five languages.

KVITS_SCREENSHOTS=docs writes the screenshots into docs/ (how docs/pay-page-*.png were
made); otherwise they go to the test's temporary folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.clients import create_client
from core.db import transaction
from core.settings import Settings
from core.tenancy import get_or_create_merchant
from paylinks.acquirer import AcquirerClient
from paylinks.service import Payments
from sandbox import ACQUIRER_KEY
from psd2 import Attempts
from tests.api.test_http_api import SECRET, Api, token
from tests.browser import MOBILE, LiveServer
from tests.conftest import REPO_ROOT
from tests.paylinks.test_pay_by_bank import approved
from tests.psd2.conftest import Sandbox

pytestmark = pytest.mark.browser


class LiveShop:
    def __init__(self, api: Api, url: str, sandbox: Sandbox) -> None:
        self.api, self.url, self.sandbox = api, url, sandbox


@pytest.fixture
def live_shop(factory: sessionmaker[Session], tmp_path: Path, live_sandbox: Sandbox) -> Iterator[LiveShop]:
    with transaction(factory) as s:
        merchant = get_or_create_merchant(s, "shop-a", "SIA Piemera Veikals")
        merchant.iban = live_sandbox.account("veikals", "dzintars").iban
        made = create_client(s, merchant.id, "client a", [])
    app = create_app(Settings(secret_key=SECRET, upload_dir=str(tmp_path / "uploads"), sandbox_url=live_sandbox.url,
                              cookie_secure=False), factory)
    with LiveServer(app) as server:
        app.state.settings = app.state.settings.model_copy(update={"public_url": server.url})
        app.state.payments = Payments(factory, Attempts(factory, live_sandbox.client, now=live_sandbox.clock.now),
                                      return_url=lambda t: f"{server.url}/pay/{t}/return", now=live_sandbox.clock.now,
                                      acquirer=lambda: AcquirerClient(f"{live_sandbox.url}/acquirer/v1", ACQUIRER_KEY))
        import httpx

        with httpx.Client(base_url=server.url, timeout=10) as http:
            key = token(http, made.client_id, made.secret).json()["access_token"]
            yield LiveShop(Api(http, {"a": key}, {}), server.url, live_sandbox)


def shots(tmp_path: Path) -> Path:
    return REPO_ROOT / "docs" if os.environ.get("KVITS_SCREENSHOTS") == "docs" else tmp_path


@pytest.mark.parametrize("viewport", [MOBILE], indirect=True)
def test_a_payer_pays_by_bank_in_the_browser(live_shop: LiveShop, page: Page, tmp_path: Path) -> None:
    invoice, path = approved(live_shop, "lv", public=live_shop.url)
    page.goto(live_shop.url + path)
    assert page.get_by_role("heading", name=f"Rēķins {invoice['number']}").is_visible()
    assert page.get_by_text("Jāmaksā").is_visible()
    page.get_by_label("Maksāt no savas bankas").select_option("dzintars")
    page.get_by_role("button", name="Turpināt savā bankā").click()
    assert page.get_by_role("heading", name="Confirm payment").is_visible()  # the bank's own page
    assert page.get_by_text("121.00 EUR").is_visible()
    page.get_by_label("Alise Ozola").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("One-time code").fill("123456")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{live_shop.url}{path}/payment")
    live_shop.sandbox.clock.advance(seconds=3)  # the bank accepts a moment after SCA
    page.reload()
    page.get_by_text("Paldies! Jūsu banka ir pieņēmusi maksājumu.").wait_for()
    assert page.get_by_text("121,00").first.is_visible()
    page.screenshot(path=str(shots(tmp_path) / "pay-receipt-lv.png"), full_page=True)
    payments = live_shop.api.http.get("/v1/payments", headers=live_shop.api.h()).json()["data"]
    assert [p["state"] for p in payments] == ["authorised"]


@pytest.mark.parametrize("viewport", [MOBILE], indirect=True)
def test_a_payer_pays_by_card_in_the_browser(live_shop: LiveShop, page: Page, tmp_path: Path) -> None:
    invoice, path = approved(live_shop, "lv", public=live_shop.url)
    page.goto(live_shop.url + path)
    page.get_by_role("button", name="Maksāt ar karti").click()
    page.get_by_label("Card number").wait_for()  # the acquirer's own page: kvits never sees the card
    assert page.url.startswith(f"{live_shop.sandbox.url}/acquirer/pay/acq_")
    assert page.get_by_text("SIA Piemera Veikals").first.is_visible()
    page.get_by_label("Card number").fill("4000 0000 0000 3220")  # asks for 3-D Secure
    page.get_by_label("Expiry date").fill("12/30")
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Name on the card").fill("Alise Ozola")
    page.screenshot(path=str(shots(tmp_path) / "pay-card-form.png"), full_page=True)
    page.get_by_role("button", name="Pay").click()
    page.get_by_label("One-time code").fill("123456")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{live_shop.url}{path}/payment")
    page.get_by_text("Paldies! Jūsu kartes maksājums ir veikts.").wait_for()
    assert page.get_by_text("3220").first.is_visible() and page.get_by_text("121,00").first.is_visible()
    page.screenshot(path=str(shots(tmp_path) / "pay-receipt-card-lv.png"), full_page=True)
    payments = live_shop.api.http.get("/v1/payments", headers=live_shop.api.h()).json()["data"]
    assert [(p["method"], p["state"]) for p in payments] == [("card", "captured")]
    shown = live_shop.api.http.get(f"/v1/invoices/{invoice['id']}", headers=live_shop.api.h()).json()
    assert shown["status"] == "paid"


@pytest.mark.parametrize("viewport", [MOBILE], indirect=True)
def test_the_pay_page_in_five_languages(live_shop: LiveShop, page: Page, tmp_path: Path) -> None:
    due = {"lv": "Jāmaksā", "et": "Tasuda", "lt": "Liko mokėti", "en": "Still due", "ru": "К оплате"}
    for n, language in enumerate(("lv", "et", "lt", "en", "ru")):
        _, path = approved(live_shop, language, code=f"C{n}", public=live_shop.url)
        page.goto(live_shop.url + path)
        assert page.locator("html").get_attribute("lang") == language
        assert page.get_by_text(due[language]).first.is_visible()
        page.keyboard.press("Tab")  # the first stop is a real control, visibly focused
        assert page.evaluate("document.activeElement.tagName") in ("A", "SELECT", "BUTTON")
        page.screenshot(path=str(shots(tmp_path) / f"pay-page-{language}.png"), full_page=True)
        assert (shots(tmp_path) / f"pay-page-{language}.png").stat().st_size > 10_000
