"""Engine unit tests: each kind of evidence, its traps, consumption and the decision rule."""

from __future__ import annotations

from datetime import date, timedelta

from reconciliation.engine import build_index, match, match_payments
from reconciliation.model import (
    Allocation,
    PayerAlias,
    CustomerInfo,
    IncomingPayment,
    MatchResult,
    MatchSettings,
    OpenInvoice,
)

DAY0 = date(2026, 9, 1)


def inv(
    id: int,
    number: str,
    customer_id: int,
    open_minor: int,
    rf: str | None = None,
    currency: str = "EUR",
    age_days: int = 0,
    e2e: tuple[str, ...] = (),
) -> OpenInvoice:
    issued = DAY0 + timedelta(days=age_days)
    return OpenInvoice(
        id, number, customer_id, currency, open_minor, open_minor, issued, issued + timedelta(days=30), rf, e2e
    )


def pay(amount_minor: int, key: str = "t1", currency: str = "EUR", **kw: object) -> IncomingPayment:
    return IncomingPayment(key=key, amount_minor=amount_minor, currency=currency, **kw)  # type: ignore[arg-type]


def codes(result: MatchResult) -> list[str]:
    return [r.code for r in result.reasons]


def applied(result: MatchResult) -> tuple[Allocation, ...]:
    assert result.decision == "apply", (result.decision, result.best, result.alternatives)
    assert result.best is not None
    return result.best.allocations


ACME = CustomerInfo(1, "SIA Acme", ("LV80BANK0000435195001",))
BETA = CustomerInfo(2, "Beta Ltd", ("LT121000011101001000",))
OLEG = CustomerInfo(3, "Oleg Kovalenko")
CUSTOMERS = [ACME, BETA, OLEG]


# ---------------------------------------------------------------- confidence bookkeeping


def test_confidence_is_the_sum_of_reason_points() -> None:
    [r] = match([pay(10000, texts=("Rēķins A-77",), payer_name="SIA Acme")], [inv(1, "A-77", 1, 10000)], CUSTOMERS)
    assert r.best is not None
    assert r.best.confidence == sum(x.points for x in r.best.reasons) == 96


# ---------------------------------------------------------------- end-to-end id and RF


def test_end_to_end_id_of_a_pay_link_applies() -> None:
    invoices = [inv(1, "A-1", 1, 5000, e2e=("PL-8F2K",)), inv(2, "A-2", 1, 5000)]
    [r] = match([pay(5000, end_to_end_id="pl-8f2k")], invoices, CUSTOMERS)
    assert applied(r) == (Allocation(1, 5000),)
    assert codes(r)[0] == "e2e_id"


def test_notprovided_end_to_end_id_is_ignored() -> None:
    invoices = [inv(1, "A-1", 1, 5000, e2e=("NOTPROVIDED",))]
    [r] = match([pay(5000, end_to_end_id="NOTPROVIDED")], invoices, CUSTOMERS)
    assert "e2e_id" not in codes(r)
    assert r.decision != "apply"


def test_rf_in_free_text_with_prefix_and_overpayment() -> None:
    [r] = match(
        [pay(26000, texts=("apmaksa:rf18 5390 0754 7034, paldies",))],
        [inv(1, "A-1", 1, 24000, rf="RF18539007547034")],
        CUSTOMERS,
    )
    assert applied(r) == (Allocation(1, 24000),)
    assert r.best is not None and r.best.overpayment_minor == 2000
    assert r.best.confidence == 90  # RF text 93, overpaid -3
    assert codes(r) == ["rf_text", "amount_over"]


def test_rf_with_bad_checksum_is_no_evidence() -> None:
    [r] = match([pay(24000, texts=("RF19 5390 0754 7034",))], [inv(1, "A-1", 1, 24000, rf="RF18539007547034")], CUSTOMERS)
    assert r.decision != "apply"
    assert "rf_text" not in codes(r)


def test_rf_reference_against_known_iban_of_other_customer_lowers_confidence() -> None:
    invoices = [inv(1, "A-1", 1, 24000, rf="RF18539007547034")]
    [exact] = match([pay(24000, creditor_references=("RF18539007547034",), payer_iban="LT12 1000 0111 0100 1000")], invoices, CUSTOMERS)
    assert exact.best is not None and exact.best.confidence == 90  # 95 + 10 - 15: still applied
    [partial] = match([pay(20000, creditor_references=("RF18539007547034",), payer_iban="LT121000011101001000")], invoices, CUSTOMERS)
    assert partial.decision == "suggest" and partial.confidence == 80
    assert "iban_other_customer" in codes(partial)


