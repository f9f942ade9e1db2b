"""The OAuth2 authorization server of the bank that uses the OAuth SCA approach (authlib).

Two grants, as such banks run them:
- client credentials for the TPP itself: every XS2A call at that bank needs its bearer
  token; tokens expire (`token_lifetime`, on the world's clock) and are refused with
  TOKEN_EXPIRED afterwards;
- authorization code with PKCE (S256 required) for the payer: `scaOAuth` points to the
  RFC 8414 metadata, the TPP sends the payer's browser to `authorize` with
  `scope=PIS:<paymentId>` (or `AIS:<consentId>`), the payer signs in and confirms on
  the SCA page, and the TPP exchanges the code. Getting that token *is* the SCA: only
  then is the authorisation finalised and the payment executed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Request
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, grants
from authlib.oauth2.rfc6749.models import AuthorizationCodeMixin
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from fastapi.responses import JSONResponse, RedirectResponse, Response

from core.oauth_request import FormRequest
from sandbox.users import TestUser
from sandbox.world import World

TPP_CLIENT_ID = "kvits-sandbox-tpp"
TPP_CLIENT_SECRET = "sandbox-secret"


@dataclass(frozen=True, slots=True)
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        # a TPP token without a scope asked for gets the bank's TPP scope
        return scope or "PSD2"

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # no registration in the sandbox: any https address, or http on this machine
        parts = urlsplit(redirect_uri)
        return bool(parts.hostname) and (
            parts.scheme == "https" or parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1"))

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(str(client_secret).encode("utf-8", "surrogatepass"), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "client_credentials")


@dataclass(slots=True)
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: TestUser
    code_challenge: str | None
    code_challenge_method: str | None
    issued: datetime

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass(slots=True)
class Token:
    client_id: str
    scope: str
    expires: datetime


@dataclass(slots=True)
class Store:
    clients: dict[str, Client] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)


class Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, world: World, token_lifetime: timedelta) -> None:
        super().__init__()
        self.world = world
        self.store = Store()
        self.store.clients[TPP_CLIENT_ID] = Client(TPP_CLIENT_ID, TPP_CLIENT_SECRET)
        self.token_lifetime = token_lifetime
        self.register_token_generator("default", BearerTokenGenerator(
            access_token_generator=lambda **_: secrets.token_urlsafe(32),
            expires_generator=lambda client, grant_type: int(token_lifetime.total_seconds()),
        ))
        self.register_grant(_CodeGrant, [CodeChallenge(required=True)])
        self.register_grant(_ClientCredentialsGrant)

    def query_client(self, client_id: str) -> Client | None:
        return self.store.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        scope = token.get("scope") or ""
        self.store.tokens[token["access_token"]] = Token(
            request.client.client_id, scope, self.world.now() + self.token_lifetime)
        if request.payload.grant_type == "authorization_code":
            self.world_authorised(scope)

    def world_authorised(self, scope: str) -> None:
        """The payer's token was issued: that finishes the SCA of the scoped resource."""
        kind, _, target = scope.partition(":")
        with self.world.lock:
            for auth in self.world.authorisations.values():
                if auth.target_id == target and auth.sca_status == "unconfirmed" and \
                        auth.target_kind == {"PIS": "payment", "AIS": "consent"}.get(kind):
                    self.world.finish_sca(auth)

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        headers = dict(headers)
        if status in (301, 302, 303) and "Location" in headers:
            return RedirectResponse(headers["Location"], status_code=303)
        headers.pop("Content-Type", None)
        return JSONResponse(body, status_code=status, headers=headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def request(self, method: str, uri: str, headers: Mapping[str, str], query: dict[str, str],
                form: dict[str, str]) -> OAuth2Request:
        return FormRequest(method, uri, headers, query, form)

    def token_state(self, access_token: str) -> str:
        """'valid', 'expired' or 'unknown' for a TPP's bearer token."""
        token = self.store.tokens.get(access_token)
        if token is None:
            return "unknown"
        return "valid" if self.world.now() < token.expires else "expired"


class _CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        payload = request.payload.data
        self.server.store.codes[code] = Code(
            code=code, client_id=request.client.client_id, redirect_uri=payload.get("redirect_uri", ""),
            scope=payload.get("scope", ""), user=request.user, code_challenge=payload.get("code_challenge"),
            code_challenge_method=payload.get("code_challenge_method"), issued=self.server.world.now())

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        item: Code | None = self.server.store.codes.get(code)
        if item and item.client_id == client.client_id and \
                self.server.world.now() - item.issued < timedelta(minutes=10):
            return item
        return None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        self.server.store.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: Code) -> TestUser:
        return authorization_code.user


class _ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def metadata(issuer: str) -> dict[str, Any]:
    """RFC 8414 authorization server metadata."""
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/oauth/authorize",
        "token_endpoint": issuer + "/oauth/token",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["PIS:<paymentId>", "AIS:<consentId>"],
    }
