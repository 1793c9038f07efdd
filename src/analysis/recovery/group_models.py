"""The joint models of :func:`~analysis.recovery.groups.fit_by_group`: their parameter space, fits, bootstrap and test.

The models ``equal``, ``shared_shape`` and ``separate`` differ only in which parameters a
group owns (:class:`GroupSpace`); :func:`fit_group_models` fits all three, each from the
optimum of the smaller ones, and :func:`_equal_test` compares the chosen one with ``equal``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from analysis.recovery._optim import JointSpace, free_hessian, maximize, maximize_batch
from analysis.recovery.bounds import from_free, to_free
from analysis.recovery.dispersion import MIN_DF, allocated_counts, pearson_cells
from analysis.recovery.engine import batch_loglik, degenerate, fit_candidate
from analysis.recovery.evidence import ReportEvidence
from analysis.recovery.families import RecoveryFamily, make_family


@dataclass(frozen=True, eq=False)
class GroupSpace:
    """Stacked per-group parameter vectors ↔ a free vector with shared blocks.

    The natural vector stacks each group's full vector (S parameters then nuisance), so
    ``theta.reshape(G, k)[g]`` is group g's; ``own[j]`` says whether parameter j is
    group-specific (G free values) or shared (one).
    """

    family: RecoveryFamily
    extra_bounds: tuple[tuple[float, float], ...]
    n_groups: int
    own: np.ndarray

    @property
    def k(self) -> int:
        """Parameters per group."""
        return self.family.n_params + len(self.extra_bounds)

    def _group_free(self, th: np.ndarray) -> np.ndarray:
        kf = self.family.n_params
        parts = [self.family.to_free(th[..., :kf])]
        parts += [to_free(th[..., kf + i], lo, hi)[..., None] for i, (lo, hi) in enumerate(self.extra_bounds)]
        return np.concatenate(parts, axis=-1)

    def _group_natural(self, u: np.ndarray) -> np.ndarray:
        kf = self.family.n_params
        parts = [self.family.from_free(u[..., :kf])]
        parts += [from_free(u[..., kf + i], lo, hi)[..., None] for i, (lo, hi) in enumerate(self.extra_bounds)]
        return np.concatenate(parts, axis=-1)

    def to_free(self, theta: np.ndarray) -> np.ndarray:
        """Stacked natural → free (shared parameters taken from the first group)."""
        theta = np.asarray(theta, dtype=float)
        lead = theta.shape[:-1]
        u = self._group_free(theta.reshape(*lead, self.n_groups, self.k))
        cols = []
        for j in range(self.k):
            cols.append(u[..., :, j] if self.own[j] else u[..., :1, j])
        return np.concatenate(cols, axis=-1)

    def from_free(self, u: np.ndarray) -> np.ndarray:
        """Free → stacked natural."""
        u = np.asarray(u, dtype=float)
        lead = u.shape[:-1]
        full = np.empty((*lead, self.n_groups, self.k))
        i = 0
        for j in range(self.k):
            if self.own[j]:
                full[..., :, j] = u[..., i : i + self.n_groups]
                i += self.n_groups
            else:
                full[..., :, j] = u[..., i : i + 1]
                i += 1
        return self._group_natural(full).reshape(*lead, self.n_groups * self.k)

    @property
    def n_free(self) -> int:
        """Number of free parameters."""
        return int(sum(self.n_groups if o else 1 for o in self.own))


def _group_loglik(ev: ReportEvidence, family: RecoveryFamily, theta: np.ndarray) -> float:
    """One group's log-likelihood."""
    return ev.loglik(family, theta)