def test_currency_mismatch_never_pays() -> None:
    invoices = [inv(1, "A-1", 1, 24000, rf="RF18539007547034", currency="EUR")]
    [r] = match([pay(24000, currency="USD", creditor_references=("RF18539007547034",), payer_iban=ACME.ibans[0])], invoices, CUSTOMERS)
    assert r.decision == "unmatched" and r.alternatives == ()


# ---------------------------------------------------------------- invoice numbers


def test_number_with_leading_zeros_and_invoice_prefix() -> None:
    [r] = match([pay(1200, texts=("INV-0012",), payer_name="SIA Acme")], [inv(1, "12", 1, 1200)], CUSTOMERS)
    assert applied(r) == (Allocation(1, 1200),)
    assert r.best is not None and r.best.confidence == 86  # short number after INV 70, amount 10, name 6


def test_short_number_without_invoice_word_is_no_evidence() -> None:
    [r] = match([pay(1200, texts=("2 pcs, 12 boxes",), payer_name="SIA Acme")], [inv(1, "12", 1, 1200)], CUSTOMERS)
    assert "number_exact" not in codes(r) and r.decision != "apply"


def test_cyrillic_invoice_word() -> None:
    invoices = [inv(1, "15", 3, 7000), inv(2, "16", 3, 7000)]
    [r] = match([pay(7000, texts=("Оплата, Счёт № 15",), payer_name="Олег Коваленко")], invoices, CUSTOMERS)
    assert applied(r) == (Allocation(1, 7000),)


def test_number_is_not_taken_for_its_prefix_invoice() -> None:
    invoices = [inv(1, "LV-2026-1", 1, 5000), inv(2, "LV-2026-10", 1, 5000)]
    [r] = match([pay(5000, texts=("rek LV-2026-10",))], invoices, CUSTOMERS)
    assert applied(r) == (Allocation(2, 5000),)
    assert all(1 not in c.invoice_ids for c in r.alternatives if c.confidence >= 25 and "number_exact" in [x.code for x in c.reasons])


def test_date_in_text_is_not_an_invoice_number() -> None:
    [r] = match([pay(5000, texts=("paid 2026-11-03",))], [inv(1, "2026-1103", 1, 9900)], CUSTOMERS)
    assert r.decision == "unmatched"


def test_amount_and_iban_digits_in_text_are_not_numbers() -> None:
    invoices = [inv(1, "24000", 1, 9900), inv(2, "0551012345678", 1, 9900)]
    [r] = match([pay(5000, texts=("240.00 from LV87HABA0551012345678",))], invoices, CUSTOMERS)
    assert r.decision == "unmatched"


def test_typo_in_number_is_only_a_suggestion() -> None:
    [r] = match([pay(5000, texts=("LV-2026-1201",))], [inv(1, "LV-2026-1210", 2, 5000)], CUSTOMERS)
    assert r.decision == "suggest"
    assert codes(r)[0] == "number_fuzzy" and r.confidence == 60


def test_number_needs_the_amount_or_the_payer_to_agree() -> None:
    # number 80 + exact amount 10: applied even from an unknown payer
    [r] = match([pay(5000, texts=("LV-2026-1201",))], [inv(1, "LV-2026-1201", 2, 5000)], CUSTOMERS)
    assert r.decision == "apply" and r.confidence == 90
    [p] = match([pay(4000, texts=("LV-2026-1201",))], [inv(1, "LV-2026-1201", 2, 5000)], CUSTOMERS)
    assert p.decision == "suggest" and p.confidence == 80  # partial with nobody agreeing


def test_two_invoice_numbers_and_their_sum() -> None:
    invoices = [inv(1, "A-101", 1, 3000, age_days=0), inv(2, "A-102", 1, 2000, age_days=5)]
    [r] = match([pay(5000, texts=("Rēķini A-101, A-102",), payer_name="SIA Acme")], invoices, CUSTOMERS)
    assert applied(r) == (Allocation(1, 3000), Allocation(2, 2000))
    assert "amount_sum" in codes(r)


