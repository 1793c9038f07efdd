"""Report timing: binned counts (point and window reports), the incident's event table.

Reports known to the minute are counted in the bin they fall in; reports known only as a
window ("Tuesday morning, until noon") are spread evenly over the bins they may fall in,
so the rate curve shows what is known and no more. All times are UTC inside; the ``local``
column gives wall-clock time in the incident's timezone for display.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from analysis.config import Incident
from analysis.errors import ParameterError
from analysis.timeparse import UTC_DTYPE

DOWN_STATUSES = ("down", "intermittent", "partial")


def down_reports(reports: pl.DataFrame) -> pl.DataFrame:
    """Reports that say service was (still) out: status down, intermittent or partial.

    When every report is one (the usual outage-tracker export) the table itself is returned:
    no copy of a table that may hold millions of rows.
    """
    down = reports["status"].is_in(DOWN_STATUSES).fill_null(False)
    if down.all():
        return reports
    return reports.filter(down)


def bin_edges(start: dt.datetime, end: dt.datetime, *, bin_minutes: float) -> np.ndarray:
    """Bin edges in UTC (numpy datetime64[us]) covering [start, end]."""
    if bin_minutes <= 0:
        raise ParameterError(f"bin_minutes must be > 0, got {bin_minutes}")
    if end <= start:
        raise ParameterError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    step = np.timedelta64(round(bin_minutes * 60e6), "us")
    s = np.datetime64(start.astimezone(dt.UTC).replace(tzinfo=None), "us")
    e = np.datetime64(end.astimezone(dt.UTC).replace(tzinfo=None), "us")
    n = int(np.ceil((e - s) / step))
    return s + step * np.arange(n + 1)


def restorations_as_times(restorations: pl.DataFrame) -> pl.DataFrame:
    """Restoration records as times for :func:`bin_reports`: when customers came back.

    A record observed restored gives its observation time; a record with a closed interval
    (``restored_after`` to ``restored_before``) gives that window, spread over it when
    binned. Records still down, or open on one side, say nothing about when and are left
    out. ``count`` becomes the weight.
    """
    cols = set(restorations.columns)
    null = pl.lit(None, dtype=pl.Datetime("us", "UTC"))

    def col(name: str) -> pl.Expr:
        return pl.col(name) if name in cols else null

    closed = col("restored_after").is_not_null() & col("restored_before").is_not_null()
    seen = (pl.col("restored") if "restored" in cols else pl.lit(False)).fill_null(False) & col("observed_at").is_not_null()
    out = restorations.select(
        pl.when(closed).then(col("restored_after")).when(seen).then(col("observed_at")).alias("reported_at"),
        pl.when(closed).then(col("restored_before")).otherwise(null).alias("reported_until"),
        (pl.col("count") if "count" in cols else pl.lit(1)).fill_null(1).cast(pl.Float64).alias("weight"),
    )
    return out.filter(pl.col("reported_at").is_not_null())


def bin_reports(
    reports: pl.DataFrame,
    *,
    start: dt.datetime,
    end: dt.datetime,
    bin_minutes: float = 60.0,
    timezone: str = "UTC",
) -> pl.DataFrame:
    """Count reports per time bin: exact times, and windows spread over the bins they cover.

    Parameters
    ----------
    reports
        Canonical reports (``reported_at``, ``reported_until``, optional ``weight``).
    start, end
        The binned span (UTC-aware datetimes); reports outside it are not counted.
    bin_minutes
        Bin width in minutes.
    timezone
        For the ``local`` display column.

    Returns
    -------
    polars.DataFrame
        ``bin_start`` (UTC), ``local`` (naive wall-clock), ``exact`` (reports with a
        known time), ``windowed`` (expected share of window reports), ``total``.
    """
    edges = bin_edges(start, end, bin_minutes=bin_minutes)
    e_us = edges.astype("int64")
    weight = reports["weight"] if "weight" in reports.columns else pl.Series([1] * reports.height)
    at = reports["reported_at"].dt.epoch("us").to_numpy()
    until = reports["reported_until"].dt.epoch("us").fill_null(-1).to_numpy() if reports.height else np.array([], dtype=np.int64)
    w = weight.cast(pl.Float64).to_numpy()
    point = until < 0
    exact = np.histogram(at[point], bins=e_us, weights=w[point])[0] if point.any() else np.zeros(len(edges) - 1)
    windowed = np.zeros(len(edges) - 1)
    if (~point).any():
        # distinct windows once: cost grows with the number of different windows, not reports
        uniq, inverse = np.unique(np.stack([at[~point], until[~point]], axis=1), axis=0, return_inverse=True)
        lo, hi = uniq[:, 0], uniq[:, 1]
        ww = np.bincount(inverse.ravel(), weights=w[~point], minlength=len(uniq))
        # overlap of each window with each bin, as a share of the window length
        left = np.maximum(lo[:, None], e_us[None, :-1])
        right = np.minimum(hi[:, None], e_us[None, 1:])
        share = np.clip(right - left, 0, None) / np.maximum(hi - lo, 1)[:, None]
        windowed = (share * ww[:, None]).sum(axis=0)
    out = pl.DataFrame(
        {
            "bin_start": pl.Series(edges[:-1]).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "exact": exact.astype(float),
            "windowed": windowed,
        }
    )
    return out.with_columns(
        (pl.col("exact") + pl.col("windowed")).alias("total"),
        pl.col("bin_start").dt.convert_time_zone(timezone).dt.replace_time_zone(None).alias("local"),
    ).select("bin_start", "local", "exact", "windowed", "total")


def choose_bin_minutes(start: dt.datetime, end: dt.datetime, *, target_bins: int = 72) -> float:
    """A readable display bin width (5, 10, 15, 30, 60, 120, 180, 360 min) for a span."""
    span = (end - start).total_seconds() / 60
    for width in (5, 10, 15, 30, 60, 120, 180, 360, 720, 1440):
        if span / width <= target_bins:
            return float(width)
    return 1440.0


def events_in(events: pl.DataFrame, language: str) -> pl.DataFrame:
    """The events table with ``label`` in ``language`` where the analyst wrote it (English otherwise)."""
    column = f"label_{language}"
    if column not in events.columns:
        return events
    return events.with_columns(pl.coalesce(column, "label").alias("label"))


def events_table(
    incident: Incident,
    *,
    reports: pl.DataFrame | None = None,
    derived: list[tuple[dt.datetime, str, str]] | None = None,
) -> pl.DataFrame:
    """The incident's timeline: configured events, data landmarks and fitted milestones.

    ``derived`` adds (time UTC, label, kind) rows computed elsewhere (e.g. t50, t90 from the
    recovery fit). Data landmarks are the first and last down report.
    """
    rows: list[dict[str, object]] = [
        {
            "time": e.time,
            "label": e.label,
            "kind": e.kind,
            "origin": "config",
            "source": e.source,
            "date_only": e.date_only,
            "label_fr": e.labels.get("fr"),
            "label_nl": e.labels.get("nl"),
        }
        for e in incident.events
    ]
    if incident.onset is not None:
        rows.append({"time": incident.onset, "label": "Onset (configured)", "kind": "onset", "origin": "config", "source": None})
    if reports is not None and reports.height:
        down = down_reports(reports)
        if down.height:
            first = down["reported_at"].min()
            last = down.select(pl.coalesce("reported_until", "reported_at").max()).item()
            rows.append({"time": first, "label": "First down report", "kind": "data", "origin": "data", "source": None})
            rows.append({"time": last, "label": "Last down report", "kind": "data", "origin": "data", "source": None})
    for t, label, kind in derived or []:
        rows.append({"time": t, "label": label, "kind": kind, "origin": "fit", "source": None})
    schema = pl.Schema(
        {
            "time": UTC_DTYPE,
            "label": pl.String(),
            "kind": pl.String(),
            "origin": pl.String(),
            "source": pl.String(),
            "date_only": pl.Boolean(),
            "label_fr": pl.String(),  # the label as written in French / Dutch, when it was
            "label_nl": pl.String(),
        }
    )
    rows = [{"date_only": False, "label_fr": None, "label_nl": None} | r for r in rows]
    table = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    return table.sort("time").with_columns(
        pl.col("time").dt.convert_time_zone(incident.timezone).dt.replace_time_zone(None).alias("local")
    )
