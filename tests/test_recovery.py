"""Recovery fits from down reports: simulated truth recovered, intervals, errors."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from analysis.errors import FitError, ParameterError
from analysis.recovery import Estimate, fit_down_reports, make_family, split_reports
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
    assert math.isclose(est.value, float(fit.survival_curve(np.array([120.0]))[0][0]))  # on the headline curve
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


# ---------------------------------------------------------------- tiny press-like data with windows

LOCAL = dt.timezone(dt.timedelta(hours=1))  # Brussels in January


def _press_like() -> tuple[np.ndarray, pl.DataFrame]:
    """~40 reports: a fast bulk on Monday evening and a tail known only as 'Tuesday morning' etc."""
    rng = np.random.default_rng(8)
    m = report_times(
        family="mixture",
        params={"lambda": 70.0, "rho": 1.5, "tail_fraction": 0.2, "tail_scale": 900.0},
        rate_per_minute=0.35,
        horizon_minutes=HORIZON,
        onset_epoch_s=ONSET.timestamp(),
        rng=rng,
    )
    windows = pl.DataFrame(
        {
            "start": [dt.datetime(2018, 1, 9, 6, 0, tzinfo=LOCAL)] * 5 + [dt.datetime(2018, 1, 9, 12, 0, tzinfo=LOCAL)] * 3,
            "end": [dt.datetime(2018, 1, 9, 12, 0, tzinfo=LOCAL)] * 5 + [dt.datetime(2018, 1, 9, 21, 0, tzinfo=LOCAL)] * 3,
        }
    )
    return m, windows


def test_tiny_windowed_data_fits_with_honest_wide_intervals():
    m, windows = _press_like()
    assert 25 <= m.size <= 60
    fit = fit_down_reports(m, onset=ONSET, end=END, windows=windows, n_boot=60, seed=1)
    assert fit.n_observations == m.size + 8
    t90 = fit.t90
    assert t90.low < t90.value < t90.high
    assert (t90.high - t90.low) / t90.value > 0.3  # forty reports cannot pin t90 down
    assert fit.candidates.height == 12
    assert fit.candidates["converged"].any()
    # windowed reports enter the diagnostics as allocated (fractional) counts
    diag = fit.diagnostics.observed_vs_fitted
    assert diag["observed_windowed"].sum() == pytest.approx(8.0)
    assert diag["observed"].sum() == pytest.approx(m.size)


def test_windows_move_the_tail_later():
    m, windows = _press_like()
    without = fit_down_reports(m, onset=ONSET, end=END, families=["mixture"], n_boot=0)
    with_w = fit_down_reports(m, onset=ONSET, end=END, windows=windows, families=["mixture"], n_boot=0)
    # eight reports on Tuesday are evidence of customers still out then
    assert (
        with_w.still_affected(dt.datetime(2018, 1, 9, 10, 0, tzinfo=LOCAL)).value
        > without.still_affected(dt.datetime(2018, 1, 9, 10, 0, tzinfo=LOCAL)).value
    )


def test_window_count_column_equals_repeated_rows():
    m, _ = _press_like()
    start = dt.datetime(2018, 1, 9, 6, 0, tzinfo=LOCAL)
    stop = dt.datetime(2018, 1, 9, 12, 0, tzinfo=LOCAL)
    rows = pl.DataFrame({"start": [start] * 4, "end": [stop] * 4})
    counted = pl.DataFrame({"start": [start], "end": [stop], "count": [4]})
    a = fit_down_reports(m, onset=ONSET, end=END, windows=rows, families=["weibull"], n_boot=0)
    b = fit_down_reports(m, onset=ONSET, end=END, windows=counted, families=["weibull"], n_boot=0)
    assert a.log_likelihood == pytest.approx(b.log_likelihood)
    assert a.t50.value == pytest.approx(b.t50.value, rel=1e-4)


def test_reports_outside_the_observation_period_are_left_out_with_a_note():
    m, _ = _press_like()
    times = np.concatenate([[-30.0, -5.0], m, [HORIZON + 10]])
    fit = fit_down_reports(times, onset=ONSET, end=END, families=["weibull"], n_boot=0)
    assert fit.n_observations == m.size
    assert any("2 report(s) before the onset" in n for n in fit.notes)
    assert any("after the end" in n for n in fit.notes)


def test_datetime_series_and_minutes_give_the_same_fit():
    m, _ = _press_like()
    series = pl.Series([ONSET + dt.timedelta(minutes=float(x)) for x in m], dtype=pl.Datetime("us", "UTC"))
    a = fit_down_reports(series, onset=ONSET, end=END, families=["weibull"], n_boot=0)
    b = fit_down_reports(m, onset=ONSET, end=END, families=["weibull"], n_boot=0)
    assert a.t50.value == pytest.approx(b.t50.value, rel=1e-6)


def test_estimated_onset_is_reported_with_its_interval():
    rng = np.random.default_rng(11)
    background = rng.uniform(-600, 28 * 60, 40)  # a baseline of unrelated reports
    m = report_times(family="weibull", params={"lambda": 90, "rho": 1.2}, rate_per_minute=3.0, horizon_minutes=HORIZON, rng=rng)
    times = pl.Series([ONSET + dt.timedelta(minutes=float(x)) for x in np.sort(np.concatenate([background, m]))])
    fit = fit_down_reports(times, onset=None, end=END, families=["weibull"], n_boot=0)
    assert fit.onset_source == "estimated"
    low, high = fit.onset_ci
    assert low <= fit.onset <= high
    assert abs((fit.onset - ONSET).total_seconds()) < 15 * 60
    assert "estimated onset" in fit.interval_method


def test_sensitivity_compares_default_and_flat_propensity():
    m, _ = _press_like()
    fit = fit_down_reports(m, onset=ONSET, end=END, families=["weibull"], n_boot=0)
    sens = fit.sensitivity
    assert sens["propensity"].to_list() == ["default", "flat"]
    assert sens["t50_minutes"][0] == pytest.approx(fit.t50.value)
    assert sens["t50_minutes"][1] != pytest.approx(sens["t50_minutes"][0])
    custom = fit_down_reports(m, onset=ONSET, end=END, families=["weibull"], propensity=[1.0] * 24, n_boot=0)
    assert custom.sensitivity["propensity"].to_list() == ["configured", "default", "flat"]
    assert custom.t50.value == pytest.approx(sens["t50_minutes"][1], rel=1e-2)  # configured flat = flat (quick refit)


def test_night_reports_weigh_more_under_the_default_propensity():
    # the same reports imply more customers still out when they arrive at night
    m = np.linspace(5, 600, 80)
    flat = fit_down_reports(m, onset=ONSET, end=END, families=["exponential"], propensity=[1.0] * 24, n_boot=0)
    default = fit_down_reports(m, onset=ONSET, end=END, families=["exponential"], n_boot=0)
    assert default.t50.value > flat.t50.value  # 20:00–06:00: reports at 02:00 mean many still out


def test_diagnostics_time_rescaling_accepts_a_well_specified_model(weibull_delay_fit):
    fit, _ = weibull_delay_fit
    d = fit.diagnostics
    assert 0 <= d.ks_statistic < d.ks_band
    assert d.ks_pvalue > 0.01
    u = d.rescaled_times
    assert np.all((u >= 0) & (u <= 1))
    assert np.all(np.diff(u) >= 0)
    table = d.observed_vs_fitted
    assert table["fitted"].sum() == pytest.approx(fit.n_observations, rel=1e-9)
    assert set(table.columns) >= {"bin_start", "observed", "fitted", "pearson_residual"}


def test_diagnostics_reject_a_misspecified_model():
    rng = np.random.default_rng(4)
    m = report_times(
        family="mixture",
        params={"lambda": 40.0, "rho": 2.0, "tail_fraction": 0.3, "tail_scale": 900.0},
        rate_per_minute=20.0,
        horizon_minutes=HORIZON,
        onset_epoch_s=ONSET.timestamp(),
        rng=rng,
    )
    fit = fit_down_reports(m, onset=ONSET, end=END, families=["exponential"], n_boot=0)
    assert fit.diagnostics.ks_pvalue < 0.01
    pearson = fit.diagnostics.observed_vs_fitted["pearson_residual"].to_numpy()
    assert np.mean(pearson**2) > 2  # over-dispersed against the wrong curve


def test_mixture_recovers_the_tail_fraction():
    rng = np.random.default_rng(6)
    m = report_times(
        family="mixture",
        params={"lambda": 50.0, "rho": 1.8, "tail_fraction": 0.2, "tail_scale": 700.0},
        rate_per_minute=15.0,
        horizon_minutes=HORIZON,
        onset_epoch_s=ONSET.timestamp(),
        rng=rng,
    )
    fit = fit_down_reports(m, onset=ONSET, end=END, families=["weibull", "mixture"], n_boot=60)
    assert fit.model == "mixture"
    tf = fit.tail_fraction
    assert tf.low <= 0.2 <= tf.high
    assert abs(tf.value - 0.2) < 0.05
    assert fit.to_metrics()["tail_fraction_ci"][0] is not None


def test_surge_term_is_fitted_when_asked():
    rng = np.random.default_rng(9)
    m = report_times(
        family="weibull",
        params={"lambda": 200.0, "rho": 1.2},
        rate_per_minute=5.0,
        surge=3.0,
        surge_minutes=20.0,
        horizon_minutes=HORIZON,
        onset_epoch_s=ONSET.timestamp(),
        rng=rng,
    )
    plain = fit_down_reports(m, onset=ONSET, end=END, families=["weibull"], n_boot=0)
    surged = fit_down_reports(m, onset=ONSET, end=END, families=["weibull"], n_boot=0, surge=True)
    truth = _truth("weibull", [200.0, 1.2], 0.5)
    assert abs(surged.t50.value - truth) / truth < 0.1
    assert abs(plain.t50.value - truth) > abs(surged.t50.value - truth)
    assert "surge_" in surged.summary["parameter"].to_list()


def test_customer_hours_and_mean_outage(weibull_delay_fit):
    fit, theta = weibull_delay_fit
    mean = fit.mean_outage_minutes
    assert mean.value == pytest.approx(float(make_family("weibull+delay").mean(np.asarray(theta))), rel=0.1)
    ch = fit.customer_hours_lost(1000)
    assert ch.value == pytest.approx(1000 * mean.value / 60)
    with pytest.raises(ParameterError, match="n_affected"):
        fit.customer_hours_lost(0)
    rmean = fit.restricted_mean_minutes(60.0)
    assert 15.0 < rmean.value < 60.0  # nobody restored in the first 15 minutes


def test_bad_options_are_refused_naming_them():
    with pytest.raises(ParameterError, match="propensity"):
        fit_down_reports(np.arange(10.0), onset=ONSET, end=END, propensity=[1.0] * 23, n_boot=0)
    with pytest.raises(ParameterError, match="timezone"):
        fit_down_reports(np.arange(10.0), onset=ONSET, end=END, timezone="Mars/Olympus", n_boot=0)
    with pytest.raises(ParameterError, match="level"):
        fit_down_reports(np.arange(10.0), onset=ONSET, end=END, level=90, n_boot=0)
    with pytest.raises(ParameterError, match="end"):
        fit_down_reports(np.arange(10.0), onset=ONSET, end=ONSET - dt.timedelta(hours=1), n_boot=0)
    with pytest.raises(ParameterError, match="windows"):
        fit_down_reports(np.arange(10.0), onset=ONSET, end=END, windows=pl.DataFrame({"from": [1.0]}), n_boot=0)


@pytest.mark.parametrize("family", ["exponential", "weibull", "lognormal", "loglogistic", "gamma", "weibull+delay"])
def test_each_family_t50_t90_recovered_from_reports_within_10_percent(family):
    thetas = {
        "exponential": [80.0],
        "weibull": [90.0, 1.3],
        "lognormal": [4.3, 0.7],
        "loglogistic": [75.0, 2.5],
        "gamma": [40.0, 2.5],
        "weibull+delay": [90.0, 1.3, 20.0],
    }
    theta = thetas[family]
    fam = make_family(family)
    m = report_times(
        family=fam, params=theta, rate_per_minute=40.0, horizon_minutes=HORIZON, onset_epoch_s=ONSET.timestamp(), rng=17
    )
    fit = fit_down_reports(m, onset=ONSET, end=END, families=[family], n_boot=0)
    for p in (0.5, 0.9):
        truth = _truth(family, theta, p)
        assert abs(fit.quantile(p).value - truth) / truth < 0.10, (p, fit.quantile(p).value, truth)


def test_split_reports_separates_exact_and_windowed_rows():
    utc = pl.Datetime("us", "UTC")
    t = [ONSET + dt.timedelta(minutes=m) for m in (5, 10, 600)]
    reports = pl.DataFrame(
        {
            "reported_at": pl.Series(t, dtype=utc),
            "reported_until": pl.Series([None, None, ONSET + dt.timedelta(minutes=900)], dtype=utc),
        }
    )
    times, windows = split_reports(reports)
    assert times.to_list() == t[:2]
    assert windows.columns == ["start", "end"]
    assert windows.height == 1
    with pytest.raises(ParameterError, match="reported_until"):
        split_reports(reports.drop("reported_until"))


def test_estimate_is_nan_safe():
    e = Estimate(float("nan"), 1.0, float("inf"))
    assert e.interval == [1.0, None]
    assert not e.is_finite
    assert f"{Estimate(1.234, 1.0, 2.0):.2f}" == "1.23 [1.00, 2.00]"
    assert Estimate.nan().scaled(2).interval == [None, None]


def test_the_delay_profile_can_be_left_out_without_changing_the_curve():
    m = report_times(
        family="weibull",
        params={"lambda": 90.0, "rho": 1.3},
        delay=30.0,
        rate_per_minute=4.0,
        horizon_minutes=HORIZON,
        onset_epoch_s=ONSET.timestamp(),
        rng=11,
    )
    common = {"onset": ONSET, "end": END, "families": ["weibull+delay"], "n_boot": 20, "seed": 3}
    full = fit_down_reports(m, **common)
    bare = fit_down_reports(m, **common, delay_profile=False)
    assert full.identifiability["delay"] is not None and "delay" in full.verdict.lower()
    assert bare.identifiability["delay"] is None and "delay" not in bare.verdict.lower()
    assert bare.theta == pytest.approx(full.theta, rel=1e-12)
    np.testing.assert_array_equal(bare.theta_boot, full.theta_boot)
    with pytest.raises(ParameterError, match="delay_profile"):
        fit_down_reports(m, **common, delay_profile="no")


def test_a_fit_run_off_to_a_flat_end_of_the_likelihood_is_degenerate() -> None:
    from types import SimpleNamespace

    from analysis.recovery.engine import degenerate

    evidence = SimpleNamespace(extra_bounds=())
    mixture = make_family("mixture")
    fine = np.array([60.0, 1.5, 0.1, 600.0])
    step = np.array([60.0, math.exp(30), 0.1, 600.0])  # a Weibull bulk turned into a step
    merged = np.array([60.0, 1.5, 0.1, 60.0 + math.exp(-30)])  # the tail's scale is the bulk's
    no_tail = np.array([60.0, 1.5, 1e-30, 600.0])  # a fraction at its bound: a real answer
    assert not degenerate(mixture, evidence, fine)
    assert degenerate(mixture, evidence, step)
    assert degenerate(mixture, evidence, merged)
    assert not degenerate(mixture, evidence, no_tail)
    assert degenerate(mixture, evidence, np.vstack([fine, step, merged, no_tail])).tolist() == [False, True, True, False]
