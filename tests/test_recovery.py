"""Recovery fits from down reports: simulated truth recovered, intervals, errors."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from analysis.errors import FitError, ParameterError
from analysis.recovery import Estimate, fit_down_reports, make_family
from analysis.simulate import report_times

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)  # 20:00 in Brussels
END = ONSET + dt.timedelta(hours=28)
HORIZON = 28 * 60.0


def _truth(name: str, theta: list[float], p: float) -> float:
    return float(make_family(name).quantile(p, np.asarray(theta)))


@pytest.fixture(scope="module")
def weibull_delay_fit():
    theta = {"lambda": 90.0, "rho": 1.3}
    m = report_times(
        family="weibull",
        params=theta,
        delay=15.0,
        rate_per_minute=25.0,
        horizon_minutes=HORIZON,
        onset_epoch_s=ONSET.timestamp(),
        rng=20180108,
    )
    fit = fit_down_reports(m, onset=ONSET, end=END, families=["exponential", "weibull", "weibull+delay"], n_boot=100)
    return fit, [90.0, 1.3, 15.0]


def test_simulated_weibull_delay_t50_t90_recovered_within_10_percent(weibull_delay_fit):
    fit, theta = weibull_delay_fit
    for p, est in ((0.5, fit.t50), (0.9, fit.t90)):
        truth = _truth("weibull+delay", theta, p)
        assert abs(est.value - truth) / truth < 0.10
        assert est.low < est.value < est.high


def test_aic_prefers_the_generating_family_over_exponential(weibull_delay_fit):
    fit, _ = weibull_delay_fit
    cands = fit.candidates
    assert fit.model.startswith("weibull")
    assert set(cands["family"]) == {"exponential", "weibull", "weibull+delay"}
    assert cands["delta_aic"].min() == 0.0
    assert math.isclose(cands["akaike_weight"].sum(), 1.0)
    expo = cands.filter(pl.col("family") == "exponential").row(0, named=True)
    assert expo["aic"] > cands["aic"].min() + 10
    aic = 2 * expo["n_params"] - 2 * expo["log_likelihood"]
    assert math.isclose(expo["aic"], aic)


def test_still_affected_matches_survival_and_is_one_before_onset(weibull_delay_fit):
    fit, theta = weibull_delay_fit
    t = ONSET + dt.timedelta(hours=2)
    est = fit.still_affected(t)
    truth = float(make_family("weibull+delay").sf(np.array([120.0]), np.asarray(theta))[0])
    assert isinstance(est, Estimate)
    assert est.low <= est.value <= est.high
    assert abs(est.value - truth) < 0.05
    assert math.isclose(est.value, float(fit.survival(np.array([120.0]))[0]))
    assert fit.still_affected(ONSET - dt.timedelta(minutes=5)) == Estimate(1.0, 1.0, 1.0)


def test_survival_band_brackets_the_curve(weibull_delay_fit):
    fit, _ = weibull_delay_fit
    t = np.linspace(0, 600, 61)
    s = fit.survival(t)
    lo, hi = fit.survival_band(t)
    assert np.all(np.diff(s) <= 1e-12)
    assert s[0] == 1.0
    assert np.all(lo <= s + 1e-9)
    assert np.all(s <= hi + 1e-9)


def test_metrics_block_has_contract_keys(weibull_delay_fit):
    fit, _ = weibull_delay_fit
    m = fit.to_metrics()
    for key in ("model", "level", "t50_minutes", "t90_minutes", "t99_minutes", "mean_outage_minutes", "tail_fraction", "aic"):
        assert key in m
    assert m["t50_minutes_ci"][0] < m["t50_minutes"] < m["t50_minutes_ci"][1]
    assert m["t50"].endswith("+01:00")  # Brussels in January
    assert m["tail_fraction"] is None  # no tail in a Weibull


def test_fewer_than_three_reports_is_a_fit_error():
    with pytest.raises(FitError, match="at least 3"):
        fit_down_reports(np.array([5.0, 10.0]), onset=ONSET, end=END, families=["exponential"], n_boot=0)


def test_naive_onset_is_refused():
    with pytest.raises(ParameterError, match="naive"):
        fit_down_reports(np.arange(10.0), onset=dt.datetime(2018, 1, 8, 20), end=END, n_boot=0)


def test_unknown_family_is_refused():
    with pytest.raises(ParameterError, match="unknown recovery family"):
        fit_down_reports(np.arange(10.0), onset=ONSET, end=END, families=["weibul"], n_boot=0)
