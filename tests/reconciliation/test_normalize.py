from __future__ import annotations

import pytest

from reconciliation.normalize import name_similarity, normalize_name


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("SIA Rīgas Maiznīca", "maiznica rigas"),
        ("Rīgas Maiznīca SIA", "maiznica rigas"),
        ('SIA "Kalnu Ceļš"', "cels kalnu"),
        ("ООО «Ромашка»", "romashka"),
        ("Олег Коваленко", "kovalenko oleg"),
        ("Tamm & Pojad OÜ", "pojad tamm"),
        ("UAB Žalgiris", "zalgiris"),
        ("Firma Sp. z o.o.", "firma"),
        ("ACME Ltd.", "acme"),
        ("Müller GmbH", "muller"),
        ("AS", "as"),  # a name that is only a legal form stays a name
    ],
)
def test_normalize_name(raw: str, normalized: str) -> None:
    assert normalize_name(raw) == normalized


def test_same_names_in_any_form_score_100() -> None:
    assert name_similarity("SIA Rīgas Maiznīca", "Rīgas Maiznīca SIA") == 100
    assert name_similarity("Kovalenko Oleg", "Oleg Kovalenko") == 100
    assert name_similarity("Олег Коваленко", "Oleg Kovalenko") == 100
    assert name_similarity("GEDIMINAS ZUKAUSKAS", "Gediminas Žukauskas") == 100


def test_different_names_score_low() -> None:
    assert name_similarity("Kovalenko Oleg", "SIA Zaļā Birzs") < 40
    assert name_similarity("Ilze Kalniņa", "SIA Kalnu Ceļš") < 82


def test_small_spelling_difference_is_weak_not_strong() -> None:
    score = name_similarity("Ilze Kalnina", "Ilze Kalniņš")
    assert 82 <= score < 100


def test_bank_truncated_name_matches_by_prefix() -> None:
    full = "SIA Latvijas Starptautiskā Transporta un Loģistikas Kompānija"
    truncated = full[:35]
    assert name_similarity(truncated, full) == 100
    # a short name is not treated as truncated: "SIA Latvijas" is not every Latvian company
    assert name_similarity("SIA Latvijas", full) < 82


def test_empty_names() -> None:
    assert name_similarity("", "Oleg") == 0
