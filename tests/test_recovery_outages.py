"""Customers-out fitter: screening rules, onset rule, a simulated series with known truth, the real EAGLE-I series."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis.errors import FitError, ParameterError
from analysis.recovery import CustomersOutFit, Estimate, fit_customers_out, fit_customers_out_by_area
from analysis.recovery.outage_model import FeedNoise, QueueGrid, feed_noise, level_power
from analysis.recovery.outage_screen import first_sustained, relapse_mask, screen_present
from analysis.recovery.outages import _prepare

UTC = dt.UTC


def _real_dir() -> Path:
    here = Path(__file__).resolve().parents[2] / "shared/data/real"
    return here if here.is_dir() else Path("/work/shared/data/real")


def _read(name: str) -> pl.DataFrame:
    path = _real_dir() / name
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return pl.read_csv(path).select(
        pl.col("run_start_time").str.to_datetime().dt.replace_time_zone("UTC").alias("observed_at"),
        pl.col("customers_out").cast(pl.Float64).alias("out"),
    )


def _t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=UTC)


def _times(n: int, start: str = "2024-01-01 00:00") -> list[dt.datetime]:
    t0 = _t(start)
    return [t0 + dt.timedelta(minutes=15 * i) for i in range(n)]


# --------------------------------------------------------------------------- screening


def _decline(n: int = 80, peak: float = 10_000.0) -> np.ndarray:
    return peak * np.exp(-np.arange(n) / 60.0)


def _flags(v: np.ndarray) -> np.ndarray:
    return screen_present(15.0 * np.arange(v.size), v)


def test_dropout_run_of_zeros_is_flagged_and_nothing_else() -> None:
    v = _decline()
    v[20:24] = 0.0
    f = _flags(v)
    assert set(np.nonzero(f == "dropout")[0]) == {20, 21, 22, 23}
    assert (f[np.r_[0:20, 24:80]] == "").all()


def test_one_run_partial_dip_is_a_dropout() -> None:
    v = _decline()
    v[30] = 0.66 * v[29]
    f = _flags(v)
    assert list(np.nonzero(f != "")[0]) == [30]
    assert f[30] == "dropout"


def test_long_shallow_dip_is_kept() -> None:
    """A run of many readings at 70 % of the level is not "far below": kept (it may be real)."""
    v = 10_000.0 - 10.0 * np.arange(80)
    v[30:44] = 0.7 * v[29] * np.linspace(1.0, 0.98, 14)
    assert (_flags(v) == "").all()


def test_flapping_keeps_the_level_of_the_neighbours() -> None:
    v = np.full(60, 200_000.0) - 500.0 * np.arange(60)
    low = [20, 21, 22, 23, 25, 30]
    v[low] = 130_000.0
    f = _flags(v)
    assert set(np.nonzero(f == "flapping")[0]) == set(low)
    assert (np.delete(f, low) == "").all()


def test_flapping_real_low_level_flags_the_high_envelope() -> None:
    v = np.full(60, 140_000.0) - 100.0 * np.arange(60)
    high = [20, 21, 24, 27, 28]
    v[high] = 210_000.0
    f = _flags(v)
    assert set(np.nonzero(f == "flapping")[0]) == set(high)


def test_missing_runs_are_inserted_not_zero() -> None:
    times = _times(40)
    keep = [i for i in range(40) if i not in (10, 11, 12)]
    df = pl.DataFrame({"observed_at": [times[i] for i in keep], "out": [1000.0] * len(keep)})
    ts, out, _, cadence = _prepare(df.reverse(), None)  # unsorted input
    assert cadence == 900.0
    assert ts.size == 40
    assert np.isnan(out[10:13]).all()
    assert np.isfinite(np.delete(out, [10, 11, 12])).all()


def test_duplicate_times_are_averaged() -> None:
    times = _times(5)
    df = pl.DataFrame({"observed_at": [*times, times[2]], "out": [1.0, 2.0, 3.0, 4.0, 5.0, 5.0]})
    _, out, _, _ = _prepare(df, None)
    assert out.tolist() == [1.0, 2.0, 4.0, 4.0, 5.0]


def test_relapse_after_the_peak_is_marked() -> None:
    y = np.concatenate([np.linspace(0.2, 1.0, 10), np.linspace(1.0, 0.6, 20), np.full(8, 0.7), np.linspace(0.6, 0.4, 10)])
    m = 15.0 * np.arange(y.size)
    mask = relapse_mask(m, y, int(np.argmax(y)))
    assert mask[30:38].all()
    assert not mask[:30].any()


def test_onset_rule_needs_an_hour_above_five_percent() -> None:
    v = np.array([0, 10, 600, 10, 10, 700, 800, 900, 950, 1000, 5000, 10_000], dtype=float)
    m = 15.0 * np.arange(v.size)
    assert first_sustained(m, v, 0.05 * 10_000) == 5


# --------------------------------------------------------------------------- simulated truth


def _simulate(seed: int = 1) -> tuple[pl.DataFrame, float]:
    """A storm: arrivals over ~6 h, log-normal restoration (median 30 h), OU noise; returns the series and the true t50."""
    from analysis.recovery.families import make_family

    fam = make_family("lognormal")
    theta = np.array([[math.log(1800.0), 0.8, -30.0, 300.0, 2.0, 60.0, 1.0, 0.01]])
    horizon = 6 * 1440.0
    grid = QueueGrid(60.0, 15.0, horizon)
    g = grid.unit_curves(fam, theta[:, :6])[0]
    t = np.arange(0.0, horizon + 1, 15.0)
    mean = grid.at(g[None, :], t)[0]
    rng = np.random.default_rng(seed)
    e = np.zeros(t.size)
    rho = math.exp(-15.0 / 60.0)
    for i in range(1, t.size):
        e[i] = rho * e[i - 1] + 0.005 * math.sqrt(1 - rho**2) * rng.normal()
    out = 50_000.0 * np.maximum(mean + e, 0.0)
    line = 0.5 * float(np.max(mean))
    true_t50 = float(t[np.nonzero(mean >= line)[0][-1]])
    start = _t("2024-03-01 00:00")
    pre = [start - dt.timedelta(minutes=15 * i) for i in range(8, 0, -1)]
    times = pre + [start + dt.timedelta(minutes=float(x)) for x in t]
    values = [20.0] * 8 + out.tolist()
    return pl.DataFrame({"observed_at": times, "out": values}), true_t50


def test_simulated_series_recovers_t50() -> None:
    df, true_t50 = _simulate()
    fit = fit_customers_out(df, onset=_t("2024-03-01 00:00"), families=["lognormal", "weibull"], n_boot=60)
    assert abs(fit.t50.value - true_t50) < 0.1 * true_t50
    assert fit.crossing(0.5).reached
    assert fit.flag_counts.get("dropout", 0) == 0


def test_by_area_sums_runs_present_everywhere() -> None:
    df, _ = _simulate()
    a = df.with_columns(pl.lit("a").alias("area"))
    b = df.with_columns((pl.col("out") * 0.5).alias("out"), pl.lit("b").alias("area")).filter(pl.int_range(pl.len()) != 100)
    fits = fit_customers_out_by_area(pl.concat([a, b]), onset=_t("2024-03-01 00:00"), families=["exponential"], n_boot=0)
    assert set(fits) == {"a", "b", "total"}
    assert fits["total"].flag_counts["missing"] == 1
    assert fits["total"].peak_out == pytest.approx(1.5 * fits["a"].peak_out, rel=0.02)


def test_bad_arguments() -> None:
    df, _ = _simulate()
    with pytest.raises(ParameterError):
        fit_customers_out(df, level=1.5)
    with pytest.raises(ParameterError):
        fit_customers_out(df, timezone="Mars/Base")
    with pytest.raises(ParameterError):
        fit_customers_out(df.drop("out"))
    with pytest.raises(FitError):
        fit_customers_out(df.head(5))
    with pytest.raises(FitError):
        fit_customers_out(df.with_columns(pl.lit(0.0).alias("out")))


# --------------------------------------------------------------------------- real EAGLE-I series


@pytest.fixture(scope="module")
def volusia() -> CustomersOutFit:
    return fit_customers_out(_read("eaglei_2022_ian_volusia_fl.csv"), timezone="America/New_York")


@pytest.fixture(scope="module")
def charlotte() -> CustomersOutFit:
    return fit_customers_out(_read("eaglei_2022_ian_charlotte_fl.csv"), timezone="America/New_York")


@pytest.fixture(scope="module")
def beryl() -> CustomersOutFit:
    df = _read("eaglei_outages_2024_harris_beryl.csv")
    return fit_customers_out(
        df, onset=_t("2024-07-08 14:15"), end=_t("2024-07-12 23:45"), total=1_344_930.0, timezone="America/Chicago"
    )


def _dropped(fit: CustomersOutFit) -> set[dt.datetime]:
    q = fit.data_quality.filter((~pl.col("used")) & (pl.col("minutes") >= 0) & (pl.col("flag") != "after_end"))
    return set(q.get_column("observed_at").to_list())


def _span(a: str, b: str) -> set[dt.datetime]:
    t, end, out = _t(a), _t(b), set()
    while t <= end:
        out.add(t)
        t += dt.timedelta(minutes=15)
    return out


def _flag_at(fit: CustomersOutFit, when: str) -> str:
    return fit.data_quality.filter(pl.col("observed_at") == _t(when)).get_column("flag").item()


def _all_estimates_inside(fit: CustomersOutFit) -> None:
    ests: list[Estimate] = [fit.crossing(p).minutes for p in (0.5, 0.9, 0.99)]
    ests += [fit.restoration_quantile(p) for p in (0.5, 0.9)]
    ests += [fit.mean_outage_minutes, fit.customer_hours_lost(), fit.customer_hours_in_window, *fit.arrival_window.values()]
    for e in ests:
        assert e.low <= e.value <= e.high, e


def test_volusia(volusia: CustomersOutFit) -> None:
    fit = volusia
    assert fit.onset_source == "estimated"
    assert abs((fit.onset - _t("2022-09-29 00:15")).total_seconds()) <= 2 * 3600
    # listed defects flagged; nothing else after the onset dropped
    assert _flag_at(fit, "2022-09-27 12:00") == "dropout"
    assert {_flag_at(fit, s) for s in ("2022-10-01 13:45", "2022-10-01 14:00")} == {"dropout"}
    assert fit.flag_counts["missing"] == 18
    assert fit.flag_counts["flapping"] > 0
    flap = _span("2022-09-29 19:45", "2022-09-29 23:00")
    assert _dropped(fit) <= flap | _span("2022-10-01 13:45", "2022-10-01 14:00")
    assert fit.flag_counts["relapse"] > 0
    assert fit.data_quality.filter(pl.col("flag") == "relapse").get_column("used").all()
    # 50 % crossing: data below for good at 2022-10-01 13:15, 61 h after the onset
    truth = (_t("2022-10-01 13:15") - _t("2022-09-29 00:15")).total_seconds() / 60
    c = fit.crossing(0.5)
    assert c.reached
    assert not c.extrapolated
    assert abs(c.minutes.value - truth) <= 0.1 * truth
    assert c.after_peak_minutes.value == pytest.approx(c.minutes.value - fit.peak_minutes)
    assert not fit.crossing(0.9).reached
    _all_estimates_inside(fit)


def test_charlotte(charlotte: CustomersOutFit) -> None:
    fit = charlotte
    assert abs((fit.onset - _t("2022-09-28 14:30")).total_seconds()) <= 2 * 3600
    feed_loss = _span("2022-09-29 09:15", "2022-09-29 10:45") | _span("2022-10-01 13:45", "2022-10-01 14:00")
    assert {_flag_at(fit, "2022-09-28 21:00")} | {_flag_at(fit, s.isoformat()[:16]) for s in feed_loss} == {"dropout"}
    assert _dropped(fit) == feed_loss | {_t("2022-09-28 21:00")}
    c = fit.crossing(0.5)
    assert not c.reached
    assert c.extrapolated
    assert c.minutes.value > fit.horizon_minutes
    assert c.minutes.low > fit.horizon_minutes
    assert fit.to_metrics()["t50_extrapolated"] is True
    _all_estimates_inside(fit)


def test_beryl(beryl: CustomersOutFit) -> None:
    fit = beryl
    assert fit.onset_source == "config"
    dropouts = {
        _t("2024-07-09 15:30"),
        _t("2024-07-09 16:00"),
        *_span("2024-07-10 00:45", "2024-07-10 01:45"),
        _t("2024-07-10 03:00"),
        _t("2024-07-10 03:30"),
        _t("2024-07-10 05:30"),
    }
    assert _dropped(fit) == dropouts
    assert fit.flag_counts["dropout"] == 10
    assert fit.flag_counts["above_total"] > 0  # the peak is 1.235 × total_customers: kept, warned
    assert fit.peak_out == 1_660_703
    truth = 79.5 * 60
    t50 = fit.t50
    assert abs(t50.value - truth) <= 0.1 * truth
    assert t50.covers(truth)
    c90 = fit.crossing(0.9)
    assert not c90.reached
    assert c90.extrapolated
    assert c90.minutes.low > fit.horizon_minutes
    _all_estimates_inside(fit)


def test_metrics_are_json_ready(beryl: CustomersOutFit) -> None:
    m = beryl.to_metrics()
    text = json.dumps(m, allow_nan=False)
    assert "NaN" not in text
    assert m["kind"] == "customers_out"
    assert m["t50"].endswith("-05:00")  # America/Chicago in July
    assert m["t90_extrapolated"] is True
    assert m["readings"]["dropout"] == 10
    assert set(m["restoration_time"]) >= {"p50_minutes", "p50_minutes_ci", "mean_minutes", "mean_minutes_ci"}
    med, lo, hi = beryl.survival_curve(np.array([0.0, 600.0, 3000.0]))
    assert np.all(lo <= med) and np.all(med <= hi)
    assert set(beryl.candidates.columns) >= {"family", "converged", "aic", "weight"}
    assert beryl.diagnostics is not None
    assert beryl.diagnostics.observed_vs_fitted.columns == ["observed_at", "minutes", "observed", "fitted", "residual"]


# --------------------------------------------------------------------------- the feed's noise


def _ou(rng: np.random.Generator, n: int, sd: float, phi: float = 0.9) -> np.ndarray:
    """Autocorrelated noise (AR(1) at the cadence: an OU sampled every 15 min, memory ≈ 2.4 h)."""
    e = np.empty(n)
    e[0] = rng.normal(0.0, sd)
    for k in range(1, n):
        e[k] = phi * e[k - 1] + math.sqrt(1 - phi**2) * rng.normal(0.0, sd)
    return e


def _storm_shape() -> tuple[np.ndarray, np.ndarray]:
    """A 60-h series at 15 min: a 10-h rise to the peak, then an exponential decline (share of the peak)."""
    t = np.arange(0.0, 3600.0, 15.0)
    return t, np.maximum(np.where(t < 600.0, t / 600.0, np.exp(-(t - 600.0) / 900.0)), 1e-3)


def _noise_over_seeds(kind: str, n: int = 8) -> np.ndarray:
    t, mu = _storm_shape()
    rows = []
    for seed in range(n):
        rng = np.random.default_rng(seed)
        y = mu + _ou(rng, t.size, 0.02) if kind == "additive" else mu * np.exp(_ou(rng, t.size, 0.03))
        if kind == "step":
            y = y + 0.15 * ((t > 1500.0) & (t < 1800.0))  # a substation out for 5 h: the curve's, not the feed's
        est = feed_noise(t, np.maximum(y, 1e-4), step=15.0, fallback=FeedNoise(math.nan, math.nan, math.nan, 0))
        rows.append((est.sd_peak, est.power, est.tau, est.blocks))
    return np.array(rows)


def test_feed_noise_is_a_share_of_the_count_when_the_feed_is_so() -> None:
    """Multiplicative noise (3 % of the count) reads as power ≈ 1 and ≈ 3 % at the peak; additive noise as power ≈ 0.

    One SD for the whole series (the model's fitted noise) is pulled down by the lower readings
    of a multiplicative feed: at the top it was half the feed's noise or less.
    """
    mult = _noise_over_seeds("multiplicative")
    add = _noise_over_seeds("additive")
    assert np.all(mult[:, 3] >= 3)  # measured, not the fallback
    assert 0.85 <= np.median(mult[:, 1]) <= 1.2
    assert np.median(add[:, 1]) <= 0.3
    assert 0.7 * 0.03 <= np.median(mult[:, 0]) <= 1.5 * 0.03
    assert 0.7 * 0.02 <= np.median(add[:, 0]) <= 1.5 * 0.02
    est = FeedNoise(0.03, 1.0, 120.0, 5)
    assert est.sd(0.5) == pytest.approx(0.015) and est.log_sd(0.5) == pytest.approx(0.03)


def test_feed_noise_is_not_inflated_by_a_step_in_the_curve() -> None:
    """A 5-h substation outage on top of the decline is the curve's shape, not noise: its blocks are left out."""
    plain = _noise_over_seeds("multiplicative")
    step = _noise_over_seeds("step")
    assert np.median(step[:, 0]) <= 1.15 * np.median(plain[:, 0])
    assert np.median(step[:, 3]) < np.median(plain[:, 3])  # the blocks with the step's edges are dropped


def _flapping(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    """Two 2–4 h stretches where about half the readings fall to a stale 50–75 % of the value."""
    y = y.copy()
    for _ in range(2):
        k, length = int(rng.integers(50, 150)), int(rng.integers(8, 17))
        low = float(y[k : k + length].min()) * rng.uniform(0.5, 0.75)
        y[k + np.flatnonzero(rng.random(length) < 0.5)] = low
    return y


@pytest.mark.parametrize(
    ("sd", "phi", "flapping"),
    [(0.01, 0.9, False), (0.03, 0.9, False), (0.10, 0.9, False), (0.03, 0.0, False), (0.03, 0.5, False), (0.03, 0.9, True)],
    ids=["1%", "3%", "10%", "3%-white", "3%-AR0.5", "3%-flapping"],
)
def test_feed_noise_returns_the_known_scale_and_growth(sd: float, phi: float, flapping: bool) -> None:
    """Series of known noise (a share of the count: power 1) around a 10-h rise and a decline, 12 seeds each.

    Tolerance, as measured: the median over the seeds of the SD at the peak within 0.8–1.25 of
    the truth (0.91–1.12 measured), every series within 0.35–1.6 (0.40–1.41: in 4-h blocks
    the noise's memory is barely seen, and the SD goes with the square root of the memory
    chosen), the power within ±0.1 of 1 in median and ±0.25 per series. Flapping left in the
    readings (the fit flags it before; here it is not) moves it by 12 % in median.
    """
    t, mu = _storm_shape()
    rows = []
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        y = mu * np.exp(_ou(rng, t.size, sd, phi) if phi > 0 else rng.normal(0.0, sd, t.size))
        if flapping:
            y = _flapping(rng, y)
        est = feed_noise(t, y, step=15.0, fallback=FeedNoise(math.nan, math.nan, math.nan, 0))
        assert est.blocks >= 3
        rows.append((est.sd_peak / sd, est.power))
    ratio, power = np.array(rows).T
    assert 0.8 <= np.median(ratio) <= 1.25, ratio
    assert np.all((ratio >= 0.35) & (ratio <= 1.6)), ratio
    assert abs(np.median(power) - 1.0) <= 0.1, power
    assert np.all(np.abs(power - 1.0) <= 0.25), power


def test_level_power_is_the_noises_growth_not_the_storms_bends() -> None:
    """On simulated storms' true counts (bands, a substation, a second wave) plus a feed off by 3 % of itself.

    The blocks' own SDs against their levels read the build-up's bands and the peak's turn as
    noise growing with the level: on the fitted storms' readings that gave power 1.1–1.5
    (median 1.28 in `fast-bulk`) and, extrapolated to the top, an SD at the peak twice the
    feed's. The readings' second differences after the peak see the bends only at a few kinks.
    An additive feed (a constant number of customers) reads as power ≈ 0.
    """
    from benchmarks.storms import simulate

    mult, add = [], []
    for name in ("fast-bulk", "two-bands"):
        for seed in range(4):
            truth = simulate(name, seed).truth
            c = truth.curve.astype(float)[::15]
            t = 15.0 * np.arange(c.size)
            keep = np.arange(c.size) >= int(np.argmax(c > 0.05 * c.max()))
            t, c = t[keep], c[keep] / c.max()
            rng = np.random.default_rng(seed)
            mult.append(level_power(t, c * np.exp(_ou(rng, c.size, 0.03)), step=15.0))
            add.append(level_power(t, np.maximum(c + _ou(rng, c.size, 0.01, 0.5), 1e-4), step=15.0))
    assert None not in mult and None not in add
    assert 0.9 <= float(np.median(mult)) <= 1.15, mult
    assert all(0.8 <= p <= 1.4 for p in mult), mult
    assert float(np.median(add)) <= 0.3, add


def test_level_power_needs_a_range_of_levels() -> None:
    """Readings after the peak within a factor 4 (an export cut at 60 % restored) cannot show a power: None."""
    t = np.arange(0.0, 1200.0, 15.0)
    y = np.linspace(1.0, 0.4, t.size) * np.exp(_ou(np.random.default_rng(0), t.size, 0.03))
    assert level_power(t, y, step=15.0) is None
    fallback = FeedNoise(math.nan, math.nan, math.nan, 0)
    assert (
        feed_noise(
            np.arange(0.0, 3600.0, 15.0),
            np.full(240, 0.5) * np.exp(_ou(np.random.default_rng(1), 240, 0.03)),
            step=15.0,
            fallback=fallback,
        ).power
        == 1.0
    )


def test_feed_noise_falls_back_when_too_few_blocks_measure_it() -> None:
    """Two hours of readings hold no 4-h block: the fallback (the model's noise) is returned as given."""
    fallback = FeedNoise(0.02, 1.0, 60.0, 0)
    t = np.arange(0.0, 120.0, 15.0)
    assert feed_noise(t, np.linspace(1.0, 0.8, t.size), step=15.0, fallback=fallback) is fallback


# --------------------------------------------------------------------------- local crossing helpers


def test_window_widens_over_a_hole_at_the_crossing() -> None:
    from analysis.recovery.outage_result import _enough_readings

    u = np.concatenate([np.arange(-10, -2) * 15.0, np.arange(3, 12) * 15.0])  # 75 min lost on either side of 0
    assert _enough_readings(u, 60.0, limit=720.0) == 6 * 15.0
    assert _enough_readings(np.arange(-20, 20) * 15.0, 90.0, limit=720.0) == 90.0
    assert _enough_readings(u, 60.0, limit=75.0) == 75.0


def test_feed_loss_at_the_crossing_keeps_the_local_estimate() -> None:
    """Readings lost around the 50 % crossing: the crossing still comes from the readings around it."""
    df, true_t50 = _simulate(3)
    start = _t("2024-03-01 00:00")
    lost = (pl.col("observed_at") > start + dt.timedelta(minutes=true_t50 - 60)) & (
        pl.col("observed_at") < start + dt.timedelta(minutes=true_t50 + 75)
    )
    df = df.with_columns(pl.when(lost).then(0.0).otherwise(pl.col("out")).alias("out"))
    fit = fit_customers_out(df, onset=start, families=["lognormal", "weibull"], n_boot=30)
    assert fit.flag_counts.get("dropout", 0) >= 8
    assert fit.crossing(0.5).source == "readings"
    est = fit.t50
    assert est.low <= true_t50 <= est.high
    assert est.high - est.low < 0.2 * true_t50
