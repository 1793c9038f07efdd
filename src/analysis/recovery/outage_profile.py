"""How far the per-customer restoration time moves with the arrival window: a profile over its length.

A count of customers out does not say when each outage began, so a storm whose outages
arrived over a short spell and lasted long and one whose outages arrived over many hours
and were cleared quickly give nearly the same series (out = N · a ∗ S, a deconvolution).
The bootstrap of the fitted model holds the arrival window where the model put it, so its
interval for S's quantiles is conditional on one split of the two. Here the arrival
window's length — the span from 5 % to 95 % of the arrivals, W = scale · ((−ln 0.05)^(1/k) −
(−ln 0.95)^(1/k)) — is fixed on a grid from one reading step to the arrival bounds' longest
and everything else is refitted (the profile likelihood ℓ(W)), for every restoration family
within reach. The spans whose AIC/2 (−ℓ + parameters) lies within ĉ · χ²₁(level) / 2 of the
best fit's are kept, ĉ = max(1, τ̂ / Δt) the number of readings in
one memory of the fitted noise: the innovations are independent only if the model is right,
and when the curve departs from the readings for hours (τ̂ at its cap) the evidence against
a split comes in stretches of τ̂, not in readings. A restoration-time quantile's interval is
then the union of the bootstrap interval and, at each kept span, that span's quantile with
the bootstrap's relative spread around it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.recovery._optim import maximize_batch
from analysis.recovery.family_base import RecoveryFamily
from analysis.recovery.outage_model import INF, N_EXTRA, N_MAX, QueueCandidate, QueueEvidence, degenerate
from analysis.recovery.result import Estimate

SPAN_POINTS = 12  # spans on the grid (geometric)
PROFILE_MAXITER = 120
_Q05, _Q95 = -math.log(0.95), -math.log(0.05)


def span_factor(shape: np.ndarray | float) -> np.ndarray:
    """The 5–95 % span of a Weibull of scale 1 and shape ``shape``: (−ln 0.05)^(1/k) − (−ln 0.95)^(1/k)."""
    k = np.asarray(shape, dtype=float)
    return np.asarray(_Q95 ** (1.0 / k) - _Q05 ** (1.0 / k))


@dataclass(frozen=True, eq=False)
class ArrivalProfile:
    """One family profiled over the arrival window's span: spans (minutes), rows (S, t₀, scale, shape, τ), AIC/2, kept."""

    family: RecoveryFamily
    spans: np.ndarray
    theta: np.ndarray
    half_aic: np.ndarray  # −ℓ + the family's parameter count (inf where no fit)
    kept: np.ndarray

    def values(self, fn: Callable[[RecoveryFamily, np.ndarray], np.ndarray]) -> np.ndarray:
        """``fn(family, rows)`` at the kept spans (one value each)."""
        rows = self.theta[self.kept]
        if not rows.shape[0]:
            return np.empty(0)
        return np.asarray(fn(self.family, rows), dtype=float).reshape(rows.shape[0], -1)[:, 0]


