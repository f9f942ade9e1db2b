"""The HTTP API's OAuth2 authorization server (authlib): client credentials only, for
merchants' software. Tokens are JWTs signed by `api.security` (stateless: nothing to
store, any API process can check them)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from fastapi.responses import JSONResponse
from joserfc.jwk import OctKey
from sqlalchemy.orm import Session

from api.clients import authenticate
from api.security import Principal, issue_token
from core.models import ApiClient
from core.oauth_request import FormRequest


class _Client(ClientMixin):  # type: ignore[misc]
    def __init__(self, session: Session, client_id: str) -> None:
        self.session, self.client_id = session, client_id
        self.row: ApiClient | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        self.row = authenticate(self.session, self.client_id, str(client_secret))
        return self.row is not None

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope: str | None) -> str:
        assert self.row is not None
        allowed = set(self.row.scopes.split())
        asked = set((scope or "").split())
        if asked - allowed:
            raise InvalidScopeError(f"scopes not granted to this client: {' '.join(sorted(asked - allowed))}")
        return " ".join(sorted(asked or allowed))


class _ClientCredentials(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class TokenServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, session: Session, key: OctKey, lifetime: int) -> None:
        super().__init__()
        self.session, self.key, self.lifetime = session, key, lifetime
        self.register_grant(_ClientCredentials)
        self.register_token_generator("client_credentials", self._token)

    def _token(self, grant_type: str, client: _Client, user: Any = None, scope: str | None = None,
               expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        assert client.row is not None
        scopes = client.get_allowed_scope(scope)
        token = issue_token(self.key, Principal(client.row.merchant_id, client.client_id,
                                                frozenset(scopes.split())), self.lifetime)
        return {"token_type": "Bearer", "access_token": token, "expires_in": self.lifetime, "scope": scopes}

    def query_client(self, client_id: str) -> _Client | None:
        return _Client(self.session, client_id) if client_id else None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        return None  # signed tokens: nothing to keep

    def create_oauth2_request(self, request: FormRequest) -> FormRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> JSONResponse:
        headers = {k: v for k, v in dict(headers).items() if k.lower() != "content-type"}
        return JSONResponse(body, status_code=status, headers={**headers, "Cache-Control": "no-store"})

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None
