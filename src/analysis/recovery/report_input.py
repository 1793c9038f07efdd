"""The input of a report fit: its options, its clock (onset, end, horizon) and its windowed reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from analysis.errors import ParameterError
from analysis.recovery._time import as_times, epoch_seconds, to_utc
from analysis.recovery.onset import estimate_onset


def check_report_options(
    *,
    surge: Any,
    sampling: Any,
    dispersion: Any,
    model_uncertainty: Any,
    delay_profile: Any,
    noticing: Any,
    profile_uncertainty: Any,
) -> None:
    """One clear error for the first option of :func:`fit_down_reports` out of its range."""
    if not isinstance(surge, bool):
        raise ParameterError(f"surge must be True or False, got {surge!r}")
    if sampling not in ("spontaneous", "curated"):
        raise ParameterError(f"sampling must be 'spontaneous' or 'curated', got {sampling!r}")
    if dispersion not in ("auto", "poisson"):
        raise ParameterError(f"dispersion must be 'auto' or 'poisson', got {dispersion!r}")
    if model_uncertainty not in ("averaged", "chosen"):
        raise ParameterError(f"model_uncertainty must be 'averaged' or 'chosen', got {model_uncertainty!r}")
    if not isinstance(delay_profile, bool):
        raise ParameterError(f"delay_profile must be True or False, got {delay_profile!r}")
    if noticing is not None and not isinstance(noticing, bool) and noticing != "pooled":
        raise ParameterError(f"noticing must be True, False, None or 'pooled', got {noticing!r}")
    if not isinstance(profile_uncertainty, bool):
        raise ParameterError(f"profile_uncertainty must be True or False, got {profile_uncertainty!r}")


@dataclass(frozen=True)
class ReportClock:
    """The times of a report fit: onset (given or estimated), end, horizon and the reports on that clock."""

    onset_utc: dt.datetime
    onset_source: str
    onset_ci: Any
    end_utc: dt.datetime
    onset_s: float
    horizon: float  # minutes from onset to the end of observation
    epoch: np.ndarray  # report times, seconds since the epoch
    minutes: np.ndarray  # report times, minutes after onset


def report_clock(times: Any, *, onset: dt.datetime | None, end: dt.datetime, level: float) -> ReportClock:
    """Read the report ``times`` and place them after the ``onset`` (estimated when None) up to ``end``."""
    end_utc = to_utc(end, "end")
    kind, vals = as_times(times, "times")
    onset_source, onset_ci = "config", None
    if onset is None:
        if kind != "epoch":
            raise ParameterError("onset: required when times are given as minutes after onset")
        early = vals[vals <= epoch_seconds(end_utc)]
        est = estimate_onset(np.round(early * 1e6).astype(np.int64).astype("datetime64[us]"), level=level)
        onset_utc, onset_source, onset_ci = est.time, "estimated", est.interval
    else:
        onset_utc = to_utc(onset, "onset")
    onset_s = epoch_seconds(onset_utc)
    horizon = (epoch_seconds(end_utc) - onset_s) / 60.0
    if not horizon > 0:
        raise ParameterError(f"end ({end_utc.isoformat()}) must be after the onset ({onset_utc.isoformat()})")
    epoch = vals if kind == "epoch" else onset_s + vals * 60.0
    return ReportClock(onset_utc, onset_source, onset_ci, end_utc, onset_s, horizon, epoch, (epoch - onset_s) / 60.0)


def window_arrays(windows: pl.DataFrame | None, onset_s: float) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Start, end (minutes after onset) and count of windowed reports; three None without any."""
    if windows is None:
        return None, None, None
    if not isinstance(windows, pl.DataFrame):
        raise ParameterError(f"windows: expected a polars DataFrame, got {type(windows).__name__}")
    return window_frame(windows, onset_s) if windows.height else (None, None, None)


def window_frame(windows: pl.DataFrame, onset_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end) in minutes after onset and the count of reports of each window row."""
    cols = set(windows.columns)
    if {"start", "end"} <= cols:
        a, b = "start", "end"
    elif {"reported_at", "reported_until"} <= cols:
        a, b = "reported_at", "reported_until"
    else:
        raise ParameterError(f"windows: need columns 'start' and 'end' (UTC), got {sorted(cols)}")
    out = []
    for c in (a, b):
        kind, v = as_times(windows.get_column(c), f"windows.{c}")
        out.append((v - onset_s) / 60.0 if kind == "epoch" else v)
    if "count" in cols:
        cnt = windows.get_column("count").cast(pl.Float64).to_numpy()
        if np.any(~np.isfinite(cnt)) or np.any(cnt < 0):
            raise ParameterError("windows.count: counts must be finite and >= 0")
    else:
        cnt = np.ones(windows.height)
    bad = np.nonzero(out[1] < out[0])[0]
    if bad.size:
        raise ParameterError(f"windows: row {int(bad[0])} ends before it starts ({b} < {a})")
    return out[0], out[1], cnt
