"""ETA forecasts: the fitted crossing, the recovery so far and a size-conditioned duration prior, averaged over which to trust.

Used by :mod:`analysis.nowcast` (docs/nowcast.md, "How an ETA is made").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from analysis.ingest import IngestResult
from analysis.nowcast_history import PastEvent, conformal_scale, learn_shift, usable
from analysis.nowcast_series import (  # noqa: F401 (kept importable from here)
    PEAK_BAND,
    RATE_HOURS,
    RISE_FACTOR,
    RISE_HOURS,
    TREND_Z,
    UNPEAKED_FLOOR,
    peak_may_be_ahead,
    progress_eta,
    rate_eta,
    series_progress,
)
from analysis.nowcast_shape import SERIES_SHARE_SD, RecoveryShape, learn_shape, shape_eta
from analysis.nowcast_skill import MISLEAD, MISLEAD_SIGMA, PieceSkill, stage
from analysis.recovery.result import Estimate

#: Samples drawn from an ETA distribution (quantiles and CRPS are computed on them).
N_SAMPLES = 4000
#: The ETA a prior scales from, in minutes after onset, at the reference size below.
PRIOR_T90_MINUTES = {"online_fraction": 36 * 60.0, "default": 8 * 60.0}
PRIOR_REFERENCE_SIZE = 100_000.0
PRIOR_SIZE_EXPONENT = 0.25
PRIOR_SIGMA = 1.2
#: An interval end this many times away from its value is an extrapolation artefact, not a spread.
ABSURD_RATIO = 20.0
#: Log-scale spread of an estimate whose interval says nothing usable.
VAGUE_SIGMA = 3.0
#: The least log-scale spread granted to a fitted crossing: the bootstrap knows the noise of
#: the data, not the error of the family's shape beyond the evidence in hand.
FIT_SIGMA_FLOOR = 0.35
#: A fitted crossing this many times later than max(elapsed time, assumed prior median) is not used.
IMPLAUSIBLE_FACTOR = 50.0
#: ... that is, later than the prior's quantile this many standard deviations above its median
#: (for the assumed prior's spread exactly :data:`IMPLAUSIBLE_FACTOR` times the median).
IMPLAUSIBLE_Z = math.log(IMPLAUSIBLE_FACTOR) / PRIOR_SIGMA
# MISLEAD (0.2), the prior probability that one piece of evidence behind an ETA misleads, and
# MISLEAD_SIGMA (3.0, as VAGUE_SIGMA), the log-scale spread around the prior median with which a
# misleading piece's value is read, live in analysis.nowcast_skill (the skill learns per-piece
# probabilities with the same reading) and are imported above.
#: Models of :func:`model_average` with less weight than this are left out of the mixture.
MIN_MODEL_WEIGHT = 1e-4
#: Log-scale spread of the ETA from extrapolating a series' current recovery rate.
RATE_SIGMA = 0.8
#: The recovery so far is extrapolated from reports only when the share still out is known this well (interval width).
SHARE_KNOWN_WIDTH = 0.5
#: Weight of the duration prior in the mixture while a series' peak may still be ahead.
UNPEAKED_PRIOR_WEIGHT = 0.3
#: Use the ETA from the share restored so far and the recovery's shape (:mod:`analysis.nowcast_shape`).
USE_SHAPE = True
#: Keep the log-linear decline (:func:`progress_eta`) beside the shape piece, which reads the same share.
KEEP_PROGRESS = False
#: Use the share-restored piece while a series' peak may still be ahead (its share of the peak so far is not the share restored).
SHAPE_WHEN_UNPEAKED = False
#: Correlation of the errors of the two pieces read from the same fit of reports or restorations (its crossing and
#: its share restored): 0.5 set (0, 0.5 and 0.8 compared on the backtest's seeds 0–1; their standardised errors
#: correlate 0.45–0.95 at 25–75 % of the way on both draws, docs/nowcast.md).
SAME_FIT_CORRELATION = 0.5
#: The pieces of a report or restoration forecast that read the same fit.
SAME_FIT_PIECES = ("fit", "shape")


@dataclass(frozen=True)
class DurationPrior:
    """A log-normal prior on the time to p restored (minutes after onset), scaled by the event's size.

    Assumed (no history): median(t90) = base · (size / 100 000)^0.25, base 36 h for a
    customers-out series (size: the peak count) and 8 h otherwise (no scaling);
    median(t50) = median(t90) / 3; log-scale spread ``sigma`` (1.2: a factor 3.3 either
    way at one standard deviation). Learned from past incidents
    (:meth:`for_event` with ``history``, :mod:`analysis.nowcast_history`): each target's
    median and spread from those events (``median_t50``, ``sigma_t50``; ``n_events``).
    """

    median_t90: float
    sigma: float = PRIOR_SIGMA
    median_t50: float | None = None
    sigma_t50: float | None = None
    #: past incidents the t50 and t90 parts were learned from (0: assumed)
    n_events: tuple[int, int] = (0, 0)
    #: the log-scale spread of the restoration times (t90 / t50), assumed or learned from the same history
    shape: RecoveryShape = dataclasses.field(default_factory=RecoveryShape)

    @classmethod
    def for_event(
        cls, evidence: str, size: float, history: Sequence[PastEvent] | None = None, *, exclude: str | None = None
    ) -> DurationPrior:
        """The prior for an event of this evidence kind and size; learned from ``history`` when it has enough such events.

        ``exclude``: an incident id of the history left out (the incident being forecast).
        """
        assumed = cls._assumed(evidence, size)
        if not history:
            return assumed
        past = usable(history, evidence, exclude=exclude)
        learned = {}
        for p in (0.5, 0.9):
            residuals = [math.log(e.minutes(p)) - math.log(cls._assumed(evidence, e.size).median(p)) for e in past]
            shift, scale = learn_shift(residuals, PRIOR_SIGMA), conformal_scale(residuals, PRIOR_SIGMA)
            learned[p] = dataclasses.replace(shift, spread=shift.spread * scale) if shift and scale else shift
        half, full = learned[0.5], learned[0.9]
        return cls(
            median_t90=assumed.median(0.9) * math.exp(full.shift) if full else assumed.median_t90,
            sigma=full.spread if full else PRIOR_SIGMA,
            median_t50=assumed.median(0.5) * math.exp(half.shift) if half else None,
            sigma_t50=half.spread if half else None,
            n_events=(half.n_events if half else 0, full.n_events if full else 0),
            shape=learn_shape(history, evidence, exclude=exclude),
        )

    @classmethod
    def _assumed(cls, evidence: str, size: float) -> DurationPrior:
        base = PRIOR_T90_MINUTES.get(evidence, PRIOR_T90_MINUTES["default"])
        scale = (max(size, 1.0) / PRIOR_REFERENCE_SIZE) ** PRIOR_SIZE_EXPONENT if evidence == "online_fraction" else 1.0
        return cls(base * scale)

    def median(self, p: float) -> float:
        """Prior median of t_p in minutes after onset."""
        if p >= 0.9:
            return self.median_t90
        return self.median_t50 if self.median_t50 is not None else self.median_t90 / 3.0

    def spread(self, p: float) -> float:
        """Prior log-scale spread of t_p."""
        return self.sigma_t50 if p < 0.9 and self.sigma_t50 is not None else self.sigma

    def horizon(self, p: float) -> float:
        """The latest t_p the prior finds plausible: its quantile at :data:`IMPLAUSIBLE_Z` standard deviations.

        For the assumed prior (spread 1.2) that is :data:`IMPLAUSIBLE_FACTOR` times its
        median; a learned prior with a narrower spread is stricter.
        """
        return self.median(p) * math.exp(IMPLAUSIBLE_Z * self.spread(p))

    @property
    def source(self) -> str:
        """Where the prior came from: "assumed", or how many past incidents it was learned from."""
        n50, n90 = self.n_events
        if not n50 and not n90:
            return "assumed"
        return f"learned from past incidents (t50: {n50}, t90: {n90})"


@dataclass(frozen=True)
class EtaForecast:
    """The forecast time to p restored, in minutes after onset, as weighted samples.

    ``reached``: already reached at the as-of time (``reached_minutes`` says when), then
    there are no samples.
    """

    p: float
    samples: np.ndarray
    weights: np.ndarray
    reached: bool = False
    reached_minutes: float = math.nan

    def quantile(self, q: Any) -> np.ndarray:
        """Weighted quantiles of the forecast (minutes after onset)."""
        qs = np.atleast_1d(np.asarray(q, dtype=float))
        if self.reached or not self.samples.size:
            return np.full(qs.shape, self.reached_minutes)
        order = np.argsort(self.samples)
        x, w = self.samples[order], self.weights[order]
        cum = (np.cumsum(w) - 0.5 * w) / w.sum()
        return np.interp(qs, cum, x)

    def interval(self, level: float) -> tuple[float, float]:
        """Central interval at ``level``."""
        lo, hi = self.quantile([(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)

    @property
    def median(self) -> float:
        """The forecast's median (minutes after onset)."""
        return float(self.quantile(0.5)[0])

    def crps(self, truth: float) -> float:
        """Continuous ranked probability score against ``truth`` (minutes; lower is better)."""
        if self.reached or not self.samples.size:
            return abs(self.reached_minutes - truth)
        return weighted_crps(self.samples, self.weights, truth)


