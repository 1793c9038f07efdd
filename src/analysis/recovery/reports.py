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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from analysis.errors import FitError, ParameterError
from analysis.recovery.clock_profile import with_profile_metrics
from analysis.recovery.dispersion import NO_DISPERSION, Sampling, allocated_counts, clumping_for, estimate_dispersion
from analysis.recovery.engine import choose, fit_candidate, fit_candidates
from analysis.recovery.evidence import NOTICE_BOUNDS, PROFILE_HARMONIC_DF, PROFILE_HARMONIC_SD, ReportEvidence
from analysis.recovery.families import resolve_candidates
from analysis.recovery.hypotheses import (
    RAMP_FITTED,
    RAMP_NONE,
    fit_hypothesis,
    hypotheses_metrics,
    pool_hypotheses,
    ramp_candidates,
)
from analysis.recovery.propensity import (
    DEFAULT_PROPENSITY,
    FLAT_PROPENSITY,
    aligned_edges,
    check_propensity,
    hourly_weights,
    local_hours,
)
from analysis.recovery.quiet_profile import learned_profile
from analysis.recovery.report_input import ReportClock, ReportOptions, report_clock, window_arrays
from analysis.recovery.result import Diagnostics, RecoveryFit
from analysis.recovery.uncertainty import FitSpec, assemble_fit, fit_spec
from analysis.recovery.workers import beside

MAX_RESCALED = 100_000  # time-rescaling uses at most this many reports (a seeded subsample)
# fewer spontaneous reports than this say nothing about the climb of the first minutes: no
# noticing factor then (it would only add a parameter the data cannot determine)
MIN_NOTICING_REPORTS = 200


def _bin_index(m: np.ndarray, edges: np.ndarray, bin_minutes: float) -> np.ndarray:
    """Bin of each time (minutes) on edges that are regular inside: arithmetic, not a search."""
    nb = edges.size - 1
    if nb <= 2:
        return np.clip(np.searchsorted(edges, m, side="right") - 1, 0, nb - 1)
    first = edges[1]
    idx = np.floor((m - first) / bin_minutes).astype(np.int64) + 1
    idx[m < first] = 0
    return np.clip(idx, 0, nb - 1)


