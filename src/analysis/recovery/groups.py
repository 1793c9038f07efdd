"""Recovery per region (or any grouping of reports), partially pooled, with a test of equal recovery.

Every group's reports follow the report model of :mod:`analysis.recovery.reports` with its
own report rate A_g (groups differ in size and in how much they report). What the groups
share is decided by ``pooling``:

* ``"separate"``: each group its own S (all parameters);
* ``"shared_shape"`` (partial pooling): each group its own scale — the first parameter,
  e.g. Weibull λ or log-normal μ — with the shape (and delay, surge) shared, so a thin group
  borrows the curve's form from the others and only its timing is its own;
* ``"auto"``: ``"shared_shape"`` when any group has fewer than ``min_group_reports``
  reports, else ``"separate"``.

Sharing is done on the optimiser's free scale (log scale, logit fraction), which for every
family but the mixture is the same as sharing the natural parameter; for the mixture the
tail scale is shared as log(τ − λ).

The test of "the groups recovered alike" is a likelihood-ratio test of one common S (each
group still its own A) against the chosen pooling. Reports are often overdispersed
(clumps, bursts), so LR is divided by the dispersion φ measured around the *larger* model
— the Pearson X² of the group × time interaction left by the groups' own curves
(:func:`interaction_dispersion`) — and (LR/φ)/df is referred to F(df, df of φ); with φ = 1
(or a clump index of curated statements) LR/φ is referred to χ²(df). Measured around the
pooled curve instead, φ would absorb the very difference under test: its lack of fit
grows with the number of reports as fast as LR, and the test would have no power however
large the incident. Per-group intervals come from a parametric bootstrap of the joint
model, clumped like the pooled fit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy import stats

from analysis.errors import FitError, ParameterError
from analysis.recovery._optim import JointSpace, free_hessian, maximize, maximize_batch
from analysis.recovery._time import as_times, epoch_seconds, to_utc
from analysis.recovery.bounds import from_free, to_free
from analysis.recovery.dispersion import MIN_DF, Dispersion, Sampling, allocated_counts, clumping_for, pearson_cells
from analysis.recovery.engine import batch_loglik, degenerate, fit_candidate
from analysis.recovery.evidence import ReportEvidence
from analysis.recovery.families import RecoveryFamily, make_family
from analysis.recovery.propensity import check_propensity
from analysis.recovery.reports import (
    _resolution_seconds,
    _window_frame,
    build_report_evidence,
    fit_down_reports,
    report_diagnostics,
)
from analysis.recovery.result import RecoveryFit
from analysis.vocab import Pooling


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


@dataclass(frozen=True, eq=False)
class GroupFit:
    """Per-group recovery fits, the pooled fit, the model comparison and the equal-recovery test."""

    pooled: RecoveryFit
    groups: dict[str, RecoveryFit]
    pooling: str
    models: pl.DataFrame
    test: dict[str, Any]
    n_reports: dict[str, float]
    skipped: dict[str, str] = field(default_factory=dict)
    converged: dict[str, bool] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        """The fits that did not converge (``"equal"``, ``"shared_shape"``, ``"separate"``) and ``"<fit>: <group>"`` where a group's parameters ran off."""
        return [what for what, ok in self.converged.items() if not ok]

    @property
    def table(self) -> pl.DataFrame:
        """One row per group: reports, t50/t90 with intervals (minutes after onset)."""
        rows = []
        for g, f in self.groups.items():
            t50, t90 = f.t50, f.t90
            rows.append(
                {
                    "group": g,
                    "n_reports": self.n_reports[g],
                    "t50_minutes": t50.value,
                    "t50_low": t50.low,
                    "t50_high": t50.high,
                    "t90_minutes": t90.value,
                    "t90_low": t90.low,
                    "t90_high": t90.high,
                }
            )
        return pl.DataFrame(rows)

    def to_metrics(self) -> dict[str, Any]:
        """``{group: {n_reports, model, t50_minutes, t50_minutes_ci, ...}}`` for metrics.json ``regions``."""
        out: dict[str, Any] = {}
        for g, f in self.groups.items():
            m = f.to_metrics()
            keep = [k for k in m if k.startswith(("t50", "t90", "t99", "mean_outage", "tail_fraction"))]
            out[g] = {"n_reports": self.n_reports[g], "model": m["model"], **{k: m[k] for k in keep}}
        return out


