"""Conversions between the caller's time values and minutes after onset (UTC throughout)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import numpy as np
import polars as pl

from analysis.errors import ParameterError


def to_utc(value: Any, name: str) -> dt.datetime:
    """Convert an aware datetime (or numpy datetime64, taken as UTC) to an aware UTC datetime.

    Naive Python datetimes are refused: the fitters work in UTC and cannot guess which
    timezone a naive time was meant in (config loading localises naive times first).
    """
    if isinstance(value, np.datetime64):
        us = value.astype("datetime64[us]").astype(np.int64)
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(us))
    if not isinstance(value, dt.datetime):
        raise ParameterError(f"{name}: expected a timezone-aware datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ParameterError(f"{name}: naive datetime {value.isoformat()} — give it a timezone (UTC expected)")
    return value.astimezone(dt.UTC)


def epoch_seconds(t: dt.datetime) -> float:
    """Seconds since 1970-01-01 UTC of an aware datetime."""
    return t.timestamp()


def from_epoch_seconds(s: float) -> dt.datetime:
    """Aware UTC datetime from seconds since the epoch."""
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=float(s))


def as_times(values: Any, name: str) -> tuple[Literal["epoch", "minutes"], np.ndarray]:
    """Turn report times into floats: seconds since the epoch (datetimes) or minutes (numbers).

    Accepts a polars Series (Datetime with a timezone, or numeric), a numpy array
    (datetime64, taken as UTC, or numeric), or a sequence of aware datetimes or numbers.
    """
    if isinstance(values, pl.Series):
        dtype = values.dtype
        if isinstance(dtype, pl.Datetime):
            if dtype.time_zone is None:
                raise ParameterError(f"{name}: naive Datetime column — convert it to UTC first")
            if values.null_count():
                raise ParameterError(f"{name}: {values.null_count()} missing time(s)")
            return "epoch", values.dt.epoch("us").to_numpy().astype(np.float64) / 1e6
        if dtype.is_numeric():
            arr = values.cast(pl.Float64).to_numpy()
            return "minutes", _finite(arr, name)
        raise ParameterError(f"{name}: expected UTC datetimes or minutes after onset, got a {dtype} column")
    if isinstance(values, np.ndarray):
        if np.issubdtype(values.dtype, np.datetime64):
            if np.isnat(values).any():
                raise ParameterError(f"{name}: {int(np.isnat(values).sum())} missing time(s)")
            return "epoch", values.astype("datetime64[us]").astype(np.int64).astype(np.float64) / 1e6
        if np.issubdtype(values.dtype, np.number):
            return "minutes", _finite(values.astype(float), name)
        values = values.tolist()
    seq = list(values)
    if not seq:
        return "minutes", np.empty(0)
    if all(isinstance(v, dt.datetime | np.datetime64) for v in seq):
        return "epoch", np.array([epoch_seconds(to_utc(v, name)) for v in seq], dtype=float)
    try:
        return "minutes", _finite(np.asarray(seq, dtype=float), name)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name}: expected UTC datetimes or minutes after onset") from exc


def _finite(arr: np.ndarray, name: str) -> np.ndarray:
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ParameterError(f"{name}: {int(bad.sum())} value(s) are missing or not finite")
    return arr


def iso_local(t: dt.datetime, timezone: str) -> str:
    """ISO 8601 string with the incident timezone's offset."""
    from zoneinfo import ZoneInfo

    return t.astimezone(ZoneInfo(timezone)).isoformat()
