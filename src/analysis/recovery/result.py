"""Fitted recovery curves as result objects: headline numbers with intervals, curves, metrics.

:class:`RecoveryFit` is what every evidence-specific fitter returns. It keeps the chosen
family, its maximum-likelihood parameters and the bootstrap replicates, and derives every
headline number from them the same way: the median and the equal-tailed percentile
interval of the same function over the (model-averaged) replicates, so a number always
lies inside its own interval.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from analysis.errors import FitError, ParameterError
from analysis.recovery._time import iso_local, to_utc
from analysis.recovery.families import RecoveryFamily


def _json(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


@dataclass(frozen=True)
class Estimate:
    """A number with its interval (``low``, ``high``); any of them may be NaN (unknown) or inf.

    For durations after onset ``low_beyond``/``high_beyond`` say that an end lies beyond the
    end of observation (a model extrapolation: read it as "at least until the end of
    observation").
    """

    value: float
    low: float
    high: float
    low_beyond: bool = False
    high_beyond: bool = False

    @classmethod
    def nan(cls) -> Estimate:
        """Return an estimate that cannot be made (all NaN)."""
        return cls(math.nan, math.nan, math.nan)

    @property
    def interval(self) -> list[float | None]:
        """``[low, high]`` with non-finite ends as ``None`` (JSON-ready)."""
        return [_json(self.low), _json(self.high)]

    @property
    def is_finite(self) -> bool:
        """True when value and both ends are finite numbers."""
        return all(math.isfinite(x) for x in (self.value, self.low, self.high))

    def scaled(self, factor: float) -> Estimate:
        """Return the estimate multiplied by ``factor`` (flags kept)."""
        return Estimate(self.value * factor, self.low * factor, self.high * factor, self.low_beyond, self.high_beyond)

    def covers(self, x: float) -> bool:
        """Tell whether ``x`` lies in the interval (an end beyond the observation counts as open: "at least until the end")."""
        return bool(self.low <= x and (x <= self.high or self.high_beyond))

    def capped(self, limit: float) -> Estimate:
        """Return the estimate with the ends beyond ``limit`` flagged (``low_beyond``/``high_beyond``).

        The numbers are kept, so the value always lies inside its interval; the flags tell
        a reader that an end is a model extrapolation past the end of observation (a report
        prints "beyond the observation window" rather than a date nobody observed).
        """
        if not math.isfinite(limit):
            return self
        return Estimate(
            self.value,
            self.low,
            self.high,
            self.low_beyond or bool(self.low > limit),
            self.high_beyond or bool(self.high > limit),
        )

    def __format__(self, spec: str) -> str:
        spec = spec or ".3g"
        return f"{self.value:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"


def percentile_interval(values: np.ndarray, level: float, weights: np.ndarray | None = None) -> tuple[float, float]:
    """Equal-tailed percentile interval of bootstrap replicates; inf-safe, NaN if too few finite ones.

    ``weights`` (one per replicate) give a weighted percentile interval: the replicates of
    several models, each model's replicates carrying its weight (model-averaged intervals).
    """
    low, _, high = percentile_summary(values, level, weights)
    return low, high


def percentile_summary(values: np.ndarray, level: float, weights: np.ndarray | None = None) -> tuple[float, float, float]:
    """``(low, median, high)`` of bootstrap replicates: the interval and the point of one distribution.

    The median is the headline value of every number that has an interval: it is the
    estimate of the same (possibly model-averaged) distribution whose equal-tailed
    percentiles give the interval, so it always lies inside it. NaN when fewer than ten
    replicates are not NaN; infinite replicates (a quantile never reached) count as larger
    than any number.
    """
    v = np.asarray(values, dtype=float).reshape(-1)
    keep = ~np.isnan(v)
    if weights is not None:
        w = np.asarray(weights, dtype=float).reshape(-1)
        keep &= w > 0
        weights = None if w[keep].size == 0 or np.ptp(w[keep]) == 0 else w[keep]  # equal weights: the plain quantiles
    v = v[keep]
    if v.size < 10:
        return math.nan, math.nan, math.nan
    big = np.where(np.isposinf(v), 1e300, np.where(np.isneginf(v), -1e300, v))
    qs = [(1 - level) / 2, 0.5, (1 + level) / 2]
    found = np.quantile(big, qs) if weights is None else weighted_quantiles(big[:, None], weights, qs)[:, 0]
    lo, mid, hi = (math.inf if x >= 1e299 else -math.inf if x <= -1e299 else float(x) for x in found)
    return lo, mid, hi


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: list[float]) -> np.ndarray:
    """Column-wise weighted quantiles of ``values`` (rows: replicates) at levels ``qs``; shape ``(len(qs), columns)``.

    The weighted empirical distribution with each replicate's mass centred on its value
    (Hazen plotting positions), interpolated linearly; with equal weights it is the usual
    sample quantile up to a plotting-position convention.
    """
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    order = np.argsort(v, axis=0)
    vs = np.take_along_axis(v, order, axis=0)
    ws = w[order]
    ws = ws / ws.sum(axis=0, keepdims=True)
    pos = np.cumsum(ws, axis=0) - 0.5 * ws
    out = np.empty((len(qs), v.shape[1]))
    cols = np.arange(v.shape[1])
    n = v.shape[0]
    for i, q in enumerate(qs):
        j = np.clip((pos < q).sum(axis=0), 1, n - 1)
        p0, p1 = pos[j - 1, cols], pos[j, cols]
        v0, v1 = vs[j - 1, cols], vs[j, cols]
        frac = np.clip(np.divide(q - p0, p1 - p0, out=np.zeros_like(p0), where=p1 > p0), 0.0, 1.0)
        out[i] = np.where(q <= pos[0, cols], vs[0, cols], np.where(q >= pos[-1, cols], vs[-1, cols], v0 + frac * (v1 - v0)))
    return out


@dataclass(frozen=True, eq=False)
class Draws:
    """Bootstrap replicates of one candidate model and the weight of that model in the intervals.

    ``theta`` holds one replicate per row (the family's parameters first); every replicate
    of the block carries ``weight / rows``.
    """

    name: str
    family: RecoveryFamily
    theta: np.ndarray
    weight: float


@dataclass(frozen=True, eq=False)
class Diagnostics:
    """Goodness-of-fit material for the report's appendix.

    Attributes
    ----------
    observed_vs_fitted : polars.DataFrame
        Reports: per bin, observed exact counts, windowed reports allocated by the fit,
        fitted counts and Pearson residuals. Restorations: the nonparametric S beside the
        fitted one. Online fraction: observed and fitted series.
    residuals : polars.DataFrame
        ``minutes`` and a standardised ``residual`` (for the residual plot).
    ks_statistic, ks_pvalue : float
        Time-rescaling test (reports): rescaled inter-report times against Exp(1).
    ks_band : float
        Half-width of the KS band at the fit's level for the uniform Q–Q plot.
    rescaled_times : numpy.ndarray
        Sorted u_i = 1 − exp(−τ_i) of the rescaled inter-arrival times τ_i (uniform if the
        model is right); empty when not applicable.
    note : str
        What was done (e.g. ties spread within the clock resolution, windowed reports left out).
    """

    observed_vs_fitted: pl.DataFrame
    residuals: pl.DataFrame
    ks_statistic: float = math.nan
    ks_pvalue: float = math.nan
    ks_band: float = math.nan
    rescaled_times: np.ndarray = field(default_factory=lambda: np.empty(0))
    note: str = ""


class Headlines:
    """``t50``, ``t90``, ``t99`` from a fit's ``quantile(p)``: one definition for every kind of fit."""

    def quantile(self, p: float) -> Estimate:
        """Minutes after onset at which a share ``p`` is restored (each fit says how)."""
        raise NotImplementedError

    @property
    def t50(self) -> Estimate:
        """Minutes after onset to 50% restored."""
        return self.quantile(0.5)

    @property
    def t90(self) -> Estimate:
        """Minutes after onset to 90% restored."""
        return self.quantile(0.9)

    @property
    def t99(self) -> Estimate:
        """Minutes after onset to 99% restored."""
        return self.quantile(0.99)


@dataclass(frozen=True, eq=False)
class RecoveryFit(Headlines):
    """A fitted recovery curve S(t) with bootstrap uncertainty (times in minutes after onset, UTC).

    Built by :func:`fit_down_reports`, :func:`fit_restorations` and
    :func:`fit_online_fraction`; not meant to be constructed by hand.

    Every headline number is the median of a function of S over the bootstrap replicates,
    with the percentile interval of the same function (:func:`percentile_summary`); the
    maximum-likelihood value of the reported model (``model``, ``theta``) is
    :meth:`point`. ``draws``
    holds those replicates, possibly of several candidate models, each weighted by its
    model weight (a model-averaged interval that carries the uncertainty of the model
    choice); ``theta_boot`` the reported model's own replicates (for its parameter
    ``summary``). Durations after onset have the ends beyond the end of observation
    flagged (:meth:`Estimate.capped`). ``verdict`` is a short plain-language note on
    what the data can and cannot tell (overdispersion, model uncertainty, a delay that is
    not identified); ``identifiability`` the numbers behind it.
    """

    kind: str
    model: str
    family: RecoveryFamily
    theta: np.ndarray
    theta_boot: np.ndarray
    param_names: tuple[str, ...]
    level: float
    onset: dt.datetime
    onset_source: str
    onset_ci: tuple[dt.datetime, dt.datetime] | None
    end: dt.datetime | None
    timezone: str
    candidates: pl.DataFrame
    interval_method: str
    log_likelihood: float
    aic: float
    n_observations: float
    diagnostics: Diagnostics | None = None
    sensitivity: pl.DataFrame | None = None
    nonparametric: pl.DataFrame | None = None
    data_quality: pl.DataFrame | None = None
    notes: tuple[str, ...] = ()
    n_boot_failed: int = 0
    timings: Mapping[str, float] = field(default_factory=dict)
    draws: tuple[Draws, ...] = ()
    dispersion: float = 1.0
    verdict: str = ""
    identifiability: Mapping[str, Any] = field(default_factory=dict)
    switch: Callable[[str], RecoveryFit] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ plumbing
    @property
    def _k(self) -> int:
        return self.family.n_params

    def _blocks(self, averaged: bool) -> list[tuple[RecoveryFamily, np.ndarray, float]]:
        if averaged and self.draws:
            return [(d.family, d.theta[:, : d.family.n_params], d.weight) for d in self.draws if d.theta.shape[0]]
        return [(self.family, self.theta_boot[:, : self._k], 1.0)] if self.theta_boot.shape[0] else []

    def replicate_blocks(self) -> list[tuple[RecoveryFamily, np.ndarray, float]]:
        """The bootstrap replicates behind the headline numbers: ``(family, parameters, weight)`` per model."""
        return self._blocks(True)

    def replicates(self, fn: Callable[[RecoveryFamily, np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Values of ``fn(family, parameters)`` over the headline replicates (rows) and each one's weight."""
        return self._replicates(fn, True)

    def _replicates(
        self, fn: Callable[[RecoveryFamily, np.ndarray], np.ndarray], averaged: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Values of ``fn`` over the replicates (rows) and each replicate's weight."""
        vals, wts = [], []
        for fam, th, w in self._blocks(averaged):
            v = np.asarray(fn(fam, th), dtype=float)
            v = v.reshape(th.shape[0], -1)
            vals.append(v)
            wts.append(np.full(th.shape[0], w / th.shape[0]))
        if not vals:
            return np.empty((0, 1)), np.empty(0)
        return np.concatenate(vals, axis=0), np.concatenate(wts)

    def _estimate(
        self, fn: Callable[[RecoveryFamily, np.ndarray], np.ndarray], *, averaged: bool = True, cap: bool = False
    ) -> Estimate:
        """The median and percentile interval of ``fn`` over the replicates (the MLE value when there are none)."""
        reps, w = self._replicates(fn, averaged)
        lo, mid, hi = math.nan, math.nan, math.nan
        if reps.shape[0]:
            single = len(self._blocks(averaged)) == 1
            lo, mid, hi = percentile_summary(reps[:, 0], self.level, None if single else w)
        if math.isnan(mid):
            mid = self.point(fn)
        est = Estimate(mid, lo, hi)
        return est.capped(self.horizon_minutes) if cap else est

    def point(self, fn: Callable[[RecoveryFamily, np.ndarray], np.ndarray]) -> float:
        """``fn`` at the maximum-likelihood parameters of the reported model (not the headline median)."""
        return float(np.asarray(fn(self.family, self.theta[: self._k])).reshape(-1)[0])

    @property
    def horizon_minutes(self) -> float:
        """End of observation in minutes after onset (inf when unknown)."""
        return (self.end - self.onset).total_seconds() / 60.0 if self.end is not None else math.inf

    def time_at(self, minutes: float) -> dt.datetime | None:
        """Return the UTC time ``minutes`` after onset (None when not finite)."""
        if not math.isfinite(minutes) or abs(minutes) > 60 * 24 * 365 * 50:
            return None  # beyond any date: an extrapolation, not a time
        return self.onset + dt.timedelta(minutes=minutes)

    # ------------------------------------------------------------------ model choice
    def with_model(self, name: str) -> RecoveryFit:
        """Return the fit reported under another already-fitted candidate ``name``, with its own intervals.

        The intervals of the returned fit are conditional on that family (its own bootstrap,
        with the same allowance for overdispersion); the default fit's intervals also carry
        the uncertainty of the model choice.

        Raises
        ------
        ParameterError
            ``name`` is not among the candidates that were fitted.
        FitError
            The candidate did not converge.
        """
        if not isinstance(name, str):
            raise ParameterError(f"model: expected a family name, got {type(name).__name__}")
        label = name.strip().lower()
        names = self.candidates["family"].to_list() if "family" in self.candidates.columns else []
        if label not in names:
            raise ParameterError(f"model: {name!r} is not among the fitted candidates ({', '.join(names)})")
        row = self.candidates.filter(pl.col("family") == label).row(0, named=True)
        if not row["converged"]:
            raise FitError(f"model: candidate {label!r} did not converge; choose another ({self.model} was chosen)")
        if self.switch is None:
            raise FitError("model: this fit keeps no candidates to switch to")
        return self.switch(label)

    # ------------------------------------------------------------------ headline numbers
    def quantile(self, p: float) -> Estimate:
        """Minutes after onset by which a fraction ``p`` of affected customers is restored (ends past the end of observation flagged)."""
        if not 0 < p < 1:
            raise ParameterError(f"p (fraction restored) must be in (0, 1), got {p}")
        return self._estimate(lambda fam, th: fam.quantile(p, th), cap=True)

    def extrapolated(self, p: float) -> bool:
        """Tell whether the estimated time to ``p`` restored lies beyond the end of observation."""
        return self.quantile(p).value > self.horizon_minutes

    @property
    def mean_outage_minutes(self) -> Estimate:
        """Mean outage per affected customer, ∫₀^∞ S(t) dt (the CAIDI analogue), in minutes (ends past the end flagged)."""
        return self._estimate(lambda fam, th: fam.mean(th), cap=True)

    def restricted_mean_minutes(self, horizon_minutes: float | None = None) -> Estimate:
        """∫₀^h S(t) dt: mean outage counted only up to ``h`` (default: end of observation)."""
        h = self.horizon_minutes if horizon_minutes is None else float(horizon_minutes)
        if not (h > 0 and math.isfinite(h)):
            raise ParameterError(f"horizon_minutes must be a positive finite number, got {horizon_minutes}")
        grid = np.linspace(0.0, h, 2001)
        return self._estimate(lambda fam, th: np.trapezoid(fam.sf(grid, th), grid, axis=-1))

    @property
    def tail_fraction(self) -> Estimate:
        """Share of affected customers in the slow tail (NaN when the model has no tail; interval from this model)."""
        if not self.family.has_tail:
            return Estimate.nan()
        return self._estimate(lambda fam, th: fam.tail_fraction(th), averaged=False)

    def survival(self, t_minutes: Any) -> np.ndarray:
        """Fitted S at ``t_minutes`` after onset."""
        return self.family.sf(np.asarray(t_minutes, dtype=float), self.theta[: self._k])

    def survival_band(self, t_minutes: Any) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise bootstrap interval (low, high) of S at ``t_minutes`` (model-averaged like the headline numbers)."""
        _, lo, hi = self.survival_curve(t_minutes)
        return lo, hi

    def survival_curve(self, t_minutes: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pointwise median, low and high of S at ``t_minutes`` over the replicates of the headline numbers.

        The median curve is the one to draw beside the headline numbers: S is decreasing in
        every replicate, so the median curve crosses 1 − p exactly at the median of the
        replicates' times to p restored (the headline t50, t90, t99) and passes through the
        headline share still out at each announcement. Without replicates it is the
        reported model's curve with a NaN band.
        """
        t = np.asarray(t_minutes, dtype=float)
        reps, w = self._replicates(lambda fam, th: fam.sf(t.reshape(-1), th), True)
        if reps.shape[0] < 10:
            nan = np.full(t.shape, np.nan)
            return self.survival(t), nan, nan
        qs = [(1 - self.level) / 2, 0.5, (1 + self.level) / 2]
        if len(self._blocks(True)) == 1:
            lo, mid, hi = np.quantile(reps, qs, axis=0)
        else:
            lo, mid, hi = weighted_quantiles(reps, w, qs)
        return mid.reshape(t.shape), lo.reshape(t.shape), hi.reshape(t.shape)

    def still_affected(self, t: dt.datetime) -> Estimate:
        """Share of affected customers still without service at time ``t`` (e.g. an announcement)."""
        minutes = (to_utc(t, "t") - self.onset).total_seconds() / 60.0
        if minutes <= 0:
            return Estimate(1.0, 1.0, 1.0)
        return self._estimate(lambda fam, th: fam.sf(np.array([minutes]), th))

    def customer_hours_lost(self, n_affected: int) -> Estimate:
        """n_affected × mean outage, in customer-hours."""
        if isinstance(n_affected, bool) or not isinstance(n_affected, int | np.integer) or n_affected <= 0:
            raise ParameterError(f"n_affected must be a positive integer, got {n_affected!r}")
        return self.mean_outage_minutes.scaled(int(n_affected) / 60.0)

    # ------------------------------------------------------------------ tables and metrics
    @property
    def summary(self) -> pl.DataFrame:
        """Parameters of the reported model (S, then nuisance) with bootstrap intervals from its own replicates."""
        rows = []
        for i, name in enumerate(self.param_names):
            reps = self.theta_boot[:, i] if self.theta_boot.shape[0] else np.empty(0)
            lo, hi = percentile_interval(reps, self.level)
            rows.append({"parameter": name, "estimate": float(self.theta[i]), "low": lo, "high": hi})
        return pl.DataFrame(rows, schema={"parameter": pl.String, "estimate": pl.Float64, "low": pl.Float64, "high": pl.Float64})

    def to_metrics(self) -> dict[str, Any]:
        """Return the ``recovery`` block of metrics.json (DESIGN.md), JSON-ready (no NaN: null).

        Interval ends beyond the end of observation are given as the end of observation and
        flagged: ``t50_upper_extrapolated`` etc.; ``t50_extrapolated`` says the estimate
        itself lies beyond it; ``mean_outage_minutes_extrapolated`` that the mean outage or
        its upper end does.
        """
        out: dict[str, Any] = {"model": self.model, "level": self.level, "kind": self.kind}
        for p, key in ((0.5, "t50"), (0.9, "t90"), (0.99, "t99")):
            e = self.quantile(p)
            out[f"{key}_minutes"] = _json(e.value)
            out[f"{key}_minutes_ci"] = e.interval
            t = self.time_at(e.value) if math.isfinite(e.value) else None
            out[key] = iso_local(t, self.timezone) if t else None
            ci = [self.time_at(x) if x is not None else None for x in e.interval]
            out[f"{key}_ci"] = [iso_local(c, self.timezone) if c else None for c in ci]
            out[f"{key}_extrapolated"] = bool(math.isfinite(e.value) and e.value > self.horizon_minutes)
            out[f"{key}_upper_extrapolated"] = bool(e.high_beyond)
        m = self.mean_outage_minutes
        out["mean_outage_minutes"] = _json(m.value)
        out["mean_outage_minutes_ci"] = m.interval
        out["mean_outage_minutes_extrapolated"] = bool(
            m.high_beyond or (math.isfinite(m.value) and m.value > self.horizon_minutes)
        )
        tf = self.tail_fraction
        out["tail_fraction"] = _json(tf.value)
        out["tail_fraction_ci"] = tf.interval
        out["aic"] = _json(self.aic)
        out["log_likelihood"] = _json(self.log_likelihood)
        out["n_observations"] = _json(self.n_observations)
        out["onset"] = iso_local(self.onset, self.timezone)
        out["onset_source"] = self.onset_source
        out["onset_ci"] = [iso_local(t, self.timezone) for t in self.onset_ci] if self.onset_ci else None
        out["interval_method"] = self.interval_method
        out["dispersion"] = _json(self.dispersion)
        out["verdict"] = self.verdict
        out["identifiability"] = dict(self.identifiability)
        return out

    def __repr__(self) -> str:
        return (
            f"<RecoveryFit {self.kind} model={self.model} t50={self.t50:.4g} t90={self.t90:.4g} min "
            f"(level {self.level:g}, {self.interval_method})>"
        )


def innovation_diagnostics(
    observed_vs_fitted: pl.DataFrame, *, dt: np.ndarray, sigma: float, tau: float, level: float, note: str
) -> Diagnostics:
    """Diagnostics of a series fitted with Ornstein–Uhlenbeck errors: its standardised innovations.

    ``observed_vs_fitted`` holds ``minutes`` and ``residual`` (observed − fitted) per reading,
    ``dt`` the minutes between readings; under the model the innovations are N(0, 1), so
    they are tested against it (KS) and plotted as the residuals.
    """
    t = observed_vs_fitted["minutes"].to_numpy()
    r = observed_vs_fitted["residual"].to_numpy()
    rho = np.exp(-dt / tau)
    z = np.concatenate([[r[0] / sigma], (r[1:] - rho * r[:-1]) / (sigma * np.sqrt(1 - rho**2))])
    res = stats.kstest(z, "norm")
    return Diagnostics(
        observed_vs_fitted=observed_vs_fitted,
        residuals=pl.DataFrame({"minutes": t, "residual": z}),
        ks_statistic=float(res.statistic),
        ks_pvalue=float(res.pvalue),
        ks_band=float(stats.kstwo.ppf(level, z.size)),
        note=note,
    )
