"""Properties of any matching run: money is never created or lost."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.engine import build_index, match_payments
from reconciliation.model import CustomerInfo, IncomingPayment, OpenInvoice

CUSTOMERS = [
    CustomerInfo(1, "SIA Acme", ("LV80BANK0000435195001",)),
    CustomerInfo(2, "Beta Ltd", ("LT121000011101001000",)),
    CustomerInfo(3, "Oleg Kovalenko"),
]
RFS = ["RF18539007547034", "RF6720261002", "RF9420261001", "RF06INV1001", "RF27900619"]

amounts = st.integers(min_value=1, max_value=50_000)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[OpenInvoice], list[IncomingPayment]]:
    n = draw(st.integers(min_value=1, max_value=8))
    invoices = []
    for i in range(n):
        total = draw(amounts)
        open_minor = draw(st.integers(min_value=1, max_value=total))
        day = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 60)))
        invoices.append(
            OpenInvoice(
                id=i + 1,
                number=f"LV-2026-{i + 1:04d}",
                customer_id=draw(st.sampled_from([1, 2, 3])),
                currency=draw(st.sampled_from(["EUR", "EUR", "USD"])),
                total_minor=total,
                open_minor=open_minor,
                issue_date=day,
                due_date=day + timedelta(days=30),
                rf_reference=RFS[i] if i < len(RFS) else None,
            )
        )
    open_amounts = [i.open_minor for i in invoices]
    payments = []
    for k in range(draw(st.integers(min_value=1, max_value=8))):
        amount = draw(st.one_of(amounts, st.sampled_from(open_amounts), st.just(sum(open_amounts[:2]))))
        texts = draw(st.lists(st.sampled_from(
            ["Rēķins LV-2026-0001", "LV 2026 0002", "RF94 2026 1001", "inv 3", "2026-11-03", "Ref 712219", ""]
        ), max_size=2))
        refs = draw(st.lists(st.sampled_from(RFS), max_size=1))
        payments.append(
            IncomingPayment(
                key=f"p{k}",
                amount_minor=amount,
                currency=draw(st.sampled_from(["EUR", "USD"])),
                payer_name=draw(st.sampled_from([None, "SIA Acme", "Олег Коваленко", "Beta"])),
                payer_iban=draw(st.sampled_from([None, "LV80BANK0000435195001", "LT121000011101001000"])),
                creditor_references=tuple(refs),
                texts=tuple(texts),
            )
        )
    return invoices, payments


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_allocations_never_exceed_open_and_add_up(data: tuple[list[OpenInvoice], list[IncomingPayment]]) -> None:
    invoices, payments = data
    by_id = {i.id: i for i in invoices}
    index = build_index(invoices, CUSTOMERS)
    paid: dict[int, int] = defaultdict(int)
    for payment, result in zip(payments, match_payments(payments, index), strict=True):
        assert result.payment_key == payment.key
        assert result.decision in ("apply", "suggest", "unmatched")
        candidates = ([result.best] if result.best else []) + list(result.alternatives)
        for c in candidates:
            assert 0 <= c.confidence <= 100
            assert c.confidence == sum(r.points for r in c.reasons)
            assert all(a.amount_minor > 0 for a in c.allocations)
            assert sum(a.amount_minor for a in c.allocations) + c.overpayment_minor == payment.amount_minor
            assert c.overpayment_minor >= 0
            assert all(by_id[a.invoice_id].currency == payment.currency for a in c.allocations)
            assert len({by_id[a.invoice_id].customer_id for a in c.allocations}) == 1
        if result.decision == "apply":
            assert result.best is not None and result.best.confidence >= 85
            for a in result.best.allocations:
                paid[a.invoice_id] += a.amount_minor
    for inv_id, amount in paid.items():
        assert amount <= by_id[inv_id].open_minor
        assert index.open_amount(inv_id) == by_id[inv_id].open_minor - amount
