"""People of a merchant: created from the CLI, signed in on the web pages with email and
password (argon2), locked for 15 minutes after 10 failed attempts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.security import SCOPES, hash_secret, verify_secret
from core.errors import KvitsError
from core.models import User

ROLES = ("owner", "finance", "read_only")
ROLE_SCOPES = {
    "owner": frozenset(SCOPES),
    "finance": frozenset(SCOPES) - {"webhooks:write"},
    "read_only": frozenset(s for s in SCOPES if s.endswith(":read")),
}
MAX_FAILURES = 10
LOCK_FOR = timedelta(minutes=15)
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}")
# verified when the email is unknown, so that both answers take as long
_DUMMY_HASH = hash_secret("not a password of anyone")


def create_user(session: Session, merchant_id: int, email: str, password: str, role: str) -> User:
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise KvitsError(f"{email!r} is not an email address")
    if role not in ROLES:
        raise KvitsError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < 12:
        raise KvitsError("the password needs at least 12 characters")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise KvitsError(f"{email} has an account already")
    user = User(merchant_id=merchant_id, email=email, password_hash=hash_secret(password), role=role,
                failed_logins=0)
    session.add(user)
    session.flush()
    return user


def sign_in(session: Session, email: str, password: str, now: datetime | None = None) -> User | None:
    """The user, or None for a wrong email or password, or an account locked for now."""
    moment = now or datetime.now(UTC)
    user = session.scalar(select(User).where(User.email == email.strip().lower()[:254]).with_for_update())
    if user is None:
        verify_secret(_DUMMY_HASH, password)
        return None
    locked = user.locked_until and (user.locked_until if user.locked_until.tzinfo
                                    else user.locked_until.replace(tzinfo=UTC)) > moment
    if locked:
        return None
    if not verify_secret(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until, user.failed_logins = moment + LOCK_FOR, 0
        return None
    user.failed_logins, user.locked_until = 0, None
    return user
