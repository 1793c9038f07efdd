"""Recovery by area: partial pooling toward the national curve, and the region comparison.

**Areas (partial pooling).** Each area's curve is the national one stretched in time,
S_a(t) = S(t / φ_a) (an accelerated-failure-time model: the shape is national, the pace
local), with the area's own report rate A_a. The area's reports give a likelihood for
u_a = log φ_a (the binned Poisson-process likelihood of :mod:`analysis.recovery`, with A_a
maximised out) evaluated on a grid; the u_a share a normal prior N(0, τ²) centred on the
national curve, with τ chosen by maximising the marginal likelihood of all areas
(empirical Bayes). An area with three reports has a flat likelihood and keeps the prior:
its t90 is the national t90 with a wider interval, never a confident curve of its own. An
area with thousands of reports is led by its own data. Intervals combine the area's
posterior for φ_a with the national bootstrap replicates of t50/t90.

**Regions.** A region with enough reports gets its own fit of the national family; the
test of equal recovery is a likelihood-ratio test of one shared S (each region keeping its
own report rate) against a separate S per region, divided by the overdispersion measured
around the per-region curves and referred to F((G − 1)·k, df of φ) (χ² when φ = 1). Every
region with enough reports is in the test; when the national family does not converge
for all of them, the converging family with the lowest AIC is used.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
from scipy import sparse, stats

from analysis.errors import AnalysisError, FitError, ParameterError
from analysis.geo.reference import REGION_NAMES
from analysis.recovery import Estimate, GroupFit, RecoveryFit, fit_by_group, fit_down_reports
from analysis.recovery.evidence import window_matrix
from analysis.recovery.propensity import aligned_edges, check_propensity, hourly_weights
from analysis.recovery.result import percentile_summary
from analysis.timeline import DOWN_STATUSES

__all__ = [
    "AreaRecovery",
    "EqualRecoveryTest",
    "RegionComparison",
    "RegionResult",
    "compare_regions",
    "coverage_caveats",
    "equal_recovery_test",
    "pooled_area_recovery",
    "report_minutes",
    "report_time_cdf",
]

GRID_HALF_WIDTH = 4.0  # log time-scale range searched: areas from e^-4 ≈ 1/55 to 55 times the national pace
GRID_STEP = 0.02
TAU_GRID = np.concatenate([[0.0], np.geomspace(0.02, 2.0, 41)])


def report_minutes(reports: pl.DataFrame, onset: dt.datetime) -> pl.DataFrame:
    """``start``/``end`` in minutes after ``onset`` (equal for exactly timed reports) and weight ``w``."""
    on = pl.lit(onset).cast(pl.Datetime("us", "UTC"))
    w = pl.col("weight").cast(pl.Float64).fill_null(1.0) if "weight" in reports.columns else pl.lit(1.0)
    return reports.with_columns(
        ((pl.col("reported_at") - on).dt.total_microseconds() / 6e7).alias("start"),
        ((pl.coalesce("reported_until", "reported_at") - on).dt.total_microseconds() / 6e7).alias("end"),
        w.alias("w"),
    )


def _design(
    df: pl.DataFrame, keys: list[str], edges: np.ndarray
) -> tuple[sparse.csr_matrix, sparse.csr_matrix, sparse.csr_matrix, np.ndarray]:
    """Exact counts per (area, bin), window overlaps (window, bin), window weights per (area, window), totals."""
    horizon = float(edges[-1])
    a = df["area_key"].replace_strict(keys, list(range(len(keys))), return_dtype=pl.Int64).to_numpy()
    s = df["start"].to_numpy().astype(float)
    e = df["end"].to_numpy().astype(float)
    w = df["w"].to_numpy().astype(float)
    point = (e - s) <= 1e-9
    ex = point & (s >= 0) & (s <= horizon)
    k_bins = edges.size - 1
    b = np.clip(np.searchsorted(edges, s[ex], side="right") - 1, 0, k_bins - 1)
    counts = sparse.csr_matrix((w[ex], (a[ex], b)), shape=(len(keys), k_bins))
    win = ~point & (e > 0) & (s < horizon)
    ws, we = np.clip(s[win], 0.0, horizon), np.clip(e[win], 0.0, horizon)
    wm = window_matrix(ws, we, edges)
    cw = sparse.csr_matrix((w[win], (a[win], np.arange(int(win.sum())))), shape=(len(keys), int(win.sum())))
    total = np.asarray(counts.sum(axis=1)).ravel() + np.asarray(cw.sum(axis=1)).ravel()
    return counts, wm, cw, total


@dataclass(frozen=True, eq=False)
class AreaRecovery:
    """Partially pooled recovery per area (times in minutes after the national onset).

    Attributes
    ----------
    table : polars.DataFrame
        One row per area with reports in the observation period: ``key``, ``n_fit``
        (reports used), ``scale`` (posterior median of φ, the time stretch against the
        national curve) with ``scale_low``/``scale_high``, ``scale_own`` (the area's own
        maximum-likelihood φ, unpooled) with ``scale_own_low``/``scale_own_high`` (its
        likelihood interval, inf when the data do not bound it), ``data_weight`` (0: the
        estimate is the national prior; 1: entirely the area's own reports), ``basis`` (in
        words), ``t50_minutes``/``t50_low``/``t50_high``, the same for t90, and
        ``t90_extrapolated`` (beyond the end of observation).
    tau : float
        Estimated between-area standard deviation of log φ (0: no detectable difference).
    level : float
        Interval level.
    grid : numpy.ndarray
        The grid of u = log φ.
    posterior : numpy.ndarray
        Posterior weights of each area (rows of ``table``) on the grid.
    notes : tuple of str
    """

    table: pl.DataFrame
    tau: float
    level: float
    grid: np.ndarray
    posterior: np.ndarray
    national: RecoveryFit
    notes: tuple[str, ...] = field(default=())

    def survival_band(
        self, key: str, t_minutes: Any, *, n_draws: int = 400, seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """S_a(t) = S(t/φ_a): pointwise median and band over draws of φ_a and the national replicates."""
        keys = self.table["key"].to_list()
        if key not in keys:
            raise ParameterError(f"key: no pooled estimate for area {key!r}")
        i = keys.index(key)
        t = np.asarray(t_minutes, dtype=float)
        rng = np.random.default_rng(seed)
        u = _draw(self.grid, self.posterior[i], n_draws, rng)
        stretched = t[None, :] / np.exp(u)[:, None]
        # each draw takes one of the national replicates behind the headline numbers, by weight
        blocks = self.national.replicate_blocks()
        if not blocks:
            s = self.national.survival(stretched)
        else:
            w = np.concatenate([np.full(th.shape[0], wb / th.shape[0]) for _, th, wb in blocks])
            which = rng.choice(w.size, size=n_draws, p=w / w.sum())
            starts = np.cumsum([0] + [th.shape[0] for _, th, _ in blocks])
            s = np.empty_like(stretched)
            for b, (fam, th, _) in enumerate(blocks):
                rows = np.nonzero((which >= starts[b]) & (which < starts[b + 1]))[0]
                if rows.size:
                    s[rows] = fam.sf(stretched[rows], th[which[rows] - starts[b]])
        lo, mid, hi = np.quantile(s, [(1 - self.level) / 2, 0.5, (1 + self.level) / 2], axis=0)
        return mid, lo, hi


def _bin_shape(
    national: RecoveryFit, edges: np.ndarray, log_scales: np.ndarray, propensity: Sequence[float] | None
) -> np.ndarray:
    """m_k(φ) = g_k·∫_bin S(t/φ) dt for each log φ in ``log_scales`` (Simpson's rule; rows: scales, columns: bins)."""
    onset_s = national.onset.timestamp()
    widths = np.diff(edges)
    mids = edges[:-1] + 0.5 * widths
    g = hourly_weights(onset_s + mids * 60.0, national.timezone, check_propensity(propensity))
    nodes = np.empty(2 * widths.size + 1)
    nodes[0::2] = edges
    nodes[1::2] = mids
    s = national.family.sf(
        nodes[None, :] / np.exp(np.asarray(log_scales, dtype=float))[:, None], national.theta[: national.family.n_params]
    )
    return g * widths / 6.0 * (s[:, 0:-1:2] + 4.0 * s[:, 1::2] + s[:, 2::2])


def report_time_cdf(national: RecoveryFit, *, propensity: Sequence[float] | None = None, bin_minutes: float = 5.0) -> Any:
    """F(t): the share of the national model's reports expected by ``t`` minutes after onset.

    The fitted intensity A·g(clock)·S(t), integrated from the onset and normalised to 1 at
    the end of observation. Used to ask whether an area's first report came late *given
    how many reports it has* (the first of many reports comes early by chance alone).
    """
    if national.end is None:
        raise FitError("report_time_cdf: the national fit has no end of observation")
    edges = aligned_edges(national.horizon_minutes, national.onset.timestamp(), bin_minutes)
    m = _bin_shape(national, edges, np.zeros(1), propensity)[0]
    cum = np.concatenate([[0.0], np.cumsum(m)])
    cum = cum / cum[-1]

    def cdf(t: Any) -> np.ndarray:
        return np.interp(np.asarray(t, dtype=float), edges, cum, left=0.0, right=1.0)

    return cdf


def _draw(grid: np.ndarray, w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draws from a discrete posterior on ``grid``, spread uniformly within each grid cell."""
    step = grid[1] - grid[0] if grid.size > 1 else 0.0
    idx = rng.choice(grid.size, size=n, p=w / w.sum())
    return grid[idx] + (rng.random(n) - 0.5) * step


def _quantiles(grid: np.ndarray, w: np.ndarray, qs: Sequence[float]) -> list[float]:
    """Quantiles of a discrete posterior whose mass is spread uniformly over each grid cell."""
    step = grid[1] - grid[0] if grid.size > 1 else 1.0
    cell_edges = np.concatenate([grid - step / 2, [grid[-1] + step / 2]])
    c = np.concatenate([[0.0], np.cumsum(w) / w.sum()])
    out = []
    for q in qs:
        j = int(np.clip(np.searchsorted(c, q, side="left"), 1, grid.size))  # first edge with cdf >= q
        lo, hi = c[j - 1], c[j]
        frac = (q - lo) / (hi - lo) if hi > lo else 0.5
        out.append(float(cell_edges[j - 1] + frac * step))
    return out


def pooled_area_recovery(
    reports: pl.DataFrame,
    national: RecoveryFit,
    *,
    propensity: Sequence[float] | None = None,
    bin_minutes: float = 5.0,
    tau: float | None = None,
) -> AreaRecovery:
    """Per-area t50/t90 pulled toward the national curve in proportion to how little each area says.

    Parameters
    ----------
    reports : polars.DataFrame
        Down reports with ``area_key`` (see :func:`analysis.spatial.assign_level`),
        ``reported_at``, ``reported_until`` (UTC) and ``weight``.
    national : RecoveryFit
        The national fit: its family, parameters, bootstrap replicates, onset, end and
        timezone are used (the area curves are S(t/φ_a) of this fit).
    propensity : sequence of 24 floats, optional
        Hourly reporting propensity used for the national fit (None: the default profile).
    bin_minutes : float
        Bin width of the likelihood (minutes).
    tau : float, optional
        Fix the between-area SD of log φ instead of estimating it (0: every area gets the
        national curve).

    Raises
    ------
    FitError
        The national fit has no end of observation, or no report falls in the observation period.
    """
    if national.end is None:
        raise FitError("pooled_area_recovery: the national fit has no end of observation")
    if tau is not None and not (math.isfinite(tau) and tau >= 0):
        raise ParameterError(f"tau must be >= 0, got {tau!r}")
    for col in ("area_key", "reported_at", "reported_until"):
        if col not in reports.columns:
            raise ParameterError(f"reports: column {col!r} missing")
    level = national.level
    onset_s = national.onset.timestamp()
    horizon = national.horizon_minutes
    used = [c for c in ("area_key", "reported_at", "reported_until", "weight") if c in reports.columns]
    df = report_minutes(reports.select(used).filter(pl.col("area_key").is_not_null()), national.onset)
    keys = sorted(df["area_key"].unique().to_list())
    edges = aligned_edges(horizon, onset_s, bin_minutes)
    counts, wm, cw, total = _design(df, keys, edges) if keys else (None, None, None, np.empty(0))
    if not keys or total.sum() <= 0:
        raise FitError("pooled_area_recovery: no report of any area falls between onset and end of observation")

    grid = np.round(np.arange(-GRID_HALF_WIDTH, GRID_HALF_WIDTH + GRID_STEP / 2, GRID_STEP), 10)
    m = np.maximum(_bin_shape(national, edges, grid, propensity), 1e-300)  # (grid, bins): expected reports / A
    ll = np.asarray(counts @ np.log(m).T)
    if wm.shape[0]:
        ll = ll + np.asarray(cw @ np.log(np.maximum(np.asarray(wm @ m.T), 1e-300)))
    ll = ll - total[:, None] * np.log(m.sum(axis=1))[None, :]
    keep = total > 0
    keys = [k for k, kk in zip(keys, keep, strict=True) if kk]
    ll, total = ll[keep], total[keep]
    rel = ll - ll.max(axis=1, keepdims=True)
    lik = np.exp(rel)

    def log_prior(t: float) -> np.ndarray:
        if t <= 0:
            lp = np.full(grid.size, -np.inf)
            lp[np.argmin(np.abs(grid))] = 0.0
            return lp
        lp = -0.5 * (grid / t) ** 2
        return lp - np.log(np.exp(lp).sum())

    notes: list[str] = []
    if tau is None:
        if len(keys) < 3:
            tau_hat = 0.0
            notes.append("fewer than 3 areas: between-area variation not estimated, every area gets the national curve")
        else:
            marg = [
                float(np.sum(np.log(np.maximum((lik * np.exp(log_prior(t))[None, :]).sum(axis=1), 1e-300)))) for t in TAU_GRID
            ]
            tau_hat = float(TAU_GRID[int(np.argmax(marg))])
    else:
        tau_hat = float(tau)
    post = lik * np.exp(log_prior(tau_hat))[None, :]
    post = post / post.sum(axis=1, keepdims=True)

    a = (1 - level) / 2
    # t_p of an area is φ_a·t_p of the national curve: its distribution is the product of the
    # area's posterior of φ and the national replicates behind the headline numbers (same
    # weights), so an area with τ = 0 gets exactly the national value and interval
    q_rep: dict[float, np.ndarray] = {}
    w_rep = np.ones(1)
    for p in (0.5, 0.9):
        vals, w_rep = national.replicates(lambda f, th, p=p: f.quantile(p, th))
        q_rep[p] = vals[:, 0] if vals.shape[0] >= 10 else np.array([national.point(lambda f, th, p=p: f.quantile(p, th))])
    if q_rep[0.5].size == 1:
        w_rep = np.ones(1)
    crit = stats.chi2.ppf(level, 1) / 2
    prior_var = tau_hat**2
    rows = []
    for i, key in enumerate(keys):
        lo_u, med_u, hi_u = _quantiles(grid, post[i], (a, 0.5, 1 - a))
        mean_u = float(np.dot(post[i], grid))
        var_u = float(np.dot(post[i], (grid - mean_u) ** 2))
        weight = max(0.0, 1.0 - var_u / prior_var) if prior_var > 0 else 0.0
        u_own = _peak(grid, rel[i])
        own_lo, own_hi = _likelihood_interval(grid, rel[i], crit)
        flat = not (math.isfinite(own_lo) or math.isfinite(own_hi))
        row: dict[str, Any] = {
            "key": key,
            "n_fit": float(total[i]),
            "scale": math.exp(med_u),
            "scale_low": math.exp(lo_u),
            "scale_high": math.exp(hi_u),
            "scale_own": math.nan if flat else math.exp(u_own),
            "scale_own_low": math.exp(own_lo) if math.isfinite(own_lo) else 0.0,
            "scale_own_high": math.exp(own_hi) if math.isfinite(own_hi) else math.inf,
            "data_weight": weight,
            "basis": _basis(weight, tau_hat),
        }
        live = post[i] > post[i].max() * 1e-9
        for p, name in ((0.5, "t50"), (0.9, "t90")):
            values = np.exp(grid[live])[:, None] * q_rep[p][None, :]
            weights = post[i][live][:, None] * w_rep[None, :]
            lo, mid, hi = percentile_summary(values.ravel(), level, weights.ravel())
            row[f"{name}_minutes"] = mid if math.isfinite(mid) else math.exp(med_u) * float(np.median(q_rep[p]))
            row[f"{name}_low"] = float(lo)
            row[f"{name}_high"] = float(hi)
        row["t90_extrapolated"] = bool(row["t90_minutes"] > horizon)
        rows.append(row)
    if tau_hat == 0 and tau is None and len(keys) >= 3:
        notes.append("no detectable difference in pace between areas (τ = 0): every area is shown with the national curve")
    table = pl.DataFrame(rows)
    return AreaRecovery(table, tau_hat, level, grid, post, national, tuple(notes))


def _peak(grid: np.ndarray, rel: np.ndarray) -> float:
    """Maximum of the log-likelihood on the grid, refined by a parabola through its neighbours."""
    j = int(np.argmax(rel))
    if 0 < j < grid.size - 1:
        y0, y1, y2 = rel[j - 1], rel[j], rel[j + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            return float(grid[j] + 0.5 * (y0 - y2) / den * (grid[1] - grid[0]))
    return float(grid[j])


def _likelihood_interval(grid: np.ndarray, rel: np.ndarray, crit: float) -> tuple[float, float]:
    """Where the relative log-likelihood crosses −crit, linearly interpolated (±inf when not bounded on the grid)."""
    inside = np.flatnonzero(rel >= -crit)
    i0, i1 = int(inside[0]), int(inside[-1])

    def cross(a: int, b: int) -> float:  # between grid[a] (outside) and grid[b] (inside)
        ya, yb = rel[a] + crit, rel[b] + crit
        f = ya / (ya - yb) if ya != yb else 0.5
        return float(grid[a] + f * (grid[b] - grid[a]))

    lo = -math.inf if i0 == 0 else cross(i0 - 1, i0)
    hi = math.inf if i1 == grid.size - 1 else cross(i1 + 1, i1)
    return lo, hi


def _basis(weight: float, tau: float) -> str:
    if tau <= 0 or weight < 0.1:
        return "national curve (too few reports of its own)"
    if weight < 0.5:
        return "partly its own reports, pulled toward the national curve"
    return "mostly its own reports"


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class EqualRecoveryTest:
    """The test of "the regions recovered alike" (metrics.json ``regions_equal_recovery``).

    ``statistic`` is LR/φ; with ``reference`` ``"F"`` the p-value is that of (LR/φ)/df on
    F(df, ``dispersion_df``), with ``"chi2"`` that of LR/φ on χ²(df). ``family`` is the
    recovery family every region was fitted with (the national one unless it failed to
    converge somewhere), ``families_failed`` says which were tried and why they were not used.
    """

    test: str
    statistic: float | None
    p_value: float | None
    df: int | None
    groups: tuple[str, ...]
    note: str
    loglik_shared: float | None = None
    loglik_separate: float | None = None
    family: str | None = None
    dispersion: float | None = None
    dispersion_df: int | None = None
    dispersion_pooled: float | None = None
    reference: str | None = None
    families_failed: tuple[str, ...] = ()

    @property
    def performed(self) -> bool:
        """Whether a statistic could be computed."""
        return self.statistic is not None

    def to_metrics(self) -> dict[str, Any]:
        """JSON-ready block."""

        def num(x: float | None, digits: int = 4) -> float | None:
            return None if x is None or not math.isfinite(x) else round(float(x), digits)

        return {
            "test": self.test,
            "statistic": num(self.statistic),
            "p_value": None if self.p_value is None else float(f"{self.p_value:.4g}"),
            "df": self.df,
            "regions": list(self.groups),
            "performed": self.performed,
            "note": self.note,
            "family": self.family,
            "reference": self.reference,
            "dispersion": num(self.dispersion),
            "dispersion_df": self.dispersion_df,
            "dispersion_pooled": num(self.dispersion_pooled),
            "families_failed": list(self.families_failed),
        }

    def with_note(self, extra: str) -> EqualRecoveryTest:
        """The same test with ``extra`` appended to its note."""
        return replace(self, note=f"{self.note}; {extra}" if self.note else extra)


LR_TEST = "likelihood ratio: one recovery curve shared by the regions (each with its own report rate) vs one curve per region; χ² reference"
QLR_TEST = (
    "quasi-likelihood ratio: one recovery curve shared by the regions (each with its own report rate) vs one curve per "
    "region, divided by the overdispersion around the per-region curves; F reference"
)
FALLBACK_FAMILIES = ("weibull", "lognormal", "loglogistic", "gamma", "exponential")
MAX_FALLBACK = 4  # families tried after the national one (each is a joint fit of every region)


@dataclass(frozen=True, eq=False)
class RegionResult:
    """Recovery of one region: its own fit when it has enough reports, else the pooled estimate."""

    region: str
    n_reports: float
    basis: str
    t50: Estimate
    t90: Estimate
    scale: Estimate
    fit: RecoveryFit | None = None
    coverage_note: str | None = None
    horizon_minutes: float = math.inf

    def to_metrics(self) -> dict[str, Any]:
        """The region's entry in metrics.json ``regions``."""

        def num(x: float) -> float | None:
            return round(float(x), 2) if math.isfinite(x) else None

        return {
            "n_reports_fitted": round(self.n_reports),
            "t50_minutes": num(self.t50.value),
            "t90_minutes": num(self.t90.value),
            "t50_minutes_ci": [num(self.t50.low), num(self.t50.high)],
            "t90_minutes_ci": [num(self.t90.low), num(self.t90.high)],
            "t90_extrapolated": bool(math.isfinite(self.t90.value) and self.t90.value > self.horizon_minutes),
            "time_scale_vs_national": num(self.scale.value),
            "time_scale_vs_national_ci": [num(self.scale.low), num(self.scale.high)],
            "basis": self.basis,
            "model": self.fit.model if self.fit is not None else None,
            "coverage_caveat": self.coverage_note,
        }


@dataclass(frozen=True, eq=False)
class RegionComparison:
    """Per-region recovery and the equal-recovery test."""

    regions: dict[str, RegionResult]
    test: EqualRecoveryTest
    pooled: AreaRecovery | None
    notes: tuple[str, ...] = ()


def _region_label(name: str) -> str | None:
    """A region named in any language or by its code → its English label (None if unknown)."""
    from analysis.geo.normalize import compact_key
    from analysis.geo.reference import areas

    key = compact_key(name)
    for code, label, names in areas().filter(pl.col("level") == "region").select("code", "label", "names").iter_rows():
        if key in {compact_key(code), compact_key(label), *(compact_key(n) for n in names or [])}:
            return label
    return None


def coverage_caveats(
    coverage: Mapping[str, Sequence[str]], *, counts: Mapping[str, Mapping[str, float]] | None = None
) -> dict[str, str]:
    """Caveat per region not covered by a regional source.

    ``coverage`` maps a source name to the regions it covers, named in English, French,
    Dutch or German or by REFNIS code (empty: national, no caveat); ``counts`` optionally
    maps region → source → reports, to say how many of the region's reports that source
    supplied. A name that is no region is itself reported, rather than silently ignored.
    """
    out: dict[str, list[str]] = {}
    for source, regions in coverage.items():
        if not regions:
            continue
        labels = {r: _region_label(r) for r in regions}
        unknown = [r for r, lab in labels.items() if lab is None]
        if unknown:
            raise ParameterError(f"coverage_regions of source '{source}': not a Belgian region: {', '.join(unknown)}")
        covered = set(labels.values())
        for region in REGION_NAMES.values():
            if region in covered:
                continue
            n = (counts or {}).get(region, {}).get(source)
            extra = f" ({n:g} of its reports come from it)" if n else ""
            out.setdefault(region, []).append(
                f"source '{source}' covers {', '.join(sorted(covered))} only{extra}: {region} is under-sampled, "
                "so its counts and rates are not comparable with the covered regions"
            )
    return {r: "; ".join(v) for r, v in out.items()}


def _workers() -> int:
    """Threads for independent fits: the machine's cores, at most 4 (few regions)."""
    return max(1, min(4, os.cpu_count() or 1))


def _fit_inputs(df: pl.DataFrame) -> tuple[np.ndarray, pl.DataFrame | None]:
    point = df.filter(pl.col("reported_until").is_null())
    win = df.filter(pl.col("reported_until").is_not_null())
    w = point["weight"].cast(pl.Int64).fill_null(1).to_numpy() if "weight" in point.columns else np.ones(point.height, int)
    times = np.repeat(point["reported_at"].to_numpy(), w) if point.height else np.array([], dtype="datetime64[us]")
    windows = None
    if win.height:
        cnt = win["weight"].cast(pl.Float64).fill_null(1.0) if "weight" in win.columns else pl.Series([1.0] * win.height)
        windows = pl.DataFrame({"start": win["reported_at"], "end": win["reported_until"], "count": cnt})
    return times, windows


def _fit_group(
    df: pl.DataFrame,
    national: RecoveryFit,
    *,
    propensity: Sequence[float] | None,
    bin_minutes: float,
    n_boot: int,
    seed: int,
    sampling: str = "spontaneous",
    family: str | None = None,
) -> RecoveryFit:
    """One region's own fit with ``family`` (default: the national one), no delay profile."""
    times, windows = _fit_inputs(df)
    return fit_down_reports(
        times,
        onset=national.onset,
        end=national.end,
        windows=windows,
        timezone=national.timezone,
        propensity=propensity,
        families=[family or national.model],
        level=national.level,
        bin_minutes=bin_minutes,
        n_boot=n_boot,
        seed=seed,
        sampling=sampling,  # type: ignore[arg-type]
        delay_profile=False,  # a region shows its curve and intervals; the delay's identifiability is the national fit's
    )


@dataclass(frozen=True, eq=False)
class _GroupInputs:
    """The groups' reports as :func:`analysis.recovery.fit_by_group` takes them."""

    names: tuple[str, ...]
    times: np.ndarray
    labels: pl.Series
    windows: pl.DataFrame | None


def _group_inputs(groups: Mapping[str, pl.DataFrame]) -> _GroupInputs:
    """Exact report times, their group labels and the windowed reports (with ``group``), built once for every family tried."""
    names = tuple(groups)
    times, sizes, windows = [], [], []
    for g in names:
        t, w = _fit_inputs(groups[g])
        times.append(t.astype("datetime64[us]"))
        sizes.append(t.size)
        if w is not None:
            windows.append(w.with_columns(pl.lit(g).alias("group")))
    # one label per report, built in polars (no ten million Python strings)
    labels = pl.Series("group", names, dtype=pl.String).gather(np.repeat(np.arange(len(names)), sizes))
    return _GroupInputs(names, np.concatenate(times), labels, pl.concat(windows) if windows else None)


def _fallback_families(national: RecoveryFit) -> list[str]:
    """Families to try when the national one does not converge for every region.

    The national fit's converged candidates, best first, then the plain families of
    :data:`FALLBACK_FAMILIES` (a national fit restricted to one family has no others); at
    most :data:`MAX_FALLBACK` of them, as each costs a joint fit of every region.
    """
    cands = national.candidates
    names: list[str] = []
    if {"family", "converged"} <= set(cands.columns):
        names = [f for f, ok in cands.select("family", "converged").iter_rows() if ok]
    return [f for f in dict.fromkeys([*names, *FALLBACK_FAMILIES]) if f != national.model][:MAX_FALLBACK]


def _grouped(
    inputs: _GroupInputs, national: RecoveryFit, family: str, *, propensity: Sequence[float] | None, bin_minutes: float, seed: int
) -> GroupFit | str:
    """The joint fit of every group with ``family`` (``separate`` pooling), or why it cannot serve the test."""
    curated = (national.identifiability.get("dispersion") or {}).get("clump_index") is not None
    try:
        gf = fit_by_group(
            inputs.times,
            inputs.labels,
            onset=national.onset,
            end=national.end,
            windows=inputs.windows,
            timezone=national.timezone,
            propensity=propensity,
            families=[family],
            pooling="separate",
            level=national.level,
            bin_minutes=bin_minutes,
            n_boot=0,
            seed=seed,
            sampling="curated" if curated else "spontaneous",
            share_delay=True,
            delay_profile=False,  # the test uses the pooled curve, not its delay's profile
        )
    except AnalysisError as exc:
        return f"{family}: {exc}"
    bad = [w.replace("separate: ", "").replace("separate", "the per-region model") for w in gf.failed if "shared_shape" not in w]
    if bad:
        return f"{family}: did not converge for {', '.join(bad)}"
    return gf


def _as_test(gf: GroupFit, family: str, failed: Sequence[str]) -> EqualRecoveryTest:
    """The grouped fit's test as the report states it, saying which family, which φ and what was not used."""
    t = gf.test
    ll = dict(zip(gf.models["model"], gf.models["log_likelihood"], strict=True))
    k = t["df"] // max(1, len(gf.groups) - 1)
    note = f"{family} curves, {k} parameter(s) each; {len(gf.groups)} regions compared"
    if "+delay" in family:
        note += "; one delay shared by the regions (the curves are compared after a common start)"
    if failed:
        note += f"; not used: {'; '.join(failed)}; {family} chosen by AIC among the families that converged for every region"
    if t["dispersion"] > 1.0:
        how = (
            "the clumping of identical statements"
            if t["dispersion_source"] == "clumps"
            else (f"Pearson X² of the region × time interaction around the per-region curves, {t['dispersion_df']} df")
        )
        note += f"; statistic divided by the overdispersion {t['dispersion']:.2f} ({how})"
    if gf.skipped:
        note += "; left out: " + ", ".join(f"{g} ({why})" for g, why in gf.skipped.items())
    if t["reference"] == "F":
        name = QLR_TEST
    elif t["dispersion"] == 1.0:
        name = LR_TEST
    else:
        name = f"quasi-{LR_TEST} (statistic divided by the clump index of the statements)"
    return EqualRecoveryTest(
        name, t["statistic"], t["p_value"], t["df"], tuple(gf.groups), note, ll["equal"], ll["separate"],
        family=family, dispersion=t["dispersion"], dispersion_df=t["dispersion_df"],
        dispersion_pooled=t["dispersion_pooled"], reference=t["reference"], families_failed=tuple(failed),
    )  # fmt: skip


def equal_recovery_test(
    groups: Mapping[str, pl.DataFrame],
    national: RecoveryFit,
    *,
    fits: Mapping[str, RecoveryFit] | None = None,
    propensity: Sequence[float] | None = None,
    bin_minutes: float = 5.0,
    seed: int = 0,
) -> EqualRecoveryTest:
    """Likelihood-ratio test that the groups share one recovery curve S.

    H0: every group's report intensity is A_g·g(clock)·S(t; θ) with one θ (the rates A_g
    differ freely: regions differ in size and in how much they report). H1: each group has
    its own θ_g. Both are fitted jointly by :func:`analysis.recovery.fit_by_group`
    (``pooling="separate"``). LR = 2·[ℓ(H1) − ℓ(H0)] is divided by the overdispersion φ
    measured around the per-region curves (clumped reports would otherwise make chance
    differences look significant; measured around the pooled curve, φ would grow with the
    difference under test and take the test's power), and referred to F((G − 1)·k, df of
    φ) — or χ²((G − 1)·k) when φ = 1 or comes from clumps of curated statements.

    The family is the national one. When it fails to converge for some group (a mixture
    whose tail runs to infinity in a slow region, say), the national fit's other converged
    candidates and the plain families are tried, and the one with the lowest AIC of the
    per-group model among those converging for every group is used, so that a test is
    made whenever two groups have reports enough. ``fits`` (the groups' own fits) are
    accepted for compatibility and not needed.

    Raises
    ------
    ParameterError
        Fewer than two groups.
    FitError
        No family converged for every group (the message names each family and why).
    """
    del fits
    if len(groups) < 2:
        raise ParameterError(f"equal_recovery_test: at least two groups are needed, got {len(groups)}")
    inputs = _group_inputs(groups)

    def attempt(family: str) -> GroupFit | str:
        return _grouped(inputs, national, family, propensity=propensity, bin_minutes=bin_minutes, seed=seed)

    first = attempt(national.model)
    if isinstance(first, GroupFit):
        return _as_test(first, national.model, ())
    failed = [first]
    good: dict[str, GroupFit] = {}
    for family in _fallback_families(national):
        got = attempt(family)
        if isinstance(got, GroupFit):
            good[family] = got
        else:
            failed.append(got)
    if not good:
        raise FitError("no recovery family converged for every region (" + "; ".join(failed) + ")")
    aic = {f: float(g.models.filter(pl.col("model") == "separate")["aic"][0]) for f, g in good.items()}
    best = min(aic, key=aic.__getitem__)
    return _as_test(good[best], best, failed)


def _region_down_reports(reports: pl.DataFrame) -> pl.DataFrame:
    """Down reports inside a region (municipal, province and region statements; not country-wide ones)."""
    from analysis.spatial import report_scope

    # only the columns used here: the filters below copy what they keep
    used = [
        c
        for c in (
            "reported_at", "reported_until", "weight", "status", "source", "region",
            "municipality", "province_code", "region_code", "nis_code", "area_level",
        )
        if c in reports.columns
    ]  # fmt: skip
    return (
        report_scope(reports.lazy().select(used))
        .filter(
            pl.col("status").is_in(DOWN_STATUSES)
            & pl.col("region").is_not_null()
            & pl.col("scope").is_in(["municipality", "province", "region"])
        )
        .select(c for c in ("reported_at", "reported_until", "weight", "region", "source") if c in used)
        .collect()
    )


def _reports_inside(down: pl.DataFrame, national: RecoveryFit, names: Sequence[str]) -> dict[str, float]:
    """Reports per region between onset and end of observation (weights summed)."""
    inside = (
        report_minutes(down, national.onset)
        .lazy()
        .filter((pl.col("end") >= 0) & (pl.col("start") <= national.horizon_minutes))
        .group_by("region")
        .agg(pl.col("w").sum())
        .collect()
    )
    return dict.fromkeys(names, 0.0) | {r: float(w) for r, w in inside.iter_rows() if r in names}


def _by_source(down: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Reports per region and source (for the coverage caveats)."""
    out: dict[str, dict[str, float]] = {}
    if "source" in down.columns:
        for r, src, n in down.group_by("region", "source").agg(pl.col("weight").sum()).iter_rows():
            out.setdefault(r, {})[src] = float(n or 0)
    return out


def _fits_and_test(
    eligible: Sequence[str],
    national: RecoveryFit,
    *,
    own_fit: Any,
    test_of: Any,
    notes: list[str],
) -> tuple[dict[str, RecoveryFit], EqualRecoveryTest | AnalysisError | None]:
    """The eligible regions' own fits and the equal-recovery test over all of them.

    The fits and the test are independent, each seeded on its own: they run side by side
    (numpy releases the GIL in the likelihoods), with the same results as one after the
    other. Every eligible region is in the test, whether or not its own fit converged. A
    region whose own fit fails with the national family is refitted with the family the
    test settled on, when that is another one.
    """
    fits: dict[str, RecoveryFit] = {}
    failed: dict[str, AnalysisError] = {}
    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        pending = {r: pool.submit(own_fit, r, None) for r in eligible}
        test_job = pool.submit(test_of, list(eligible)) if len(eligible) >= 2 else None
        for r in eligible:
            try:
                fits[r] = pending[r].result()
            except AnalysisError as exc:
                failed[r] = exc
        test = test_job.result() if test_job is not None else None
    other = test.family if isinstance(test, EqualRecoveryTest) and test.family != national.model else None
    for r, exc in failed.items():
        why: AnalysisError = exc
        if other is not None:
            try:
                fits[r] = own_fit(r, other)
                notes.append(f"{r}: {national.model} did not converge ({exc}); fitted with {other}, the family of the test")
                continue
            except AnalysisError as exc2:
                why = exc2
        notes.append(f"{r}: own fit failed ({why}); pooled estimate shown")
    return fits, test


def _region_result(
    r: str,
    fit: RecoveryFit | None,
    row: pl.DataFrame,
    national: RecoveryFit,
    *,
    n: float,
    min_reports: int,
    caveat: str | None,
) -> RegionResult:
    """One region's entry: its own fit when it has one, else the pooled estimate, else the national curve."""
    if fit is not None:
        if row.height:  # the region's own (unpooled) time stretch against the national curve
            x = row.row(0, named=True)
            scale = Estimate(x["scale_own"], x["scale_own_low"], x["scale_own_high"])
        else:
            nat50 = national.t50.value
            scale = Estimate(fit.t50.value / nat50 if nat50 > 0 else math.nan, math.nan, math.nan)
        return RegionResult(r, n, "own fit", fit.t50, fit.t90, scale, fit, caveat, national.horizon_minutes)
    if row.height:
        x = row.row(0, named=True)
        t50 = Estimate(x["t50_minutes"], x["t50_low"], x["t50_high"])
        t90 = Estimate(x["t90_minutes"], x["t90_low"], x["t90_high"])
        scale = Estimate(x["scale"], x["scale_low"], x["scale_high"])
        basis = f"pooled: {x['basis']}" if n else "no reports: national curve"
    else:
        t50, t90, scale = national.t50, national.t90, Estimate(1.0, math.nan, math.nan)
        basis = "no reports of its own: national curve"
    if 0 < n < min_reports:
        basis += f" ({n:g} reports, fewer than the {min_reports} needed for its own curve)"
    return RegionResult(r, n, basis, t50, t90, scale, None, caveat, national.horizon_minutes)


def _final_test(
    test: EqualRecoveryTest | AnalysisError | None, eligible: Sequence[str], n_in: Mapping[str, float], min_reports: int
) -> EqualRecoveryTest:
    """The test as reported: with the regions left out named, or why it was not made."""
    if test is None:
        counts = ", ".join(f"{r} {n_in[r]:g} reports" for r in n_in)
        return EqualRecoveryTest(
            LR_TEST, None, None, None, tuple(eligible),
            f"not performed: fewer than two regions have the {min_reports} reports needed for a curve of their own "
            f"({counts}; {min_reports} needed per region)",
        )  # fmt: skip
    if isinstance(test, AnalysisError):
        return EqualRecoveryTest(LR_TEST, None, None, None, tuple(eligible), f"not performed: {test}")
    left = [f"{r} ({n_in[r]:g} reports)" for r in n_in if r not in eligible and n_in[r] > 0]
    return test.with_note(f"left out (fewer than {min_reports} reports): {', '.join(left)}") if left else test


def compare_regions(
    reports: pl.DataFrame,
    national: RecoveryFit,
    *,
    pooled: AreaRecovery | None = None,
    propensity: Sequence[float] | None = None,
    bin_minutes: float = 5.0,
    n_boot: int = 200,
    seed: int = 0,
    min_reports: int = 20,
    coverage: Mapping[str, Sequence[str]] | None = None,
    regions: Sequence[str] | None = None,
    sampling: str = "spontaneous",
) -> RegionComparison:
    """Recovery per region and the test of equal recovery.

    ``sampling`` is passed to each region's fit (``curated``: identical statements count once,
    as in the national fit).

    Parameters
    ----------
    reports : polars.DataFrame
        Canonical reports with ``region`` and ``region_code`` (resolved); down reports
        inside a region (municipal, province and region statements) are used,
        country-wide statements are not.
    national : RecoveryFit
        The national fit (its family is used for every region, so the curves compare;
        another converging family only when it fails, see :func:`equal_recovery_test`).
    pooled : AreaRecovery, optional
        Region-level pooled estimates (``area_key`` = region code) for regions too thin for
        their own fit; computed here when not given.
    min_reports : int
        Reports a region needs (between onset and end of observation) for its own fit and
        for a place in the test; below it the region shows the pooled estimate. Every
        region with that many is in the test.
    coverage : mapping, optional
        Source name → regions it covers (``coverage_regions`` in incident.toml).
    regions : sequence of str, optional
        Region names to report (default: Flanders, Wallonia, Brussels).
    """
    if isinstance(min_reports, bool) or not isinstance(min_reports, int) or min_reports < 3:
        raise ParameterError(f"min_reports must be an integer >= 3, got {min_reports!r}")
    names = list(regions or REGION_NAMES.values())
    code_of = {v: k for k, v in REGION_NAMES.items()}
    down = _region_down_reports(reports)
    n_in = _reports_inside(down, national, names)
    caveats = coverage_caveats(coverage or {}, counts=_by_source(down))
    notes: list[str] = []
    if pooled is None:
        keyed = down.with_columns(pl.col("region").replace_strict(code_of, default=None).alias("area_key"))
        try:
            pooled = pooled_area_recovery(keyed, national, propensity=propensity, bin_minutes=bin_minutes)
        except AnalysisError as exc:
            notes.append(f"pooled region estimates unavailable: {exc}")
    groups = {r: down.filter(pl.col("region") == r) for r in names}
    eligible = [r for r in names if n_in[r] >= min_reports]

    def own_fit(r: str, family: str | None) -> RecoveryFit:
        return _fit_group(
            groups[r], national, propensity=propensity, bin_minutes=bin_minutes, n_boot=n_boot,
            seed=seed + 101 * (names.index(r) + 1), sampling=sampling, family=family,
        )  # fmt: skip

    def test_of(tested: list[str]) -> EqualRecoveryTest | AnalysisError:
        try:
            return equal_recovery_test(
                {r: groups[r] for r in tested}, national, propensity=propensity, bin_minutes=bin_minutes, seed=seed
            )
        except AnalysisError as exc:
            return exc

    fits, test = _fits_and_test(eligible, national, own_fit=own_fit, test_of=test_of, notes=notes)
    out = {}
    for r in names:
        row = pooled.table.filter(pl.col("key") == code_of.get(r, r)) if pooled is not None else pl.DataFrame()
        out[r] = _region_result(r, fits.get(r), row, national, n=n_in[r], min_reports=min_reports, caveat=caveats.get(r))
    return RegionComparison(out, _final_test(test, eligible, n_in, min_reports), pooled, tuple(notes))