def _nearest_edge(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Index of the bin edge nearest to each time (minutes)."""
    j = np.clip(np.searchsorted(edges, x), 1, edges.size - 1)
    return np.where(np.abs(edges[j - 1] - x) <= np.abs(edges[j] - x), j - 1, j)


#: Log-scale spread of the reporting delay (a log-normal around its median).
DELAY_SIGMA = 1.0


def arrival_share(age_minutes: Any, median_minutes: float) -> np.ndarray:
    """Share of the reports stamped ``age_minutes`` before now that have arrived (log-normal delay CDF)."""
    from scipy.stats import norm

    age = np.asarray(age_minutes, dtype=float)
    if not median_minutes > 0:
        return np.ones_like(age)
    with np.errstate(divide="ignore"):
        z = (np.log(np.maximum(age, 0.0)) - math.log(median_minutes)) / DELAY_SIGMA
    return norm.cdf(z)


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
    noticing: bool = False,
    profile_sd: float = 0.0,
    delay_minutes: float = 0.0,
    profile_prior: float = 0.0,
    profile_df: float = 0.0,
) -> tuple[ReportEvidence, list[str]]:
    """Bin reports (minutes after onset) and windows into a :class:`ReportEvidence`.

    Reports before the onset or after the end of observation are left out, and windows are
    clipped to the observation period; each such decision is returned as a note.
    ``noticing`` adds the fitted noticing delay to the intensity; ``profile_sd`` > 0 makes
    the bootstrap draw its data sets under randomly distorted clock profiles
    (:class:`ReportEvidence`; ``profile_df`` > 0: each harmonic a Student t). ``delay_minutes`` > 0: reports reach the data a log-normal
    delay of that median after their time stamp, so a bin ``a`` minutes before the end of
    observation holds only the share :func:`arrival_share` of its reports yet; its
    propensity is scaled by that share (the nowcasting correction for reports still to come).
    ``profile_prior`` > 0 fits the clock profile's harmonics with S (:class:`ReportEvidence`).
    """
    notes: list[str] = []
    g_profile = check_propensity(None) if propensity is None else propensity
    edges = aligned_edges(horizon, onset_epoch, bin_minutes)
    mids = 0.5 * (edges[:-1] + edges[1:])
    hours = local_hours(onset_epoch + mids * 60.0, timezone)
    g = g_profile[np.minimum(np.floor(hours).astype(int), 23)]
    if delay_minutes > 0:
        g = g * np.maximum(arrival_share(horizon - mids, delay_minutes), 1e-6)
    m = np.asarray(minutes, dtype=float)
    before, after = int((m < 0).sum()), int((m > horizon).sum())
    if before:
        notes.append(f"{before} report(s) before the onset left out of the fit")
    if after:
        notes.append(f"{after} report(s) after the end of observation left out of the fit")
    m = m[(m >= 0) & (m <= horizon)]
    counts = np.bincount(_bin_index(m, edges, bin_minutes), minlength=edges.size - 1).astype(float)
    exact = m
    if m.size > MAX_RESCALED:  # a seeded Bernoulli subsample: linear time, no sort of all reports
        rng = np.random.default_rng(seed)
        exact = np.sort(m[rng.random(m.size) < MAX_RESCALED / m.size])
    sizes = np.unique(m, return_counts=True)[1] if m.size <= MAX_RESCALED else None
    a = b = c = raw = np.empty(0)
    if win_start is not None and win_start.size:
        a, b, c, raw = _bin_windows(
            win_start, win_end, win_count, edges=edges, counts=counts, horizon=horizon, bin_minutes=bin_minutes, notes=notes
        )
    ev = ReportEvidence(
        edges,
        g,
        counts,
        a,
        b,
        c,
        raw,
        surge=surge,
        exact_minutes=exact,
        record_sizes=sizes,
        noticing=noticing,
        hours=hours,
        profile_sd=float(profile_sd),
        profile_prior=float(profile_prior),
        profile_df=float(profile_df) if profile_sd > 0 else 0.0,
    )
    return ev, notes


def _bin_windows(
    win_start: np.ndarray,
    win_end: np.ndarray | None,
    win_count: np.ndarray | None,
    *,
    edges: np.ndarray,
    counts: np.ndarray,
    horizon: float,
    bin_minutes: float,
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Windows clipped to the observation period and rounded to bin edges, identical ones merged.

    Returns (start edge, end edge, count, count-weighted raw width) per distinct window; a
    zero-width window is added to ``counts`` as an exactly timed report; each decision is
    appended to ``notes``.
    """
    ws, we = np.asarray(win_start, dtype=float), np.asarray(win_end, dtype=float)
    c = np.asarray(win_count, dtype=float) if win_count is not None else np.ones(ws.size)
    a, b = np.clip(ws, 0.0, horizon), np.clip(we, 0.0, horizon)
    outside = (b <= 0) | (a >= horizon) | (c <= 0)
    clipped = ~outside & ((ws < 0) | (we > horizon))
    if outside.sum():
        notes.append(f"{int(outside.sum())} windowed report row(s) entirely outside the observation period left out")
    if clipped.sum():
        notes.append(f"{int(clipped.sum())} window(s) clipped to the observation period")
    keep = ~outside
    ws, we, a, b, c = ws[keep], we[keep], a[keep], b[keep], c[keep]
    point = b - a <= 1e-9
    if point.any():  # a zero-width window is an exactly timed report
        pidx = _bin_index(a[point], edges, bin_minutes)
        np.add.at(counts, pidx, c[point])
    ws, we, a, b, c = ws[~point], we[~point], a[~point], b[~point], c[~point]
    # window ends go to the nearest bin edge (the likelihood already takes the intensity as
    # constant within a bin), at least one bin wide; identical windows then become one row
    # with their count, so the cost follows the bins, not the number of windowed reports
    ia, ib = _nearest_edge(a, edges), _nearest_edge(b, edges)
    narrow = ib <= ia
    if narrow.any():
        mid = np.clip(_bin_index(0.5 * (a[narrow] + b[narrow]), edges, bin_minutes), 0, edges.size - 2)
        ia[narrow], ib[narrow] = mid, mid + 1
    moved = np.maximum(np.abs(edges[ia] - a), np.abs(edges[ib] - b)) > 1.0 / 60.0
    if moved.any():
        notes.append(f"{int(moved.sum())} window(s) rounded to the {bin_minutes:g}-minute bin edges")
    key = ia.astype(np.int64) * edges.size + ib
    uniq, inv = np.unique(key, return_inverse=True)
    inv = inv.reshape(-1)
    raw_w = np.bincount(inv, weights=c * (we - ws), minlength=uniq.size)
    c = np.bincount(inv, weights=c, minlength=uniq.size)
    raw = raw_w / c  # the count-weighted width before clipping, for the bootstrap
    a, b = edges[uniq // edges.size], edges[uniq % edges.size]
    return a, b, c, raw


def report_diagnostics(
    ev: ReportEvidence, fit_family: Any, theta: np.ndarray, *, onset: dt.datetime, level: float, seed: int, resolution_s: float
) -> Diagnostics:
    """Observed vs fitted counts, Pearson residuals and the time-rescaling KS test."""
    mu = ev.expected(fit_family, theta)
    exact, alloc = allocated_counts(ev, mu)
    obs = exact + alloc
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
    sample = epoch_s[:MAX_RESCALED]  # the clock resolution shows in any sizeable sample
    if sample.size == 0:
        return 0.0
    if np.all(np.mod(sample, 60.0) == 0):
        return 60.0
    if np.all(np.mod(sample, 1.0) == 0):
        return 1.0
    return 0.0


def split_reports(reports: pl.DataFrame) -> tuple[pl.Series, pl.DataFrame]:
    """Split a canonical reports table into exact report times and windowed reports.

    Rows with a null ``reported_until`` are exactly timed (``reported_at``); the others are
    known only within [``reported_at``, ``reported_until``]. Returns ``(times, windows)``
    ready for :func:`fit_down_reports` (windows with columns ``start``, ``end``).
    """
    missing = {"reported_at", "reported_until"} - set(reports.columns)
    if missing:
        raise ParameterError(f"reports: missing column(s) {sorted(missing)}")
    exact = reports.filter(pl.col("reported_until").is_null())
    windowed = reports.filter(pl.col("reported_until").is_not_null())
    windows = windowed.select(pl.col("reported_at").alias("start"), pl.col("reported_until").alias("end"))
    return exact.get_column("reported_at"), windows


def fit_down_reports(
    times: Any,
    *,
    onset: dt.datetime | None,
    end: dt.datetime,
    windows: pl.DataFrame | None = None,
    options: ReportOptions | None = None,
    **keywords: Any,
) -> RecoveryFit:
    """Fit S(t) to outage reports by Poisson-process likelihood; choose the family by AIC (QAIC when overdispersed).

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
        log Λ(window) to the likelihood, i.e. to every bin it may fall in. Identical
        windows (after rounding to the bin edges) are one likelihood term with their
        summed count, so a row per report costs no more than one row per window.
    options : ReportOptions, optional
        The fit's options; keywords override them.
    **keywords
        Any field of :class:`ReportOptions` (``timezone``, ``propensity``, ``families``,
        ``level``, ``bin_minutes``, ``n_boot``, ``seed``, ``surge``, ``sampling``,
        ``delay_profile``, ``dispersion``, ``model_uncertainty``, ``noticing``,
        ``profile_uncertainty``, ``delay_minutes``, ``profile``), documented there.

    Returns
    -------
    RecoveryFit
        The chosen model with intervals, candidates, diagnostics, the propensity
        sensitivity table and a plain-language ``verdict``; ``with_model`` reports another
        candidate.

    Raises
    ------
    FitError
        Fewer than 3 reports in the observation period, or no family could be fitted.
    """
    t_start = time.perf_counter()
    opts = ReportOptions.of("fit_down_reports", options, keywords)
    g_profile = check_propensity(opts.propensity)
    names = resolve_candidates(opts.families)
    clock = report_clock(times, onset=onset, end=end, level=opts.level)
    quiet, quiet_note = None, ""
    if opts.profile == "quiet" and opts.propensity is None and opts.sampling == "spontaneous":
        quiet, quiet_note = learned_profile(clock.epoch, clock.onset_s, timezone=opts.timezone, assumed=g_profile)
        g_profile = g_profile if quiet is None else quiet.propensity(g_profile)
    ev, notes = _report_evidence(clock, windows, opts, g_profile)
    notes = [*notes, quiet_note] if quiet_note else notes
    ramp_possible = opts.sampling == "spontaneous" and ev.n_obs >= MIN_NOTICING_REPORTS
    if opts.noticing is None and ramp_possible:
        ev = replace(ev, noticing=True)
    pooled = opts.noticing == "pooled" and ramp_possible and opts.n_boot > 0
    t1 = time.perf_counter()
    plan = _SpecPlan(
        names, float(opts.level), opts.sampling, opts.dispersion, opts.delay_profile,
        opts.propensity is not None or quiet is not None, clock,
        opts.timezone, int(opts.seed), _resolution_seconds(clock.epoch), tuple(notes), t1 - t_start,
    )  # fmt: skip
    if quiet is not None and (pooled or opts.profile_uncertainty):
        # learned from the quiet days: the bootstrap draws the profile's error around that estimate
        ev = replace(ev, profile_sd=quiet.sd(), profile_chol=quiet.chol(), profile_df=0.0)
    elif pooled and opts.profile_uncertain:
        # the clock profile is assumed under either hypothesis: both halves carry its error
        ev = replace(ev, profile_sd=PROFILE_HARMONIC_SD, profile_df=PROFILE_HARMONIC_DF)
    fit = _fit_hypotheses(plan, ev, opts, pooled=pooled)
    if quiet is None:
        return fit
    return replace(fit, identifiability={**fit.identifiability, "clock_profile": quiet.metrics(check_propensity(None))})


def _report_evidence(
    clock: ReportClock, windows: pl.DataFrame | None, opts: ReportOptions, g_profile: np.ndarray
) -> tuple[ReportEvidence, list[str]]:
    """The report evidence of a fit (binned on ``clock``) and its notes; at least 3 reports or a :class:`FitError`."""
    ws, we, wc = window_arrays(windows, clock.onset_s)
    estimated = opts.profile_estimated
    ev, notes = build_report_evidence(
        clock.minutes,
        horizon=clock.horizon,
        onset_epoch=clock.onset_s,
        win_start=ws,
        win_end=we,
        win_count=wc,
        timezone=opts.timezone,
        propensity=g_profile,
        bin_minutes=float(opts.bin_minutes),
        surge=opts.surge,
        seed=int(opts.seed),
        noticing=opts.noticing is True,
        profile_sd=PROFILE_HARMONIC_SD if ((opts.profile_uncertainty or estimated) and opts.profile_uncertain) else 0.0,
        delay_minutes=float(opts.delay_minutes),
        profile_prior=PROFILE_HARMONIC_SD if estimated else 0.0,
        profile_df=PROFILE_HARMONIC_DF,
    )
    if ev.n_obs < 3:
        raise FitError(f"down_reports: {ev.n_obs:g} report(s) between onset and end of observation; at least 3 are needed")
    return ev, notes


def _fit_hypotheses(plan: _SpecPlan, ev: ReportEvidence, opts: ReportOptions, *, pooled: bool) -> RecoveryFit:
    """The fit under the reporting hypothesis of ``ev``, or, ``pooled``, under both (without and with a ramp)."""
    averaged = opts.model_uncertainty == "averaged"
    n_boot, seed = int(opts.n_boot), int(opts.seed)
    spec, best_name = plan.spec(ev, n_boot_h=n_boot, seed_h=seed, describe=True)
    if not pooled:
        fit = with_profile_metrics(assemble_fit(spec, best_name, averaged=averaged), spec.evidence, PROFILE_HARMONIC_SD)
        hyp = [(RAMP_NONE if not ev.noticing else RAMP_FITTED, ev.profile_sd, fit)]
        return replace(fit, identifiability={**fit.identifiability, "reporting_hypotheses": hypotheses_metrics(hyp)})
    # the same data under both reporting hypotheses, half of the replicates each
    half = n_boot // 2
    ramp_seed = int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])
    ramp_ev = replace(ev, noticing=True)  # the profile spread, if any, is already on ev (above)
    # the fit without a ramp is the ramp model at its smallest noticing share: each family starts there too
    warm = {c.name: np.insert(c.theta, ev.profile_start(c.family), NOTICE_BOUNDS[0]) for c in spec.cands if c.converged}
    # in a worker process when one is open; the reports' own times are not needed there (binned on ramp_ev)
    # and only for the candidates that can carry weight with a ramp (ramp_candidates)
    kept = ramp_candidates(spec.cands, spec.phi)
    lean = replace(
        plan,
        skip=tuple(n for n in plan.names if n not in kept),
        clock=replace(plan.clock, epoch=plan.clock.epoch[:0], minutes=plan.clock.minutes[:0]),
    )
    ramp_job = beside(fit_hypothesis, lean, ramp_ev, half, ramp_seed, averaged, warm=warm)
    plain = with_profile_metrics(
        assemble_fit(replace(spec, n_boot=n_boot - half), best_name, averaged=averaged), spec.evidence, PROFILE_HARMONIC_SD
    )
    ramp = ramp_job.result()
    fit = pool_hypotheses([(RAMP_NONE, ev.profile_sd, plain), (RAMP_FITTED, ramp_ev.profile_sd, ramp)])
    # another model (the report's `model` parameter) is conditional on it and on the plain hypothesis
    return replace(fit, switch=lambda other: assemble_fit(spec, other, averaged=False))


