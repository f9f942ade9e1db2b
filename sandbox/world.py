"""The sandbox banks' state: accounts, ledgers, payments, authorisations and consents.

Everything lives in memory behind one lock, driven by an injectable clock, so that tests
can move time (SCA timeouts, next-business-day settlement) without sleeping. A restart
gives the same seeded world again: the same test users, IBANs and history.

Time-driven changes happen in `tick`, which every request runs first:
- an SCA not finished within `sca_timeout` fails and its payment goes to RJCT, as the
  standard requires;
- an accepted standard payment moves ACTC -> ACSP and, on its execution date (the next
  TARGET business day), is booked: debtor debited, creditor credited, ACSC;
- each merchant account gets its day of other traffic once the day is over;
- the card acquirer (`sandbox/acquirer.py`) expires unpaid card payments and pays its
  payouts on the next business day.
"""

from __future__ import annotations

import random
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, cast
from zoneinfo import ZoneInfo

import holidays
from schwifty import IBAN

from sandbox.banks import BANKS, BY_ID, BankProfile
from sandbox.users import BY_ID as USERS_BY_ID
from sandbox.users import USERS, TestUser

if TYPE_CHECKING:
    from sandbox.acquirer import Acquirer

LOCAL = ZoneInfo("Europe/Riga")  # the three Baltic states share EET/EEST

FINAL_TRANSACTION = frozenset({"ACSC", "ACCC", "ACWP", "RJCT", "CANC", "PART"})
FINAL_SCA = frozenset({"finalised", "failed", "exempted"})

TargetKind = Literal["payment", "consent"]


class Clock:
    """Wall-clock time; tests use `FakeClock`."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def advance(self, **delta: float) -> None:
        raise NotImplementedError("this clock cannot be moved")


class OffsetClock(Clock):
    """Wall-clock time that can be moved forward (the sandbox's admin call), to see what
    a standard payment does on the next business day without waiting for it."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


class FakeClock(Clock):
    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)


@dataclass(slots=True)
class Booking:
    reference: str  # account servicer reference, unique per bank
    booking_date: date
    value_date: date
    amount: Decimal  # positive; `credit_debit` says which side
    credit_debit: Literal["CRDT", "DBIT"]
    bank_code: tuple[str, str, str]  # ISO bank transaction code: domain, family, sub-family
    booked_at: datetime
    counterparty_name: str | None = None
    counterparty_iban: str | None = None
    counterparty_bic: str | None = None
    end_to_end_id: str | None = None
    creditor_reference: str | None = None  # structured (SCOR) reference
    unstructured: str | None = None
    batch_count: int | None = None
    additional_info: str | None = None


@dataclass(slots=True)
class Account:
    resource_id: str
    bank: BankProfile
    iban: str
    owner: TestUser
    opening_balance: Decimal  # at the start of `history_start`
    history_start: date
    bookings: list[Booking] = field(default_factory=list)
    reserved: Decimal = Decimal(0)
    traffic_until: date | None = None  # last day whose other traffic exists
    currency: str = "EUR"
    name: str = "Current account"

    def balance(self, before: date | None = None) -> Decimal:
        total = self.opening_balance
        for b in self.bookings:
            if before is None or b.booking_date < before:
                total += b.amount if b.credit_debit == "CRDT" else -b.amount
        return total

    @property
    def available(self) -> Decimal:
        return self.balance() - self.reserved


@dataclass(slots=True)
class Payment:
    id: str
    bank: BankProfile
    product: str
    created_at: datetime
    request_id: str
    amount: Decimal
    currency: str
    creditor_iban: str
    creditor_name: str
    debtor_iban: str | None
    end_to_end_id: str | None
    unstructured: str | None
    creditor_reference: str | None
    creditor_reference_type: str | None
    requested_execution_date: date | None
    redirect_uri: str | None
    nok_redirect_uri: str | None
    psu_ip: str
    body: dict[str, object]
    status: str = "RCVD"
    history: list[tuple[str, datetime]] = field(default_factory=list)
    debtor: Account | None = None
    accepted_at: datetime | None = None
    execution_date: date | None = None
    reject_reason: str | None = None
    pending_forever: bool = False
    funds_available: bool | None = None
    authorisations: list[str] = field(default_factory=list)

    def set_status(self, status: str, at: datetime) -> None:
        if status != self.status:
            self.status = status
            self.history.append((status, at))

    @property
    def instant(self) -> bool:
        return self.product.startswith("instant-")


