"""A bank with the OAuth SCA approach: kvits calls it with a client-credentials token
(authlib's OAuth2Client, cached per bank and renewed before it expires or when the bank
says TOKEN_EXPIRED); the payer authorises through the bank's authorization endpoint
(code + PKCE), which `psd2.client` drives from the `scaOAuth` link."""

from __future__ import annotations

import threading
import time

import httpx
from psd2._oauth_client import OAuth2Client

from psd2.dialects.base import Dialect
from psd2.errors import AuthenticationFailed, BankUnavailable, ProtocolError

_TOKENS: dict[str, tuple[str, float]] = {}  # bank URL + client -> (access token, renew at, monotonic)
_LOCK = threading.Lock()
_BANK_LOCKS: dict[str, threading.Lock] = {}


def _lock_for(key: str) -> threading.Lock:
    with _LOCK:
        return _BANK_LOCKS.setdefault(key, threading.Lock())
_MARGIN = 30.0  # renew this many seconds before the bank's expiry


class OAuthDialect(Dialect):
    def token_endpoint(self) -> str:
        return self.bank.base_url + "/oauth/token"

    def authorize(self, transport: httpx.BaseTransport | None, timeout: float, renew: bool = False) -> dict[str, str]:  # float-ok: timeout seconds
        key = f"{self.bank.base_url} {self.bank.client_id}"
        cached = _TOKENS.get(key)
        if renew or cached is None or cached[1] <= time.monotonic():
            with _lock_for(key):  # one fetch per bank at a time; other banks never wait for it
                cached = _TOKENS.get(key)
                if renew or cached is None or cached[1] <= time.monotonic():
                    cached = _TOKENS[key] = self._fetch(transport, timeout)
        return {"Authorization": f"Bearer {cached[0]}"}

    def _fetch(self, transport: httpx.BaseTransport | None, timeout: float) -> tuple[str, float]:  # float-ok: seconds
        if not self.bank.client_id or not self.bank.client_secret:
            raise AuthenticationFailed(self.bank.id, "no OAuth client_id/client_secret configured for this bank")
        client = OAuth2Client(self.bank.client_id, self.bank.client_secret, transport=transport,
                              timeout=timeout, token_endpoint_auth_method="client_secret_post")
        try:
            token = client.fetch_token(self.token_endpoint(), grant_type="client_credentials")
        except httpx.HTTPError as exc:
            raise BankUnavailable(self.bank.id, f"token endpoint unreachable: {exc}") from None
        except Exception as exc:  # authlib raises OAuthError for the server's error answers
            raise AuthenticationFailed(self.bank.id, f"token refused: {exc}") from None
        finally:
            client.close()
        access, lifetime = token.get("access_token"), token.get("expires_in", 300)
        if not isinstance(access, str) or not isinstance(lifetime, int | float):
            raise ProtocolError(self.bank.id, "the token response has no access_token/expires_in")
        return access, time.monotonic() + max(float(lifetime) - _MARGIN, 1.0)  # float-ok: seconds


def forget_tokens() -> None:
    with _LOCK:
        _TOKENS.clear()
