"""The pure parts of pay links: the fee's rounding, the payment state table, the
catalogs of the payer's pages, the receipt email."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paylinks import i18n
from paylinks.fees import fee_minor, month_bounds
from paylinks.pages import receipt_email
from paylinks.states import ACTIVE, FINAL, MOVES, State, TransitionError, advance
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("amount, rate, fee", [(12100, 100, 121), (50, 100, 1), (49, 100, 0), (150, 100, 2),
                                               (149, 100, 1), (1, 100, 0), (0, 100, 0), (99_999_999, 100, 1_000_000),
                                               (12345, 250, 309), (12345, 0, 0), (-12100, 100, -121)])
def test_the_fee_is_rounded_half_up_to_the_cent(amount: int, rate: int, fee: int) -> None:
    assert fee_minor(amount, rate) == fee


@given(st.integers(min_value=-10**12, max_value=10**12), st.integers(min_value=0, max_value=10_000))
def test_the_fee_is_what_decimal_arithmetic_says(amount: int, rate: int) -> None:
    exact = (Decimal(abs(amount)) * rate / 10_000).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert fee_minor(amount, rate) == (int(exact) if amount >= 0 else -int(exact))


def test_fee_rates_and_months_are_checked() -> None:
    with pytest.raises(ValueError):
        fee_minor(100, 10_001)
    assert month_bounds("2026-11") == (2026, 11)
    for bad in ("2026-13", "26-11", "2026-1", "november", "2026-11-01"):
        with pytest.raises(ValueError, match="is not a month"):
            month_bounds(bad)


def test_moves_are_idempotent_and_final_states_are_final() -> None:
    assert advance(State.CREATED, State.AWAITING_SCA)
    assert not advance(State.AWAITING_SCA, State.AWAITING_SCA)  # a second callback: nothing to do
    assert not advance(State.SETTLED, State.SETTLED)
    for final in FINAL:
        assert MOVES[final] == frozenset()
        for target in State:
            if target != final:
                with pytest.raises(TransitionError):
                    advance(final, target)
    with pytest.raises(TransitionError, match="a authorised payment cannot become created"):
        advance(State.AUTHORISED, State.CREATED)
    assert advance(State.SETTLED, State.FAILED)  # the bank reversed the credit
    assert all(State.FAILED in MOVES[s] for s in ACTIVE)


def test_every_message_of_the_payer_pages_is_translated(tmp_path: Path) -> None:
    """Extract with Babel (as a translator would) and find each message in every catalog."""
    pot = tmp_path / "messages.pot"
    done = subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "paylinks/babel.cfg",
                           "-k", "N_", "-o", str(pot), "."], cwd=REPO_ROOT, capture_output=True, text=True)
    if done.returncode != 0:  # older Babel has no module entry point: use the script
        done = subprocess.run([str(Path(sys.executable).with_name("pybabel")), "extract", "-F", "paylinks/babel.cfg",
                               "-k", "N_", "-o", str(pot), "."], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    from babel.messages.pofile import read_po

    with pot.open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    assert len(wanted) > 40
    for language in ("lv", "et", "lt", "ru"):
        with (i18n.LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
            catalog = read_po(f)
        missing = sorted(m for m in wanted if not (catalog.get(m) and catalog.get(m).string))  # type: ignore[union-attr]
        assert not missing, f"{language}: {missing}"
        unused = sorted(m.id for m in catalog if m.id and m.id not in wanted)
        assert not unused, f"{language} translates messages nobody uses: {unused}"
        for message in catalog:
            if message.id:
                assert message.string.count("%(") == message.id.count("%("), (language, message.id)


@pytest.mark.parametrize("language, subject, thanks, amount", [
    ("lv", "Kvīts par rēķinu INV-1", "Paldies par jūsu maksājumu SIA Veikals.", "121,00\xa0€"),
    ("et", "Kviitung arve INV-1 eest", "Täname teid makse eest ettevõttele SIA Veikals.", "121,00\xa0€"),
    ("lt", "Kvitas už sąskaitą INV-1", "Ačiū už jūsų mokėjimą SIA Veikals.", "121,00\xa0€"),
    ("en", "Receipt for invoice INV-1", "Thank you for your payment to SIA Veikals.", "€121.00"),
    ("ru", "Квитанция по счёту INV-1", "Спасибо за ваш платёж в пользу SIA Veikals.", "121,00\xa0€")])
def test_the_receipt_email_in_five_languages(language: str, subject: str, thanks: str, amount: str) -> None:
    got_subject, body = receipt_email(language, "SIA Veikals", "INV-1", 12100, "EUR", "Dzintara Banka", "KV0001",
                                      date(2026, 12, 4))
    assert got_subject == subject
    assert body.startswith(thanks) and amount in body and "KV0001" in body and "Dzintara Banka" in body
    assert "2026" in body and "{" not in body and "%(" not in body
