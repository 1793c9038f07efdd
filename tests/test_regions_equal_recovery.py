"""The regional equal-recovery test: it runs, takes every region with enough reports, has power and is calibrated.

The incidents are drawn by :mod:`tests.regional_fixtures`, a report process the fitter does
not assume (mixture curve after a delay, its own daily rhythm, municipal propensities,
minute stamps with ties).
"""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
from scipy import stats
from typer.testing import CliRunner

from analysis.cli import app
from analysis.recovery import fit_down_reports
from analysis.spatial_recovery import compare_regions, equal_recovery_test

from .regional_fixtures import END, ONSET, regional_reports, write_regional_incident

REGIONS = ("Flanders", "Wallonia", "Brussels")


def _p_value(n: float, *, slow: float, seed: int, family: str) -> float:
    r = regional_reports(dict.fromkeys(REGIONS, n), slow={"Wallonia": slow}, seed=seed)
    national = fit_down_reports(r["reported_at"], onset=ONSET, end=END, families=[family], n_boot=0, seed=0)
    t = equal_recovery_test({g: r.filter(pl.col("region") == g) for g in REGIONS}, national)
    assert t.performed and set(t.groups) == set(REGIONS)
    return float(t.p_value)


def test_a_region_restored_twice_as_slowly_is_found():
    r = regional_reports(dict.fromkeys(REGIONS, 3000), slow={"Wallonia": 2.0}, seed=3)
    national = fit_down_reports(r["reported_at"], onset=ONSET, end=END, families=["weibull"], n_boot=0, seed=0)
    t = equal_recovery_test({g: r.filter(pl.col("region") == g) for g in REGIONS}, national)
    assert t.performed and t.p_value < 1e-6
    assert t.family == "weibull" and t.reference == "F" and t.df == 4
    # φ around the per-region curves: the pooled curve's lack of fit (the regional difference
    # and the daily rhythm the fitter does not know) is not taken for noise
    assert 1.0 <= t.dispersion < 2.0 < t.dispersion_pooled
    m = t.to_metrics()
    assert m["performed"] and m["regions"] == sorted(REGIONS) and m["family"] == "weibull"
    assert {"test", "statistic", "p_value", "df", "note", "dispersion", "dispersion_df", "reference"} <= set(m)
    json.dumps(m, allow_nan=False)


def test_regions_recovering_alike_are_not_told_apart():
    ps = [_p_value(800, slow=1.0, seed=seed, family="weibull") for seed in (11, 12, 13, 14)]
    assert min(ps) > 0.01 and max(ps) > 0.2


def test_a_delay_family_is_compared_after_a_common_start():
    # a Weibull shape below 1 makes per-region delays change points: the χ² (and F)
    # reference would not hold, so the delay is shared and the curves after it compared
    ps = [_p_value(800, slow=1.0, seed=seed, family="weibull+delay") for seed in (21, 22)]
    assert min(ps) > 0.01
    assert _p_value(3000, slow=2.0, seed=23, family="weibull+delay") < 0.01


def test_family_that_does_not_converge_everywhere_is_replaced_and_no_region_is_dropped():
    r = regional_reports({"Flanders": 2500, "Wallonia": 2500, "Brussels": 625}, slow={"Wallonia": 3.0}, seed=1)
    national = fit_down_reports(r["reported_at"], onset=ONSET, end=END, families=["mixture+delay"], n_boot=0, seed=0)
    assert national.model == "mixture+delay"
    c = compare_regions(r, national, n_boot=0, seed=0)
    t = c.test
    assert t.performed and set(t.groups) == set(REGIONS) and t.p_value < 1e-6
    assert t.family != "mixture+delay" and t.families_failed
    assert any("mixture+delay" in f and "Wallonia" in f for f in t.families_failed)
    assert "chosen by AIC" in t.note
    assert all(c.regions[g].basis == "own fit" for g in REGIONS)


def test_the_note_says_which_region_lacked_what():
    r = regional_reports({"Flanders": 9, "Wallonia": 3000, "Brussels": 4}, seed=5)
    national = fit_down_reports(r["reported_at"], onset=ONSET, end=END, families=["weibull"], n_boot=0, seed=0)
    c = compare_regions(r, national, n_boot=0, seed=0)
    n = {g: c.regions[g].n_reports for g in REGIONS}
    assert not c.test.performed
    assert f"Flanders {n['Flanders']:g} reports" in c.test.note and f"Brussels {n['Brussels']:g} reports" in c.test.note
    assert "20 needed per region" in c.test.note and "fewer than two regions" in c.test.note
    r = regional_reports({"Flanders": 3000, "Wallonia": 3000, "Brussels": 6}, seed=6)
    c = compare_regions(r, national, n_boot=0, seed=0)
    assert c.test.performed and set(c.test.groups) == {"Flanders", "Wallonia"}
    assert f"left out (fewer than 20 reports): Brussels ({c.regions['Brussels'].n_reports:g} reports)" in c.test.note


def test_postmortem_fit_tests_every_region_with_enough_reports(tmp_path):
    r = regional_reports({"Flanders": 4000, "Wallonia": 3000, "Brussels": 12}, slow={"Wallonia": 2.0}, seed=8)
    folder = write_regional_incident(r, tmp_path / "sim-wallonia-slower", title="Wallonia restored twice as slowly")
    res = CliRunner().invoke(app, ["fit", str(folder), "-p", f"processed_dir={tmp_path / 'processed'}", "-p", "n_boot=20"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    eq = doc["regions_equal_recovery"]
    assert eq["performed"] is True and eq["p_value"] < 0.01
    assert eq["regions"] == ["Flanders", "Wallonia"]
    assert "left out (fewer than 20 reports): Brussels" in eq["note"]
    assert eq["df"] >= 1 and eq["dispersion"] >= 1.0 and eq["reference"] in ("F", "chi2")
    assert doc["regions"]["Wallonia"]["basis"] == "own fit"


@pytest.mark.slow
def test_equal_recovery_p_values_are_calibrated_and_powerful():
    """100 incidents with regions alike (p ≈ uniform), 20 with Wallonia twice as slow (p < 0.01)."""
    families = ("weibull", "weibull+delay")
    null = np.array([_p_value(1500, slow=1.0, seed=1000 + i, family=families[i % 2]) for i in range(100)])
    share = float(np.mean(null < 0.10))
    assert 0.04 <= share <= 0.18
    assert 0.01 <= float(np.mean(null < 0.05)) <= 0.11
    assert stats.kstest(null, "uniform").pvalue > 0.01
    alt = np.array([_p_value(3000, slow=2.0, seed=2000 + i, family=families[i % 2]) for i in range(20)])
    ks = stats.kstest(null, "uniform").pvalue
    print(  # the measured calibration, for docs/recovery.md (pytest -s)
        f"alike: p<0.10 {share:.2f}, p<0.05 {np.mean(null < 0.05):.2f}, p<0.01 {np.mean(null < 0.01):.2f}, KS p {ks:.3f}; "
        f"2x slower: p<0.01 {np.mean(alt < 0.01):.2f}, largest p {alt.max():.2g}"
    )
    assert np.all(alt < 0.01) and math.isfinite(alt.max())