def _fit_separately(
    evs: dict[str, ReportEvidence], names: list[str], name: str, level: float, starts: Sequence[np.ndarray]
) -> tuple[np.ndarray, float, dict[str, bool]]:
    """Maximise the ``separate`` model group by group: stacked parameters, summed log-likelihood, convergence per group.

    With every parameter the group's own, the joint log-likelihood is a sum of independent
    terms, so its maximum is each group's maximum, and a search over k parameters G times
    costs a fraction of one over all G·k (each numerical gradient evaluates one group, not
    all of them). A delay or a mixture makes the likelihood multimodal, so each group is
    searched from its part of the stacked ``starts`` (the equal and shared-shape fits) and,
    as a group fitted alone, from the default starts; the better optimum is kept.
    """
    family = make_family(name, level=level)
    family.delay_upper = float(evs[names[0]].delay_upper())
    space = JointSpace(family, tuple(evs[names[0]].extra_bounds))
    k = len(starts[0]) // len(names)
    parts, total = [], 0.0
    converged: dict[str, bool] = {}
    for i, g in enumerate(names):
        ev = evs[g]
        warm = maximize(
            partial(_group_loglik, ev, family),
            space,
            [np.reshape(s, (len(names), k))[i] for s in starts],
            loglik_many=batch_loglik(ev, family, 2 * k),
        )
        alone = fit_candidate(ev, name, level=level)
        if alone.loglik > warm.loglik:
            theta, ll, ok = alone.theta, alone.loglik, alone.converged
        else:
            theta, ll = warm.theta, warm.loglik
            ok = warm.converged and math.isfinite(ll) and not bool(degenerate(family, ev, theta))
        parts.append(theta)
        total += ll
        converged[g] = bool(ok)
    return np.concatenate(parts), total, converged


