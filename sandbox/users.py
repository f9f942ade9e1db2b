"""Test users of the sandbox banks: each one drives one outcome, and the SCA page lists
them with what they do, so a person trying kvits knows whom to pick."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Behaviour = Literal["success", "no_funds", "wrong_code", "cancels", "pending", "merchant"]

ONE_TIME_CODE = "123456"


@dataclass(frozen=True, slots=True)
class TestUser:
    id: str
    name: str
    behaviour: Behaviour
    description: str
    balance: Decimal

    __test__ = False  # not a pytest class, despite the name


USERS: tuple[TestUser, ...] = (
    TestUser("alise", "Alise Ozola", "success",
             "pays successfully: instant payments settle at once, standard ones on the next business day",
             Decimal("25000.00")),
    TestUser("nauris", "Nauris Berzins", "no_funds",
             "has 3.50 EUR: after a correct SCA a larger payment is rejected (RJCT, insufficient funds)",
             Decimal("3.50")),
    TestUser("lauris", "Lauris Liepa", "wrong_code",
             "always types a wrong code: the third wrong code fails the SCA and the payment is rejected",
             Decimal("1000.00")),
    TestUser("ilze", "Ilze Kalna", "cancels",
             "cancels at the bank: the payment is cancelled (CANC), the browser goes to the failure address",
             Decimal("1000.00")),
    TestUser("pauls", "Pauls Vitols", "pending",
             "the payment is accepted (ACSP) and never settles",
             Decimal("25000.00")),
    TestUser("veikals", "SIA Piemera Veikals", "merchant",
             "a merchant: owns the business account whose statements kvits reads (account information)",
             Decimal("12000.00")),
)

BY_ID = {u.id: u for u in USERS}
