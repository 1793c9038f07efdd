"""Regional incidents drawn by a report process that is not the fitter's own model.

The fitter assumes reports at rate A·g(clock)·S(t) with its default hourly profile g and
exact times. The incidents here differ on purpose, so that the regional test is checked
against data it was not built from:

* the curve is a two-part mixture after a delay (a fast bulk and a slow tail), stretched
  in time by a factor per region;
* the hourly profile is a smooth day/night cycle unlike the fitter's default;
* every municipality has its own propensity to report (log-normal multiplier);
* report times are drawn on a one-second grid by inverting the integrated intensity and
  then cut to the minute, as many sources write them (ties).
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from analysis.geo import reference_municipalities

from .spatial_fixtures import canonical_reports

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
HORIZON_MINUTES = 48 * 60.0
END = ONSET + dt.timedelta(minutes=HORIZON_MINUTES)
TZ = "Europe/Brussels"
DELAY = 15.0  # minutes before the first restorations
BULK = (120.0, 1.6)  # Weibull scale (min) and shape of the fast part
TAIL = (0.25, 600.0)  # share and mean (min) of the exponential tail


def survival(t: np.ndarray, stretch: float = 1.0) -> np.ndarray:
    """S(t/stretch) of the generating curve: delay, then a Weibull bulk and an exponential tail."""
    u = np.maximum(np.asarray(t, dtype=float) / stretch - DELAY, 0.0)
    share, mean = TAIL
    return (1 - share) * np.exp(-((u / BULK[0]) ** BULK[1])) + share * np.exp(-u / mean)


def diurnal(epoch_s: np.ndarray) -> np.ndarray:
    """Reporting propensity by local clock time: a cosine with its low at 04:00 and high at 16:00 (ratio 1:8)."""
    stamps = pl.Series(np.asarray(epoch_s * 1e6, dtype=np.int64)).cast(pl.Datetime("us", "UTC"))
    local = stamps.dt.convert_time_zone(TZ)
    hour = (local.dt.hour().to_numpy() + local.dt.minute().to_numpy() / 60.0).astype(float)
    return 1.0 + 0.78 * np.cos(2 * np.pi * (hour - 16.0) / 24.0)


def _region_minutes(n_expected: float, stretch: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson number of report times (minutes after onset), density ∝ diurnal·S(t/stretch), on a 1-s grid."""
    t = np.arange(0.0, HORIZON_MINUTES, 1.0 / 60.0)
    dens = diurnal(ONSET.timestamp() + t * 60.0) * survival(t, stretch)
    cum = np.cumsum(dens)
    n = rng.poisson(n_expected)
    idx = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
    return t[np.minimum(idx, t.size - 1)]


def regional_reports(
    n_per_region: Mapping[str, float],
    *,
    slow: Mapping[str, float] | None = None,
    seed: int = 0,
    spread: float = 0.5,
) -> pl.DataFrame:
    """Canonical down reports (the columns the spatial code reads), minute-rounded.

    Parameters
    ----------
    n_per_region : mapping
        Expected reports per region (the number drawn is Poisson).
    slow : mapping, optional
        Time stretch per region (2: restored twice as slowly); 1 when absent.
    seed : int
        Seed of the draws.
    spread : float
        SD of the log propensity multiplier of each municipality.
    """
    rng = np.random.default_rng(seed)
    munis = reference_municipalities().filter(pl.col("population") > 0)
    frames = []
    for region, n in n_per_region.items():
        minutes = np.floor(_region_minutes(n, (slow or {}).get(region, 1.0), rng))
        m = munis.filter(pl.col("region") == region)
        p = m["population"].to_numpy().astype(float) * np.exp(rng.normal(0.0, spread, m.height))
        pick = rng.choice(m.height, size=minutes.size, p=p / p.sum())
        frames.append(m[pick].with_columns(pl.Series("minutes", minutes)))
    df = pl.concat(frames)
    at = pl.lit(ONSET) + pl.duration(minutes=pl.col("minutes").cast(pl.Int64))
    return canonical_reports(
        df.with_columns(
            at.cast(pl.Datetime("us", "UTC")).alias("reported_at"),
            pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("reported_until"),
        )
    )


def write_regional_incident(reports: pl.DataFrame, folder: Path, *, title: str, window: bool = True) -> Path:
    """An incident folder (``incident.toml`` and ``reports.csv`` with local minute stamps and town names).

    ``window=False`` leaves out ``onset`` and ``end`` (both are then inferred from the reports).
    """
    folder.mkdir(parents=True, exist_ok=True)
    local = reports.select(
        pl.col("reported_at").dt.convert_time_zone(TZ).dt.strftime("%Y-%m-%d %H:%M").alias("time"),
        pl.col("municipality").alias("town"),
    )
    local.write_csv(folder / "reports.csv")
    onset_local = ONSET.astimezone(ZoneInfo(TZ)).strftime("%Y-%m-%dT%H:%M:%S")
    end_local = END.astimezone(ZoneInfo(TZ)).strftime("%Y-%m-%dT%H:%M:%S")
    span = f'onset = "{onset_local}"\nend = "{end_local}"\n' if window else ""
    (folder / "incident.toml").write_text(
        f'id = "{folder.name}"\ntitle = "{title}"\ntimezone = "{TZ}"\n{span}'
        + textwrap.dedent(
            """\
            simulated = true
            [[sources]]
            path = "reports.csv"
            kind = "down_reports"
            [sources.columns]
            reported_at = "time"
            place = "town"
            """
        ),
        encoding="utf-8",
    )
    return folder
