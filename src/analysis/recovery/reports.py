"""Recovery curve from user reports of the outage (``down_reports``).

Each still-affected customer reports at a small rate that depends on the local clock hour,
so the report intensity is λ(t) = A·g(clock(t))·S(t − onset), optionally with an onset
surge. The fit is a Poisson-process likelihood on fine bins (see
:class:`analysis.recovery.evidence.ReportEvidence`), the family is chosen by AIC and the
intervals come from a parametric bootstrap of the chosen model.

Why a parametric bootstrap rather than profile likelihood: every headline number (t50,
t90, t99, the mean outage ∫S, S at each announcement, customer-hours) is a non-linear
function of several parameters, some of which sit on a boundary (a delay of 0, a tail
fraction near 0) where profile-likelihood intervals lose their χ² calibration. One set of
replicates gives every function its interval at once, consistently, and the simulation
reproduces the data's own design: the same bins, the clock-hour propensity, and the same
share of reports known only within a window.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy import stats

from analysis.errors import FitError, ParameterError
from analysis.recovery._time import as_times, epoch_seconds, to_utc
from analysis.recovery.engine import bootstrap, candidate_table, choose, fit_candidate, fit_candidates
from analysis.recovery.evidence import ReportEvidence, window_matrix
from analysis.recovery.families import resolve_candidates
from analysis.recovery.onset import estimate_onset
from analysis.recovery.propensity import (
    DEFAULT_PROPENSITY,
    FLAT_PROPENSITY,
    aligned_edges,
    check_propensity,
    check_timezone,
    hourly_weights,
)
from analysis.recovery.result import Diagnostics, RecoveryFit

MAX_RESCALED = 100_000  # time-rescaling uses at most this many reports (a seeded subsample)


def check_options(level: float, n_boot: int, seed: int) -> None:
    """Validate the options every fitter shares."""
    if not (isinstance(level, float | int) and 0 < level < 1):
        raise ParameterError(f"level must be in (0, 1), got {level!r}")
    if not isinstance(n_boot, int | np.integer) or isinstance(n_boot, bool) or n_boot < 0:
        raise ParameterError(f"n_boot must be a non-negative integer, got {n_boot!r}")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise ParameterError(f"seed must be an integer, got {seed!r}")


def _window_frame(windows: pl.DataFrame, onset_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end) in minutes after onset and the count of reports of each window row."""
    cols = set(windows.columns)
    if {"start", "end"} <= cols:
        a, b = "start", "end"
    elif {"reported_at", "reported_until"} <= cols:
        a, b = "reported_at", "reported_until"
    else:
        raise ParameterError(f"windows: need columns 'start' and 'end' (UTC), got {sorted(cols)}")
    out = []
    for c in (a, b):
        kind, v = as_times(windows.get_column(c), f"windows.{c}")
        out.append((v - onset_s) / 60.0 if kind == "epoch" else v)
    if "count" in cols:
        cnt = windows.get_column("count").cast(pl.Float64).to_numpy()
        if np.any(~np.isfinite(cnt)) or np.any(cnt < 0):
            raise ParameterError("windows.count: counts must be finite and >= 0")
    else:
        cnt = np.ones(windows.height)
    bad = np.nonzero(out[1] < out[0])[0]
    if bad.size:
        raise ParameterError(f"windows: row {int(bad[0])} ends before it starts ({b} < {a})")
    return out[0], out[1], cnt


