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
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from scipy import optimize

from analysis.recovery.bounds import from_free, to_free

if TYPE_CHECKING:
    from analysis.recovery.family_base import RecoveryFamily

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
        parts += [to_free(theta[..., k + i], lo, hi)[..., None] for i, (lo, hi) in enumerate(self.extra_bounds)]
        return np.concatenate(parts, axis=-1)

    def from_free(self, u: np.ndarray) -> np.ndarray:
        """Free → natural."""
        u = np.asarray(u, dtype=float)
        k = self.k_family
        parts = [self.family.from_free(u[..., :k])]
        parts += [from_free(u[..., k + i], lo, hi)[..., None] for i, (lo, hi) in enumerate(self.extra_bounds)]
        return np.concatenate(parts, axis=-1)


@dataclass(frozen=True)
class OptimResult:
    """Best parameters found (natural scale), their log-likelihood and whether the optimiser converged."""

    theta: np.ndarray
    loglik: float
    converged: bool


def positive_definite(h: np.ndarray | None) -> np.ndarray | None:
    """Return the symmetrised matrix if it is finite and positive definite, else None."""
    if h is None:
        return None
    h = 0.5 * (np.asarray(h, dtype=float) + np.asarray(h, dtype=float).T)
    if not np.all(np.isfinite(h)):
        return None
    try:
        np.linalg.cholesky(h)
    except np.linalg.LinAlgError:
        return None
    return h


def _grad(f: Callable[[np.ndarray], float], u: np.ndarray, f0: float | None = None) -> np.ndarray:
    """Central-difference gradient."""
    g = np.empty_like(u)
    for i in range(u.size):
        h = 1e-6 * max(1.0, abs(u[i]))
        e = np.zeros_like(u)
        e[i] = h
        g[i] = (f(u + e) - f(u - e)) / (2 * h)
    return g


_REL_STEP = float(np.finfo(float).eps) ** 0.5  # scipy's forward-difference step (relative, at least 1 absolute)


def _grad_many(nll_many: Callable[[np.ndarray], np.ndarray], u: np.ndarray) -> np.ndarray:
    """Central-difference gradient (the steps of :func:`_grad`), its 2k points in one batch."""
    h = 1e-6 * np.maximum(1.0, np.abs(u))
    steps = np.diag(h)
    f = nll_many(np.vstack([u + steps, u - steps]))
    return (f[: u.size] - f[u.size :]) / (2 * h)


def _forward_many(nll_many: Callable[[np.ndarray], np.ndarray], u: np.ndarray) -> np.ndarray:
    """Forward-difference gradient with scipy's default steps (BFGS without ``jac``), the k + 1 points in one batch."""
    h = _REL_STEP * np.where(u >= 0, 1.0, -1.0) * np.maximum(1.0, np.abs(u))
    h = (u + h) - u  # the step as represented
    f = nll_many(np.vstack([u, u + np.diag(h)]))
    return (f[1:] - f[0]) / h


def _no_better_neighbour(
    nll: Callable[[np.ndarray], float], u: np.ndarray, f: float, nll_many: Callable[[np.ndarray], np.ndarray] | None = None
) -> bool:
    """Tell whether no small step along any coordinate lowers ``nll``: a maximum, even at a kink.

    A delay that sits exactly at a data time makes the likelihood non-differentiable there,
    so a large one-sided gradient does not by itself mean the optimiser failed.
    """
    tol = 1e-7 * max(1.0, abs(f))
    if nll_many is not None:
        for h in (1e-5, 1e-3):
            steps = np.diag(h * np.maximum(1.0, np.abs(u)))
            if np.any(nll_many(np.vstack([u + steps, u - steps])) < f - tol):
                return False
        return True
    for h in (1e-5, 1e-3):
        for i in range(u.size):
            e = np.zeros_like(u)
            e[i] = h * max(1.0, abs(u[i]))
            if nll(u + e) < f - tol or nll(u - e) < f - tol:
                return False
    return True


