"""Webhooks: every committed event (core.events) fanned out to the merchant's endpoints
and delivered as Standard Webhooks do: `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256(secret, "id.timestamp.body")>`.

A delivery is tried at once, then after 5 s, 5 min, 30 min, 2 h, 5 h and every 10 h
until three days after the event; each attempt is logged. Deliveries run as Celery tasks
with a broker, on one sender thread of the API process without one; each attempt has
DEADLINE seconds from resolving the name to the answer's status line.

Receivers must be public: a URL is checked when registered and again, by resolving its
name, at every attempt, and the connection goes to the address that was checked (no DNS
rebinding to the metadata service or the database). `webhook_allow_private` lifts this
for development and tests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias, TypeVar
from urllib.parse import urlsplit

import httpx
import idna
from sqlalchemy import CursorResult, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.models import WebhookDelivery, WebhookEndpoint
from core.db import transaction
from core.errors import KvitsError
from core.events import EVENT_TYPES
from core.models import OutboxEvent
from core.settings import Settings

RETRY_AFTER = (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
               timedelta(hours=5))
LATER = timedelta(hours=10)
GIVE_UP_AFTER = timedelta(days=3)
DEADLINE = 15.0  # seconds for one whole attempt: resolving, connecting, sending, the answer's status
LEASE = timedelta(seconds=60)  # a claimed attempt is nobody else's for longer than it can take
CONCURRENCY = 16
_log = logging.getLogger("kvits.webhooks")
IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
T = TypeVar("T")


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


class Unsafe(WebhookError):
    """A receiver kvits will not call: not a public address of the internet."""


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))  # RFC 6052, RFC 8215
_V4_INSIDE = (ipaddress.ip_network("::/96"), ipaddress.ip_network("::ffff:0:0:0/96"))  # compatible, translated
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def address_allowed(address: IPAddress, private_ok: bool = False) -> bool:
    """Whether kvits may connect to this address: a public unicast one, never the
    metadata service, the database or a neighbour on the private network; IPv4 hidden
    inside IPv6 (mapped, 6to4, Teredo, NAT64) counts as what it hides. `private_ok`
    (the webhook_allow_private setting, for development) lets private ones through."""
    if address.is_multicast or address.is_unspecified:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        inner: ipaddress.IPv4Address | None = address.ipv4_mapped or address.sixtofour
        if inner is None and address.teredo:
            inner = address.teredo[1]
        if inner is None and any(address in net for net in (*_NAT64, *_V4_INSIDE)):
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.is_site_local:
            return False
        if inner is not None and not address_allowed(inner, private_ok):
            return False
    return private_ok or address.is_global


def check_url(url: str, private_ok: bool = False) -> str:
    """https to a host name or a public address, nothing odd: no user or password, no
    numeric host forms that hide an address (2130706433, 0x7f.1), names valid for DNS
    (IDNA); http and private addresses only with `private_ok`."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port out of range)
    except ValueError:
        raise WebhookError(f"{url[:100]!r} is not a URL") from None
    if len(url) > 2000 or parts.username or parts.password or any(c in url for c in " \t\r\n\\") or not parts.hostname:
        raise WebhookError("the URL must be plain: no user, spaces or backslashes, at most 2000 characters")
    if parts.scheme != "https" and not (parts.scheme == "http" and private_ok):
        raise WebhookError("webhook URLs must be https")
    host = parts.hostname
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        if not address_allowed(address, private_ok):
            raise Unsafe(f"{host} is not a public address")
        return url
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        raise WebhookError(f"{host[:100]!r} is not a valid host name") from None
    labels = ascii_host.rstrip(".").split(".")
    if not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit() or labels[-1].startswith("0x"):
        raise WebhookError(f"{host[:100]!r} is not a host name (a name, or an address written plainly)")
    if (labels[-1] == "localhost" or labels[-1] in ("local", "internal", "home", "lan")) and not private_ok:
        raise Unsafe(f"{host[:100]} is a name of the local network, not a public address")
    return url


