"""Machine clients of the HTTP API: created from the CLI, checked at the token endpoint."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.security import SCOPES, hash_secret, verify_secret
from core.errors import KvitsError
from core.models import ApiClient


@dataclass(frozen=True, slots=True)
class NewClient:
    client_id: str
    secret: str  # shown once; only its hash is stored
    scopes: tuple[str, ...]


def create_client(session: Session, merchant_id: int, name: str, scopes: list[str]) -> NewClient:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise KvitsError(f"unknown scope {', '.join(unknown)} (known: {', '.join(SCOPES)})")
    chosen = tuple(sorted(set(scopes or SCOPES)))
    client_id, secret = "cli_" + secrets.token_hex(12), secrets.token_urlsafe(32)
    session.add(ApiClient(merchant_id=merchant_id, client_id=client_id, secret_hash=hash_secret(secret),
                          name=name[:200], scopes=" ".join(chosen)))
    session.flush()
    return NewClient(client_id, secret, chosen)


_DUMMY = hash_secret(secrets.token_urlsafe(32))


def authenticate(session: Session, client_id: str, secret: str) -> ApiClient | None:
    """The client if the secret is its own and it is not revoked. An unknown client costs
    the same argon2 check as a known one: the answer's time tells nothing."""
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id[:40]))
    good = verify_secret(client.secret_hash if client is not None else _DUMMY, secret)
    if client is None or client.revoked_at is not None or not good:
        return None
    return client


def revoke(session: Session, merchant_id: int, client_id: str) -> ApiClient:
    """No new tokens for the client, and the ones it holds stop working at once."""
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id[:40],
                                                    ApiClient.merchant_id == merchant_id))
    if client is None:
        raise KvitsError(f"no client {client_id[:40]!r} of this merchant")
    if client.revoked_at is None:
        client.revoked_at = datetime.now(UTC)
    return client


def list_clients(session: Session, merchant_id: int) -> list[ApiClient]:
    return list(session.scalars(select(ApiClient).where(ApiClient.merchant_id == merchant_id).order_by(ApiClient.id)))


class ActiveClients:
    """Whether a token's client is still allowed in: a small cache so that every API call
    does not ask the database, and a revocation takes effect within `ttl` seconds."""

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._seen: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def active(self, session_for: Callable[[], AbstractContextManager[Session]], client_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            hit = self._seen.get(client_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        with session_for() as session:
            revoked = session.execute(select(ApiClient.revoked_at).where(ApiClient.client_id == client_id)).first()
        active = revoked is not None and revoked[0] is None
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[client_id] = (now, active)
        return active
