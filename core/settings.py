"""Settings from the environment (prefix KVITS_), with embedded defaults."""

from __future__ import annotations

import os
import string
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import KvitsError


class ConfigError(KvitsError):
    """A KVITS_ setting that cannot be used; the message names the variable."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kvits"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KVITS_", extra="ignore")

    # SQLite file under the user's data dir unless told otherwise.
    database_url: str = ""
    # Merchant the CLI works for when --merchant is not given.
    merchant: str = "default"
    # Apply schema migrations automatically when a command opens the database.
    auto_migrate: bool = True
    # Folder with camt XSDs named like camt.053.001.02.xsd, for --validate.
    xsd_dir: str = ""
    # Refuse statement files larger than this (bytes); 0 = no limit.
    max_statement_bytes: int = Field(4 * 1024**3, ge=0)
    # Matching: confidence (0..100) at which a match is applied without a person.
    auto_apply_at: int = Field(85, ge=26, le=100)  # above the suggestion threshold (25)
    # Days from issue to due date for invoices created without a due date.
    payment_terms_days: int = Field(14, ge=0, le=3650)
    # Pattern of new invoice numbers; {year} and {seq} are filled in.
    invoice_number_pattern: str = "INV-{year}-{seq:05d}"
    # Celery broker (e.g. redis://127.0.0.1:6379/0); empty: tasks run in this process
    broker_url: str = ""
    # Where `kvits sandbox` serves its banks; the PSD2 registry points the sandbox banks there
    sandbox_url: str = "http://127.0.0.1:8700"
    # The card acquirer's API root; empty: the sandbox's acquirer (sandbox_url + /acquirer/v1)
    acquirer_url: str = ""
    # kvits' secret key at the card acquirer; empty: no card payments (the default is the sandbox's)
    acquirer_key: str = "sk_sandbox_kvits"
    # JSON list of further banks for the PSD2 registry (see docs/psd2.md)
    psd2_banks_file: str = ""
    # Key that signs the HTTP API's access tokens; empty: a random key kept in the data dir
    secret_key: str = ""
    # Lifetime of the HTTP API's access tokens, in seconds
    token_lifetime: int = Field(900, ge=60, le=86400)
    # Session cookies only over https (turn off only for local development on http)
    cookie_secure: bool = True
    # Largest statement file the HTTP API accepts (bytes); uploads stream to upload_dir
    max_upload_bytes: int = Field(256 * 1024**2, ge=1024)
    # Where uploaded statements wait for their import (shared by API and workers); empty: data dir
    upload_dir: str = ""
    # Where payers and banks reach this service: pay links and bank return addresses start here
    public_url: str = "http://127.0.0.1:8000"
    # Days a pay link works after it is made (a new one can be made any time)
    pay_link_days: int = Field(60, ge=1, le=3650)
    # Let webhook endpoints be http or private addresses (localhost...): development only
    webhook_allow_private: bool = False
    # An import whose worker has not said it is alive for this long is taken over by another
    import_stale_seconds: int = Field(60, ge=2, le=86400)
    # Hours between two fetches of a bank feed's statement (banks allow a few reads a day)
    feed_every_hours: int = Field(6, ge=1, le=168)
    # The merchants' time zone: their day turns at its midnight (overdue invoices, ...)
    timezone: str = "Europe/Riga"
    # Log lines as `text` (readable) or `json` (one object per line, for a log shipper)
    log_format: Literal["text", "json"] = "text"
    # Least important log level written: debug, info, warning, error
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Bearer token a Prometheus scraper on another host sends to /metrics; empty: loopback only
    metrics_token: str = ""

    @field_validator("invoice_number_pattern")
    @classmethod
    def _pattern_makes_new_numbers(cls, value: str) -> str:
        """Every number of the series must differ: {seq} is required, {year} optional,
        nothing else (a pattern without {seq} gave the same number forever)."""
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
            first, second = value.format(year=2026, seq=1), value.format(year=2026, seq=2)
        except (ValueError, KeyError, IndexError) as exc:
            raise ValueError(f"is not a pattern of {{year}} and {{seq}}: {exc}") from None
        if "seq" not in fields or fields - {"year", "seq"} or first == second or not 1 <= len(first) <= 64:
            raise ValueError("needs {seq} (and may have {year}), nothing else, e.g. INV-{year}-{seq:05d}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a time zone name like Europe/Riga") from None
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        path = default_data_dir() / "kvits.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"KVITS_{'_'.join(map(str, e['loc'])).upper()}={e.get('input')!r}: {e['msg'][:1].lower() + e['msg'][1:]}" for e in exc.errors()
        )
        raise ConfigError(f"bad setting {problems}") from None