@dataclass(slots=True)
class Authorisation:
    id: str
    bank: BankProfile
    target_kind: TargetKind
    target_id: str
    created_at: datetime
    redirect_uri: str | None
    nok_redirect_uri: str | None
    sca_status: str = "received"
    history: list[tuple[str, datetime]] = field(default_factory=list)
    user: TestUser | None = None
    wrong_codes: int = 0
    # the OAuth approach: the authorization code's PKCE challenge and the TPP's redirect
    oauth: dict[str, str] = field(default_factory=dict)

    def set_status(self, status: str, at: datetime) -> None:
        if status != self.sca_status:
            self.sca_status = status
            self.history.append((status, at))


@dataclass(slots=True)
class Consent:
    id: str
    bank: BankProfile
    created_at: datetime
    access: dict[str, object]
    ibans: tuple[str, ...]  # () = all accounts of the PSU ("allAccounts")
    recurring: bool
    valid_until: date
    frequency_per_day: int
    status: str = "received"
    user: TestUser | None = None
    reads: dict[tuple[date, str], int] = field(default_factory=dict)
    authorisations: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Settings:
    sca_timeout: timedelta = timedelta(minutes=15)
    # ACTC -> ACSP this long after SCA (real banks take a moment to check)
    accept_after: timedelta = timedelta(seconds=2)
    # None: standard payments execute on the next TARGET business day (realistic);
    # a duration: they execute that long after acceptance (fast demos)
    settle_after: timedelta | None = None
    seed: int = 20261204


