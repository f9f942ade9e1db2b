"""What every entry point needs: settings, the engine, sessions, the merchant."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, session_factory, transaction, upgrade
from core.settings import Settings, get_settings
from core.models import Merchant
from core.tenancy import find_merchant, get_or_create_merchant


@dataclass
class Runtime:
    settings: Settings = field(default_factory=get_settings)
    merchant_code: str | None = None
    new_merchant: str | None = None  # set when this run created the merchant
    _engine: Engine | None = None
    _factory: sessionmaker[Session] | None = None

    @property
    def database_url(self) -> str:
        return self.settings.resolved_database_url()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.database_url)
            if self.settings.auto_migrate:
                upgrade(self._engine)
        return self._engine

    @property
    def factory(self) -> sessionmaker[Session]:
        if self._factory is None:
            self._factory = session_factory(self.engine)
        return self._factory

    @contextmanager
    def unit(self) -> Iterator[Session]:
        with transaction(self.factory) as session:
            yield session

    def merchant_id(self, session: Session, *, create: bool = False) -> int:
        """The merchant the command works for. Commands that only read refuse a code
        that does not exist; those that store data create it, and say so."""
        code = self.merchant_code or self.settings.merchant
        if not create:
            return find_merchant(session, code).id
        known = session.scalar(select(Merchant.id).where(Merchant.code == code))
        if known is not None:
            return known
        merchant = get_or_create_merchant(session, code)
        self.new_merchant = code
        return merchant.id

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def describe(self) -> dict[str, Any]:
        return {"database": self.engine.url.render_as_string(hide_password=True)}
