"""The shared matching cases (01, 02, 05, 08, 09, 10, 11, 12) rebuilt as plain engine data.

The persistence layer's tests read ../shared/cases in place; these pin the engine's part.
"""

from __future__ import annotations

from datetime import date

from reconciliation.engine import build_index, match, match_payments
from reconciliation.model import (
    Allocation,
    CustomerInfo,
    IncomingPayment,
    MatchResult,
    OpenInvoice,
)

ISSUED, DUE = date(2026, 10, 16), date(2026, 11, 15)
BOOKED = date(2026, 11, 3)


def inv(
    id: int,
    number: str,
    customer_id: int,
    open_minor: int,
    rf: str | None = None,
    currency: str = "EUR",
) -> OpenInvoice:
    return OpenInvoice(id, number, customer_id, currency, open_minor, open_minor, ISSUED, DUE, rf)


def pay(key: str, amount_minor: int, **kw: object) -> IncomingPayment:
    return IncomingPayment(key=key, amount_minor=amount_minor, currency="EUR", booking_date=BOOKED, **kw)  # type: ignore[arg-type]


def codes(result: MatchResult) -> list[str]:
    return [r.code for r in result.reasons]


def test_case_01_batch_each_transaction_pays_its_own_invoice() -> None:
    customers = [CustomerInfo(1, "SIA Kalnu Ceļš"), CustomerInfo(2, "Ilze Kalniņa")]
    invoices = [inv(11, "LV-2026-0101", 1, 32956), inv(12, "LV-2026-0102", 2, 10000)]
    payments = [
        pay("B-0001/1", 32956, payer_name="SIA Kalnu Ceļš", payer_iban="LV87HABA0551012345678",
            end_to_end_id="E2E-A", texts=("Rēķins LV-2026-0101",)),
        pay("B-0001/2", 10000, payer_name="Ilze Kalniņa", payer_iban="LV04UNLA0050012345678",
            end_to_end_id="E2E-B", texts=("Rēķins LV-2026-0102",)),
    ]
    index = build_index(invoices, customers)
    first, second = match_payments(payments, index)
    assert first.decision == "apply" and first.best is not None
    assert first.best.allocations == (Allocation(11, 32956),)
    assert second.decision == "apply" and second.best is not None
    assert second.best.allocations == (Allocation(12, 10000),)
    assert first.best.confidence == 96  # number 80 + amount 10 + name 6
    assert codes(first) == ["number_exact", "amount_exact", "name_similar"]
    assert index.open_amount(11) == 0 and index.open_amount(12) == 0


def test_case_02_rf_in_structured_remittance_applies() -> None:
    # the reversal that follows is the caller's business; the engine sees the credit only
    [result] = match(
        [pay("R-0001", 5000, payer_name="Pēteris Liepa", payer_iban="LV87HABA0551012345678",
             end_to_end_id="E2E-R1", creditor_references=("RF4310012026",))],
        [inv(21, "LV-2026-0201", 1, 5000, rf="RF4310012026")],
        [CustomerInfo(1, "Pēteris Liepa")],
    )
    assert result.decision == "apply" and result.best is not None
    assert result.best.allocations == (Allocation(21, 5000),)
    assert codes(result)[0] == "rf_structured"
    assert result.best.reasons[0].detail == "RF reference RF4310012026 in structured remittance"


def test_case_05_structured_rf_beats_same_amount_sibling() -> None:
    customers = [CustomerInfo(5, "Rīgas Maiznīca SIA")]
    invoices = [
        inv(51, "LV-2026-0501", 5, 24000, rf="RF18539007547034"),
        inv(52, "LV-2026-0502", 5, 24000, rf="RF6720261002"),
    ]
    payment = pay("S-0001", 24000, payer_name="SIA Rīgas Maiznīca", payer_iban="LV04UNLA0050012345678",
                  end_to_end_id="NOTPROVIDED", creditor_references=("RF18539007547034",),
                  texts=("Payment for services October",))
    [result] = match([payment], invoices, customers)
    assert result.decision == "apply" and result.best is not None
    assert result.best.invoice_ids == (51,)
    assert result.best.confidence == 99
    assert result.alternatives == ()  # the other 240.00 invoice is not even suggested
    details = [r.detail for r in result.reasons]
    assert "payer name 'SIA Rīgas Maiznīca' ~ 'Rīgas Maiznīca SIA' (100)" in details
    assert "amount 240.00 EUR equals the open amount" in details
    assert result.customer_id == 5


