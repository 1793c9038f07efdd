"""Onset of an outage estimated from report times: a change point in the report rate.

Model (up to the busiest stretch of reports, where the rise is over): reports arrive at a
baseline rate b before the onset τ and at a higher rate r after it,

    ℓ(τ) = n₁ log(n₁ / (τ − s)) + n₂ log(n₂ / (t_p − τ)) − n,

with b and r at their closed-form maxima, s the start of observation (the first report
unless given) and t_p the end of the busiest bin. ℓ is convex between reports, so its
maximum sits at a report time: the estimate is the first report of the surge. The interval
is the profile-likelihood set {τ : 2[ℓ(τ̂) − ℓ(τ)] ≤ χ²₁(level)}; change points are not a
regular problem, so treat its coverage as approximate (it is checked by simulation in the
tests). With no baseline reports the lower end answers "how long could the outage have gone
unreported at the rate seen just after".
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from analysis.errors import FitError, ParameterError
from analysis.recovery._time import as_times, epoch_seconds, from_epoch_seconds, to_utc

METHOD = "change point of the report rate (two-rate Poisson model up to the busiest bin); profile-likelihood interval"


@dataclass(frozen=True)
class OnsetEstimate:
    """Estimated onset (UTC) with its interval and the method used."""

    time: dt.datetime
    low: dt.datetime
    high: dt.datetime
    level: float
    method: str = METHOD

    @property
    def interval(self) -> tuple[dt.datetime, dt.datetime]:
        """(low, high) as UTC datetimes."""
        return (self.low, self.high)


def _profile(t: np.ndarray, tau: np.ndarray, s: float, tp: float) -> np.ndarray:
    """ℓ(τ) for sorted report times ``t`` (minutes) on [s, tp]; reports at τ count after it."""
    n1 = np.searchsorted(t, tau, side="left").astype(float)
    n2 = np.searchsorted(t, tp, side="right") - n1
    l1 = np.maximum(tau - s, 1e-12)
    l2 = np.maximum(tp - tau, 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(n1 > 0, n1 * np.log(n1 / l1), 0.0)
        b = np.where(n2 > 0, n2 * np.log(n2 / l2), 0.0)
    return a + b


def estimate_onset(
    times: Any,
    *,
    start: dt.datetime | None = None,
    level: float = 0.9,
    peak_bin_minutes: float | None = None,
) -> OnsetEstimate:
    """Estimate the outage onset from report times (UTC datetimes) as a rate change point.

    Parameters
    ----------
    times : array-like of datetimes, numpy datetime64 or polars Datetime Series
        Report times (UTC). Windowed reports should not be passed: their time is unknown.
    start : datetime, optional
        Start of observation (UTC), when reports were being collected before the onset;
        default: the first report.
    level : float
        Confidence level of the interval.
    peak_bin_minutes : float, optional
        Width of the bins used to find the busiest stretch; default: 1/100 of the reports'
        time span, at least 5 minutes.

    Returns
    -------
    OnsetEstimate
        Point estimate and interval (UTC).
    """
    if not 0 < level < 1:
        raise ParameterError(f"level must be in (0, 1), got {level}")
    kind, vals = as_times(times, "times")
    if kind != "epoch":
        raise ParameterError("times: onset estimation needs UTC datetimes, not minutes after an onset")
    t = np.sort(vals) / 60.0
    if t.size < 3:
        raise FitError(f"onset: {t.size} timed report(s); at least 3 are needed to estimate the onset")
    s = t[0] if start is None else min(epoch_seconds(to_utc(start, "start")) / 60.0, t[0])
    span = t[-1] - s
    width = peak_bin_minutes if peak_bin_minutes is not None else max(5.0, span / 100.0)
    if not width > 0:
        raise ParameterError(f"peak_bin_minutes must be > 0, got {peak_bin_minutes}")
    nb = max(1, math.ceil(span / width))
    counts, edges = np.histogram(t, bins=nb, range=(s, s + nb * width))
    tp = float(edges[int(np.argmax(counts)) + 1])
    inside = t[t <= tp]
    # candidate onsets: every report time (where the maximum must be) and a fine grid
    back = max(tp - inside[0], width)
    grid = np.linspace(inside[0] - 2 * back, tp - 1e-6, 4001)
    cand = np.unique(np.concatenate([inside, grid]))
    cand = cand[cand < tp]
    ll = _profile(inside, cand, s, tp)
    at_reports = _profile(inside, inside[inside < tp], s, tp)
    i = int(np.argmax(at_reports))
    tau_hat = float(inside[inside < tp][i])
    ll_hat = float(max(at_reports[i], ll.max()))
    cut = stats.chi2.ppf(level, 1) / 2.0
    ok = cand[ll >= ll_hat - cut]
    lo, hi = float(min(ok.min(), tau_hat)), float(max(ok.max(), tau_hat))
    return OnsetEstimate(
        time=from_epoch_seconds(tau_hat * 60.0),
        low=from_epoch_seconds(lo * 60.0),
        high=from_epoch_seconds(hi * 60.0),
        level=level,
    )
