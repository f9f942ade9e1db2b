"""A payer pays an invoice from their bank through its pay link, end to end: the link,
the page in the invoice's language, the bank's SCA, the live state, the receipt, the 1%
fee once, and the merchant's statement settling it by its end-to-end id."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from core.db import transaction
from invoices.models import Invoice
from paylinks.models import FeeEntry, PayerPayment
from reconciliation.service import ImportOptions, import_statement
from tests.api.test_http_api import problem
from tests.paylinks.conftest import PUBLIC, Shop
from tests.psd2.payer import pay


def approved(shop: Any, language: str = "lv", price: str = "100.00", code: str = "C1",
             public: str = PUBLIC) -> tuple[dict[str, Any], str]:
    """A customer speaking `language`, an invoice of `price` + 21% VAT, approved (`shop`:
    anything with the merchant's `api`)."""
    api = shop.api
    customer = api.http.post("/v1/customers", headers=api.h(), json={
        "code": code, "name": "SIA Klients", "country": "LV", "language": language})
    assert customer.status_code == 201, customer.text
    draft = api.http.post("/v1/invoices", headers=api.h(), json={
        "customer": customer.json()["id"], "currency": "EUR", "issue_date": "2026-12-01", "due_date": "2026-12-15",
        "lines": [{"description": "Konsultācijas", "quantity": "1", "unit_price": price, "vat_rate": "21"}]})
    assert draft.status_code == 201, draft.text
    made = api.http.post(f"/v1/invoices/{draft.json()['id']}/approve", headers=api.h())
    assert made.status_code == 200, made.text
    invoice: dict[str, Any] = made.json()
    assert invoice["pay_url"].startswith(f"{public}/pay/")
    return invoice, urlsplit(invoice["pay_url"]).path


def fees(shop: Shop) -> list[tuple[str, int]]:
    with transaction(shop.factory) as s:
        return [(f.kind, f.fee_minor) for f in s.scalars(select(FeeEntry).order_by(FeeEntry.id))]


def test_a_payer_pays_from_their_bank_and_the_statement_settles_it(shop: Shop) -> None:
    invoice, path = approved(shop)
    payer = shop.payer()
    page = payer.get(path)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert f"Rēķins {invoice['number']}" in text and "Jāmaksā" in text and "121,00" in text
    assert "SIA Piemera Veikals" in text and invoice["rf_reference"] in text and 'src="data:image/svg+xml' in text
    assert 'lang="lv"' in text and "Dzintara Banka" in text
    seen = shop.api.http.get(f"/v1/invoices/{invoice['id']}", headers=shop.api.h()).json()
    assert seen["viewed_at"] is not None

    started = payer.post(f"{path}/bank", data={"bank": "dzintars"})
    assert started.status_code == 303, started.text
    sca = started.headers["location"]
    assert sca.startswith(shop.sandbox.url)
    again = payer.post(f"{path}/bank", data={"bank": "dzintars"})  # a second click, a second tab
    assert again.status_code == 303 and again.headers["location"] == sca

    outcome = pay(sca, "alise", tpp_prefix=PUBLIC, http=shop.sandbox.http)
    assert outcome.back_to == f"{PUBLIC}{path}/return"
    back = payer.get(f"{path}/return")
    assert back.status_code == 303 and back.headers["location"] == f"{path}/payment"
    shop.sandbox.clock.advance(seconds=3)  # the bank accepts (ACSP) a moment after SCA
    receipt = payer.get(f"{path}/payment")
    assert receipt.status_code == 200
    assert "Paldies! Jūsu banka ir pieņēmusi maksājumu." in receipt.text and "121,00" in receipt.text, receipt.text
    for _ in range(2):  # the payer reloads, the bank sends them back twice: nothing more happens
        payer.get(f"{path}/return")
        payer.get(f"{path}/payment")

    payments = shop.api.http.get("/v1/payments", headers=shop.api.h()).json()["data"]
    assert [(p["state"], p["amount"], p["bank"]) for p in payments] == [("authorised", "121.00", "dzintars")]
    shown = shop.api.http.get(f"/v1/invoices/{invoice['id']}", headers=shop.api.h()).json()
    assert shown["status"] == "issued" and shown["payment_pending"] == "121.00" and shown["paid"] == "0.00"
    assert fees(shop) == [("fee", 121)]  # 1% of 121.00, once
    page = payer.get(path).text
    assert "Jūsu banka ir pieņēmusi maksājumu" in page and 'action="' not in page  # no second payment

    # the money arrives: the merchant's statement shows it with kvits' end-to-end id
    shop.sandbox.clock.advance(days=1)
    today = shop.sandbox.clock.now().date()
    statement = shop.sandbox.http.get(f"/_sandbox/banks/dzintars/accounts/{shop.iban}/statement",
                                      params={"from": "2026-12-01", "to": today.isoformat()})
    assert statement.status_code == 200, statement.text
    assert payments[0]["end_to_end_id"].encode() in statement.content
    for _ in range(2):  # imported twice: paid once
        with transaction(shop.factory) as s:
            report = import_statement(s, shop.merchant_id, statement.content, options=ImportOptions())
    assert report.statements[0].already_imported
    shown = shop.api.http.get(f"/v1/invoices/{invoice['id']}", headers=shop.api.h()).json()
    assert shown["status"] == "paid" and shown["paid"] == "121.00" and shown["payment_pending"] == "0.00"
    payment = shop.api.http.get(f"/v1/payments/{payments[0]['id']}", headers=shop.api.h()).json()
    assert payment["state"] == "settled" and payment["settled_at"]
    assert fees(shop) == [("fee", 121)]
    month = shop.sandbox.clock.now().strftime("%Y-%m")
    statement_json = shop.api.http.get(f"/v1/fee-statements/{month}", headers=shop.api.h()).json()
    assert statement_json["currencies"][0]["fee"] == "1.21" and statement_json["currencies"][0]["payments"] == 1
    assert "Šis rēķins ir apmaksāts" in payer.get(path).text
    # another merchant sees none of it
    problem(shop.api.http.get(f"/v1/payments/{payments[0]['id']}", headers=shop.api.h("b")), 404, "not_found")
    assert shop.api.http.get("/v1/payments", headers=shop.api.h("b")).json()["data"] == []
    assert shop.api.http.get(f"/v1/fee-statements/{month}", headers=shop.api.h("b")).json()["currencies"] == []


@pytest.mark.parametrize("language, due, button", [
    ("lv", "Jāmaksā", "Turpināt savā bankā"), ("et", "Tasuda", "Jätka oma pangas"),
    ("lt", "Liko mokėti", "Tęsti savo banke"), ("en", "Still due", "Continue to my bank"),
    ("ru", "К оплате", "Перейти в мой банк")])
def test_the_page_speaks_the_invoices_language(shop: Shop, language: str, due: str, button: str) -> None:
    invoice, path = approved(shop, language)
    text = shop.payer().get(path).text
    assert f'lang="{language}"' in text and due in text and button in text
    amount = {"lv": "121,00 €", "et": "121,00 €", "lt": "121,00 €", "en": "€121.00", "ru": "121,00 €"}[language]
    assert amount.replace(" ", "\xa0") in text or amount in text
    assert "{{" not in text and "%(" not in text
    other = "en" if language != "en" else "ru"
    assert f'lang="{other}"' in shop.payer().get(path, params={"lang": other}).text


def test_a_payer_who_cancels_at_the_bank_can_try_again(shop: Shop) -> None:
    _, path = approved(shop, "en")
    payer = shop.payer()
    sca = payer.post(f"{path}/bank", data={"bank": "dzintars"}).headers["location"]
    outcome = pay(sca, "alise", tpp_prefix=PUBLIC, http=shop.sandbox.http, cancel=True)
    assert outcome.back_to is not None and outcome.back_to.startswith(f"{PUBLIC}{path}/return")
    payer.get(f"{path}/return")
    failed = payer.get(f"{path}/payment").text
    assert "The payment did not go through" in failed and "Try again" in failed
    retry = payer.post(f"{path}/bank", data={"bank": "dzintars"})
    assert retry.status_code == 303 and retry.headers["location"] != sca  # a new payment, a new SCA
    with transaction(shop.factory) as s:
        states = sorted(p.state for p in s.scalars(select(PayerPayment)))
    assert states == ["awaiting_sca", "cancelled"] or states == ["awaiting_sca", "failed"]
    assert fees(shop) == []


def test_guessed_tampered_and_old_links(shop: Shop) -> None:
    invoice, path = approved(shop, "en")
    payer = shop.payer()
    token = path.split("/")[2]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for wrong in (tampered, "x", "a" * 43, token + "x", "%00"):
        r = payer.get(f"/pay/{wrong}")
        assert r.status_code in (404, 400) and "Page not found" in r.text or r.status_code == 400
    made = shop.api.http.post(f"/v1/invoices/{invoice['id']}/pay-link", headers=shop.api.h())
    assert made.status_code == 200
    old = payer.get(path)
    assert old.status_code == 200 and "replaced by a newer one" in old.text and "<form" not in old.text
    new_path = urlsplit(made.json()["pay_url"]).path
    assert "Continue to my bank" in payer.get(new_path).text
    # a merchant's other invoices are not reachable through this link, nor is another merchant's
    assert problem(shop.api.http.post(f"/v1/invoices/{invoice['id']}/pay-link", headers=shop.api.h("b")),
                   404, "not_found")


def test_guessing_is_rate_limited(shop: Shop) -> None:
    payer = shop.payer()
    statuses = [payer.get(f"/pay/{'b' * 42}{n % 10}").status_code for n in range(25)]
    assert statuses[:20] == [404] * 20 and set(statuses[20:]) == {429}
    _, path = approved(shop, "en")
    assert payer.get(path).status_code == 429  # even a good link, until the window passes


def test_a_cancelled_or_paid_invoice_shows_what_happened(shop: Shop) -> None:
    invoice, path = approved(shop, "en")
    assert shop.api.http.post(f"/v1/invoices/{invoice['id']}/cancel", headers=shop.api.h()).status_code == 200
    page = shop.payer().get(path).text
    assert "This invoice was cancelled" in page and "<form" not in page
    refused = shop.payer().post(f"{path}/bank", data={"bank": "dzintars"})
    assert refused.status_code == 409 and "This invoice was cancelled" in refused.text and "<form" not in refused.text


def test_the_merchants_own_preview_is_not_a_view(shop: Shop) -> None:
    from api.people import create_user

    invoice, path = approved(shop, "en")
    with transaction(shop.factory) as s:
        create_user(s, shop.merchant_id, "owner@shop.test", "correct horse battery", "owner")
    from tests.api.test_people import csrf

    owner = shop.payer()
    form = owner.get("/login")
    signed_in = owner.post("/login", data={"email": "owner@shop.test", "password": "correct horse battery",
                                           "csrf": csrf(form.text)})
    assert signed_in.status_code in (200, 303), signed_in.text
    assert owner.get(path).status_code == 200
    with transaction(shop.factory) as s:
        row = s.get(Invoice, int(invoice["id"].split("_")[1]))
        assert row is not None and row.viewed_at is None
    shop.payer().get(path)
    with transaction(shop.factory) as s:
        row = s.get(Invoice, int(invoice["id"].split("_")[1]))
        assert row is not None and row.viewed_at is not None
        count = s.scalar(select(func.count()).select_from(PayerPayment))
    assert count == 0
    assert re.search(r"viewed", str(shop.api.http.get(f"/v1/invoices/{invoice['id']}", headers=shop.api.h()).json()))


def test_twenty_pay_clicks_at_once_make_one_payment(shop: Shop, live_sandbox: Any) -> None:
    import threading

    from paylinks.service import Payments
    from psd2 import Attempts
    from psd2.models import PaymentAttempt

    # the bank on a real port: twenty requests at once need a thread-safe transport
    assert live_sandbox.account("veikals", "dzintars").iban == shop.iban
    shop.app.state.payments = Payments(shop.factory, Attempts(shop.factory, live_sandbox.client,
                                                              now=live_sandbox.clock.now),
                                       return_url=lambda t: f"{PUBLIC}/pay/{t}/return", now=live_sandbox.clock.now)
    _, path = approved(shop, "en")
    gate = threading.Barrier(20)
    answers: list[Any] = []

    def click() -> None:
        payer = shop.payer()
        gate.wait()
        answers.append(payer.post(f"{path}/bank", data={"bank": "dzintars"}))

    threads = [threading.Thread(target=click) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 20
    redirects = {a.headers["location"] for a in answers if a.status_code == 303}
    assert len(redirects) == 1, [a.status_code for a in answers]  # one SCA for everyone
    assert all(a.status_code == 303 for a in answers), [a.status_code for a in answers]
    with transaction(shop.factory) as s:
        assert s.scalar(select(func.count()).select_from(PayerPayment)) == 1
        assert s.scalar(select(func.count()).select_from(PaymentAttempt)) == 1
    assert len(live_sandbox.world.payments) == 1


def test_a_payer_who_never_comes_back_is_followed(shop: Shop) -> None:
    import time

    from paylinks.follow import Follower, follow_due

    payments = shop.app.state.payments
    _, path = approved(shop, "en")
    sca = shop.payer().post(f"{path}/bank", data={"bank": "dzintars"}).headers["location"]
    pay(sca, "alise", tpp_prefix=PUBLIC, http=shop.sandbox.http)  # ...and closes the tab at the bank
    assert follow_due(payments) == 0  # nothing due yet: the first poll is 5 s after the start
    shop.sandbox.clock.advance(seconds=10)
    assert follow_due(payments) == 1
    state = shop.api.http.get("/v1/payments", headers=shop.api.h()).json()["data"][0]["state"]
    assert state == "authorised" and fees(shop) == [("fee", 121)]
    assert follow_due(payments) == 0  # accepted: nothing more to ask

    _, second = approved(shop, "en", code="C2")  # the same, by the process's own follower thread
    sca = shop.payer().post(f"{second}/bank", data={"bank": "dzintars"}).headers["location"]
    pay(sca, "alise", tpp_prefix=PUBLIC, http=shop.sandbox.http)
    shop.sandbox.clock.advance(seconds=10)
    Follower(payments).wake()
    for _ in range(100):
        states = [p["state"] for p in shop.api.http.get("/v1/payments", headers=shop.api.h()).json()["data"]]
        if states == ["authorised", "authorised"]:
            break
        time.sleep(0.05)
    assert states == ["authorised", "authorised"] and len(fees(shop)) == 2


def test_partial_payments_only_where_the_merchant_allows_them(shop: Shop) -> None:
    _, path = approved(shop, "en")
    payer = shop.payer()
    refused = payer.post(f"{path}/bank", data={"bank": "dzintars", "amount": "50.00"})
    assert refused.status_code == 409 and "takes the whole amount due only" in refused.text
    with transaction(shop.factory) as s:
        from core.models import Merchant

        row = s.get(Merchant, shop.merchant_id)
        assert row is not None
        row.partial_payments = True
    assert 'name="amount"' in payer.get(path).text
    for bad in ("0", "-1", "121.01", "0.001", "NaN", "sNaN", "Infinity", "-Infinity", "1e9", "1e-999999", "abc"):
        r = payer.post(f"{path}/bank", data={"bank": "dzintars", "amount": bad})
        assert r.status_code in (409, 422) and "<form" in r.text, (bad, r.status_code)
    with transaction(shop.factory) as s:
        assert s.scalar(select(func.count()).select_from(PayerPayment)) == 0
    started = payer.post(f"{path}/bank", data={"bank": "dzintars", "amount": "50,00"})
    assert started.status_code == 303
    pay(started.headers["location"], "alise", tpp_prefix=PUBLIC, http=shop.sandbox.http)
    payer.get(f"{path}/return")
    shop.sandbox.clock.advance(seconds=3)
    assert "Thank you!" in payer.get(f"{path}/payment").text
    page = payer.get(path).text
    assert "Still due" in page and "€71.00" in page  # the rest can be paid the same way
    assert fees(shop) == [("fee", 50)]


def test_an_expired_link_says_how_to_get_a_new_one(shop: Shop) -> None:
    from datetime import UTC, datetime

    from paylinks.models import PayLink

    _, path = approved(shop, "en")
    with transaction(shop.factory) as s:
        link = s.scalar(select(PayLink))
        assert link is not None
        link.expires_at = datetime(2026, 1, 1, tzinfo=UTC)  # past on every clock of the test
    page = shop.payer().get(path)
    assert page.status_code == 200 and "This pay link has expired. Ask SIA Piemera Veikals for a new one." in page.text
    assert "<form" not in page.text
    refused = shop.payer().post(f"{path}/bank", data={"bank": "dzintars"})
    assert refused.status_code == 409 and "<form" not in refused.text


def test_a_merchant_without_an_account_says_so_instead_of_showing_no_way_to_pay(shop: Shop) -> None:
    from core.models import Merchant

    with transaction(shop.factory) as s:
        m = s.get(Merchant, shop.merchant_id)
        assert m is not None
        m.iban = None
    _, path = approved(shop, "en")
    page = shop.payer().get(path).text
    assert "SIA Piemera Veikals does not take payments through this page yet. Ask them how to pay." in page
    assert "Pay by card" not in page and "Continue to my bank" not in page