# ---------------------------------------------------------------- payer identification


def test_known_iban_and_unique_exact_amount_applies() -> None:
    invoices = [inv(1, "A-1", 1, 5000), inv(2, "A-2", 1, 7000), inv(3, "B-1", 2, 5000)]
    [r] = match([pay(5000, payer_iban="LV80 BANK 0000 4351 9500 1")], invoices, CUSTOMERS)
    assert applied(r) == (Allocation(1, 5000),)
    assert r.best is not None and r.best.confidence == 88
    assert codes(r) == ["iban_known", "amount_exact"]
    assert r.customer_id == 1


def test_known_iban_with_two_equal_invoices_is_ambiguous() -> None:
    invoices = [inv(1, "A-1", 1, 5000), inv(2, "A-2", 1, 5000, age_days=3)]
    [r] = match([pay(5000, payer_iban=ACME.ibans[0])], invoices, CUSTOMERS)
    assert r.decision == "suggest" and r.confidence == 84
    assert codes(r)[-1] == "ambiguous"
    assert r.best is not None and r.best.invoice_ids == (1,)  # the oldest is proposed


def test_strong_name_and_exact_amount_is_only_a_suggestion() -> None:
    [r] = match([pay(5000, payer_name="ACME, SIA")], [inv(1, "A-1", 1, 5000)], CUSTOMERS)
    assert r.decision == "suggest" and r.confidence == 78


def test_cyrillic_payer_name_matches_latin_customer() -> None:
    [r] = match([pay(5000, payer_name="Олег Коваленко")], [inv(1, "O-1", 3, 5000), inv(2, "X-1", 2, 5000)], CUSTOMERS)
    assert r.best is not None and r.best.invoice_ids == (1,)
    assert r.customer_id == 3
    assert any(x.code == "name_similar" and "(100)" in x.detail for x in r.best.reasons)


def test_two_customers_with_the_same_name() -> None:
    customers = [CustomerInfo(1, "Jānis Bērziņš"), CustomerInfo(2, "Janis Berzins")]
    invoices = [inv(1, "J-1", 1, 5000), inv(2, "J-2", 2, 5000)]
    [r] = match([pay(5000, payer_name="JANIS BERZINS")], invoices, customers)
    assert r.decision == "suggest" and r.customer_id is None
    # the number tells them apart
    [n] = match([pay(5000, payer_name="JANIS BERZINS", texts=("J-2",))], invoices, customers)
    assert applied(n) == (Allocation(2, 5000),)


def test_amount_only_is_at_most_a_low_suggestion() -> None:
    [r] = match([pay(5000, payer_name="Somebody Else")], [inv(1, "A-1", 1, 5000)], CUSTOMERS)
    assert r.decision == "suggest" and r.confidence == 30
    assert codes(r) == ["amount_only"]


# ---------------------------------------------------------------- amounts and consumption


def test_two_full_payments_do_not_both_pay_one_invoice() -> None:
    index = build_index([inv(1, "A-1", 1, 5000, rf="RF18539007547034")], CUSTOMERS)
    p = pay(5000, creditor_references=("RF18539007547034",))
    first, second = match_payments([p, IncomingPayment("t2", 5000, "EUR", creditor_references=("RF18539007547034",))], index)
    assert applied(first) == (Allocation(1, 5000),)
    assert second.decision == "unmatched"
    assert index.open_amount(1) == 0


def test_several_payments_for_one_invoice() -> None:
    index = build_index([inv(1, "A-1", 1, 10000, rf="RF18539007547034")], CUSTOMERS)
    ps = [IncomingPayment(f"t{n}", 4000, "EUR", creditor_references=("RF18539007547034",)) for n in range(3)]
    results = match_payments(ps, index)
    assert [r.best.allocations for r in results if r.best] == [
        (Allocation(1, 4000),), (Allocation(1, 4000),), (Allocation(1, 2000),)
    ]
    assert results[2].best is not None and results[2].best.overpayment_minor == 2000


def test_one_payment_for_all_open_invoices_of_a_known_payer() -> None:
    invoices = [inv(1, "A-1", 1, 3000, age_days=0), inv(2, "A-2", 1, 2000, age_days=1), inv(3, "A-3", 1, 1500, age_days=2)]
    [r] = match([pay(6500, payer_iban=ACME.ibans[0])], invoices, CUSTOMERS)
    assert applied(r) == (Allocation(1, 3000), Allocation(2, 2000), Allocation(3, 1500))
    assert r.best is not None and r.best.confidence == 86


