"""Maximum likelihood on an unconstrained scale: optimiser, parameter spaces, observed information.

Every fit in the package maximises a log-likelihood over natural parameters that have
bounds (positive scales, fractions in (0, 1), a delay below the first restoration). The
optimiser works on the free scale given by the space's ``to_free``/``from_free`` maps, with
central-difference gradients (accurate enough to reproduce published estimates to five
digits) and a Nelder–Mead polish when the quasi-Newton run stops short.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import optimize

from analysis.recovery.families import RecoveryFamily, _from_free, _to_free

_BIG = 1e300
_FREE_LIMIT = 60.0  # |u| beyond this means a scale of e^60: a degenerate fit, not a real optimum


class Space(Protocol):
    """Anything with maps between natural parameters and an unconstrained vector."""

    def to_free(self, theta: np.ndarray) -> np.ndarray: ...

    def from_free(self, u: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class JointSpace:
    """A family's parameters followed by evidence-specific nuisance parameters with bounds."""

    family: RecoveryFamily
    extra_bounds: tuple[tuple[float, float], ...] = ()

    @property
    def k_family(self) -> int:
        """Number of parameters of S."""
        return self.family.n_params

    def to_free(self, theta: np.ndarray) -> np.ndarray:
        """Natural → free."""
        theta = np.asarray(theta, dtype=float)
        k = self.k_family
        parts = [self.family.to_free(theta[..., :k])]
        parts += [_to_free(theta[..., k + i], lo, hi)[..., None] for i, (lo, hi) in enumerate(self.extra_bounds)]
        return np.concatenate(parts, axis=-1)

    def from_free(self, u: np.ndarray) -> np.ndarray:
        """Free → natural."""
        u = np.asarray(u, dtype=float)
        k = self.k_family
        parts = [self.family.from_free(u[..., :k])]
        parts += [_from_free(u[..., k + i], lo, hi)[..., None] for i, (lo, hi) in enumerate(self.extra_bounds)]
        return np.concatenate(parts, axis=-1)


@dataclass(frozen=True)
class OptimResult:
    """Best parameters found (natural scale), their log-likelihood and whether the optimiser converged."""

    theta: np.ndarray
    loglik: float
    converged: bool


def _grad(f: Callable[[np.ndarray], float], u: np.ndarray, f0: float | None = None) -> np.ndarray:
    """Central-difference gradient."""
    g = np.empty_like(u)
    for i in range(u.size):
        h = 1e-6 * max(1.0, abs(u[i]))
        e = np.zeros_like(u)
        e[i] = h
        g[i] = (f(u + e) - f(u - e)) / (2 * h)
    return g


