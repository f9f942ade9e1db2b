"""What every API route depends on: a database session, the caller and its scopes,
and the ids and cursors of the API's resources."""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from pydantic import AfterValidator
from sqlalchemy.orm import Session

from api.problems import Problem
from api.security import Principal, read_token
from core.db import transaction


def session(request: Request) -> Iterator[Session]:
    """One unit of work per request: committed when the route returns, else rolled back."""
    with transaction(request.app.state.factory) as s:
        yield s


# committed before the answer is sent (scope "function"): a client never sees a success
# for a change that then fails to commit, nor reads its own write before it is there
Db = Annotated[Session, Depends(session, scope="function")]


def principal(request: Request) -> Principal:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "unauthenticated", "send an access token: Authorization: Bearer <token> (POST /oauth/token)",
                      headers={"WWW-Authenticate": 'Bearer realm="kvits"'})
    who = read_token(request.app.state.signing_key, token.strip())
    if who is None or not request.app.state.active_clients.active(
            lambda: transaction(request.app.state.factory), who.client_id):
        raise Problem(401, "invalid_token", "the access token is not valid, has expired or its client was revoked",
                      headers={"WWW-Authenticate": 'Bearer realm="kvits", error="invalid_token"'})
    return who


def require(scope: str) -> Callable[[Request], Principal]:
    def check(request: Request) -> Principal:
        who = principal(request)
        if scope not in who.scopes:
            raise Problem(403, "insufficient_scope", f"this call needs the scope {scope}",
                          headers={"WWW-Authenticate": f'Bearer realm="kvits", error="insufficient_scope", scope="{scope}"'})
        return who

    return check


def public_id(prefix: str, row_id: int) -> str:
    return f"{prefix}_{row_id}"


_ROW = re.compile(r"[1-9][0-9]{0,17}")  # ASCII digits only ("١٢" is digits to str.isdigit), no leading 0, < 2**63


def row_id(prefix: str, value: str, what: str) -> int:
    """The row behind a public id; anything else is simply not found (never a 500)."""
    head, _, tail = value.partition("_")
    if head != prefix or not _ROW.fullmatch(tail):
        raise Problem(404, "not_found", f"no {what} {value[:60]}")
    return int(tail)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "after" or not _ROW.fullmatch(value):
            raise ValueError(text)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, "invalid_cursor", "the cursor is not one this API gave out") from None


def _utc(value: datetime) -> datetime:
    # SQLite gives naive datetimes back; they were stored as UTC
    return value if value.tzinfo else value.replace(tzinfo=UTC)


Timestamp = Annotated[datetime, AfterValidator(_utc)]


def psu_ip(request: Request) -> str:
    """The caller's address for a bank's PSU-IP-Address (an IP address, else loopback)."""
    host = request.client.host if request.client else ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return "127.0.0.1"