def weighted_crps(x: np.ndarray, w: np.ndarray, y: float) -> float:
    """CRPS of a weighted sample against ``y``: E|X − y| − ½ E|X − X'| (exact for the sample)."""
    order = np.argsort(x)
    x, w = np.asarray(x, dtype=float)[order], np.asarray(w, dtype=float)[order]
    w = w / w.sum()
    first = float(np.sum(w * np.abs(x - y)))
    # E|X − X'| = 2 Σ_i w_i x_i (2 F_i − w_i − 1) for sorted x with cumulative F
    cum = np.cumsum(w)
    second = float(2 * np.sum(w * x * (2 * cum - w - 1)))
    return first - 0.5 * second


def log_spread(value: float, low: float, high: float, *, level: float) -> float:
    """The log-scale standard deviation implied by an interval at ``level`` around ``value``.

    The wider of the usable sides counts (a bootstrap interval of a time is skewed to the
    late side). A side more than :data:`ABSURD_RATIO` times away from the value (a tail
    that never ends, a bootstrap replicate with no crossing) is not usable; with no usable
    side the spread is :data:`VAGUE_SIGMA`.
    """
    z = float(stats.norm.ppf((1 + level) / 2))
    lv = math.log(max(value, 1e-6))
    sides = []
    if math.isfinite(low) and value / ABSURD_RATIO < low < value:
        sides.append((lv - math.log(low)) / z)
    if math.isfinite(high) and value < high < value * ABSURD_RATIO:
        sides.append((math.log(high) - lv) / z)
    return max(sides) if sides else VAGUE_SIGMA