@dataclass(frozen=True)
class _SpecPlan:
    """What :func:`fit_down_reports` states the same way under every reporting hypothesis."""

    names: list[str]
    level: float
    sampling: Sampling
    dispersion: str
    delay_profile: bool
    configured: bool  # the propensity was given, not assumed
    clock: ReportClock
    timezone: str
    seed: int
    resolution: float
    notes: tuple[str, ...]
    binning: float  # seconds spent reading and binning
    skip: tuple[str, ...] = ()  # candidates left unfitted (under the ramp: those that cannot carry weight)

    def spec(
        self, ev: ReportEvidence, *, n_boot_h: int, seed_h: int, describe: bool, warm: dict[str, np.ndarray] | None = None
    ) -> tuple[FitSpec, str]:
        """Candidates, dispersion and bootstrap plan under one reporting hypothesis (``ev``; ``warm``: extra starts)."""
        t_fit = time.perf_counter()
        fixed = replace(ev, profile_prior=0.0) if ev.fits_profile else ev
        # warm starts carry the profile's coefficients when it is estimated: only for the fit with it free
        cands = fit_candidates(fixed, self.names, level=self.level, warm=None if ev.fits_profile else warm, skip=self.skip)
        first = choose(cands, what="down_reports")
        auto = self.dispersion == "auto"
        disp = estimate_dispersion(fixed, first.family, first.theta, sampling=self.sampling) if auto else NO_DISPERSION
        if ev.fits_profile:  # the penalty on the quasi-likelihood scale: spread s/√φ (φ under the assumed profile)
            ev = replace(ev, profile_prior=ev.profile_prior / math.sqrt(disp.phi))
            cands = fit_candidates(ev, self.names, level=self.level, warm=warm, skip=self.skip)
            first = choose(cands, what="down_reports")
            disp = estimate_dispersion(ev, first.family, first.theta, sampling=self.sampling) if auto else NO_DISPERSION
        best = choose(cands, what="down_reports", phi=disp.phi)
        ev = replace(ev, clumping=clumping_for(ev, disp))
        t2 = time.perf_counter()
        suffix = ""
        if disp.overdispersed:
            suffix += f"; reports simulated in clumps (overdispersion {disp.phi:.1f})"
        if self.clock.onset_source == "estimated":
            suffix += "; conditional on the estimated onset"
        clock = self.clock

        def per_model(cand: Any) -> dict[str, Any]:
            if not describe:
                return {}
            t = time.perf_counter()
            diag = report_diagnostics(
                ev, cand.family, cand.theta, onset=clock.onset_utc, level=self.level, seed=self.seed, resolution_s=self.resolution
            )
            sens = _sensitivity(ev, cand, self.configured, level=self.level, timezone=self.timezone, onset_s=clock.onset_s)
            return {"diagnostics": diag, "sensitivity": sens, "timings": {"diagnostics": time.perf_counter() - t}}

        spec = fit_spec(
            "down_reports",
            ev,
            cands,
            level=self.level,
            n_boot=n_boot_h,
            seed=seed_h,
            method_noun="parametric bootstrap",
            method_suffix=suffix,
            dispersion=disp,
            onset=clock.onset_utc,
            onset_source=clock.onset_source,
            onset_ci=clock.onset_ci,
            end=clock.end_utc,
            timezone=self.timezone,
            per_model=per_model,
            profile_delays=self.delay_profile and describe,
            notes=self.notes,
            timings={"binning": self.binning, "fit": t2 - t_fit},
        )
        return spec, best.name


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
            cand = fit_candidate(alt, best.name, level=level, warm=[best.theta], precise=False)
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
