"""Bank feeds: statements fetched from the merchant's bank through PSD2 account
information, on a schedule, and imported like an uploaded file.

The merchant connects an account once (`connect`): kvits asks the bank for a consent
(accounts, balances, transactions; recurring, a few reads a day) and the merchant
confirms it at their bank (SCA), coming back to `/feeds/{key}/returned`. From then on
`fetch_due` (beat, hourly; `kvits serve` without a broker) fetches each active feed every
KVITS_FEED_EVERY_HOURS: the booked transactions from a little before the day it fetched
through up to today, as camt (read as the untrusted file it is), imported in one
transaction. Overlaps are on purpose: the import stores each entry once.

A consent the bank no longer honours (expired, revoked) turns the feed `expired`; the
merchant connects again."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from camt.errors import CamtError
from core.db import transaction, utcnow
from core.errors import CodedError, KvitsError
from core.leases import lease
from psd2.client import Psd2Client
from psd2.errors import BankUnavailable, NotFound, Psd2Error, RequestRejected
from psd2.registry import Registry
from reconciliation.models import BankFeed
from reconciliation.source import ImportOptions

_log = logging.getLogger("kvits.feeds")
FIRST_DAYS = 30  # the first fetch looks this far back
OVERLAP_DAYS = 2  # later ones start this much before the day fetched through (late bookings)
_VALID = "valid"


class FeedError(CodedError):
    """`code`: not_found, invalid_iban, bank_unknown, bank_refused, bank_unavailable."""


@dataclass(frozen=True)
class FeedView:
    id: int
    iban: str
    bank_id: str
    state: str
    sca_url: str | None
    valid_until: date
    fetched_through: date | None
    last_fetch_at: datetime | None
    last_result: dict[str, Any] | None
    last_error: str | None


def view_of(f: BankFeed) -> FeedView:
    return FeedView(f.id, f.iban, f.bank_id, f.state, f.sca_url if f.state == "awaiting_sca" else None, f.valid_until,
                    f.fetched_through, f.last_fetch_at, f.last_result, f.last_error)


class Feeds:
    """`client_for(bank_id)` opens a PSD2 client; `return_url(key)` is where the bank sends
    the merchant back after the consent's SCA; `today()` is the merchants' day."""

    def __init__(self, factory: sessionmaker[Session], banks: Registry, client_for: Callable[[str], Psd2Client],
                 return_url: Callable[[str], str], options: ImportOptions,
                 today: Callable[[], date] = date.today, now: Callable[[], datetime] = utcnow) -> None:
        self.factory, self.banks, self.client_for, self.return_url = factory, banks, client_for, return_url
        self.options, self.today, self.now = options, today, now

    # -- connecting

    def connect(self, merchant_id: int, iban: str, bank_id: str | None = None, days: int = 90,
                psu_ip: str | None = None) -> FeedView:
        """Ask the bank for a consent to read `iban`; the merchant confirms it at `sca_url`.
        Connecting an account again (a consent expired) replaces the old consent."""
        try:
            iban = IBAN(iban).compact
        except SchwiftyException as exc:
            raise FeedError(f"{iban[:40]!r} is not an IBAN: {exc}", "invalid_iban") from None
        bank = self.banks.holding(iban, bank_id)
        if bank is None:
            raise FeedError(f"which bank holds {iban}? give bank (one of: "
                            f"{', '.join(b.id for b in self.banks.all())})", "bank_unknown")
        key = secrets.token_urlsafe(24)
        valid_until = self.today() + timedelta(days=max(1, min(days, 180)))
        client = self.client_for(bank.id)
        try:
            started = client.create_consent(ibans=[iban], valid_until=valid_until, recurring=True,
                                            frequency_per_day=4, redirect_uri=self.return_url(key), psu_ip=psu_ip)
        except BankUnavailable as exc:
            raise FeedError(f"{bank.name} did not answer; try again later: {exc}", "bank_unavailable") from None
        except Psd2Error as exc:
            raise FeedError(f"{bank.name} did not start the consent: {exc}", "bank_refused") from None
        finally:
            client.close()
        with transaction(self.factory) as s:
            feed = s.scalar(select(BankFeed).where(BankFeed.merchant_id == merchant_id, BankFeed.iban == iban)
                            .with_for_update())
            if feed is None:
                feed = BankFeed(merchant_id=merchant_id, iban=iban)
                s.add(feed)
            feed.bank_id, feed.key, feed.consent_id, feed.state = bank.id, key, started.consent_id, "awaiting_sca"
            feed.sca_url, feed.valid_until, feed.account_id = started.sca_redirect, valid_until, None
            feed.oauth_state, feed.oauth_verifier, feed.last_error = started.oauth_state, started.oauth_verifier, None
            s.flush()
            return view_of(feed)

    def returned(self, key: str, callback: dict[str, str]) -> FeedView | None:
        """The merchant's bank sent them back: finish an OAuth bank's code exchange, then
        ask the bank whether the consent is valid (the address itself proves nothing)."""
        with transaction(self.factory) as s:
            feed = s.scalar(select(BankFeed).where(BankFeed.key == key[:64]))
            if feed is None:
                return None
            s.expunge(feed)
        if feed.state != "awaiting_sca":
            return view_of(feed)
        client = self.client_for(feed.bank_id)
        try:
            if feed.oauth_state and feed.oauth_verifier:
                client.finish_oauth(feed.oauth_state, feed.oauth_verifier, self.return_url(key), callback)
            status = client.consent_status(feed.consent_id)
        except (BankUnavailable, RequestRejected) as exc:
            return self._note(feed.id, error=f"the bank did not confirm the consent: {exc}",
                              state=None if isinstance(exc, BankUnavailable) else "failed")
        except Psd2Error as exc:
            return self._note(feed.id, error=f"the bank's answer could not be used: {exc}", state="failed")
        finally:
            client.close()
        if status == _VALID:
            return self._note(feed.id, state="active")
        if status in ("received", "partiallyAuthorised"):
            return self._note(feed.id)
        return self._note(feed.id, state="failed", error=f"the bank says the consent is {status}")

    def _note(self, feed_id: int, *, state: str | None = None, error: str | None = None,
              **values: Any) -> FeedView:
        with transaction(self.factory) as s:
            feed = s.get(BankFeed, feed_id, with_for_update=True)
            assert feed is not None
            if state is not None:
                feed.state = state
            feed.last_error = error[:2000] if error else None
            for name, value in values.items():
                setattr(feed, name, value)
            return view_of(feed)

    # -- fetching

    def fetch(self, feed_id: int) -> FeedView:
        """Fetch and import the feed's new statement now (one fetch of a feed at a time)."""
        with lease(self.factory, f"feed:{feed_id}", 900) as mine:
            if not mine:
                return self.view(feed_id)
            return self._fetch(feed_id)

    def _fetch(self, feed_id: int) -> FeedView:
        from reconciliation.jobs import summary
        from reconciliation.service import import_statement

        with transaction(self.factory) as s:
            feed = s.get(BankFeed, feed_id)
            if feed is None:
                raise FeedError(f"no bank feed {feed_id}", "not_found")
            s.expunge(feed)
        if feed.state != "active":
            return view_of(feed)
        today = self.today()
        if feed.valid_until < today:
            return self._note(feed.id, state="expired", error=f"the consent ended on {feed.valid_until}: connect again")
        start = (feed.fetched_through - timedelta(days=OVERLAP_DAYS)) if feed.fetched_through \
            else today - timedelta(days=FIRST_DAYS)
        client = self.client_for(feed.bank_id)
        try:
            account_id = feed.account_id or self._account(client, feed)
            body = client.statement(feed.consent_id, account_id, start, today)
        except (NotFound, RequestRejected) as exc:
            if _consent_gone(exc):
                return self._note(feed.id, state="expired", error=f"the bank no longer honours the consent: {exc}")
            return self._note(feed.id, error=str(exc), last_fetch_at=self.now())
        except Psd2Error as exc:  # unavailable, rate limited, nonsense: the next run tries again
            return self._note(feed.id, error=str(exc), last_fetch_at=self.now())
        finally:
            client.close()
        name = f"{feed.bank_id}-{feed.iban}-{start:%Y%m%d}-{today:%Y%m%d}.xml"
        try:
            with transaction(self.factory) as s:
                report = import_statement(s, feed.merchant_id, body, file_name=name, options=self.options)
        except (CamtError, KvitsError) as exc:
            return self._note(feed.id, error=f"the bank's statement could not be imported: {exc}",
                              last_fetch_at=self.now(), account_id=account_id)
        result = summary(report)
        new = sum(st["new_transactions"] for st in result["statements"])
        _log.info("bank feed %s (%s): %s new transactions from %s to %s", feed.id, feed.iban, new, start, today)
        return self._note(feed.id, last_fetch_at=self.now(), fetched_through=today, account_id=account_id,
                          last_result={"from": start.isoformat(), "to": today.isoformat(), "new_transactions": new,
                                       "counts": result["counts"]})

    def _account(self, client: Psd2Client, feed: BankFeed) -> str:
        for account in client.accounts(feed.consent_id):
            if account.iban and account.iban.replace(" ", "") == feed.iban:
                return account.resource_id
        raise RequestRejected(feed.bank_id, f"the consent does not show account {feed.iban}")

    def due(self, every: timedelta) -> list[int]:
        before = self.now() - every
        with transaction(self.factory) as s:
            return list(s.scalars(select(BankFeed.id).where(
                BankFeed.state == "active", or_(BankFeed.last_fetch_at.is_(None), BankFeed.last_fetch_at < before))
                .order_by(BankFeed.id)))

    def fetch_due(self, every: timedelta) -> int:
        """Fetch every active feed not fetched within `every`; how many were fetched."""
        done = 0
        for feed_id in self.due(every):
            try:
                self.fetch(feed_id)
                done += 1
            except Exception:  # noqa: BLE001  (one feed's trouble must not stop the others)
                _log.exception("bank feed %s: the fetch failed", feed_id)
        return done

    def view(self, feed_id: int, merchant_id: int | None = None) -> FeedView:
        with transaction(self.factory) as s:
            feed = s.get(BankFeed, feed_id)
            if feed is None or (merchant_id is not None and feed.merchant_id != merchant_id):
                raise FeedError(f"no bank feed {feed_id}", "not_found")
            return view_of(feed)

    def list(self, merchant_id: int) -> list[FeedView]:
        with transaction(self.factory) as s:
            return [view_of(f) for f in s.scalars(select(BankFeed).where(BankFeed.merchant_id == merchant_id)
                                                  .order_by(BankFeed.id))]


def _consent_gone(exc: Psd2Error) -> bool:
    return bool({"CONSENT_INVALID", "CONSENT_EXPIRED", "CONSENT_UNKNOWN"} & set(exc.codes)) or exc.status == 401


def feeds_for(settings: Any, factory: sessionmaker[Session], banks: Registry | None = None) -> Feeds:
    """This deployment's feeds: its PSD2 registry, the merchant back at
    KVITS_PUBLIC_URL/feeds/{key}/returned, imports as the API's, days in KVITS_TIMEZONE."""
    from core.clock import today_in
    from reconciliation.jobs import options_for

    registry = banks or Registry.from_settings(settings.sandbox_url, settings.psd2_banks_file)
    base = settings.public_url.rstrip("/")
    return Feeds(factory, registry, lambda bank_id: Psd2Client(registry.get(bank_id)),
                 lambda key: f"{base}/feeds/{key}/returned", options_for(settings),
                 today=lambda: today_in(settings.timezone))