def truncated_lognormal(mu: float, sigma: float, floor: float, n: int) -> np.ndarray:
    """``n`` evenly spaced quantiles of a log-normal (log mean ``mu``, sd ``sigma``) conditioned on > ``floor``.

    Computed in the upper tail (survival function), so a floor far beyond the median (an
    event that has outlasted a narrow forecast) still gives quantiles above it; beyond
    what a double can hold (about 37 standard deviations) the normal's tail is taken as
    its limit, the floor plus an exponential of rate ``a`` on the standard scale.
    """
    a = (math.log(floor) - mu) / sigma if floor > 0 else -math.inf
    rest = 1 - (np.arange(n) + 0.5) / n  # survival beyond each quantile, as a share of the tail beyond the floor
    tail = float(stats.norm.sf(a))
    z = np.maximum(stats.norm.isf(tail * rest), a) if tail > 0 else a - np.log(rest) / a
    return np.exp(mu + sigma * z)


def eta_forecast(
    est: Any,
    p: float,
    *,
    elapsed: float,
    level: float,
    prior: DurationPrior | None,
    reached_minutes: float | None = None,
    rate_minutes: float | list[float] | dict[str, float] | None = None,
    n: int = N_SAMPLES,
    reached_when_past: bool = True,
    pieces: Sequence[tuple[str, float, float]] = (),
    record: list[tuple[str, float, float]] | None = None,
    skill: PieceSkill | None = None,
    skill_evidence: str = "",
) -> EtaForecast:
    """The forecast of t_p (minutes after onset) from a fit's estimate (value, interval at ``level``).

    Reached (an observed crossing, or the fit's point estimate at or before ``elapsed``):
    no forecast, the time it was reached. Otherwise, on the log scale, the fit's estimate
    as a normal (median ``value``, spread from the wider side of its interval) combined
    with the prior's normal by their precisions, then conditioned on t_p > ``elapsed``
    (it has not happened yet), averaged over which pieces of evidence to trust
    (:func:`model_average`). ``reached_when_past`` False: a fitted value at or before
    ``elapsed`` is one more piece of evidence ("about now"), not a crossing. A fitted value implausibly late (later than both
    :data:`IMPLAUSIBLE_FACTOR` times the elapsed time and the prior's
    :meth:`DurationPrior.horizon`: a curve that has not started to fall yet, a truncated
    fit extrapolated far past its evidence) is left out. ``rate_minutes``: ETAs from extrapolating the
    recovery so far (:func:`rate_eta`, :func:`progress_eta`), each one more normal (spread
    :data:`RATE_SIGMA`); a dict names them. ``pieces``: more pieces as (name, log ETA,
    spread), e.g. the ETA from the share restored (:func:`analysis.nowcast_shape.shape_eta`).
    ``record``: a list the pieces used are appended to, by name (the width breakdown of the
    backtest). ``skill``: each piece's spread (not the prior's) scaled by its measured error on
    replayed past incidents of the evidence kind ``skill_evidence`` (:mod:`analysis.nowcast_skill`).
    With nothing usable: the prior alone.
    """
    if reached_minutes is not None and math.isfinite(reached_minutes):
        return EtaForecast(p, np.empty(0), np.empty(0), reached=True, reached_minutes=float(reached_minutes))
    value = float(est.value)
    if math.isfinite(value) and value <= elapsed and reached_when_past:
        return EtaForecast(p, np.empty(0), np.empty(0), reached=True, reached_minutes=value)
    named: list[tuple[str, float, float]] = []
    horizon = max(IMPLAUSIBLE_FACTOR * max(elapsed, 1.0), prior.horizon(p) if prior is not None else 0.0)
    if math.isfinite(value) and 0 < value < horizon:
        spread = log_spread(value, float(est.low), float(est.high), level=level)
        named.append(("fit", math.log(value), max(spread, FIT_SIGMA_FLOOR)))
    if isinstance(rate_minutes, dict):
        rates = list(rate_minutes.items())
    else:
        listed = [rate_minutes] if isinstance(rate_minutes, (int, float)) else list(rate_minutes or [])
        rates = [(f"extrapolation {i + 1}", r) for i, r in enumerate(listed)]
    named.extend((k, math.log(r), RATE_SIGMA) for k, r in rates if math.isfinite(r) and elapsed < r < horizon)
    named.extend((k, m, sd) for k, m, sd in pieces if math.isfinite(m) and math.log(max(elapsed, 1e-9)) < m < math.log(horizon))
    if record is not None:
        record.extend(named)
    parts = [(m, sd) for _, m, sd in named]
    if prior is not None:
        misleads = None
        if skill is not None:  # each piece's spread and probability of misleading from its replays (the prior has its own)
            at = stage(elapsed, prior.median(p))
            parts = [(m, sd * skill.scale(k, skill_evidence, at)) for k, m, sd in named]
            misleads = [skill.mislead(k, skill_evidence, at) for k, _, _ in named]
        linked = [k in SAME_FIT_PIECES for k, _, _ in named] if skill_evidence != "online_fraction" else None
        x, w = model_average(parts, (math.log(prior.median(p)), prior.spread(p)), elapsed, n, misleads, linked=linked)
        return EtaForecast(p, x, w)
    if not parts:
        if math.isfinite(value):  # the fitted value alone, however late (the fit without a prior)
            return EtaForecast(p, np.array([value]), np.ones(1))
        return EtaForecast(p, np.empty(0), np.empty(0))
    precision = sum(1 / s**2 for _, s in parts)
    mu = sum(m / s**2 for m, s in parts) / precision
    x = truncated_lognormal(mu, math.sqrt(1 / precision), elapsed, n)
    return EtaForecast(p, x, np.ones_like(x))


