"""Where a customers-out series crosses (1 − p) × peak: the local fits and the bootstrap search.

The module-level functions fit the readings near a crossing (an Ornstein–Uhlenbeck mean and
a regression with autocorrelation-robust errors); :class:`CrossingSearch` holds the
crossing methods of :class:`~analysis.recovery.outage_result.CustomersOutFit`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from scipy import stats

from analysis.errors import ParameterError
from analysis.recovery.family_base import RecoveryFamily
from analysis.recovery.outage_model import N_EXTRA, TAU_MAX, FeedNoise, QueueCandidate, QueueEvidence, QueueGrid, feed_noise
from analysis.recovery.result import Estimate


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
    shapes: bool = True,
) -> tuple[float, float, float] | None:
    """Crossing of ``line`` by the local linear trend of the readings around ``center``, with its interval.

    The readings within ``half_width`` minutes of ``center`` are fitted by least squares;
    the crossing is where the line meets the fitted trend. Its standard error comes from
    the trend's covariance with a Newey–West (Bartlett, ``lag`` readings) correction for
    the feed's autocorrelated noise, plus the uncertainty of the line itself (``line_var``:
    the peak is estimated too), by the delta method, plus (``shapes``) the spread of the
    crossings competing local shapes give (:func:`shape_variance`: how far the curve's
    shape near the crossing is from a straight line); the interval uses Student's t on
    n − 2 degrees of freedom. ``level_var`` is a floor for the variance of the trend's level:
    the share of the feed's autocorrelated noise the window cannot average away. None when
    the window holds too few readings or no clear decline.
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
    shape = shape_variance(t, y, center=center, line=line, half_width=half_width, at=center + uc) if shapes else 0.0
    se = math.sqrt(max(float(grad @ cov @ grad) + line_var / b**2 + shape, 0.0))
    q = float(stats.t.ppf((1 + level) / 2, max(n - 2, 3)))
    return center + uc, center + uc - q * se, center + uc + q * se


def _line_crossing(
    t: np.ndarray, y: np.ndarray, center: float, half: float, *, line: float, degree: int, at: float
) -> float | None:
    """Where a least-squares polynomial of ``degree`` through the readings within ``half`` of ``center`` meets ``line``.

    The root nearest ``at``; None with fewer than 4 readings per coefficient or no root.
    """
    sel = np.abs(t - center) <= half
    if sel.sum() < 4 * (degree + 1):
        return None
    coef = np.polyfit(t[sel] - center, y[sel], degree)
    coef[-1] -= line
    roots = np.roots(coef)
    roots = roots[np.abs(roots.imag) < 1e-9].real
    if roots.size == 0 or (degree == 1 and coef[0] >= 0):
        return None
    return center + float(roots[np.argmin(np.abs(roots + center - at))])


def shape_variance(t: np.ndarray, y: np.ndarray, *, center: float, line: float, half_width: float, at: float) -> float:
    """How much the crossing ``at`` depends on the local shape assumed: mean squared shift under competing shapes.

    The local trend is a straight line over ``half_width`` each side; the competing shapes
    are a straight line over half that window and over twice it, and a parabola over twice
    it. Where the curve near the crossing is straight (a smooth decline), they agree and
    add nothing; where it bends or steps (bands of outages, a second wave of restoration),
    they disagree by about as much as the straight line misplaces the crossing. This, not a
    drift allowance measured around one smooth trend over a day (which held the curve's
    whole shape), carries the shape's share of the crossing's uncertainty.
    """
    alts = (
        _line_crossing(t, y, center, 0.5 * half_width, line=line, degree=1, at=at),
        _line_crossing(t, y, center, 2.0 * half_width, line=line, degree=1, at=at),
        _line_crossing(t, y, center, 2.0 * half_width, line=line, degree=2, at=at),
    )
    shifts = [a - at for a in alts if a is not None and math.isfinite(a)]
    return float(np.mean(np.square(shifts))) if shifts else 0.0


class CrossingSearch:
    """The crossing methods of :class:`~analysis.recovery.outage_result.CustomersOutFit` (its fields and curves)."""

    if TYPE_CHECKING:  # what the methods use of CustomersOutFit
        evidence: QueueEvidence
        level: float
        seed: int
        step: float
        peak_out: float
        noise_factors: tuple[float, float]
        _cache: dict[str, Any]

        @property
        def family(self) -> RecoveryFamily:
            """Restoration family of the reported model."""

        @property
        def theta(self) -> np.ndarray:
            """Parameters of the reported model."""

        @property
        def horizon_minutes(self) -> float:
            """Minutes from the onset to the end of the window."""

        @property
        def peak_minutes(self) -> float:
            """Minutes from the onset to the peak reading."""

        def _grid(self) -> QueueGrid: ...
        def _blocks(self) -> list[tuple[RecoveryFamily, np.ndarray, float]]: ...
        def _curves(self) -> tuple[list[np.ndarray], np.ndarray]: ...
        def _summary(self, v: np.ndarray, w: np.ndarray, point: float) -> Estimate: ...
        def survival_curve(self, t_minutes: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """S(t) with its band at ``t_minutes``."""

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
            top = min(float(np.polyval(bl, tm)), float(np.polyval(br, tm)), 1.5)
            best = top if best is None else max(best, top)
        return best

    def _drift(self, t: np.ndarray, y: np.ndarray, center: float, half: float) -> tuple[float, float]:
        """(SD, time constant in minutes) of the readings' deviation from a quadratic trend within ``half`` of ``center``.

        A scraped feed drifts by a few per cent for hours: over a short window that drift is
        a level shift the window's own residuals cannot show. Measured around a smooth
        trend over a wider window, its size and persistence bound how well any short window
        can place a line (see :func:`ou_mean_variance`). Used for the decline continued past
        the window's end (:meth:`_end_trend`), where what the curve does beyond the readings
        is as uncertain as a drift; inside the window the crossings use the feed's measured
        noise and competing shapes instead (this deviation also holds the curve's shape).
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
                est, source = Estimate(float(local[0]), float(local[1]), float(local[2])), "readings"
        value, low, high = (max(x, floor) for x in (est.value, est.low, est.high))
        if reached and est.high < floor:
            # the whole estimate lies before a reading clearly above the line (the local window
            # reached back over what a line cannot follow, a second storm's rise): the crossing
            # is between that reading and the first one clearly below the line after it
            below = ta[(ta > floor) & (ya <= line - 2.0 * sd)]
            if below.size:
                value, low, high = 0.5 * (floor + float(below[0])), floor, float(below[0])
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
        # the feed's autocorrelated noise at the line's level (measured in blocks, the curve's
        # shape taken out): what of it a window of 2·half cannot average away floors the level
        noise = self.feed_noise()
        return local_crossing(
            t[pos], np.log(y[pos]), center=center, line=math.log(line), line_var=log_line_var, half_width=half, lag=lag,
            level=self.level, level_var=ou_mean_variance(noise.log_sd(line), noise.tau, 2.0 * half),
        )  # fmt: skip

    def _end_trend(self) -> tuple[float, np.ndarray, np.ndarray, int] | None:
        """The local linear trend of log(readings) over the last hours of the window: (end, β, cov, n).

        Fitted to the fresh readings within 3 h of the last one (widened to hold eight, at most
        12 h), Newey–West covariance, the level's variance floored by the feed's slow drift
        (:meth:`_drift`). β = (log level at the end, slope per minute). None when there are
        too few readings or no clear decline.
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
