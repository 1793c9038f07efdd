"""Reporting propensity g by local clock hour, and clock hours of UTC instants in any timezone.

A still-affected customer does not report at a constant rate: people sleep, and a TV or
internet outage is noticed when the service is used. The report intensity is therefore
λ(t) = A·g(local hour of t)·S(t − onset); g only matters relative to itself (A absorbs
its level), so profiles are normalised to a maximum of 1.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from analysis.errors import ParameterError

#: Default relative propensity to report, by local hour 0..23 (maximum 1).
#:
#: A stylised diurnal activity profile, not fitted to any incident: near its maximum from
#: 18:00 to 22:00 (evening use of TV and internet, most social-media posting), a flat day
#: plateau at 0.85, a steep fall after midnight to 0.10 at 04:00 (most people asleep), and
#: a morning rise from 06:00. A report at 03:00 therefore weighs about ten times one at
#: 20:30. Override it per incident with ``[reporting] hourly_propensity``; every fit also
#: reports its t50/t90 under a flat profile so the reader sees how much this assumption
#: matters.
DEFAULT_PROPENSITY: tuple[float, ...] = (
    0.55, 0.35, 0.20, 0.12, 0.10, 0.12, 0.25, 0.50, 0.70, 0.80, 0.85, 0.85,
    0.85, 0.85, 0.85, 0.85, 0.90, 0.95, 1.00, 1.00, 1.00, 1.00, 0.90, 0.75,
)  # fmt: skip

FLAT_PROPENSITY: tuple[float, ...] = (1.0,) * 24


def check_propensity(propensity: Sequence[float] | None) -> np.ndarray:
    """Validate a 24-hour propensity profile (None → the default) and normalise it to max 1."""
    if propensity is None:
        return np.asarray(DEFAULT_PROPENSITY, dtype=float)
    try:
        g = np.asarray([float(x) for x in propensity], dtype=float)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"propensity: expected 24 numbers (one per local hour 0..23): {exc}") from exc
    if g.shape != (24,):
        raise ParameterError(f"propensity: expected 24 numbers (one per local hour 0..23), got {g.size}")
    if not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ParameterError("propensity: weights must be finite and > 0")
    return g / g.max()


def check_timezone(timezone: str) -> ZoneInfo:
    """Return the ZoneInfo for ``timezone`` or raise a ParameterError naming it."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ParameterError(f"timezone: unknown IANA timezone {timezone!r}") from exc


def local_hours(utc_seconds: np.ndarray, timezone: str) -> np.ndarray:
    """Fractional local clock hour (0 ≤ h < 24) of UTC instants given as seconds since the epoch.

    DST-aware: the UTC offset is looked up once per distinct quarter hour (every offset in
    use is a multiple of 15 minutes, and transitions happen on quarter hours), so the cost
    does not grow with the number of instants beyond one vectorised pass.
    """
    tz = check_timezone(timezone)
    s = np.asarray(utc_seconds, dtype=float)
    quarter = np.floor(s / 900.0).astype(np.int64)
    uniq, inv = np.unique(quarter, return_inverse=True)
    offsets = np.empty(uniq.size)
    for i, q in enumerate(uniq):
        t = dt.datetime.fromtimestamp(int(q) * 900, tz=dt.UTC).astimezone(tz)
        off = t.utcoffset()
        offsets[i] = 0.0 if off is None else off.total_seconds()
    local = s + offsets[inv.reshape(s.shape)]
    return np.mod(local / 3600.0, 24.0)


def hourly_weights(utc_seconds: np.ndarray, timezone: str, profile: np.ndarray) -> np.ndarray:
    """Propensity g at each UTC instant: the profile's value for the local clock hour."""
    h = local_hours(utc_seconds, timezone)
    return profile[np.minimum(np.floor(h).astype(int), 23)]


def aligned_edges(t_end: float, onset_epoch_seconds: float, bin_minutes: float) -> np.ndarray:
    """Bin edges in minutes after onset from 0 to ``t_end``, interior edges on the UTC clock grid.

    Interior edges fall on multiples of ``bin_minutes`` of UTC clock time, so with bins that
    divide 15 minutes (or 60 for whole-hour zones) every local hour boundary is a bin edge and
    g is constant within each bin. The first and last bins may be shorter.
    """
    if not (bin_minutes > 0 and math.isfinite(bin_minutes)):
        raise ParameterError(f"bin_minutes must be a positive number, got {bin_minutes}")
    if not t_end > 0:
        raise ParameterError("end of observation must be after the onset")
    onset_min = onset_epoch_seconds / 60.0
    first = math.ceil(onset_min / bin_minutes) * bin_minutes - onset_min
    inner = np.arange(first, t_end, bin_minutes)
    inner = inner[(inner > 1e-9) & (inner < t_end - 1e-9)]
    return np.concatenate([[0.0], inner, [t_end]])
