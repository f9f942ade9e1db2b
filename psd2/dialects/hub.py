"""One host for several countries' banks (as Swedbank runs it): `?bic=` on every call,
`PSU-User-Agent` required, links host-relative (the client resolves every link)."""

from __future__ import annotations

from psd2.dialects.base import Dialect

_DEFAULT_AGENT = "Mozilla/5.0 (kvits)"


class HubDialect(Dialect):
    def params(self) -> dict[str, str]:
        return {"bic": self.bank.bic}

    def headers(self, psu_user_agent: str | None) -> dict[str, str]:
        return {"PSU-User-Agent": psu_user_agent or _DEFAULT_AGENT}
