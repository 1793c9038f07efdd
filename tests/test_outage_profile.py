"""The arrival window's span profiled: the per-customer restoration time's interval spans the splits the count cannot tell apart."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from scipy import stats

from analysis.recovery import Estimate, fit_customers_out
from analysis.recovery.outage_profile import default_spans, dispersion, restoration_profiles, span_factor, widen
from tests.test_recovery_outages import _simulate


@pytest.mark.parametrize("shape", [1.0, 1.7, 4.0, 12.0])
def test_span_factor_is_the_weibulls_five_to_ninety_five_span(shape: float) -> None:
    d = stats.weibull_min(shape, scale=1.0)
    assert float(span_factor(shape)) == pytest.approx(d.ppf(0.95) - d.ppf(0.05), rel=1e-9)


def test_widen_moves_the_bootstrap_spread_to_each_kept_value() -> None:
    est = Estimate(100.0, 80.0, 120.0)
    w = widen(est, 100.0, np.array([50.0, 300.0, math.nan]))
    assert (w.value, w.low, w.high) == pytest.approx((100.0, 40.0, 360.0))
    near = widen(est, 100.0, np.array([95.0, 105.0]))  # each kept value carries the spread with it
    assert (near.low, near.high) == pytest.approx((76.0, 126.0))
    assert widen(est, 100.0, np.array([100.0])) == est
    assert widen(est, 100.0, np.empty(0)) == est
    capped = widen(est, 100.0, np.array([1e9]), limit=5000.0)  # a degenerate tail stops where the curves do
    assert capped.high == pytest.approx(5000.0) and capped.low == pytest.approx(80.0)
    assert widen(Estimate(100.0, math.nan, math.nan), 100.0, np.array([10.0])).low != 10.0


@pytest.fixture(scope="module")
def simulated():
    df, _ = _simulate()
    return fit_customers_out(df, onset=dt.datetime(2024, 3, 1, tzinfo=dt.UTC), families=["lognormal", "weibull"], n_boot=40)


def test_the_profile_holds_each_span_and_reaches_the_fit(simulated) -> None:
    fit = simulated
    ev = fit.evidence
    profiles, bound = restoration_profiles(ev, fit.cands, level=fit.level)
    assert profiles and bound == pytest.approx(dispersion(ev, fit.chosen) * stats.chi2.ppf(fit.level, 1) / 2)
    spans = default_spans(ev)
    assert spans[0] == pytest.approx(ev.grid.step) and np.all(np.diff(spans) > 0)
    assert all(np.isin(spans, pr.spans).all() for pr in profiles)
    best_half_aic = fit.chosen.aic / 2
    for pr in profiles:
        k = pr.family.n_params
        ok = np.all(np.isfinite(pr.theta), axis=1)
        held = pr.theta[ok, k + 1] * span_factor(pr.theta[ok, k + 2])
        lo, hi = ev.extra_bounds()[1]
        inside = (pr.theta[ok, k + 1] > lo * 1.0001) & (pr.theta[ok, k + 1] < hi * 0.9999)
        assert np.allclose(held[inside], pr.spans[ok][inside], rtol=1e-6)
        assert np.all(pr.half_aic[pr.kept] <= best_half_aic + bound + 1e-9)
        assert np.all(pr.half_aic[~pr.kept] > best_half_aic + bound)
    # the profile reaches the fit: some span of the chosen family is (nearly) as good, and kept
    chosen = next(pr for pr in profiles if pr.family.name == fit.chosen.family.name)
    assert np.min(chosen.half_aic) <= best_half_aic + 0.5
    k = fit.family.n_params
    fitted_span = fit.theta[k + 1] * float(span_factor(fit.theta[k + 2]))
    own = int(np.argmin(np.abs(np.log(chosen.spans / fitted_span))))
    assert chosen.spans[own] == pytest.approx(fitted_span) and chosen.kept[own]


def test_restoration_interval_holds_the_given_arrivals_one_and_reports_the_profile(simulated) -> None:
    fit = simulated
    for p in (0.5, 0.9):
        wide, given = fit.restoration_quantile(p), fit.restoration_quantile(p, profiled=False)
        assert wide.value == given.value
        assert wide.low <= given.low and wide.high >= given.high
    m = fit.to_metrics()
    rt = m["restoration_time"]
    assert rt["p50_minutes_ci_given_arrivals"] == pytest.approx(list(fit.restoration_quantile(0.5, profiled=False).interval))
    lo, hi = rt["arrival_spans_kept_minutes"]
    assert 0 < lo <= hi
    assert rt["profile_bound"] > 0
