"""Every headline number is the estimate of the distribution that gives its interval, and lies inside it.

Checked on the fitted objects of every evidence kind and on ``metrics.json`` as
``postmortem fit`` prints it (the default incident, a simulated regional incident, a
utility's restoration log), so a number the report prints in bold can never sit outside
the interval printed beside it.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis.config import PROJECT_ROOT
from analysis.metrics import interval_violations
from analysis.recovery import fit_down_reports, fit_online_fraction, fit_restorations
from analysis.recovery.result import Estimate, percentile_summary
from analysis.simulate import online_fraction_series, report_times

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
END = ONSET + dt.timedelta(hours=30)


def _inside(est: Estimate) -> bool:
    return bool(est.low <= est.value <= est.high)


# ---------------------------------------------------------------- the checker itself


def test_interval_violations_finds_a_number_outside_its_interval():
    doc = {
        "recovery": {"t50_minutes": 381.0, "t50_minutes_ci": [400.0, 900.0], "t90_minutes": 5.0, "t90_minutes_ci": [1.0, None]},
        "announcements": [{"still_affected": 0.9, "still_affected_ci": [0.1, 0.5]}],
        "onset": "2018-01-08T20:00:00+01:00",
        "onset_ci": ["2018-01-08T20:05:00+01:00", "2018-01-08T21:00:00+01:00"],
    }
    found = interval_violations(doc)
    assert len(found) == 3
    assert any(f.startswith("recovery.t50_minutes = 381.0") for f in found)
    assert any(f.startswith("announcements.[0].still_affected") for f in found)
    assert any(f.startswith("onset = ") for f in found)


def test_interval_violations_accepts_points_inside_and_open_ends():
    doc = {"a": 2.0, "a_ci": [1.0, 3.0], "b": 7.0, "b_ci": [None, None], "c": None, "c_ci": [1.0, 2.0], "d": True, "d_ci": [2, 3]}
    assert interval_violations(doc) == []


def test_percentile_summary_median_lies_between_its_ends_even_with_weights_and_infinities():
    rng = np.random.default_rng(4)
    values = np.concatenate([rng.lognormal(5, 1, 150), np.full(30, np.inf)])
    weights = rng.uniform(0.1, 3.0, values.size)
    for w in (None, weights):
        lo, mid, hi = percentile_summary(values, 0.9, w)
        assert lo <= mid <= hi
    assert np.isnan(percentile_summary(np.arange(5.0), 0.9)[1])  # too few replicates: no summary


# ---------------------------------------------------------------- fitted objects, every kind


def _check_fit(fit, when: list[dt.datetime]) -> None:
    for name in ("t50", "t90", "t99", "mean_outage_minutes"):
        est = getattr(fit, name)
        assert _inside(est), (fit.kind, name, est)
    for t in when:
        assert _inside(fit.still_affected(t)), (fit.kind, t)
    # the drawn curve is the curve of the headline numbers: it crosses 50% at t50
    mid, lo, hi = fit.survival_curve(np.array([fit.t50.value]))
    assert mid[0] == pytest.approx(0.5, abs=0.03)
    assert lo[0] <= mid[0] <= hi[0]
    assert interval_violations(fit.to_metrics()) == []


def test_down_report_fit_averaged_over_models_reports_the_median_of_the_mixture():
    m = report_times(
        family="mixture",
        params=[80.0, 1.4, 0.15, 600.0],
        rate_per_minute=3.0,
        horizon_minutes=1800.0,
        onset_epoch_s=ONSET.timestamp(),
        rng=8,
    )
    fit = fit_down_reports(m, onset=ONSET, end=END, families=["exponential", "weibull", "lognormal", "mixture"], n_boot=80)
    _check_fit(fit, [ONSET + dt.timedelta(hours=h) for h in (1, 3, 10)])
    # the value is not the chosen model's maximum-likelihood number when the models disagree
    reps = [d.family.quantile(0.5, d.theta[:, : d.family.n_params]) for d in fit.draws]
    assert min(np.min(r) for r in reps) <= fit.t50.value <= max(np.max(r) for r in reps)


def test_restoration_fit_reports_the_bootstrap_median():
    rng = np.random.default_rng(3)
    n = 600
    restored_min = rng.weibull(1.3, n) * 120.0
    cut = 300.0
    rows = pl.DataFrame(
        {
            "observed_at": [ONSET + dt.timedelta(minutes=float(min(t, cut))) for t in restored_min],
            "restored": [bool(t <= cut) for t in restored_min],
        }
    ).with_columns(pl.col("observed_at").dt.cast_time_unit("us"))
    fit = fit_restorations(rows, onset=ONSET, end=ONSET + dt.timedelta(minutes=cut), families=["weibull", "lognormal"], n_boot=60)
    _check_fit(fit, [ONSET + dt.timedelta(minutes=90)])


def test_online_series_fit_reports_the_bootstrap_median():
    s = online_fraction_series(
        family="weibull", params=[600.0, 1.2], horizon_minutes=2880.0, affected_share=0.3, noise_sd=0.004, rng=5
    )
    series = pl.DataFrame(
        {
            "observed_at": pl.Series([ONSET + dt.timedelta(minutes=float(m)) for m in s.minutes], dtype=pl.Datetime("us", "UTC")),
            "online_fraction": 1 - s.out_share,
        }
    )
    fit = fit_online_fraction(series, onset=ONSET, families=["weibull", "lognormal"], n_boot=40)
    _check_fit(fit, [ONSET + dt.timedelta(hours=12)])


# ---------------------------------------------------------------- metrics.json through the CLI


def _fit(folder: Path, tmp_path: Path, *params: str) -> dict:
    args = [sys.executable, "-m", "analysis", "fit", str(folder), "-p", f"processed_dir={tmp_path / 'processed'}"]
    for p in params:
        args += ["-p", p]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_default_incident_metrics_have_every_number_inside_its_interval(tmp_path: Path):
    metrics = _fit(PROJECT_ROOT / "data" / "raw" / "proximus-2018-01-08", tmp_path, "n_boot=60")
    assert metrics["recovery"]["t50_minutes"] is not None
    assert interval_violations(metrics) == []


def _simulate(tmp_path: Path, scenario: str, n: int, seed: int) -> Path:
    folder = tmp_path / f"sim-{scenario}"
    args = ["simulate", "--scenario", scenario, "--reports", str(n), "--seed", str(seed), "--out", str(folder)]
    subprocess.run([sys.executable, "-m", "analysis", *args], check=True, capture_output=True, cwd=PROJECT_ROOT, timeout=300)
    return folder


@pytest.mark.slow  # a full simulated or rendered run; the plain suite keeps its lighter siblings
def test_simulated_regional_incident_metrics_have_every_number_inside_its_interval(tmp_path: Path):
    metrics = _fit(_simulate(tmp_path, "regional", 3000, 2), tmp_path, "n_boot=40")
    regions = [r for r in metrics["regions"].values() if isinstance(r, dict) and r.get("t50_minutes") is not None]
    assert regions, metrics["regions"]
    assert interval_violations(metrics) == []


def test_restoration_log_metrics_have_every_number_inside_its_interval(tmp_path: Path):
    metrics = _fit(_simulate(tmp_path, "telemetry", 800, 5), tmp_path, "n_boot=40")
    assert metrics["evidence"] == "restorations"
    assert metrics["recovery"]["t90_minutes"] is not None
    assert interval_violations(metrics) == []


def test_pooled_reporting_hypotheses_keep_every_number_inside_its_interval(tmp_path: Path):
    # an incident drawn by the independent generator (customers notice late, another clock
    # profile): the fits with and without a noticing ramp disagree, and every headline of
    # metrics.json is the median of their pooled replicates, inside its interval
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.independent import write_incident

    folder = tmp_path / "sparse"
    write_incident("sparse", folder, seed=3)
    metrics = _fit(folder, tmp_path, "n_boot=40")
    hyp = metrics["recovery"]["identifiability"]["reporting_hypotheses"]
    assert hyp["pooled"] == ["no_ramp", "noticing_ramp"] and sum(hyp["replicates"]) <= 40 and min(hyp["replicates"]) >= 15
    assert hyp["t50_minutes"][0] != hyp["t50_minutes"][1]
    lo, hi = metrics["recovery"]["t50_minutes_ci"]
    assert all(lo <= v <= hi for v in hyp["t50_minutes"])
    assert interval_violations(metrics) == []
