"""The banks kvits can initiate payments at: the sandbox banks by default, more from a
JSON file (`KVITS_PSD2_BANKS_FILE`), each with the dialect its API speaks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.settings import ConfigError

DIALECTS = ("redirect", "oauth", "explicit", "hub")
DEFAULT_PRODUCTS = ("sepa-credit-transfers", "instant-sepa-credit-transfers")


@dataclass(frozen=True, slots=True)
class Bank:
    id: str
    name: str
    bic: str
    country: str
    base_url: str  # where /v1/... starts
    dialect: str
    products: tuple[str, ...] = DEFAULT_PRODUCTS
    sca_approach: str = "redirect"  # or "oauth"
    client_id: str | None = None  # OAuth client of kvits at this bank
    client_secret: str | None = field(default=None, repr=False)
    max_unstructured: int = 140

    @property
    def host(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"


# The sandbox's banks (see `kvits sandbox`): a real deployment lists its banks in a file.
_SANDBOX: tuple[dict[str, Any], ...] = (
    {"id": "dzintars", "name": "Dzintara Banka", "bic": "DZINLV22", "country": "LV", "path": "/dzintars",
     "dialect": "redirect"},
    {"id": "kalevi", "name": "Kalevi Pank", "bic": "KALVEE22", "country": "EE", "path": "/kalevi",
     "dialect": "oauth", "sca_approach": "oauth", "client_id": "kvits-sandbox-tpp", "client_secret": "sandbox-secret"},
    {"id": "gintaro", "name": "Gintaro bankas", "bic": "GINTLT22", "country": "LT", "path": "/gintaro",
     "dialect": "explicit", "products": ["sepa-credit-transfers"]},
    {"id": "nordbalt-lv", "name": "Nordbalt Bank LV", "bic": "NRDBLV22", "country": "LV",
     "path": "/nordbalt/psd2", "dialect": "hub", "max_unstructured": 35},
    {"id": "nordbalt-ee", "name": "Nordbalt Bank EE", "bic": "NRDBEE22", "country": "EE",
     "path": "/nordbalt/psd2", "dialect": "hub", "max_unstructured": 35},
    {"id": "nordbalt-lt", "name": "Nordbalt Bank LT", "bic": "NRDBLT22", "country": "LT",
     "path": "/nordbalt/psd2", "dialect": "hub", "max_unstructured": 35},
)


class Registry:
    """The banks by id: `Registry.sandbox(url)` for the sandbox's, `from_settings` for the
    sandbox's plus those of KVITS_PSD2_BANKS_FILE."""

    def __init__(self, banks: list[Bank]) -> None:
        self._banks = {b.id: b for b in banks}

    def get(self, bank_id: str) -> Bank:
        try:
            return self._banks[bank_id]
        except KeyError:
            raise ConfigError(f"no bank {bank_id!r} in the registry (known: {', '.join(self._banks)})") from None

    def all(self, country: str | None = None) -> list[Bank]:
        return [b for b in self._banks.values() if country is None or b.country == country]

    def holding(self, iban: str, bank_id: str | None = None) -> Bank | None:
        """The bank that holds account `iban`: `bank_id` when given (None if unknown), else
        the one bank a Latvian IBAN's bank code names (its BIC's first four letters);
        None when that does not tell."""
        if bank_id:
            return self._banks.get(bank_id)
        found = [b for b in self._banks.values() if iban.startswith("LV") and b.bic[:4] == iban[4:8]]
        return found[0] if len(found) == 1 else None

    @classmethod
    def sandbox(cls, sandbox_url: str) -> Registry:
        root = sandbox_url.rstrip("/")
        return cls([_bank({**spec, "base_url": root + spec.pop("path")}) for spec in map(dict, _SANDBOX)])

    @classmethod
    def from_settings(cls, sandbox_url: str, banks_file: str = "", include_sandbox: bool = True) -> Registry:
        banks = cls.sandbox(sandbox_url).all() if include_sandbox else []
        if banks_file:
            try:
                raw = json.loads(Path(banks_file).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"KVITS_PSD2_BANKS_FILE={banks_file}: {exc}") from None
            if not isinstance(raw, list):
                raise ConfigError(f"KVITS_PSD2_BANKS_FILE={banks_file}: a JSON list of banks is expected")
            banks.extend(_bank(item, banks_file) for item in raw)
        return cls(banks)


def _bank(spec: dict[str, Any], source: str = "built-in") -> Bank:
    try:
        bank = Bank(
            id=str(spec["id"]), name=str(spec["name"]), bic=str(spec["bic"]), country=str(spec["country"]),
            base_url=str(spec["base_url"]).rstrip("/"), dialect=str(spec["dialect"]),
            products=tuple(spec.get("products", DEFAULT_PRODUCTS)),
            sca_approach=str(spec.get("sca_approach", "oauth" if spec.get("dialect") == "oauth" else "redirect")),
            client_id=spec.get("client_id"),
            client_secret=spec.get("client_secret"), max_unstructured=int(spec.get("max_unstructured", 140)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: bank {spec.get('id', '?')!r} is incomplete: {exc}") from None
    if bank.dialect not in DIALECTS:
        raise ConfigError(f"{source}: bank {bank.id}: dialect {bank.dialect!r} is not one of {', '.join(DIALECTS)}")
    if urlsplit(bank.base_url).scheme not in ("http", "https"):
        raise ConfigError(f"{source}: bank {bank.id}: base_url {bank.base_url!r} is not an http(s) address")
    return bank
