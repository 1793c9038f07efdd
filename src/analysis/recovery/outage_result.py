"""The result of :func:`fit_customers_out`: crossings, restoration times, customer-hours, metrics.

Every number is computed on each bootstrap replicate (of several restoration families,
each replicate weighted by its family's AIC weight) and summarised by the median and the
equal-tailed percentiles (:func:`percentile_summary`), so a number lies inside its own
interval. Times are minutes after the onset unless a name says "after the peak".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from analysis.errors import FitError, ParameterError
from analysis.recovery._time import iso_local, to_utc
from analysis.recovery.families import RecoveryFamily
from analysis.recovery.outage_model import (
    N_EXTRA,
    TAU_MAX,
    FeedNoise,
    QueueCandidate,
    QueueEvidence,
    QueueGrid,
    bootstrap_family,
    feed_noise,
)
from analysis.recovery.result import Diagnostics, Estimate, Headlines, percentile_summary, weighted_quantiles

RESTORATION_NOTE = (
    "model-based and weakly determined: a count of customers out does not say when each outage began, so how long "
    "each lasted trades off against how the outages arrived; the crossings (t50, t90) are what the series measures"
)
EXTEND_MINUTES = 2880.0  # the crossing search runs this far (at least) past the window before extrapolating


@dataclass(frozen=True, eq=False)
class Draw:
    """Bootstrap replicates (full rows: S, t₀, scale, shape, τ, N, σ) of one family and its model weight."""

    name: str
    family: RecoveryFamily
    theta: np.ndarray
    weight: float


@dataclass(frozen=True)
class Crossing:
    """When the series falls below (1 − p) × peak for good.

    ``minutes`` after onset and ``after_peak_minutes`` (same interval, shifted); ``reached``:
    the cleaned readings go below the line for good inside the window; ``extrapolated``:
    the value lies past the end of the window (a model extrapolation); ``source``: where
    the value comes from, ``"readings"`` (the local trend of the readings around the
    crossing) or ``"model"`` (the fitted curve's bootstrap).
    """

    p: float
    minutes: Estimate
    after_peak_minutes: Estimate
    reached: bool
    extrapolated: bool
    source: str = "model"


def crossing_rows(grid: QueueGrid, family: RecoveryFamily, full: np.ndarray, line: float) -> np.ndarray:
    """Minutes after onset at which each row's mean curve N·g falls below ``line`` for good.

    On the grid; past its end (arrivals over), from out ≈ N·S(t − median arrival).
    """
    full = np.atleast_2d(full)
    k = family.n_params
    m = full[:, k + N_EXTRA : k + N_EXTRA + 1] * grid.unit_curves(family, full[:, : k + N_EXTRA])
    return _cross(grid, family, full, m, line)


def _cross(grid: QueueGrid, family: RecoveryFamily, full: np.ndarray, m: np.ndarray, line: Any) -> np.ndarray:
    k = family.n_params
    line = np.broadcast_to(np.asarray(line, dtype=float), (m.shape[0],))
    above = m >= line[:, None]
    out = np.full(m.shape[0], np.nan)
    u, h = grid.u, grid.step
    anyab = above.any(axis=1)
    out[~anyab] = u[np.argmax(m[~anyab], axis=1)] if (~anyab).any() else out[~anyab]
    last = m.shape[1] - 1 - np.argmax(above[:, ::-1], axis=1)
    inner = anyab & (last < m.shape[1] - 1)
    r = np.nonzero(inner)[0]
    if r.size:
        j = last[r]
        m0, m1 = m[r, j], m[r, j + 1]
        out[r] = u[j] + h * np.clip((m0 - line[r]) / np.maximum(m0 - m1, 1e-300), 0.0, 1.0)
    far = np.nonzero(anyab & ~inner)[0]
    if far.size:
        f = full[far]
        med = f[:, k] + f[:, k + 1] * math.log(2) ** (1.0 / f[:, k + 2])
        q = 1.0 - line[far] / f[:, k + N_EXTRA]
        with np.errstate(all="ignore"):
            tq = np.asarray(family.quantile(np.clip(q, 0.0, 1.0)[:, None], f[:, :k]), dtype=float).reshape(-1)
        out[far] = np.maximum(med + tq, u[-1])
    return out


def ou_mean_variance(sd: float, tau: float, length: float) -> float:
    """Variance of the mean over ``length`` minutes of an OU noise with ``sd`` and time constant ``tau``.

    σ² · 2(x − 1 + e⁻ˣ)/x² with x = length/τ: a window much shorter than the noise's
    memory averages nothing away (→ σ²), a much longer one averages it down (→ 2σ²τ/length).
    """
    x = length / max(tau, 1e-9)
    if x < 1e-6:
        return sd * sd
    return sd * sd * 2.0 * (x - 1.0 + math.exp(-x)) / (x * x)


def ou_ols_cov(u: np.ndarray, sd: float, tau: float, x: np.ndarray | None = None) -> np.ndarray:
    """Covariance of a least-squares fit through readings at minutes ``u`` whose noise is OU (``sd``, ``tau``).

    (XᵀX)⁻¹ Xᵀ Σ X (XᵀX)⁻¹ with Σᵢⱼ = sd² e^(−|uᵢ − uⱼ|/τ): exact for that noise, however few
    readings the window holds (a Newey–West estimate from the window's own residuals cannot
    see a drift longer than the window). ``x`` is the design (default: level and slope in ``u``).
    """
    if x is None:
        x = np.column_stack([np.ones(u.size), u])
    sigma = sd * sd * np.exp(-np.abs(u[:, None] - u[None, :]) / max(tau, 1e-9))
    xtx_inv = np.linalg.inv(x.T @ x)
    return xtx_inv @ x.T @ sigma @ x @ xtx_inv


def _hac_ols(x: np.ndarray, y: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Least squares with a Newey–West (Bartlett, ``lag``) covariance: the feed's noise is autocorrelated."""
    n, k = x.shape
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    score = x * (y - x @ beta)[:, None]
    meat = score.T @ score
    for j in range(1, min(lag, n - 1) + 1):
        g = score[j:].T @ score[:-j]
        meat += (1.0 - j / (lag + 1.0)) * (g + g.T)
    return beta, xtx_inv @ meat @ xtx_inv * n / max(n - k, 1)


def _enough_readings(u: np.ndarray, half: float, *, limit: float, each_side: int = 4) -> float:
    """The half-width, widened until the window holds ``each_side`` readings on each side of its centre.

    Feed losses, flapping and stale copies leave holes in a series, and a hole at the
    crossing would otherwise leave too few readings for a trend there (the estimate then
    fell back on the model, whose interval knows nothing of the feed's noise). Never wider
    than ``limit`` minutes.
    """
    before, after = np.sort(-u[u <= 0]), np.sort(u[u > 0])
    need = [half]
    for side in (before, after):
        if side.size >= each_side:
            need.append(float(side[each_side - 1]))
    return float(min(max(need), max(limit, half)))


def local_crossing(
    t: np.ndarray,
    y: np.ndarray,
    *,
    center: float,
    line: float,
    line_var: float,
    half_width: float,
    lag: int,
    level: float,
    level_var: float = 0.0,
) -> tuple[float, float, float] | None:
    """Crossing of ``line`` by the local linear trend of the readings around ``center``, with its interval.

    The readings within ``half_width`` minutes of ``center`` are fitted by least squares;
    the crossing is where the line meets the fitted trend. Its standard error comes from
    the trend's covariance with a Newey–West (Bartlett, ``lag`` readings) correction for
    the feed's autocorrelated noise, plus the uncertainty of the line itself (``line_var``:
    the peak is estimated too), by the delta method; the interval uses Student's t on
    n − 2 degrees of freedom. ``level_var`` is a floor for the variance of the trend's level:
    the share of a slow drift of the feed the window cannot average away. None when the
    window holds too few readings or no clear decline.
    """
    sel = np.abs(t - center) <= half_width
    n = int(sel.sum())
    if n < 8:
        return None
    u, yy = t[sel] - center, y[sel]
    beta, cov = _hac_ols(np.column_stack([np.ones(n), u]), yy, lag)
    cov[0, 0] = max(cov[0, 0], level_var)
    a, b = float(beta[0]), float(beta[1])
    if not (b < 0 and b * b > 4.0 * cov[1, 1]):
        return None
    uc = (line - a) / b
    grad = np.array([-1.0 / b, -(line - a) / b**2])
    se = math.sqrt(max(float(grad @ cov @ grad) + line_var / b**2, 0.0))
    q = float(stats.t.ppf((1 + level) / 2, max(n - 2, 3)))
    return center + uc, center + uc - q * se, center + uc + q * se


def candidate_frame(cands: Sequence[QueueCandidate], weights: np.ndarray, grid: QueueGrid | None = None) -> pl.DataFrame:
    """One row per restoration family, best first, with the columns of :func:`engine.candidate_table` (plus ``weight``).

    ``t50_minutes``/``t90_minutes``: the series crossings of the family's maximum-likelihood mean curve.
    """
    aics = np.array([c.aic for c in cands])
    best = np.min(aics) if np.isfinite(aics).any() else math.nan
    rows = []
    for c, w in zip(cands, weights, strict=True):
        t50 = t90 = math.nan
        if grid is not None and c.converged:
            t50 = float(crossing_rows(grid, c.family, c.theta, 0.5)[0])
            t90 = float(crossing_rows(grid, c.family, c.theta, 0.1)[0])
        fin = math.isfinite(c.aic)
        rows.append(
            {
                "family": c.name,
                "n_params": c.n_params,
                "log_likelihood": c.loglik if math.isfinite(c.loglik) else math.nan,
                "aic": c.aic if fin else math.nan,
                "delta_aic": c.aic - best if fin else math.nan,
                "qaic": c.aic if fin else math.nan,
                "delta_qaic": c.aic - best if fin else math.nan,
                "akaike_weight": float(w),
                "weight": float(w),
                "t50_minutes": t50,
                "t90_minutes": t90,
                "converged": bool(c.converged),
            }
        )
    return pl.DataFrame(rows).sort("aic", nulls_last=True)


def _json(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


@dataclass(frozen=True, eq=False)
class CustomersOutFit(Headlines):
    """A customers-out series fitted by the infinite-server queue model (see :mod:`analysis.recovery.outages`).

    Shares are out(t)/peak, with ``peak_out`` the largest clean reading; times are UTC, and
    durations minutes after ``onset`` unless a name says "after the peak". Built by
    :func:`fit_customers_out`; not meant to be constructed by hand.
    """

    model: str
    level: float
    onset: dt.datetime
    onset_source: str
    onset_ci: tuple[dt.datetime, dt.datetime] | None
    end: dt.datetime
    timezone: str
    interval_method: str
    candidates: pl.DataFrame
    data_quality: pl.DataFrame
    flag_counts: dict[str, int]
    n_observations: int
    n_boot_failed: int
    timings: Mapping[str, float]
    log_likelihood: float
    aic: float
    peak_out: float
    peak_time: dt.datetime
    total: float | None
    evidence: QueueEvidence = field(repr=False)
    chosen: QueueCandidate = field(repr=False)
    cands: tuple[QueueCandidate, ...] = field(repr=False)
    draws: tuple[Draw, ...] = field(repr=False)
    step: float = 15.0
    noise_factors: tuple[float, float] = (1.0, 1.0)
    n_boot: int = 200
    seed: int = 0
    averaged: bool = True
    diagnostics: Diagnostics | None = None
    notes: tuple[str, ...] = ()
    verdict: str = ""
    kind: str = "customers_out"
    sensitivity: pl.DataFrame | None = None
    nonparametric: pl.DataFrame | None = None
    dispersion: float = 1.0
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ plumbing
    @property
    def family(self) -> RecoveryFamily:
        """Restoration family of the reported model."""
        return self.chosen.family

    @property
    def theta(self) -> np.ndarray:
        """Maximum-likelihood parameters of the reported model (S, t₀, arrival scale and shape, τ, N, σ)."""
        return self.chosen.theta

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of :attr:`theta`."""
        from analysis.recovery.outage_model import EXTRA_NAMES

        return (*self.family.all_param_names, *EXTRA_NAMES)

    @property
    def horizon_minutes(self) -> float:
        """End of the window in minutes after onset."""
        return (self.end - self.onset).total_seconds() / 60.0

    @property
    def peak_minutes(self) -> float:
        """Time of the peak reading, minutes after onset."""
        return (self.peak_time - self.onset).total_seconds() / 60.0

    def time_at(self, minutes: float) -> dt.datetime | None:
        """Return the UTC time ``minutes`` after onset (None when not finite)."""
        if not math.isfinite(minutes) or abs(minutes) > 60 * 24 * 365 * 50:
            return None
        return self.onset + dt.timedelta(minutes=minutes)

    def _grid(self) -> QueueGrid:
        if "grid" not in self._cache:
            g = self.evidence.grid
            self._cache["grid"] = QueueGrid(g.lead, g.step, self.horizon_minutes + max(self.horizon_minutes, EXTEND_MINUTES))
        return self._cache["grid"]

    def _blocks(self) -> list[tuple[RecoveryFamily, np.ndarray, float]]:
        if self.draws:
            return [(d.family, d.theta, d.weight) for d in self.draws]
        return [(self.family, self.theta[None, :], 1.0)]

    def _curves(self) -> tuple[list[np.ndarray], np.ndarray]:
        """Mean curves N·g (share of peak) on the long grid, per block, and each replicate's weight."""
        if "curves" not in self._cache:
            grid = self._grid()
            curves, w = [], []
            for fam, th, wt in self._blocks():
                k = fam.n_params
                curves.append(th[:, k + N_EXTRA : k + N_EXTRA + 1] * grid.unit_curves(fam, th[:, : k + N_EXTRA]))
                w.append(np.full(th.shape[0], wt / th.shape[0]))
            self._cache["curves"] = (curves, np.concatenate(w))
        return self._cache["curves"]

    def _values(self, fn: Any) -> tuple[np.ndarray, np.ndarray]:
        """``fn(family, rows)`` over every replicate, and the weights."""
        vals = [np.asarray(fn(fam, th), dtype=float).reshape(th.shape[0], -1) for fam, th, _ in self._blocks()]
        w = np.concatenate([np.full(th.shape[0], wt / th.shape[0]) for _, th, wt in self._blocks()])
        return np.concatenate(vals, axis=0), w

    def _summary(self, v: np.ndarray, w: np.ndarray, point: float) -> Estimate:
        single = len(self._blocks()) == 1
        lo, mid, hi = percentile_summary(v, self.level, None if single else w)
        if math.isnan(mid):
            return Estimate(point, math.nan, math.nan)
        return Estimate(mid, lo, hi)

    def _estimate(self, fn: Any) -> Estimate:
        v, w = self._values(fn)
        point = float(np.asarray(fn(self.family, self.theta[None, :]), dtype=float).reshape(-1)[0])
        return self._summary(v[:, 0], w, point)

    # ------------------------------------------------------------------ crossings
    def _peak_level(self) -> tuple[float, float]:
        """The peak of the underlying curve as a share of the largest reading, and its variance.

        The top of the series is fitted by a local quadratic over the readings within 90 min of
        the largest one (Newey–West variance, as for the crossings): a single reading is the
        peak plus the feed's noise at that moment, and a fitted model may round a sharp top
        off. When the quadratic's top is below the largest reading, the peak is taken halfway
        between them, with half their gap as its standard deviation at least. When the top
        is not a clear maximum of a quadratic (a jump, a plateau), the largest reading stands,
        with the larger of the feed's noise at the top and the model's fitted noise. The
        variance from the feed's slow drift is that of the quadratic's top under OU noise of
        the feed's size at the top and its memory (:meth:`feed_noise`: level-proportional,
        measured around local trends; :func:`ou_ols_cov`), exact for the readings at hand.
        When a hole in the readings (a feed loss) lies at the top, the peak may be inside it
        (:meth:`_top_in_hole`).
        """
        if "peak" not in self._cache:
            t, y = self.evidence.t, self.evidence.y
            # no quadratic top (a jump, a plateau): one reading, nothing local to check it against,
            # so the larger of the feed's noise at the top and the model's (which also holds how
            # far a reading strays from a smooth curve)
            self._cache["peak"] = (1.0, max(self.feed_noise().sd(1.0), self._noise_sd()) ** 2)
            sel = np.abs(t - self.peak_minutes) <= 90.0
            n = int(sel.sum())
            if n >= 5:
                u = (t[sel] - self.peak_minutes) / 60.0
                x = np.column_stack([np.ones(n), u, u**2])
                beta, cov = _hac_ols(x, y[sel], self._lag())
                a, b, c = (float(v) for v in beta)
                if c < 0 and abs(b / (2 * c)) <= 1.5:
                    v = -b / (2 * c)
                    grad = np.array([1.0, v, v * v])
                    # the feed's noise at the top: level-proportional, measured in blocks of
                    # readings around local trends (not around the model, whose misfit it would hold)
                    noise = self.feed_noise()
                    drift = float(grad @ ou_ols_cov(u * 60.0, noise.sd(1.0), noise.tau, x) @ grad)
                    var = max(float(grad @ cov @ grad), drift)
                    level = a + b * v + c * v * v
                    if level < 1.0:
                        # the largest reading is the top plus noise, the quadratic rounds a sharp
                        # top off: between the two, with their disagreement as uncertainty
                        gap = 1.0 - level
                        level, var = level + 0.5 * gap, max(var, (0.5 * gap) ** 2)
                    if math.isfinite(level) and 0.5 < level < 1.5 and math.isfinite(var):
                        self._cache["peak"] = (level, var)
            level, var = self._cache["peak"]
            top = self._top_in_hole()
            if top is not None and top > level:
                # the top may lie in a hole of the readings (a feed loss at the peak): between
                # the level the readings show and the rise and fall met inside the hole
                gap = top - level
                self._cache["peak"] = (level + 0.5 * gap, max(var, (0.5 * gap) ** 2))
        return self._cache["peak"]

    def _top_in_hole(self) -> float | None:
        """The highest level the series may reach inside a hole of its readings near the peak (share of the peak reading).

        A hole is a stretch of more than two cadence steps without a used reading (feed
        losses, flapping, missing runs) within 3 h of the largest reading, whose edges are both
        at 80 % of it or more. The rise before it (a straight line through the four readings
        before) and the fall after it (the four after) are continued into the hole; where
        they meet, capped at the hole's ends, is the highest level the count can have reached
        there unseen. None when no hole is near the top or the readings do not rise into it
        and fall out of it.
        """
        t, y = self.evidence.t, self.evidence.y
        near = np.abs(t - self.peak_minutes) <= 180.0
        best = None
        for i in np.nonzero(np.diff(t) > 2.5 * self.step)[0]:
            if not (near[i] or near[i + 1]) or min(y[i], y[i + 1]) < 0.8 or i < 3 or i + 4 >= t.size:
                continue
            bl = np.polyfit(t[i - 3 : i + 1], y[i - 3 : i + 1], 1)
            br = np.polyfit(t[i + 1 : i + 5], y[i + 1 : i + 5], 1)
            if not (bl[0] > 0 > br[0]):
                continue
            tm = float(np.clip((br[1] - bl[1]) / (bl[0] - br[0]), t[i], t[i + 1]))
            top = float(min(np.polyval(bl, tm), np.polyval(br, tm), 1.5))
            best = top if best is None else max(best, top)
        return best

    def _drift(self, t: np.ndarray, y: np.ndarray, center: float, half: float) -> tuple[float, float]:
        """(SD, time constant in minutes) of the readings' deviation from a quadratic trend within ``half`` of ``center``.

        A scraped feed drifts by a few per cent for hours: over a short window that drift is
        a level shift the window's own residuals cannot show. Measured around a smooth
        trend over a wider window, its size and persistence bound how well any short window
        can place a line (see :func:`ou_mean_variance`).
        """
        sel = np.abs(t - center) <= half
        if sel.sum() < 12:
            return 0.0, self.step
        u = (t[sel] - center) / 60.0
        x = np.column_stack([np.ones(u.size), u, u * u])
        beta, _ = _hac_ols(x, y[sel], 1)
        r = y[sel] - x @ beta
        sd = float(np.std(r))
        rho = float(np.corrcoef(r[:-1], r[1:])[0, 1]) if sd > 0 else 0.0
        tau = -self.step / math.log(rho) if 0 < rho < 1 else self.step
        return sd, float(min(tau, half))

    def feed_noise(self) -> FeedNoise:
        """The feed's noise, level-proportional, measured from the readings (see :func:`outage_model.feed_noise`).

        When too few blocks of readings can measure it: the model's fitted noise (one SD
        for the whole series, its memory), as a share of the count.
        """
        if "feed_noise" not in self._cache:
            fallback = FeedNoise(self._noise_sd(), 1.0, min(self._noise_tau(), TAU_MAX), 0)
            self._cache["feed_noise"] = feed_noise(self.evidence.t, self.evidence.y, step=self.step, fallback=fallback)
        return self._cache["feed_noise"]

    def _lag(self) -> int:
        """Newey–West lag in readings: three noise time constants, at most 24 readings."""
        return int(min(max(1, math.ceil(3.0 * self._noise_tau() / self.step)), 24))

    def _noise_tau(self) -> float:
        """The feed noise's time constant in minutes, as fitted."""
        return float(self.theta[self.family.n_params + 3]) * self.noise_factors[1]

    def _noise_sd(self) -> float:
        """The feed noise's standard deviation (share of the peak), as fitted."""
        k = self.family.n_params
        return float(self.theta[k + N_EXTRA + 1]) * self.noise_factors[0]

    def crossing(self, p: float) -> Crossing:
        """When out(t) falls below (1 − p) × peak for good, never at a time the data contradict.

        The peak is the fitted curve's (see :meth:`_peak_level`). When the readings go
        below the line for good inside the window, the estimate is the crossing of their
        local linear trend around the last time a running median of the readings is above
        the line (:func:`local_crossing`: robust to the model's shape away from the
        crossing, with an interval that carries the feed's autocorrelated noise and the
        peak's uncertainty). Otherwise, and when the local trend is not a clear decline, it
        is the model's: each bootstrap replicate's curve crossing its own peak's line. No
        value or interval end lies before a reading clearly above the line (by twice the
        noise); when the readings at the end are clearly above it, the crossing is past the
        window (a model extrapolation, flagged). A feed loss is not a reading and is never a
        crossing.
        """
        if not 0 < p < 1:
            raise ParameterError(f"p (fraction restored) must be in (0, 1), got {p}")
        key = f"cross{p!r}"
        if key not in self._cache:
            self._cache[key] = self._crossing(p)
        return self._cache[key]

    def _crossing(self, p: float) -> Crossing:
        share = 1.0 - p
        grid = self._grid()
        curves, w = self._curves()
        peak, peak_var = self._peak_level()
        line = share * peak
        reps = np.concatenate(
            [_cross(grid, fam, th, m, share * m.max(axis=1)) for (fam, th, _), m in zip(self._blocks(), curves, strict=True)]
        )
        point = float(crossing_rows(grid, self.family, self.theta, line)[0])
        model = self._summary(reps, w, point)
        t, y = self.evidence.t, self.evidence.y
        after = t >= self.peak_minutes
        ta, ya = t[after], y[after]
        sd = self._noise_sd()
        clear = np.nonzero(ya >= line + 2.0 * sd)[0]
        floor = float(ta[clear[-1]]) if clear.size else -math.inf
        end_above = ya.size >= 3 and float(np.median(ya[-3:])) >= line
        reached = not end_above
        est, source = model, "model"
        # clearly above: by twice the noise, and always at twice the line (a poor fit's noise is no excuse)
        if end_above and float(np.median(ya[-3:])) >= line + min(2.0 * sd, line):
            floor = max(floor, self.horizon_minutes + self.step)
            trend = self._end_crossing(line, peak_var / peak**2)
            if trend is not None:
                # two tails, neither known to be right past the end: the readings' own decline
                # continued (the value) and the families' curves; the interval spans both
                est = Estimate(trend[0], min(trend[1], model.low), max(trend[2], model.high))
                source = "trend"
        elif reached:
            local = self._local(ta, ya, line, peak_var / peak**2)
            if local is not None:
                est, source = Estimate(*(float(x) for x in local)), "readings"
        value, low, high = (max(x, floor) for x in (est.value, est.low, est.high))
        est = Estimate(value, low, high).capped(self.horizon_minutes)
        shift = self.peak_minutes
        after_peak = Estimate(est.value - shift, est.low - shift, est.high - shift, est.low_beyond, est.high_beyond)
        return Crossing(p, est, after_peak, reached, bool(est.value > self.horizon_minutes), source)

    def _local(self, t: np.ndarray, y: np.ndarray, line: float, log_line_var: float) -> tuple[float, float, float] | None:
        """:func:`local_crossing` of log readings around the last time their running median is above ``line``.

        On the log scale a restoration curve is close to straight over a window where it
        changes by ±25 % (and the feed's noise is roughly multiplicative), so a local line
        is not bent by the curve's convexity; ``log_line_var`` is the variance of log(line).
        Readings that repeat the one before are left out of the trend.
        """
        # a value repeated from the reading before is a feed that did not refresh: it says
        # nothing new about the trend (and in a decline it is an old, higher count)
        fresh = np.concatenate([[True], y[1:] != y[:-1]])
        t, y = t[fresh], y[fresh]
        if y.size < 8:
            return None
        k = 5
        pad = np.concatenate([np.full(k // 2, y[0]), y, np.full(k // 2, y[-1])])
        smooth = np.median(np.lib.stride_tricks.sliding_window_view(pad, k), axis=1)
        above = np.nonzero(smooth >= line)[0]
        if above.size == 0 or above[-1] >= y.size - 1:
            return None
        j = int(above[-1])
        center = 0.5 * (t[j] + t[j + 1])
        # half-width: where the model's curve moves by ±25 % around the line, within 1.5–12 h
        mid, _, _ = self.survival_curve(np.array([center - 60.0, center + 60.0]))
        with np.errstate(all="ignore"):
            slope = abs(float(np.log(mid[1]) - np.log(mid[0]))) / 120.0
        half = float(np.clip(0.25 / slope if slope > 0 and math.isfinite(slope) else 720.0, 6 * self.step, 720.0))
        lag = self._lag()
        pos = y > 0
        half = _enough_readings(t[pos] - center, half, limit=720.0)
        sd, tau = self._drift(t[pos], np.log(y[pos]), center, max(3.0 * half, 720.0))
        return local_crossing(
            t[pos], np.log(y[pos]), center=center, line=math.log(line), line_var=log_line_var, half_width=half, lag=lag,
            level=self.level, level_var=ou_mean_variance(sd, tau, 2.0 * half),
        )  # fmt: skip

    def _end_trend(self) -> tuple[float, np.ndarray, np.ndarray, int] | None:
        """The local linear trend of log(readings) over the last hours of the window: (end, β, cov, n).

        Fitted to the fresh readings within 3 h of the last one (widened to hold eight, at most
        12 h), Newey–West covariance, the level's variance floored by the feed's slow drift
        (as for the crossings inside the window). β = (log level at the end, slope per
        minute). None when there are too few readings or no clear decline.
        """
        if "end_trend" not in self._cache:
            self._cache["end_trend"] = None
            t, y = self.evidence.t, self.evidence.y
            after = t >= self.peak_minutes
            t, y = t[after], y[after]
            fresh = np.concatenate([[True], y[1:] != y[:-1]]) & (y > 0)
            t, y = t[fresh], y[fresh]
            if y.size >= 8:
                end = float(t[-1])
                back = np.sort(end - t)
                half = float(min(max(180.0, back[7]), 720.0))
                sel = end - t <= half
                n = int(sel.sum())
                if n >= 8:
                    u = t[sel] - end
                    beta, cov = _hac_ols(np.column_stack([np.ones(n), u]), np.log(y[sel]), self._lag())
                    sd, tau = self._drift(t, np.log(y), end, max(3.0 * half, 720.0))
                    drift = ou_ols_cov(u, sd, tau)
                    if drift[1, 1] > cov[1, 1]:
                        # a few hours of readings cannot show a drift that lasts hours: it tilts the
                        # slope as much as it shifts the level, and the extrapolation carries both
                        cov = drift
                    cov[0, 0] = max(cov[0, 0], ou_mean_variance(sd, tau, half))
                    if beta[1] < 0 and beta[1] ** 2 > 4.0 * cov[1, 1]:
                        self._cache["end_trend"] = (end, beta, cov, n)
        return self._cache["end_trend"]

    def _end_crossing(self, line: float, log_line_var: float) -> tuple[float, float, float] | None:
        """Where the readings' decline at the end of the window, continued, crosses ``line``: (value, low, high).

        A constant rate of decline on the log scale (each customer still out restored at a
        constant rate from the end on). The crossing is a ratio, (log line − level)/slope,
        so its interval comes from draws of the trend's level and slope (their normal
        covariance, :meth:`_end_trend`) and of the line: a slope near zero puts the upper end
        far out (infinite when a draw does not decline), as it should.
        """
        fit = self._end_trend()
        if fit is None:
            return None
        end, beta, cov, _ = fit
        a, b = float(beta[0]), float(beta[1])
        log_line = math.log(line)
        rng = np.random.default_rng(self.seed + 2)
        ab = rng.multivariate_normal(beta, cov, 4000, method="eigh")
        ll = log_line + math.sqrt(max(log_line_var, 0.0)) * rng.standard_normal(ab.shape[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            uc = np.where(ab[:, 1] < 0, (ll - ab[:, 0]) / ab[:, 1], np.inf)
        lo, hi = np.quantile(uc, [(1 - self.level) / 2, (1 + self.level) / 2])
        return end + (log_line - a) / b, end + float(lo), end + float(hi)

    def _end_tail_draws(self, n: int) -> np.ndarray | None:
        """``n`` draws of the customer-hours after the window if the decline at its end continued (see :meth:`_end_trend`).

        ∫ exp(a + b·u) du from the end = exp(a)/(−b), in shares of the peak × minutes.
        """
        fit = self._end_trend()
        if fit is None:
            return None
        _, beta, cov, _ = fit
        rng = np.random.default_rng(self.seed + 1)
        ab = rng.multivariate_normal(beta, cov, n, method="eigh")
        slope = np.minimum(ab[:, 1], -1e-6)
        return np.exp(ab[:, 0]) / -slope * self.peak_out / 60.0

    def peak_estimate(self) -> Estimate:
        """The peak of the underlying count (customers out) with its interval (see :meth:`_peak_level`).

        Normal on the level's standard deviation; comparable with the largest reading a
        perfect feed at the series' cadence would show.
        """
        level, var = self._peak_level()
        z = float(stats.norm.ppf((1 + self.level) / 2))
        sd = math.sqrt(max(var, 0.0))
        return Estimate(level * self.peak_out, (level - z * sd) * self.peak_out, (level + z * sd) * self.peak_out)

    def quantile(self, p: float) -> Estimate:
        """Minutes after onset of the crossing of (1 − p) × peak (see :meth:`crossing`)."""
        return self.crossing(p).minutes

    def extrapolated(self, p: float) -> bool:
        """Tell whether the crossing of (1 − p) × peak lies beyond the end of the window."""
        return self.crossing(p).extrapolated

    # ------------------------------------------------------------------ per-customer numbers
    def restoration_quantile(self, p: float) -> Estimate:
        """Minutes one customer's outage lasts at the ``p``-quantile of S (not the series crossing)."""
        if not 0 < p < 1:
            raise ParameterError(f"p must be in (0, 1), got {p}")
        return self._estimate(lambda fam, th: fam.quantile(p, th[:, : fam.n_params])).capped(self.horizon_minutes)

    @property
    def mean_outage_minutes(self) -> Estimate:
        """Mean outage per customer, ∫ S(t) dt, in minutes."""
        return self._estimate(lambda fam, th: fam.mean(th[:, : fam.n_params])).capped(self.horizon_minutes)

    @property
    def tail_fraction(self) -> Estimate:
        """Share of outages in the slow tail (NaN unless the reported family has one; its own replicates)."""
        if not self.family.has_tail:
            return Estimate.nan()
        rows = [d.theta for d in self.draws if d.name == self.chosen.name]
        v = self.family.tail_fraction(rows[0][:, : self.family.n_params]) if rows else np.empty(0)
        lo, mid, hi = percentile_summary(v, self.level)
        return (
            Estimate(mid, lo, hi)
            if math.isfinite(mid)
            else Estimate(float(self.family.tail_fraction(self.theta[: self.family.n_params])), math.nan, math.nan)
        )

    @property
    def arrival_window(self) -> dict[str, Estimate]:
        """Minutes after onset by which 5 %, 50 % and 95 % of the outages had begun."""
        out = {}
        for q, key in ((0.05, "p05"), (0.5, "p50"), (0.95, "p95")):

            def fn(fam: RecoveryFamily, th: np.ndarray, q: float = q) -> np.ndarray:
                k = fam.n_params
                return th[:, k] + th[:, k + 1] * (-math.log1p(-q)) ** (1.0 / th[:, k + 2])

            out[key] = self._estimate(fn)
        return out

    # ------------------------------------------------------------------ curves
    def survival_curve(self, t_minutes: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pointwise median, low and high of out(t)/peak at minutes after onset, over the replicates."""
        t = np.asarray(t_minutes, dtype=float)
        grid = self._grid()
        curves, w = self._curves()
        vals = np.concatenate([grid.at(m, t.reshape(-1)) for m in curves], axis=0)
        qs = [(1 - self.level) / 2, 0.5, (1 + self.level) / 2]
        if vals.shape[0] < 10:
            return vals[0].reshape(t.shape), np.full(t.shape, np.nan), np.full(t.shape, np.nan)
        if len(curves) == 1:
            lo, mid, hi = np.quantile(vals, qs, axis=0)
        else:
            lo, mid, hi = weighted_quantiles(vals, w, qs)
        return mid.reshape(t.shape), lo.reshape(t.shape), hi.reshape(t.shape)

    def survival_band(self, t_minutes: Any) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise interval (low, high) of out(t)/peak."""
        _, lo, hi = self.survival_curve(t_minutes)
        return lo, hi

    def survival(self, t_minutes: Any) -> np.ndarray:
        """The reported model's maximum-likelihood out(t)/peak."""
        t = np.asarray(t_minutes, dtype=float)
        k = self.family.n_params
        g = self._grid()
        m = self.theta[k + N_EXTRA] * g.unit_curves(self.family, self.theta[None, : k + N_EXTRA])
        return g.at(m, t.reshape(-1))[0].reshape(t.shape)

    def still_affected(self, t: dt.datetime) -> Estimate:
        """out(t)/peak at time ``t`` (share of the peak still out)."""
        minutes = (to_utc(t, "t") - self.onset).total_seconds() / 60.0
        med, lo, hi = self.survival_curve(np.array([minutes]))
        return Estimate(float(med[0]), float(lo[0]), float(hi[0]))

    # ------------------------------------------------------------------ customer-hours
    def _still_out_at_end(self) -> bool:
        """More than 1 % of the peak still out at the end, by the model or by the last readings."""
        y = self.evidence.y
        last = float(np.median(y[-3:])) if y.size >= 3 else 0.0
        return bool(self.survival_curve(np.array([self.horizon_minutes]))[0][0] > 0.01 or last > 0.01)

    def customer_hours_lost(self, n_affected: int | None = None) -> Estimate:
        """Customer-hours without power over the whole event (``n_affected`` ignored: the series gives the count).

        The readings inside the window (integrated over time, gaps and defects bridged
        linearly) plus the model's tail after the window's end. The interval carries the
        feed's slow drift for the measured part (:meth:`_window_draws`) and the bootstrap
        for the tail. ``high_beyond`` (and ``low_beyond``) when more than 1 % of the peak
        is still out at the end of the window: the total then rests on the extrapolation.
        """
        del n_affected
        if "ch" not in self._cache:
            grid = self._grid()
            curves, w = self._curves()
            inside = grid.u <= self.horizon_minutes

            def total(fam: RecoveryFamily, th: np.ndarray) -> np.ndarray:
                k = fam.n_params
                return th[:, k + N_EXTRA] * np.asarray(fam.mean(th[:, :k])).reshape(-1)

            totals, _ = self._values(total)
            modelled = np.concatenate([np.trapezoid(m[:, inside], grid.u[inside], axis=1) for m in curves])
            tail = np.maximum(totals[:, 0] - modelled, 0.0) * self.peak_out / 60.0
            window = self._window_draws(tail.size)
            est = self._summary(window + tail, w, float(np.median(window + tail)))
            beyond = self._still_out_at_end()
            trend = self._end_tail_draws(max(tail.size, 200)) if beyond else None
            if trend is not None:
                # past the end, two tails: the readings' decline continued (the value) and the
                # families' curves; the interval spans both
                both = self._window_draws(trend.size) + trend
                lo, mid, hi = percentile_summary(both, self.level)
                est = Estimate(mid, min(lo, est.low), max(hi, est.high))
            self._cache["ch"] = Estimate(est.value, est.low, est.high, beyond, beyond)
        return self._cache["ch"]

    def _window_draws(self, n: int) -> np.ndarray:
        """``n`` draws of the customer-hours measured inside the window.

        The integral of the used readings from the onset to the end, times a factor for the
        feed's slow drift: its log-scale SD and memory (:meth:`_drift`, measured around the
        decline) give the SD of the drift's mean over the window (:func:`ou_mean_variance`).
        """
        t, y = self.evidence.t, self.evidence.y
        measured = float(np.trapezoid(y, t)) * self.peak_out / 60.0
        pos = y > 0
        middle = float(t[pos][np.argmin(np.abs(y[pos] - 0.5))]) if pos.any() else self.peak_minutes
        sd, tau = self._drift(t[pos], np.log(y[pos]), middle, 720.0)
        rel = math.sqrt(ou_mean_variance(sd, tau, max(self.horizon_minutes, self.step)))
        z = np.random.default_rng(self.seed).standard_normal(n)
        return measured * np.exp(rel * z - 0.5 * rel * rel)

    @property
    def customer_hours_in_window(self) -> Estimate:
        """Customer-hours from the onset to the end of the window, measured by the readings (see :meth:`_window_draws`)."""
        v = self._window_draws(max(self.n_boot, 200))
        lo, mid, hi = percentile_summary(v, self.level)
        return Estimate(mid, lo, hi)

    # ------------------------------------------------------------------ model choice
    def with_model(self, name: str) -> CustomersOutFit:
        """Return the fit reported under restoration family ``name``, with intervals conditional on it."""
        if not isinstance(name, str):
            raise ParameterError(f"model: expected a family name, got {type(name).__name__}")
        label = name.strip().lower()
        found = [c for c in self.cands if c.name == label]
        if not found:
            raise ParameterError(f"model: {name!r} is not among the fitted candidates ({', '.join(c.name for c in self.cands)})")
        cand = found[0]
        if not cand.converged:
            raise FitError(f"model: candidate {label!r} did not converge; choose another ({self.chosen.name} was chosen)")
        reps, failed = bootstrap_family(self.evidence, cand, self.n_boot, np.random.default_rng(self.seed), self.noise_factors)
        draws = (Draw(cand.name, cand.family, reps, 1.0),) if reps.shape[0] else ()
        new = replace(
            self,
            model=f"weibull arrivals × {cand.name} restoration",
            chosen=cand,
            draws=draws,
            n_boot_failed=failed,
            log_likelihood=cand.loglik,
            aic=cand.aic,
            averaged=False,
            _cache={},
        )
        return new.finish(0.0)

    # ------------------------------------------------------------------ assembly
    def finish(self, seconds: float) -> CustomersOutFit:
        """Fill in the method line, notes, verdict and diagnostics (called once by the fitter)."""
        n_rep = sum(d.theta.shape[0] for d in self.draws)
        if not self.draws:
            method = "none (n_boot = 0)"
        elif self.averaged and len(self.draws) > 1:
            method = (
                f"model-averaged parametric bootstrap (Ornstein–Uhlenbeck noise): {n_rep} replicates shared among "
                f"{len(self.draws)} restoration families by their Akaike weights, each refitted with its own family; "
                "percentile intervals of the weighted mixture"
            )
        else:
            method = (
                f"parametric bootstrap (Ornstein–Uhlenbeck noise), {n_rep} replicates of {self.chosen.name}, percentile intervals"
            )
            if not self.averaged:
                method += " (conditional on this model)"
        if self.n_boot_failed:
            method += f" ({self.n_boot_failed} refits failed and were dropped)"
        notes = [f"shares are out / peak ({self.peak_out:,.0f} customers, the largest clean reading)"]
        notes += [f"{v} reading(s) flagged {k}" for k, v in sorted(self.flag_counts.items()) if k != "used"]
        verdict = []
        k = self.family.n_params
        if self.theta[k + 3] >= 0.99 * TAU_MAX:
            verdict.append(
                "The series departs from the smooth restoration curve for hours at a time (the noise time constant "
                "reached its 4-h cap): plateaus and relapses are real features the model smooths over."
            )
        if self.flag_counts.get("relapse", 0):
            verdict.append("Relapses after the peak are kept in the fit and shown.")
        c50 = self.crossing(0.5)
        if not c50.reached:
            verdict.append(
                "The series is still above half its peak at the end of the window: the 50 % crossing is an extrapolation."
            )
        timings = dict(self.timings)
        if seconds:
            timings["total"] = seconds
        new = replace(
            self,
            interval_method=method,
            notes=tuple(notes),
            verdict=" ".join(verdict),
            diagnostics=self._diagnostics(),
            timings=timings,
        )
        new._cache.update(self._cache)
        return new

    def _diagnostics(self) -> Diagnostics:
        ev = self.evidence
        k = self.family.n_params
        fit = ev.mean(self.family, self.theta)[0]
        r = ev.y - fit
        tau, sigma = self.theta[k + 3], self.theta[k + 5]
        rho = np.exp(-ev.dt / tau)
        z = np.concatenate([[r[0] / sigma], (r[1:] - rho * r[:-1]) / (sigma * np.sqrt(1 - rho**2))])
        times = [self.onset + dt.timedelta(minutes=float(m)) for m in ev.t]
        table = pl.DataFrame(
            {"observed_at": times, "minutes": ev.t, "observed": ev.y, "fitted": fit, "residual": r},
            schema_overrides={"observed_at": pl.Datetime("us", "UTC")},
        )
        res = stats.kstest(z, "norm")
        return Diagnostics(
            observed_vs_fitted=table,
            residuals=pl.DataFrame({"minutes": ev.t, "residual": z}),
            ks_statistic=float(res.statistic),
            ks_pvalue=float(res.pvalue),
            ks_band=float(stats.kstwo.ppf(self.level, z.size)),
            note="observed and fitted as shares of the peak; residual = standardised OU innovation, N(0, 1) if the model holds",
        )

    # ------------------------------------------------------------------ metrics
    def _iso(self, minutes: float | None) -> str | None:
        t = self.time_at(minutes) if minutes is not None and math.isfinite(minutes) else None
        return iso_local(t.replace(microsecond=0), self.timezone) if t else None

    def to_metrics(self) -> dict[str, Any]:
        """JSON-ready summary (no NaN: null); clock times in ``timezone`` with its offset."""
        out: dict[str, Any] = {"model": self.model, "level": self.level, "kind": self.kind}
        for p, key in ((0.5, "t50"), (0.9, "t90"), (0.99, "t99")):
            c = self.crossing(p)
            e = c.minutes
            out[key] = self._iso(e.value)
            out[f"{key}_minutes"] = _json(e.value)
            out[f"{key}_minutes_ci"] = e.interval
            out[f"{key}_ci"] = [self._iso(x) for x in e.interval]
            out[f"{key}_extrapolated"] = c.extrapolated
            out[f"{key}_upper_extrapolated"] = bool(e.high_beyond)
            out[f"{key}_reached"] = c.reached
            out[f"{key}_source"] = c.source
            out[f"{key}_after_peak_minutes"] = _json(c.after_peak_minutes.value)
            out[f"{key}_after_peak_minutes_ci"] = c.after_peak_minutes.interval
        pk = self.peak_estimate()
        out["peak"] = {
            "out": self.peak_out,
            "time": iso_local(self.peak_time, self.timezone),
            "share_of_total": self.peak_out / self.total if self.total else None,
            "estimate": _json(pk.value),
            "estimate_ci": pk.interval,
        }
        noise = self.feed_noise()
        out["feed_noise"] = {
            "sd_at_peak": _json(noise.sd_peak),
            "power": _json(noise.power),
            "memory_minutes": _json(noise.tau),
            "blocks": noise.blocks,
        }
        rt: dict[str, Any] = {}
        for p, key in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99")):
            e = self.restoration_quantile(p)
            rt[f"{key}_minutes"] = _json(e.value)
            rt[f"{key}_minutes_ci"] = e.interval
        m = self.mean_outage_minutes
        rt["mean_minutes"] = _json(m.value)
        rt["mean_minutes_ci"] = m.interval
        rt["note"] = RESTORATION_NOTE
        out["restoration_time"] = rt
        aw: dict[str, Any] = {}
        for key, e in self.arrival_window.items():
            aw[key] = self._iso(e.value)
            aw[f"{key}_minutes"] = _json(e.value)
            aw[f"{key}_minutes_ci"] = e.interval
        out["arrival_window"] = aw
        ch = self.customer_hours_lost()
        out["customer_hours"] = _json(ch.value)
        out["customer_hours_ci"] = ch.interval
        out["customer_hours_extrapolated"] = bool(ch.high_beyond)
        cw = self.customer_hours_in_window
        out["customer_hours_in_window"] = _json(cw.value)
        out["customer_hours_in_window_ci"] = cw.interval
        out["mean_outage_minutes"] = _json(m.value)
        out["mean_outage_minutes_ci"] = m.interval
        out["tail_fraction"] = _json(self.tail_fraction.value)
        out["aic"] = _json(self.aic)
        out["log_likelihood"] = _json(self.log_likelihood)
        out["n_observations"] = self.n_observations
        out["onset"] = iso_local(self.onset, self.timezone)
        out["onset_source"] = self.onset_source
        out["onset_ci"] = [iso_local(t, self.timezone) for t in self.onset_ci] if self.onset_ci else None
        out["interval_method"] = self.interval_method
        out["verdict"] = self.verdict
        out["readings"] = dict(self.flag_counts)
        return out

    def __repr__(self) -> str:
        return f"<CustomersOutFit {self.model} t50={self.t50:.4g} min (level {self.level:g}, {self.interval_method[:40]}…)>"
