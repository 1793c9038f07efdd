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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from analysis.errors import FitError, ParameterError
from analysis.recovery.dispersion import Dispersion, clumping_for
from analysis.recovery.evidence import ReportEvidence
from analysis.recovery.families import RecoveryFamily, make_family
from analysis.recovery.group_models import _bootstrap_groups, _equal_test, fit_group_models, model_table
from analysis.recovery.propensity import check_propensity
from analysis.recovery.report_input import GROUP_OPTIONS, ReportOptions, report_clock, window_frame
from analysis.recovery.reports import (
    _resolution_seconds,
    build_report_evidence,
    fit_down_reports,
    report_diagnostics,
)
from analysis.recovery.result import RecoveryFit
from analysis.vocab import Pooling


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
    pooling: Pooling = "auto",
    min_group_reports: int = 30,
    share_delay: bool = False,
    options: ReportOptions | None = None,
    **keywords: Any,
) -> GroupFit:
    """Fit the recovery curve per group of reports (e.g. region), partially pooled.

    Parameters
    ----------
    times : array-like
        Exactly-timed report times (UTC datetimes or minutes after onset).
    groups : array-like of str
        Group label of each report (same length as ``times``).
    onset, end, windows
        As in :func:`fit_down_reports`, the windowed reports with a ``group`` column.
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
    options, **keywords
        The options of the pooled fit (:class:`ReportOptions`, the fields in
        ``GROUP_OPTIONS``: ``timezone`` to ``delay_profile``), as in :func:`fit_down_reports`;
        ``families`` are the pooled fit's candidates, whose choice is used for every group,
        and ``delay_profile=False`` skips profiling its delay when only the test is needed.
        The groups' bootstrap reproduces the pooled fit's overdispersion φ (the test's φ:
        module docstring).

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
    opts = ReportOptions.of("fit_by_group", options, keywords, allowed=GROUP_OPTIONS)
    # the comparison is of S alone: a noticing factor per group would be a nuisance df each
    pooled_windows = windows.drop("group") if windows is not None and "group" in windows.columns else windows
    pooled = fit_down_reports(times, onset=onset, end=end, windows=pooled_windows, options=replace(opts, noticing=False))
    phi = max(1.0, float(pooled.dispersion))
    disp_info = dict(pooled.identifiability.get("dispersion") or {})
    ge = _group_evidence(
        times,
        groups,
        windows,
        pooled,
        end=end,
        clumping=_dispersion(disp_info, phi),
        level=opts.level,
        timezone=opts.timezone,
        propensity=check_propensity(opts.propensity),
        bin_minutes=float(opts.bin_minutes),
        surge=opts.surge,
        seed=opts.seed,
    )
    if len(ge.evs) < 2:
        raise FitError(f"fit_by_group: {len(ge.evs)} group(s) with at least 3 reports; need 2 or more to compare")
    thin = [g for g in ge.evs if ge.n_rep[g] < min_group_reports]
    chosen: str = ("shared_shape" if thin else "separate") if pooling == "auto" else pooling
    clumps = float(disp_info.get("clump_index") or math.nan) if opts.sampling == "curated" else math.nan
    return _compare_groups(ge, pooled, chosen, n_boot=opts.n_boot, share_delay=share_delay, phi=phi, clumps=clumps)


def _compare_groups(
    ge: _GroupEvidence, pooled: RecoveryFit, chosen: str, *, n_boot: int, share_delay: bool, phi: float, clumps: float
) -> GroupFit:
    """The joint models of the groups, the test of equal recovery and each group's fit under the ``chosen`` model."""
    names = list(ge.evs)
    family = make_family(pooled.model, level=ge.level)
    family.delay_upper = 0.999 * ge.horizon
    k = family.n_params + len(ge.evs[names[0]].extra_names)
    fits, converged, joint_ll = fit_group_models(
        ge.evs, family, pooled.theta[:k], model=pooled.model, level=ge.level, share_delay=share_delay
    )
    models = model_table(fits, len(names))
    sp1, th1, ll1 = fits[chosen]
    sp0, _, ll0 = fits["equal"]
    test = _equal_test(
        ge.evs, names, family, sp1, th1, lr=max(0.0, 2.0 * (ll1 - ll0)), df=sp1.n_free - sp0.n_free, chosen=chosen,
        pooled_phi=phi, clumps=clumps,
    )  # fmt: skip
    boot = _bootstrap_groups(ge.evs, names, family, sp1, theta=th1, joint_ll=joint_ll, n_boot=n_boot, seed=ge.seed)
    parts = th1.reshape(len(names), k)
    out = {
        g: _group_fit(ge, g, i, pooled=pooled, family=family, parts=parts, boot=boot, models=models, chosen=chosen, phi=phi)
        for i, g in enumerate(names)
    }
    return GroupFit(pooled, out, chosen, models, test, ge.n_rep, ge.skipped, converged)


