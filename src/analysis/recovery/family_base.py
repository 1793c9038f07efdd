"""The base of the recovery families: :class:`RecoveryFamily` and the censored data it fits.

The concrete families and the ``FAMILIES`` registry live in :mod:`analysis.recovery.families`.

A family is a small declarative class: its parameter names, their bounds, and its survival
function written once in the class docstring and once in numpy. The base class
:class:`RecoveryFamily` turns that into everything else: the optional restoration delay,
quantiles, the mean outage, the censored log-likelihood (exact, right- and
interval-censored, with weights), maximum-likelihood fitting with ``fit()`` returning
``self``, Wald intervals from the observed information, a polars ``summary``, AIC, AICc and
BIC.

Conventions (all families)
--------------------------
* ``t`` is in minutes after onset; S(t) is the fraction of affected customers still without
  service; ``quantile(p)`` is the time by which a fraction ``p`` is restored, S(t) = 1 − p.
* Parameters are stored in a vector ``theta`` in the order of ``param_names``, followed by
  ``delay_`` when the family is built with ``delay=True``: nothing is restored before
  ``delay_`` minutes, then S(t) = S₀(t − delay_).
* The first parameter is the scale (or log-scale location); the others are shape. Stratified
  fits with partial pooling share the shape and let the scale differ by group.
* Every method accepts ``theta`` of shape ``(k,)`` or ``(B, k)`` (B bootstrap replicates);
  with ``(B, k)`` the result gains a leading axis of length B.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from analysis.errors import FitError, ParameterError
from analysis.recovery._optim import maximize, wald_covariance
from analysis.recovery.bounds import from_free, to_free

if TYPE_CHECKING:
    import polars as pl

INF = math.inf
# a family's weighted derivatives (:meth:`RecoveryFamily._sf_parts`): weights V → ([Σ V·∂S₀/∂p], Σ V·∂S₀/∂t)
SfVjp = Callable[[np.ndarray], tuple[list[np.ndarray], np.ndarray]]
_LOG_TINY = -745.0  # log of the smallest positive double: survival below this is treated as 0
# exp() of an argument below about −708 returns a subnormal number (or 0), which x86 CPUs
# compute tens of times more slowly than a normal one; survival below e^−700 ≈ 1e−304 is
# set to 0 instead (no count, sum or log-likelihood can tell the difference)
_EXP_FLOOR = -700.0


def _exp(x: Any, *, inplace: bool = False) -> np.ndarray:
    """exp(x) with results below e^−700 set to 0 (see ``_EXP_FLOOR``): survival values without the slow path.

    ``inplace``: ``x`` is a temporary float array that may be overwritten with the result.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 0:
        return _exp(x.reshape(1))[0]
    small = x < _EXP_FLOOR
    out = np.maximum(x, _EXP_FLOOR, out=x if inplace else None)
    np.exp(out, out=out)
    if small.any():
        np.copyto(out, 0.0, where=small)
    return out