class World:
    def __init__(self, clock: Clock | None = None, settings: Settings | None = None) -> None:
        from sandbox.acquirer import Acquirer  # here: it builds on this module's bookings

        self.clock = clock or OffsetClock()
        self.settings = settings or Settings()
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}  # by IBAN
        self.accounts_by_id: dict[str, Account] = {}
        self.payments: dict[str, Payment] = {}
        self.authorisations: dict[str, Authorisation] = {}
        self.consents: dict[str, Consent] = {}
        self._ref_seq: dict[str, int] = {}
        self._rng = random.Random(self.settings.seed)
        self._calendar = holidays.financial_holidays("XECB")
        # history from the first day of the previous month: a restart in the same month
        # rebuilds exactly the same ledgers
        start = (self.today().replace(day=1) - timedelta(days=1)).replace(day=1)
        for bank in BANKS:
            for number, user in enumerate(USERS, start=1):
                iban = _iban(bank, number)
                account = Account(
                    resource_id=_resource_id(self.settings.seed, iban), bank=bank, iban=iban, owner=user,
                    opening_balance=user.balance, history_start=start,
                    name="Business account" if user.behaviour == "merchant" else "Current account",
                )
                self.accounts[iban] = account
                self.accounts_by_id[account.resource_id] = account
        self.acquirer: Acquirer = Acquirer(self)
        self.tick()

    # -- time ------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return self.now().astimezone(LOCAL).date()

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._calendar

    def next_business_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def tick(self) -> None:
        """Apply everything that time has made due (see the module docstring)."""
        with self.lock:
            now, today = self.now(), self.today()
            for auth in self.authorisations.values():
                if auth.sca_status not in FINAL_SCA and now - auth.created_at >= self.settings.sca_timeout:
                    auth.set_status("failed", now)
                    self._sca_failed(auth, "SCA not completed in time")
            for payment in self.payments.values():
                if payment.status == "RCVD" and now - payment.created_at >= self.settings.sca_timeout:
                    # never authorised in time (also one whose SCA was never even started)
                    payment.reject_reason = "SCA not completed in time"
                    payment.set_status("RJCT", now)
                    for auth_id in payment.authorisations:
                        if self.authorisations[auth_id].sca_status not in FINAL_SCA:
                            self.authorisations[auth_id].set_status("failed", now)
                self._progress(payment, now, today)
            for account in self.accounts.values():
                if account.owner.behaviour == "merchant":
                    self._other_traffic(account, today)
            self.acquirer.tick(now, today)

    def _progress(self, payment: Payment, now: datetime, today: date) -> None:
        if payment.status == "ACTC" and payment.accepted_at and now - payment.accepted_at >= self.settings.accept_after:
            payment.set_status("ACSP", now)
        if payment.status != "ACSP" or payment.pending_forever or payment.debtor is None:
            return
        due = (
            payment.accepted_at is not None
            and now - payment.accepted_at >= self.settings.settle_after
            if self.settings.settle_after is not None
            else payment.execution_date is not None and today >= payment.execution_date
        )
        if due:
            day = today if self.settings.settle_after is not None else payment.execution_date
            assert day is not None
            self._book_payment(payment, day, now)
            payment.set_status("ACSC", now)

    # -- payments --------------------------------------------------------------
    def new_payment(self, **fields: object) -> Payment:
        now = self.now()
        payment = Payment(id=secrets.token_hex(12), created_at=now, **fields)  # type: ignore[arg-type]
        payment.history.append(("RCVD", now))
        self.payments[payment.id] = payment
        return payment

    def new_authorisation(self, bank: BankProfile, kind: TargetKind, target_id: str,
                          redirect_uri: str | None, nok_redirect_uri: str | None) -> Authorisation:
        now = self.now()
        auth = Authorisation(id=str(uuid.uuid4()), bank=bank, target_kind=kind, target_id=target_id,
                             created_at=now, redirect_uri=redirect_uri, nok_redirect_uri=nok_redirect_uri)
        auth.history.append(("received", now))
        self.authorisations[auth.id] = auth
        if kind == "payment":
            self.payments[target_id].authorisations.append(auth.id)
        else:
            self.consents[target_id].authorisations.append(auth.id)
        return auth

    def unknown_sandbox_account(self, iban: str) -> bool:
        """An IBAN of one of the sandbox banks that names no account there."""
        if iban in self.accounts:
            return False
        return any(iban[:2] == b.country and iban[4:4 + len(b.iban_bank_code)] == b.iban_bank_code for b in BANKS)

    def account_of(self, user: TestUser, bank: BankProfile) -> Account:
        return self.accounts[_iban(bank, USERS.index(user) + 1)]

    def finish_sca(self, auth: Authorisation) -> None:
        """The payer confirmed with a correct code: finalise and act on the target."""
        now = self.now()
        auth.set_status("finalised", now)
        assert auth.user is not None
        if auth.target_kind == "consent":
            consent = self.consents[auth.target_id]
            if consent.status == "received":  # a consent deleted or rejected meanwhile stays so
                consent.user = auth.user
                consent.status = "valid"
            return
        payment = self.payments[auth.target_id]
        if payment.status != "RCVD":
            return  # cancelled, timed out or decided meanwhile: an SCA acts only on a waiting payment
        account = self.account_of(auth.user, payment.bank)
        payment.debtor = account
        if self.unknown_sandbox_account(payment.creditor_iban):
            payment.reject_reason = "AC03"  # invalid creditor account number
            payment.set_status("RJCT", now)
            return
        if payment.amount > account.available:
            payment.funds_available = False
            payment.reject_reason = "AM04"  # insufficient funds
            payment.set_status("RJCT", now)
            return
        payment.funds_available = True
        payment.set_status("ACTC", now)
        payment.accepted_at = now
        if payment.instant:
            self._book_payment(payment, self.today(), now)
            payment.set_status("ACSC", now)
            return
        account.reserved += payment.amount
        payment.pending_forever = auth.user.behaviour == "pending"
        earliest = self.next_business_day(self.today())
        wanted = payment.requested_execution_date
        payment.execution_date = wanted if wanted and wanted > earliest else earliest
        while not self.is_business_day(payment.execution_date):
            payment.execution_date += timedelta(days=1)

    def fail_sca(self, auth: Authorisation, cancelled: bool) -> None:
        now = self.now()
        auth.set_status("failed", now)
        self._sca_failed(auth, "cancelled by the payer" if cancelled else "SCA failed", cancelled)

    def _sca_failed(self, auth: Authorisation, reason: str, cancelled: bool = False) -> None:
        now = self.now()
        if auth.target_kind == "consent":
            consent = self.consents[auth.target_id]
            if consent.status == "received":
                consent.status = "rejected"
            return
        payment = self.payments[auth.target_id]
        if payment.status == "RCVD":  # an accepted payment is not undone by a failed SCA
            payment.reject_reason = reason
            payment.set_status("CANC" if cancelled else "RJCT", now)

    def cancel_payment(self, payment: Payment) -> bool:
        """Cancel before execution; False when it is too late (or instant)."""
        now = self.now()
        if payment.status in FINAL_TRANSACTION:
            return False
        if payment.instant and payment.status != "RCVD":
            return False
        if payment.debtor is not None and payment.status in ("ACTC", "ACSP"):
            payment.debtor.reserved -= payment.amount
        payment.set_status("CANC", now)
        for auth_id in payment.authorisations:
            auth = self.authorisations[auth_id]
            if auth.sca_status not in FINAL_SCA:
                auth.set_status("failed", now)
        return True

    def _book_payment(self, payment: Payment, day: date, now: datetime) -> None:
        debtor = payment.debtor
        assert debtor is not None
        if not payment.instant:
            debtor.reserved -= payment.amount
        code = ("PMNT", "ICDT", "ESCT")
        info = "SEPA instant credit transfer" if payment.instant else "SEPA credit transfer"
        creditor = self.accounts.get(payment.creditor_iban)
        debtor.bookings.append(Booking(
            reference=self._reference(debtor.bank, day), booking_date=day, value_date=day,
            amount=payment.amount, credit_debit="DBIT", bank_code=code, booked_at=now,
            counterparty_name=payment.creditor_name, counterparty_iban=payment.creditor_iban,
            counterparty_bic=creditor.bank.bic if creditor else None, end_to_end_id=payment.end_to_end_id,
            creditor_reference=payment.creditor_reference, unstructured=payment.unstructured,
            additional_info=info,
        ))
        if creditor is not None:
            creditor.bookings.append(Booking(
                reference=self._reference(creditor.bank, day), booking_date=day, value_date=day,
                amount=payment.amount, credit_debit="CRDT", bank_code=("PMNT", "RCDT", "ESCT"), booked_at=now,
                counterparty_name=debtor.owner.name, counterparty_iban=debtor.iban,
                counterparty_bic=debtor.bank.bic, end_to_end_id=payment.end_to_end_id,
                creditor_reference=payment.creditor_reference, unstructured=payment.unstructured,
                additional_info=info,
            ))

    def _reference(self, bank: BankProfile, day: date) -> str:
        seq = self._ref_seq.get(bank.bic, 0) + 1
        self._ref_seq[bank.bic] = seq
        return f"{bank.bic[:4]}{day:%y%m%d}{seq:08d}"

    # -- consents --------------------------------------------------------------
    def new_consent(self, **fields: object) -> Consent:
        consent = Consent(id=secrets.token_hex(12), created_at=self.now(), **fields)  # type: ignore[arg-type]
        self.consents[consent.id] = consent
        return consent

    def consent_accounts(self, consent: Consent, access: str = "accounts") -> list[Account]:
        """The PSU's accounts the consent opens for `access` (accounts, balances or
        transactions): each kind only where the consent names it."""
        if consent.user is None:
            return []
        own = [a for a in self.accounts.values() if a.owner == consent.user and a.bank == consent.bank]
        if consent.access.get("allPsd2") == "allAccounts":
            return own
        if consent.access.get("availableAccounts"):
            return own if access == "accounts" else []
        kinds = ("accounts", "balances", "transactions") if access == "accounts" else (access,)
        named = {r["iban"] for key in kinds for r in cast(list[dict[str, str]], consent.access.get(key, []))}
        return [a for a in own if a.iban in named]

    # -- other traffic on merchant accounts --------------------------------------
    def _other_traffic(self, account: Account, today: date) -> None:
        day = account.traffic_until + timedelta(days=1) if account.traffic_until else account.history_start
        while day < today:
            if self.is_business_day(day):
                first = day.replace(day=1)
                while not self.is_business_day(first):
                    first += timedelta(days=1)
                for booking in _day_of_traffic(account, day, self._reference, self._booked_at(day), fee_day=day == first):
                    account.bookings.append(booking)
            account.traffic_until = day
            day += timedelta(days=1)

    @staticmethod
    def _booked_at(day: date) -> datetime:
        return datetime.combine(day, time(18, 0), LOCAL).astimezone(timezone.utc)

    # -- lookups ---------------------------------------------------------------
    def find_bank(self, bank_id: str) -> BankProfile | None:
        return BY_ID.get(bank_id)

    def find_user(self, user_id: str) -> TestUser | None:
        return USERS_BY_ID.get(user_id)