def test_oldest_invoices_subset_is_suggested() -> None:
    invoices = [inv(1, "A-1", 1, 3000, age_days=0), inv(2, "A-2", 1, 2000, age_days=1), inv(3, "A-3", 1, 1500, age_days=2)]
    [r] = match([pay(5000, payer_iban=ACME.ibans[0])], invoices, CUSTOMERS)
    assert r.decision == "suggest" and r.confidence == 84
    assert r.best is not None and r.best.invoice_ids == (1, 2)


def test_subset_search_is_bounded() -> None:
    invoices = [inv(n, f"A-{n}", 1, 1000 + n, age_days=n) for n in range(1, 40)]
    settings = MatchSettings(max_subset_invoices=5)
    [r] = match([pay(1038 + 1039, payer_iban=ACME.ibans[0])], invoices, CUSTOMERS, settings)
    assert r.best is None or set(r.best.invoice_ids) != {38, 39}  # beyond the bound: not searched


def test_overpayment_of_everything_open_is_a_suggestion_with_credit() -> None:
    [r] = match([pay(6000, payer_iban=ACME.ibans[0])], [inv(1, "A-1", 1, 5000)], CUSTOMERS)
    assert r.decision == "suggest" and r.best is not None
    assert r.best.allocations == (Allocation(1, 5000),) and r.best.overpayment_minor == 1000


def test_suggestions_do_not_consume() -> None:
    index = build_index([inv(1, "A-1", 1, 5000)], CUSTOMERS)
    [r] = match_payments([pay(5000, payer_name="SIA Acme")], index)
    assert r.decision == "suggest" and index.open_amount(1) == 5000


def test_non_positive_payment_is_unmatched() -> None:
    [r] = match([pay(0, creditor_references=("RF18539007547034",))], [inv(1, "A-1", 1, 5000, rf="RF18539007547034")], CUSTOMERS)
    assert r.decision == "unmatched"


def test_double_payment_of_a_paid_invoice_does_not_pay_its_twin() -> None:
    # A-1 is paid already; the customer pays it again quoting its number. Its twin A-2 has
    # the same amount, but the payer said A-1: a person decides
    index = build_index([inv(1, "LV-2026-0001", 1, 5000), inv(2, "LV-2026-0002", 1, 5000, age_days=1)], CUSTOMERS)
    p1 = pay(5000, key="t1", texts=("LV-2026-0001",), payer_iban=ACME.ibans[0])
    p2 = pay(5000, key="t2", texts=("LV-2026-0001",), payer_iban=ACME.ibans[0])
    first, second = match_payments([p1, p2], index)
    assert applied(first) == (Allocation(1, 5000),)
    assert second.decision == "suggest" and second.confidence == 78  # IBAN 60 + amount 28 - 10
    assert "foreign_reference" in codes(second)
    assert index.open_amount(2) == 5000


def test_number_shaped_like_ours_but_unknown_blocks_amount_guess() -> None:
    # the payer quotes an invoice number we do not have open (paid before this import)
    [r] = match([pay(5000, texts=("LV-2026-0999",), payer_iban=ACME.ibans[0])], [inv(1, "LV-2026-0001", 1, 5000)], CUSTOMERS)
    assert r.decision == "suggest" and "foreign_reference" in codes(r)


def test_bank_truncated_payer_name_identifies_the_customer() -> None:
    customer = CustomerInfo(7, "SIA Latvijas Starptautiskā Transporta un Loģistikas Kompānija")
    [r] = match([pay(5000, payer_name=customer.name[:35], texts=("LV-2026-0701",))], [inv(1, "LV-2026-0701", 7, 5000)], [customer])
    assert applied(r) == (Allocation(1, 5000),)
    assert r.customer_id == 7