def _bootstrap_groups(
    evs: dict[str, ReportEvidence],
    names: list[str],
    family: RecoveryFamily,
    space: GroupSpace,
    *,
    theta: np.ndarray,
    joint_ll: Any,
    n_boot: int,
    seed: int,
) -> np.ndarray:
    """Replicates of every group's (parameters, A), refitted jointly; rows with failed refits dropped."""
    if n_boot == 0:
        return np.empty((0, 0))
    rng = np.random.default_rng(seed)
    k = space.k
    parts = theta.reshape(len(names), k)
    batches = [evs[g].simulate_batch(family, parts[i], rng, n_boot) for i, g in enumerate(names)]

    def f(th: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return np.asarray(sum(b.loglik(family, th[:, i * k : (i + 1) * k], rows) for i, b in enumerate(batches)))

    h0 = None
    if space.n_free <= 15:
        with np.errstate(all="ignore"):
            try:
                inv = np.linalg.inv(-free_hessian(joint_ll, space, theta))
                if np.all(np.isfinite(inv)) and np.all(np.linalg.eigvalsh(0.5 * (inv + inv.T)) > 0):
                    h0 = 0.5 * (inv + inv.T)
            except np.linalg.LinAlgError:
                h0 = None
    th, ll = maximize_batch(f, space, np.tile(theta, (n_boot, 1)), hess_inv0=h0, maxiter=80)
    ok = np.isfinite(ll) & np.all(np.isfinite(th), axis=1)
    cols = []
    for i, b in enumerate(batches):
        p = th[:, i * k : (i + 1) * k]
        cols += [p, b.profiled(family, p)]
    return np.concatenate(cols, axis=1)[ok]


def interaction_dispersion(
    evs: dict[str, ReportEvidence], names: Sequence[str], family: RecoveryFamily, parts: np.ndarray, n_curve: int
) -> tuple[float, int]:
    """Pearson X²/df of the group × time interaction left by the groups' own fits.

    The quasi-likelihood test needs the variance of the counts around the *larger* model
    (McCullagh & Nelder, §4.5): measured around one pooled curve, regions that truly
    differ inflate it with their difference and the test loses its power. Around the
    groups' own curves a second excess remains that is no noise either: what every group
    shares and no family captures — a daily rhythm unlike the assumed one, a shape between
    the candidates. It multiplies every group's intensity alike, so each time cell gets a
    free common factor β_c (and each group a free total α_g), fitted to the counts as the
    Poisson log-linear model μ_gc = μ̂_gc·exp(α_g + β_c) by iterative proportional
    fitting. What is left is the group × time interaction: clumping of the reports, and
    differences between groups the family cannot take. Cells are consecutive bins merged
    until every group expects :data:`~analysis.recovery.dispersion.MIN_EXPECTED` reports
    and the cell spans :data:`~analysis.recovery.dispersion.MIN_CELL_MINUTES`; windowed
    reports are allocated to bins in proportion to each group's fit.

    Parameters
    ----------
    evs, names
        The groups' evidence, in the order of ``parts``.
    family : RecoveryFamily
    parts : numpy.ndarray
        ``(G, k)``: each group's fitted parameters (curve then nuisance).
    n_curve : int
        Curve parameters fitted per group (k of the separate model).

    Returns
    -------
    (float, int)
        X²/df and df = (G − 1)·(cells − 1 − n_curve); NaN when df < ``MIN_DF``.
    """
    mus = [evs[g].expected(family, parts[i]) for i, g in enumerate(names)]
    obs = []
    for g, mu in zip(names, mus, strict=True):
        exact, alloc = allocated_counts(evs[g], mu)
        obs.append(exact + alloc)
    cell = pearson_cells(np.min(np.vstack(mus), axis=0), evs[names[0]].widths)
    n_cells = int(cell[-1]) + 1
    o = np.vstack([np.bincount(cell, weights=x, minlength=n_cells) for x in obs])
    e = np.vstack([np.bincount(cell, weights=mu, minlength=n_cells) for mu in mus])
    df = (len(names) - 1) * (n_cells - 1 - n_curve)
    if df < MIN_DF:
        return math.nan, max(df, 0)
    fit = np.maximum(e, 1e-300)
    for _ in range(200):
        fit = fit * (o.sum(axis=1) / fit.sum(axis=1))[:, None]
        col = np.divide(o.sum(axis=0), fit.sum(axis=0), out=np.ones(n_cells), where=fit.sum(axis=0) > 0)
        fit = fit * col[None, :]
        if np.max(np.abs(col - 1.0)) < 1e-10:
            break
    ok = fit > 0
    x2 = float(np.sum((o[ok] - fit[ok]) ** 2 / fit[ok]))
    return x2 / df, int(df)


def _equal_test(
    evs: dict[str, ReportEvidence],
    names: list[str],
    family: RecoveryFamily,
    space: GroupSpace,
    theta: np.ndarray,
    *,
    lr: float,
    df: int,
    chosen: str,
    pooled_phi: float,
    clumps: float,
) -> dict[str, Any]:
    """The equal-recovery test from the likelihood ratio ``lr`` of ``chosen`` against one common curve.

    The overdispersion φ dividing the statistic is measured around the larger model
    (:func:`interaction_dispersion`), never around the pooled curve, whose lack of fit
    grows with the very difference being tested (with it, LR/φ stays bounded however many
    reports there are). Curated statements keep their clump index ΣK²/ΣK when it is larger
    (clumps of identical statements are not noise a curve can absorb). With φ estimated by
    Pearson X² on ``df2`` degrees of freedom the reference is F(df, df2) for (LR/df)/φ
    (McCullagh & Nelder §4.5; the χ² reference ignores that φ is itself an estimate); with
    φ = 1 or a clump index it is χ²(df) for LR/φ.
    """
    phi_x, df2 = interaction_dispersion(evs, names, family, theta.reshape(len(names), space.k), int(space.own.sum()))
    phi, source = 1.0, "none"
    if math.isfinite(phi_x) and phi_x > 1.0:
        phi, source = phi_x, "pearson"
    if math.isfinite(clumps) and clumps > phi:
        phi, source = clumps, "clumps"
    stat = lr / phi
    if df <= 0:
        p = math.nan
    elif source == "pearson":
        p = float(stats.f.sf(stat / df, df, df2))
    else:
        p = float(stats.chi2.sf(stat, df))
    what = "likelihood ratio" if phi == 1.0 else f"quasi-likelihood ratio (divided by the overdispersion {phi:.2f})"
    return {
        "test": f"{what}: one recovery curve for all groups (each its own report rate) vs {chosen}",
        "statistic": stat,
        "p_value": p,
        "df": int(df),
        "dispersion": phi,
        "dispersion_source": source,
        "dispersion_df": int(df2),
        "dispersion_interaction": phi_x,
        "dispersion_pooled": pooled_phi,
        "reference": "F" if source == "pearson" else "chi2",
        "likelihood_ratio": lr,
    }


def fit_group_models(
    evs: dict[str, ReportEvidence],
    family: RecoveryFamily,
    base: np.ndarray,
    *,
    model: str,
    level: float,
    share_delay: bool,
) -> tuple[dict[str, tuple[GroupSpace, np.ndarray, float]], dict[str, bool], Callable[[np.ndarray], float]]:
    """Fit the ``equal``, ``shared_shape`` and ``separate`` models; (space, θ, log-likelihood) of each, convergence, joint ℓ.

    ``base`` is the pooled fit's parameter vector (one group's share), the start of every model.
    """
    names = list(evs)
    ev0 = evs[names[0]]
    kf = family.n_params
    k = kf + len(ev0.extra_names)
    big = len(names)

    def joint_ll(th: np.ndarray) -> float:
        parts = th.reshape(big, k)
        return float(sum(evs[g].loglik(family, parts[i]) for i, g in enumerate(names)))

    # the optimiser's finite-difference points (2 per free parameter at most) in one call per group
    batches = [evs[g].as_batch(2 * big * k) for g in names]

    def joint_many(th: np.ndarray) -> np.ndarray:
        parts = th.reshape(th.shape[0], big, k)
        rows = np.arange(th.shape[0])
        return sum((b.loglik(family, parts[:, i], rows) for i, b in enumerate(batches)), np.zeros(th.shape[0]))

    def space_for(mode: str) -> GroupSpace:
        own = np.zeros(k, dtype=bool)
        if mode == "separate":
            own[:] = True
            own[kf - 1] = not (share_delay and family.delay)
        elif mode == "shared_shape":
            own[0] = True
        return GroupSpace(family, tuple(ev0.extra_bounds), big, own)

    start = np.tile(base, big)
    fits: dict[str, tuple[GroupSpace, np.ndarray, float]] = {}
    converged: dict[str, bool] = {}
    for mode in ("equal", "shared_shape", "separate"):
        sp = space_for(mode)
        starts = [start]
        if mode != "equal" and "equal" in fits:
            starts.insert(0, fits["equal"][1])
        if mode == "separate" and "shared_shape" in fits:
            starts.insert(0, fits["shared_shape"][1])
        if mode == "separate" and sp.own.all():
            theta_sep, ll_sep, ok_sep = _fit_separately(evs, names, model, level, starts)
            fits[mode] = (sp, theta_sep, ll_sep)
            converged |= {f"separate: {g}": ok for g, ok in ok_sep.items()}
            continue
        res = maximize(joint_ll, sp, starts, loglik_many=joint_many)
        fits[mode] = (sp, res.theta, res.loglik)
        parts = res.theta.reshape(big, k)
        flat = [g for i, g in enumerate(names) if degenerate(family, evs[g], parts[i])]
        converged[mode] = bool(res.converged and math.isfinite(res.loglik))
        converged |= {f"{mode}: {g}": False for g in flat}
    return fits, converged, joint_ll


def model_table(fits: dict[str, tuple[GroupSpace, np.ndarray, float]], n_groups: int) -> pl.DataFrame:
    """Parameters, log-likelihood and AIC of each joint model (each group's report rate A counted)."""
    rows = []
    for mode, (sp, _, ll) in fits.items():
        npar = sp.n_free + n_groups  # plus each group's report rate A
        rows.append({"model": mode, "n_params": npar, "log_likelihood": ll, "aic": 2 * npar - 2 * ll})
    return pl.DataFrame(rows)