def _dispersion(info: dict[str, Any], phi: float) -> Dispersion:
    """The pooled fit's dispersion as a :class:`Dispersion` (for the groups' clumped bootstrap)."""

    def num(x: Any) -> float:
        return float(x) if x is not None else math.nan

    return Dispersion(
        phi,
        num(info.get("pearson")),
        int(info.get("pearson_df") or 0),
        num(info.get("clump_index")),
        int(info.get("n_groups") or 0),
        str(info.get("source") or "none") if phi > 1.0 else "none",
    )


class _Labels:
    """Group labels as integer codes (``codes``) into the sorted distinct names (``names``).

    Selecting a group compares small integers, not ten million strings.
    """

    def __init__(self, values: Any, n: int, name: str) -> None:
        if isinstance(values, pl.Series):
            series = values
        else:
            arr = np.asarray(list(values), dtype=object)
            if any(v is None for v in arr):
                raise ParameterError(f"{name}: missing group label(s); drop or label those reports first")
            series = pl.Series(name, arr.astype(str), dtype=pl.String)
        if series.len() != n:
            raise ParameterError(f"{name}: {series.len()} labels for {n} reports")
        if series.null_count():
            raise ParameterError(f"{name}: missing group label(s); drop or label those reports first")
        text = series.cast(pl.String)
        self.names: list[str] = sorted(text.unique().to_list())
        self.codes = text.cast(pl.Enum(self.names)).to_physical().to_numpy()

    def of(self, group: str) -> np.ndarray:
        """Mask of the reports in ``group`` (all False for a group without reports here)."""
        if group not in self.names:
            return np.zeros(self.codes.size, dtype=bool)
        return self.codes == self.names.index(group)


