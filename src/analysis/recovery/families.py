"""Parametric families for the recovery curve S(t), in the lifelines shape, and their registry.

Each family is a small declarative class on :class:`~analysis.recovery.family_base.RecoveryFamily`
(its parameter names, bounds and survival function); a new family is one class decorated
with :func:`register_family` (here, or in any module imported before the fit), which adds it
to ``FAMILIES``. The conventions shared by all families are in
:mod:`analysis.recovery.family_base`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
from scipy import special

from analysis.errors import ParameterError
from analysis.recovery.family_base import (
    _EXP_FLOOR,
    INF,
    CensoredData,
    RecoveryFamily,
    SfVjp,
    _col,
    _exp,
    _full,
    _rowdot,
)

__all__ = [
    "CANDIDATES",
    "FAMILIES",
    "INF",
    "_EXP_FLOOR",
    "CensoredData",
    "RecoveryFamily",
    "SfVjp",
    "_exp",
    "candidates",
    "make_family",
    "register_family",
    "resolve_candidates",
    "unregister_family",
]

_F = TypeVar("_F", bound=type[RecoveryFamily])
_REGISTERED: dict[str, type[RecoveryFamily]] = {}
#: Every registered family by name (a read-only view: :func:`register_family` adds to it).
FAMILIES: Mapping[str, type[RecoveryFamily]] = MappingProxyType(_REGISTERED)


def register_family(cls: _F) -> _F:
    """Add a family to ``FAMILIES`` (a class decorator): the fitters, ``families=`` and the report then know it.

    The name is lower-case without ``+`` (``"weibull+delay"`` is the family with a delay); a
    name already taken by another class is an error, registering the same class again is not.
    """
    name = cls.name
    if not name or name != name.strip().lower() or "+" in name:
        raise ParameterError(f"recovery family name {name!r}: lower case, without '+' or spaces around it")
    if _REGISTERED.get(name, cls) is not cls:
        raise ParameterError(f"recovery family {name!r} is already registered ({_REGISTERED[name].__name__})")
    if len(cls.bounds) != len(cls.param_names):
        raise ParameterError(f"recovery family {name!r}: one (low, high) bound per parameter")
    _REGISTERED[name] = cls
    return cls


def unregister_family(name: str) -> None:
    """Remove a family from ``FAMILIES`` (KeyError when it is not registered)."""
    del _REGISTERED[name]


# --------------------------------------------------------------------------- families


@register_family
class ExponentialFitter(RecoveryFamily):
    r"""Exponential recovery: S(t) = exp(−t/λ).

    ``lambda_`` (minutes) is the mean outage; restorations happen at a constant rate 1/λ
    whatever the time already spent without service.
    """

    name = "exponential"
    param_names = ("lambda_",)
    bounds = ((0.0, INF),)

    def _log_sf(self, t: np.ndarray, lam: Any) -> np.ndarray:
        return -t / lam

    def _sf(self, t: np.ndarray, lam: Any) -> np.ndarray:
        return _exp(np.negative(t) / lam, inplace=True)

    def _sf_parts(self, t: np.ndarray, lam: Any) -> tuple[np.ndarray, SfVjp]:
        s = _exp(np.negative(t) / lam, inplace=True)

        def parts(v: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
            vs = _rowdot(v, s)
            return [_rowdot(v, s * t) / _col(lam) ** 2], -vs / _col(lam)

        return s, parts

    def _log_pdf(self, t: np.ndarray, lam: Any) -> np.ndarray:
        return -np.log(lam) - t / lam

    def _isf(self, q: np.ndarray, lam: Any) -> np.ndarray:
        return -lam * np.log(q)

    def _mean(self, lam: Any) -> np.ndarray:
        return np.asarray(lam, dtype=float)

    def _start(self, scale: float) -> list[float]:
        return [scale / math.log(2)]


@register_family
class WeibullFitter(RecoveryFamily):
    r"""Weibull recovery: S(t) = exp(−(t/λ)^ρ).

    ``lambda_`` (minutes) is the time by which 1 − e⁻¹ ≈ 63% are restored; ``rho_`` the
    shape: ρ > 1 restoration accelerates (repairs ramp up), ρ < 1 it slows (a long tail).
    """

    name = "weibull"
    param_names = ("lambda_", "rho_")
    bounds = ((0.0, INF), (0.0, INF))

    def _log_sf(self, t: np.ndarray, lam: Any, rho: Any) -> np.ndarray:
        return -np.exp(rho * (np.log(t) - np.log(lam)))

    def _sf(self, t: np.ndarray, lam: Any, rho: Any) -> np.ndarray:
        s = _full(np.log(t) - np.log(lam), rho)
        s *= rho
        np.exp(s, out=s)
        np.negative(s, out=s)
        return _exp(s, inplace=True)

    def _sf_parts(self, t: np.ndarray, lam: Any, rho: Any) -> tuple[np.ndarray, SfVjp]:
        lt = _full(np.log(t) - np.log(lam), rho)
        z = np.exp(rho * lt)
        s = _exp(np.negative(z), inplace=True)
        a = s * z  # ∂S/∂t = −a·ρ/t

        def parts(v: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
            r, lm = _col(rho), _col(lam)
            va = _rowdot(v, a)
            return [va * r / lm, -_rowdot(v, a * lt)], -r * _rowdot(v, a / t)

        return s, parts

    def _log_pdf(self, t: np.ndarray, lam: Any, rho: Any) -> np.ndarray:
        z = rho * (np.log(t) - np.log(lam))
        return np.log(rho) - np.log(t) + z - np.exp(z)

    def _isf(self, q: np.ndarray, lam: Any, rho: Any) -> np.ndarray:
        return lam * (-np.log(q)) ** (1.0 / rho)

    def _mean(self, lam: Any, rho: Any) -> np.ndarray:
        return lam * special.gamma(1.0 + 1.0 / rho)

    def _start(self, scale: float) -> list[float]:
        return [scale / math.log(2), 1.0]


@register_family
class LogNormalFitter(RecoveryFamily):
    r"""Log-normal recovery: S(t) = 1 − Φ((log t − μ)/σ).

    ``mu_`` is the log of the median outage (minutes), ``sigma_`` the spread on the log
    scale; the hazard rises then falls, giving a long right tail.
    """

    name = "lognormal"
    param_names = ("mu_", "sigma_")
    bounds = ((-INF, INF), (0.0, INF))

    def _log_sf(self, t: np.ndarray, mu: Any, sigma: Any) -> np.ndarray:
        return special.log_ndtr(-(np.log(t) - mu) / sigma)

    def _sf(self, t: np.ndarray, mu: Any, sigma: Any) -> np.ndarray:
        return special.ndtr(-(np.log(t) - mu) / sigma)

    def _log_pdf(self, t: np.ndarray, mu: Any, sigma: Any) -> np.ndarray:
        z = (np.log(t) - mu) / sigma
        return -0.5 * z * z - np.log(sigma) - np.log(t) - 0.5 * math.log(2 * math.pi)

    def _isf(self, q: np.ndarray, mu: Any, sigma: Any) -> np.ndarray:
        return np.exp(mu - sigma * special.ndtri(q))

    def _mean(self, mu: Any, sigma: Any) -> np.ndarray:
        return np.exp(mu + 0.5 * sigma * sigma)

    def _start(self, scale: float) -> list[float]:
        return [math.log(scale), 1.0]


@register_family
class LogLogisticFitter(RecoveryFamily):
    r"""Log-logistic recovery: S(t) = 1 / (1 + (t/α)^β).

    ``alpha_`` (minutes) is the median outage, ``beta_`` the shape; for β > 1 the hazard
    rises then falls. The mean is finite only for β > 1.
    """

    name = "loglogistic"
    param_names = ("alpha_", "beta_")
    bounds = ((0.0, INF), (0.0, INF))

    def _log_sf(self, t: np.ndarray, alpha: Any, beta: Any) -> np.ndarray:
        return -np.logaddexp(0.0, beta * (np.log(t) - np.log(alpha)))

    def _sf(self, t: np.ndarray, alpha: Any, beta: Any) -> np.ndarray:
        # 1 / (1 + e^z) = e^−z / (1 + e^−z) for z > 0: no overflow and no underflow of e^z
        z = beta * (np.log(t) - np.log(alpha))
        e = _exp(-np.abs(z))
        return np.where(z > 0, e, 1.0) / (1.0 + e)

    def _log_pdf(self, t: np.ndarray, alpha: Any, beta: Any) -> np.ndarray:
        z = beta * (np.log(t) - np.log(alpha))
        return np.log(beta) - np.log(t) + z - 2.0 * np.logaddexp(0.0, z)

    def _isf(self, q: np.ndarray, alpha: Any, beta: Any) -> np.ndarray:
        return alpha * ((1.0 - q) / q) ** (1.0 / beta)

    def _mean(self, alpha: Any, beta: Any) -> np.ndarray:
        beta = np.asarray(beta, dtype=float)
        b = np.where(beta > 1, beta, 2.0)
        return np.where(beta > 1, alpha * (math.pi / b) / np.sin(math.pi / b), INF)

    def _start(self, scale: float) -> list[float]:
        return [scale, 2.0]


@register_family
class GammaFitter(RecoveryFamily):
    r"""Gamma recovery: S(t) = Q(k, t/θ), the regularised upper incomplete gamma function.

    ``scale_`` (θ, minutes) is the scale, ``k_`` the shape (k = 1 is exponential; k > 1 a
    restoration that ramps up, as when crews are dispatched).
    """

    name = "gamma"
    param_names = ("scale_", "k_")
    bounds = ((0.0, INF), (0.0, INF))

    def _log_sf(self, t: np.ndarray, scale: Any, k: Any) -> np.ndarray:
        return self._q(t, scale, k, log=True)

    def _sf(self, t: np.ndarray, scale: Any, k: Any) -> np.ndarray:
        return self._q(t, scale, k, log=False)

    @staticmethod
    def _q(t: np.ndarray, scale: Any, k: Any, *, log: bool) -> np.ndarray:
        """Q(k, t/θ) or its log, by region of x = t/θ."""
        k0 = np.asarray(k, dtype=float)
        x, k = np.broadcast_arrays(np.asarray(t / scale, dtype=float), k0)
        # below x = k + 1 compute 1 − P (scipy's series for P is several times faster there);
        # far in the tail the asymptotic form x^(k-1) e^(-x) / Γ(k) (Q underflows there)
        body = x < k + 60.0 + 12.0 * np.sqrt(k)
        low = body & (x < k + 1.0)
        high = body & ~low
        out = np.empty(x.shape)
        p_low = special.gammainc(k[low], x[low])
        q_high = special.gammaincc(k[high], x[high])
        out[low] = np.log1p(-p_low) if log else 1.0 - p_low
        out[high] = np.log(np.maximum(q_high, 1e-300)) if log else q_high
        tail = ~body
        if tail.any():
            kt, xt = k[tail], x[tail]
            lg = np.broadcast_to(special.gammaln(k0), x.shape)[tail]
            lq = (kt - 1.0) * np.log(xt) - xt - lg + np.log1p((kt - 1.0) / xt * (1.0 + (kt - 2.0) / xt))
            out[tail] = lq if log else _exp(lq)
        return out

    def _log_pdf(self, t: np.ndarray, scale: Any, k: Any) -> np.ndarray:
        x = t / scale
        return (k - 1.0) * np.log(x) - x - special.gammaln(k) - np.log(scale)

    def _isf(self, q: np.ndarray, scale: Any, k: Any) -> np.ndarray:
        return scale * special.gammainccinv(k, q)

    def _mean(self, scale: Any, k: Any) -> np.ndarray:
        return np.asarray(scale * k, dtype=float)

    def _start(self, scale: float) -> list[float]:
        return [scale / 1.7, 2.0]


@register_family
class MixtureFitter(RecoveryFamily):
    r"""Two-component mixture: a fast Weibull bulk and a slow exponential tail.

    S(t) = (1 − π)·exp(−(t/λ)^ρ) + π·exp(−t/τ), with τ > λ.

    ``lambda_``, ``rho_``: the bulk's Weibull scale (minutes) and shape; ``tail_fraction_``
    (π): the share of affected customers in the slow tail ("collateral damage" restored
    much later); ``tail_scale_`` (τ, minutes): the tail's mean outage. The constraint τ > λ
    labels the components (the tail is the slow one).
    """

    name = "mixture"
    param_names = ("lambda_", "rho_", "tail_fraction_", "tail_scale_")
    bounds = ((0.0, INF), (0.0, INF), (0.0, 1.0), (0.0, INF))
    has_tail = True

    def to_free(self, theta: np.ndarray) -> np.ndarray:
        """As the base class, but the tail scale is coded as log(τ − λ) to keep τ > λ."""
        theta = np.asarray(theta, dtype=float)
        u = super().to_free(theta)
        u[..., 3] = np.log(np.maximum(theta[..., 3] - theta[..., 0], 1e-300))
        return u

    def from_free(self, u: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_free`."""
        u = np.asarray(u, dtype=float)
        theta = super().from_free(u)
        theta[..., 3] = theta[..., 0] + np.exp(u[..., 3])
        return theta

    def _log_sf(self, t: np.ndarray, lam: Any, rho: Any, pi: Any, tau: Any) -> np.ndarray:
        bulk = -np.exp(rho * (np.log(t) - np.log(lam)))
        return np.logaddexp(np.log1p(-pi) + bulk, np.log(pi) - t / tau)

    def _sf(self, t: np.ndarray, lam: Any, rho: Any, pi: Any, tau: Any) -> np.ndarray:
        # (1 − π)·exp(−(t/λ)^ρ) + π·exp(−t/τ), in place on two temporaries
        s = _full(np.log(t) - np.log(lam), rho, pi, tau)
        s *= rho
        np.exp(s, out=s)
        np.negative(s, out=s)
        s = _exp(s, inplace=True)
        s *= 1.0 - pi
        tail = _full(np.negative(t) / tau, s)
        tail = _exp(tail, inplace=True)
        tail *= pi
        s += tail
        return s

    def _sf_parts(self, t: np.ndarray, lam: Any, rho: Any, pi: Any, tau: Any) -> tuple[np.ndarray, SfVjp]:
        lt = _full(np.log(t) - np.log(lam), rho, pi, tau)
        z = np.exp(rho * lt)
        e1 = _exp(np.negative(z), inplace=True)
        e2 = _exp(_full(np.negative(t) / tau, e1), inplace=True)
        a = e1 * z  # the bulk's ∂/∂t is −(1 − π)·a·ρ/t
        q, r, lm, tu = _col(pi), _col(rho), _col(lam), _col(tau)

        def parts(v: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
            va, ve1, ve2 = _rowdot(v, a), _rowdot(v, e1), _rowdot(v, e2)
            d_lam = (1.0 - q) * r / lm * va
            d_rho = -(1.0 - q) * _rowdot(v, a * lt)
            d_tau = q / tu**2 * _rowdot(v, e2 * t)
            d_t = -(1.0 - q) * r * _rowdot(v, a / t) - q / tu * ve2
            return [d_lam, d_rho, ve2 - ve1, d_tau], d_t

        return (1.0 - pi) * e1 + pi * e2, parts

    def _log_pdf(self, t: np.ndarray, lam: Any, rho: Any, pi: Any, tau: Any) -> np.ndarray:
        z = rho * (np.log(t) - np.log(lam))
        bulk = np.log(rho) - np.log(t) + z - np.exp(z)
        return np.logaddexp(np.log1p(-pi) + bulk, np.log(pi) - np.log(tau) - t / tau)

    def _mean(self, lam: Any, rho: Any, pi: Any, tau: Any) -> np.ndarray:
        return (1.0 - pi) * lam * special.gamma(1.0 + 1.0 / rho) + pi * tau

    def _start(self, scale: float) -> list[float]:
        return [scale, 1.5, 0.15, 12.0 * scale]


def candidates() -> tuple[str, ...]:
    """Every candidate name the fitters accept now: each registered family with and without a delay."""
    return tuple(n for f in FAMILIES for n in (f, f"{f}+delay"))


#: The candidates of the families built in (:func:`candidates` adds the ones registered since).
CANDIDATES: tuple[str, ...] = candidates()


def make_family(name: str, *, level: float = 0.9) -> RecoveryFamily:
    """Build a family from a candidate name such as ``"weibull"`` or ``"lognormal+delay"``."""
    base, plus, suffix = name.strip().lower().partition("+")
    if base not in FAMILIES or (plus and suffix != "delay"):
        raise ParameterError(f"unknown recovery family {name!r}; choose from {', '.join(candidates())}")
    return FAMILIES[base](delay=bool(plus), level=level)


def resolve_candidates(families: Any) -> list[str]:
    """Normalise a ``families`` option (``"all"``, one name or a sequence of names)."""
    names = list(families) if not isinstance(families, str) else list(candidates()) if families == "all" else [families]
    if not names:
        raise ParameterError("families: give at least one family name or 'all'")
    out = []
    for n in names:
        make_family(n)  # validates
        lab = n.strip().lower()
        if lab not in out:
            out.append(lab)
    return out
