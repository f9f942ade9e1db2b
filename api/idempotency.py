"""Idempotency-Key on the POSTs that move money or import a statement: the same key
with the same request answers the first answer again; the same key with another
request is 409; two at once with one key: the second waits for the first (the key's
row is taken first, in the request's own transaction) and is then told to retry."""

from __future__ import annotations

import hashlib

from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.problems import Problem
from reconciliation.models import IdempotencyKey

MAX_KEY = 255


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()


def begin(s: Session, merchant_id: int, key: str | None, digest: str) -> JSONResponse | IdempotencyKey | None:
    """None without a key; the stored answer for a repeat; else the reserved key row,
    to be completed with `finish` in the same transaction."""
    if not key:
        return None
    if len(key) > MAX_KEY or not key.isprintable():
        raise Problem(400, "invalid_idempotency_key", f"an Idempotency-Key is 1-{MAX_KEY} printable characters")
    stored = s.scalar(select(IdempotencyKey).where(IdempotencyKey.merchant_id == merchant_id, IdempotencyKey.key == key))
    if stored is not None:
        if stored.request_hash != digest:
            raise Problem(409, "idempotency_key_reused", "this Idempotency-Key was used with another request")
        return JSONResponse(stored.body, status_code=stored.status, headers={"Idempotent-Replayed": "true"})
    row = IdempotencyKey(merchant_id=merchant_id, key=key, request_hash=digest, status=0, body={})
    s.add(row)
    try:
        with s.begin_nested():
            s.flush()
    except IntegrityError:
        raise Problem(409, "idempotency_in_progress",
                      "a request with this Idempotency-Key is being handled; retry to get its answer") from None
    return row


def finish(row: IdempotencyKey | None, status: int, body: dict[str, object]) -> None:
    if row is not None:
        row.status, row.body = status, body
