"""Fit every candidate family to one piece of evidence, choose by AIC, bootstrap the chosen one.

Shared by all evidence kinds: the evidence object supplies the likelihood and a way to
draw a new data set of the same design; this module does starting values, the candidate
table and the replicates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from analysis.errors import FitError
from analysis.recovery._optim import JointSpace, free_hessian, maximize, maximize_batch
from analysis.recovery.evidence import ReportEvidence
from analysis.recovery.families import RecoveryFamily, make_family

BOOT_FTOL = 1e-5  # a refit stops when an iteration gains less (log-likelihood units; no interval end moves)
BOOT_MAXITER = 60  # iterations of a bootstrap refit
# an open-ended parameter this far out on its free scale (a scale or shape of e^±25, 10^±11)
# sits where the likelihood has gone flat, not at an optimum: the fit is degenerate (a Weibull
# bulk turned into a step, a mixture whose two components merged)
DEGENERATE_FREE = 25.0
# the bootstrap's check of a warm second start: replicates refitted from the default start as
# well (an eighth, at least this many) and the gain in log-likelihood units that makes it tried on all
PILOT_MIN = 20
PILOT_GAIN = 0.1


@dataclass(frozen=True, eq=False)
class Candidate:
    """One fitted candidate: family, full parameter vector, log-likelihood, AIC."""

    name: str
    family: RecoveryFamily
    theta: np.ndarray
    loglik: float
    n_params: int
    converged: bool

    @property
    def aic(self) -> float:
        """2k − 2ℓ (inf when the fit failed)."""
        return 2 * self.n_params - 2 * self.loglik if math.isfinite(self.loglik) else math.inf


def _space(family: RecoveryFamily, evidence: Any) -> JointSpace:
    return JointSpace(family, tuple(evidence.extra_bounds))


def degenerate(family: RecoveryFamily, evidence: Any, theta: np.ndarray) -> np.ndarray:
    """Whether each parameter row (``(k,)`` or ``(B, k)``) has run off to a flat end of the likelihood.

    Only open-ended parameters count: a fraction or a delay at its bound is a real answer.
    """
    bounds = [*family.param_bounds(), *evidence.extra_bounds]
    open_ended = np.array([not (math.isfinite(lo) and math.isfinite(hi)) for lo, hi in bounds])
    with np.errstate(all="ignore"):
        u = np.atleast_2d(_space(family, evidence).to_free(np.atleast_2d(np.asarray(theta, dtype=float))))
    far = (np.abs(u) > DEGENERATE_FREE) & open_ended
    out = np.any(far, axis=1)
    return out if np.ndim(theta) == 2 else out[0]


def _starts(family: RecoveryFamily, evidence: Any, fitted: dict[str, Candidate]) -> list[np.ndarray]:
    """Default starting values plus warm starts from simpler candidates already fitted."""
    scale = evidence.typical_time()
    extra = list(evidence.extra_start())
    k = len(family.param_names)
    starts = [np.concatenate([family.start(s, 0.1), extra]) for s in (scale, 2.5 * scale)]
    plain = fitted.get(family.name)
    if family.delay and plain is not None and plain.converged:
        d = min(0.05 * scale, 0.5 * family.delay_upper)
        starts.insert(0, np.concatenate([plain.theta[:k], [d], plain.theta[k:]]))
    wb = fitted.get("weibull+delay" if family.delay else "weibull")
    if family.name == "mixture" and wb is not None and wb.converged:
        lam, rho = wb.theta[0], wb.theta[1]
        rest = list(wb.theta[2:])  # delay (if any) then extras
        for frac, ratio in ((0.1, 10.0), (0.3, 4.0)):
            head = [0.8 * lam, max(rho, 0.8), frac, ratio * lam]
            starts.insert(0, np.asarray(head + rest, dtype=float))
    return starts


def start_sources(name: str) -> tuple[str, ...]:
    """The candidates whose fits :func:`_starts` draws starting values from for candidate ``name``.

    A delay form starts from its plain form's optimum; a mixture from the Weibull's (with the
    same delay or none). Fitting a subset of candidates that holds these gives each of them the
    same starts, and so the same optimum, as fitting them all.
    """
    base, _, suffix = name.partition("+")
    out = [base] if suffix else []
    if base == "mixture":
        out.append(f"weibull+{suffix}" if suffix else "weibull")
    return tuple(out)


def fit_candidate(
    evidence: Any,
    name: str,
    *,
    level: float,
    fitted: dict[str, Candidate] | None = None,
    warm: Sequence[np.ndarray] = (),
    precise: bool = True,
) -> Candidate:
    """Maximum-likelihood fit of one candidate family to the evidence.

    ``warm``: extra starting values tried first; ``precise=False`` with a warm start gives a
    quick refit to a few significant digits (used for sensitivity refits).
    """
    family = make_family(name, level=level)
    if family.delay:
        family.delay_upper = float(evidence.delay_upper())
        if not family.delay_upper > 0:
            return Candidate(name, family, np.full(family.n_params + len(evidence.extra_names), np.nan), -math.inf, 0, False)
    space = _space(family, evidence)
    starts = [*warm] if (warm and not precise) else [*warm, *_starts(family, evidence, fitted or {})]
    hinv = None
    if len(starts) > 1 and hasattr(evidence, "as_batch"):
        # every start at once (one vectorised likelihood per step), then polish the best
        batch = evidence.as_batch(len(starts))
        th, ll, hi = maximize_batch(
            lambda t, rows: batch.loglik(family, t, rows),
            space,
            np.asarray(starts, dtype=float),
            maxiter=200,
            return_hess_inv=True,
        )
        if np.isfinite(ll).any():
            i = int(np.argmax(np.where(np.isfinite(ll), ll, -np.inf)))
            starts, hinv = [th[i]], hi[i]
    res = maximize(
        lambda th: evidence.loglik(family, th),
        space,
        starts,
        precise=precise,
        hess_inv0=hinv,
        polish_only=hinv is not None,
        loglik_many=batch_loglik(evidence, family, 2 * len(starts[0])),
    )
    k = family.n_params + len(evidence.extra_names) + len(evidence.profiled_names)
    ok = res.converged and math.isfinite(res.loglik) and not bool(degenerate(family, evidence, res.theta))
    return Candidate(name, family, res.theta, res.loglik, k, ok)


def batch_loglik(evidence: Any, family: RecoveryFamily, n: int) -> Callable[[np.ndarray], np.ndarray] | None:
    """``thetas (m, k) → log-likelihoods (m,)`` of the observed data, m ≤ ``n``, in one vectorised call.

    For the optimiser's finite-difference gradients (:func:`~analysis.recovery._optim.maximize`);
    None for evidence without a batch form of its own likelihood (its reports repeated).
    """
    if not isinstance(evidence, ReportEvidence):
        return None
    batch = evidence.as_batch(n)
    return lambda th: batch.loglik(family, th, np.arange(th.shape[0]))


def fit_candidates(
    evidence: Any,
    names: Sequence[str],
    *,
    level: float,
    warm: Mapping[str, np.ndarray] | None = None,
    skip: Collection[str] = (),
) -> list[Candidate]:
    """Fit each named candidate; plain families first so their fits warm-start the richer ones.

    ``warm``: a start per family tried with the others (a nested model's optimum, such as
    the fit without a noticing ramp for the fit with one). ``skip``: candidates left unfitted
    (not converged, no weight); they keep their place in the list, so that whatever is
    numbered by candidate (the bootstrap's seeds) is the same as with every one fitted.
    """
    order = sorted(names, key=lambda n: ("+" in n, n.startswith("mixture")))
    fitted: dict[str, Candidate] = {}
    for n in order:
        if n in skip:
            fam = make_family(n, level=level)
            fitted[n] = Candidate(n, fam, np.full(fam.n_params + len(evidence.extra_names), np.nan), -math.inf, 0, False)
            continue
        extra = [warm[n]] if warm is not None and n in warm else []
        fitted[n] = fit_candidate(evidence, n, level=level, fitted=fitted, warm=extra)
    return [fitted[n] for n in names]


def choose(cands: Sequence[Candidate], *, what: str, phi: float = 1.0) -> Candidate:
    """Return the converged candidate with the lowest AIC (QAIC = −2ℓ/φ + 2k when ``phi`` > 1)."""
    ok = [c for c in cands if c.converged and math.isfinite(c.aic)]
    if not ok:
        tried = ", ".join(c.name for c in cands)
        raise FitError(f"{what}: no recovery family could be fitted (tried {tried})")
    return min(ok, key=lambda c: -2.0 * c.loglik / phi + 2.0 * c.n_params)


def candidate_table(cands: Sequence[Candidate], *, phi: float = 1.0) -> pl.DataFrame:
    """One row per candidate, best first.

    Columns: family, n_params, log_likelihood, aic, delta_aic, qaic (−2ℓ/φ + 2k, equal to
    aic when φ = 1), delta_qaic, akaike_weight (from the criterion used for the choice:
    QAIC), t50/t90 minutes, converged.
    """

    def deltas(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        best = np.min(v) if np.isfinite(v).any() else math.nan
        d = v - best
        w = np.where(np.isfinite(d), np.exp(-0.5 * np.where(np.isfinite(d), d, 0.0)), 0.0)
        return d, (w / w.sum() if w.sum() > 0 else w)

    aics = np.array([c.aic if c.converged else math.inf for c in cands])
    qaics = np.array(
        [-2.0 * c.loglik / phi + 2.0 * c.n_params if c.converged and math.isfinite(c.loglik) else math.inf for c in cands]
    )
    delta, _ = deltas(aics)
    qdelta, w = deltas(qaics)
    rows = []
    for c, d, qd, q, wi in zip(cands, delta, qdelta, qaics, w, strict=True):
        k = c.family.n_params
        good = c.converged and np.all(np.isfinite(c.theta))
        t50 = float(c.family.quantile(0.5, c.theta[:k])) if good else math.nan
        t90 = float(c.family.quantile(0.9, c.theta[:k])) if good else math.nan
        rows.append(
            {
                "family": c.name,
                "n_params": c.n_params,
                "log_likelihood": c.loglik if math.isfinite(c.loglik) else math.nan,
                "aic": c.aic if math.isfinite(c.aic) else math.nan,
                "delta_aic": float(d) if math.isfinite(d) else math.nan,
                "qaic": float(q) if math.isfinite(q) else math.nan,
                "delta_qaic": float(qd) if math.isfinite(qd) else math.nan,
                "akaike_weight": float(wi),
                "t50_minutes": t50,
                "t90_minutes": t90,
                "converged": bool(c.converged),
            }
        )
    return pl.DataFrame(rows).sort("qaic", nulls_last=True)


@dataclass(frozen=True, eq=False)
class BootResult:
    """Replicate parameter vectors (S, extras, profiled) and how many refits failed."""

    theta: np.ndarray
    n_failed: int
    seconds: float


def _second_start(family: RecoveryFamily, evidence: Any, theta: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """The bootstrap refits' second start and whether it is warm (refitted with the estimate's curvature), or None.

    Families whose likelihood can be multimodal (a delay, a mixture, nuisance parameters) are
    refitted from two starts, the better optimum kept per replicate. For crowd reports fitted
    with a mixture and a delay and no nuisance parameter (where a refit from the default start
    is slowest) a replicate's other optimum usually lies next door,
    its delay about one bin earlier with a longer scale: the second start is then the estimate
    with its delay one bin earlier, refitted warm like the first, and :func:`bootstrap` checks
    it against the default start on a pilot of the replicates. Otherwise the default start, cold.
    """
    k = family.n_params
    d = float(theta[k - 1]) if family.delay else 0.0
    if family.delay and family.has_tail and d > 0 and isinstance(evidence, ReportEvidence) and not evidence.extra_names:
        j = int(np.clip(np.searchsorted(evidence.edges, d, side="right") - 1, 0, evidence.widths.size - 1))
        start = np.array(theta, dtype=float)
        start[k - 1] = max(d - float(evidence.widths[j]), 0.5 * d)
        return start, True
    if family.delay or family.has_tail or evidence.extra_names:
        return _starts(family, evidence, {})[0], False
    return None


def _refit_rows(
    batch: Any,
    family: RecoveryFamily,
    space: JointSpace,
    h0: np.ndarray | None,
    *,
    plan: Sequence[tuple[np.ndarray, bool]],
    reps: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Refit replicates ``reps`` from every start of ``plan`` (start, warm) in one vectorised run: ``(m, r, k)``, ``(m, r)``.

    Rows are independent (each keeps its own search state), so a replicate's refit from a
    start is the same whether it runs with others or alone.
    """
    m, r = len(plan), reps.size
    theta0 = np.vstack([np.tile(s, (r, 1)) for s, _ in plan])
    warm = np.repeat([w for _, w in plan], r)

    def f(th: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return batch.loglik(family, th, reps[rows % r])

    def fg(th: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        return batch.loglik_grad(family, th, reps[rows % r]) if hasattr(batch, "loglik_grad") else None

    th, ll = maximize_batch(f, space, theta0, hess_inv0=h0, warm=warm, maxiter=BOOT_MAXITER, ftol=BOOT_FTOL, loglik_grad=fg)
    return th.reshape(m, r, -1), ll.reshape(m, r)


def _best_of(th: np.ndarray, ll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per replicate, the refit with the highest finite log-likelihood among the starts (the first on ties)."""
    best = np.argmax(np.where(np.isfinite(ll), ll, -np.inf), axis=0)
    cols = np.arange(ll.shape[1])
    return th[best, cols], ll[best, cols]


def bootstrap(evidence: Any, chosen: Candidate, *, n_boot: int, seed: int) -> BootResult:
    """Refit the chosen family to ``n_boot`` data sets drawn by ``evidence.simulate_batch``.

    All replicates are refitted together by a vectorised BFGS (one likelihood evaluation
    covers every replicate), first from the original estimate with its inverse Hessian
    (warm start), then — for families whose likelihood can be multimodal (a delay, a
    mixture, nuisance parameters) — from a second start as well (:func:`_second_start`),
    keeping the better of the two per replicate. Replicates whose refit fails are dropped and counted.
    """
    t0 = time.perf_counter()
    family = chosen.family
    if n_boot == 0:
        return BootResult(np.empty((0, chosen.theta.size + len(evidence.profiled_names))), 0, 0.0)
    space = _space(family, evidence)
    rng = np.random.default_rng(seed)
    sim_theta = chosen.theta
    h0 = None
    hess = free_hessian(lambda th: evidence.loglik(family, th), space, chosen.theta)
    with np.errstate(all="ignore"):
        try:
            inv = np.linalg.inv(-hess)
            if np.all(np.isfinite(inv)) and np.all(np.linalg.eigvalsh(0.5 * (inv + inv.T)) > 0):
                h0 = 0.5 * (inv + inv.T)
        except np.linalg.LinAlgError:
            h0 = None

    second = _second_start(family, evidence, chosen.theta)
    default = _starts(family, evidence, {})[0]

    def refit(batch: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
        reps = np.arange(n)
        cold = (default, False)
        if second is None or not second[1]:
            plan = [(chosen.theta, True), *([second] if second is not None else [])]
            return _best_of(*_refit_rows(batch, family, space, h0, plan=plan, reps=reps))
        # a warm second start is checked first, on a pilot of the replicates, against the
        # default start; when that finds a better optimum in any of them, the other replicates
        # are refitted from the estimate and the default start, as without a warm second start
        # (a delay loosely pinned by few reports: replicates' optima scatter into basins that
        # only a start far away reaches), else from the estimate and the warm second start
        pilot, rest = reps[: min(n, max(PILOT_MIN, n // 8))], reps[min(n, max(PILOT_MIN, n // 8)) :]
        tp, lp = _refit_rows(batch, family, space, h0, plan=[(chosen.theta, True), second, cold], reps=pilot)
        near = np.max(np.where(np.isfinite(lp[:2]), lp[:2], -np.inf), axis=0)
        far = np.where(np.isfinite(lp[2]), lp[2], -np.inf)
        th, ll = _best_of(tp, lp)
        if rest.size:
            plan = [(chosen.theta, True), cold if np.any(far - near > PILOT_GAIN) else second]
            tr, lr = _best_of(*_refit_rows(batch, family, space, h0, plan=plan, reps=rest))
            th, ll = np.concatenate([th, tr]), np.concatenate([ll, lr])
        return th, ll

    if hasattr(evidence, "simulation_theta"):
        # nuisance parameters of the noise are biased low when a curve is fitted through the
        # same data; a pilot bootstrap measures that bias and the main one simulates from
        # the corrected values (one round of bootstrap bias correction)
        n_pilot = max(50, n_boot // 4)
        pilot, ll_p = refit(evidence.simulate_batch(family, chosen.theta, rng, n_pilot), n_pilot)
        sim_theta = evidence.simulation_theta(family, chosen.theta, pilot[np.isfinite(ll_p)])
    batch = evidence.simulate_batch(family, sim_theta, rng, n_boot)
    theta, ll = refit(batch, n_boot)
    ok = np.isfinite(ll) & np.all(np.isfinite(theta), axis=1)
    # a refit whose scale or shape ran off to a flat end is degenerate, as in the main fit:
    # dropped and counted as failed (a delay or a fraction at its bound is a real answer, kept)
    ok &= ~degenerate(family, evidence, theta)
    prof = batch.profiled(family, theta)
    out = np.concatenate([theta, prof], axis=1)[ok]
    return BootResult(out, int((~ok).sum()), time.perf_counter() - t0)
