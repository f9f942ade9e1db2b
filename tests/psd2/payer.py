"""A payer without a browser: follows a bank's SCA pages with plain HTTP, the way a
person would click through them, and stops where the bank sends them back to the TPP."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


@dataclass
class Outcome:
    back_to: str | None  # the TPP address the bank sent the browser to
    pages: list[str]  # HTML of every bank page seen
    status: int = 200


def pay(sca_url: str, user: str, code: str = "123456", *, tpp_prefix: str = "https://tpp.example",
        cancel: bool = False, codes: list[str] | None = None, http: httpx.Client | None = None) -> Outcome:
    """Open `sca_url`, sign in as `user`, type `code` (or each of `codes`), confirm.
    `http`: the client to browse with (a TestClient for an in-process sandbox)."""
    pages: list[str] = []
    with (http or httpx.Client(timeout=10)) as http:
        response = _follow(http, sca_url, tpp_prefix, pages)
        if isinstance(response, str):
            return Outcome(response, pages)
        form_url = str(response.url)
        if not _TOKEN.search(response.text):  # a finished or unknown authorisation: nothing to do
            return Outcome(None, pages, response.status_code)
        token = _token(response.text)
        action = "cancel" if cancel else "login"
        response = _post(http, form_url, {"form_token": token, "user": user, "action": action}, tpp_prefix, pages)
        if isinstance(response, str) or response.status_code >= 400:
            return Outcome(response if isinstance(response, str) else None, pages,
                           200 if isinstance(response, str) else response.status_code)
        for typed in codes or [code]:
            response = _post(http, form_url, {"form_token": _token(response.text), "code": typed,
                                              "action": "confirm"}, tpp_prefix, pages)
            if isinstance(response, str):
                return Outcome(response, pages)
        return Outcome(None, pages, response.status_code)


def _token(page: str) -> str:
    match = _TOKEN.search(page)
    assert match, "no form on the bank page:\n" + page[:2000]
    return match.group(1)


def _follow(http: httpx.Client, url: str, tpp_prefix: str, pages: list[str]) -> httpx.Response | str:
    for _ in range(10):
        if url.startswith(tpp_prefix):
            return url
        response = http.get(url, follow_redirects=False)
        if response.status_code in (302, 303):
            url = urljoin(url, response.headers["location"])
            continue
        pages.append(response.text)
        return response
    raise AssertionError("too many redirects")


def _post(http: httpx.Client, url: str, data: dict[str, str], tpp_prefix: str,
          pages: list[str]) -> httpx.Response | str:
    response = http.post(url, data=data, follow_redirects=False)
    if response.status_code in (302, 303):
        return _follow(http, urljoin(url, response.headers["location"]), tpp_prefix, pages)
    pages.append(response.text)
    return response


def query(url: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(urlsplit(url).query))
