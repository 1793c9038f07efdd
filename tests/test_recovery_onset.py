"""Onset estimation from report times: a change point in the report rate."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from analysis.errors import FitError, ParameterError
from analysis.recovery import estimate_onset
from analysis.simulate import report_times

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)


def _times(minutes):
    return pl.Series([ONSET + dt.timedelta(minutes=float(m)) for m in np.sort(minutes)], dtype=pl.Datetime("us", "UTC"))


def _simulate(seed, baseline=30):
    rng = np.random.default_rng(seed)
    background = rng.uniform(-720, 600, baseline)
    m = report_times(family="weibull", params={"lambda": 80, "rho": 1.2}, rate_per_minute=1.5, horizon_minutes=600.0, rng=rng)
    return np.concatenate([background, m])


def test_onset_found_within_minutes_with_an_interval():
    est = estimate_onset(_times(_simulate(1)))
    assert abs((est.time - ONSET).total_seconds()) < 5 * 60
    assert est.low <= est.time <= est.high
    assert est.low <= ONSET + dt.timedelta(minutes=2)
    assert "change point" in est.method


def test_onset_interval_covers_the_truth_in_most_simulations():
    estimates = [estimate_onset(_times(_simulate(s))) for s in range(200)]
    hits = sum(e.low <= ONSET <= e.high for e in estimates)
    # nominal 90 %, bounded on both sides: too narrow fails below, too wide above (0.85-0.95)
    assert 170 <= hits <= 190, hits


def test_without_baseline_the_onset_is_bounded_by_the_first_report():
    m = report_times(family="exponential", params=[60.0], rate_per_minute=2.0, horizon_minutes=600.0, rng=4)
    est = estimate_onset(_times(m))
    assert est.time == ONSET + dt.timedelta(minutes=float(m.min()))
    assert est.low < est.time <= est.high


def test_onset_errors():
    with pytest.raises(FitError, match="at least 3"):
        estimate_onset(_times([1.0, 2.0]))
    with pytest.raises(ParameterError, match="UTC datetimes"):
        estimate_onset(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ParameterError, match="level"):
        estimate_onset(_times([1.0, 2.0, 3.0]), level=1.5)
