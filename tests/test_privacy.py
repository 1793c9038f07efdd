from __future__ import annotations

import polars as pl
import pytest

from analysis.privacy import scrub_column, scrub_contacts, scrub_text


@pytest.mark.parametrize(
    ("raw", "gone", "kept"),
    [
        ("write to jan.peeters@example.be please", ["jan.peeters@example.be"], ["please"]),
        ("call 0470/12.34.56 or +32 2 345 67 89", ["0470", "345 67 89"], ["call"]),
        ("Maximilien, de Perwez: TV still down", ["Maximilien"], ["Perwez", "TV still down"]),
        ("Groeten, Koen Peeters", ["Koen", "Peeters"], ["Groeten"]),
        ("M. Dupont à Liège n'a plus la télé", ["Dupont"], ["Liège"]),
        ("my name is Sarah and the decoder is dead", ["Sarah"], ["decoder is dead"]),
        ("IBAN BE68 5390 0754 7034 for the refund", ["5390"], ["refund"]),
    ],
)
def test_personal_data_is_removed(raw: str, gone: list[str], kept: list[str]) -> None:
    out = scrub_text(raw)
    assert out is not None
    for g in gone:
        assert g not in out
    for k in kept:
        assert k in out


@pytest.mark.parametrize(
    "raw",
    [
        "TV down at 20:15 on 2018-01-08 in Saint-Ghislain and Ans",
        "reports peaked at 739 on 9 Jan",
        "postal code 1348 Louvain-la-Neuve",
        "Sint-Martens-Latem and Braine-le-Château",
    ],
)
def test_places_dates_and_times_survive(raw: str) -> None:
    assert scrub_text(raw) == raw


def test_contacts_only_keeps_capitalised_place_words() -> None:
    assert scrub_contacts("Perwez (tel 0470 12 34 56)") == "Perwez (tel [phone])"
    assert scrub_contacts(None) is None


def test_scrub_column_maps_each_distinct_value() -> None:
    s = pl.Series("text", ["mail a@b.be", None, "mail a@b.be", "ok"])
    assert scrub_column(s).to_list() == ["mail [email]", None, "mail [email]", "ok"]
