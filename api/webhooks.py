"""Webhooks: every committed event (core.events) fanned out to the merchant's endpoints
and delivered as Standard Webhooks do: `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256(secret, "id.timestamp.body")>`.

A delivery is tried at once, then after 5 s, 5 min, 30 min, 2 h, 5 h and every 10 h
until three days after the event; each attempt is logged. Deliveries run as Celery tasks
with a broker, on threads and timers of the API process without one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.models import WebhookDelivery, WebhookEndpoint
from core.db import transaction
from core.errors import KvitsError
from core.events import EVENT_TYPES
from core.models import OutboxEvent

RETRY_AFTER = (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
               timedelta(hours=5))
LATER = timedelta(hours=10)
GIVE_UP_AFTER = timedelta(days=3)
TIMEOUT = 10.0
_log = logging.getLogger("kvits.webhooks")


class WebhookError(KvitsError):
    pass


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does (used in the tests, and shown in docs/api.md)."""
    try:
        timestamp = int(headers["webhook-timestamp"])
        expected = sign(secret, headers["webhook-id"], timestamp, body).split(",", 1)[1]
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    return any(hmac.compare_digest(expected, s.split(",", 1)[1]) for s in headers.get("webhook-signature", "").split()
               if s.startswith("v1,"))


def check_url(url: str) -> str:
    """https, or http on this machine for development; never a private or link-local
    address given literally (the metadata service, the database...)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port out of range)
    except ValueError:
        raise WebhookError(f"{url[:100]!r} is not a URL") from None
    host = parts.hostname or ""
    loopback = host in ("localhost", "127.0.0.1", "::1")
    if len(url) > 2000 or parts.username or parts.password or any(c in url for c in " \t\r\n\\") or not host:
        raise WebhookError("the URL must be plain: no user, spaces or backslashes, at most 2000 characters")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise WebhookError("webhook URLs must be https (http only on localhost, for development)")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return url
    if not loopback and (address.is_private or address.is_link_local or address.is_reserved or address.is_multicast):
        raise WebhookError(f"{host} is not a public address")
    return url


def fan_out(session: Session) -> list[int]:
    """A delivery for each new event and each enabled endpoint that wants its type."""
    created = []
    events = list(session.scalars(select(OutboxEvent).where(OutboxEvent.fanned_out.is_(False))
                                  .order_by(OutboxEvent.id).limit(1000).with_for_update(skip_locked=True)))
    for event in events:
        endpoints = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.merchant_id == event.merchant_id,
                                                                  WebhookEndpoint.enabled.is_(True)))
        for endpoint in endpoints:
            if event.type in endpoint.events:
                delivery = WebhookDelivery(merchant_id=event.merchant_id, endpoint_id=endpoint.id, event_id=event.id,
                                           state="pending", attempts=0, next_attempt_at=event.created_at, log=[])
                session.add(delivery)
                session.flush()
                created.append(delivery.id)
        event.fanned_out = True
    return created


def payload(event: OutboxEvent) -> bytes:
    created = event.created_at if event.created_at.tzinfo else event.created_at.replace(tzinfo=UTC)
    return json.dumps({"id": f"evt_{event.id}", "type": event.type, "created_at": created.isoformat(),
                       "data": event.data}, separators=(",", ":"), ensure_ascii=False).encode()


def deliver(factory: sessionmaker[Session], delivery_id: int, *, transport: httpx.BaseTransport | None = None,
            now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> str:
    """One attempt; returns the delivery's state after it."""
    with transaction(factory) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.state != "pending":
            return delivery.state if delivery else "unknown"
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        event = session.get(OutboxEvent, delivery.event_id)
        assert endpoint is not None and event is not None
        url, secret, body, event_id = endpoint.url, endpoint.secret, payload(event), f"evt_{event.id}"
        first = event.created_at if event.created_at.tzinfo else event.created_at.replace(tzinfo=UTC)
        enabled = endpoint.enabled
    moment = now()
    stamp = int(moment.timestamp())
    status, error = None, None
    if not enabled:
        error = "the endpoint is disabled"
    else:
        headers = {"Content-Type": "application/json", "User-Agent": "kvits-webhooks", "webhook-id": event_id,
                   "webhook-timestamp": str(stamp), "webhook-signature": sign(secret, event_id, stamp, body)}
        try:
            with httpx.Client(transport=transport, timeout=TIMEOUT, follow_redirects=False) as http:
                status = http.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
    ok = status is not None and 200 <= status < 300
    with transaction(factory) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        delivery.attempts += 1
        delivery.last_status, delivery.last_error = status, error
        entry: dict[str, object] = {"at": moment.isoformat(), "status": status, "error": error}
        delivery.log = [*delivery.log, entry][-50:]
        if ok:
            delivery.state, delivery.delivered_at, delivery.next_attempt_at = "delivered", moment, None
        else:
            wait = RETRY_AFTER[delivery.attempts - 1] if delivery.attempts <= len(RETRY_AFTER) else LATER
            if moment + wait > first + GIVE_UP_AFTER:
                delivery.state, delivery.next_attempt_at = "failed", None
            else:
                delivery.next_attempt_at = moment + wait
        return delivery.state


