"""Report sections: tables shown to readers carry no raw NaN or machine column names."""

from __future__ import annotations

import math

import polars as pl
import pytest

from analysis.ingest import SourceCounts
from analysis.narrative import after_declaration_sentence
from analysis.quality_report import duplicates_sentence, rejects_by_reason
from analysis.sections import candidates_table


@pytest.fixture
def candidates() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "family": ["exponential", "mixture", "weibull"],
            "n_params": [2, 5, 3],
            "log_likelihood": [59.1156, 71.09, float("nan")],
            "aic": [-114.2311, -132.17, None],
            "akaike_weight": [0.2374, 0.0, 0.1],
            "t50_minutes": [380.627, float("nan"), 816.4],
            "t90_minutes": [1264.41, float("nan"), 1374.07],
            "converged": [True, False, True],
        }
    )


@pytest.mark.parametrize("lang", ["en", "fr", "nl"])
def test_candidate_table_has_readable_headers_and_no_nan(candidates: pl.DataFrame, lang: str) -> None:
    headers, rows = candidates_table(candidates, lang)
    assert len(headers) == 7 and "log L" in headers and "t50 (min)" in headers
    assert not any(h in ("log_likelihood", "n_params", "akaike_weight") for h in headers)
    cells = [c for row in rows for c in row]
    assert not any("nan" in c.lower() for c in cells)
    numbers = ["59.1", "-114.2", "0.237", "380.6", "1264.4"]
    if lang != "en":  # decimal comma in French and Dutch, as everywhere else on those pages
        numbers = [n.replace(".", ",") for n in numbers]
    assert rows[0] == ["exponential", "2", *numbers]


def test_non_converged_family_says_so_instead_of_estimates(candidates: pl.DataFrame) -> None:
    _, rows = candidates_table(candidates, "en")
    mixture = rows[1]
    assert mixture[-2:] == ["not converged", "not converged"]
    assert mixture[4] == "—"  # no weight for a fit that did not converge
    weibull = rows[2]
    assert weibull[2] == "—" and weibull[3] == "—"  # missing numbers are dashes, the row stays
    assert math.isclose(float(weibull[-1]), 1374.1)


def test_tables_without_optional_columns_still_render() -> None:
    headers, rows = candidates_table(pl.DataFrame({"family": ["gamma"], "aic": [1.0]}), "fr")
    assert headers == ["Famille", "AIC"] and rows == [["gamma", "1,0"]]


@pytest.mark.parametrize("lang", ["en", "fr", "nl"])
def test_after_declaration_sentence_mentions_possible_reports_only_when_there_are_some(lang: str) -> None:
    block = {"reports_after": 34, "reports_possibly_after": 21, "municipalities_after": 22, "last_report_hours_after": 47.2}
    with_maybe = after_declaration_sentence(block, lang)
    assert with_maybe is not None and "34" in with_maybe and "21" in with_maybe and "47" in with_maybe
    without = after_declaration_sentence({**block, "reports_possibly_after": 0}, lang)
    assert without is not None and "34" in without and " 0 " not in without and "()" not in without
    assert after_declaration_sentence({}, lang) is None


def test_rejects_by_reason_counts_duplicates_as_one_reason() -> None:
    rejects = pl.DataFrame(
        {
            "row": [9, 3, 7, 4, 12],
            "reason": [
                "duplicate of row 2",
                "unreadable time 'x'",
                "duplicate of row 1",
                "duplicate of row 1",
                "unreadable time 'x'",
            ],
        }
    )
    by = rejects_by_reason(rejects)
    assert by.rows() == [("duplicate of an earlier row", 3, "4, 7, 9"), ("unreadable time 'x'", 2, "3, 12")]
    assert by["rows"].sum() == rejects.height


def test_rejects_by_reason_groups_reasons_that_differ_only_by_the_value_quoted() -> None:
    # a column of garbage times is one problem, not one reason per row
    rejects = pl.DataFrame(
        {
            "row": [2, 3, 4, 5, 6],
            "reason": [
                "unreadable time 'not a time 0'",
                "unreadable time 'not a time 1'",
                "missing time",
                "unreadable time 'not a time 0'",
                "unreadable time 'n/a'",
            ],
        }
    )
    assert rejects_by_reason(rejects).rows() == [
        ("unreadable time 'not a time 0' (and 2 other values)", 4, "2, 3, 5, 6"),
        ("missing time", 1, "4"),
    ]
    two = rejects.filter(pl.col("row") != 6)
    assert rejects_by_reason(two)["reason"].to_list() == ["unreadable time 'not a time 0' (and 1 other value)", "missing time"]


def test_durations_past_the_observation_window_are_not_printed_as_numbers(candidates: pl.DataFrame) -> None:
    _, rows = candidates_table(candidates, "en", horizon=1000.0)
    assert rows[0][-2] == "380.6"
    assert rows[0][-1] == "> 1000 (beyond the observation window)"


def test_identity_duplicates_keep_what_they_repeat_in_their_reason() -> None:
    rejects = pl.DataFrame(
        {
            "row": [4, 9, 6],
            "reason": ["duplicate of row 2 (same report_id)", "duplicate of row 3 (same report_id)", "duplicate of row 5"],
        }
    )
    assert rejects_by_reason(rejects).rows() == [
        ("duplicate of an earlier row (same report_id)", 2, "4, 9"),
        ("duplicate of an earlier row", 1, "6"),
    ]


@pytest.mark.parametrize("lang", ["en", "fr", "nl"])
def test_the_duplicate_sentence_counts_identical_rows_and_names_the_policy(lang: str) -> None:
    def counts(dedupe: str, identical: int, kept: int, rejected: int) -> SourceCounts:
        return SourceCounts(
            source="tracker",
            kind="down_reports",
            path="r.csv",
            n_raw=1000,
            n_accepted=1000 - rejected,
            n_rejected=rejected,
            dedupe=dedupe,
            n_identical=identical,
            n_identical_kept=kept,
            n_duplicates=rejected,
        )

    identity = duplicates_sentence(counts("identity", 412, 410, 7), lang)
    assert all(str(n) in identity for n in (412, 410, 7)) and "identity" in identity and identity.startswith("tracker")
    exact = duplicates_sentence(counts("exact", 412, 0, 412), lang)
    assert '"exact"' in exact and "412" in exact
    assert '"none"' in duplicates_sentence(counts("none", 412, 412, 0), lang)
    clean = duplicates_sentence(counts("identity", 0, 0, 0), lang)
    assert "identity" in clean and "412" not in clean and clean != identity
