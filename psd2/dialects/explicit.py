"""A bank that always wants `startAuthorisation` before it shows the payer an SCA page."""

from __future__ import annotations

from psd2.dialects.base import Dialect


class ExplicitDialect(Dialect):
    explicit_authorisation = True

    def headers(self, psu_user_agent: str | None) -> dict[str, str]:
        return {"TPP-Explicit-Authorisation-Preferred": "true"}