def maximize(
    loglik: Callable[[np.ndarray], float],
    space: Space,
    starts: Sequence[np.ndarray],
    **options: Any,
) -> OptimResult:
    """Maximise ``loglik(theta)`` from each start; return the best result (see :func:`_maximize`).

    Floating-point overflow inside the optimiser (a start far out in an impossible region
    gives huge gradients) is expected and handled by the search itself, not reported.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _maximize(loglik, space, starts, **options)


def _maximize(
    loglik: Callable[[np.ndarray], float],
    space: Space,
    starts: Sequence[np.ndarray],
    *,
    maxiter: int = 500,
    precise: bool = True,
    hess_inv0: np.ndarray | None = None,
    polish_only: bool = False,
    loglik_many: Callable[[np.ndarray], np.ndarray] | None = None,
) -> OptimResult:
    """Maximise ``loglik(theta)`` from each start; return the best result.

    Every start gets a quick BFGS run (forward-difference gradients, loose tolerance); the
    best of them is then refined with central-difference gradients and, if that stops
    short, a Nelder–Mead polish. ``precise=False`` skips the refinement (bootstrap refits
    from a warm start need a few significant digits, not ten); ``hess_inv0`` seeds BFGS with
    the inverse Hessian (free scale) of the original fit for the first start, so a warm refit
    takes a handful of iterations. ``polish_only``: the single start is already a quick
    optimum (from :func:`maximize_batch`), go straight to the refinement. Non-finite
    log-likelihoods count as very poor rather than as errors, so a start in an impossible
    region (a delay past the first restoration) is walked out of.

    ``loglik_many(thetas)``, when given, returns the log-likelihoods of the rows of
    ``thetas`` (``(n, k)``, natural scale) at once, each equal to ``loglik`` of that row:
    every finite-difference gradient is then one vectorised evaluation of its k + 1 (forward)
    or 2k (central) points instead of as many calls, with the same steps.
    """
    nll, nll_many = _free_objectives(loglik, space, loglik_many)
    best, best_hinv = _quick_search(nll, nll_many, space, starts, maxiter=maxiter, hess_inv0=hess_inv0, polish_only=polish_only)
    if best is None or best[0] >= _BIG:
        return OptimResult(np.full(len(np.atleast_1d(starts[0])), np.nan), -math.inf, False)
    f, u = best
    if not precise:
        return OptimResult(space.from_free(u), -f, True)
    u, f, ok = _refine(nll, nll_many, u, f, best_hinv, maxiter=maxiter)
    return OptimResult(space.from_free(u), -f if f < _BIG else -math.inf, bool(ok))


def _free_objectives(
    loglik: Callable[[np.ndarray], float], space: Space, loglik_many: Callable[[np.ndarray], np.ndarray] | None
) -> tuple[Callable[[np.ndarray], float], Callable[[np.ndarray], np.ndarray] | None]:
    """−ℓ on the free scale (one point, and many rows at once when ``loglik_many`` is given); non-finite → ``_BIG``."""

    def nll(u: np.ndarray) -> float:
        if np.any(np.abs(u) > _FREE_LIMIT):
            return _BIG
        with np.errstate(all="ignore"):
            v = -loglik(space.from_free(u))
        return v if math.isfinite(v) else _BIG

    if loglik_many is None:
        return nll, None

    def nll_many(us: np.ndarray) -> np.ndarray:
        out = np.full(us.shape[0], _BIG)
        inside = ~np.any(np.abs(us) > _FREE_LIMIT, axis=1)
        if inside.any():
            with np.errstate(all="ignore"):
                v = -np.asarray(loglik_many(space.from_free(us[inside])), dtype=float)
            out[inside] = np.where(np.isfinite(v), v, _BIG)
        return out

    return nll, nll_many


def _quick_search(
    nll: Callable[[np.ndarray], float],
    nll_many: Callable[[np.ndarray], np.ndarray] | None,
    space: Space,
    starts: Sequence[np.ndarray],
    *,
    maxiter: int,
    hess_inv0: np.ndarray | None,
    polish_only: bool,
) -> tuple[tuple[float, np.ndarray] | None, np.ndarray | None]:
    """A quick BFGS run from each start: the best (−ℓ, free θ) and its inverse Hessian (see :func:`_maximize`)."""
    quick_jac = None if nll_many is None else (lambda v: _forward_many(nll_many, v))
    best: tuple[float, np.ndarray] | None = None
    best_hinv: np.ndarray | None = None
    for i, s in enumerate(starts):
        quick: dict[str, object] = {"maxiter": maxiter, "gtol": 1e-3}
        h0 = positive_definite(hess_inv0) if i == 0 else None  # it belongs to the first (warm) start
        if h0 is not None:
            quick["hess_inv0"] = h0
        with np.errstate(all="ignore"):
            u0 = np.asarray(space.to_free(np.asarray(s, dtype=float)), dtype=float)
        f0 = nll(u0) if np.all(np.isfinite(u0)) else _BIG
        if f0 >= _BIG:
            continue
        # finite differences carry rounding noise ∝ |ℓ| (10⁷ reports: |ℓ| ~ 10⁸), so the
        # gradient tolerances scale with it rather than asking for digits that do not exist
        scale = max(1.0, abs(f0))
        quick["gtol"] = max(1e-3, 1e-8 * scale)
        if polish_only:
            return (f0, u0), h0
        res = optimize.minimize(nll, u0, jac=quick_jac, method="BFGS", options=quick)
        f = float(res.fun)
        if best is None or f < best[0]:
            best = (f, res.x)
            hinv = getattr(res, "hess_inv", None)
            best_hinv = positive_definite(hinv) if isinstance(hinv, np.ndarray) else None
    return best, best_hinv


def _refine(
    nll: Callable[[np.ndarray], float],
    nll_many: Callable[[np.ndarray], np.ndarray] | None,
    u: np.ndarray,
    f: float,
    best_hinv: np.ndarray | None,
    *,
    maxiter: int,
) -> tuple[np.ndarray, float, bool]:
    """Central-difference BFGS from the quick optimum, a Nelder–Mead polish at a kink; (free θ, −ℓ, converged)."""

    def grad(v: np.ndarray) -> np.ndarray:
        return _grad(nll, v) if nll_many is None else _grad_many(nll_many, v)

    # BFGS on the free scale: the problem is unconstrained there (scipy's L-BFGS-B calls
    # multithreaded BLAS that costs milliseconds per iteration on problems this small)
    noise = 1e-9 * max(1.0, abs(f))
    # the quick run's curvature seeds the precise one: a few iterations instead of rebuilding it
    precise_opts: dict[str, object] = {"maxiter": maxiter, "gtol": max(1e-6, 0.1 * noise)}
    if best_hinv is not None:
        precise_opts["hess_inv0"] = best_hinv
    res = optimize.minimize(nll, u, jac=grad, method="BFGS", options=precise_opts)
    if float(res.fun) <= f:
        u, f = res.x, float(res.fun)
    g = grad(u)
    if np.max(np.abs(g)) > max(1e-3, noise):
        # a kink (a delay at a bin edge, a boundary): a simplex search, started at the local
        # scale of each parameter; a gain below 1e-9·|ℓ| changes no reported digit
        step = np.full(u.size, 1e-2)
        if best_hinv is not None:
            step = np.clip(0.1 * np.sqrt(np.diag(best_hinv)), 1e-4, 0.5)
        simplex = np.vstack([u, u + np.diag(step)])
        nm = optimize.minimize(
            nll,
            u,
            method="Nelder-Mead",
            options={"maxiter": 100 * u.size, "xatol": 1e-6, "fatol": max(1e-8, 0.1 * noise), "initial_simplex": simplex},
        )
        if nm.fun <= f:
            u, f = nm.x, float(nm.fun)
        g = grad(u)
    ok = f < _BIG and (
        np.max(np.abs(g)) < max(1e-2 * max(1.0, abs(f)) ** 0.5, 10 * noise) or _no_better_neighbour(nll, u, f, nll_many)
    )
    if np.any(np.abs(u) > 0.9 * _FREE_LIMIT):
        ok = False  # ran off to a boundary: degenerate
    return u, f, bool(ok)


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


def _free_gradient(space: Space, v: np.ndarray, g_theta: np.ndarray, *, bad: np.ndarray) -> np.ndarray:
    """Gradient of −ℓ on the free scale from ℓ's gradient in the natural parameters (chain rule, rows ``(B, k)``).

    The Jacobian of ``from_free`` is taken by central differences of that cheap map; rows
    marked ``bad`` (no finite likelihood there) get NaN.
    """
    n, k = v.shape
    jac = np.empty((n, g_theta.shape[1], k))  # jac[b, a, c] = ∂θ_a / ∂u_c (a space may share a free value among several θ)
    for c in range(k):
        h = 1e-6 * np.maximum(1.0, np.abs(v[:, c]))
        up, down = v.copy(), v.copy()
        up[:, c] += h
        down[:, c] -= h
        with np.errstate(all="ignore"):
            jac[:, :, c] = (space.from_free(up) - space.from_free(down)) / (2 * h)[:, None]
    with np.errstate(all="ignore"):
        g = -np.einsum("bac,ba->bc", jac, g_theta)
    g[bad] = np.nan
    return g


def maximize_batch(
    loglik: Callable[[np.ndarray, np.ndarray], np.ndarray],
    space: Space,
    theta0: np.ndarray,
    *,
    hess_inv0: np.ndarray | None = None,
    maxiter: int = 100,
    gtol: float = 1e-3,
    return_hess_inv: bool = False,
    ftol: float = 1e-7,
    warm: np.ndarray | None = None,
    loglik_grad: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None] | None = None,
) -> tuple[np.ndarray, ...]:
    """Maximise B independent log-likelihoods at once (vectorised BFGS with Armijo backtracking).

    ``loglik(theta, rows)`` returns the log-likelihoods of replicates ``rows`` at parameters
    ``theta`` (one row each, natural scale); row b depends only on its own parameters (the
    bootstrap replicates). Gradients are forward differences computed for all active rows
    in k evaluations; each row keeps its own inverse Hessian, seeded with ``hess_inv0`` (free
    scale) when given — for the rows marked ``warm`` only, when that mask is given. A row stops when its gradient is below ``gtol``, its line search cannot
    improve it or an iteration gains less than ``ftol``, and stopped rows cost nothing afterwards. Returns natural parameters
    ``(B, k)`` and log-likelihoods (−inf where a row never became finite), and with ``return_hess_inv``
    each row's inverse Hessian (free scale) as a third array.

    ``loglik_grad(theta, rows)``, when given, returns the log-likelihoods and their gradients
    in the natural parameters (``(B, k)``) in closed form, or None: the gradient then costs
    one evaluation instead of k, and the starts' values come with their gradients.
    """
    u = np.asarray(space.to_free(np.asarray(theta0, dtype=float)), dtype=float)
    n, k = u.shape
    obj = _BatchObjective(loglik, space, loglik_grad)
    nll, grad = obj.nll, obj.grad
    every = np.arange(n)
    # with a closed-form gradient the starts' values come with their gradients (S computed once)
    first = obj.value_grad(u, every)
    if first is None:
        f0 = nll(u, every)
        first = (f0, grad(u, f0, every))
    f, g = first
    # with a closed-form gradient the first point tried along each search direction (taken in
    # most iterations) is evaluated with its gradient: S is computed once for both
    fused = loglik_grad is not None
    hinv, fresh = _initial_hess_inv(n, k, hess_inv0, warm)
    active = (f < _BIG) & np.all(np.isfinite(g), axis=1)
    for _ in range(maxiter):
        active &= np.max(np.abs(g), axis=1) > gtol
        rows = np.nonzero(active)[0]
        if rows.size == 0:
            break
        ur, fr, gr = u[rows], f[rows], g[rows]
        p, slope, step = _search_direction(hinv, fresh, rows, gr)
        u_new, f_new, todo, pre, first_ok, fused = _line_search(obj, rows, ur=ur, fr=fr, p=p, slope=slope, step=step, fused=fused)
        moved = ~todo
        active[rows[~moved]] = False  # no improvement along the search direction: at an optimum
        mi = np.nonzero(moved)[0]
        # a gain below ftol log-likelihood units changes no reported digit: stop creeping rows
        stop = (fr[mi] - f_new[mi]) < ftol
        active[rows[mi[stop]]] = False
        if not return_hess_inv and stop.any():
            # a stopped row keeps its step; its gradient and curvature would never be used again
            done = rows[mi[stop]]
            u[done], f[done] = u_new[mi[stop]], f_new[mi[stop]]
            mi = mi[~stop]
        if mi.size == 0:
            continue
        mr = rows[mi]
        known = first_ok[mi] if pre is not None else np.zeros(mi.size, dtype=bool)
        g_new = np.empty((mi.size, k))
        g_new[known] = pre[mi[known]] if pre is not None else 0.0
        if not known.all():
            g_new[~known] = grad(u_new[mi[~known]], f_new[mi[~known]], mr[~known])
        _bfgs_update(hinv, fresh, mr, u_new[mi] - ur[mi], g_new - gr[mi])
        u[mr], f[mr], g[mr] = u_new[mi], f_new[mi], g_new
    ll = np.where(f < _BIG, -f, -math.inf)
    if return_hess_inv:
        return space.from_free(u), ll, hinv
    return space.from_free(u), ll


def _initial_hess_inv(n: int, k: int, hess_inv0: np.ndarray | None, warm: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Each row's starting inverse Hessian (``hess_inv0`` for the seeded rows, else identity) and which rows are fresh."""
    hinv = np.broadcast_to(np.eye(k), (n, k, k)).copy()
    seeded = np.zeros(n, dtype=bool)
    if hess_inv0 is not None:
        seeded = np.ones(n, dtype=bool) if warm is None else np.asarray(warm, dtype=bool)
        hinv[seeded] = np.asarray(hess_inv0, dtype=float)
    # without curvature information (identity inverse Hessian) the first step is limited to
    # unit length on the free scale, as scipy's BFGS does: a long first step along a steep
    # gradient can leap into another basin of a multimodal likelihood
    return hinv, ~seeded


