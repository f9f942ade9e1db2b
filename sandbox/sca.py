"""The banks' own pages where the payer authenticates and confirms (SCA), and the OAuth
endpoints of the OAuth-approach bank that lead to them."""

from __future__ import annotations

import html
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from sandbox.banks import BankProfile
from sandbox.errors import TppError
from sandbox.oauth import Server, metadata
from sandbox.users import ONE_TIME_CODE, USERS
from sandbox.validation import redirect_uri
from sandbox.world import FINAL_SCA, Authorisation, World

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
_COLOURS = {"redirect": "#8a4b08", "oauth": "#0b5cad", "explicit": "#0f7a3a", "hub": "#5b21b6"}
MAX_WRONG_CODES = 3
# a bank's SCA page must not be framed (clickjacking), cached or leak where it was
_PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https: "
                                "http://localhost:* http://127.0.0.1:* http://[::1]:*; frame-ancestors 'none'"),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def _form_token(auth: Authorisation) -> str:
    # a per-authorisation secret in the form: another site cannot post to this page
    token = auth.oauth.get("form_token")
    if token is None:
        token = auth.oauth["form_token"] = secrets.token_urlsafe(16)
    return token


def router(host_path: str, banks: list[BankProfile], world: World, oauth: Server | None) -> APIRouter:
    r = APIRouter(prefix=host_path, include_in_schema=False)

    def auth_of(auth_id: str) -> Authorisation | None:
        auth = world.authorisations.get(auth_id)
        return auth if auth is not None and auth.bank in banks else None

    def render(request: Request, name: str, auth: Authorisation | None, status: int = 200,
               **context: Any) -> HTMLResponse:
        bank = auth.bank if auth else banks[0]
        context.setdefault("title", "Authorise")
        response = TEMPLATES.TemplateResponse(request, name, {
            "bank": bank, "colour": _COLOURS[bank.dialect], **context}, status_code=status)
        response.headers.update(_PAGE_HEADERS)
        return response

    def summary(auth: Authorisation) -> str:
        if auth.target_kind == "consent":
            consent = world.consents[auth.target_id]
            which = ", ".join(consent.ibans) or "all your accounts"
            return (f"<p>Give <strong>read access</strong> to {html.escape(which)} until "
                    f"{consent.valid_until:%d.%m.%Y}.</p>")
        p = world.payments[auth.target_id]
        reference = p.creditor_reference or p.unstructured or ""
        rows = [("Amount", f"{p.amount:,.2f} {p.currency}".replace(",", " ")), ("To", p.creditor_name),
                ("Account", p.creditor_iban), ("Reference", reference),
                ("Type", "Instant payment" if p.instant else "SEPA credit transfer")]
        return "<dl>" + "".join(f"<dt>{k}</dt><dd>{html.escape(v)}</dd>" for k, v in rows if v) + "</dl>"

    def title(auth: Authorisation) -> str:
        return "Allow account access" if auth.target_kind == "consent" else "Confirm payment"

    def back_to_tpp(auth: Authorisation, ok: bool) -> Response:
        """Send the browser back to the TPP: its OK address, else the failure one."""
        if auth.oauth.get("redirect_uri"):
            params = {"error": "access_denied"} if not ok else {}
            if not ok and auth.oauth.get("state"):
                params["state"] = auth.oauth["state"]
            if ok:
                assert oauth is not None
                request = oauth.request("GET", auth.oauth["uri"], {}, dict(_query(auth.oauth["uri"])), {})
                request.user = auth.user
                grant = oauth.get_authorization_grant(request)
                response: Response = oauth.create_authorization_response(request, grant_user=auth.user, grant=grant)
                return response
            return RedirectResponse(_add_query(auth.oauth["redirect_uri"], params), status_code=303)
        target = auth.redirect_uri if ok else (auth.nok_redirect_uri or auth.redirect_uri)
        if target is None:
            return HTMLResponse("no address to return to", status_code=400)
        return RedirectResponse(target, status_code=303)

    def done_page(request: Request, auth: Authorisation) -> HTMLResponse:
        ok = auth.sca_status in ("finalised", "unconfirmed")
        back = auth.redirect_uri if ok else (auth.nok_redirect_uri or auth.redirect_uri)
        return render(request, "done.html", auth, title="Authorisation finished",
                      message=("This authorisation is complete." if ok else "This authorisation has failed or was cancelled.")
                      + " Nothing more to do here.", back=back)

    def not_open(request: Request, auth: Authorisation | None) -> HTMLResponse | None:
        """The page for an authorisation that takes no input (unknown, finished, or an
        OAuth one not entered through the authorization endpoint); None if it is open."""
        if auth is None:
            return render(request, "done.html", None, 404, title="Not found",
                          message="This authorisation link is not known to the bank.", back=None)
        if auth.sca_status in FINAL_SCA or auth.sca_status == "unconfirmed":
            return done_page(request, auth)
        if auth.bank.dialect == "oauth" and not auth.oauth.get("redirect_uri"):
            return render(request, "done.html", auth, 400, title="Start at your provider",
                          message="This bank authorises through OAuth: your provider must send you here "
                                  "through the bank's authorization endpoint.", back=None)
        return None

    @r.get("/sca/{auth_id}", response_class=HTMLResponse)
    def page(auth_id: str, request: Request) -> Response:
        with world.lock:
            world.tick()
            auth = auth_of(auth_id)
            closed = not_open(request, auth)
            if closed is not None or auth is None:
                return closed or HTMLResponse(status_code=404)
            action = f"{host_path}/sca/{auth.id}"
            if auth.user is None:
                return render(request, "login.html", auth, title=title(auth), summary=summary(auth), users=USERS,
                              action=action, form_token=_form_token(auth), error=None)
            return render(request, "confirm.html", auth, title=title(auth), summary=summary(auth), user=auth.user,
                          action=action, form_token=_form_token(auth), code_hint=ONE_TIME_CODE, error=None)

    @r.post("/sca/{auth_id}", response_class=HTMLResponse)
    async def submit(auth_id: str, request: Request) -> Response:
        form = await request.form()
        values = {k: str(v)[:200] for k, v in form.items()}
        with world.lock:
            world.tick()
            auth = auth_of(auth_id)
            closed = not_open(request, auth)  # a second submit changes nothing
            if closed is not None or auth is None:
                return closed or HTMLResponse(status_code=404)
            if not _same(values.get("form_token", ""), _form_token(auth)):
                return render(request, "done.html", auth, 403, title="Refused",
                              message="The form did not come from this page.", back=None)
            action = f"{host_path}/sca/{auth.id}"
            if values.get("action") == "cancel":
                world.fail_sca(auth, cancelled=True)
                return back_to_tpp(auth, ok=False)
            if auth.user is None:
                user = world.find_user(values.get("user", ""))
                error = None if user else "Pick one of the test users."
                if user and not _may_authorise(world, auth, user):
                    error = f"{user.name} does not hold the account this asks for."
                if error or user is None:
                    return render(request, "login.html", auth, 400, title=title(auth), summary=summary(auth),
                                  users=USERS, action=action, form_token=_form_token(auth), error=error)
                auth.user = user
                auth.set_status("psuAuthenticated", world.now())
                auth.set_status("scaMethodSelected", world.now())
                return RedirectResponse(action, status_code=303)
            user = auth.user
            code = values.get("code", "").strip()
            if user.behaviour == "wrong_code" or not _same(code, ONE_TIME_CODE):
                auth.wrong_codes += 1
                if auth.wrong_codes >= MAX_WRONG_CODES:
                    world.fail_sca(auth, cancelled=False)
                    return back_to_tpp(auth, ok=False)
                left = MAX_WRONG_CODES - auth.wrong_codes
                return render(request, "confirm.html", auth, 400, title=title(auth), summary=summary(auth),
                              user=user, action=action, form_token=_form_token(auth), code_hint=ONE_TIME_CODE,
                              error=f"Wrong code. {left} {'try' if left == 1 else 'tries'} left.")
            if user.behaviour == "cancels":
                world.fail_sca(auth, cancelled=True)
                return back_to_tpp(auth, ok=False)
            if auth.oauth.get("redirect_uri"):
                auth.set_status("unconfirmed", world.now())  # finalised when the TPP gets its token
                return back_to_tpp(auth, ok=True)
            world.finish_sca(auth)
            return back_to_tpp(auth, ok=True)

    if oauth is not None:
        issuer_path = host_path

        @r.get("/.well-known/oauth-authorization-server")
        def oauth_metadata(request: Request) -> JSONResponse:
            return JSONResponse(metadata(str(request.base_url).rstrip("/") + issuer_path))

        @r.get("/oauth/authorize")
        def authorize(request: Request) -> Response:
            query = dict(request.query_params)
            if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
                return render(request, "done.html", None, 400, title="Authorisation request refused",
                              message="This bank requires PKCE with code_challenge_method=S256.", back=None)
            try:  # the same rules as TPP-Redirect-URI, and no fragment (the answer goes in the query)
                redirect_uri({"redirect-uri": query.get("redirect_uri", "")}, "Redirect-URI", required=True)
                if "#" in query.get("redirect_uri", ""):
                    raise ValueError("fragment")
            except (TppError, ValueError):
                return render(request, "done.html", None, 400, title="Authorisation request refused",
                              message="redirect_uri must be an https address without user, fragment or odd "
                                      "characters (http only on this machine).", back=None)
            oauth_request = oauth.request("GET", str(request.url), request.headers, query, {})
            try:
                grant = oauth.get_consent_grant(oauth_request)
            except Exception as exc:  # authlib's OAuth2Error: explain on a page, never redirect blindly
                return render(request, "done.html", None, 400, title="Authorisation request refused",
                              message=f"The provider's request was refused: {getattr(exc, 'description', exc)}", back=None)
            del grant
            kind, _, target = query.get("scope", "").partition(":")
            with world.lock:
                world.tick()
                auth = next((a for a in world.authorisations.values()
                             if a.target_id == target and a.bank in banks
                             and a.target_kind == {"PIS": "payment", "AIS": "consent"}.get(kind)), None)
                if auth is None:
                    return render(request, "done.html", None, 400, title="Authorisation request refused",
                                  message="The scope names no payment or consent of this bank "
                                          "(PIS:<paymentId> or AIS:<consentId>).", back=None)
                if auth.sca_status in FINAL_SCA or auth.sca_status == "unconfirmed":
                    return done_page(request, auth)
                wanted = auth.redirect_uri  # the TPP-Redirect-URI the payment was initiated with
                if wanted and query["redirect_uri"] != wanted:
                    return render(request, "done.html", auth, 400, title="Authorisation request refused",
                                  message="redirect_uri is not the address this payment was initiated with.",
                                  back=None)
                if auth.oauth.get("uri") and _query(auth.oauth["uri"]) != _query(str(request.url)):
                    # one authorization request per payment: nobody may re-aim it at their own client
                    return render(request, "done.html", auth, 400, title="Authorisation request refused",
                                  message="This payment's authorisation has started already.", back=None)
                auth.oauth.update(uri=str(request.url), redirect_uri=query["redirect_uri"],
                                  state=query.get("state", ""))
            return RedirectResponse(f"{host_path}/sca/{auth.id}", status_code=303)

        @r.post("/oauth/token")
        async def token(request: Request) -> Response:
            form = {k: str(v) for k, v in (await request.form()).items()}
            oauth_request = oauth.request("POST", str(request.url), request.headers, {}, form)
            with world.lock:
                world.tick()
                response: Response = oauth.create_token_response(oauth_request)
            response.headers["Cache-Control"] = "no-store"
            return response

    return r


def _may_authorise(world: World, auth: Authorisation, user: Any) -> bool:
    if auth.target_kind == "consent":
        consent = world.consents[auth.target_id]
        own = {a.iban for a in world.accounts.values() if a.owner == user and a.bank == auth.bank}
        return set(consent.ibans) <= own
    payment = world.payments[auth.target_id]
    return payment.debtor_iban is None or world.accounts.get(payment.debtor_iban) == world.account_of(user, auth.bank)


def _same(given: str, expected: str) -> bool:
    # compare_digest refuses non-ASCII str; as bytes any input compares (and fails) safely
    return secrets.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def _query(uri: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(urlsplit(uri).query, keep_blank_values=True)


def _add_query(uri: str, params: dict[str, str]) -> str:
    if not params:
        return uri
    return uri + ("&" if urlsplit(uri).query else "?") + urlencode(params)