def _starts(ev: QueueEvidence, cand: QueueCandidate, spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starting rows per span: the fitted row at that span and restoration scales short to long; (rows, span index)."""
    fam = cand.family
    k = fam.n_params
    base = cand.theta[: k + N_EXTRA]
    rows, idx = [], []
    for j, w in enumerate(spans):
        r = base.copy()
        r[k + 1] = w / float(span_factor(r[k + 2]))
        rows.append(r)
        idx.append(j)
        for shape, sc in ((1.2, 0.1), (1.2, 0.5), (1.2, 1.5), (4.0, 0.5)):
            r = base.copy()
            r[:k] = fam.start(sc * ev.typical)
            r[k + 2] = shape
            r[k + 1] = w / float(span_factor(shape))
            rows.append(r)
            idx.append(j)
    return np.asarray(rows, dtype=float), np.asarray(idx)


def default_spans(ev: QueueEvidence) -> np.ndarray:
    """A geometric grid from one reading step to the longest span the arrival bounds allow (within twice the window)."""
    (_, scale_hi), (shape_lo, _) = ev.extra_bounds()[1:3]
    longest = min(scale_hi * float(span_factor(shape_lo)), max(2.0 * ev.horizon, 4.0 * ev.grid.step))
    return np.geomspace(ev.grid.step, longest, SPAN_POINTS)


def profile_arrival_span(ev: QueueEvidence, cand: QueueCandidate, spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Refit ``cand``'s family with the arrival window's span fixed at each of ``spans``: rows (NaN: no fit), ℓ (−inf)."""
    fam = cand.family
    k = fam.n_params
    space = ev.space(fam)
    rows, idx = _starts(ev, cand, spans)
    lo, hi = space.extra_bounds[1]

    def fix(th: np.ndarray, sel: np.ndarray) -> np.ndarray:
        th = np.array(th, dtype=float)
        th[:, k + 1] = np.clip(spans[idx[sel]] / span_factor(th[:, k + 2]), lo, hi)
        return th

    def f(th: np.ndarray, sel: np.ndarray) -> np.ndarray:
        return ev.loglik(fam, fix(th, sel))[0]

    th, ll = maximize_batch(f, space, rows, maxiter=PROFILE_MAXITER, ftol=1e-6)
    th = fix(th, np.arange(rows.shape[0]))
    big_n = ev.loglik(fam, th)[1]
    ll = np.where(np.isfinite(ll) & ~degenerate(space, th) & (big_n < N_MAX), ll, -INF)
    best_th = np.full((spans.size, k + N_EXTRA), np.nan)
    best_ll = np.full(spans.size, -INF)
    for j in range(spans.size):
        s = np.nonzero(idx == j)[0]
        i = s[int(np.argmax(ll[s]))]
        if np.isfinite(ll[i]):
            best_th[j], best_ll[j] = th[i], ll[i]
    return best_th, best_ll


def restoration_profiles(
    ev: QueueEvidence, cands: Sequence[QueueCandidate], *, level: float, spans: np.ndarray | None = None
) -> tuple[tuple[ArrivalProfile, ...], float]:
    """Every family within reach profiled over the arrival span (:func:`profile_arrival_span`); (profiles, bound).

    Each family's grid holds its own fitted span besides ``spans``. A span of a family is kept when its AIC/2 (−ℓ + parameters) is within the bound
    ĉ · χ²₁(level) / 2 of the best fit's (:func:`dispersion`); a family whose own best fit is
    beyond the bound is not profiled.
    """
    ok = [c for c in cands if c.converged and math.isfinite(c.aic)]
    if not ok:
        return (), math.nan
    best = min(ok, key=lambda c: c.aic)
    bound = dispersion(ev, best) * float(stats.chi2.ppf(level, 1)) / 2.0
    spans = default_spans(ev) if spans is None else np.asarray(spans, dtype=float)
    ref = best.aic / 2.0
    out = []
    for c in ok:
        if c.aic / 2.0 > ref + bound:
            continue
        k = c.family.n_params
        own = np.union1d(spans, [c.theta[k + 1] * float(span_factor(c.theta[k + 2]))])  # the fit's own span too
        th, ll = profile_arrival_span(ev, c, own)
        half = np.where(np.isfinite(ll), -ll + c.n_params, INF)
        out.append(ArrivalProfile(c.family, own, th, half, half <= ref + bound))
    return tuple(out), bound


def dispersion(ev: QueueEvidence, cand: QueueCandidate) -> float:
    """ĉ = max(1, τ̂ / Δt): readings per memory of the fitted noise (Δt the median reading step)."""
    tau = float(cand.theta[cand.family.n_params + 3])
    step = float(np.median(ev.dt)) if ev.dt.size else ev.grid.step
    return max(1.0, tau / max(step, 1e-9))


def widen(est: Estimate, point: float, profile_values: np.ndarray, limit: float = INF) -> Estimate:
    """``est`` (bootstrap median and interval, ``point`` the fitted value) widened to hold every kept span's value.

    At a kept span of value q the interval is q · [low, high] / point (the bootstrap's relative
    spread moved there); the result is the union of those and ``est``'s own. A widened end
    is at most ``limit`` (the model's curves end there; an end past the window is flagged
    by the caller).
    """
    v = np.asarray(profile_values, dtype=float)
    v = v[np.isfinite(v)]
    if not (v.size and math.isfinite(est.low) and math.isfinite(est.high) and point > 0):
        return est
    low = min(est.low, float(np.min(v)) * est.low / point)
    high = max(est.high, min(float(np.max(v)) * est.high / point, limit))
    return Estimate(est.value, low, high, est.low_beyond, est.high_beyond)
