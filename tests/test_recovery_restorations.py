"""Recovery fits from per-customer restoration records."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import numpy as np
import polars as pl
import pytest

from analysis.config import load_incident
from analysis.errors import FitError, ParameterError
from analysis.ingest import ingest_incident
from analysis.recovery import CensoredData, fit_restorations, make_family, restoration_data, turnbull
from analysis.recovery.evidence import RestorationEvidence
from analysis.recovery.restorations import GroupedRestorationEvidence, detect_resolution, group_records
from analysis.simulate import restoration_records, restoration_times, write_scenario

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
UTC = pl.Datetime("us", "UTC")


def _frame(rec, *, as_datetimes: bool = True) -> pl.DataFrame:
    k = rec.kind

    def col(x):
        if not as_datetimes:
            return pl.Series(np.where(np.isfinite(x), x, np.nan)).fill_nan(None)
        return pl.Series([ONSET + dt.timedelta(minutes=float(v)) if np.isfinite(v) else None for v in x], dtype=UTC)

    return pl.DataFrame(
        {
            "observed_at": col(np.where(k != "interval", rec.lower, np.nan)),
            "restored": k == "exact",
            "restored_after": col(np.where(k == "interval", rec.lower, np.nan)),
            "restored_before": col(np.where(k == "interval", rec.upper, np.nan)),
        }
    )


@pytest.mark.parametrize(
    ("family", "theta"),
    [("lognormal", [math.log(90), 0.8]), ("weibull", [120.0, 1.5]), ("gamma", [40.0, 2.5]), ("loglogistic", [80.0, 3.0])],
)
def test_t50_t90_recovered_within_10_percent_with_all_censoring_kinds(family, theta):
    t = restoration_times(1500, family=family, params=theta, rng=5)
    rec = restoration_records(t, censor_at=400.0, inspection_minutes=30, interval_fraction=0.3, rng=6)
    assert set(rec.kind) == {"exact", "right", "interval"}
    fit = fit_restorations(_frame(rec), onset=ONSET, families=[family], n_boot=50)
    f = make_family(family)
    for p in (0.5, 0.9):
        truth = float(f.quantile(p, np.asarray(theta)))
        assert abs(fit.quantile(p).value - truth) / truth < 0.10
    assert fit.nonparametric["method"][0] == "turnbull"
    assert "case-resampling bootstrap" in fit.interval_method


def test_right_censored_records_get_kaplan_meier_beside_the_fit():
    t = restoration_times(400, family="weibull", params=[100.0, 1.3], rng=1)
    rec = restoration_records(t, censor_at=150.0, rng=2)
    fit = fit_restorations(_frame(rec, as_datetimes=False), onset=ONSET, families=["weibull", "lognormal"], n_boot=50)
    km = fit.nonparametric
    assert km["method"][0] == "kaplan-meier"
    assert km.height == int((rec.kind == "exact").sum())
    diag = fit.diagnostics.observed_vs_fitted
    assert np.max(np.abs(diag["residual"].to_numpy())) < 0.08
    assert fit.end == ONSET + dt.timedelta(minutes=150.0)
    assert fit.to_metrics()["t90_extrapolated"] == (fit.t90.value > 150.0)


def test_count_column_weights_records():
    df = pl.DataFrame({"observed_at": [30.0, 60.0, 90.0, 200.0], "restored": [True, True, True, False], "count": [10, 20, 10, 5]})
    expanded = pl.DataFrame(
        {"observed_at": [30.0] * 10 + [60.0] * 20 + [90.0] * 10 + [200.0] * 5, "restored": [True] * 40 + [False] * 5}
    )
    a = fit_restorations(df, onset=ONSET, families=["weibull"], n_boot=0)
    b = fit_restorations(expanded, onset=ONSET, families=["weibull"], n_boot=0)
    assert a.log_likelihood == pytest.approx(b.log_likelihood)
    assert a.t50.value == pytest.approx(b.t50.value, rel=1e-6)


def test_restoration_data_sorts_records_by_kind():
    df = pl.DataFrame(
        {
            "observed_at": [10.0, 20.0, None, None],
            "restored": [True, False, None, None],
            "restored_after": [None, None, 5.0, 40.0],
            "restored_before": [None, None, 15.0, None],
        }
    )
    d = restoration_data(df, onset=ONSET)
    assert d.exact.tolist() == [10.0]
    assert sorted(d.right.tolist()) == [20.0, 40.0]  # an open-ended interval is right-censored
    assert d.lower.tolist() == [5.0]
    assert d.upper.tolist() == [15.0]


def test_restorations_errors_name_the_problem():
    with pytest.raises(ParameterError, match="restored"):
        fit_restorations(pl.DataFrame({"observed_at": [1.0, 2.0, 3.0]}), onset=ONSET, n_boot=0)
    with pytest.raises(ParameterError, match="row 1"):
        restoration_data(pl.DataFrame({"restored_after": [1.0, 9.0], "restored_before": [5.0, 3.0]}), onset=ONSET)
    with pytest.raises(ParameterError, match="onset"):
        fit_restorations(pl.DataFrame({"observed_at": [1.0], "restored": [True]}), onset=None, n_boot=0)
    with pytest.raises(FitError, match="at least 3"):
        fit_restorations(pl.DataFrame({"observed_at": [1.0, 2.0], "restored": [True, True]}), onset=ONSET, n_boot=0)
    with pytest.raises(FitError, match="no customer"):
        fit_restorations(pl.DataFrame({"observed_at": [1.0, 2.0, 3.0], "restored": [False] * 3}), onset=ONSET, n_boot=0)


# --------------------------------------------------------------------------- recording resolution


def _stamped(minutes: np.ndarray, *, unit_s: float, restored: np.ndarray | None = None, source: str | None = None):
    """Restoration stamps as a logger writes them: UTC datetimes truncated to ``unit_s`` seconds."""
    us = (np.floor(np.asarray(minutes) * 60.0 / unit_s) * unit_s * 1e6).astype(np.int64)
    t0 = int(ONSET.timestamp() * 1e6)
    cols = {
        "observed_at": pl.Series(t0 + us).cast(UTC),
        "restored": np.ones(len(us), bool) if restored is None else restored,
    }
    if source is not None:
        cols["source"] = [source] * len(us)
    return pl.DataFrame(cols)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [(1.0, 1.0), (60.0, 60.0), (600.0, 600.0), (900.0, 900.0), (0.001, 0.001)],
)
def test_detect_resolution_finds_the_grid_stamps_were_cut_to(unit, expected):
    rng = np.random.default_rng(3)
    seconds = 1_514_764_800 + np.floor(rng.uniform(0, 86_400, 400) / unit) * unit  # from 2018-01-01 00:00 UTC
    assert detect_resolution(seconds) == expected


def test_detect_resolution_needs_enough_stamps_to_rule_out_chance():
    rng = np.random.default_rng(4)
    assert detect_resolution(1.5e9 + rng.uniform(0, 3600, 50)) == 0.0  # microsecond stamps: exact
    assert detect_resolution(np.array([1.5e9 + 120.0, 1.5e9 + 300.0])) == 1.0  # two whole minutes could be chance
    assert detect_resolution(1.5e9 + 60.0 * np.arange(1, 6)) == 60.0  # five cannot
    assert detect_resolution(np.array([np.nan])) == 0.0


def test_stamps_on_a_grid_become_intervals_of_its_width():
    t = np.array([75.004, 75.3, 80.9, 95.0, 130.51])
    df = _stamped(t, unit_s=1.0)
    d = restoration_data(df, onset=ONSET)
    assert d.exact.size == 0
    stamp = np.floor(t * 60.0) / 60.0
    assert np.sort(d.lower) == pytest.approx(stamp)
    assert np.sort(d.upper) == pytest.approx(stamp + 1 / 60)
    assert np.all((np.sort(d.lower) <= t) & (t <= np.sort(d.upper)))  # the true time is inside
    nearest = restoration_data(df, onset=ONSET, rounding="nearest")
    assert np.sort(nearest.lower) == pytest.approx(stamp - 0.5 / 60)
    as_exact = restoration_data(df, onset=ONSET, resolution=0)
    assert as_exact.exact == pytest.approx(stamp) and as_exact.lower.size == 0
    minute = restoration_data(df, onset=ONSET, resolution=60)
    assert np.sort(minute.upper - minute.lower) == pytest.approx(np.ones(5))


def test_each_source_gets_its_own_resolution_and_checks_stay_as_given():
    rng = np.random.default_rng(8)
    fine = _stamped(rng.uniform(80, 200, 30), unit_s=1.0, source="decoders")
    coarse = _stamped(rng.uniform(80, 200, 30), unit_s=60.0, source="call-centre")
    still_down = _stamped(np.full(5, 300.0), unit_s=60.0, restored=np.zeros(5, bool), source="decoders")
    df = pl.concat([fine, coarse, still_down])
    d = restoration_data(df, onset=ONSET)
    widths = np.round((d.upper - d.lower) * 60.0, 6)
    assert sorted(set(widths.tolist())) == [1.0, 60.0]
    assert (widths == 60.0).sum() == 30
    assert d.right.tolist() == [300.0] * 5  # a still-down stamp is a check time, not widened


def test_bad_resolution_options_are_rejected_naming_them():
    df = _stamped(np.array([80.0, 90.0, 100.0]), unit_s=1.0)
    with pytest.raises(ParameterError, match="resolution"):
        restoration_data(df, onset=ONSET, resolution=-1.0)
    with pytest.raises(ParameterError, match="resolution"):
        restoration_data(df, onset=ONSET, resolution="second")
    with pytest.raises(ParameterError, match="rounding"):
        fit_restorations(df, onset=ONSET, rounding="up", n_boot=0)


def test_second_stamps_after_a_steep_delay_no_longer_bias_the_fit():
    # Weibull shape < 1 after a delay: the density is unbounded just after the delay, and
    # stamps truncated to the second pile up on the delay's own second
    theta = {"lambda": 15.0, "rho": 0.7}
    t = restoration_times(4000, family="weibull", params=theta, delay=75.0, rng=11)
    df = _stamped(t, unit_s=1.0)
    fit = fit_restorations(df, onset=ONSET, families=["weibull+delay"], n_boot=0)
    lam, rho, delay = fit.theta[:3]
    assert rho == pytest.approx(0.7, abs=0.03)
    assert lam == pytest.approx(15.0, rel=0.06)
    assert 74.9 < delay <= 75.0 + 1 / 60
    truth = float(make_family("weibull+delay").quantile(0.9, np.array([15.0, 0.7, 75.0])))
    assert fit.t90.value == pytest.approx(truth, rel=0.03)
    assert "1 s grid" in fit.interval_method
    # read as exact times, the same stamps put the delay on the first stamp and flatten the shape
    exact = fit_restorations(df, onset=ONSET, families=["weibull+delay"], n_boot=0, resolution=0)
    assert exact.theta[1] < rho - 0.03


# --------------------------------------------------------------------------- grouping


def _all_kinds(n: int, seed: int):
    t = restoration_times(n, family="weibull", params=[30.0, 0.8], delay=20.0, tail_fraction=0.1, tail_mean=300.0, rng=seed)
    rec = restoration_records(np.round(t, 1), censor_at=400.0, inspection_minutes=15.0, interval_fraction=0.3, rng=seed + 1)
    rec_lo = np.round(rec.lower, 0)
    rec_hi = np.where(np.isfinite(rec.upper), np.round(rec.upper, 0), np.inf)
    k = rec.kind
    return CensoredData.build(
        exact=np.round(rec.lower[k == "exact"], 1),
        right=rec_lo[k == "right"],
        lower=rec_lo[k == "interval"],
        upper=np.maximum(rec_hi[k == "interval"], rec_lo[k == "interval"] + 1.0),
    )


@pytest.mark.parametrize(("name", "theta"), [("weibull+delay", [30.0, 0.8, 19.0]), ("mixture", [25.0, 0.9, 0.1, 300.0])])
def test_grouped_records_give_the_same_likelihood_as_the_devices(name, theta):
    data = _all_kinds(3000, 5)
    grouped = group_records(data)
    assert grouped.n == data.n
    assert grouped.exact.size + grouped.right.size + grouped.lower.size < 0.5 * (
        data.exact.size + data.right.size + data.lower.size
    )
    family = make_family(name)
    family.delay_upper = data.delay_upper()
    th = np.asarray(theta)
    assert family.censored_loglik(th, grouped) == pytest.approx(family.censored_loglik(th, data), rel=1e-12)
    ev = GroupedRestorationEvidence.of(data)
    assert ev.loglik(family, th) == pytest.approx(family.censored_loglik(th, data), rel=1e-12)
    # a batch of parameter vectors at once, against the ungrouped evidence
    rng = np.random.default_rng(1)
    ths = th * np.exp(0.05 * rng.standard_normal((7, th.size)))
    if family.delay:
        ths[:, -1] = np.minimum(ths[:, -1], data.delay_upper())
    plain = RestorationEvidence(data).as_batch(7).loglik(family, ths)
    assert ev.as_batch(7).loglik(family, ths) == pytest.approx(plain, rel=1e-12)


def test_grouped_bootstrap_draws_devices_as_multinomial_counts_over_groups():
    data = _all_kinds(2000, 9)
    ev = GroupedRestorationEvidence.of(data)
    family = make_family("weibull")
    batch = ev.simulate_batch(family, np.array([30.0, 0.8]), np.random.default_rng(2), 400)
    w = batch.weights
    assert np.all(w.sum(axis=1) == data.n)
    share = np.concatenate([ev.data.exact_w, ev.data.right_w, ev.data.interval_w]) / data.n
    # each group's count is Binomial(n, its share): the replicate means sit within a few standard errors
    z = (w.mean(axis=0) - data.n * share) / np.sqrt(data.n * share * (1 - share) / 400)
    assert np.max(np.abs(z)) < 5.0
    assert np.mean(np.abs(z) < 1.96) == pytest.approx(0.95, abs=0.03)


def test_grouped_and_ungrouped_records_fit_the_same_curve():
    data = _all_kinds(1500, 21)
    rows = {
        "observed_at": np.concatenate([data.exact, data.right, np.full(data.lower.size, np.nan)]),
        "restored": np.concatenate(
            [np.ones(data.exact.size, bool), np.zeros(data.right.size, bool), np.zeros(data.lower.size, bool)]
        ),
        "restored_after": np.concatenate([np.full(data.exact.size + data.right.size, np.nan), data.lower]),
        "restored_before": np.concatenate([np.full(data.exact.size + data.right.size, np.nan), data.upper]),
    }
    df = pl.DataFrame(rows).with_columns(pl.col(pl.Float64).fill_nan(None))
    fit = fit_restorations(df, onset=ONSET, families=["lognormal"], n_boot=0, resolution=0)
    family = make_family("lognormal")
    # the grouped fit's optimum is the optimum of the per-device likelihood
    assert fit.log_likelihood == pytest.approx(family.censored_loglik(fit.theta, data), rel=1e-10)
    plain = family.fit_interval_censoring(
        np.concatenate([data.exact, data.right, data.lower]),
        np.concatenate([data.exact, np.full(data.right.size, np.inf), data.upper]),
    )
    assert fit.log_likelihood == pytest.approx(plain.log_likelihood_, abs=1e-3)
    assert fit.t90.value == pytest.approx(float(plain.quantile(0.9, plain.theta_)), rel=1e-3)
    assert (
        f"{data.n:,.0f} customers in {int(group_records(data).exact.size + group_records(data).right.size + group_records(data).lower.size):,} distinct records"
        in fit.interval_method
    )


def _dense_turnbull_survival(data: CensoredData) -> np.ndarray:
    """Turnbull's EM with the full record × innermost-interval cover matrix (the textbook form)."""
    from analysis.recovery.nonparametric import _innermost

    lo = np.concatenate([data.exact, data.right, data.lower])
    hi = np.concatenate([data.exact, np.full(data.right.size, np.inf), data.upper])
    w = np.concatenate([data.exact_w, data.right_w, data.interval_w])
    q, p = _innermost(lo, hi)
    point = (q == p)[None, :]
    exact = (lo == hi)[:, None]
    left = np.where(point, lo[:, None] < q[None, :], lo[:, None] <= q[None, :])
    cover = (~exact & left & (p[None, :] <= hi[:, None])) | (exact & point & (q[None, :] == lo[:, None]))
    cover = cover.astype(float)
    mass = np.full(q.size, 1.0 / q.size)
    for _ in range(5000):
        new = mass * ((w / (cover @ mass)) @ cover) / w.sum()
        if np.max(np.abs(new - mass)) < 1e-11:
            break
        mass = new
    return 1.0 - np.cumsum(new)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_turnbull_matches_the_cover_matrix_form_on_grouped_records(seed):
    data = group_records(_all_kinds(300, seed))
    tb = turnbull(data, tol=1e-11)
    assert tb["survival"].to_numpy() == pytest.approx(np.clip(_dense_turnbull_survival(data), 0, 1), abs=1e-7)