def test_a_price_many_invoices_share_stays_indexed_in_order_while_paid_off() -> None:
    # 40 invoices of 10.00 for one customer: the amount bucket outgrows a small list
    invoices = [inv(i, f"S-{i}", 3, 1000, age_days=i) for i in range(1, 41)]
    index = build_index(invoices, CUSTOMERS)
    paid_first = [pay(1000, key=f"t{i}", texts=(f"Rēķins S-{i}",), payer_name="Oleg Kovalenko") for i in (40, 7, 1)]
    results = match_payments(paid_first, index)
    assert [applied(r)[0].invoice_id for r in results] == [40, 7, 1]
    left = [i for i in range(2, 40) if i != 7]
    assert list(index.by_amount[("EUR", 1000)]) == left
    assert list(index.by_customer_amount[(3, "EUR", 1000)]) == left
    # a name and an amount shared by 37 invoices: the oldest is proposed, nothing applied
    [r] = match_payments([pay(1000, key="t-any", payer_name="Oleg Kovalenko")], index)
    assert r.decision == "suggest" and r.best is not None and r.best.invoice_ids == (2,)
    for i in left:
        index.consume(i, 1000)
    assert ("EUR", 1000) not in index.by_amount and (3, "EUR", 1000) not in index.by_customer_amount


# ---------------------------------------------------------------- conflicting evidence


def test_rf_of_one_invoice_and_number_of_another_with_neither_amount_is_for_a_person() -> None:
    """'RF of A, INV of B', 250.00 - A is 100.00 open, B 250.00: applying 250.00 to A
    (150.00 as A's credit) would be a wrong 'paid' for B's payer."""
    from invoices.references import rf_for_invoice

    rf_a = rf_for_invoice(1, "INV-2026-0101")
    invoices = [inv(1, "INV-2026-0101", 1, 10000, rf=rf_a), inv(2, "INV-2026-0110", 2, 25000)]
    [r] = match([pay(25000, texts=(f"{rf_a} INV-2026-0110",), payer_name="X")], invoices, CUSTOMERS)
    assert r.decision == "suggest" and "other_invoice_named" in codes(r)
    # the RF alone with A's exact amount still applies at once
    [r] = match([pay(10000, texts=(f"{rf_a} INV-2026-0110",), payer_name="X")], invoices, CUSTOMERS)
    assert applied(r)[0].invoice_id == 1


def test_a_number_quoted_by_a_payer_named_as_another_customer_is_for_a_person() -> None:
    invoices = [inv(1, "INV-2026-0101", 1, 10000), inv(2, "INV-2026-1010", 2, 10000)]
    [r] = match([pay(10000, texts=("INV-2026-0101",), payer_name="BETA LTD")], invoices, CUSTOMERS)
    assert r.decision == "suggest" and "name_of_other_customer" in codes(r)
    [r] = match([pay(10000, texts=("INV-2026-0101",), payer_name="Some Stranger")], invoices, CUSTOMERS)
    assert applied(r)[0].invoice_id == 1


# ---------------------------------------------------------------- what a person taught


def test_a_confirmed_payer_name_is_as_good_as_the_customers_own() -> None:
    """Jānis Bērziņš pays for SIA Acme, no reference: before anybody confirmed him, his
    name says nothing about Acme; after, it counts as Acme's own name - a suggestion
    for Acme (a name is no proof: namesakes), and with the IBAN the same confirmation
    taught, applied by itself."""
    from dataclasses import replace

    invoices = [inv(1, "A-1", 1, 12100), inv(2, "B-1", 2, 12100)]
    payment = pay(12100, payer_name="BERZINS JANIS", payer_iban="LV97HABA0012345678910")
    [before] = match([payment], invoices, CUSTOMERS)
    assert before.decision != "apply" and "name_similar" not in codes(before)
    alias = PayerAlias("Jānis Bērziņš", "LV97 HABA 0012 3456 7891 0")
    taught = [replace(ACME, aliases=(alias,)), BETA, OLEG]
    [after] = match([payment], invoices, taught)
    assert after.decision == "suggest" and after.best is not None and after.best.invoice_ids == (1,)
    assert "name_similar" in codes(after)
    # the same name from another account is most likely a namesake: not Acme's payer
    [other] = match([replace(payment, payer_iban="LV80BANK0000435195001X")], invoices, taught)
    assert "name_similar" not in codes(other)
    # a name confirmed from a payment without an account counts only without one
    taught_blind = [replace(ACME, aliases=("Jānis Bērziņš",)), BETA, OLEG]
    [r] = match([payment], invoices, taught_blind)
    assert "name_similar" not in codes(r)
    [r] = match([replace(payment, payer_iban=None)], invoices, taught_blind)
    assert "name_similar" in codes(r)
    taught = [replace(ACME, aliases=(alias,), ibans=(*ACME.ibans, "LV97HABA0012345678910")), BETA, OLEG]
    [learned] = match([payment], invoices, taught)
    assert applied(learned)[0].invoice_id == 1


