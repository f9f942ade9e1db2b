"""People sign in with email and password: argon2 hashes, a session cookie that is
http-only, same-site and (by default) secure, CSRF tokens in every form, lockout."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.people import ROLE_SCOPES, create_user, sign_in
from core.db import transaction
from core.errors import KvitsError
from core.models import User
from core.settings import Settings
from core.tenancy import get_or_create_merchant

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"


@pytest.fixture
def web(factory: sessionmaker[Session]) -> Any:
    with transaction(factory) as s:
        merchant = get_or_create_merchant(s, "shop", "Shop SIA").id
        create_user(s, merchant, "Owner@Shop.example", PASSWORD, "owner")
    return TestClient(create_app(Settings(secret_key="w" * 40, cookie_secure=False), factory))


def csrf(page: str) -> str:
    match = re.search(r'name=csrf value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def test_sign_in_and_out(web: Any) -> None:
    form = web.get("/login")
    assert form.headers["X-Frame-Options"] == "DENY"
    r = web.post("/login", data={"email": "owner@shop.example", "password": PASSWORD, "csrf": csrf(form.text)},
                 follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/me"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    me = web.get("/me")
    assert "owner@shop.example" in me.text and "Shop SIA" in me.text and "webhooks:write" in me.text
    out = web.post("/logout", data={"csrf": csrf(me.text)}, follow_redirects=False)
    assert out.status_code == 303 and web.get("/me", follow_redirects=False).headers["location"] == "/login"


def test_the_cookie_is_secure_by_default(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        create_user(s, get_or_create_merchant(s, "sec").id, "a@sec.example", PASSWORD, "finance")
    http = TestClient(create_app(Settings(secret_key="w" * 40), factory), base_url="https://testserver")
    r = http.post("/login", data={"email": "a@sec.example", "password": PASSWORD, "csrf": csrf(http.get("/login").text)},
                  follow_redirects=False)
    assert "secure" in r.headers["set-cookie"].lower()


def test_forms_without_their_csrf_token_are_refused(web: Any) -> None:
    web.get("/login")
    r = web.post("/login", data={"email": "owner@shop.example", "password": PASSWORD, "csrf": "forged"})
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    other = TestClient(web.app)  # another browser: no session, so no token of ours
    assert other.post("/login", data={"email": "owner@shop.example", "password": PASSWORD, "csrf": "x"}).status_code == 403


def test_wrong_passwords_lock_the_account_for_a_while(web: Any, factory: sessionmaker[Session]) -> None:
    token = csrf(web.get("/login").text)
    for _ in range(10):
        r = web.post("/login", data={"email": "owner@shop.example", "password": "guess", "csrf": token})
        assert r.status_code == 401 and "Wrong email or password" in r.text
    locked = web.post("/login", data={"email": "owner@shop.example", "password": PASSWORD, "csrf": token})
    assert locked.status_code == 401
    with transaction(factory) as s:
        assert sign_in(s, "owner@shop.example", PASSWORD, now=datetime.now(UTC) + timedelta(minutes=16)) is not None


def test_users_are_checked_when_created(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        merchant = get_or_create_merchant(s, "m").id
        for email, password, role, message in (("not-an-email", PASSWORD, "owner", "not an email"),
                                               ("a@b.example", "short", "owner", "12 characters"),
                                               ("a@b.example", PASSWORD, "god", "role")):
            with pytest.raises(KvitsError, match=message):
                create_user(s, merchant, email, password, role)
        user = create_user(s, merchant, "a@b.example", PASSWORD, "read_only")
        assert user.password_hash.startswith("$argon2") and PASSWORD not in user.password_hash
        with pytest.raises(KvitsError, match="already"):
            create_user(s, merchant, "A@B.example", PASSWORD, "owner")
        assert s.get(User, user.id) is not None
    assert ROLE_SCOPES["read_only"] == {"invoices:read", "payments:read", "reconciliation:read"}
    assert "webhooks:write" not in ROLE_SCOPES["finance"]