def build_report_evidence(
    minutes: np.ndarray,
    *,
    horizon: float,
    onset_epoch: float,
    win_start: np.ndarray | None = None,
    win_end: np.ndarray | None = None,
    win_count: np.ndarray | None = None,
    timezone: str = "Europe/Brussels",
    propensity: np.ndarray | None = None,
    bin_minutes: float = 5.0,
    surge: bool = False,
    seed: int = 0,
) -> tuple[ReportEvidence, list[str]]:
    """Bin reports (minutes after onset) and windows into a :class:`ReportEvidence`.

    Reports before the onset or after the end of observation are left out, and windows are
    clipped to the observation period; each such decision is returned as a note.
    """
    notes: list[str] = []
    g_profile = check_propensity(None) if propensity is None else propensity
    edges = aligned_edges(horizon, onset_epoch, bin_minutes)
    mids = 0.5 * (edges[:-1] + edges[1:])
    g = hourly_weights(onset_epoch + mids * 60.0, timezone, g_profile)
    m = np.asarray(minutes, dtype=float)
    before, after = int((m < 0).sum()), int((m > horizon).sum())
    if before:
        notes.append(f"{before} report(s) before the onset left out of the fit")
    if after:
        notes.append(f"{after} report(s) after the end of observation left out of the fit")
    m = m[(m >= 0) & (m <= horizon)]
    idx = np.clip(np.searchsorted(edges, m, side="right") - 1, 0, edges.size - 2)
    counts = np.bincount(idx, minlength=edges.size - 1).astype(float)
    exact = m
    if m.size > MAX_RESCALED:
        rng = np.random.default_rng(seed)
        exact = np.sort(rng.choice(m, MAX_RESCALED, replace=False))
    if win_start is not None and win_start.size:
        a, b = np.clip(win_start, 0.0, horizon), np.clip(win_end, 0.0, horizon)
        c = win_count if win_count is not None else np.ones(a.size)
        outside = (b <= 0) | (a >= horizon) | (c <= 0)
        clipped = ~outside & ((win_start < 0) | (win_end > horizon))
        if outside.sum():
            notes.append(f"{int(outside.sum())} windowed report row(s) entirely outside the observation period left out")
        if clipped.sum():
            notes.append(f"{int(clipped.sum())} window(s) clipped to the observation period")
        keep = ~outside
        a, b, c = a[keep], b[keep], c[keep]
        point = b - a <= 1e-9
        if point.any():  # a zero-width window is an exactly timed report
            pidx = np.clip(np.searchsorted(edges, a[point], side="right") - 1, 0, edges.size - 2)
            np.add.at(counts, pidx, c[point])
        a, b, c = a[~point], b[~point], c[~point]
        win = window_matrix(a, b, edges)
        ev = ReportEvidence(edges, g, counts, win, c, b - a, surge=surge, exact_minutes=exact)
    else:
        ev = ReportEvidence(
            edges, g, counts, window_matrix(np.empty(0), np.empty(0), edges), np.empty(0), np.empty(0), surge, exact
        )
    return ev, notes


def report_diagnostics(
    ev: ReportEvidence, fit_family: Any, theta: np.ndarray, *, onset: dt.datetime, level: float, seed: int, resolution_s: float
) -> Diagnostics:
    """Observed vs fitted counts, Pearson residuals and the time-rescaling KS test."""
    mu = ev.expected(fit_family, theta)
    alloc = np.zeros_like(mu)
    if ev.win_w.size:
        wm = ev.win.multiply(mu[None, :]).tocsr()
        tot = np.asarray(wm.sum(axis=1)).ravel()
        scale = np.divide(ev.win_w, tot, out=np.zeros_like(tot), where=tot > 0)
        alloc = np.asarray(wm.multiply(scale[:, None]).sum(axis=0)).ravel()
    obs = ev.counts + alloc
    pearson = (obs - mu) / np.sqrt(np.maximum(mu, 1e-12))
    starts = [onset + dt.timedelta(minutes=float(x)) for x in ev.edges[:-1]]
    ends = [onset + dt.timedelta(minutes=float(x)) for x in ev.edges[1:]]
    utc = pl.Datetime("us", "UTC")
    table = pl.DataFrame(
        {
            "bin_start": pl.Series(starts, dtype=utc),
            "bin_end": pl.Series(ends, dtype=utc),
            "minutes_start": ev.edges[:-1],
            "minutes_end": ev.edges[1:],
            "propensity": ev.g,
            "observed": ev.counts,
            "observed_windowed": alloc,
            "fitted": mu,
            "pearson_residual": pearson,
        }
    )
    resid = pl.DataFrame({"minutes": 0.5 * (ev.edges[:-1] + ev.edges[1:]), "residual": pearson})
    ks, p, band, u = math.nan, math.nan, math.nan, np.empty(0)
    note = "windowed reports are allocated to bins in proportion to the fitted intensity and left out of the rescaling test"
    t = ev.exact_minutes if ev.exact_minutes is not None else np.empty(0)
    if t.size >= 5:
        rng = np.random.default_rng(seed)
        if resolution_s > 0:  # ties from clock resolution would give zero gaps: spread them within it
            t = np.clip(t + rng.random(t.size) * resolution_s / 60.0, 0.0, ev.horizon)
            note += f"; report times spread uniformly within their {resolution_s:g}-second clock resolution"
        t = np.sort(t)
        share = float(ev.counts.sum()) / ev.n_obs  # exact reports are a thinning of the full process
        cum = np.concatenate([[0.0], np.cumsum(mu)]) * share
        k = np.clip(np.searchsorted(ev.edges, t, side="right") - 1, 0, mu.size - 1)
        lam = cum[k] + mu[k] * share * (t - ev.edges[k]) / ev.widths[k]
        gaps = np.diff(np.concatenate([[0.0], lam]))
        gaps = gaps * (ev.counts.sum() / t.size) if t.size < ev.counts.sum() else gaps
        res = stats.kstest(gaps, "expon")
        ks, p = float(res.statistic), float(res.pvalue)
        band = float(stats.kstwo.ppf(level, gaps.size))
        u = np.sort(1.0 - np.exp(-gaps))
    return Diagnostics(table, resid, ks, p, band, u, note)


