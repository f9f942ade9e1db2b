"""Machine clients of the HTTP API: created from the CLI, checked at the token endpoint."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

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


def authenticate(session: Session, client_id: str, secret: str) -> ApiClient | None:
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id[:40]))
    if client is None or client.revoked_at is not None or not verify_secret(client.secret_hash, secret):
        return None
    return client
