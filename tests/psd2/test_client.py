"""The psd2 client against the sandbox banks (every dialect), and against banks that
answer what no bank should."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from psd2 import (
    AuthenticationFailed,
    Bank,
    BankUnavailable,
    NotFound,
    PaymentOrder,
    ProtocolError,
    Psd2Client,
    RateLimited,
    Registry,
    RequestRejected,
)
from psd2.status import TRANSACTION_STATUS, outcome
from tests.psd2.conftest import TPP, Sandbox
from tests.psd2.payer import pay, query

BANK_IDS = ["dzintars", "kalevi", "gintaro", "nordbalt-lv", "nordbalt-ee", "nordbalt-lt"]


def order(sandbox: Sandbox, e2e: str = "pay_cli_1", instant: bool = False, **kw: Any) -> PaymentOrder:
    shop = sandbox.account("veikals", "dzintars")
    return PaymentOrder(amount=Decimal("25.00"), currency="EUR", creditor_iban=shop.iban,
                        creditor_name="SIA Piemera Veikals", end_to_end_id=e2e,
                        creditor_reference="RF18539007547034", instant=instant, **kw)


def authorise(sandbox: Sandbox, client: Psd2Client, initiation: Any, user: str = "alise") -> str | None:
    out = pay(initiation.sca_redirect, user, http=sandbox.http)
    if initiation.oauth_state and out.back_to:
        client.finish_oauth(initiation.oauth_state, initiation.oauth_verifier, f"{TPP}/back", query(out.back_to))
    return out.back_to


@pytest.mark.parametrize("bank_id", BANK_IDS)
def test_full_payment_through_every_dialect(sandbox: Sandbox, bank_id: str) -> None:
    client = sandbox.client(bank_id)
    initiation = client.initiate(order(sandbox), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    assert initiation.transaction_status == "RCVD" and initiation.sca_redirect
    assert initiation.sca_redirect.startswith("http://127.0.0.1/")  # host-relative links resolved
    back = authorise(sandbox, client, initiation)
    assert back is not None and back.startswith(f"{TPP}/back")
    status = client.status(initiation.product, initiation.payment_id)
    assert status.transaction_status == "ACTC" and status.outcome == "pending" and status.funds_available
    sandbox.clock.advance(days=1)
    assert client.status(initiation.product, initiation.payment_id).outcome == "completed"
    shop = sandbox.account("veikals", "dzintars")
    assert [b.amount for b in shop.bookings if b.end_to_end_id == "pay_cli_1"] == [Decimal("25.00")]
    data = client.payment(initiation.product, initiation.payment_id)
    assert data["transactionStatus"] == "ACSC" and data["debtorAccount"]["iban"] == sandbox.account("alise", bank_id).iban
    if initiation.authorisation_id and bank_id != "kalevi":
        assert client.sca_status(initiation.product, initiation.payment_id, initiation.authorisation_id) == "finalised"


def test_explicit_dialect_starts_the_authorisation_itself(sandbox: Sandbox) -> None:
    initiation = sandbox.client("gintaro").initiate(order(sandbox), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    assert "startAuthorisation" in initiation.links and initiation.authorisation_id
    assert "/gintaro/sca/" in (initiation.sca_redirect or "")


def test_oauth_dialect_uses_pkce_and_a_state(sandbox: Sandbox) -> None:
    initiation = sandbox.client("kalevi").initiate(order(sandbox), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    params = query(initiation.sca_redirect or "")
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["scope"] == f"PIS:{initiation.payment_id}" and params["state"] == initiation.oauth_state
    # the verifier never leaves kvits before the token exchange
    assert initiation.oauth_verifier and initiation.oauth_verifier not in (initiation.sca_redirect or "")


def test_oauth_sca_is_only_done_when_kvits_exchanges_the_code(sandbox: Sandbox) -> None:
    client = sandbox.client("kalevi")
    initiation = client.initiate(order(sandbox), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    out = pay(initiation.sca_redirect or "", "alise", http=sandbox.http)
    assert out.back_to and "code=" in out.back_to
    assert client.status(initiation.product, initiation.payment_id).transaction_status == "RCVD"
    callback = query(out.back_to)
    with pytest.raises(Exception, match="state"):
        client.finish_oauth("forged", initiation.oauth_verifier or "", f"{TPP}/back", callback)
    with pytest.raises(RequestRejected):
        client.finish_oauth(initiation.oauth_state or "", "wrong-verifier" * 4, f"{TPP}/back", callback)
    # the failed exchange spent nothing; a code is single use, so the right exchange first:
    initiation2 = client.initiate(order(sandbox, "pay_cli_2"), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    callback2 = query(pay(initiation2.sca_redirect or "", "alise", http=sandbox.http).back_to or "")
    client.finish_oauth(initiation2.oauth_state or "", initiation2.oauth_verifier or "", f"{TPP}/back", callback2)
    assert client.status(initiation2.product, initiation2.payment_id).transaction_status == "ACTC"
    with pytest.raises(RequestRejected, match="invalid_grant"):  # the duplicate redirect back
        client.finish_oauth(initiation2.oauth_state or "", initiation2.oauth_verifier or "", f"{TPP}/back", callback2)
    sandbox.clock.advance(minutes=16)
    assert client.status(initiation.product, initiation.payment_id).transaction_status == "RJCT"  # never exchanged


def test_oauth_payer_who_cancels_comes_back_with_an_error(sandbox: Sandbox) -> None:
    client = sandbox.client("kalevi")
    initiation = client.initiate(order(sandbox), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    out = pay(initiation.sca_redirect or "", "ilze", http=sandbox.http)
    callback = query(out.back_to or "")
    assert callback == {"error": "access_denied", "state": initiation.oauth_state}
    with pytest.raises(RequestRejected, match="access_denied"):
        client.finish_oauth(initiation.oauth_state or "", initiation.oauth_verifier or "", f"{TPP}/back", callback)
    assert client.status(initiation.product, initiation.payment_id).outcome == "cancelled"


def test_expired_tpp_token_is_renewed_without_failing_the_call(sandbox: Sandbox) -> None:
    client = sandbox.client("kalevi")
    first = client.initiate(order(sandbox), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    tokens = len(sandbox.app.app.state.oauth.store.tokens)
    sandbox.clock.advance(minutes=10)  # the bank's clock: our cached token is now expired there
    status = client.status(first.product, first.payment_id)
    assert status.transaction_status == "RCVD"  # the call went through with a new token
    assert len(sandbox.app.app.state.oauth.store.tokens) == tokens + 1


def test_typed_errors_from_tpp_messages(sandbox: Sandbox) -> None:
    client = sandbox.client("dzintars")
    with pytest.raises(RequestRejected) as refused:
        client.initiate(order(sandbox, creditor_name="x" * 71) if False else
                        PaymentOrder(Decimal("1.00"), "EUR", "LV00DZIN0000000000001", "Shop", "e2e"),
                        psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    assert refused.value.status == 400 and refused.value.codes == ("FORMAT_ERROR",)
    assert refused.value.messages[0].path == "creditorAccount.iban"
    with pytest.raises(NotFound) as missing:
        client.status("sepa-credit-transfers", "no-such-payment")
    assert missing.value.codes == ("RESOURCE_UNKNOWN",)
    with pytest.raises(RequestRejected, match="does not offer"):
        sandbox.client("gintaro").initiate(order(sandbox, instant=True), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/b")
    with pytest.raises(ValueError, match="payable"):
        client.initiate(PaymentOrder(Decimal("1.005"), "EUR", "LV59DZIN0000000000001", "Shop", "e2e"),
                        psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")


def test_cancel(sandbox: Sandbox) -> None:
    client = sandbox.client("dzintars")
    initiation = client.initiate(order(sandbox), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    assert client.cancel(initiation.product, initiation.payment_id) is True
    assert client.status(initiation.product, initiation.payment_id).outcome == "cancelled"
    with pytest.raises(RequestRejected) as late:
        client.cancel(initiation.product, initiation.payment_id)
    assert late.value.status == 405 and late.value.codes == ("CANCELLATION_INVALID",)


def test_reads_are_retried_with_backoff_writes_are_not(sandbox: Sandbox) -> None:
    waits: list[float] = []
    client = sandbox.client("dzintars", sleep=waits.append, backoff=0.5)
    initiation = client.initiate(order(sandbox), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    sandbox.faults.add("dzintars", "status", "503", times=2)
    assert client.status(initiation.product, initiation.payment_id).transaction_status == "RCVD"
    assert len(waits) == 2 and 0.25 <= waits[0] <= 0.75 and 0.5 <= waits[1] <= 1.5
    sandbox.faults.add("dzintars", "status", "500", times=4)
    with pytest.raises(BankUnavailable) as down:
        client.status(initiation.product, initiation.payment_id)
    assert down.value.status == 500 and not down.value.ambiguous
    sandbox.faults.clear()
    sandbox.faults.add("dzintars", "initiate", "503")
    before = len(sandbox.world.payments)
    with pytest.raises(BankUnavailable) as write:
        client.initiate(order(sandbox, "pay_cli_2"), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    assert write.value.ambiguous and len(sandbox.world.payments) == before  # refused before doing anything


def test_429_is_rate_limited_and_waited_out(sandbox: Sandbox) -> None:
    waits: list[float] = []
    client = sandbox.client("dzintars", sleep=waits.append)
    initiation = client.initiate(order(sandbox), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    sandbox.faults.add("dzintars", "status", "429")
    assert client.status(initiation.product, initiation.payment_id).transaction_status == "RCVD"
    assert len(waits) == 1
    sandbox.faults.add("dzintars", "initiate", "429")
    with pytest.raises(RateLimited):
        client.initiate(order(sandbox, "pay_cli_3"), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")


def test_account_information_json_and_camt(sandbox: Sandbox) -> None:
    client = sandbox.client("dzintars")
    shop = sandbox.account("veikals", "dzintars")
    started = client.create_consent(ibans=[shop.iban], valid_until=date(2027, 2, 1), redirect_uri=f"{TPP}/back",
                                    psu_ip="192.0.2.10")
    assert started.consent_status == "received" and started.sca_redirect
    pay(started.sca_redirect, "veikals", http=sandbox.http)
    assert client.consent_status(started.consent_id) == "valid"
    accounts = client.accounts(started.consent_id)
    assert [(a.iban, a.owner_name) for a in accounts] == [(shop.iban, "SIA Piemera Veikals")]
    transactions = client.transactions(started.consent_id, accounts[0].resource_id, date(2026, 11, 1), date(2026, 12, 3))
    assert transactions.iban == shop.iban and len(transactions.booked) == len(
        [b for b in shop.bookings if b.booking_date >= date(2026, 11, 1)])
    xml = client.statement(started.consent_id, accounts[0].resource_id, date(2026, 11, 1), date(2026, 12, 3))
    assert xml.startswith(b"<?xml") and b"camt.053.001.08" in xml[:300]


def test_oauth_bank_consent_goes_through_the_authorization_endpoint(sandbox: Sandbox) -> None:
    client = sandbox.client("kalevi")
    shop = sandbox.account("veikals", "kalevi")
    started = client.create_consent(ibans=[shop.iban], valid_until=date(2027, 2, 1), redirect_uri=f"{TPP}/back")
    assert started.sca_redirect and "scope=AIS%3A" in started.sca_redirect and started.oauth_state
    back = pay(started.sca_redirect, "veikals", http=sandbox.http).back_to
    client.finish_oauth(started.oauth_state, started.oauth_verifier or "", f"{TPP}/back", query(back or ""))
    assert client.consent_status(started.consent_id) == "valid"


def test_every_status_code_maps_and_unknown_ones_are_pending() -> None:
    assert set(TRANSACTION_STATUS) >= {"RCVD", "PDNG", "PATC", "ACTC", "ACCP", "ACFC", "ACWC", "ACSP", "ACSC",
                                       "ACCC", "ACWP", "PART", "RJCT", "CANC"}
    assert outcome("ACSP") == "accepted" and outcome("ACSC") == "completed" and outcome("RJCT") == "rejected"
    assert outcome("XXXX") == "pending" and outcome("RVCM") == "pending"


# -- a bank that answers badly ---------------------------------------------------------------

def hostile(handler: Any) -> Psd2Client:
    bank = Bank(id="evil", name="Evil Bank", bic="EVILLV22", country="LV", base_url="https://bank.example/psd2",
                dialect="redirect")
    return Psd2Client(bank, transport=httpx.MockTransport(handler), sleep=lambda _: None)


ORDER = PaymentOrder(Decimal("5.00"), "EUR", "LV59DZIN0000000000001", "Shop", "e2e_1")


@pytest.mark.parametrize("answer, message", [
    ({"transactionStatus": "RCVD", "paymentId": "p1",
      "_links": {"scaRedirect": {"href": "https://phish.example/sca"}}}, "outside its own host"),
    ({"transactionStatus": "RCVD", "paymentId": "p1",
      "_links": {"scaRedirect": {"href": "javascript:alert(1)"}}}, "outside its own host"),
    ({"transactionStatus": "RCVD", "paymentId": "p1", "_links": {}}, "no scaRedirect"),
    ({"transactionStatus": "RCVD", "_links": {}}, "paymentId"),
    ({"transactionStatus": 5, "paymentId": "p1"}, "transactionStatus"),
    ({"transactionStatus": "RCVD", "paymentId": "p" * 5000}, "paymentId"),
    ([1, 2, 3], "not a JSON object"),
    ({"transactionStatus": "RCVD", "paymentId": "p1", "_links": "x"}, "_links"),
])
def test_hostile_initiation_answers_are_refused(answer: object, message: str) -> None:
    client = hostile(lambda request: httpx.Response(201, json=answer))
    with pytest.raises(ProtocolError, match=message):
        client.initiate(ORDER, psu_ip="192.0.2.1", redirect_uri="https://tpp.example/b")


def test_an_id_cannot_steer_our_paths() -> None:
    client = hostile(lambda request: httpx.Response(200, json={"transactionStatus": "ACSC"}))
    for bad in ("../../admin", "a/b", "x?y=1", "%2e%2e", "p\n1", "p 1", ""):
        with pytest.raises(ValueError, match="not a usable resource id"):
            client.status("sepa-credit-transfers", bad)
    with pytest.raises(ValueError):
        client.status("../admin", "p1")
    for bad in ("a/b", "p\t1", "..", "p\x00"):
        answer = {"transactionStatus": "RCVD", "paymentId": bad, "_links": {"scaRedirect": {"href": "/sca/1"}}}
        with pytest.raises(ProtocolError, match="paymentId"):
            hostile(lambda request, a=answer: httpx.Response(201, json=a)).initiate(
                ORDER, psu_ip="192.0.2.1", redirect_uri="https://tpp.example/b")


@pytest.mark.parametrize("href", ["http://bank.example/sca/1", "https://bank.example:8443/sca/1",
                                  "https://user@bank.example/sca/1", "https://bank.example/sca/\\evil"])
def test_links_may_not_downgrade_or_change_the_port(href: str) -> None:
    answer = {"transactionStatus": "RCVD", "paymentId": "p1", "_links": {"scaRedirect": {"href": href}}}
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(201, json=answer) if request.method == "POST" else httpx.Response(204)

    with pytest.raises(ProtocolError, match="outside its own host"):
        hostile(handler).initiate(ORDER, psu_ip="192.0.2.1", redirect_uri="https://tpp.example/b")
    assert calls == ["POST", "DELETE"]  # the unusable payment is taken back


def test_same_host_written_differently_is_accepted() -> None:
    for href in ("https://BANK.example:443/sca/1", "/sca/1", "https://bank.example/sca/1"):
        answer = {"transactionStatus": "RCVD", "paymentId": "p1", "_links": {"scaRedirect": {"href": href}}}
        initiation = hostile(lambda request, a=answer: httpx.Response(201, json=a)).initiate(
            ORDER, psu_ip="192.0.2.1", redirect_uri="https://tpp.example/b")
        assert initiation.sca_redirect and initiation.sca_redirect.lower().endswith("/sca/1")


@pytest.mark.parametrize("content, headers", [
    (b"[" * 100000 + b"]" * 100000, {}), (b"not gzip at all", {"Content-Encoding": "gzip"}),
])
def test_answers_that_break_parsers_are_protocol_errors(content: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(ProtocolError):
        hostile(lambda r: httpx.Response(200, content=content, headers=headers)).status("sepa-credit-transfers", "p1")
    with pytest.raises(RequestRejected):
        hostile(lambda r: httpx.Response(400, content=b"[" * 100000)).status("sepa-credit-transfers", "p1")


def test_not_json_and_huge_answers() -> None:
    with pytest.raises(ProtocolError, match="not JSON"):
        hostile(lambda r: httpx.Response(200, content=b"<html>")).status("sepa-credit-transfers", "p1")
    huge = b'{"transactionStatus": "' + b"A" * (3 * 1024 * 1024) + b'"}'
    with pytest.raises(ProtocolError, match="larger than"):
        hostile(lambda r: httpx.Response(200, content=huge)).status("sepa-credit-transfers", "p1")


def test_error_bodies_of_any_shape_still_give_a_typed_error() -> None:
    for content in (b"", b"oops", json.dumps({"tppMessages": "x"}).encode(),
                    json.dumps({"tppMessages": [{"code": 5}, {"category": "ERROR", "code": "FORMAT_ERROR"}]}).encode()):
        with pytest.raises(RequestRejected) as refused:
            hostile(lambda r, c=content: httpx.Response(400, content=c)).status("sepa-credit-transfers", "p1")
        assert refused.value.codes in ((), ("FORMAT_ERROR",))


def test_timeouts_on_reads_are_retried_then_reported() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["X-Request-ID"])
        raise httpx.ReadTimeout("slow bank", request=request)

    with pytest.raises(BankUnavailable) as down:
        hostile(handler).status("sepa-credit-transfers", "p1")
    assert len(calls) == 4 and len(set(calls)) == 4  # a new X-Request-ID for every call
    assert not down.value.ambiguous


def test_registry_from_a_file(tmp_path: Any) -> None:
    path = tmp_path / "banks.json"
    path.write_text(json.dumps([{"id": "real", "name": "Real Bank", "bic": "REALLV22", "country": "LV",
                                 "base_url": "https://api.real.example/psd2/", "dialect": "hub"}]))
    registry = Registry.from_settings("http://127.0.0.1:8700", str(path))
    assert registry.get("real").base_url == "https://api.real.example/psd2" and registry.get("dzintars")
    assert [b.id for b in registry.all("EE")] == ["kalevi", "nordbalt-ee"]
    path.write_text(json.dumps([{"id": "x", "name": "X", "bic": "X", "country": "LV", "base_url": "ftp://x",
                                 "dialect": "redirect"}]))
    with pytest.raises(Exception, match="base_url"):
        Registry.from_settings("http://127.0.0.1:8700", str(path))
    path.write_text(json.dumps([{"id": "x", "dialect": "klingon"}]))
    with pytest.raises(Exception, match="incomplete"):
        Registry.from_settings("http://127.0.0.1:8700", str(path))
    with pytest.raises(Exception, match="no bank"):
        registry.get("nope")
    assert AuthenticationFailed


def test_a_bank_that_drips_its_answer_is_given_up_on() -> None:
    import time as _time

    def drip() -> Any:
        while True:
            _time.sleep(0.05)
            yield b" "

    bank = Bank(id="slow", name="Slow", bic="SLOWLV22", country="LV", base_url="https://bank.example",
                dialect="redirect")
    client = Psd2Client(bank, transport=httpx.MockTransport(lambda r: httpx.Response(200, content=drip())),
                        timeout=0.2, read_retries=0, sleep=lambda _: None)
    started = _time.monotonic()
    with pytest.raises(BankUnavailable, match="too slow"):
        client.status("sepa-credit-transfers", "p1")
    assert _time.monotonic() - started < 5


def test_oauth_sca_page_cannot_be_used_without_the_authorization_endpoint(sandbox: Sandbox) -> None:
    initiation = sandbox.client("kalevi").initiate(order(sandbox), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    direct = f"http://127.0.0.1/kalevi/sca/{initiation.authorisation_id}"
    page = sandbox.http.get(direct)
    assert page.status_code == 400 and "authorization endpoint" in page.text
    posted = sandbox.http.post(direct, data={"form_token": "x", "user": "alise", "action": "login"})
    assert posted.status_code == 400
    assert sandbox.world.payments[initiation.payment_id].status == "RCVD"


def test_fault_rates_hit_about_their_share_of_calls(sandbox: Sandbox) -> None:
    from sandbox import FaultPlan

    plan = FaultPlan(error_rate=0.2, slow_rate=0.1, seed=3)
    draws = [plan.draw("dzintars", "status") for _ in range(2000)]
    errors = sum(d in ("500", "503", "429") for d in draws)
    assert 330 <= errors <= 470 and 130 <= draws.count("slow") <= 270
    assert {"500", "503", "429"} <= set(draws)
    with pytest.raises(ValueError, match="unknown fault"):
        plan.add("dzintars", "status", "404")  # type: ignore[arg-type]
    r = sandbox.http.post("/_sandbox/faults", json={"bank": "nope", "fault": "503"})
    assert r.status_code == 404
    r = sandbox.http.post("/_sandbox/faults", json={"bank": "*", "operation": "status", "fault": "503", "times": 2})
    assert r.json()["pending"] == [{"bank": "*", "operation": "status", "fault": "503"}] * 2


def test_oauth_bank_insists_on_pkce_s256_and_one_authorization_request(sandbox: Sandbox) -> None:
    initiation = sandbox.client("kalevi").initiate(order(sandbox), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    params = query(initiation.sca_redirect or "")
    base = "/kalevi/oauth/authorize"
    for change in ({"code_challenge_method": "plain"}, {"code_challenge": ""}, {"code_challenge_method": ""}):
        r = sandbox.http.get(base, params={**params, **change}, follow_redirects=False)
        assert r.status_code == 400 and "S256" in r.text
    assert sandbox.http.get(base, params=params, follow_redirects=False).status_code == 303
    assert sandbox.http.get(base, params=params, follow_redirects=False).status_code == 303  # a reload
    hijack = {**params, "redirect_uri": "https://evil.example/steal", "state": "evil"}
    r = sandbox.http.get(base, params=hijack, follow_redirects=False)
    assert r.status_code == 400 and "initiated with" in r.text  # bound to the payment's TPP-Redirect-URI
    other_state = {**params, "state": "someone-else"}
    r = sandbox.http.get(base, params=other_state, follow_redirects=False)
    assert r.status_code == 400 and "started already" in r.text
    for bad in ("https://user:pw@evil.example/", "https://tpp.example\\@evil.example/", "https://tpp.example:99999/",
                "https://tpp.example/back#frag"):
        r = sandbox.http.get(base, params={**params, "redirect_uri": bad}, follow_redirects=False)
        assert r.status_code == 400, bad
    back = pay(initiation.sca_redirect or "", "alise", http=sandbox.http).back_to or ""
    assert back.startswith(f"{TPP}/back?code=")


def test_non_ascii_secrets_are_refused_not_crashed_on(sandbox: Sandbox) -> None:
    r = sandbox.http.post("/kalevi/oauth/token", data={"grant_type": "client_credentials",
                                                      "client_id": "kvits-sandbox-tpp", "client_secret": "ä"})
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client"
    initiation = sandbox.client("dzintars").initiate(order(sandbox), psu_ip="192.0.2.10", redirect_uri=f"{TPP}/back")
    page = sandbox.http.post(initiation.sca_redirect or "", data={"form_token": "ä", "user": "alise", "action": "login"})
    assert page.status_code == 403
    out = pay(initiation.sca_redirect or "", "alise", http=sandbox.http, codes=["１２３４５６", "123456"])
    assert out.back_to == f"{TPP}/back"


def test_a_compressed_answer_may_not_grow_past_the_cap(sandbox: Sandbox) -> None:
    import gzip as _gzip

    from fastapi import FastAPI
    from fastapi.responses import Response as FastResponse

    from tests.browser import LiveServer

    bomb = _gzip.compress(b"0" * (64 * 1024 * 1024))  # 64 MiB of zeros in ~64 KiB
    stacked = _gzip.compress(_gzip.compress(b"0" * (8 * 1024 * 1024)))
    app = FastAPI()

    @app.get("/v1/payments/sepa-credit-transfers/{pid}/status")
    def status(pid: str) -> FastResponse:
        body, encoding = (bomb, "gzip") if pid == "one" else (stacked, "gzip, gzip")
        return FastResponse(body, headers={"Content-Encoding": encoding, "Content-Type": "application/json"})

    with LiveServer(app) as server:
        bank = Bank(id="zip", name="Zip", bic="ZIPPLV22", country="LV", base_url=server.url, dialect="redirect")
        client = Psd2Client(bank, read_retries=0)
        import resource

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with pytest.raises(ProtocolError, match="larger than"):
            client.status("sepa-credit-transfers", "one")
        with pytest.raises(ProtocolError, match="not accepted"):
            client.status("sepa-credit-transfers", "two")
        grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        assert grown_mib < 32, f"memory grew by {grown_mib:.0f} MiB"


def test_an_authorisation_id_that_is_not_a_plain_id_is_not_kept() -> None:
    answer = {"transactionStatus": "RCVD", "paymentId": "p1",
              "_links": {"scaRedirect": {"href": "/sca/1"}, "scaStatus": {"href": "/auth/" + "a" * 300}}}
    initiation = hostile(lambda r: httpx.Response(201, json=answer)).initiate(
        ORDER, psu_ip="192.0.2.1", redirect_uri="https://tpp.example/b")
    assert initiation.authorisation_id is None and initiation.sca_redirect


@pytest.mark.parametrize("href", ["/sca/\x001", "/sca/\x0b1", "/sca/\x7f1"])
def test_links_with_control_characters_are_refused(href: str) -> None:
    answer = {"transactionStatus": "RCVD", "paymentId": "p1", "_links": {"scaRedirect": {"href": href}}}
    with pytest.raises(ProtocolError):
        hostile(lambda r: httpx.Response(201, json=answer) if r.method == "POST" else httpx.Response(204)).initiate(
            ORDER, psu_ip="192.0.2.1", redirect_uri="https://tpp.example/b")