def resolve(url: str, private_ok: bool = False) -> tuple[str, str, str | None]:
    """Where to connect for this URL, checked at the moment of delivery (a name may point
    anywhere by then): returns the URL with the host replaced by a checked address, the
    Host header, and the name to verify the certificate against. Every address the name
    has must be allowed, so that the connection cannot be steered to another one."""
    check_url(url, private_ok)
    parsed = httpx.URL(url)
    host = parsed.host  # httpx gives the IDNA (ASCII) form
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        return url, parsed.netloc.decode("ascii"), None
    try:
        infos = socket.getaddrinfo(host, parsed.port or (443 if parsed.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookError(f"cannot resolve {host}: {exc}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    bad = [str(a) for a in addresses if not address_allowed(a, private_ok)]
    if not addresses or bad:
        raise Unsafe(f"{host} resolves to {', '.join(bad) or 'nothing'}, not a public address")
    pinned = parsed.copy_with(host=str(addresses[0]))
    return str(pinned), parsed.netloc.decode("ascii"), host if parsed.scheme == "https" else None


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


@dataclass(frozen=True)
class _Attempt:
    delivery_id: int
    moment: datetime
    url: str
    secret: str
    body: bytes
    event_id: str
    first: datetime
    enabled: bool


def _claim(factory: sessionmaker[Session], delivery_id: int, moment: datetime) -> _Attempt | str:
    """Take the attempt if it is due and nobody else took it (several senders may run at
    once: an attempt is claimed by moving its time on by a lease, in one statement)."""
    with transaction(factory) as session:
        claimed = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.state == "pending",
                   WebhookDelivery.next_attempt_at <= moment)
            .values(next_attempt_at=moment + LEASE)
            .execution_options(synchronize_session=False))
        assert isinstance(claimed, CursorResult)
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or claimed.rowcount != 1:
            return delivery.state if delivery else "unknown"
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        event = session.get(OutboxEvent, delivery.event_id)
        assert endpoint is not None and event is not None
        first = event.created_at if event.created_at.tzinfo else event.created_at.replace(tzinfo=UTC)
        return _Attempt(delivery_id, moment, endpoint.url, endpoint.secret, payload(event), f"evt_{event.id}", first,
                        endpoint.enabled)


async def _post(attempt: _Attempt, private_ok: bool,
                transport: httpx.AsyncBaseTransport | None) -> tuple[int | None, str | None]:
    """The HTTP call, within DEADLINE from start to the answer's status line; the answer's
    body is never read. Whatever goes wrong becomes the attempt's error."""
    if not attempt.enabled:
        return None, "the endpoint is disabled"
    stamp = int(attempt.moment.timestamp())

    async def call() -> int:
        target, host, sni = await asyncio.to_thread(resolve, attempt.url, private_ok)
        headers = {"Host": host, "Content-Type": "application/json", "User-Agent": "kvits-webhooks",
                   "webhook-id": attempt.event_id, "webhook-timestamp": str(stamp),
                   "webhook-signature": sign(attempt.secret, attempt.event_id, stamp, attempt.body)}
        async with httpx.AsyncClient(transport=transport, timeout=DEADLINE, follow_redirects=False,
                                     trust_env=False) as http:
            async with http.stream("POST", target, content=attempt.body, headers=headers,
                                   extensions={"sni_hostname": sni} if sni else {}) as response:
                return response.status_code

    try:
        return await asyncio.wait_for(call(), DEADLINE), None
    except TimeoutError:
        return None, f"no answer within {DEADLINE:g} s"
    except WebhookError as exc:
        return None, str(exc)[:500]
    except Exception as exc:  # noqa: BLE001  (a receiver must never stop the sender)
        return None, f"{type(exc).__name__}: {exc}"[:500]


def _record(factory: sessionmaker[Session], attempt: _Attempt, status: int | None, error: str | None) -> str:
    ok = status is not None and 200 <= status < 300
    with transaction(factory) as session:
        delivery = session.get(WebhookDelivery, attempt.delivery_id)
        assert delivery is not None
        delivery.attempts += 1
        delivery.last_status, delivery.last_error = status, error
        moment = attempt.moment
        entry: dict[str, object] = {"at": moment.isoformat(), "status": status, "error": error}
        delivery.log = [*delivery.log, entry][-50:]
        if ok:
            delivery.state, delivery.delivered_at, delivery.next_attempt_at = "delivered", moment, None
        else:
            wait = RETRY_AFTER[delivery.attempts - 1] if delivery.attempts <= len(RETRY_AFTER) else LATER
            if moment + wait > attempt.first + GIVE_UP_AFTER:
                delivery.state, delivery.next_attempt_at = "failed", None
            else:
                delivery.next_attempt_at = moment + wait
        return delivery.state


async def _attempt(factory: sessionmaker[Session], delivery_id: int, private_ok: bool,
                   transport: httpx.AsyncBaseTransport | None, now: Callable[[], datetime]) -> str:
    claimed = await asyncio.to_thread(_claim, factory, delivery_id, now())
    if isinstance(claimed, str):
        return claimed
    status, error = await _post(claimed, private_ok, transport)
    return await asyncio.to_thread(_record, factory, claimed, status, error)


def deliver(factory: sessionmaker[Session], delivery_id: int, *, private_ok: bool = False,
            transport: httpx.AsyncBaseTransport | None = None,
            now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> str:
    """One attempt, if it is due and this caller wins it; returns the delivery's state."""
    return _run(lambda: _attempt(factory, delivery_id, private_ok, transport, now))


def _run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to its end from plain code; on a thread of its own when this one
    already runs an event loop (an async caller, a test driving a browser)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def due(session: Session, now: datetime) -> list[int]:
    return list(session.scalars(select(WebhookDelivery.id).where(
        WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at).limit(500)))


def pump(factory: sessionmaker[Session], *, private_ok: bool = False,
         now: Callable[[], datetime] = lambda: datetime.now(UTC),
         transport: httpx.AsyncBaseTransport | None = None) -> dict[str, int]:
    """Fan out new events and try every delivery that is due, CONCURRENCY at a time (a
    slow receiver holds up only its own attempts); return counts by outcome."""
    with transaction(factory) as session:
        fan_out(session)
        ids = due(session, now())
    counts: dict[str, int] = {}

    async def run() -> None:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(delivery_id: int) -> None:
            async with gate:
                try:
                    state = await _attempt(factory, delivery_id, private_ok, transport, now)
                except Exception:
                    _log.exception("webhook delivery %s", delivery_id)
                    state = "error"
            counts[state] = counts.get(state, 0) + 1

        await asyncio.gather(*(one(i) for i in ids))

    if ids:
        _run(run)
    return counts


def next_due(factory: sessionmaker[Session]) -> datetime | None:
    with transaction(factory) as session:
        value: datetime | None = session.scalar(select(WebhookDelivery.next_attempt_at).where(
            WebhookDelivery.state == "pending").order_by(WebhookDelivery.next_attempt_at).limit(1))
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


# tests that drive deliveries by hand turn the background sender off
ENABLED = True
_LOCK = threading.Lock()
_SENDERS: dict[int, _Sender] = {}


class _Sender:
    """Without a broker: one thread per database that pumps when woken and sleeps until
    the next retry is due; it ends when nothing is pending and starts again when woken."""

    def __init__(self, factory: sessionmaker[Session], private_ok: bool) -> None:
        self.factory, self.private_ok = factory, private_ok
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True, name="kvits-webhooks")

    def run(self) -> None:
        while True:
            self.wake.clear()
            following = None
            if ENABLED:
                try:
                    pump(self.factory, private_ok=self.private_ok)
                    following = next_due(self.factory)
                except Exception:
                    _log.exception("webhook delivery failed")
            delay = None if following is None else min(max((following - datetime.now(UTC)).total_seconds(), 0.2), 3600)
            with _LOCK:
                if delay is None and not self.wake.is_set():
                    _SENDERS.pop(id(self.factory), None)
                    return
            self.wake.wait(delay)


def pump_soon(factory: sessionmaker[Session], settings: Settings, after: Session | None = None) -> None:
    """After events were committed (or, with `after`, once that session commits): deliver
    in the background, by Celery with a broker, by this process's sender without one."""
    if after is not None:
        event.listen(after, "after_commit", lambda _s: pump_soon(factory, settings), once=True)
        return
    if not ENABLED:
        return
    if settings.broker_url:
        from api.tasks import pump_webhooks

        pump_webhooks.apply_async()
        return
    with _LOCK:
        sender = _SENDERS.get(id(factory))
        if sender is None:
            sender = _SENDERS[id(factory)] = _Sender(factory, settings.webhook_allow_private)
            sender.thread.start()
        sender.wake.set()


def create_endpoint(session: Session, merchant_id: int, url: str, events: list[str],
                    private_ok: bool = False) -> WebhookEndpoint:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise WebhookError(f"unknown event type {', '.join(unknown)} (known: {', '.join(EVENT_TYPES)})" if unknown
                           else "name at least one event type")
    endpoint = WebhookEndpoint(merchant_id=merchant_id, url=check_url(url, private_ok), secret=new_secret(),
                               events=sorted(set(events)), enabled=True)
    session.add(endpoint)
    session.flush()
    return endpoint


def replay(session: Session, delivery: WebhookDelivery, now: datetime) -> None:
    """Try a delivery again now, whatever became of it (a person fixed the receiver)."""
    delivery.state, delivery.next_attempt_at = "pending", now