def _rowdot(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Σ over the last axis of v·x, one value per row (``(B,)``)."""
    return np.einsum("bn,bn->b", v, np.broadcast_to(x, v.shape))


def _col(p: Any) -> Any:
    """A parameter column ``(B, 1)`` as ``(B,)`` (scalars unchanged)."""
    return p[:, 0] if np.ndim(p) == 2 else p


def _full(x: np.ndarray, *args: Any) -> np.ndarray:
    """``x`` broadcast to the shape of ``x`` and ``args`` together, as a new array when it has to grow."""
    shape = np.broadcast(x, *args).shape
    if isinstance(x, np.ndarray) and x.shape == shape and x.ndim:
        return x
    return np.array(np.broadcast_to(x, shape), dtype=float)


# --------------------------------------------------------------------------- censored data


@dataclass(frozen=True)
class CensoredData:
    """Restoration times in minutes after onset, by kind of observation, with weights.

    ``exact``: restored at that time. ``right``: still down at that time. ``lower``/``upper``:
    restored within (lower, upper]; ``lower = 0`` is left censoring.
    """

    exact: np.ndarray
    exact_w: np.ndarray
    right: np.ndarray
    right_w: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    interval_w: np.ndarray

    @property
    def n(self) -> float:
        """Total weight (number of customers)."""
        return float(self.exact_w.sum() + self.right_w.sum() + self.interval_w.sum())

    @property
    def n_events(self) -> float:
        """Weight of customers whose restoration is known to have happened (exact or interval)."""
        return float(self.exact_w.sum() + self.interval_w.sum())

    def typical_time(self) -> float:
        """Return a robust time scale (minutes) for starting values: weighted median of known times."""
        parts = [self.exact, np.where(np.isfinite(self.upper), 0.5 * (self.lower + self.upper), self.lower), self.right]
        weights = [self.exact_w, self.interval_w, self.right_w]
        t = np.concatenate(parts)
        w = np.concatenate(weights)
        ok = np.isfinite(t) & (t > 0) & (w > 0)
        if not ok.any():
            return 60.0
        order = np.argsort(t[ok])
        cw = np.cumsum(w[ok][order])
        return float(t[ok][order][np.searchsorted(cw, 0.5 * cw[-1])])

    def delay_upper(self) -> float:
        """Largest delay compatible with the data: no restoration can precede a known one."""
        cands = [self.exact[self.exact_w > 0], self.upper[(self.interval_w > 0) & np.isfinite(self.upper)]]
        c = np.concatenate(cands)
        return float(c.min()) if c.size else INF

    @classmethod
    def build(
        cls,
        *,
        exact: Any = (),
        right: Any = (),
        lower: Any = (),
        upper: Any = (),
        exact_w: Any = None,
        right_w: Any = None,
        interval_w: Any = None,
    ) -> CensoredData:
        """Build from array-likes, checking lengths, finiteness and order."""

        def arr(x: Any) -> np.ndarray:
            return np.atleast_1d(np.asarray(x, dtype=float))

        e, r, lo, up = arr(exact), arr(right), arr(lower), arr(upper)
        ew = np.ones_like(e) if exact_w is None else arr(exact_w)
        rw = np.ones_like(r) if right_w is None else arr(right_w)
        iw = np.ones_like(lo) if interval_w is None else arr(interval_w)
        for name, v, w in (("exact", e, ew), ("right", r, rw), ("interval", lo, iw)):
            if v.shape != w.shape:
                raise ParameterError(f"{name} times and their weights differ in length ({v.size} vs {w.size})")
            if np.any(~np.isfinite(w)) or np.any(w < 0):
                raise ParameterError(f"{name} weights must be finite and >= 0")
        if lo.shape != up.shape:
            raise ParameterError(f"interval lower and upper bounds differ in length ({lo.size} vs {up.size})")
        if np.any(~np.isfinite(e)) or np.any(e < 0) or np.any(~np.isfinite(r)) or np.any(r < 0):
            raise ParameterError("exact and right-censored times must be finite and >= 0 minutes")
        if np.any(~np.isfinite(lo)) or np.any(lo < 0) or np.any(np.isnan(up)) or np.any(up < lo):
            raise ParameterError("interval bounds must satisfy 0 <= lower <= upper (upper may be inf)")
        # an interval of zero width is an exact observation; an unbounded one is right-censored
        point = up == lo
        unbounded = np.isinf(up)
        e = np.concatenate([e, lo[point]])
        ew = np.concatenate([ew, iw[point]])
        r = np.concatenate([r, lo[unbounded & ~point]])
        rw = np.concatenate([rw, iw[unbounded & ~point]])
        keep = ~point & ~unbounded
        return cls(e, ew, r, rw, lo[keep], up[keep], iw[keep])


# --------------------------------------------------------------------------- transforms


# --------------------------------------------------------------------------- base class


class RecoveryFamily:
    """Base class of the recovery-curve families (lifelines' ``ParametricUnivariateFitter`` shape).

    Subclasses declare ``name``, ``param_names``, ``bounds`` and implement ``_log_sf`` and
    ``_log_pdf`` (and, when they have closed forms, ``_sf``, ``_isf`` and ``_mean``). The
    base class adds the optional delay, the censored likelihood, fitting and the fitted
    attributes. ``_sf`` is S₀ itself, computed directly: the report likelihoods evaluate S on
    every bin for every bootstrap replicate, where the round trip exp(log S) would double
    the cost; ``_log_sf`` serves the censored likelihoods, whose log S must not underflow.

    Parameters
    ----------
    delay : bool
        Add a restoration delay ``delay_`` (minutes): S(t) = 1 for t < delay_, then
        S₀(t − delay_).
    level : float
        Confidence level of the Wald intervals in :attr:`summary` (0.9 by default).

    Attributes
    ----------
    params_ : dict[str, float]
        Fitted parameters by name (also set as attributes, e.g. ``lambda_``).
    log_likelihood_ : float
        Maximised log-likelihood (natural log; density for exact observations, survival for
        right-censored, S(L) − S(R) for interval-censored).
    AIC_, AICc_, BIC_ : float
        Information criteria, 2k − 2ℓ and its small-sample and Bayesian variants.
    variance_matrix_ : numpy.ndarray
        Covariance of the parameters (natural scale, delta method from the observed
        information on the free scale).
    """

    name: ClassVar[str] = ""
    param_names: ClassVar[tuple[str, ...]] = ()
    bounds: ClassVar[tuple[tuple[float, float], ...]] = ()
    has_tail: ClassVar[bool] = False

    def __init__(self, *, delay: bool = False, level: float = 0.9) -> None:
        if not 0 < level < 1:
            raise ParameterError(f"level must be in (0, 1), got {level}")
        self.delay = bool(delay)
        self.level = float(level)
        self.delay_upper = INF

    # ------------------------------------------------------------------ declarative pieces

    def _log_sf(self, t: np.ndarray, *p: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _log_pdf(self, t: np.ndarray, *p: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sf(self, t: np.ndarray, *p: Any) -> np.ndarray:
        """S₀(t) for t > 0: exp(log S₀) unless a subclass computes it directly."""
        return _exp(self._log_sf(t, *p))

    def _isf(self, q: np.ndarray, *p: Any) -> np.ndarray:
        """Time t with S₀(t) = q; numerical (bisection on log t) unless a subclass knows better."""
        q = np.asarray(q, dtype=float)
        shape = np.broadcast_shapes(q.shape, *(np.shape(x) for x in p))
        q = np.broadcast_to(q, shape)
        target = np.log(np.clip(q, 1e-300, 1.0))
        lo = np.full(shape, -20.0)
        hi = np.full(shape, 1.0)
        for _ in range(80):  # expand until S(hi) <= q
            s = self._log_sf(np.exp(hi), *p)
            grow = s > target
            if not grow.any():
                break
            hi = np.where(grow, hi + 2.0, hi)
        for _ in range(70):
            mid = 0.5 * (lo + hi)
            s = self._log_sf(np.exp(mid), *p)
            lo = np.where(s > target, mid, lo)
            hi = np.where(s > target, hi, mid)
        out = np.exp(0.5 * (lo + hi))
        return np.where(q >= 1.0, 0.0, np.where(q <= 0.0, INF, out))

    def _mean(self, *p: Any) -> np.ndarray:
        """∫₀^∞ S₀(t) dt; numerical on a log grid unless a subclass knows the closed form."""
        p = np.broadcast_arrays(*p)
        scale = self._isf(np.full(p[0].shape, 0.5), *p)
        x = np.linspace(-12, 12, 2401)
        t = np.exp(x)[..., :] * np.asarray(scale)[..., None]
        s = np.exp(self._log_sf(t, *(np.asarray(v)[..., None] for v in p)))
        return np.trapezoid(s * t, x, axis=-1)

    def _start(self, scale: float) -> list[float]:  # pragma: no cover - abstract
        """Natural-scale starting values for a data time scale ``scale`` (minutes)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ parameter handling

    @property
    def all_param_names(self) -> tuple[str, ...]:
        """Parameter names including ``delay_`` when present."""
        return (*self.param_names, "delay_") if self.delay else self.param_names

    @property
    def n_params(self) -> int:
        """Number of free parameters of S (including the delay)."""
        return len(self.all_param_names)

    @property
    def label(self) -> str:
        """Candidate name, e.g. ``"weibull+delay"``."""
        return f"{self.name}+delay" if self.delay else self.name

    def param_bounds(self) -> list[tuple[float, float]]:
        """Bounds of every parameter (the delay's upper bound may depend on the data)."""
        b = list(self.bounds)
        if self.delay:
            b.append((0.0, self.delay_upper))
        return b

    def to_free(self, theta: np.ndarray) -> np.ndarray:
        """Natural parameters → unconstrained vector used by the optimiser."""
        theta = np.asarray(theta, dtype=float)
        return np.stack([to_free(theta[..., i], lo, hi) for i, (lo, hi) in enumerate(self.param_bounds())], axis=-1)

    def from_free(self, u: np.ndarray) -> np.ndarray:
        """Unconstrained vector → natural parameters."""
        u = np.asarray(u, dtype=float)
        return np.stack([from_free(u[..., i], lo, hi) for i, (lo, hi) in enumerate(self.param_bounds())], axis=-1)

    def start(self, scale: float, delay_fraction: float = 0.0) -> np.ndarray:
        """Return starting values (natural scale) for a data time scale ``scale`` in minutes."""
        base = self._start(max(float(scale), 1e-3))
        if self.delay:
            d = delay_fraction * scale
            if math.isfinite(self.delay_upper):
                d = min(d, 0.5 * self.delay_upper)
            base.append(max(d, 1e-3 * min(scale, self.delay_upper if math.isfinite(self.delay_upper) else scale)))
        return np.asarray(base, dtype=float)

    def _split(self, theta: np.ndarray) -> tuple[tuple[Any, ...], Any]:
        """Family parameters and delay, shaped to broadcast against a trailing time axis."""
        theta = np.asarray(theta, dtype=float)
        if theta.ndim == 1:
            cols = tuple(theta[i] for i in range(theta.shape[0]))
        else:
            cols = tuple(theta[:, i : i + 1] for i in range(theta.shape[1]))
        k = len(self.param_names)
        if len(cols) != self.n_params:
            raise ParameterError(f"{self.label} expects {self.n_params} parameters {self.all_param_names}, got {len(cols)}")
        d = cols[k] if self.delay else 0.0
        return cols[:k], d

    # ------------------------------------------------------------------ S and friends

    def log_sf(self, t: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Compute log S(t) at ``t`` minutes after onset (0 before the delay)."""
        return self._after_delay(self._log_sf, t, theta, 0.0)

    def _after_delay(self, fn: Callable[..., np.ndarray], t: np.ndarray, theta: np.ndarray, before: float) -> np.ndarray:
        """``fn`` (log S₀ or log f₀ of the family) at t − delay; ``before`` where t is not past the delay."""
        p, d = self._split(theta)
        t = np.asarray(t, dtype=float)
        tt = t - d
        pos = tt > 0
        safe = np.where(pos, tt, 1.0)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            out = fn(safe, *p)
        return np.where(pos, out, before)

    def sf(self, t: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """S(t): fraction still without service ``t`` minutes after onset (1 before the delay)."""
        p, d = self._split(theta)
        tt = np.array(np.asarray(t, dtype=float) - d, dtype=float, copy=None)
        before = tt <= 0
        np.copyto(tt, 1.0, where=before)  # any positive time: S₀ is computed there, then replaced by 1
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            out = _full(np.asarray(self._sf(tt, *p), dtype=float), before)
        if out is tt or not out.flags.writeable:
            out = out.copy()
        np.copyto(out, 1.0, where=before)
        return out if out.ndim else out[()]

    @property
    def has_sf_grad(self) -> bool:
        """Whether the family gives S's derivatives in closed form (:meth:`sf_vjp`)."""
        return type(self)._sf_parts is not RecoveryFamily._sf_parts

    def _sf_parts(self, t: np.ndarray, *p: Any) -> tuple[np.ndarray, SfVjp]:
        """S₀(t) and a function of weights V giving Σ V·∂S₀/∂p for each parameter, and Σ V·∂S₀/∂t."""
        raise NotImplementedError

    def sf_vjp(self, t: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """S(t) for parameter rows ``theta`` (``(B, k)``; ``t`` broadcasts against ``(B, 1)``) and its derivatives, weighted.

        Returns S ``(B, n)`` and a function of weights V ``(B, n)`` giving
        Σₙ V·∂S/∂θ ``(B, k)``, the delay included: before the delay S is 1 and every
        derivative 0, after it ∂S/∂delay = −∂S₀/∂t. The weighted sums are all a likelihood's
        gradient needs, and cost a few passes over S's terms instead of one array per
        parameter. Only for families with :attr:`has_sf_grad`.
        """
        p, d = self._split(np.atleast_2d(np.asarray(theta, dtype=float)))
        tt = _full(np.asarray(t, dtype=float) - d, d)
        if not tt.flags.writeable or tt is t:
            tt = tt.copy()
        before = tt <= 0
        np.copyto(tt, 1.0, where=before)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            s, parts = self._sf_parts(tt, *p)
        s = _full(s, before)
        if not s.flags.writeable:
            s = s.copy()
        np.copyto(s, 1.0, where=before)
        masked = before.any()

        def vjp(v: np.ndarray) -> np.ndarray:
            v = np.where(before, 0.0, v) if masked else np.asarray(v, dtype=float)
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                dp, dt = parts(v)
            cols = [*dp, -dt] if self.delay else list(dp)
            return np.stack([np.broadcast_to(np.ravel(c) if np.ndim(c) else c, (v.shape[0],)) for c in cols], axis=1)

        return s, vjp

    def sf_grad(self, t: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """S(t) and dS/dθ ``(k, B, n)`` at a few times ``t`` (``(B, n)``, n small), from :meth:`sf_vjp`."""
        t = np.atleast_2d(np.asarray(t, dtype=float))
        b, c = t.shape
        # one row per (parameter row, time): the weighted sums with unit weights are the derivatives
        rep = np.repeat(np.atleast_2d(np.asarray(theta, dtype=float)), c, axis=0)
        s, vjp = self.sf_vjp(t.reshape(-1, 1), rep)
        out = vjp(np.ones((b * c, 1))).reshape(b, c, -1).transpose(2, 0, 1)
        return s.reshape(b, c), out

    def log_pdf(self, t: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Compute log f(t), the density of restoration times (−inf before the delay)."""
        return self._after_delay(self._log_pdf, t, theta, -INF)

    def quantile(self, p: float | np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Minutes after onset by which a fraction ``p`` of customers is restored (S = 1 − p)."""
        p = np.asarray(p, dtype=float)
        if np.any((p < 0) | (p > 1)):
            raise ParameterError(f"restored fraction p must be in [0, 1], got {p}")
        pars, d = self._split(theta)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return d + self._isf(1.0 - p, *pars)

    def mean(self, theta: np.ndarray) -> np.ndarray:
        """Mean outage per affected customer, ∫₀^∞ S(t) dt in minutes (inf if it diverges)."""
        pars, d = self._split(theta)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return d + self._mean(*pars)

    def tail_fraction(self, theta: np.ndarray) -> np.ndarray:
        """Fraction in the slow tail component (NaN for single-component families)."""
        theta = np.asarray(theta, dtype=float)
        if not self.has_tail:
            return np.full(theta.shape[:-1], np.nan)
        return theta[..., self.param_names.index("tail_fraction_")]

    # ------------------------------------------------------------------ censored likelihood

    def censored_loglik(self, theta: np.ndarray, data: CensoredData) -> float:
        """Σ w log f(exact) + Σ w log S(right) + Σ w log[S(L) − S(R)] (natural log)."""
        ll = 0.0
        if data.exact.size:
            ll += float(np.dot(data.exact_w, self.log_pdf(data.exact, theta)))
        if data.right.size:
            ll += float(np.dot(data.right_w, self.log_sf(data.right, theta)))
        if data.lower.size:
            a = self.log_sf(data.lower, theta)
            b = self.log_sf(data.upper, theta)
            with np.errstate(divide="ignore", invalid="ignore"):
                ll += float(np.dot(data.interval_w, a + np.log(-np.expm1(np.minimum(b - a, 0.0)))))
        return ll if math.isfinite(ll) else -INF

    # ------------------------------------------------------------------ lifelines-shaped fitting

    def fit(self, durations: Any, event_observed: Any = None, *, weights: Any = None) -> RecoveryFamily:
        """Fit to right-censored durations (minutes); ``event_observed`` false = still down.

        Returns ``self`` with the fitted attributes set (names ending in ``_``).
        """
        t = np.asarray(durations, dtype=float)
        e = np.ones_like(t, dtype=bool) if event_observed is None else np.asarray(event_observed, dtype=bool)
        w = np.ones_like(t) if weights is None else np.asarray(weights, dtype=float)
        if t.shape != e.shape or t.shape != w.shape:
            raise ParameterError("durations, event_observed and weights must have the same length")
        data = CensoredData.build(exact=t[e], exact_w=w[e], right=t[~e], right_w=w[~e])
        return self._fit_data(data)

    def fit_interval_censoring(self, lower_bound: Any, upper_bound: Any, *, weights: Any = None) -> RecoveryFamily:
        """Fit to interval-censored times: restored within (lower, upper] minutes; upper = inf is right-censored."""
        lo = np.asarray(lower_bound, dtype=float)
        up = np.asarray(upper_bound, dtype=float)
        data = CensoredData.build(lower=lo, upper=up, interval_w=weights)
        return self._fit_data(data)

    def _fit_data(self, data: CensoredData) -> RecoveryFamily:
        if data.n_events <= 0:
            raise FitError(f"{self.label}: no restoration observed (all right-censored); S cannot be fitted")
        self.delay_upper = data.delay_upper() if self.delay else INF
        scale = data.typical_time()
        starts = [self.start(s, 0.2) for s in (scale, 3 * scale, scale / 3)]
        res = maximize(lambda th: self.censored_loglik(th, data), self, starts)
        self._set_fitted(res.theta, res.loglik, res.converged, data.n, lambda th: self.censored_loglik(th, data))
        self.data_ = data
        return self

    def _set_fitted(self, theta: np.ndarray, loglik: float, converged: bool, n: float, fun: Any) -> None:
        self.theta_ = np.asarray(theta, dtype=float)
        self.params_ = MappingProxyType(dict(zip(self.all_param_names, map(float, self.theta_), strict=True)))
        for name, v in self.params_.items():
            setattr(self, name, v)
        k = self.n_params
        self.log_likelihood_ = float(loglik)
        self.converged_ = bool(converged)
        self.n_obs_ = float(n)
        self.AIC_ = 2 * k - 2 * loglik
        self.AICc_ = self.AIC_ + (2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else INF)
        self.BIC_ = k * math.log(n) - 2 * loglik if n > 0 else INF
        self.variance_matrix_ = wald_covariance(fun, self, self.theta_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "theta_"):
            raise FitError(f"{self.label} is not fitted yet: call fit() or fit_interval_censoring() first")

    @property
    def summary(self) -> pl.DataFrame:
        """Fitted parameters with standard errors and Wald intervals at ``level`` (polars)."""
        import polars as pl
        from scipy import stats

        self._check_fitted()
        z = stats.norm.ppf(0.5 + self.level / 2)
        se = np.sqrt(np.clip(np.diag(self.variance_matrix_), 0, None))
        lows, highs = [], []
        for est, s, (lo, hi) in zip(self.theta_, se, self.param_bounds(), strict=True):
            if not np.isfinite(s):
                lows.append(np.nan)
                highs.append(np.nan)
            elif math.isinf(hi) and lo == 0.0 and est > 0:  # log-scale interval keeps it positive
                lows.append(est * math.exp(-z * s / est))
                highs.append(est * math.exp(z * s / est))
            else:
                lows.append(max(est - z * s, lo))
                highs.append(min(est + z * s, hi))
        return pl.DataFrame(
            {
                "parameter": list(self.all_param_names),
                "estimate": self.theta_.tolist(),
                "se": se.tolist(),
                "low": lows,
                "high": highs,
            }
        )

    def survival_function_at_times(self, times: Any) -> np.ndarray:
        """Fitted S at ``times`` (minutes)."""
        self._check_fitted()
        return self.sf(np.asarray(times, dtype=float), self.theta_)

    @property
    def median_survival_time_(self) -> float:
        """Fitted time (minutes) by which half are restored."""
        self._check_fitted()
        return float(self.quantile(0.5, self.theta_))

    def __repr__(self) -> str:
        if hasattr(self, "theta_"):
            pars = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
            return f"<{type(self).__name__} {self.label}: {pars}; log-likelihood={self.log_likelihood_:.3f}>"
        return f"<{type(self).__name__} {self.label} (not fitted)>"