def maximize(
    loglik: Callable[[np.ndarray], float],
    space: Space,
    starts: Sequence[np.ndarray],
    *,
    maxiter: int = 500,
    precise: bool = True,
) -> OptimResult:
    """Maximise ``loglik(theta)`` from each start; return the best result.

    Non-finite log-likelihoods are treated as very poor rather than errors, so a start in an
    impossible region (e.g. a delay past the first restoration) is simply walked out of.
    ``precise=False`` (bootstrap refits from a warm start) uses forward-difference gradients,
    a looser tolerance and no polish: replicates need a few significant digits, not ten.
    """

    def nll(u: np.ndarray) -> float:
        if np.any(np.abs(u) > _FREE_LIMIT):
            return _BIG
        with np.errstate(all="ignore"):
            v = -loglik(space.from_free(u))
        return v if math.isfinite(v) else _BIG

    best: tuple[float, np.ndarray, bool] | None = None
    for s in starts:
        with np.errstate(all="ignore"):
            u0 = np.asarray(space.to_free(np.asarray(s, dtype=float)), dtype=float)
        if not np.all(np.isfinite(u0)):
            continue
        f0 = nll(u0)
        if f0 >= _BIG:
            continue
        # BFGS on the free scale: the problem is unconstrained there, and scipy's L-BFGS-B
        # calls multithreaded BLAS that costs milliseconds per iteration on tiny problems
        if not precise:
            res = optimize.minimize(nll, u0, method="BFGS", options={"maxiter": maxiter, "gtol": 1e-3})
            f = float(res.fun)
            if best is None or f < best[0]:
                best = (f, res.x, f < _BIG)
            continue
        res = optimize.minimize(
            nll,
            u0,
            jac=lambda u: _grad(nll, u),
            method="BFGS",
            options={"maxiter": maxiter, "gtol": 1e-6},
        )
        u, f = res.x, float(res.fun)
        g = _grad(nll, u)
        ok = bool(res.success) and f < _BIG
        if not ok or np.max(np.abs(g)) > 1e-3:
            nm = optimize.minimize(nll, u, method="Nelder-Mead", options={"maxiter": 400 * u.size, "xatol": 1e-8, "fatol": 1e-10})
            if nm.fun <= f:
                u, f = nm.x, float(nm.fun)
            g = _grad(nll, u)
            ok = f < _BIG and np.max(np.abs(g)) < 1e-2 * max(1.0, abs(f)) ** 0.5
        if best is None or f < best[0] - 1e-9:
            best = (f, u, ok)
    if best is None:
        return OptimResult(np.full(len(np.atleast_1d(starts[0])), np.nan), -math.inf, False)
    f, u, ok = best
    if np.any(np.abs(u) > 0.9 * _FREE_LIMIT):
        ok = False  # ran off to a boundary: degenerate
    return OptimResult(space.from_free(u), -f if f < _BIG else -math.inf, ok)


def free_hessian(loglik: Callable[[np.ndarray], float], space: Space, theta: np.ndarray) -> np.ndarray:
    """Observed information's negative: the Hessian of the log-likelihood on the free scale."""
    u0 = np.asarray(space.to_free(theta), dtype=float)
    k = u0.size

    def f(u: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            return loglik(space.from_free(u))

    h = np.array([1e-4 * max(1.0, abs(x)) for x in u0])
    hess = np.empty((k, k))
    f0 = f(u0)
    for i in range(k):
        for j in range(i, k):
            ei = np.zeros(k)
            ej = np.zeros(k)
            ei[i] = h[i]
            ej[j] = h[j]
            if i == j:
                v = (f(u0 + ei) - 2 * f0 + f(u0 - ei)) / h[i] ** 2
            else:
                v = (f(u0 + ei + ej) - f(u0 + ei - ej) - f(u0 - ei + ej) + f(u0 - ei - ej)) / (4 * h[i] * h[j])
            hess[i, j] = hess[j, i] = v
    return hess


def wald_covariance(loglik: Callable[[np.ndarray], float], space: Space, theta: np.ndarray) -> np.ndarray:
    """Covariance of the natural parameters: inverse observed information, mapped by the delta method.

    Returns a matrix of NaN when the information is not positive definite (a boundary or
    flat likelihood), rather than a misleading number.
    """
    theta = np.asarray(theta, dtype=float)
    k = theta.size
    nan = np.full((k, k), np.nan)
    if not np.all(np.isfinite(theta)):
        return nan
    hess = free_hessian(loglik, space, theta)
    if not np.all(np.isfinite(hess)):
        return nan
    try:
        cov_u = np.linalg.inv(-hess)
    except np.linalg.LinAlgError:
        return nan
    if np.any(np.diag(cov_u) <= 0):
        return nan
    u0 = np.asarray(space.to_free(theta), dtype=float)
    jac = np.empty((k, k))
    for i in range(k):
        h = 1e-6 * max(1.0, abs(u0[i]))
        e = np.zeros(k)
        e[i] = h
        jac[:, i] = (space.from_free(u0 + e) - space.from_free(u0 - e)) / (2 * h)
    return jac @ cov_u @ jac.T
