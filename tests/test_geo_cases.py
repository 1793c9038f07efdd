"""The resolver against the labelled place strings in tests/data/geocode_cases.csv."""

from pathlib import Path

import polars as pl

from analysis.geo.evaluate import load_cases, score_cases

CASES = Path(__file__).parent / "data" / "geocode_cases.csv"


def test_labelled_set_is_large_and_covers_every_kind_of_case():
    cases = load_cases(CASES)
    assert cases.height >= 200
    cats = set(cases["category"])
    for needed in (
        "exact_fr",
        "exact_nl",
        "exact_de",
        "exonym",
        "section",
        "typo",
        "postal",
        "postal_in_text",
        "coordinates",
        "foreign",
        "garbage",
    ):
        assert needed in cats, needed


def test_score_on_labelled_places(capsys):
    score = score_cases(load_cases(CASES))
    with capsys.disabled():
        print("\n" + score.summary())
        with pl.Config(tbl_rows=40, fmt_str_lengths=40, tbl_width_chars=200):
            print(score.by_category)
            if score.failures.height:
                print(score.failures.select("category", "place", "expected_nis", "nis_code", "municipality", "geo_method"))
    assert score.belgian_accuracy >= 0.97
    assert score.foreign_unresolved == 1.0


def test_every_place_of_the_default_incident_resolves():
    cases = load_cases(CASES).filter(pl.col("category") == "incident")
    score = score_cases(cases)
    assert score.belgian_accuracy == 1.0, score.failures