def _resolution_seconds(epoch_s: np.ndarray) -> float:
    """Clock resolution of the report times: 60 if all on whole minutes, 1 if on whole seconds, else 0."""
    if epoch_s.size == 0:
        return 0.0
    if np.all(np.mod(epoch_s, 60.0) == 0):
        return 60.0
    if np.all(np.mod(epoch_s, 1.0) == 0):
        return 1.0
    return 0.0


def fit_down_reports(
    times: Any,
    *,
    onset: dt.datetime | None,
    end: dt.datetime,
    windows: pl.DataFrame | None = None,
    timezone: str = "Europe/Brussels",
    propensity: Sequence[float] | None = None,
    families: Sequence[str] | Literal["all"] = "all",
    level: float = 0.9,
    bin_minutes: float = 5.0,
    n_boot: int = 200,
    seed: int = 0,
    surge: bool = False,
) -> RecoveryFit:
    """Fit S(t) to outage reports by Poisson-process likelihood; choose the family by AIC.

    Parameters
    ----------
    times : polars Series, numpy array or sequence
        Exactly-timed report times: UTC datetimes, or floats in minutes after ``onset``.
    onset : datetime or None
        Outage onset (UTC). None: estimated as a change point of the report rate
        (:func:`estimate_onset`); the fit then reports ``onset_source="estimated"`` and
        ``onset_ci``. Intervals are conditional on the onset.
    end : datetime
        End of observation (UTC): reports are right-censored there.
    windows : polars DataFrame, optional
        Reports known only within a window: columns ``start``, ``end`` (UTC; or
        ``reported_at``/``reported_until``) and optionally ``count``. Each contributes
        log Λ(window) to the likelihood, i.e. to every bin it may fall in.
    timezone : str
        IANA timezone of the clock hours of the propensity.
    propensity : sequence of 24 floats, optional
        Relative reporting propensity by local hour; None uses
        :data:`analysis.recovery.propensity.DEFAULT_PROPENSITY`.
    families : "all" or sequence of str
        Candidate families (e.g. ``["weibull", "weibull+delay"]``); chosen by AIC.
    level : float
        Interval level (0.9).
    bin_minutes : float
        Bin width of the binned likelihood (minutes).
    n_boot : int
        Parametric bootstrap replicates of the chosen family (0: no intervals).
    seed : int
        Seed of the bootstrap (and of the tie-spreading in diagnostics).
    surge : bool
        Add an onset surge factor (1 + s·exp(−t/τ_s)) to the intensity.

    Returns
    -------
    RecoveryFit
        The chosen model with intervals, candidates, diagnostics and the propensity
        sensitivity table.

    Raises
    ------
    FitError
        Fewer than 3 reports in the observation period, or no family could be fitted.
    """
    check_options(level, n_boot, seed)
    if not isinstance(surge, bool):
        raise ParameterError(f"surge must be True or False, got {surge!r}")
    check_timezone(timezone)
    g_profile = check_propensity(propensity)
    names = resolve_candidates(families)
    end_utc = to_utc(end, "end")
    kind, vals = as_times(times, "times")
    onset_source, onset_ci = "config", None
    if onset is None:
        if kind != "epoch":
            raise ParameterError("onset: required when times are given as minutes after onset")
        early = vals[vals <= epoch_seconds(end_utc)]
        est = estimate_onset(np.round(early * 1e6).astype(np.int64).astype("datetime64[us]"), level=level)
        onset_utc, onset_source, onset_ci = est.time, "estimated", est.interval
    else:
        onset_utc = to_utc(onset, "onset")
    onset_s = epoch_seconds(onset_utc)
    horizon = (epoch_seconds(end_utc) - onset_s) / 60.0
    if not horizon > 0:
        raise ParameterError(f"end ({end_utc.isoformat()}) must be after the onset ({onset_utc.isoformat()})")
    epoch = vals if kind == "epoch" else onset_s + vals * 60.0
    minutes = (epoch - onset_s) / 60.0
    ws = we = wc = None
    if windows is not None:
        if not isinstance(windows, pl.DataFrame):
            raise ParameterError(f"windows: expected a polars DataFrame, got {type(windows).__name__}")
        ws, we, wc = _window_frame(windows, onset_s) if windows.height else (None, None, None)
    t0 = time.perf_counter()
    ev, notes = build_report_evidence(
        minutes,
        horizon=horizon,
        onset_epoch=onset_s,
        win_start=ws,
        win_end=we,
        win_count=wc,
        timezone=timezone,
        propensity=g_profile,
        bin_minutes=float(bin_minutes),
        surge=surge,
        seed=int(seed),
    )
    if ev.n_obs < 3:
        raise FitError(f"down_reports: {ev.n_obs:g} report(s) between onset and end of observation; at least 3 are needed")
    t1 = time.perf_counter()
    cands = fit_candidates(ev, names, level=level)
    best = choose(cands, what="down_reports")
    t2 = time.perf_counter()
    boot = bootstrap(ev, best, n_boot=int(n_boot), seed=int(seed))
    diag = report_diagnostics(
        ev, best.family, best.theta, onset=onset_utc, level=level, seed=int(seed), resolution_s=_resolution_seconds(epoch)
    )
    sens = _sensitivity(ev, best, propensity is not None, level=level, timezone=timezone, onset_s=onset_s)
    theta = np.concatenate([best.theta, ev.profiled(best.family, best.theta)])
    method = (
        f"parametric bootstrap, {boot.theta.shape[0]} replicates of the chosen model, percentile intervals"
        if n_boot
        else "none (n_boot = 0)"
    )
    if boot.n_failed:
        method += f" ({boot.n_failed} refits failed and were dropped)"
    if onset_source == "estimated":
        method += "; conditional on the estimated onset"
    return RecoveryFit(
        kind="down_reports",
        model=best.name,
        family=best.family,
        theta=theta,
        theta_boot=boot.theta,
        param_names=(*best.family.all_param_names, *ev.extra_names, *ev.profiled_names),
        level=float(level),
        onset=onset_utc,
        onset_source=onset_source,
        onset_ci=onset_ci,
        end=end_utc,
        timezone=timezone,
        candidates=candidate_table(cands),
        interval_method=method,
        log_likelihood=best.loglik,
        aic=best.aic,
        n_observations=ev.n_obs,
        diagnostics=diag,
        sensitivity=sens,
        notes=tuple(notes),
        n_boot_failed=boot.n_failed,
        timings={"binning": t1 - t0, "fit": t2 - t1, "bootstrap": boot.seconds},
    )