def due(session: Session, now: datetime) -> list[int]:
    return list(session.scalars(select(WebhookDelivery.id).where(
        WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now).limit(500)))


def pump(factory: sessionmaker[Session], now: Callable[[], datetime] = lambda: datetime.now(UTC),
         transport: httpx.BaseTransport | None = None) -> dict[str, int]:
    """Fan out new events and try every delivery that is due; return counts by outcome."""
    with transaction(factory) as session:
        fan_out(session)
        ids = due(session, now())
    counts: dict[str, int] = {}
    for delivery_id in ids:
        state = deliver(factory, delivery_id, transport=transport, now=now)
        counts[state] = counts.get(state, 0) + 1
    return counts


def next_due(factory: sessionmaker[Session]) -> datetime | None:
    with transaction(factory) as session:
        value: datetime | None = session.scalar(select(WebhookDelivery.next_attempt_at).where(
            WebhookDelivery.state == "pending").order_by(WebhookDelivery.next_attempt_at).limit(1))
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


_TIMER_LOCK = threading.Lock()
_TIMERS: dict[int, threading.Timer] = {}


def pump_soon(factory: sessionmaker[Session], broker: bool) -> None:
    """After events were committed: deliver in the background (Celery with a broker, a
    thread here without one), and keep one timer per process for the next retry."""
    if broker:
        from api.tasks import pump_webhooks

        pump_webhooks.apply_async()
        return

    def run() -> None:
        try:
            pump(factory)
            following = next_due(factory)
        except Exception:
            _log.exception("webhook delivery failed")
            return
        if following is not None:
            delay = max((following - datetime.now(UTC)).total_seconds(), 0.5)
            with _TIMER_LOCK:
                old = _TIMERS.pop(id(factory), None)
                if old is not None:
                    old.cancel()
                timer = threading.Timer(delay, run)
                timer.daemon = True
                _TIMERS[id(factory)] = timer
                timer.start()

    threading.Thread(target=run, daemon=True, name="kvits-webhooks").start()


def create_endpoint(session: Session, merchant_id: int, url: str, events: list[str]) -> WebhookEndpoint:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise WebhookError(f"unknown event type {', '.join(unknown)} (known: {', '.join(EVENT_TYPES)})" if unknown
                           else "name at least one event type")
    endpoint = WebhookEndpoint(merchant_id=merchant_id, url=check_url(url), secret=new_secret(),
                               events=sorted(set(events)), enabled=True)
    session.add(endpoint)
    session.flush()
    return endpoint


def replay(session: Session, delivery: WebhookDelivery, now: datetime) -> None:
    """Try a delivery again now, whatever became of it (a person fixed the receiver)."""
    delivery.state, delivery.next_attempt_at = "pending", now
