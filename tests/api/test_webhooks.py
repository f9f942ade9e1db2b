"""Webhooks: signed as Standard Webhooks do, retried with backoff, logged, replayable,
and only for what was committed."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.models import WebhookDelivery
from api.webhooks import deliver, pump, verify
from core.db import transaction
from tests.api.test_http_api import Api, demo_data, finished, make_api, problem, upload
from tests.browser import LiveServer
from tests.conftest import REPO_ROOT


class Receiver:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_first = 0
        self.delay = 0.0
        self.lock = threading.Lock()
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            if self.delay:
                await asyncio.sleep(self.delay)
            with self.lock:
                self.calls.append({"headers": {k.lower(): v for k, v in request.headers.items()}, "body": body})
                failing = self.fail_first > 0
                self.fail_first -= 1
            return Response(status_code=500 if failing else 204)

        self.app = app

    def events(self) -> list[str]:
        import json

        return [json.loads(c["body"])["type"] for c in self.calls]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    r = Receiver()
    with LiveServer(r.app) as server:
        yield r, server.url + "/hook"


@pytest.fixture
def api(factory: sessionmaker[Session], tmp_path: Path) -> Api:
    """The API as a developer runs it: receivers on this machine allowed."""
    return make_api(factory, tmp_path, webhook_allow_private=True)


@pytest.fixture
def strict_api(factory: sessionmaker[Session], tmp_path: Path) -> Api:
    """The API as it runs in production: public https receivers only."""
    return make_api(factory, tmp_path)


def wait_for(condition: Any, seconds: float = 15) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_events_are_delivered_signed(api: Api, factory: sessionmaker[Session], receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    made = api.http.post("/v1/webhook-endpoints", headers=api.h(), json={"url": url, "events": [
        "statement.imported", "invoice.paid", "invoice.partially_paid", "reconciliation.suggestion_created"]})
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    secret, endpoint = made.json()["secret"], made.json()["id"]
    assert api.http.get("/v1/webhook-endpoints", headers=api.h()).json()["data"][0]["secret"] is None  # shown once
    demo_data(factory, "shop-a")
    job = finished(api, upload(api, (REPO_ROOT / "examples" / "demo-statement.xml").read_bytes()).json()["id"])
    assert job["state"] == "done"
    # deliveries run concurrently: they arrive in any order
    wait_for(lambda: {"statement.imported", "reconciliation.suggestion_created", "invoice.partially_paid"}
             <= set(rec.events()) and rec.events().count("invoice.paid") >= 5)
    for call in rec.calls:
        assert verify(secret, call["headers"], call["body"])
        assert call["headers"]["webhook-id"].startswith("evt_")
    tampered = dict(rec.calls[0]["headers"])
    assert not verify(secret, tampered, rec.calls[0]["body"] + b" ")
    assert not verify("whsec_" + "A" * 44, tampered, rec.calls[0]["body"])
    def log_now() -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = api.http.get(f"/v1/webhook-endpoints/{endpoint}/deliveries",
                                                  headers=api.h()).json()["data"]
        return data

    wait_for(lambda: all(d["state"] != "pending" for d in log_now()))
    log = log_now()
    assert log and all(d["state"] == "delivered" and d["attempts"] == 1 and d["log"][0]["status"] == 204 for d in log)
    # nobody else sees them
    problem(api.http.get(f"/v1/webhook-endpoints/{endpoint}/deliveries", headers=api.h("b")), 404, "not_found")
    problem(api.http.post(f"/v1/webhook-deliveries/{log[0]['id']}/replay", headers=api.h("b")), 404, "not_found")
    assert api.http.get("/v1/webhook-endpoints", headers=api.h("b")).json()["data"] == []


def test_failed_deliveries_are_retried_with_backoff_then_given_up(
        api: Api, factory: sessionmaker[Session], receiver: tuple[Receiver, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import api.webhooks as webhooks

    rec, url = receiver
    rec.fail_first = 3
    endpoint = api.http.post("/v1/webhook-endpoints", headers=api.h(), json={
        "url": url, "events": ["statement.imported"]}).json()
    job = finished(api, upload(api, (REPO_ROOT / "examples" / "demo-statement.xml").read_bytes()).json()["id"])
    assert job["state"] == "done"
    wait_for(lambda: len(rec.calls) >= 1)
    monkeypatch.setattr(webhooks, "ENABLED", False)  # from here on the test drives every attempt

    def first_attempt_recorded() -> bool:
        with transaction(factory) as s:
            row = s.scalar(select(WebhookDelivery))
            return row is not None and row.attempts == 1

    wait_for(first_attempt_recorded)
    with transaction(factory) as s:
        delivery = s.scalar(select(WebhookDelivery))
        assert delivery is not None
        first_try, delivery_id = delivery.next_attempt_at, delivery.id
        assert delivery.state == "pending" and delivery.attempts == 1 and delivery.last_status == 500
    start = datetime.now(UTC)
    for later, state in ((timedelta(seconds=6), "pending"), (timedelta(minutes=6), "pending"),  # 2nd, 3rd: 500
                         (timedelta(minutes=40), "delivered")):
        assert deliver(factory, delivery_id, private_ok=True, now=lambda: start + later) == state  # noqa: B023
    assert len({c["headers"]["webhook-id"] for c in rec.calls}) == 1  # one message id across retries
    with transaction(factory) as s:
        delivery = s.get(WebhookDelivery, delivery_id)
        assert delivery is not None and [e["status"] for e in delivery.log] == [500, 500, 500, 204]
    monkeypatch.setattr(webhooks, "ENABLED", True)
    replayed = api.http.post(f"/v1/webhook-deliveries/whd_{delivery_id}/replay", headers=api.h())
    assert replayed.status_code == 202
    wait_for(lambda: len(rec.calls) == 5)
    assert first_try is not None
    # a receiver that never answers: given up three days after the event
    rec.fail_first = 10**6
    api.http.post(f"/v1/webhook-deliveries/whd_{delivery_id}/replay", headers=api.h())
    wait_for(lambda: len(rec.calls) == 6)
    monkeypatch.setattr(webhooks, "ENABLED", False)
    wait_for(lambda: attempts(factory, delivery_id) == 6)
    assert deliver(factory, delivery_id, private_ok=True, now=lambda: start + timedelta(days=3, hours=1)) == "failed"
    assert endpoint["events"] == ["statement.imported"]


@pytest.mark.parametrize("url", ["http://example.com/hook", "https://10.0.0.5/hook", "https://169.254.169.254/latest",
                                 "https://user:pw@example.com/", "ftp://example.com/", "https://[fd00::1]/x"])
def test_webhook_urls_must_be_public_https(strict_api: Api, url: str) -> None:
    api = strict_api
    problem(api.http.post("/v1/webhook-endpoints", headers=api.h(), json={"url": url, "events": ["invoice.paid"]}),
            422, "refused")


def test_unknown_event_types_are_refused(api: Api) -> None:
    body = problem(api.http.post("/v1/webhook-endpoints", headers=api.h(), json={
        "url": "https://hooks.example/x", "events": ["invoice.eaten"]}), 422, "refused")
    assert "invoice.eaten" in body["detail"]
    problem(api.http.post("/v1/webhook-endpoints", headers=api.h("a-read"), json={
        "url": "https://hooks.example/x", "events": ["invoice.paid"]}), 403, "insufficient_scope")


def test_a_rolled_back_change_sends_nothing(factory: sessionmaker[Session]) -> None:
    from core.events import emit
    from core.models import OutboxEvent
    from core.tenancy import get_or_create_merchant

    with transaction(factory) as s:
        merchant = get_or_create_merchant(s, "rb").id
    try:
        with transaction(factory) as s:
            emit(s, merchant, "invoice.paid", invoice="inv_1")
            raise RuntimeError("the change fails")
    except RuntimeError:
        pass
    with transaction(factory) as s:
        assert s.scalar(select(OutboxEvent)) is None
    assert pump(factory) == {}


def test_two_pumps_at_once_send_each_attempt_once(api: Api, factory: sessionmaker[Session],
                                                  receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    api.http.post("/v1/webhook-endpoints", headers=api.h(), json={"url": url, "events": ["invoice.paid"]})
    from core.events import emit
    from core.tenancy import get_or_create_merchant

    with transaction(factory) as s:
        merchant = get_or_create_merchant(s, "shop-a").id
        for n in range(5):
            emit(s, merchant, "invoice.paid", invoice=f"inv_{n}")
    threads = [threading.Thread(target=pump, args=(factory,), kwargs={"private_ok": True}) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_for(lambda: len(rec.calls) >= 5)
    time.sleep(0.5)
    assert sorted(c["headers"]["webhook-id"] for c in rec.calls) == sorted({c["headers"]["webhook-id"] for c in rec.calls})
    assert len(rec.calls) == 5


def attempts(factory: sessionmaker[Session], delivery_id: int) -> int:
    with transaction(factory) as s:
        row = s.get(WebhookDelivery, delivery_id)
        assert row is not None
        return row.attempts


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
    "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::1", "2002:a00:1::",
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2001:0:4136:e378:8000:63bf:80ff:fffe", "255.255.255.255", "198.18.0.1"])
def test_no_private_address_is_allowed(address: str) -> None:
    import ipaddress

    from api.webhooks import address_allowed

    assert not address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::ffff:93.184.215.14",
                                     "2002:5db8:d70e::1"])
def test_public_addresses_are_allowed(address: str) -> None:
    import ipaddress

    from api.webhooks import address_allowed

    assert address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", ["https://2130706433/", "https://0x7f000001/", "https://127.1/", "https://0/",
                                 "https://0177.0.0.1/", "https://localhost/", "https://LOCALHOST./x",
                                 "https://[::ffff:127.0.0.1]/", "https://100.64.1.1/", "https://exa_mple.com/",
                                 "https://-bad-.example/", "https://a..example/", "https://" + "a" * 64 + ".example/"])
def test_hidden_and_malformed_hosts_are_refused(strict_api: Api, url: str) -> None:
    problem(strict_api.http.post("/v1/webhook-endpoints", headers=strict_api.h(),
                                 json={"url": url, "events": ["invoice.paid"]}), 422, "refused")


@pytest.mark.parametrize("url", ["https://①.example/hook", "https://rēķini.example/hook", "https://hooks.example:8443/x"])
def test_international_names_are_fine(strict_api: Api, url: str) -> None:
    made = strict_api.http.post("/v1/webhook-endpoints", headers=strict_api.h(),
                                json={"url": url, "events": ["invoice.paid"]})
    assert made.status_code == 201, made.text


def fake_dns(monkeypatch: pytest.MonkeyPatch, names: dict[str, str]) -> None:
    real = socket.getaddrinfo

    def lookup(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in names:
            family = socket.AF_INET6 if ":" in names[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (names[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)


def one_event(factory: sessionmaker[Session], url: str, merchant: str = "shop-a") -> None:
    """An endpoint stored as it is (as if its name pointed elsewhere when it was made)."""
    from api.models import WebhookEndpoint
    from api.webhooks import new_secret
    from core.events import emit
    from core.tenancy import get_or_create_merchant

    with transaction(factory) as s:
        merchant_id = get_or_create_merchant(s, merchant).id
        s.add(WebhookEndpoint(merchant_id=merchant_id, url=url, secret=new_secret(), events=["invoice.paid"],
                              enabled=True))
        s.flush()
        emit(s, merchant_id, "invoice.paid", invoice="inv_1")


def test_a_name_that_turns_private_is_not_called(factory: sessionmaker[Session], receiver: tuple[Receiver, str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    rec, url = receiver
    port = url.split(":")[2].split("/")[0]
    fake_dns(monkeypatch, {"hooks.example": "127.0.0.1", "six.example": "::ffff:10.0.0.1"})
    one_event(factory, f"https://hooks.example:{port}/hook")
    one_event(factory, "https://six.example/hook", "shop-b")
    assert pump(factory) == {"pending": 2}
    with transaction(factory) as s:
        errors = sorted(d.last_error or "" for d in s.scalars(select(WebhookDelivery)))
    assert "hooks.example resolves to 127.0.0.1, not a public address" in errors
    assert "six.example resolves to ::ffff:a00:1, not a public address" in errors
    assert rec.calls == []


def test_the_connection_goes_to_the_address_that_was_checked(factory: sessionmaker[Session],
                                                             receiver: tuple[Receiver, str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    rec, url = receiver
    port = url.split(":")[2].split("/")[0]
    fake_dns(monkeypatch, {"hooks.test": "127.0.0.1"})
    one_event(factory, f"http://hooks.test:{port}/hook")
    assert pump(factory, private_ok=True) == {"delivered": 1}
    assert rec.calls[0]["headers"]["host"] == f"hooks.test:{port}"


def test_a_slow_or_broken_receiver_holds_up_only_itself(factory: sessionmaker[Session], receiver: tuple[Receiver, str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import api.webhooks as webhooks

    rec, url = receiver
    slow = Receiver()
    slow.delay = 5
    monkeypatch.setattr(webhooks, "DEADLINE", 0.5)
    with LiveServer(slow.app) as server:
        one_event(factory, server.url + "/hook", "slow")
        one_event(factory, "https://xn--ls8h.example/hook", "broken")  # resolves nowhere
        one_event(factory, "http://[::1/hook", "unparsable")
        one_event(factory, url, "fine")
        began = time.monotonic()
        counts = pump(factory, private_ok=True)
        took = time.monotonic() - began
    assert counts == {"pending": 3, "delivered": 1}
    assert took < 3
    assert len(rec.calls) == 1
    with transaction(factory) as s:
        errors = [d.last_error or "" for d in s.scalars(select(WebhookDelivery))]
    assert "no answer within 0.5 s" in errors


@pytest.mark.parametrize("address", ["::7f00:1", "::a00:1", "::ffff:0:7f00:1", "64:ff9b:1::a00:1", "fec0::1"])
def test_ipv4_hidden_in_older_ipv6_forms_is_refused_too(address: str) -> None:
    import ipaddress

    from api.webhooks import address_allowed

    assert not address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", ["https://foo.localhost/", "https://printer.local/x", "https://db.internal/",
                                 "https://[::7f00:1]/"])
def test_local_network_names_are_refused(strict_api: Api, url: str) -> None:
    problem(strict_api.http.post("/v1/webhook-endpoints", headers=strict_api.h(),
                                 json={"url": url, "events": ["invoice.paid"]}), 422, "refused")
