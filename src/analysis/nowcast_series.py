"""A customers-out series' recovery so far: its share of the peak, its current rate, whether its peak may be ahead.

The extrapolations and the peak rule of the ETA forecast (:mod:`analysis.nowcast_eta`;
docs/nowcast.md, "How an ETA is made").
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl

from analysis.ingest import IngestResult

#: Hours of readings behind the current recovery rate.
RATE_HOURS = 3.0
#: A series whose count now is at least this share of its running maximum may not have peaked.
PEAK_BAND = 0.8
#: Hours within which a new running maximum, or a rise of the count, says the peak may be ahead.
RISE_HOURS = 3.0
#: A rise of the count by this factor over its lowest reading of the last ``RISE_HOURS``.
RISE_FACTOR = 1.1
#: The recent trend is "clearly down" when its slope is at least this many standard errors below 0.
TREND_Z = 2.0
#: Below this share of its running maximum a series' recovery has clearly begun, whatever its last hours did.
UNPEAKED_FLOOR = 0.5


def rate_eta(data: IngestResult, onset: dt.datetime, as_of: dt.datetime, p: float) -> float | None:
    """Minutes after onset at which a series reaches (1 − p) × its peak so far at its current rate.

    The rate is the least-squares slope of the share of the peak over the last
    :data:`RATE_HOURS` hours of readings; ``None`` when it is not falling or there are
    fewer than 4 readings.
    """
    if not data.online.height:
        return None
    from analysis.fitting import customers_out_series

    s = customers_out_series(data.online).drop_nulls("out").filter(pl.col("observed_at") <= as_of).sort("observed_at")
    peak = s["out"].max() if s.height else None
    recent = s.filter(pl.col("observed_at") >= as_of - dt.timedelta(hours=RATE_HOURS))
    if peak is None or not float(peak) > 0 or recent.height < 4:  # type: ignore[arg-type]
        return None
    x = (recent["observed_at"] - onset).dt.total_seconds().to_numpy() / 60.0
    y = recent["out"].to_numpy() / float(peak)  # type: ignore[arg-type]
    slope, icpt = np.polyfit(x, y, 1)
    elapsed = (as_of - onset).total_seconds() / 60.0
    now = icpt + slope * elapsed
    if not slope < 0:
        return None
    return elapsed + max(now - (1 - p), 0.0) / -slope


def peak_may_be_ahead(data: IngestResult, as_of: dt.datetime) -> str | None:
    """Why a series' peak so far may not be its peak (None when its recovery has clearly begun).

    Any of: the count now (median of the last hour's readings) is within
    :data:`PEAK_BAND` of its running maximum; or, while it is still above
    :data:`UNPEAKED_FLOOR` of that maximum: the running maximum was set in the last
    :data:`RISE_HOURS` hours; the count rose by :data:`RISE_FACTOR` over its lowest reading
    of those hours (and by that share of the peak); or the least-squares trend of those hours is not clearly down (less
    than :data:`TREND_Z` standard errors below zero). Early in a storm a first fall is
    often followed by later bands: it is not the recovery yet.
    """
    if not data.online.height:
        return None
    from analysis.fitting import customers_out_series

    s = customers_out_series(data.online).drop_nulls("out").filter(pl.col("observed_at") <= as_of).sort("observed_at")
    if s.height < 4:
        return "fewer than 4 readings"
    out = s["out"].to_numpy().astype(float)
    peak = float(out.max())
    if not peak > 0:
        return None
    since = as_of - dt.timedelta(hours=RISE_HOURS)
    peak_at = s["observed_at"][int(np.argmax(out))]
    recent = s.filter(pl.col("observed_at") >= since)
    last_hour = s.filter(pl.col("observed_at") >= as_of - dt.timedelta(hours=1))["out"]
    now = float(last_hour.median()) if last_hour.len() else float(out[-1])  # type: ignore[arg-type]
    if now >= PEAK_BAND * peak:
        return f"the count is within {1 - PEAK_BAND:.0%} of its running maximum"
    if now < UNPEAKED_FLOOR * peak:
        return None  # most of the peak is back: a later band would have to be large to matter
    if peak_at >= since:
        return f"the running maximum was set in the last {RISE_HOURS:g} h"
    low = float(recent["out"].min()) if recent.height else now  # type: ignore[arg-type]
    if now > RISE_FACTOR * low and now - low > (RISE_FACTOR - 1) * peak:
        return f"the count rose in the last {RISE_HOURS:g} h"
    if recent.height >= 4:
        x = (recent["observed_at"] - since).dt.total_seconds().to_numpy() / 3600.0
        y = recent["out"].to_numpy().astype(float) / peak
        slope, icpt = np.polyfit(x, y, 1)
        resid = y - (icpt + slope * x)
        sxx = float(np.sum((x - x.mean()) ** 2))
        se = math.sqrt(float(np.sum(resid**2)) / max(x.size - 2, 1) / sxx) if sxx > 0 else math.inf
        if not slope < -TREND_Z * se:
            return f"the trend of the last {RISE_HOURS:g} h is not clearly down"
    return None


def progress_eta(share: float, since_minutes: float, elapsed: float, p: float) -> float | None:
    """Minutes after onset at which the share still out reaches 1 − p, if it keeps falling as it has.

    A log-linear (exponential) decline fitted through two points: everyone out
    ``since_minutes`` before now (the peak of a series, the onset for reports) and
    ``share`` now. ``None`` when the share has hardly fallen (above 0.98) or is unknown.
    """
    if not (math.isfinite(share) and 0 < share <= 0.98 and since_minutes > 0):
        return None
    if share <= 1 - p:
        return elapsed
    tau = since_minutes / math.log(1 / share)
    return elapsed + tau * math.log(share / (1 - p))


def series_progress(data: IngestResult, onset: dt.datetime, as_of: dt.datetime) -> tuple[float, float] | None:
    """A series' share of its peak now (median of the last hour's readings) and minutes since the peak."""
    if not data.online.height:
        return None
    from analysis.fitting import customers_out_series

    s = customers_out_series(data.online).drop_nulls("out").filter(pl.col("observed_at") <= as_of)
    if s.height < 4:
        return None
    top = s.sort("out").tail(1)
    peak, at = float(top["out"][0]), top["observed_at"][0]
    last = s.filter(pl.col("observed_at") >= as_of - dt.timedelta(hours=1))["out"].median()
    if not peak > 0 or last is None:
        return None
    return float(last) / peak, (as_of - max(at, onset)).total_seconds() / 60.0  # type: ignore[arg-type]
