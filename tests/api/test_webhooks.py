"""Webhooks: signed as Standard Webhooks do, retried with backoff, logged, replayable,
and only for what was committed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.models import WebhookDelivery
from api.webhooks import deliver, pump, verify
from core.db import transaction
from tests.api.test_http_api import Api, api, demo_data, finished, problem, upload  # noqa: F401
from tests.browser import LiveServer
from tests.conftest import REPO_ROOT


class Receiver:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_first = 0
        self.lock = threading.Lock()
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
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
    wait_for(lambda: "statement.imported" in rec.events())
    wait_for(lambda: rec.events().count("invoice.paid") >= 5)
    assert "reconciliation.suggestion_created" in rec.events() and "invoice.partially_paid" in rec.events()
    for call in rec.calls:
        assert verify(secret, call["headers"], call["body"])
        assert call["headers"]["webhook-id"].startswith("evt_")
    tampered = dict(rec.calls[0]["headers"])
    assert not verify(secret, tampered, rec.calls[0]["body"] + b" ")
    assert not verify("whsec_" + "A" * 44, tampered, rec.calls[0]["body"])
    log = api.http.get(f"/v1/webhook-endpoints/{endpoint}/deliveries", headers=api.h()).json()["data"]
    assert log and all(d["state"] == "delivered" and d["attempts"] == 1 and d["log"][0]["status"] == 204 for d in log)
    # nobody else sees them
    problem(api.http.get(f"/v1/webhook-endpoints/{endpoint}/deliveries", headers=api.h("b")), 404, "not_found")
    problem(api.http.post(f"/v1/webhook-deliveries/{log[0]['id']}/replay", headers=api.h("b")), 404, "not_found")
    assert api.http.get("/v1/webhook-endpoints", headers=api.h("b")).json()["data"] == []


def test_failed_deliveries_are_retried_with_backoff_then_given_up(
        api: Api, factory: sessionmaker[Session], receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    rec.fail_first = 3
    endpoint = api.http.post("/v1/webhook-endpoints", headers=api.h(), json={
        "url": url, "events": ["statement.imported"]}).json()
    job = finished(api, upload(api, (REPO_ROOT / "examples" / "demo-statement.xml").read_bytes()).json()["id"])
    assert job["state"] == "done"
    wait_for(lambda: len(rec.calls) >= 1)
    with transaction(factory) as s:
        delivery = s.scalar(select(WebhookDelivery))
        assert delivery is not None
        first_try, delivery_id = delivery.next_attempt_at, delivery.id
        assert delivery.state == "pending" and delivery.attempts == 1 and delivery.last_status == 500
    start = datetime.now(UTC)
    assert deliver(factory, delivery_id, now=lambda: start + timedelta(seconds=6)) == "pending"  # 2nd: 500
    assert deliver(factory, delivery_id, now=lambda: start + timedelta(minutes=6)) == "pending"  # 3rd: 500
    assert deliver(factory, delivery_id, now=lambda: start + timedelta(minutes=40)) == "delivered"
    assert len({c["headers"]["webhook-id"] for c in rec.calls}) == 1  # one message id across retries
    with transaction(factory) as s:
        delivery = s.get(WebhookDelivery, delivery_id)
        assert delivery is not None and [e["status"] for e in delivery.log] == [500, 500, 500, 204]
    replayed = api.http.post(f"/v1/webhook-deliveries/whd_{delivery_id}/replay", headers=api.h())
    assert replayed.status_code == 202
    wait_for(lambda: len(rec.calls) == 5)
    assert first_try is not None
    # a receiver that never answers: given up three days after the event
    rec.fail_first = 10**6
    api.http.post(f"/v1/webhook-deliveries/whd_{delivery_id}/replay", headers=api.h())
    wait_for(lambda: len(rec.calls) == 6)
    assert deliver(factory, delivery_id, now=lambda: start + timedelta(days=3, hours=1)) == "failed"
    assert endpoint["events"] == ["statement.imported"]


@pytest.mark.parametrize("url", ["http://example.com/hook", "https://10.0.0.5/hook", "https://169.254.169.254/latest",
                                 "https://user:pw@example.com/", "ftp://example.com/", "https://[fd00::1]/x"])
def test_webhook_urls_must_be_public_https(api: Api, url: str) -> None:
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
