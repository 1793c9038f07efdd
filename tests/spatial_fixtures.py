"""Simulated national incidents for the spatial tests: reports by region with a known pace per region."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import polars as pl

from analysis.geo import reference_municipalities
from analysis.recovery import RecoveryFit, fit_down_reports
from analysis.simulate import report_times

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
HORIZON_MINUTES = 36 * 60.0
END = ONSET + dt.timedelta(minutes=HORIZON_MINUTES)
WEIBULL = {"lambda": 150.0, "rho": 1.3}


def simulate_reports(
    n_reports: int,
    *,
    slow: Mapping[str, float] | None = None,
    seed: int = 0,
    window_share: float = 0.0,
) -> pl.DataFrame:
    """Canonical down reports of a national incident.

    Customers are spread over municipalities by population; each region's reports follow
    λ_r(t) = A_r·g(clock)·S(t/φ_r) with S Weibull(150 min, 1.3) and φ_r from ``slow``
    (default 1). ``window_share`` of the reports are only known within a 2-hour window.
    """
    rng = np.random.default_rng(seed)
    munis = reference_municipalities().filter(pl.col("population") > 0)
    pop = munis.group_by("region").agg(pl.col("population").sum()).sort("region")
    total_pop = float(pop["population"].sum())
    onset_s = ONSET.timestamp()
    frames = []
    for region, region_pop in pop.iter_rows():
        phi = (slow or {}).get(region, 1.0)
        params = {"lambda": WEIBULL["lambda"] * phi, "rho": WEIBULL["rho"]}
        # rate chosen so the region's expected count is its population share of n_reports
        rate = n_reports * region_pop / total_pop / (WEIBULL["lambda"] * phi * 0.75)
        t = report_times(
            family="weibull", params=params, rate_per_minute=rate, horizon_minutes=HORIZON_MINUTES, onset_epoch_s=onset_s, rng=rng
        )
        m = munis.filter(pl.col("region") == region)
        p = m["population"].to_numpy().astype(float)
        pick = rng.choice(m.height, size=t.size, p=p / p.sum())
        frames.append(m[pick].with_columns(pl.Series("minutes", t)))
    df = pl.concat(frames)
    at = pl.lit(ONSET) + pl.duration(microseconds=(pl.col("minutes") * 6e7).cast(pl.Int64))
    win = pl.Series("win", rng.random(df.height) < window_share)
    df = df.with_columns(win).with_columns(
        pl.when(pl.col("win")).then(at - pl.duration(minutes=60)).otherwise(at).alias("reported_at"),
        pl.when(pl.col("win")).then(at + pl.duration(minutes=60)).otherwise(None).alias("reported_until"),
    )
    return canonical_reports(df)


def canonical_reports(df: pl.DataFrame) -> pl.DataFrame:
    """Simulated rows (``reported_at``, ``reported_until``, ``name`` and the geography) as canonical reports."""
    return df.select(
        pl.format("sim-{}", pl.int_range(pl.len())).alias("report_id"),
        pl.lit("simulated").alias("source"),
        pl.col("reported_at").cast(pl.Datetime("us", "UTC")),
        pl.col("reported_until").cast(pl.Datetime("us", "UTC")),
        pl.col("name").alias("place_raw"),
        pl.lit("down").alias("status"),
        pl.lit(1, dtype=pl.Int64).alias("weight"),
        pl.lit("municipality").alias("area_level"),
        "nis_code",
        pl.col("name").alias("municipality"),
        "province",
        "province_code",
        "region",
        "region_code",
        pl.lit("exact").alias("geo_method"),
        pl.lit(None, dtype=pl.Float64).alias("lat"),
        pl.lit(None, dtype=pl.Float64).alias("lon"),
    )


def national_fit(reports: pl.DataFrame, *, n_boot: int = 50, seed: int = 0) -> RecoveryFit:
    """Weibull fit to all reports (exact and windowed), as the pipeline would make it."""
    point = reports.filter(pl.col("reported_until").is_null())
    win = reports.filter(pl.col("reported_until").is_not_null())
    windows = pl.DataFrame({"start": win["reported_at"], "end": win["reported_until"]}) if win.height else None
    return fit_down_reports(
        point["reported_at"], onset=ONSET, end=END, windows=windows, families=["weibull"], n_boot=n_boot, seed=seed
    )
