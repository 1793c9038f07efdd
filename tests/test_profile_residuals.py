"""benchmarks/profile_residuals.py reads a daily pattern that a report fit misses from its residuals."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from benchmarks.profile_residuals import SKIP_MINUTES, clock_pattern

from analysis.recovery.clock_profile import profile_basis
from analysis.recovery.propensity import local_hours

ONSET = dt.datetime(2018, 1, 8, 7, 0, tzinfo=dt.UTC)
TZ = "Europe/Brussels"


def _table(coef: list[float], seed: int, level: float = 400.0) -> pl.DataFrame:
    """Two days of 5-minute bins: fitted counts ``level``, observed Poisson around level·exp(δ(clock hour))."""
    edges = np.arange(0.0, 2 * 1440.0 + 5.0, 5.0)
    start = [ONSET + dt.timedelta(minutes=float(x)) for x in edges[:-1]]
    end = [ONSET + dt.timedelta(minutes=float(x)) for x in edges[1:]]
    mid = ONSET.timestamp() + 30.0 * (edges[:-1] + edges[1:])
    delta = np.asarray(coef) @ profile_basis(local_hours(mid, TZ))
    obs = np.random.default_rng(seed).poisson(level * np.exp(delta)).astype(float)
    utc = pl.Datetime("us", "UTC")
    return pl.DataFrame(
        {
            "bin_start": pl.Series(start, dtype=utc),
            "bin_end": pl.Series(end, dtype=utc),
            "minutes_start": edges[:-1],
            "minutes_end": edges[1:],
            "observed": obs,
            "observed_windowed": np.zeros(obs.size),
            "fitted": np.full(obs.size, level),
        }
    )


def test_a_missed_daily_pattern_is_read_back() -> None:
    out = clock_pattern(_table([0.0, 0.0, 0.0, -0.1], seed=1), TZ)
    assert out["coef"] == pytest.approx([0.0, 0.0, 0.0, -0.1], abs=0.01)
    assert out["chi2"] > 100.0 and out["phi"] == pytest.approx(1.0, abs=0.15)


def test_no_pattern_gives_a_chi_square_of_four_degrees_of_freedom() -> None:
    chi = [clock_pattern(_table([0.0] * 4, seed=s), TZ)["chi2"] for s in range(20)]
    assert 2.0 < float(np.mean(chi)) < 6.5  # E[χ²₄] = 4
    assert max(chi) < 25.0


def test_the_first_bins_are_left_out() -> None:
    table = _table([0.0] * 4, seed=3)
    hit = table.with_columns(
        pl.when(pl.col("minutes_end") <= SKIP_MINUTES).then(0.0).otherwise(pl.col("observed")).alias("observed")
    )
    assert clock_pattern(hit, TZ) == clock_pattern(table, TZ)
    assert clock_pattern(hit, TZ, skip_minutes=0.0)["chi2"] > clock_pattern(table, TZ)["chi2"]
