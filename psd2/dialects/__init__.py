"""One small module per bank family: what its API needs beyond the standard.

Everything the standard defines (links decide whether an explicit authorisation or an
OAuth authorization is needed) is in `psd2.client`; a dialect adds only its bank's
extras: query parameters, headers, a TPP token."""

from __future__ import annotations

from psd2.dialects.base import Dialect
from psd2.dialects.explicit import ExplicitDialect
from psd2.dialects.hub import HubDialect
from psd2.dialects.oauth import OAuthDialect
from psd2.registry import Bank

_BY_NAME: dict[str, type[Dialect]] = {
    "redirect": Dialect, "explicit": ExplicitDialect, "oauth": OAuthDialect, "hub": HubDialect,
}


def for_bank(bank: Bank) -> Dialect:
    return _BY_NAME[bank.dialect](bank)


__all__ = ["Dialect", "for_bank"]
