"""Nonparametric survival curves shown beside the parametric fit: Kaplan–Meier and Turnbull.

Both take restoration data in minutes after onset with weights (number of customers).
Kaplan–Meier handles exact and right-censored times; Turnbull's self-consistency (EM)
estimator also handles interval-censored ones ("restored between two checks").
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy import stats

from analysis.recovery.families import CensoredData


def kaplan_meier(data: CensoredData, *, level: float = 0.9) -> pl.DataFrame:
    """Kaplan–Meier S(t) with Greenwood log-log intervals at ``level``.

    Returns one row per distinct restoration time: ``minutes``, ``at_risk``, ``restored``,
    ``survival``, ``low``, ``high``. Interval-censored records are not allowed here (use
    :func:`turnbull`).
    """
    if data.lower.size:
        raise ValueError("kaplan_meier: interval-censored records need turnbull()")
    t = np.concatenate([data.exact, data.right])
    w = np.concatenate([data.exact_w, data.right_w])
    e = np.concatenate([np.ones(data.exact.size, bool), np.zeros(data.right.size, bool)])
    times = np.unique(data.exact[data.exact_w > 0])
    order = np.argsort(t)
    ts, ws = t[order], w[order]
    # at risk at u: weight with time >= u (censored at u still count as at risk at u)
    cum_from_end = np.cumsum(ws[::-1])[::-1]
    idx = np.searchsorted(ts, times, side="left")
    at_risk = cum_from_end[idx] if times.size else np.empty(0)
    d = np.array([w[e & (t == u)].sum() for u in times])
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.cumprod(1.0 - d / at_risk)
        gw = np.cumsum(d / (at_risk * (at_risk - d)))
        z = stats.norm.ppf(0.5 + level / 2)
        ll = np.log(-np.log(s))
        se = np.sqrt(gw) / np.abs(np.log(s))
        low = np.exp(-np.exp(ll + z * se))
        high = np.exp(-np.exp(ll - z * se))
    low = np.where(s > 0, low, 0.0)
    high = np.where(s > 0, high, 0.0)
    return pl.DataFrame(
        {
            "minutes": times,
            "at_risk": at_risk.astype(float),
            "restored": d,
            "survival": s,
            "low": np.nan_to_num(low, nan=math.nan),
            "high": high,
        }
    )


def _innermost(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turnbull's innermost intervals: a left end immediately followed by a right end."""
    pts = np.concatenate([lo, hi])
    # intervals are (L, R]: at equal values an open left end sorts after a right end, except
    # for exact observations (L == R), whose left end comes first so the point is its own interval
    exact = lo == hi
    kind = np.concatenate([np.where(exact, 0, 2), np.ones(hi.size)])
    order = np.lexsort((kind, pts))
    p, k = pts[order], kind[order]
    left = np.nonzero((k[:-1] != 1) & (k[1:] == 1))[0]
    return p[left], p[left + 1]


def _cover_ranges(lo: np.ndarray, hi: np.ndarray, q: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last innermost interval each record (L, R] covers (first > last: none).

    The innermost intervals are disjoint and sorted, so a record covers a contiguous run of
    them: those with q ≥ L (q > L for a point: (L, …] is open at L) and p ≤ R; an exact
    record (L = R) covers only its own point.
    """
    point = q == p
    at = np.searchsorted(q, lo, side="left")
    after = np.searchsorted(q, lo, side="right")
    # a point innermost interval at q = L sorts first among equal q: an exact record's own
    # point, and not covered by an interval record open at L
    own = (at < after) & point[np.minimum(at, max(q.size - 1, 0))]
    first = at + own
    last = np.searchsorted(p, hi, side="right") - 1
    exact = lo == hi
    first = np.where(exact, np.where(own, at, q.size), first)
    last = np.where(exact, np.where(own, at, -1), last)
    return first, last


def _range_sums(mass: np.ndarray, first: np.ndarray, last: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Σ mass[first:last + 1] per record, in O(records + intervals).

    Cumulative sums are taken from whichever end is nearer: a difference of two sums close
    to 1 would lose the small masses of the tail.
    """
    fwd = np.concatenate([[0.0], np.cumsum(mass)])
    bwd = np.concatenate([np.cumsum(mass[::-1])[::-1], [0.0]])
    a = np.where(covered, first, 0)
    b = np.where(covered, last + 1, 0)
    s = np.where(fwd[a] < 0.5, fwd[b] - fwd[a], bwd[a] - bwd[b])
    return np.where(covered, np.maximum(s, 0.0), 0.0)


def turnbull(data: CensoredData, *, tol: float = 1e-9, max_iter: int = 5000) -> pl.DataFrame:
    """Turnbull's nonparametric MLE of S for exact, right- and interval-censored data.

    Every record is an interval (L, R] (exact: L = R; right-censored: R = ∞) and the mass
    is placed on the innermost intervals by the self-consistency (EM) algorithm. Returns
    ``start``, ``end`` (minutes) of each innermost interval, its ``mass`` and ``survival``
    just after it (S is only determined outside these intervals).
    """
    lo = np.concatenate([data.exact, data.right, data.lower])
    hi = np.concatenate([data.exact, np.full(data.right.size, np.inf), data.upper])
    w = np.concatenate([data.exact_w, data.right_w, data.interval_w])
    keep = w > 0
    lo, hi, w = lo[keep], hi[keep], w[keep]
    q, p = _innermost(lo, hi)
    first, last = _cover_ranges(lo, hi, q, p)
    m = q.size
    covered = first <= last
    mass = np.full(m, 1.0 / m)
    total = w.sum()
    for _ in range(max_iter):
        denom = _range_sums(mass, first, last, covered)
        ratio = np.where(denom > 0, w / np.where(denom > 0, denom, 1.0), w)
        ratio = np.where(covered, ratio, 0.0)
        # Σ over the records covering each innermost interval: a difference array over the ranges
        diff = np.bincount(first[covered], ratio[covered], minlength=m + 1)
        diff -= np.bincount(last[covered] + 1, ratio[covered], minlength=m + 1)
        new = mass * np.cumsum(diff)[:m] / total
        if np.max(np.abs(new - mass)) < tol:
            mass = new
            break
        mass = new
    return pl.DataFrame({"start": q, "end": p, "mass": mass, "survival": np.clip(1.0 - np.cumsum(mass), 0.0, 1.0)})
