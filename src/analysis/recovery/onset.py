"""Onset of an outage estimated from report times: a change point in the report rate.

Model (up to the busiest stretch of reports, where the rise is over): reports arrive at a
baseline rate b before the onset τ and at a higher rate r after it,

    ℓ(τ) = n₁ log(n₁ / (τ − s)) + n₂ log(n₂ / (t_p − τ)) − n,

with b and r at their closed-form maxima, s the start of observation (the first report
unless given) and t_p the end of the busiest bin. ℓ is convex between reports, so its
maximum sits at a report time: the estimate is the first report of the surge. A change
point later than the first report is kept only if it raises 2ℓ by more than
max(χ²₁(0.99), 2 log n) — splitting a stretch of constant rate always gains a little.

Interval (change points are not a regular problem, so not a χ² interval on both sides):
the upper end is the profile-likelihood bound {τ ≥ τ̂ : 2[ℓ(τ̂) − ℓ(τ)] ≤ χ²₁(level)};
the lower end uses that the first report of the surge follows the onset by an exponential
gap at the report rate r just after it (estimated from the next ten reports), so the onset
is later than τ̂ + log(1 − level)/r with probability ``level``. Coverage is checked by
simulation in the tests.
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

METHOD = (
    "change point of the report rate (two-rate Poisson model up to the busiest bin); "
    "interval from the gap before the first report of the surge and the profile likelihood after it"
)


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
    reports = inside[inside < tp]
    at_reports = _profile(inside, reports, s, tp)
    i = int(np.argmax(at_reports))
    # a change point after the first report must earn its place: splitting a stretch of
    # constant rate always gains a little by chance
    gain = 2.0 * (at_reports[i] - at_reports[0])
    if gain < max(stats.chi2.ppf(0.99, 1), 2.0 * math.log(reports.size)):
        i = 0
    tau_hat = float(reports[i])
    ll_hat = float(at_reports[i])
    cut = stats.chi2.ppf(level, 1) / 2.0
    ok = cand[(ll >= ll_hat - cut) & (cand >= tau_hat)]
    hi = float(max(ok.max(), tau_hat)) if ok.size else tau_hat
    # lower end: the onset precedes the first report of the surge by an exponential gap at
    # the rate seen just after it, so P(gap > q / r) = 1 − level with q = −log(1 − level)
    after = inside[inside >= tau_hat]
    k = min(10, after.size - 1)
    rate = k / (after[k] - after[0]) if k >= 1 and after[k] > after[0] else 1.0 / width
    lo = tau_hat + math.log(1.0 - level) / rate
    lo_profile = cand[(ll >= ll_hat - cut) & (cand <= tau_hat)]
    if lo_profile.size:
        lo = min(lo, float(lo_profile.min()))
    return OnsetEstimate(
        time=from_epoch_seconds(tau_hat * 60.0),
        low=from_epoch_seconds(lo * 60.0),
        high=from_epoch_seconds(hi * 60.0),
        level=level,
    )