def _search_direction(
    hinv: np.ndarray, fresh: np.ndarray, rows: np.ndarray, gr: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quasi-Newton direction of each active row, its slope and first step (rows going uphill are reset, in place)."""
    p = -np.einsum("bij,bj->bi", hinv[rows], gr)
    slope = np.einsum("bi,bi->b", gr, p)
    uphill = slope >= 0  # lost curvature information: fall back to steepest descent
    if uphill.any():
        hinv[rows[uphill]] = np.eye(gr.shape[1])
        fresh[rows[uphill]] = True
        p[uphill] = -gr[uphill]
        slope[uphill] = -np.einsum("bi,bi->b", gr[uphill], gr[uphill])
    norm = np.sqrt(np.einsum("bi,bi->b", p, p))
    step = np.where(fresh[rows], np.minimum(1.0, 1.0 / np.maximum(norm, 1e-300)), 1.0)
    return p, slope, step


class _BatchObjective:
    """−ℓ of B replicates on the free scale, its gradient, and both at once when ℓ has a closed-form gradient."""

    def __init__(
        self,
        loglik: Callable[[np.ndarray, np.ndarray], np.ndarray],
        space: Space,
        loglik_grad: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None] | None,
    ) -> None:
        self.loglik, self.space, self.loglik_grad = loglik, space, loglik_grad

    def nll(self, v: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """−ℓ of replicates ``rows`` at free parameters ``v``; non-finite or off the free range: ``_BIG``."""
        with np.errstate(all="ignore"):
            out = -np.asarray(self.loglik(self.space.from_free(v), rows), dtype=float)
        bad = ~np.isfinite(out) | np.any(np.abs(v) > _FREE_LIMIT, axis=1)
        out[bad] = _BIG
        return out

    def grad(self, v: np.ndarray, f: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Free-scale gradient of −ℓ (``f`` its values at ``v``): closed form when available, else forward differences."""
        if self.loglik_grad is not None:
            with np.errstate(all="ignore"):
                got = self.loglik_grad(self.space.from_free(v), rows)
            if got is not None:
                return _free_gradient(self.space, v, got[1], bad=(f >= _BIG) | np.any(np.abs(v) > _FREE_LIMIT, axis=1))
        g = np.empty_like(v)
        for i in range(v.shape[1]):
            h = 1e-6 * np.maximum(1.0, np.abs(v[:, i]))
            w = v.copy()
            w[:, i] += h
            g[:, i] = (self.nll(w, rows) - f) / h
        return g

    def value_grad(self, v: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """−ℓ and its free-scale gradient in one closed-form pass, or None without one."""
        if self.loglik_grad is None:
            return None
        with np.errstate(all="ignore"):
            got = self.loglik_grad(self.space.from_free(v), rows)
        if got is None:
            return None
        out = -np.asarray(got[0], dtype=float)
        bad = ~np.isfinite(out) | np.any(np.abs(v) > _FREE_LIMIT, axis=1)
        out[bad] = _BIG
        return out, _free_gradient(self.space, v, got[1], bad=bad)


def _line_search(
    obj: _BatchObjective,
    rows: np.ndarray,
    *,
    ur: np.ndarray,
    fr: np.ndarray,
    p: np.ndarray,
    slope: np.ndarray,
    step: np.ndarray,
    fused: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, bool]:
    """Armijo backtracking along ``p`` for each row (``step`` shrinks in place).

    Returns the new points and values, the rows still without a step (``todo``), the gradients
    from a fused first pass (or None), which rows the first pass accepted, and whether fusing
    stays on.
    """
    todo = np.ones(rows.size, dtype=bool)
    u_new, f_new = ur.copy(), fr.copy()
    pre, first_ok = None, np.zeros(rows.size, dtype=bool)
    for _ls in range(12):
        idx = np.nonzero(todo)[0]
        cand = ur[idx] + step[idx, None] * p[idx]
        got = obj.value_grad(cand, rows[idx]) if fused and _ls == 0 else None
        if got is not None:
            fc, pre = got
        else:
            if _ls == 0:
                fused = False  # no closed form for this likelihood: plain values from here on
            fc = obj.nll(cand, rows[idx])
        ok = fc <= fr[idx] + 1e-4 * step[idx] * slope[idx]
        if _ls == 0:
            first_ok = ok.copy()  # the first pass tries every row: positions are rows' positions
        u_new[idx[ok]] = cand[ok]
        f_new[idx[ok]] = fc[ok]
        todo[idx[ok]] = False
        if not todo.any():
            break
        step[todo] *= 0.25
    return u_new, f_new, todo, pre, first_ok, fused


def _bfgs_update(hinv: np.ndarray, fresh: np.ndarray, mr: np.ndarray, s_: np.ndarray, y_: np.ndarray) -> None:
    """BFGS update, in place, of the inverse Hessians of rows ``mr`` after steps ``s_`` with gradient changes ``y_``."""
    eye = np.eye(s_.shape[1])
    sy = np.einsum("bi,bi->b", s_, y_)
    upd = sy > 1e-12
    if upd.any():
        rho = 1.0 / sy[upd]
        ss, ys = s_[upd], y_[upd]
        a = eye[None] - rho[:, None, None] * np.einsum("bi,bj->bij", ss, ys)
        hu = mr[upd]
        hinv[hu] = np.einsum("bij,bjk,blk->bil", a, hinv[hu], a) + rho[:, None, None] * np.einsum("bi,bj->bij", ss, ss)
        fresh[hu] = False
