"""Fitted recovery curves as result objects: headline numbers with intervals, curves, metrics.

:class:`RecoveryFit` is what every evidence-specific fitter returns. It keeps the chosen
family, its maximum-likelihood parameters and the bootstrap replicates, and derives every
headline number from them the same way: the value at the MLE, and the percentile interval
of the same function over the replicates.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from analysis.errors import ParameterError
from analysis.recovery._time import iso_local, to_utc
from analysis.recovery.families import RecoveryFamily


def _json(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


@dataclass(frozen=True)
class Estimate:
    """A number with its interval (``low``, ``high``); any of them may be NaN (unknown) or inf."""

    value: float
    low: float
    high: float

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
        """Return the estimate multiplied by ``factor``."""
        return Estimate(self.value * factor, self.low * factor, self.high * factor)

    def __format__(self, spec: str) -> str:
        spec = spec or ".3g"
        return f"{self.value:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """Equal-tailed percentile interval of bootstrap replicates; inf-safe, NaN if too few finite ones."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size < 10:
        return math.nan, math.nan
    big = np.where(np.isposinf(v), 1e300, np.where(np.isneginf(v), -1e300, v))
    lo, hi = np.quantile(big, [(1 - level) / 2, (1 + level) / 2])
    conv = [math.inf if x >= 1e299 else -math.inf if x <= -1e299 else float(x) for x in (lo, hi)]
    return conv[0], conv[1]


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


@dataclass(frozen=True, eq=False)
class RecoveryFit:
    """A fitted recovery curve S(t) with bootstrap uncertainty (times in minutes after onset, UTC).

    Built by :func:`fit_down_reports`, :func:`fit_restorations` and
    :func:`fit_online_fraction`; not meant to be constructed by hand.
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

    # ------------------------------------------------------------------ plumbing
    @property
    def _k(self) -> int:
        return self.family.n_params

    def _estimate(self, fn: Callable[[np.ndarray], np.ndarray]) -> Estimate:
        value = float(np.asarray(fn(self.theta[: self._k])).reshape(-1)[0])
        if self.theta_boot.shape[0] == 0:
            return Estimate(value, math.nan, math.nan)
        reps = np.asarray(fn(self.theta_boot[:, : self._k]), dtype=float).reshape(-1)
        lo, hi = percentile_interval(reps, self.level)
        return Estimate(value, lo, hi)

    @property
    def horizon_minutes(self) -> float:
        """End of observation in minutes after onset (inf when unknown)."""
        return (self.end - self.onset).total_seconds() / 60.0 if self.end is not None else math.inf

    def time_at(self, minutes: float) -> dt.datetime | None:
        """Return the UTC time ``minutes`` after onset (None when not finite)."""
        if not math.isfinite(minutes) or abs(minutes) > 60 * 24 * 365 * 50:
            return None  # beyond any date: an extrapolation, not a time
        return self.onset + dt.timedelta(minutes=minutes)

    # ------------------------------------------------------------------ headline numbers
    def quantile(self, p: float) -> Estimate:
        """Minutes after onset by which a fraction ``p`` of affected customers is restored."""
        if not 0 < p < 1:
            raise ParameterError(f"p (fraction restored) must be in (0, 1), got {p}")
        return self._estimate(lambda th: self.family.quantile(p, th))

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

    def extrapolated(self, p: float) -> bool:
        """Tell whether the estimated time to ``p`` restored lies beyond the end of observation."""
        return self.quantile(p).value > self.horizon_minutes

    @property
    def mean_outage_minutes(self) -> Estimate:
        """Mean outage per affected customer, ∫₀^∞ S(t) dt (the CAIDI analogue), in minutes."""
        return self._estimate(self.family.mean)

    def restricted_mean_minutes(self, horizon_minutes: float | None = None) -> Estimate:
        """∫₀^h S(t) dt: mean outage counted only up to ``h`` (default: end of observation)."""
        h = self.horizon_minutes if horizon_minutes is None else float(horizon_minutes)
        if not (h > 0 and math.isfinite(h)):
            raise ParameterError(f"horizon_minutes must be a positive finite number, got {horizon_minutes}")
        grid = np.linspace(0.0, h, 2001)
        return self._estimate(lambda th: np.trapezoid(self.family.sf(grid, th), grid, axis=-1))

    @property
    def tail_fraction(self) -> Estimate:
        """Share of affected customers in the slow tail (NaN when the model has no tail)."""
        if not self.family.has_tail:
            return Estimate.nan()
        return self._estimate(self.family.tail_fraction)

    def survival(self, t_minutes: Any) -> np.ndarray:
        """Fitted S at ``t_minutes`` after onset."""
        return self.family.sf(np.asarray(t_minutes, dtype=float), self.theta[: self._k])

    def survival_band(self, t_minutes: Any) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise bootstrap interval (low, high) of S at ``t_minutes``."""
        t = np.asarray(t_minutes, dtype=float)
        if self.theta_boot.shape[0] < 10:
            nan = np.full(t.shape, np.nan)
            return nan, nan
        s = self.family.sf(t.reshape(-1), self.theta_boot[:, : self._k])
        lo, hi = np.quantile(s, [(1 - self.level) / 2, (1 + self.level) / 2], axis=0)
        return lo.reshape(t.shape), hi.reshape(t.shape)

    def still_affected(self, t: dt.datetime) -> Estimate:
        """Share of affected customers still without service at time ``t`` (e.g. an announcement)."""
        minutes = (to_utc(t, "t") - self.onset).total_seconds() / 60.0
        if minutes <= 0:
            return Estimate(1.0, 1.0, 1.0)
        return self._estimate(lambda th: self.family.sf(np.array([minutes]), th))

    def customer_hours_lost(self, n_affected: int) -> Estimate:
        """n_affected × mean outage, in customer-hours."""
        if isinstance(n_affected, bool) or not isinstance(n_affected, int | np.integer) or n_affected <= 0:
            raise ParameterError(f"n_affected must be a positive integer, got {n_affected!r}")
        return self.mean_outage_minutes.scaled(int(n_affected) / 60.0)

    # ------------------------------------------------------------------ tables and metrics
    @property
    def summary(self) -> pl.DataFrame:
        """Parameters of the chosen model (S, then nuisance) with bootstrap intervals."""
        rows = []
        for i, name in enumerate(self.param_names):
            reps = self.theta_boot[:, i] if self.theta_boot.shape[0] else np.empty(0)
            lo, hi = percentile_interval(reps, self.level)
            rows.append({"parameter": name, "estimate": float(self.theta[i]), "low": lo, "high": hi})
        return pl.DataFrame(rows, schema={"parameter": pl.String, "estimate": pl.Float64, "low": pl.Float64, "high": pl.Float64})

    def to_metrics(self) -> dict[str, Any]:
        """Return the ``recovery`` block of metrics.json (DESIGN.md), JSON-ready (no NaN: null)."""
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
        m = self.mean_outage_minutes
        out["mean_outage_minutes"] = _json(m.value)
        out["mean_outage_minutes_ci"] = m.interval
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
        return out

    def __repr__(self) -> str:
        return (
            f"<RecoveryFit {self.kind} model={self.model} t50={self.t50:.4g} t90={self.t90:.4g} min "
            f"(level {self.level:g}, {self.interval_method})>"
        )