def test_a_rejected_payer_is_held_back_for_that_customer() -> None:
    from dataclasses import replace

    from reconciliation.engine import payer_key

    invoices = [inv(1, "A-1", 1, 12100)]
    # a known IBAN and the exact amount: applied, until a person said it is not Acme's payer
    payment = pay(12100, payer_name="SIA Acme", payer_iban="LV80BANK0000435195001")
    [before] = match([payment], invoices, CUSTOMERS)
    assert applied(before)
    taught = [replace(ACME, not_payers=(payer_key("iban", "LV80 BANK 0000 4351 9500 1"),)), BETA, OLEG]
    [after] = match([payment], invoices, taught)
    assert after.decision != "apply" and "rejected_before" in codes(after)


def test_the_same_name_applies_only_with_an_amount_nobody_else_owes() -> None:
    """Name + exact amount is a suggestion; with cents and no other open invoice at that
    amount (1234.56), applied. A round or shared amount stays a suggestion."""
    [r] = match([pay(123456, payer_name="OLEG KOVALENKO")], [inv(1, "A-1", 3, 123456)], CUSTOMERS)
    assert applied(r)[0].invoice_id == 1 and "amount_distinctive" in codes(r)
    [r] = match([pay(100000, payer_name="OLEG KOVALENKO")], [inv(1, "A-1", 3, 100000)], CUSTOMERS)
    assert r.decision == "suggest"  # 1000.00: a round amount proves nothing
    shared = [inv(1, "A-1", 3, 123456), inv(2, "B-1", 2, 123456)]
    [r] = match([pay(123456, payer_name="OLEG KOVALENKO")], shared, CUSTOMERS)
    assert r.decision == "suggest"  # another customer owes 1234.56 too
    [r] = match([pay(123456, payer_name="Someone Else")], [inv(1, "A-1", 3, 123456)], CUSTOMERS)
    assert r.decision != "apply"  # the amount alone, whoever pays


def test_a_slip_in_the_number_that_names_another_open_invoice_is_not_applied() -> None:
    """'INV-2026-03831' written for INV-2026-03731 (29.33, this payer's), while 03831 is
    someone else's open 34.95: not a partial payment of 03831 - a person decides, with
    the typo neighbour that the amount pays exactly among the candidates."""
    namesakes = [CustomerInfo(4, "Jonas Sakalauskas"), CustomerInfo(5, "Jonas Sakalauskas")]
    invoices = [inv(1, "INV-2026-03731", 4, 2933), inv(2, "INV-2026-03831", 5, 3495)]
    [r] = match([pay(2933, texts=("Rēķins INV-2026-03831",), payer_name="JONAS SAKALAUSKAS")], invoices, namesakes)
    assert r.decision == "suggest", r
    assert {c.invoice_ids for c in (r.best, *r.alternatives) if c is not None} >= {(1,), (2,)}
    # the number right, the amount a part: an ordinary partial payment, applied
    [r] = match([pay(2000, texts=("Rēķins INV-2026-03731",), payer_name="JONAS SAKALAUSKAS")], invoices, namesakes)
    assert applied(r)[0] == Allocation(1, 2000)


def test_a_quoted_number_that_is_no_open_invoice_says_nothing_about_others() -> None:
    """Found by attacking: INV-2026-02026 was indexed as 'INV2026', and every text
    quoting another INV-2026-… (a paid one, a wrong one) applied to it at 90."""
    invoices = [inv(1, "INV-2026-02026", 1, 5000), inv(2, "INV-2026-00500", 2, 9900)]
    for text in ("INV-2026-00012", "Apmaksa INV-2026-13", "Payment 2026"):
        [r] = match([pay(5000, texts=(text,), payer_name="Gamma UAB")], invoices, CUSTOMERS)
        assert r.decision != "apply", (text, r)
    [r] = match([pay(5000, texts=("INV-2026-2026",), payer_name="Gamma UAB")], invoices, CUSTOMERS)
    assert applied(r)[0].invoice_id == 1  # the number itself, zeros dropped: still found
