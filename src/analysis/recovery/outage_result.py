"""The result of :func:`fit_customers_out`: crossings, restoration times, customer-hours, metrics.

Every number is computed on each bootstrap replicate (of several restoration families,
each replicate weighted by its family's AIC weight) and summarised by the median and the
equal-tailed percentiles (:func:`percentile_summary`), so a number lies inside its own
interval. Times are minutes after the onset unless a name says "after the peak".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from analysis.errors import FitError, ParameterError
from analysis.recovery._time import iso_local, to_utc
from analysis.recovery.families import RecoveryFamily
from analysis.recovery.outage_bridges import Bridges, blend_tails, bridges, decay_tails, end_decay, tail_scale
from analysis.recovery.outage_crossing import Crossing, CrossingSearch, _enough_readings, candidate_frame
from analysis.recovery.outage_model import (
    N_EXTRA,
    TAU_MAX,
    QueueCandidate,
    QueueEvidence,
    QueueGrid,
    bootstrap_family,
)
from analysis.recovery.outage_profile import ArrivalProfile, restoration_profiles, widen
from analysis.recovery.result import (
    Diagnostics,
    Estimate,
    Headlines,
    innovation_diagnostics,
    percentile_summary,
    weighted_quantiles,
)

RESTORATION_NOTE = (
    "model-based and weakly determined: a count of customers out does not say when each outage began, so how long "
    "each lasted trades off against how the outages arrived; the intervals span the arrival windows the series cannot "
    "exclude (arrival_spans_kept_minutes; _ci_given_arrivals: the fitted window's alone); the crossings (t50, t90) are "
    "what the series measures"
)
__all__ = ["EXTEND_MINUTES", "RESTORATION_NOTE", "Crossing", "CustomersOutFit", "Draw", "_enough_readings", "candidate_frame"]

EXTEND_MINUTES = 2880.0  # the crossing search runs this far (at least) past the window before extrapolating


@dataclass(frozen=True, eq=False)
class Draw:
    """Bootstrap replicates (full rows: S, t₀, scale, shape, τ, N, σ) of one family and its model weight."""

    name: str
    family: RecoveryFamily
    theta: np.ndarray
    weight: float


def _json(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


#: draws of the measured part per tail replicate in the customer-hours' sum
WINDOW_DRAWS = 20


@dataclass(frozen=True, eq=False)
class CustomersOutFit(CrossingSearch, Headlines):
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
    def restoration_quantile(self, p: float, *, profiled: bool = True) -> Estimate:
        """Minutes one customer's outage lasts at the ``p``-quantile of S (not the series crossing).

        ``profiled``: the interval also spans the arrival windows the series cannot exclude
        (:meth:`_profiled`); False: the bootstrap's, given the fitted arrival window.
        """
        if not 0 < p < 1:
            raise ParameterError(f"p must be in (0, 1), got {p}")
        return self._profiled(lambda fam, th: fam.quantile(p, th[:, : fam.n_params]), profiled).capped(self.horizon_minutes)

    @property
    def mean_outage_minutes(self) -> Estimate:
        """Mean outage per customer, ∫ S(t) dt, in minutes (interval over the arrival windows kept, :meth:`_profiled`)."""
        return self._profiled(lambda fam, th: fam.mean(th[:, : fam.n_params]), True).capped(self.horizon_minutes)

    def arrival_profiles(self) -> tuple[tuple[ArrivalProfile, ...], float]:
        """The families profiled over the arrival window's span, and the AIC/2 bound (:func:`outage_profile.restoration_profiles`)."""
        if "profiles" not in self._cache:
            self._cache["profiles"] = restoration_profiles(self.evidence, self.cands, level=self.level)
        return self._cache["profiles"]

    def _profiled(self, fn: Any, profiled: bool) -> Estimate:
        """``fn``'s bootstrap estimate, its interval widened over the arrival spans kept by the profile (:func:`outage_profile.widen`).

        The bootstrap holds the arrival window where the fit put it; a count of customers out
        cannot tell a short window of long outages from a long window of short ones.
        """
        est = self._estimate(fn)
        if not profiled or not self.draws:
            return est
        point = float(np.asarray(fn(self.family, self.theta[None, :]), dtype=float).reshape(-1)[0])
        vals = [pr.values(fn) for pr in self.arrival_profiles()[0]]
        return widen(est, point, np.concatenate(vals) if vals else np.empty(0), float(self._grid().u[-1]))

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

            out[key] = self._profiled(fn, True)
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
        return self.survival_curve(t_minutes)[1:]

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
        return bool(self.survival_curve(np.array([self.horizon_minutes]))[0][0] > 0.01 or self._end_level() > 0.01)

    def _end_level(self) -> float:
        """The readings' level at the window's end (share of the peak): the median of the last three."""
        y = self.evidence.y
        return float(np.median(y[-3:])) if y.size >= 3 else 0.0

    def _tail_scale(self, curves: list[np.ndarray]) -> np.ndarray:
        """Per replicate, the factor on the model's tail after the window (:func:`outage_bridges.tail_scale`)."""
        ends = np.concatenate([self._grid().at(m, np.array([self.horizon_minutes]))[:, 0] for m in curves])
        level = self._end_level()
        return tail_scale(ends, level, self.feed_noise().log_sd(level))

    def _tail_after(self, model: np.ndarray) -> np.ndarray:
        """Per replicate, the model's tail ``model`` averaged with the readings' last decline continued (:mod:`outage_bridges`)."""
        decay = end_decay(self.evidence.t, self.evidence.y, self.peak_minutes, self._end_level(), self._lag())
        rng = np.random.default_rng(self.seed + 3)
        return model if decay is None else blend_tails(model, decay_tails(decay, model.size, rng), rng)

    def customer_hours_lost(self, n_affected: int | None = None) -> Estimate:
        """Customer-hours without power over the whole event (``n_affected`` ignored: the series gives the count).

        The readings inside the window (holes crossed by competing bridges, :mod:`outage_bridges`)
        plus the tail after its end: the model's, scaled down to the readings' level there when
        clearly above it, averaged with the readings' last decline continued (:meth:`_tail_after`).
        The interval carries the feed's noise and the bridges' spread (:meth:`_window_draws`), the
        bootstrap and the two tails' spread. ``high_beyond`` (and ``low_beyond``): more than 1 % of
        the peak still out at the end, the total then rests on the extrapolation.
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
            tail = self._tail_after(np.maximum(totals[:, 0] - modelled, 0.0) * self._tail_scale(curves)) * self.peak_out / 60.0
            # every tail replicate with WINDOW_DRAWS draws of the measured part: the sum's
            # percentiles then do not hang on a hundred pairs
            both = np.repeat(tail, WINDOW_DRAWS) + self._window_draws(tail.size * WINDOW_DRAWS)
            est = self._summary(both, np.repeat(w, WINDOW_DRAWS) / WINDOW_DRAWS, float(np.median(both)))
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

        The integral of the used readings from the onset to the end, holes bridged
        (:meth:`_measured`), times a factor for the feed's noise and the bridges' spread
        (:meth:`window_noise_sd`).
        """
        measured = self._measured() * self.peak_out / 60.0
        rel = self.window_noise_sd()
        z = np.random.default_rng(self.seed).standard_normal(n)
        return measured * np.exp(rel * z - 0.5 * rel * rel)

    def window_noise_sd(self) -> float:
        """Relative SD of the customer-hours measured inside the window, from the feed's noise.

        The trapezoid integral of the readings is Σ wᵢ·yᵢ; each reading is off by a share
        of itself, the feed's noise at its level (:meth:`feed_noise`: level-proportional,
        measured in blocks with the curve's shape taken out), with the noise's memory τ
        between readings: Var = Σᵢⱼ wᵢyᵢsᵢ · wⱼyⱼsⱼ · e^(−|tᵢ − tⱼ|/τ) / (Σ wᵢyᵢ)², exact for
        that noise, weighted where the customers out are; plus the spread of the competing
        bridges across holes in the readings (:meth:`_hole_variance`).
        """
        if "window_sd" not in self._cache:
            t, y = self.evidence.t, self.evidence.y
            noise = self.feed_noise()
            w = np.zeros(t.size)
            if t.size > 1:
                d = np.diff(t)
                w[:-1] += 0.5 * d
                w[1:] += 0.5 * d
            mass = w * y
            v = w * noise.sd_peak * np.maximum(y, 0.0) ** noise.power  # wᵢ·yᵢ·sᵢ: the noise in customers
            kernel = np.exp(-np.abs(t[:, None] - t[None, :]) / max(noise.tau, 1e-9))
            total = float(mass.sum()) + self._bridges().shift
            var = max(float(v @ kernel @ v), 0.0) + self._hole_variance()
            self._cache["window_sd"] = math.sqrt(var) / total if total > 0 else 0.0
        return self._cache["window_sd"]

    def _bridges(self) -> Bridges:
        """The holes' competing bridges (:func:`outage_bridges.bridges`), from the model's maximum-likelihood curve."""
        if "bridges" not in self._cache:
            self._cache["bridges"] = bridges(self.evidence.t, self.evidence.y, self.step, self.survival)
        return self._cache["bridges"]

    def _hole_variance(self) -> float:
        """Variance (shares of the peak × minutes, squared) of the readings' integral across its holes: the bridges' spread."""
        return self._bridges().variance

    def _measured(self) -> float:
        """The readings' integral from the onset to the end (shares of the peak × minutes), holes bridged by the competing bridges' mean."""
        return float(np.trapezoid(self.evidence.y, self.evidence.t)) + self._bridges().shift

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
        times = [self.onset + dt.timedelta(minutes=float(m)) for m in ev.t]
        table = pl.DataFrame(
            {"observed_at": times, "minutes": ev.t, "observed": ev.y, "fitted": fit, "residual": r},
            schema_overrides={"observed_at": pl.Datetime("us", "UTC")},
        )
        note = "observed and fitted as shares of the peak; residual = standardised OU innovation, N(0, 1) if the model holds"
        return innovation_diagnostics(table, dt=ev.dt, sigma=sigma, tau=tau, level=self.level, note=note)

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
            rt[f"{key}_minutes_ci_given_arrivals"] = self.restoration_quantile(p, profiled=False).interval
        m = self.mean_outage_minutes
        rt["mean_minutes"] = _json(m.value)
        rt["mean_minutes_ci"] = m.interval
        rt["note"] = RESTORATION_NOTE
        profiles, bound = self.arrival_profiles() if self.draws else ((), math.nan)
        spans = np.concatenate([pr.spans[pr.kept] for pr in profiles]) if profiles else np.empty(0)
        rt["arrival_spans_kept_minutes"] = [float(spans.min()), float(spans.max())] if spans.size else None
        rt["profile_bound"] = _json(bound)
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