def _iban(bank: BankProfile, number: int) -> str:
    width = {"LV": 13, "EE": 11, "LT": 11}[bank.country]
    return str(IBAN.generate(bank.country, bank_code=bank.iban_bank_code, account_code=f"{number:0{width}d}"))


def _resource_id(seed: int, iban: str) -> str:
    # stable across restarts, not guessable from the IBAN alone
    return uuid.uuid5(uuid.UUID(int=seed), iban).hex


_PAYERS = (
    ("SIA Zalais Darzs", "LV"), ("Janis Krumins", "LV"), ("OU Pohjala Puit", "EE"), ("Kadri Tamm", "EE"),
    ("UAB Medine Kede", "LT"), ("Ruta Kazlauskiene", "LT"), ("Nordic Parts AB", "SE"), ("Sergejs Ivanovs", "LV"),
)
_TEXTS = ("Rekins Nr. {n}", "apmaksa par preci", "INV-{n}", "Arve {n} tasumine", "Saskaita {n}",
          "par pakalpojumiem oktobri", "Счёт {n}", "prepayment order {n}")
_SUPPLIERS = (("SIA Latvijas Gaze", "LV97HABA0551000000001"), ("AS Elektrum", "LV32PARX0000000000001"),
              ("SIA Biroja Preces", "LV28UNLA0050000000001"))


