"""The ETA from the share restored so far and the recovery's shape (analysis.nowcast_shape)."""

from __future__ import annotations

import datetime as dt
import math
from statistics import NormalDist
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from analysis.nowcast_eta import DurationPrior, eta_forecasts
from analysis.nowcast_history import PastEvent
from analysis.nowcast_shape import ASSUMED_SHAPE, MIN_SHAPE_EVENTS, Z90, RecoveryShape, learn_shape, shape_eta
from analysis.recovery.result import Estimate

ND = NormalDist()


def events(sigmas: list[float], kind: str = "down_reports", t50: float = 300.0) -> list[PastEvent]:
    return [PastEvent(f"e{i}", kind, 100.0, t50, t50 * math.exp(Z90 * s)) for i, s in enumerate(sigmas)]


def test_the_shape_is_learned_from_t90_over_t50_of_past_incidents_of_the_kind() -> None:
    past = events([0.5, 0.6, 0.7, 0.6]) + events([2.0, 2.0, 2.0], kind="online_fraction")
    shape = learn_shape(past, "down_reports")
    assert shape.n_events == 4 and shape.sigma == pytest.approx(0.6)
    # the scatter (sd 0.08) pooled with one pseudo-event of the assumed spread 0.35, plus the mean's uncertainty
    assert 0.1 < shape.sigma_sd < 0.35
    assert learn_shape(past, "online_fraction").sigma == pytest.approx(2.0)
    # fewer than MIN_SHAPE_EVENTS once the incident itself is left out: the assumed shape (t90 = 3 × t50)
    few = events([0.5] * MIN_SHAPE_EVENTS)
    assert learn_shape(few, "down_reports", exclude="e0") == RecoveryShape()
    assert RecoveryShape().sigma == pytest.approx(math.log(3.0) / Z90) == ASSUMED_SHAPE
    assert learn_shape(None, "down_reports") == RecoveryShape()


def test_with_the_true_shape_the_share_restored_gives_the_true_crossing_and_the_spread_shrinks_near_it() -> None:
    sigma, median = 0.6, 300.0
    t90 = median * math.exp(Z90 * sigma)
    shape = RecoveryShape(sigma, 0.2, 10)
    spreads = []
    for q in (0.1, 0.3, 0.6, 0.85):
        elapsed = median * math.exp(sigma * ND.inv_cdf(q))  # when q of the restoration times have passed
        mu, sd = shape_eta(q, 0.0, elapsed, 0.9, shape)  # type: ignore[misc]
        assert math.exp(mu) == pytest.approx(t90, rel=1e-9)
        spreads.append(sd)
    assert spreads == sorted(spreads, reverse=True) and spreads[-1] < 0.15 < 0.3 < spreads[0]
    # an uncertain share widens it; nothing restored yet, or the crossing at hand: no piece
    assert shape_eta(0.3, 0.1, 200.0, 0.9, shape)[1] > shape_eta(0.3, 0.0, 200.0, 0.9, shape)[1]  # type: ignore[index]
    assert shape_eta(0.01, 0.0, 200.0, 0.9, shape) is None
    assert shape_eta(0.9, 0.0, 200.0, 0.9, shape) is None
    assert shape_eta(math.nan, 0.0, 200.0, 0.9, shape) is None


def test_the_shape_piece_covers_90_percent_of_events_whose_shapes_scatter_like_the_history() -> None:
    rng = np.random.default_rng(7)
    past = events(list(rng.normal(0.7, 0.15, 20)))
    shape = learn_shape(past, "down_reports")
    hits, n = 0, 2000
    for _ in range(n):
        sigma, median, q = rng.normal(0.7, 0.15), float(np.exp(rng.normal(5.5, 0.5))), rng.uniform(0.1, 0.8)
        elapsed = median * math.exp(sigma * ND.inv_cdf(q))
        mu, sd = shape_eta(q, 0.0, elapsed, 0.9, shape)  # type: ignore[misc]
        z = (math.log(median * math.exp(Z90 * sigma)) - mu) / sd
        hits += abs(z) <= ND.inv_cdf(0.95)
    assert 0.88 <= hits / n <= 0.98  # two-sided: neither too narrow nor everything


def test_eta_forecasts_use_the_share_restored_of_a_report_fit() -> None:
    onset = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    fit = SimpleNamespace(
        onset=onset,
        quantile=lambda p: Estimate(math.nan, math.nan, math.nan),  # no usable crossing: the prior and the share
        still_affected=lambda t: Estimate(0.4, 0.35, 0.45),
    )
    empty = SimpleNamespace(reports=pl.DataFrame(), restorations=pl.DataFrame(), online=pl.DataFrame())
    history = events([0.6] * 6)
    record: dict[str, list[tuple[str, float, float]]] = {}
    common = {"evidence": "down_reports", "data": empty, "elapsed": 300.0, "level": 0.9, "history": history}
    f = eta_forecasts(fit, **common, record=record)["t90"]  # type: ignore[arg-type]
    names = [name for name, _, _ in record["t90"]]
    assert "shape" in names
    mu = {k: m for k, m, _ in record["t90"]}["shape"]
    assert math.exp(mu) == pytest.approx(300.0 * math.exp(0.6 * (Z90 - ND.inv_cdf(0.6))), rel=1e-6)
    lo, hi = f.interval(0.9)
    alone = eta_forecasts(None, **common)["t90"]  # type: ignore[arg-type]
    assert hi - lo < (alone.interval(0.9)[1] - alone.interval(0.9)[0]) / 2  # the progress seen narrows the prior's interval
    assert DurationPrior.for_event("down_reports", 100.0, history).shape.n_events == 6


def test_the_backtest_calibration_per_progress_point_reaches_90_percent_when_intervals_are_too_wide() -> None:
    from benchmarks import nowcast as backtest

    rng = np.random.default_rng(3)
    rows = []
    for i in range(60):
        elapsed, rem = 100.0, float(np.exp(rng.normal(4.0, 0.3)))  # the truth: median remaining e^4, log-scale sd 0.3
        med = elapsed + math.exp(4.0)
        # every interval three times too wide on the log scale of the remaining time (sd 0.9 instead of 0.3)
        low, high = elapsed + math.exp(4.0 - 1.645 * 0.9), elapsed + math.exp(4.0 + 1.645 * 0.9)
        rows.append(
            {
                "method": "nowcast",
                "case": f"c{i}",
                "group": "g",
                "fraction": 0.5,
                "elapsed": elapsed,
                "median": med,
                "low90": low,
                "high90": high,
                "truth": elapsed + rem,
                "remaining_minutes": rem,
            }
        )
    assert backtest.stretch_needed(rows[0]) == pytest.approx(
        abs(math.log(rows[0]["remaining_minutes"]) - 4.0) / (1.645 * 0.9), rel=1e-9
    )
    t = backtest.stage_conformal(rows).filter(pl.col("group") == "all").row(0, named=True)
    assert 0.2 < t["stretch"] < 0.5  # about a third: the intervals were three times too wide
    assert 0.82 <= t["cover90"] <= 0.98
    raw = float(np.median([(r["high90"] - r["low90"]) / r["remaining_minutes"] for r in rows]))
    assert t["width90"] < raw / 2
    # four other incidents: too few for the 90 % conformal rank, nothing calibrated
    assert backtest.stage_conformal(rows[:5]).height == 0  # four others: no 90 % conformal rank
