"""The plain redirect bank: the standard as written, nothing added."""

from __future__ import annotations

import httpx

from psd2.registry import Bank


class Dialect:
    # ask for an explicit authorisation even when the bank would start one itself
    explicit_authorisation = False

    def __init__(self, bank: Bank) -> None:
        self.bank = bank

    def params(self) -> dict[str, str]:
        return {}

    def headers(self, psu_user_agent: str | None) -> dict[str, str]:
        return {}

    def authorize(self, transport: httpx.BaseTransport | None, timeout: float, renew: bool = False) -> dict[str, str]:  # float-ok: timeout seconds
        """Headers that authenticate kvits itself (a TPP token where the bank wants one)."""
        return {}