@dataclass(frozen=True, eq=False)
class _GroupEvidence:
    """Each group's report evidence (groups with fewer than 3 reports skipped, with the reason)."""

    evs: dict[str, ReportEvidence]
    n_rep: dict[str, float]
    skipped: dict[str, str]
    labels: _Labels
    epoch: np.ndarray  # report times, seconds since the epoch
    horizon: float
    level: float
    timezone: str
    seed: int


def _group_evidence(
    times: Any,
    groups: Any,
    windows: pl.DataFrame | None,
    pooled: RecoveryFit,
    *,
    end: dt.datetime,
    clumping: Dispersion,
    level: float,
    timezone: str,
    propensity: np.ndarray,
    bin_minutes: float,
    surge: bool,
    seed: int,
) -> _GroupEvidence:
    """The reports of each group binned as the pooled fit's, clumped like them."""
    clock = report_clock(times, onset=pooled.onset, end=end, level=level)
    labels = _Labels(groups, clock.epoch.size, "groups")
    onset_s, horizon, minutes = clock.onset_s, clock.horizon, clock.minutes
    wl = None
    ws = we = wc = None
    if windows is not None and windows.height:
        if "group" not in windows.columns:
            raise ParameterError("windows: a 'group' column is needed to fit by group")
        ws, we, wc = window_frame(windows, onset_s)
        wl = _Labels(windows.get_column("group"), windows.height, "windows.group")
    evs: dict[str, ReportEvidence] = {}
    n_rep: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for g in sorted(set(labels.names) | (set(wl.names) if wl is not None else set())):
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
            propensity=propensity,
            bin_minutes=bin_minutes,
            surge=surge,
            seed=seed,
        )
        if ev.n_obs < 3:
            skipped[g] = f"{ev.n_obs:g} report(s) in the observation period; at least 3 are needed"
            continue
        evs[g] = replace(ev, clumping=clumping_for(ev, clumping))
        n_rep[g] = ev.n_obs
    return _GroupEvidence(evs, n_rep, skipped, labels, clock.epoch, horizon, level, timezone, seed)


def _group_fit(
    ge: _GroupEvidence,
    g: str,
    i: int,
    *,
    pooled: RecoveryFit,
    family: RecoveryFamily,
    parts: np.ndarray,
    boot: np.ndarray,
    models: pl.DataFrame,
    chosen: str,
    phi: float,
) -> RecoveryFit:
    """Group ``g``'s (the ``i``-th) recovery fit under the chosen joint model."""
    ev = ge.evs[g]
    k = parts.shape[1]
    theta_g = np.concatenate([parts[i], ev.profiled(family, parts[i])])
    tb = boot[:, i * (k + 1) : (i + 1) * (k + 1)] if boot.size else np.empty((0, k + 1))
    resolution = _resolution_seconds(ge.epoch[ge.labels.of(g)])
    diag = report_diagnostics(ev, family, parts[i], onset=pooled.onset, level=ge.level, seed=ge.seed, resolution_s=resolution)
    return RecoveryFit(
        kind="down_reports",
        model=pooled.model,
        family=family,
        theta=theta_g,
        theta_boot=tb,
        param_names=(*family.all_param_names, *ev.extra_names, *ev.profiled_names),
        level=float(ge.level),
        onset=pooled.onset,
        onset_source=pooled.onset_source,
        onset_ci=pooled.onset_ci,
        end=pooled.end,
        timezone=ge.timezone,
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
