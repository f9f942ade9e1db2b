"""Bank feeds: the merchant connects their account with SCA at the sandbox bank, kvits
fetches its statement through PSD2 account information on a schedule and imports it:
a pay link payment turns its invoice paid without anyone uploading a file, and fetching
again (overlapping days) changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from paylinks.states import State
from reconciliation.feeds import Feeds
from reconciliation.source import ImportOptions
from tests.api.test_http_api import problem
from tests.paylinks.conftest import PUBLIC, Shop
from tests.paylinks.test_pay_by_bank import approved, fees
from tests.psd2.payer import pay


def _feeds(shop: Shop) -> Feeds:
    sandbox = shop.sandbox
    feeds = Feeds(shop.factory, sandbox.registry, sandbox.client, lambda key: f"{PUBLIC}/feeds/{key}/returned",
                  ImportOptions(), today=lambda: sandbox.clock.now().date(), now=sandbox.clock.now)
    shop.app.state.feeds = feeds
    return feeds


def _connect(shop: Shop, user: str = "veikals", **body: Any) -> dict[str, Any]:
    made = shop.api.http.post("/v1/bank-feeds", headers=shop.api.h(), json={"iban": shop.iban, **body})
    assert made.status_code == 201, made.text
    feed: dict[str, Any] = made.json()
    assert feed["state"] == "awaiting_sca" and feed["bank"] == "dzintars" and feed["sca_url"]
    outcome = pay(feed["sca_url"], user, tpp_prefix=PUBLIC, http=shop.sandbox.http)
    if outcome.back_to is not None:
        back = shop.payer().get(outcome.back_to.removeprefix(PUBLIC))
        assert back.status_code == 200 and "Bank feed" in back.text
    listed = shop.api.http.get("/v1/bank-feeds", headers=shop.api.h()).json()["data"]
    return next(f for f in listed if f["id"] == feed["id"])


def _paid_by_bank(shop: Shop) -> dict[str, Any]:
    invoice, path = approved(shop)
    payer = shop.payer()
    sca = payer.post(f"{path}/bank", data={"bank": "dzintars"}).headers["location"]
    pay(sca, "alise", tpp_prefix=PUBLIC, http=shop.sandbox.http)
    payer.get(f"{path}/return")
    return invoice


def _invoice(shop: Shop, invoice: dict[str, Any]) -> dict[str, Any]:
    got: dict[str, Any] = shop.api.http.get(f"/v1/invoices/{invoice['id']}", headers=shop.api.h()).json()
    return got


def test_a_connected_account_is_fetched_and_imported_on_schedule(shop: Shop) -> None:
    feeds = _feeds(shop)
    feed = _connect(shop)
    assert feed["state"] == "active" and feed["sca_url"] is None, feed
    invoice = _paid_by_bank(shop)
    assert _invoice(shop, invoice)["status"] == "issued"  # accepted by the bank, not on a statement yet
    shop.sandbox.clock.advance(days=1)  # booked

    assert feeds.fetch_due(timedelta(hours=6)) == 1  # what beat does
    fetched = shop.api.http.get("/v1/bank-feeds", headers=shop.api.h()).json()["data"][0]
    assert fetched["last_error"] is None and fetched["last_result"]["new_transactions"] >= 1, fetched
    assert fetched["fetched_through"] == shop.sandbox.clock.now().date().isoformat()
    assert _invoice(shop, invoice)["status"] == "paid"
    payments = shop.api.http.get("/v1/payments", headers=shop.api.h()).json()["data"]
    assert [p["state"] for p in payments] == [State.SETTLED.value]

    assert feeds.fetch_due(timedelta(hours=6)) == 0  # fetched a moment ago: not due
    again = shop.api.http.post(f"/v1/bank-feeds/{feed['id']}/fetch", headers=shop.api.h())
    assert again.status_code == 200 and again.json()["last_result"]["new_transactions"] == 0, again.json()
    shop.sandbox.clock.advance(seconds=7 * 3600)
    assert feeds.fetch_due(timedelta(hours=6)) == 1
    assert _invoice(shop, invoice)["paid"] == "121.00"  # fetched three times, overlapping: paid once
    assert fees(shop) == [("fee", 121)]


def test_feeds_are_the_merchants_own(shop: Shop) -> None:
    _feeds(shop)
    feed = _connect(shop)
    assert shop.api.http.get("/v1/bank-feeds", headers=shop.api.h("b")).json() == {"data": []}
    problem(shop.api.http.post(f"/v1/bank-feeds/{feed['id']}/fetch", headers=shop.api.h("b")), 404, "not_found")
    problem(shop.api.http.post("/v1/bank-feeds/feed_999/fetch", headers=shop.api.h()), 404, "not_found")
    assert shop.payer().get("/feeds/" + "x" * 32 + "/returned").status_code == 404


def test_someone_else_cannot_confirm_access_to_the_account(shop: Shop) -> None:
    _feeds(shop)
    feed = _connect(shop, user="alise")  # not the account's owner: the bank refuses
    assert feed["state"] == "awaiting_sca", feed
    assert shop.api.http.post(f"/v1/bank-feeds/{feed['id']}/fetch", headers=shop.api.h()).json()["state"] \
        == "awaiting_sca"  # nothing is fetched without a valid consent


def test_a_consent_that_ran_out_turns_the_feed_expired_and_connecting_again_renews_it(shop: Shop) -> None:
    feeds = _feeds(shop)
    feed = _connect(shop, days=1)
    assert feed["state"] == "active"
    shop.sandbox.clock.advance(days=2)
    assert feeds.fetch_due(timedelta(hours=6)) == 1
    gone = shop.api.http.get("/v1/bank-feeds", headers=shop.api.h()).json()["data"][0]
    assert gone["state"] == "expired" and "connect again" in gone["last_error"], gone
    renewed = _connect(shop)
    assert renewed["id"] == feed["id"] and renewed["state"] == "active" and renewed["last_error"] is None


def test_bad_requests_are_refused_clearly(shop: Shop) -> None:
    _feeds(shop)
    bad = problem(shop.api.http.post("/v1/bank-feeds", headers=shop.api.h(), json={"iban": "LV00NOPE"}), 422,
                  "invalid_iban")
    assert "is not an IBAN" in bad["detail"]
    unknown = problem(shop.api.http.post("/v1/bank-feeds", headers=shop.api.h(),
                                         json={"iban": "EE382200221020145685"}), 422, "bank_unknown")
    assert "which bank holds EE382200221020145685? give bank" in unknown["detail"]
