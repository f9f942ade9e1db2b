"""What every entry point needs: settings, the engine, sessions, the merchant."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, session_factory, transaction, upgrade
from core.settings import Settings, get_settings
from core.tenancy import get_or_create_merchant


@dataclass
class Runtime:
    settings: Settings = field(default_factory=get_settings)
    merchant_code: str | None = None
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

    def merchant_id(self, session: Session, name: str | None = None) -> int:
        code = self.merchant_code or self.settings.merchant
        return get_or_create_merchant(session, code, name).id

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def describe(self) -> dict[str, Any]:
        return {"database": self.engine.url.render_as_string(hide_password=True)}