def model_average(
    parts: list[tuple[float, float]],
    prior: tuple[float, float],
    elapsed: float,
    n: int,
    misleads: Sequence[float] | None = None,
    *,
    linked: Sequence[bool] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The prior updated by the pieces of evidence, averaged over which of them to trust (weighted samples).

    Each piece (a log-scale ETA and its spread: the fitted crossing, an extrapolation) is
    either informative (the log t_p plus a normal error of its spread) or misleading
    (prior probability :data:`MISLEAD`, or the piece's own in ``misleads``, learned from
    replays by :func:`analysis.nowcast_skill.fit_mixture`; then it says nothing about t_p and is read as a
    draw spread :data:`MISLEAD_SIGMA` around the prior median). Every subset of trusted
    pieces is a model; its weight is its prior probability times the likelihood of all the
    pieces' values under it (the trusted ones jointly normal around the prior, which is how
    a piece that contradicts the prior and the others loses weight) times its probability
    of "not reached yet at ``elapsed``". The forecast is the mixture of the models'
    posteriors (prior and trusted pieces combined by their precisions), each conditioned
    on "not reached yet". With every piece trusted and consistent this is the precision
    combination; a piece at odds with the rest no longer drags the forecast with it.
    ``linked``: the pieces read from the same fit, whose errors are correlated
    (:func:`trusted_posterior`).
    """
    mu0, s0 = prior
    k = len(parts)
    pi = list(misleads) if misleads is not None else [MISLEAD] * k
    models: list[tuple[float, float, float]] = []  # (log weight, posterior log mean, posterior sd)
    for mask in range(1 << k):
        others = [parts[i] for i in range(k) if not mask >> i & 1]
        logw = sum(math.log(1 - pi[i]) if mask >> i & 1 else math.log(pi[i]) for i in range(k))
        wide = math.sqrt(s0**2 + MISLEAD_SIGMA**2)
        logw += sum(float(stats.norm.logpdf(m, mu0, wide)) for m, _ in others)
        idx = [i for i in range(k) if mask >> i & 1]
        logl, mu, sd = trusted_posterior(parts, idx, prior, linked)
        logw += logl
        if elapsed > 0:
            logw += float(stats.norm.logsf((math.log(elapsed) - mu) / sd))
        models.append((logw, mu, sd))
    top = max(w for w, _, _ in models)
    share = np.array([math.exp(w - top) for w, _, _ in models])
    share /= share.sum()
    xs, ws = [], []
    for (_, mu, sd), wt in zip(models, share, strict=True):
        if wt < MIN_MODEL_WEIGHT:
            continue
        x = truncated_lognormal(mu, sd, elapsed, n)
        xs.append(x)
        ws.append(np.full(n, wt / n))
    return np.concatenate(xs), np.concatenate(ws)


def trusted_posterior(
    parts: Sequence[tuple[float, float]],
    idx: Sequence[int],
    prior: tuple[float, float],
    linked: Sequence[bool] | None = None,
) -> tuple[float, float, float]:
    """Log likelihood of the trusted pieces ``parts[idx]`` around the prior, and the posterior log mean and sd.

    The trusted pieces' values are log t_p plus errors of their spreads; two pieces both
    marked in ``linked`` (read from the same fit) have errors correlated by
    :data:`SAME_FIT_CORRELATION`, so together they count for less than two independent
    pieces. Without correlation this is the precision combination.
    """
    mu0, s0 = prior
    if not idx:
        return 0.0, mu0, s0
    values = np.array([parts[i][0] for i in idx])
    sds = np.array([parts[i][1] for i in idx])
    own = np.diag(sds**2)
    if linked is not None and SAME_FIT_CORRELATION:
        mark = np.array([bool(linked[i]) for i in idx])
        both = np.outer(mark, mark) & ~np.eye(len(idx), dtype=bool)
        own = own + np.where(both, SAME_FIT_CORRELATION * np.outer(sds, sds), 0.0)
    cov = s0**2 * np.ones((len(idx), len(idx))) + own
    logl = float(stats.multivariate_normal.logpdf(values, np.full(len(idx), mu0), cov))
    inv = np.linalg.inv(own)
    precision = 1 / s0**2 + float(inv.sum())
    mu = (mu0 / s0**2 + float(inv.sum(axis=0) @ values)) / precision
    return logl, mu, math.sqrt(1 / precision)


def event_size(fit: Any, evidence: str, data: IngestResult) -> float:
    """The size the duration prior scales with: the peak count of a series, else the evidence rows.

    Without a fit the peak is the largest reading so far.
    """
    if evidence == "online_fraction":
        peak = getattr(fit, "peak_out", None)
        if peak is not None and math.isfinite(float(peak)):
            return float(peak)
        if data.online.height:
            from analysis.fitting import customers_out_series

            top = customers_out_series(data.online)["out"].max()
            if top is not None:
                return float(top)  # type: ignore[arg-type]
    return float(data.reports.height + data.restorations.height)


def with_prior_mixed_in(f: EtaForecast, prior: EtaForecast, weight: float) -> EtaForecast:
    """The mixture (1 − ``weight``) · ``f`` + ``weight`` · ``prior`` (both not reached yet), as weighted samples."""
    if f.reached or not f.samples.size or not prior.samples.size or not weight > 0:
        return f
    x = np.concatenate([f.samples, prior.samples])
    w = np.concatenate([f.weights / f.weights.sum() * (1 - weight), prior.weights / prior.weights.sum() * weight])
    return EtaForecast(f.p, x, w)


def eta_forecasts(
    fit: Any,
    *,
    evidence: str,
    data: IngestResult,
    elapsed: float,
    level: float,
    prior: bool = True,
    history: Sequence[PastEvent] | None = None,
    exclude: str | None = None,
    record: dict[str, list[tuple[str, float, float]]] | None = None,
    skill: PieceSkill | None = None,
) -> dict[str, EtaForecast]:
    """The t50 and t90 forecasts at ``elapsed`` minutes after the onset; the prior alone when ``fit`` is None.

    A series' crossing counts as reached when its readings went below the line for good
    by then; any other curve's when its point estimate lies at or before ``elapsed``.
    With ``prior`` (the product) the extrapolations of the recovery so far join in — a
    series' rate over the last hours (:func:`rate_eta`) and, for every evidence kind, the
    log-linear decline from everyone out to the share out now (:func:`progress_eta`; for
    reports only when the share out now is known within :data:`SHARE_KNOWN_WIDTH`);
    without it, the fitted curve alone. A series' fitted crossing that lies before
    ``elapsed`` while its last hour of readings is still above the line is not used (the
    curve took a fall, or a feed drop-out, for the recovery). While a series' peak may
    still be ahead (:func:`peak_may_be_ahead`), the forecast is mixed with the prior alone
    (weight :data:`UNPEAKED_PRIOR_WEIGHT`): the first fall is not read as the recovery.
    ``history``: past incidents the duration prior is learned from (``exclude``: the id
    of this incident in it, left out); without it the assumed prior. The ETA from the share
    restored so far and the recovery's shape (:func:`analysis.nowcast_shape.shape_eta`)
    joins the extrapolations. ``record``: per target, the pieces used (name, log ETA, spread).
    ``skill``: the pieces' spreads scaled by their measured errors (:mod:`analysis.nowcast_skill`).
    """
    duration_prior = (
        DurationPrior.for_event(evidence, event_size(fit, evidence, data), history, exclude=exclude) if prior else None
    )
    onset = fit.onset if fit is not None else None
    unpeaked, share_now = None, None
    if onset is not None and evidence == "online_fraction":
        share_now = series_progress(data, onset, onset + dt.timedelta(minutes=elapsed))
        if prior:
            unpeaked = peak_may_be_ahead(data, onset + dt.timedelta(minutes=elapsed))
    etas = {}
    for key, p in (("t50", 0.5), ("t90", 0.9)):
        reached, est, sure = None, Estimate.nan(), True
        if fit is not None and hasattr(fit, "crossing"):
            c = fit.crossing(p)
            if c.reached and c.minutes.value <= elapsed and not (share_now is not None and share_now[0] > 1 - p):
                reached = c.minutes.value
            est = c.minutes
            if reached is None and est.value <= elapsed:
                est = Estimate.nan()  # the curve crossed already but the last hour's readings did not: the curve is wrong
        elif fit is not None:
            est = fit.quantile(p)
            sure = not float(est.high) > elapsed  # a fitted t_p just behind us, its interval still ahead: not reached yet
        rates: dict[str, float] = {}
        pieces: list[tuple[str, float, float]] = []
        if prior and onset is not None:
            rates, pieces = _extrapolations(fit, data, evidence, onset, elapsed=elapsed, p=p, level=level, prior=duration_prior)
            if unpeaked is not None and not SHAPE_WHEN_UNPEAKED:
                pieces = []  # the share of a peak that may still be ahead is not the share restored
        f = eta_forecast(
            est,
            p,
            elapsed=elapsed,
            level=level,
            prior=duration_prior,
            reached_minutes=reached,
            rate_minutes=rates,
            reached_when_past=sure,
            pieces=pieces,
            record=record.setdefault(key, []) if record is not None else None,
            skill=skill,
            skill_evidence=evidence,
        )
        if unpeaked is not None and duration_prior is not None:
            alone = eta_forecast(Estimate.nan(), p, elapsed=elapsed, level=level, prior=duration_prior)
            f = with_prior_mixed_in(f, alone, UNPEAKED_PRIOR_WEIGHT)
        etas[key] = f
    return etas


def _extrapolations(
    fit: Any, data: IngestResult, evidence: str, onset: dt.datetime, *, elapsed: float, p: float, level: float, prior: Any
) -> tuple[dict[str, float], list[tuple[str, float, float]]]:
    """The ETAs from the recovery so far: the rate and the log-linear decline (minutes), and the shape piece (log, spread).

    A series: its rate over the last hours (:func:`rate_eta`), the decline from its peak
    (:func:`progress_eta`) and the share of its peak restored. Reports and restorations:
    the decline from the onset when the fit knows the share out now within
    :data:`SHARE_KNOWN_WIDTH`, and the share restored with the fit's standard error.
    """
    as_of = onset + dt.timedelta(minutes=elapsed)
    rates: dict[str, float] = {}
    restored, restored_sd = math.nan, math.nan
    if evidence == "online_fraction":
        rates["rate"] = rate_eta(data, onset, as_of, p) or math.nan
        now = series_progress(data, onset, as_of)
        if now is not None:
            rates["progress"] = progress_eta(now[0], now[1], elapsed, p) or math.nan
            restored, restored_sd = 1.0 - now[0], SERIES_SHARE_SD
    else:
        still = fit.still_affected(as_of)
        if float(still.high) - float(still.low) <= SHARE_KNOWN_WIDTH:  # else the share out now is a guess
            rates["progress"] = progress_eta(float(still.value), elapsed, elapsed, p) or math.nan
        z = float(stats.norm.ppf((1 + level) / 2))
        restored, restored_sd = 1.0 - float(still.value), (float(still.high) - float(still.low)) / (2 * z)
    pieces: list[tuple[str, float, float]] = []
    if USE_SHAPE and prior is not None and math.isfinite(restored_sd):
        got = shape_eta(restored, restored_sd, elapsed, p, prior.shape)
        if got is not None:
            pieces.append(("shape", *got))
            if not KEEP_PROGRESS:
                rates.pop("progress", None)  # the same share extrapolated with a set shape and spread
    return rates, pieces
