"""Secrets and access tokens of the HTTP API: argon2 hashes of client secrets, and
short-lived HS256-signed JWT access tokens carrying the merchant and the scopes."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from core.settings import Settings, default_data_dir

SCOPES = ("invoices:read", "invoices:write", "payments:read", "payments:write", "statements:write",
          "reconciliation:read", "reconciliation:write", "webhooks:write")
ISSUER = "kvits"
_HASHER = PasswordHasher()


def hash_secret(secret: str) -> str:
    return _HASHER.hash(secret)


def verify_secret(hashed: str, secret: str) -> bool:
    try:
        return _HASHER.verify(hashed, secret)
    except (VerificationError, InvalidHashError):
        return False


def signing_key(settings: Settings) -> OctKey:
    """KVITS_SECRET_KEY, else a random key created once in the data dir (readable by its
    owner only), so that tokens survive a restart of `kvits serve`."""
    if settings.secret_key:
        if len(settings.secret_key) < 32:
            from core.settings import ConfigError

            raise ConfigError("KVITS_SECRET_KEY must be at least 32 characters")
        return OctKey.import_key(settings.secret_key.encode())
    path = Path(default_data_dir()) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return OctKey.import_key(path.read_text().strip().encode())


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: a client of one merchant, with the scopes its token carries."""

    merchant_id: int
    client_id: str
    scopes: frozenset[str]


def issue_token(key: OctKey, principal: Principal, lifetime: int, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {"iss": ISSUER, "sub": principal.client_id, "mer": principal.merchant_id,
              "scope": " ".join(sorted(principal.scopes)), "iat": issued, "exp": issued + lifetime,
              "jti": secrets.token_hex(8)}
    return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, key)


def read_token(key: OctKey, token: str, now: float | None = None) -> Principal | None:
    """The token's principal, or None for a token that is forged, altered or expired."""
    try:
        decoded = jwt.decode(token, key, algorithms=["HS256"])
    except (JoseError, ValueError):
        return None
    claims = decoded.claims
    moment = now if now is not None else time.time()
    exp, mer, sub = claims.get("exp"), claims.get("mer"), claims.get("sub")
    if claims.get("iss") != ISSUER or not isinstance(exp, int) or exp <= moment or not isinstance(mer, int) \
            or not isinstance(sub, str):
        return None
    return Principal(mer, sub, frozenset(str(claims.get("scope", "")).split()))
