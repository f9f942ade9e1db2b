"""The API with its payer pages, paying through the in-process sandbox banks."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.db import transaction
from core.models import Merchant
from core.settings import Settings
from core.tenancy import get_or_create_merchant
from paylinks.acquirer import AcquirerClient
from paylinks.refunds import Refunds
from paylinks.service import Payments
from sandbox import ACQUIRER_KEY
from psd2 import Attempts
from tests.api.test_http_api import SECRET, Api, token
from tests.psd2.conftest import Sandbox, live_sandbox, sandbox  # noqa: F401  (the fixtures)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

PUBLIC = "https://pay.kvits.test"


@dataclass
class Shop:
    api: Api
    sandbox: Sandbox
    factory: sessionmaker[Session]
    merchant_id: int
    iban: str
    app: Any

    def payer(self) -> Any:
        """A browser of the payer's (no API token, no session)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return TestClient(self.app, base_url=PUBLIC, follow_redirects=False, client=("192.0.2.10", 50000))


@pytest.fixture
def shop(factory: sessionmaker[Session], tmp_path: Path, sandbox: Sandbox) -> Iterator[Shop]:  # noqa: F811
    from api.clients import create_client

    iban = sandbox.account("veikals", "dzintars").iban
    with transaction(factory) as s:
        merchant = get_or_create_merchant(s, "shop-a", "SIA Piemera Veikals")
        merchant.iban = iban
        made = create_client(s, merchant.id, "client a", [])
        other = get_or_create_merchant(s, "shop-b")
        made_b = create_client(s, other.id, "client b", [])
        merchant_id = merchant.id
    app = create_app(Settings(secret_key=SECRET, upload_dir=str(tmp_path / "uploads"), public_url=PUBLIC,
                              sandbox_url=sandbox.url), factory)
    app.state.payments = Payments(factory, Attempts(factory, sandbox.client, now=sandbox.clock.now),
                                  return_url=lambda t: f"{PUBLIC}/pay/{t}/return", now=sandbox.clock.now,
                                  acquirer=lambda: AcquirerClient(f"{sandbox.url}/acquirer/v1", ACQUIRER_KEY,
                                                                  transport=sandbox.transport))
    app.state.refunds = Refunds(app.state.payments, sandbox.registry,
                                lambda key: f"{PUBLIC}/refunds/{key}/returned")
    http = TestClient(app, base_url=PUBLIC)
    tokens = {"a": token(http, made.client_id, made.secret).json()["access_token"],
              "b": token(http, made_b.client_id, made_b.secret).json()["access_token"]}
    yield Shop(Api(http, tokens, {"a": (made.client_id, made.secret), "b": (made_b.client_id, made_b.secret)}),
               sandbox, factory, merchant_id, iban, app)


def merchant(factory: sessionmaker[Session], merchant_id: int) -> Merchant:
    with transaction(factory) as s:
        found = s.get(Merchant, merchant_id)
        assert found is not None
        s.expunge(found)
        return found
