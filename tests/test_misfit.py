"""Runs of large Pearson residuals: found where the fit misses a burst, not in noise."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from analysis.misfit import binned_residuals, find_misfits, residual_runs
from analysis.narrative import misfit_sentence

T0 = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)  # 20:00 in Brussels


def test_noise_with_isolated_spikes_has_no_run() -> None:
    r = np.array([0.3, -0.5, 2.6, 0.1, -2.2, 0.4, 1.7, 1.6, -0.2, 0.0])
    assert residual_runs(r) == []


def test_a_run_of_six_bins_above_the_fit_is_found_with_its_bounds() -> None:
    r = np.zeros(30)
    r[10:16] = [2.49, 1.89, 2.12, 2.14, 2.82, 2.75]  # the shape of a missed morning burst
    assert residual_runs(r) == [(10, 15, 1)]


def test_runs_below_the_fit_are_found_and_signs_do_not_mix() -> None:
    r = np.array([0.0, -1.8, -2.0, -1.6, 0.2, 1.9, -1.9, 1.9, 0.0])
    assert residual_runs(r) == [(1, 3, -1)]  # the alternating tail is not a run


def test_a_bin_under_the_threshold_or_missing_breaks_a_run() -> None:
    r = np.array([2.0, 2.0, 1.0, 2.0, 2.0, np.nan, 2.0, 2.0, 2.0])
    assert residual_runs(r) == [(6, 8, 1)]
    assert residual_runs(r, min_run=2) == [(0, 1, 1), (3, 4, 1), (6, 8, 1)]
    assert residual_runs(r, threshold=2.5) == []


def _diagnostics(per_bin_observed: np.ndarray, per_bin_expected: np.ndarray) -> SimpleNamespace:
    """A report fit's diagnostics with 5-minute bins (12 per display hour)."""
    n = per_bin_observed.size
    starts = [T0 + dt.timedelta(minutes=5 * k) for k in range(n)]
    table = pl.DataFrame(
        {
            "bin_start": pl.Series(starts, dtype=pl.Datetime("us", "UTC")),
            "observed": per_bin_observed,
            "observed_windowed": np.zeros(n),
            "fitted": per_bin_expected,
        }
    )
    return SimpleNamespace(observed_vs_fitted=table)


def test_binning_keeps_the_totals_and_computes_pearson_residuals() -> None:
    obs = np.tile([1.0, 0.0, 0.0], 24)  # 72 five-minute bins = 6 hours
    exp = np.full(72, 0.25)
    binned = binned_residuals(_diagnostics(obs, exp).observed_vs_fitted, 60)
    assert binned.height == 6
    assert binned["observed"].sum() == pytest.approx(obs.sum())
    assert binned["expected"].sum() == pytest.approx(exp.sum())
    assert binned["residual"].to_list() == pytest.approx([(4 - 3) / np.sqrt(3)] * 6)
    assert (binned["bin_end"] - binned["bin_start"]).dt.total_minutes().to_list() == [60] * 6


def test_a_burst_of_reports_is_found_with_observed_and_model_counts() -> None:
    hours = 24
    exp = np.full(hours * 12, 2.0 / 12)  # 2 reports an hour expected throughout
    obs = np.zeros_like(exp)
    obs[::6] = 1.0  # 2 an hour observed: the model fits ...
    obs[10 * 12 : 16 * 12 : 2] = 1.0  # ... except six hours with 6 an hour
    misfits = find_misfits(_diagnostics(obs, exp), 60)
    assert len(misfits) == 1
    burst = misfits[0]
    assert burst.sign == 1 and burst.bins == 6
    assert burst.start == T0 + dt.timedelta(hours=10) and burst.end == T0 + dt.timedelta(hours=16)
    assert burst.observed == pytest.approx(36) and burst.expected == pytest.approx(12)
    assert burst.pooled_residual == pytest.approx((36 - 12) / np.sqrt(12))
    entry = burst.to_metrics("Europe/Brussels")
    assert entry["start"] == "2018-01-09T06:00:00+01:00" and entry["direction"] == "more" and entry["observed"] == 36


def test_a_fit_that_matches_has_no_misfit() -> None:
    rng = np.random.default_rng(1)
    exp = np.full(48 * 12, 3.0 / 12)
    obs = rng.poisson(exp).astype(float)
    assert find_misfits(_diagnostics(obs, exp), 60) == []


def test_a_short_run_on_tiny_expectations_is_not_a_finding() -> None:
    exp = np.full(24 * 12, 0.05 / 12)  # 0.05 reports an hour expected
    obs = np.zeros_like(exp)
    obs[[30, 42, 54]] = 1.0  # one report in each of three consecutive hours: residuals ≈ 4.3
    binned = binned_residuals(_diagnostics(obs, exp).observed_vs_fitted, 60)
    assert (binned["residual"].to_numpy()[2:5] > 4).all()
    misfits = find_misfits(_diagnostics(obs, exp), 60)
    assert len(misfits) == 1  # pooled (3 − 0.15)/√0.15 ≈ 7.4: three reports where none were expected is real
    assert find_misfits(_diagnostics(obs, exp), 60, min_pooled=8.0) == []


def test_evidence_without_counts_has_no_misfit() -> None:
    assert find_misfits(None, 60) == []
    series = SimpleNamespace(observed_vs_fitted=pl.DataFrame({"observed_at": [T0], "observed": [0.1], "fitted": [0.1]}))
    assert find_misfits(series, 60) == []


@pytest.mark.parametrize(
    ("lang", "curated", "words"),
    [
        ("en", True, ["burst of statements", "Tuesday 9 January 06:00–12:00 CET", "observed 28", "model 9.9"]),
        ("en", False, ["burst of reports", "Tuesday 9 January 06:00–12:00 CET"]),
        ("fr", True, ["rafale de mentions", "mardi 9 janvier 06:00–12:00 CET", "observé 28", "modèle 9,9"]),
        ("nl", True, ["golf van uitspraken", "dinsdag 9 januari 06:00–12:00 CET", "waargenomen 28", "model 9,9"]),
    ],
)
def test_the_misfit_sentence_names_the_period_and_both_counts(lang: str, curated: bool, words: list[str]) -> None:
    start = dt.datetime(2018, 1, 9, 5, 0, tzinfo=dt.UTC)
    misfit = SimpleNamespace(start=start, end=start + dt.timedelta(hours=6), observed=28.0, expected=9.91, sign=1)
    a = SimpleNamespace(
        params=SimpleNamespace(language=lang), incident=SimpleNamespace(timezone="Europe/Brussels"), curated=curated
    )
    sentence = misfit_sentence(a, misfit)
    for w in words:
        assert w in sentence
    fewer = misfit_sentence(a, SimpleNamespace(**{**vars(misfit), "sign": -1}))
    assert fewer != sentence and "28" in fewer