@pytest.mark.slow
def test_telemetry_scenario_intervals_cover_the_truth(tmp_path):
    # the simulated decoder export (second stamps, polling windows, still-down decoders,
    # a steep start after the delay): 90 % and 50 % intervals of t50, t90 and the tail
    # fraction from the same bootstrap replicates, bounded on both sides
    seeds = range(101, 125)
    hits = {(level, key): 0 for level in (0.9, 0.5) for key in ("t50", "t90", "tail")}
    for seed in seeds:
        folder = write_scenario("telemetry", tmp_path / f"s{seed}", n_reports=1000, seed=seed)
        truth = json.loads((folder / "truth.json").read_text())["recovery"]
        inc = load_incident(folder)
        rest = ingest_incident(inc, geocode=False).restorations
        fitted = fit_restorations(rest, onset=inc.onset, end=inc.end, level=0.9, n_boot=100, seed=seed)
        for level in (0.9, 0.5):
            fit = dataclasses.replace(fitted, level=level)
            for key, est, value in (
                ("t50", fit.t50, truth["t50_minutes"]),
                ("t90", fit.t90, truth["t90_minutes"]),
                ("tail", fit.tail_fraction, truth["tail_fraction"]),
            ):
                hits[(level, key)] += est.low <= value <= est.high
    # 24 seeds: at a true 90 %, 18 or more hits with probability 0.996; at a true 50 %,
    # 5 to 19 hits with probability 0.997 (an interval far too wide fails the upper bound)
    assert all(hits[(0.9, key)] >= 18 for key in ("t50", "t90", "tail")), hits
    assert all(5 <= hits[(0.5, key)] <= 19 for key in ("t50", "t90", "tail")), hits