def _sensitivity(ev: ReportEvidence, best: Any, configured: bool, *, level: float, timezone: str, onset_s: float) -> pl.DataFrame:
    """t50/t90/t99 of the chosen family under the propensity used, the default and a flat one."""
    mids = 0.5 * (ev.edges[:-1] + ev.edges[1:])
    utc_s = onset_s + mids * 60.0
    profiles: list[tuple[str, np.ndarray | None]] = [("configured" if configured else "default", None)]
    if configured:
        profiles.append(("default", np.asarray(DEFAULT_PROPENSITY)))
    profiles.append(("flat", np.asarray(FLAT_PROPENSITY)))
    rows = []
    k = best.family.n_params
    for label, prof in profiles:
        if prof is None:
            cand = best
        else:
            alt = ev.with_propensity(hourly_weights(utc_s, timezone, prof / prof.max()))
            cand = fit_candidate(alt, best.name, level=level, warm=[best.theta])
        ok = cand.converged
        rows.append(
            {
                "propensity": label,
                "model": best.name,
                "t50_minutes": float(cand.family.quantile(0.5, cand.theta[:k])) if ok else math.nan,
                "t90_minutes": float(cand.family.quantile(0.9, cand.theta[:k])) if ok else math.nan,
                "t99_minutes": float(cand.family.quantile(0.99, cand.theta[:k])) if ok else math.nan,
                "log_likelihood": cand.loglik if ok else math.nan,
            }
        )
    return pl.DataFrame(rows)
