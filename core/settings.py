"""Settings from the environment (prefix KVITS_), with embedded defaults."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError
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
            f"KVITS_{'_'.join(map(str, e['loc'])).upper()}={e.get('input')!r}: {e['msg'].lower()}" for e in exc.errors()
        )
        raise ConfigError(f"bad setting {problems}") from None
