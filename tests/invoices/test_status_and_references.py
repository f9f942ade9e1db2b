from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import iso11649

from invoices import status as s
from invoices.references import rf_for_invoice, rf_from_body


def test_rf_from_body_matches_the_iso_example() -> None:
    assert rf_from_body("539007547034") == "RF18539007547034"
    assert rf_from_body("2026 1001") == "RF9420261001"


@given(st.integers(1, 10**6), st.from_regex(r"[A-Z]{0,3}-?[0-9]{1,8}", fullmatch=True))
def test_invoice_rf_is_always_valid(merchant_id: int, number: str) -> None:
    ref = rf_for_invoice(merchant_id, number)
    assert iso11649.is_valid(ref)
    assert len(ref) <= 25


def test_rf_differs_between_merchants() -> None:
    assert rf_for_invoice(1, "INV-1") != rf_for_invoice(2, "INV-1")
    # merchant 1's 12345 and merchant 11's 2345 once shared the body 112345
    assert rf_for_invoice(1, "12345") != rf_for_invoice(11, "2345")


@given(st.integers(1, 10**6), st.integers(1, 10**6), st.from_regex(r"[A-Z0-9]{1,30}", fullmatch=True),
       st.from_regex(r"[A-Z0-9]{1,30}", fullmatch=True))
def test_rf_never_collides(m1: int, m2: int, n1: str, n2: str) -> None:
    if (m1, n1) != (m2, n2):
        assert rf_for_invoice(m1, n1) != rf_for_invoice(m2, n2)


def test_long_numbers_of_one_merchant_differ_in_their_head() -> None:
    a = rf_for_invoice(7, "CUSTOMER-A-2026-000000000001")
    b = rf_for_invoice(7, "CUSTOMER-B-2026-000000000001")
    assert a != b and iso11649.is_valid(a) and iso11649.is_valid(b)


def test_rf_body_limits() -> None:
    with pytest.raises(ValueError):
        rf_from_body("")
    with pytest.raises(ValueError):
        rf_from_body("1" * 22)


def test_status_follows_payments() -> None:
    assert s.status_for_paid(1000, 0) is s.Status.ISSUED
    assert s.status_for_paid(1000, 1) is s.Status.PARTIALLY_PAID
    assert s.status_for_paid(1000, 1000) is s.Status.PAID
    assert s.status_for_paid(1000, 1200) is s.Status.PAID
    with pytest.raises(s.TransitionError):
        s.after_payment(s.Status.DRAFT, 1000, 10)
    with pytest.raises(s.TransitionError):
        s.after_payment(s.Status.CANCELLED, 1000, 10)


def test_overdue_is_derived_from_the_date_passed_in() -> None:
    due = date(2026, 11, 15)
    assert not s.is_overdue(s.Status.ISSUED, due, date(2026, 11, 15))
    assert s.is_overdue(s.Status.ISSUED, due, date(2026, 11, 16))
    assert s.is_overdue(s.Status.PARTIALLY_PAID, due, date(2026, 12, 1))
    assert not s.is_overdue(s.Status.PAID, due, date(2026, 12, 1))
    assert s.display_status(s.Status.ISSUED, due, date(2026, 12, 1)) == "overdue"


def test_transitions() -> None:
    assert s.approve(s.Status.DRAFT) is s.Status.ISSUED
    with pytest.raises(s.TransitionError):
        s.approve(s.Status.ISSUED)
    assert s.cancel(s.Status.ISSUED, 0) is s.Status.CANCELLED
    with pytest.raises(s.TransitionError):
        s.cancel(s.Status.PARTIALLY_PAID, 100)
