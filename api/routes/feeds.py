"""Bank feeds: connect an account (its bank's consent, confirmed with SCA), list them,
fetch one now; and the page the merchant's bank sends them back to."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Timestamp, psu_ip, public_id, require, row_id
from api.problems import Problem
from api.security import Principal
from reconciliation.feeds import FeedError, Feeds, FeedView

router = APIRouter(tags=["statements"])
# (a bank that does not answer is the bank's failure, not this service's: 424, not a 5xx)
_PROBLEMS = {"not_found": 404, "invalid_iban": 422, "bank_unknown": 422, "bank_refused": 422,
             "bank_unavailable": 424}


class FeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    iban: str = Field(max_length=42, description="the merchant's account to read")
    bank: str | None = Field(None, max_length=64, description="the registry bank holding it (a Latvian IBAN tells it)")
    days: int = Field(90, ge=1, le=180, description="how long the consent lasts")


class FeedOut(BaseModel):
    id: str
    iban: str
    bank: str
    state: str
    sca_url: str | None = Field(description="awaiting_sca: where the merchant confirms the consent at their bank")
    valid_until: date
    fetched_through: date | None
    last_fetch_at: Timestamp | None
    last_result: dict[str, Any] | None
    last_error: str | None


def feed_out(v: FeedView) -> FeedOut:
    return FeedOut(id=public_id("feed", v.id), iban=v.iban, bank=v.bank_id, state=v.state, sca_url=v.sca_url,
                   valid_until=v.valid_until, fetched_through=v.fetched_through, last_fetch_at=v.last_fetch_at,
                   last_result=v.last_result, last_error=v.last_error)


def _feeds(request: Request) -> Feeds:
    feeds: Feeds = request.app.state.feeds
    return feeds


def _problem(exc: FeedError) -> Problem:
    return Problem(_PROBLEMS.get(exc.code, 422), exc.code, str(exc))


@router.post("/v1/bank-feeds", status_code=201, response_model=FeedOut,
             summary="Connect an account: its statements are fetched from the bank (PSD2 AIS)")
async def connect(request: Request, body: FeedIn,
                  who: Annotated[Principal, Depends(require("statements:write"))]) -> FeedOut:
    feeds = _feeds(request)
    try:
        made = await run_in_threadpool(feeds.connect, who.merchant_id, body.iban, body.bank, body.days,
                                       psu_ip(request))
    except FeedError as exc:
        raise _problem(exc) from None
    return feed_out(made)


@router.get("/v1/bank-feeds", response_model=dict[str, list[FeedOut]])
def list_feeds(request: Request, who: Annotated[Principal, Depends(require("statements:write"))]) -> Any:
    return {"data": [feed_out(v) for v in _feeds(request).list(who.merchant_id)]}


@router.post("/v1/bank-feeds/{feed_id}/fetch", response_model=FeedOut, summary="Fetch and import its statement now")
def fetch(request: Request, feed_id: str, who: Annotated[Principal, Depends(require("statements:write"))]) -> FeedOut:
    feeds = _feeds(request)
    number = row_id("feed", feed_id, "bank feed")
    try:
        feeds.view(number, who.merchant_id)  # (another merchant's feed is not found)
        return feed_out(feeds.fetch(number))
    except FeedError as exc:
        raise _problem(exc) from None


@router.get("/feeds/{key}/returned", include_in_schema=False)
def returned(request: Request, key: str) -> Response:
    """The merchant's bank sent them back after the consent's SCA (`key`: the feed's
    random key): the bank is asked whether it is valid."""
    from paylinks import pages

    feeds = _feeds(request)
    callback = {k: v[:2000] for k, v in request.query_params.items()}
    found = feeds.returned(key, callback)
    words = {"active": "Your bank confirmed it: kvits fetches this account's statements from now on.",
             "failed": "The bank did not give access to the account. You can connect it again in kvits.",
             "awaiting_sca": "Your bank has not confirmed access yet."}
    message = words.get(found.state, "") if found is not None else "This address is not known."
    return Response(pages.not_found_page(message + " You can close this page.", title="Bank feed"),
                    media_type="text/html; charset=utf-8", status_code=200 if found is not None else 404)
