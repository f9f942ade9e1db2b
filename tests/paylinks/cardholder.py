"""A cardholder without a browser: fills in the sandbox acquirer's hosted card form (and
its 3-D Secure page) with plain HTTP, and stops where the acquirer sends them back."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


@dataclass
class Card:
    back_to: str | None  # the merchant's address the acquirer sent the browser to
    pages: list[str] = field(default_factory=list)
    status: int = 200


def pay_card(form_url: str, number: str, *, http: httpx.Client, merchant_prefix: str, expiry: str = "12/30",
             cvc: str = "123", name: str = "Alise Ozola", codes: tuple[str, ...] = ("123456",),
             cancel_3ds: bool = False) -> Card:
    pages: list[str] = []
    form = http.get(form_url, follow_redirects=False)
    pages.append(form.text)
    token = _TOKEN.search(form.text)
    if form.status_code != 200 or token is None:
        return Card(None, pages, form.status_code)
    response = http.post(form_url, data={"form_token": token.group(1), "card_number": number, "expiry": expiry,
                                         "cvc": cvc, "name": name}, follow_redirects=False)
    url, left = form_url, list(codes)
    while True:
        if response.status_code in (302, 303):
            url = urljoin(url, response.headers["location"])
            if url.startswith(merchant_prefix):
                return Card(url, pages)
            page = http.get(url, follow_redirects=False)  # the 3-D Secure challenge
        else:
            page = response  # the form again, with what was wrong
        pages.append(page.text)
        token = _TOKEN.search(page.text)
        if not left or token is None:
            return Card(None, pages, page.status_code)
        response = http.post(url, data={"form_token": token.group(1), "code": left.pop(0),
                                        "action": "cancel" if cancel_3ds else "confirm"}, follow_redirects=False)