def fit_by_group(
    times: Any,
    groups: Any,
    *,
    onset: dt.datetime | None,
    end: dt.datetime,
    windows: pl.DataFrame | None = None,
    timezone: str = "Europe/Brussels",
    propensity: Sequence[float] | None = None,
    families: Sequence[str] | Literal["all"] = "all",
    pooling: Pooling = "auto",
    min_group_reports: int = 30,
    level: float = 0.9,
    bin_minutes: float = 5.0,
    n_boot: int = 200,
    seed: int = 0,
    surge: bool = False,
    sampling: Sampling = "spontaneous",
    share_delay: bool = False,
    delay_profile: bool = True,
) -> GroupFit:
    """Fit the recovery curve per group of reports (e.g. region), partially pooled.

    Parameters
    ----------
    times : array-like
        Exactly-timed report times (UTC datetimes or minutes after onset).
    groups : array-like of str
        Group label of each report (same length as ``times``).
    windows : polars DataFrame, optional
        Windowed reports as in :func:`fit_down_reports`, with a ``group`` column.
    families : "all" or sequence of str
        Candidates for the pooled fit; its AIC choice is used for every group.
    pooling : {"auto", "shared_shape", "separate"}
        What groups share (module docstring).
    min_group_reports : int
        Threshold for ``pooling="auto"``; groups with fewer than 3 reports are skipped.
    share_delay : bool
        Keep the delay shared in the ``separate`` model too (families with a delay): the
        groups' curves after one common start are compared. With a shape below 1 the
        intensity spikes at the delay, which then behaves as a change point (no regular
        likelihood asymptotics), and per-group delays make the likelihood-ratio statistic
        larger than its χ² reference under equal recovery.
    delay_profile : bool
        Profile the pooled fit's delay (``pooled.identifiability``); a caller that needs
        only the test skips it.
    onset, end, timezone, propensity, level, bin_minutes, n_boot, seed, surge, sampling
        As in :func:`fit_down_reports`. The overdispersion φ measured on the pooled fit
        is reproduced by the groups' bootstrap; the test divides its likelihood ratio by
        the φ measured around the chosen (larger) model instead (module docstring).

    Returns
    -------
    GroupFit
        ``groups`` maps each label to a :class:`RecoveryFit`; ``test`` is
        ``{test, statistic, p_value, df, dispersion, dispersion_source, dispersion_df,
        dispersion_interaction, dispersion_pooled, reference, likelihood_ratio}``
        (``statistic`` = LR/φ; ``reference`` "F" or "chi2"); ``converged`` says which
        fits converged (``"equal"``, ``"shared_shape"``, ``"separate: <group>"``).
    """
    if pooling not in ("auto", "shared_shape", "separate"):
        raise ParameterError(f"pooling must be 'auto', 'shared_shape' or 'separate', got {pooling!r}")
    if not isinstance(min_group_reports, int) or min_group_reports < 3:
        raise ParameterError(f"min_group_reports must be an integer >= 3, got {min_group_reports!r}")
    pooled = fit_down_reports(
        times,
        onset=onset,
        end=end,
        windows=windows.drop("group") if windows is not None and "group" in windows.columns else windows,
        timezone=timezone,
        propensity=propensity,
        families=families,
        level=level,
        bin_minutes=bin_minutes,
        n_boot=n_boot,
        seed=seed,
        surge=surge,
        sampling=sampling,
        noticing=False,  # the comparison is of S alone: a noticing factor per group would be a nuisance df each
        delay_profile=delay_profile,
    )
    phi = max(1.0, float(pooled.dispersion))
    disp_info = dict(pooled.identifiability.get("dispersion") or {})
    kind, vals = as_times(times, "times")
    labels = _Labels(groups, vals.size, "groups")
    onset_s = epoch_seconds(pooled.onset)
    horizon = (epoch_seconds(to_utc(end, "end")) - onset_s) / 60.0
    minutes = (vals - onset_s) / 60.0 if kind == "epoch" else vals
    epoch = vals if kind == "epoch" else onset_s + vals * 60.0
    wl = None
    ws = we = wc = None
    if windows is not None and windows.height:
        if "group" not in windows.columns:
            raise ParameterError("windows: a 'group' column is needed to fit by group")
        ws, we, wc = _window_frame(windows, onset_s)
        wl = _Labels(windows.get_column("group"), windows.height, "windows.group")
    g_profile = check_propensity(propensity)
    evs: dict[str, ReportEvidence] = {}
    n_rep: dict[str, float] = {}
    skipped: dict[str, str] = {}
    all_labels = sorted(set(labels.names) | (set(wl.names) if wl is not None else set()))
    for g in all_labels:
        sel = labels.of(g)
        wsel = wl.of(g) if wl is not None else None
        ev, _ = build_report_evidence(
            minutes[sel],
            horizon=horizon,
            onset_epoch=onset_s,
            win_start=ws[wsel] if wsel is not None else None,
            win_end=we[wsel] if wsel is not None else None,
            win_count=wc[wsel] if wsel is not None else None,
            timezone=timezone,
            propensity=g_profile,
            bin_minutes=float(bin_minutes),
            surge=surge,
            seed=seed,
        )
        if ev.n_obs < 3:
            skipped[g] = f"{ev.n_obs:g} report(s) in the observation period; at least 3 are needed"
            continue
        evs[g] = replace(ev, clumping=clumping_for(ev, _dispersion(disp_info, phi)))
        n_rep[g] = ev.n_obs
    if len(evs) < 2:
        raise FitError(f"fit_by_group: {len(evs)} group(s) with at least 3 reports; need 2 or more to compare")
    names = list(evs)
    thin = [g for g in names if n_rep[g] < min_group_reports]
    chosen: str = ("shared_shape" if thin else "separate") if pooling == "auto" else pooling
    family = make_family(pooled.model, level=level)
    family.delay_upper = 0.999 * horizon
    ev0 = evs[names[0]]
    kf = family.n_params
    k = kf + len(ev0.extra_names)
    base = pooled.theta[:k]
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
            theta_sep, ll_sep, ok_sep = _fit_separately(evs, names, pooled.model, level, starts)
            fits[mode] = (sp, theta_sep, ll_sep)
            converged |= {f"separate: {g}": ok for g, ok in ok_sep.items()}
            continue
        res = maximize(joint_ll, sp, starts, loglik_many=joint_many)
        fits[mode] = (sp, res.theta, res.loglik)
        parts = res.theta.reshape(big, k)
        flat = [g for i, g in enumerate(names) if degenerate(family, evs[g], parts[i])]
        converged[mode] = bool(res.converged and math.isfinite(res.loglik))
        converged |= {f"{mode}: {g}": False for g in flat}
    rows = []
    for mode, (sp, _, ll) in fits.items():
        npar = sp.n_free + big  # plus each group's report rate A
        rows.append({"model": mode, "n_params": npar, "log_likelihood": ll, "aic": 2 * npar - 2 * ll})
    models = pl.DataFrame(rows)
    sp1, th1, ll1 = fits[chosen]
    sp0, _, ll0 = fits["equal"]
    test = _equal_test(
        evs, names, family, sp1, th1, lr=max(0.0, 2.0 * (ll1 - ll0)), df=sp1.n_free - sp0.n_free, chosen=chosen,
        pooled_phi=phi, clumps=float(disp_info.get("clump_index") or math.nan) if sampling == "curated" else math.nan,
    )  # fmt: skip
    boot = _bootstrap_groups(evs, names, family, sp1, theta=th1, joint_ll=joint_ll, n_boot=n_boot, seed=seed)
    out: dict[str, RecoveryFit] = {}
    parts = th1.reshape(big, k)
    for i, g in enumerate(names):
        ev = evs[g]
        theta_g = np.concatenate([parts[i], ev.profiled(family, parts[i])])
        tb = boot[:, i * (k + 1) : (i + 1) * (k + 1)] if boot.size else np.empty((0, k + 1))
        sel = labels.of(g)
        diag = report_diagnostics(
            ev, family, parts[i], onset=pooled.onset, level=level, seed=seed, resolution_s=_resolution_seconds(epoch[sel])
        )
        out[g] = RecoveryFit(
            kind="down_reports",
            model=pooled.model,
            family=family,
            theta=theta_g,
            theta_boot=tb,
            param_names=(*family.all_param_names, *ev.extra_names, *ev.profiled_names),
            level=float(level),
            onset=pooled.onset,
            onset_source=pooled.onset_source,
            onset_ci=pooled.onset_ci,
            end=pooled.end,
            timezone=timezone,
            candidates=models,
            interval_method=f"parametric bootstrap of the joint {chosen} model, {tb.shape[0]} replicates, percentile intervals"
            + (f"; reports simulated in clumps (overdispersion {phi:.1f})" if phi > 1.0 else ""),
            dispersion=phi,
            log_likelihood=ev.loglik(family, parts[i]),
            aic=math.nan,
            n_observations=ev.n_obs,
            diagnostics=diag,
            notes=(f"pooling: {chosen}",),
        )
    return GroupFit(pooled, out, chosen, models, test, n_rep, skipped, converged)


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
            lambda th, ev=ev: ev.loglik(family, th),
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
        return sum(b.loglik(family, th[:, i * k : (i + 1) * k], rows) for i, b in enumerate(batches))

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