def test_case_08_invoice_number_in_text_and_amount() -> None:
    [result] = match(
        [pay("Z-0001", 40000, payer_name="Gediminas Žukauskas", payer_iban="LT737300010012345678",
             end_to_end_id="E2E-Z", texts=("Invoice LV-2026-0901",))],
        [inv(81, "LV-2026-0901", 8, 40000)],
        [CustomerInfo(8, "Gediminas Žukauskas")],
    )
    assert result.decision == "apply" and result.best is not None
    assert result.best.allocations == (Allocation(81, 40000),)
    assert result.best.overpayment_minor == 0


def test_case_09_spaced_rf_pays_only_its_invoice() -> None:
    customers = [CustomerInfo(9, "SIA Vējš")]
    invoices = [
        inv(91, "LV-2026-1001", 9, 11800, rf="RF9420261001"),
        inv(92, "LV-2026-1002", 9, 11800, rf="RF6720261002"),
    ]
    index = build_index(invoices, customers)
    [result] = match_payments(
        [pay("G-0001", 11800, payer_name="SIA Vējš", payer_iban="LV20RIKO0000083012345",
             end_to_end_id="NOTPROVIDED", texts=("RF94 2026 1001",))],
        index,
    )
    assert result.decision == "apply" and result.best is not None
    assert result.best.invoice_ids == (91,)
    assert codes(result)[0] == "rf_text"
    assert all(92 not in c.invoice_ids for c in result.alternatives)
    assert index.open_amount(91) == 0 and index.open_amount(92) == 11800


def test_case_10_short_payment_under_rf_is_applied_as_partial() -> None:
    index = build_index([inv(101, "INV1001", 10, 121000, rf="RF06INV1001")], [CustomerInfo(10, "AS Daugava Build")])
    [result] = match_payments(
        [pay("P-0001", 118580, payer_name="AS Daugava Build", payer_iban="LV87HABA0551012345678",
             end_to_end_id="NOTPROVIDED", creditor_references=("RF06INV1001",))],
        index,
    )
    assert result.decision == "apply" and result.best is not None
    assert result.best.allocations == (Allocation(101, 118580),)
    assert "amount_partial" in codes(result)
    assert index.open_amount(101) == 2420  # exactly 24.20 still open


def test_case_11_partial_by_number_then_the_rest() -> None:
    index = build_index([inv(111, "LV-2026-1201", 11, 50000)], [CustomerInfo(11, "Līga Ozoliņa")])
    first, second = match_payments(
        [
            pay("Q-0001", 20000, payer_name="Līga Ozoliņa", payer_iban="LV20RIKO0000083012345",
                texts=("Avanss rēķinam LV-2026-1201",)),
            pay("Q-0002", 30000, payer_name="Līga Ozoliņa", texts=("LV-2026-1201",)),
        ],
        index,
    )
    assert first.decision == "apply" and first.best is not None
    assert first.best.confidence == 86  # number 80 + partial 0 + same name 6
    assert first.best.allocations == (Allocation(111, 20000),)
    assert second.decision == "apply" and second.best is not None
    assert second.best.allocations == (Allocation(111, 30000),)
    assert index.open_amount(111) == 0


def test_case_12_amount_alone_is_not_applied() -> None:
    [result] = match(
        [pay("W-0001", 30000, payer_name="Kovalenko Oleg", payer_iban="LV87HABA0551012345678",
             end_to_end_id="NOTPROVIDED", texts=("Ref 712219",))],
        [inv(121, "LV-2026-1301", 12, 30000, rf="RF27900619")],
        [CustomerInfo(12, "SIA Zaļā Birzs")],
    )
    assert result.decision == "unmatched"
    assert result.best is None
    [weak] = result.alternatives
    assert weak.invoice_ids == (121,)
    assert weak.confidence == 20  # amount only 30, quotes a reference we do not know -10
    assert [r.code for r in weak.reasons] == ["amount_only", "foreign_reference"]
