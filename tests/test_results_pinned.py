"""Speed work must not move results: `postmortem fit` of a fixed-seed incident against pinned metrics.

The incident is the one a user gets with ``postmortem simulate --scenario proximus-2018
--reports 3000 --seed 11``; the expected values below were printed by ``postmortem fit
<incident> -p n_boot=50`` on the code before the fits' closed-form gradients (main at
358a81c, 7 December 2026).

Tolerances. Counts, the chosen model and everything that does not go through an optimiser
are exact. Point estimates come from the same optimiser as before: relative 1e-4 (metrics
print them to 0.1 min, so up to 0.05 min of rounding is allowed as well). Interval ends
come from 50 bootstrap refits; with the closed-form gradient each replicate's optimum moves
by about 1e-5 (relative, median) against the finite-difference refits, which moves a
percentile by less than 1e-3 relative — ten times less than the Monte-Carlo error of a
50-replicate percentile (about 1 % of the t50 interval's ends here), so 2e-3 relative is
well inside bootstrap noise while any change of the statistics would exceed it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from analysis.config import PROJECT_ROOT

EXPECTED_COUNTS = {"n_raw": 3045, "n_reports": 3000, "n_rejected": 45, "n_unresolved_place": 93}
# recovery: point estimates (minutes; fractions) and their intervals
EXPECTED_POINT = {
    "t50_minutes": 83.3,
    "t90_minutes": 145.6,
    "t99_minutes": 975.8,
    "mean_outage_minutes": 121.02642031016822,
    "tail_fraction": 0.03703986261776788,
    "aic": -9610.176067946592,
}
EXPECTED_CI = {
    "t50_minutes_ci": [81.7, 84.7],
    "t90_minutes_ci": [138.7, 151.8],
    "t99_minutes_ci": [879.8, 1063.7],
    "mean_outage_minutes_ci": [118.4549222350248, 125.23039915051426],
    "tail_fraction_ci": [0.02883792508314014, 0.0501917312747719],
    "customer_hours_lost_ci": [78970.0, 83487.0],
}
EXPECTED_REGIONS = {
    "Flanders": {"n_reports": 1996, "t50_minutes": 83.37, "t90_minutes": 143.08, "t50_minutes_ci": [82.04, 85.96], "t90_minutes_ci": [135.85, 150.48]},
    "Wallonia": {"n_reports": 658, "t50_minutes": 83.46, "t90_minutes": 147.12, "t50_minutes_ci": [80.66, 87.31], "t90_minutes_ci": [132.63, 159.24]},
    "Brussels": {"n_reports": 247, "t50_minutes": 76.09, "t90_minutes": 135.53, "t50_minutes_ci": [70.2, 88.31], "t90_minutes_ci": [99.63, 181.02]},
}  # fmt: skip
EXPECTED_TEST = {"statistic": 8.1977, "p_value": 0.4471, "df": 8, "family": "mixture+delay", "dispersion": 1.1703}
EXPECTED_ANNOUNCEMENT = {"still_affected": 0.0939, "still_affected_ci": [0.0844, 0.1023]}
EXPECTED_AREAS = {"n_municipalities": 480, "n_areas_with_reports": 480, "morans_i": 0.1471, "morans_i_p_value": 0.001}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("pinned")
    incident = root / "pinned-3000"
    sim = _cli("simulate", "--scenario", "proximus-2018", "--reports", "3000", "--seed", "11", "--out", str(incident))
    assert sim.returncode == 0, sim.stderr
    fit = _cli("fit", str(incident), "-p", "n_boot=50", "-p", f"processed_dir={root / 'processed'}")
    assert fit.returncode == 0, fit.stderr
    return json.loads(fit.stdout)


def _close(got: float, want: float, rel: float, absolute: float = 0.0) -> bool:
    return abs(got - want) <= rel * abs(want) + absolute


def _rounding(key: str) -> float:
    return 0.051 if key.startswith("t") and "_minutes" in key else 0.0


def test_counts_and_model_are_unchanged(metrics: dict) -> None:
    assert {k: metrics[k] for k in EXPECTED_COUNTS} == EXPECTED_COUNTS
    assert metrics["recovery"]["model"] == "mixture+delay"
    assert {k: metrics["areas"][k] for k in EXPECTED_AREAS} == EXPECTED_AREAS


def test_national_estimates_and_intervals_are_unchanged(metrics: dict) -> None:
    rec = metrics["recovery"]
    # minutes are printed to 0.1: half a digit of rounding on top
    off = {k: (rec[k], v) for k, v in EXPECTED_POINT.items() if not _close(rec[k], v, 1e-4, _rounding(k))}
    assert not off, off
    off = {
        k: (rec[k], v)
        for k, v in EXPECTED_CI.items()
        if not all(_close(g, w, 2e-3, _rounding(k)) for g, w in zip(rec[k], v, strict=True))
    }
    assert not off, off
    ann = metrics["announcements"][0]
    assert _close(ann["still_affected"], EXPECTED_ANNOUNCEMENT["still_affected"], 0.0, 1e-4)
    assert all(
        _close(g, w, 2e-3, 1e-4)
        for g, w in zip(ann["still_affected_ci"], EXPECTED_ANNOUNCEMENT["still_affected_ci"], strict=True)
    )


def test_regions_and_their_test_are_unchanged(metrics: dict) -> None:
    for region, want in EXPECTED_REGIONS.items():
        got = metrics["regions"][region]
        assert got["basis"] == "own fit" and got["model"] == "mixture+delay"
        assert got["n_reports"] == want["n_reports"]
        for key in ("t50_minutes", "t90_minutes"):
            assert _close(got[key], want[key], 1e-4, 0.006), (region, key, got[key], want[key])
        for key in ("t50_minutes_ci", "t90_minutes_ci"):
            assert all(_close(g, w, 2e-3, 0.006) for g, w in zip(got[key], want[key], strict=True)), (region, key, got[key])
    test = metrics["regions_equal_recovery"]
    assert test["performed"] and test["df"] == EXPECTED_TEST["df"] and test["family"] == EXPECTED_TEST["family"]
    for key in ("statistic", "p_value", "dispersion"):
        assert _close(test[key], EXPECTED_TEST[key], 1e-3, 1e-4), (key, test[key])
