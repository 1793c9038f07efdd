"""The seeded generative core: each generator against its own definition."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate, stats

from analysis.errors import ParameterError
from analysis.recovery import make_family
from analysis.recovery.propensity import DEFAULT_PROPENSITY, hourly_weights
from analysis.simulate import (
    coarsen,
    family_theta,
    online_fraction_series,
    report_counts,
    report_times,
    restoration_records,
    restoration_times,
    restoration_times_by_group,
)

ONSET_S = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC).timestamp()


def test_import_stays_light():
    code = (
        "import sys, analysis.simulate; print(sorted(m for m in ('polars', 'scipy', 'plotly', 'geopandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_same_seed_same_data_and_different_seed_different_data():
    a = restoration_times(100, family="weibull", params=[60, 1.5], rng=3)
    b = restoration_times(100, family="weibull", params=[60, 1.5], rng=3)
    c = restoration_times(100, family="weibull", params=[60, 1.5], rng=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", ["exponential", "weibull", "lognormal", "loglogistic", "gamma", "mixture"])
def test_restoration_times_follow_the_family(name):
    params = {
        "exponential": [60.0],
        "weibull": [60.0, 1.5],
        "lognormal": [4.0, 0.6],
        "loglogistic": [50.0, 3.0],
        "gamma": [20.0, 3.0],
        "mixture": [40.0, 2.0, 0.25, 500.0],
    }[name]
    fam, theta = family_theta(name, params)
    t = restoration_times(4000, family=name, params=params, rng=1)
    res = stats.kstest(t, lambda x: 1 - fam.sf(np.asarray(x), theta))
    assert res.pvalue > 0.01


def test_delay_tail_and_scale_options():
    t = restoration_times(2000, family="weibull", params={"lambda": 60, "rho": 1.5}, delay=20.0, rng=2)
    assert t.min() >= 20.0
    tail = restoration_times(
        20000, family="weibull", params={"lambda": 60, "rho": 1.5}, tail_fraction=0.2, tail_mean=1000.0, rng=2
    )
    assert np.mean(tail > 600) == pytest.approx(0.2 * math.exp(-0.6), abs=0.01)
    groups = restoration_times_by_group(
        {"a": 3000, "b": 3000}, scale_factors={"b": 2.0}, family="exponential", params=[50.0], rng=5
    )
    assert np.median(groups["b"]) / np.median(groups["a"]) == pytest.approx(2.0, rel=0.1)


def test_family_theta_checks_names():
    fam, theta = family_theta("weibull", {"lambda_": 10, "rho": 2}, delay=5)
    assert fam.label == "weibull+delay"
    assert theta.tolist() == [10, 2, 5]
    with pytest.raises(ParameterError, match="unknown parameter"):
        family_theta("weibull", {"lambda": 10, "shape": 2})
    with pytest.raises(ParameterError, match="missing"):
        family_theta("weibull", {"lambda": 10})


def test_report_times_count_matches_the_integrated_intensity():
    fam, theta = family_theta("weibull", [90.0, 1.3])
    horizon = 28 * 60.0
    n = np.array(
        [
            report_times(
                family=fam, params=theta, rate_per_minute=5.0, horizon_minutes=horizon, onset_epoch_s=ONSET_S, rng=s
            ).size
            for s in range(20)
        ]
    )
    g = np.asarray(DEFAULT_PROPENSITY) / max(DEFAULT_PROPENSITY)
    expected, _ = integrate.quad(
        lambda t: 5.0 * hourly_weights(np.array([ONSET_S + t * 60]), "Europe/Brussels", g)[0] * fam.sf(np.array([t]), theta)[0],
        0,
        horizon,
        limit=400,
    )
    assert n.mean() == pytest.approx(expected, rel=0.03)


def test_report_times_follow_the_survival_shape_without_propensity():
    fam, theta = family_theta("lognormal", [4.0, 0.8])
    t = report_times(family=fam, params=theta, rate_per_minute=50.0, horizon_minutes=2000.0, rng=7)
    # with g ≡ 1 report times have density ∝ S(t) on [0, horizon]
    grid = np.linspace(0, 2000, 20001)
    cdf = np.concatenate([[0], np.cumsum(fam.sf(grid[1:], theta) * np.diff(grid))])
    cdf /= cdf[-1]
    assert stats.kstest(t, lambda x: np.interp(x, grid, cdf)).pvalue > 0.01


def test_report_counts_have_the_expected_total():
    edges = np.arange(0.0, 28 * 60 + 5, 5.0)
    counts = report_counts(edges, family="weibull", params=[90.0, 1.3], rate_per_minute=1e5, rng=1)
    expected = 1e5 * float(make_family("weibull").mean(np.array([90.0, 1.3])))
    assert counts.sum() == pytest.approx(expected, rel=0.01)
    assert counts.shape == (edges.size - 1,)


def test_coarsen_makes_windows_around_the_true_times():
    t = np.linspace(100, 1000, 2000)
    exact, start, end = coarsen(t, fraction=0.25, widths=[60.0, 240.0], horizon_minutes=1000.0, rng=3)
    assert exact.size + start.size == t.size
    assert start.size == pytest.approx(500, abs=60)
    assert np.all(end - start <= 240.0 + 1e-9)
    assert np.all(start <= end)
    assert np.all(end <= 1000.0)


def test_restoration_records_censor_and_interval():
    t = restoration_times(3000, family="exponential", params=[100.0], rng=1)
    rec = restoration_records(t, censor_at=150.0, inspection_minutes=30.0, interval_fraction=0.5, rng=2)
    right = rec.kind == "right"
    assert np.all(rec.truth[right] > rec.lower[right])
    inter = rec.kind == "interval"
    assert np.all((rec.lower[inter] < rec.truth[inter]) & (rec.truth[inter] <= rec.upper[inter]))
    assert np.all(rec.upper[inter] - rec.lower[inter] <= 30.0 + 1e-9)
    exact = rec.kind == "exact"
    assert np.array_equal(rec.lower[exact], rec.truth[exact])
    assert np.mean(right) == pytest.approx(math.exp(-1.5), abs=0.03)


def test_online_series_plants_labelled_defects():
    s = online_fraction_series(
        family="weibull",
        params=[600.0, 1.2],
        horizon_minutes=2880.0,
        before_minutes=60.0,
        affected_share=0.5,
        noise_sd=0.0,
        n_dropouts=3,
        stale_runs=2,
        stale_length=6,
        rng=4,
    )
    assert np.all(s.out_share[s.minutes < 0] == 0)
    assert (s.defect == "dropout").sum() == 3
    assert (s.defect == "stale").sum() == 2 * 5
    clean = s.defect == ""
    assert np.allclose(s.out_share[clean], s.truth[clean])
    assert s.truth[s.minutes == 0][0] == pytest.approx(0.5)


def test_the_report_generators_refuse_an_unknown_or_missing_argument() -> None:
    from analysis.simulate import clumped_reports, report_counts, report_times

    with pytest.raises(TypeError, match=r"unexpected keyword argument.*mean_clump"):
        report_times(horizon_minutes=60.0, params=[30.0, 1.0], rate_per_minute=1.0, mean_clump=3.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"missing keyword argument.*rate_per_minute"):
        clumped_reports(horizon_minutes=60.0, params=[30.0, 1.0])  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"missing keyword argument.*params"):
        report_counts(np.arange(0.0, 61.0, 15.0), rate_per_minute=1.0)  # type: ignore[call-arg]
