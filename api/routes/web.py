"""People's sign-in to the web pages: a session cookie (signed, http-only, same-site,
secure unless KVITS_COOKIE_SECURE=false) and a CSRF token in every form. The owner's
pages themselves come with the portal; `/me` shows who is signed in."""

from __future__ import annotations

import html
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api.deps import Db
from api.people import ROLE_SCOPES, sign_in
from api.problems import Problem
from core.models import Merchant, User

router = APIRouter(include_in_schema=False)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf(request: Request, sent: str) -> None:
    expected = request.session.get("csrf", "")
    if not expected or not secrets.compare_digest(sent.encode(), str(expected).encode()):
        raise Problem(403, "csrf_failed", "the form is stale or did not come from this site; reload it")


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport "
                        f"content='width=device-width, initial-scale=1'><title>{html.escape(title)} · kvits</title>"
                        f"<body style='font-family:system-ui;max-width:28rem;margin:3rem auto;padding:0 1rem'>"
                        f"<h1>{html.escape(title)}</h1>{body}</body></html>", status_code=status,
                        headers={"X-Frame-Options": "DENY", "Cache-Control": "no-store",
                                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                            "form-action 'self'; frame-ancestors 'none'"})


def login_form(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    alert = f"<p role=alert style='color:#b91c1c'>{html.escape(error)}</p>" if error else ""
    return page("Sign in", f"""{alert}<form method=post action=/login>
<input type=hidden name=csrf value="{csrf_token(request)}">
<p><label for=email>Email</label><br><input id=email name=email type=email autocomplete=username required></p>
<p><label for=password>Password</label><br><input id=password name=password type=password
   autocomplete=current-password required></p>
<p><button type=submit>Sign in</button></p></form>""", status)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return login_form(request)


@router.post("/login")
def login(request: Request, s: Db, email: Annotated[str, Form(max_length=254)],
          password: Annotated[str, Form(max_length=1000)], csrf: Annotated[str, Form(max_length=100)]) -> Response:
    check_csrf(request, csrf)
    user = sign_in(s, email, password)
    if user is None:
        return login_form(request, "Wrong email or password (or too many attempts: wait 15 minutes).", 401)
    request.session.clear()  # a new session for the signed-in person (no fixation)
    request.session.update(user=user.id, csrf=secrets.token_urlsafe(32))
    return RedirectResponse("/me", status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def signed_in(request: Request, s: Session) -> User:
    user_id = request.session.get("user")
    user = s.get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        raise Problem(401, "unauthenticated", "sign in at /login")
    return user


@router.get("/me", response_class=HTMLResponse)
def me(request: Request, s: Db) -> Response:
    try:
        user = signed_in(request, s)
    except Problem:
        return RedirectResponse("/login", status_code=303)
    merchant = s.get(Merchant, user.merchant_id)
    assert merchant is not None
    scopes = " ".join(sorted(ROLE_SCOPES[user.role]))
    return page("Signed in", f"""<p>{html.escape(user.email)}, <strong>{html.escape(user.role)}</strong> of
{html.escape(merchant.name)} (<code>{html.escape(merchant.code)}</code>).</p><p>May: <code>{scopes}</code></p>
<form method=post action=/logout><input type=hidden name=csrf value="{csrf_token(request)}">
<button type=submit>Sign out</button></form>""")