def _day_of_traffic(account: Account, day: date, reference: Callable[[BankProfile, date], str],
                    booked_at: datetime, fee_day: bool) -> Iterable[Booking]:
    """A merchant account's ordinary day: customers' transfers with free text, the
    settlement batch of the shop's card terminals, now and then an outgoing payment, and
    the monthly fee. Seeded by account and day, so the same day always looks the same.
    (The terminals' acquirer is not `sandbox/acquirer.py`, whose payouts come from
    "Sandbox Card Acquiring" with the payout id as end-to-end id.)"""
    rng = random.Random(f"{account.iban}:{day.isoformat()}")
    for _ in range(rng.randint(1, 3)):
        name, country = rng.choice(_PAYERS)
        bank_code = {"LV": "HABA", "EE": "22", "LT": "73000", "SE": "5000"}[country]
        width = {"LV": 13, "EE": 11, "LT": 11, "SE": 17}[country]
        try:
            iban = str(IBAN.generate(country, bank_code=bank_code, account_code=str(rng.randrange(10**(width - 2))).zfill(width)))
        except ValueError:
            iban = None
        yield Booking(
            reference=reference(account.bank, day), booking_date=day, value_date=day,
            amount=Decimal(rng.randint(500, 90000)) / 100, credit_debit="CRDT",
            bank_code=("PMNT", "RCDT", "ESCT"), booked_at=booked_at, counterparty_name=name,
            counterparty_iban=iban, unstructured=rng.choice(_TEXTS).format(n=rng.randint(10, 999)),
        )
    if rng.random() < 0.7:
        count = rng.randint(3, 40)
        gross = Decimal(rng.randint(count * 800, count * 6000)) / 100
        yield Booking(
            reference=reference(account.bank, day), booking_date=day, value_date=day,
            amount=gross, credit_debit="CRDT", bank_code=("PMNT", "MCRD", "POSP"), booked_at=booked_at,
            counterparty_name="Sandbox Card Terminals", batch_count=count,
            unstructured=f"Card settlement {day:%Y-%m-%d} {count} payments",
            additional_info="Card payments settlement batch",
        )
    if rng.random() < 0.25:
        name, iban = rng.choice(_SUPPLIERS)
        yield Booking(
            reference=reference(account.bank, day), booking_date=day, value_date=day,
            amount=Decimal(rng.randint(2000, 40000)) / 100, credit_debit="DBIT",
            bank_code=("PMNT", "ICDT", "ESCT"), booked_at=booked_at, counterparty_name=name,
            counterparty_iban=iban, unstructured=f"Invoice {rng.randint(1000, 9999)}",
        )
    if fee_day:  # the month's first business day
        yield Booking(
            reference=reference(account.bank, day), booking_date=day, value_date=day,
            amount=Decimal("4.90"), credit_debit="DBIT", bank_code=("ACMT", "MDOP", "CHRG"),
            booked_at=booked_at, unstructured=f"Account maintenance fee {day:%m/%Y}",
            additional_info="Bank fee",
        )

