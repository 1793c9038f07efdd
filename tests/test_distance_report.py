"""Distance from the origin on the page: plain findings in the body, the rank correlation and p in Methods."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

from analysis.distance_report import chance_words, direction, distance_methods, distance_parts, finding_words
from analysis.spatial import distance_effect

from .test_report_jargon import JARGON, _jargon

ORIGIN = ("the datacenter", "Evere")
LANGS = ("en", "fr", "nl")


def _tests(seed: int = 4, n: int = 60) -> dict:
    """A spreading fault (onset later with distance) and a central one (recovery unrelated), over all areas and within regions."""
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 150, n)
    regions = np.array(["A", "B", "C"])[np.arange(n) % 3]
    common = {"origin": "the datacenter", "unit": "municipalities", "slope_unit": None, "permutations": 999}
    late, flat = 2.0 * d + rng.normal(0, 20, n), rng.normal(30, 20, n)
    return {
        "onset": distance_effect(d, late, outcome="onset", **common),
        "onset_within_regions": distance_effect(d, late, outcome="onset", strata=regions, **common),
        "recovery": distance_effect(d, flat, outcome="recovery pace", **common),
        "recovery_within_regions": distance_effect(d, flat, outcome="recovery pace", strata=regions, **common),
    }


@pytest.mark.parametrize(
    ("p", "words"),
    [
        (1.0, "in about 10 incidents in 10"),
        (0.62, "in about 6 incidents in 10"),
        (0.3, "in about 3 incidents in 10"),
        (0.1, "in about 1 incident in 10"),
        (0.05, "in about 1 incident in 20"),
        (0.004, "in about 1 incident in 250"),
        (0.0001, "in fewer than 1 incident in 1,000"),
    ],
)
def test_a_p_value_reads_as_incidents_out_of_so_many(p: float, words: str) -> None:
    assert chance_words(p, "en") == words


def test_the_chance_words_follow_the_language() -> None:
    assert chance_words(0.62, "fr") == "dans environ 6 incidents sur 10"
    assert chance_words(0.62, "nl") == "bij ongeveer 6 op 10 storingen"
    assert re.search(r"1\D000", chance_words(0.0001, "fr")) and "1,000" not in chance_words(0.0001, "fr")


def test_the_direction_is_the_tests_and_none_without_a_finding() -> None:
    t = _tests()
    assert t["onset"].p_value < 0.05 and direction(t["onset"], "onset") == "later"
    assert t["recovery"].p_value > 0.05 and direction(t["recovery"], "recovery") == "none"
    few = distance_effect([1, 2, 3], [3, 2, 1], outcome="recovery")
    assert direction(few, "recovery") == "none"
    faster = distance_effect(np.arange(30.0), -np.arange(30.0), outcome="recovery pace", slope_unit=None, permutations=999)
    assert direction(faster, "recovery") == "faster"


@pytest.mark.parametrize("lang", LANGS)
def test_a_finding_names_the_origin_and_no_statistic(lang: str) -> None:
    t = _tests()
    for key in ("onset", "onset_within_regions", "recovery", "recovery_within_regions"):
        words = finding_words(t[key], key.split("_")[0], ORIGIN, lang)
        assert "Evere" in words and "datacenter" not in words
        assert _jargon(words, lang) == [], (key, words)
        assert not re.search(r"[+-]0[.,]\d", words)  # no ρ value either
    few = distance_effect([1, 2, 3], [3, 2, 1], outcome="recovery pace", origin="the datacenter")
    assert "Evere" in finding_words(few, "recovery", ORIGIN, lang)  # not tested: says why, naming the origin


def test_the_finding_says_which_way_distance_goes() -> None:
    t = _tests()
    assert finding_words(t["onset"], "onset", ORIGIN, "en").startswith(
        "Areas farther from Evere first reported the outage later than their number of reports predicts; "
    )
    within = finding_words(t["onset_within_regions"], "onset", ORIGIN, "en")
    assert "predicts, within each region;" in within
    assert finding_words(t["recovery"], "recovery", ORIGIN, "en").startswith(
        "Areas near Evere recovered neither faster nor more slowly than areas far from it; "
    )


def test_the_body_has_plain_findings_and_methods_the_measures() -> None:
    s = SimpleNamespace(distance=_tests())
    body = "".join(str(p) for p in distance_parts(s, ORIGIN, "Distance from Evere", "en"))
    # the same finding within regions is said in a few words, not repeated
    assert body.count("Areas farther from Evere") == 1 and "The same holds within each region: in about" in body
    assert _jargon(re.sub(r"<[^>]+>", " ", body), "en") == []
    assert 'href="#methods-distance"' in body
    methods = distance_methods(s, "the datacenter", "Evere", "Distance from Evere", "en")
    assert 'id="methods-distance"' in methods
    assert methods.count("Spearman ρ") == 4 and methods.count("permutation p") == 4 and "Evere" in methods
    assert distance_methods(SimpleNamespace(distance={}), "", "", "", "en") == ""
    assert distance_parts(SimpleNamespace(distance={}), ORIGIN, "", "en") == []


def test_a_distance_effect_that_vanishes_within_regions_is_said_so() -> None:
    rng = np.random.default_rng(5)
    d = np.concatenate([rng.uniform(0, 50, 30), rng.uniform(100, 150, 30)])
    regions = np.array(["near"] * 30 + ["far"] * 30)
    y = np.where(regions == "far", 100.0, 0.0) + rng.normal(0, 10, 60)  # a slow far region, no distance effect in either
    common = {"origin": "the datacenter", "slope_unit": None, "permutations": 999}
    s = SimpleNamespace(
        distance={
            "onset": distance_effect(d, y, outcome="onset", **common),
            "onset_within_regions": distance_effect(d, y, outcome="onset", strata=regions, **common),
        }
    )
    body = "".join(str(p) for p in distance_parts(s, ORIGIN, "", "en"))
    assert "Within each region, however, distance makes no difference" in body


def test_the_word_list_covers_the_distance_and_excess_terms() -> None:
    for lang in LANGS:
        assert {"Spearman", "ρ"} <= set(JARGON[lang])
        assert any("permutati" in w for w in JARGON[lang]) and any(w.startswith(("q-", "valeur")) for w in JARGON[lang])


def test_the_excess_table_says_which_areas_stand_out_and_methods_gives_their_q() -> None:
    """The q column of the excess table is a yes/no 'stands out' in the body; the q-values are in Methods."""
    import polars as pl

    from analysis.spatial_report import _excess_parts, excess_methods, sp_fdr

    q = [sp_fdr() / 2, sp_fdr() * 3]
    table = pl.DataFrame(
        {
            "key": ["21004", "62063"], "name": ["Brussels", "Liège"], "region": ["Brussels", "Wallonia"],
            "n_reports": [9.0, 4.0], "expected": [2.0, 1.5], "ratio": [4.5, 2.7], "ratio_low": [2.1, 1.1],
            "ratio_high": [8.0, 6.0], "q_value": q, "verdict": ["more than expected"] * 2,
        }
    )  # fmt: skip
    s = SimpleNamespace(table=table, expected_within="country")
    body = "".join(str(p) for p in _excess_parts(s, "en"))
    rows = re.findall(r"<tr>(.*?)</tr>", body)
    assert "stands out" in rows[0] and not re.search(r"<th>\s*q", body)
    assert rows[1].endswith("<td>yes</td>") and rows[2].endswith("<td>no</td>")
    a = SimpleNamespace(spatial=s, params=SimpleNamespace(language="nl"))
    methods = excess_methods(a)
    assert "q-waarde" in methods and "0,05" in methods and "0,3" in methods and "10%" in methods
    assert excess_methods(SimpleNamespace(spatial=None, params=a.params)) == ""


@pytest.mark.parametrize("lang", LANGS)
def test_a_test_that_could_not_run_says_why_in_plain_words(lang: str) -> None:
    common = {"origin": "the datacenter", "unit": "municipalities", "slope_unit": None, "permutations": 99}
    few = distance_effect(np.arange(1.0, 6.0), np.array([3.0, 4.0, 1.0, 5.0, 2.0]), outcome="onset", **common)
    flat = distance_effect(np.linspace(1, 90, 12), np.full(12, 7.0), outcome="onset", **common)
    few_words, flat_words = finding_words(few, "onset", ORIGIN, lang), finding_words(flat, "onset", ORIGIN, lang)
    assert "(5 " in few_words and "8" in few_words and "Evere" in flat_words and few_words != flat_words
    for words in (few_words, flat_words):
        assert not _jargon(words, lang) and "municipalities with a value" not in words and "(only" not in words
