"""Recovery by area: partial pooling toward the national curve.

Each area's curve is the national one stretched in time, S_a(t) = S(t / φ_a) (an
accelerated-failure-time model: the shape is national, the pace local), with the area's own
report rate A_a. The area's reports give a likelihood for u_a = log φ_a (the binned
Poisson-process likelihood of :mod:`analysis.recovery`, with A_a maximised out) evaluated on
a grid; the u_a share a normal prior N(0, τ²) centred on the national curve, with τ chosen by
maximising the marginal likelihood of all areas (empirical Bayes). An area with three
reports has a flat likelihood and keeps the prior: its t90 is the national t90 with a wider
interval, never a confident curve of its own. An area with thousands of reports is led by
its own data. Intervals combine the area's posterior for φ_a with the national bootstrap
replicates of t50/t90.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import sparse, stats

from analysis.errors import FitError, ParameterError
from analysis.recovery import RecoveryFit
from analysis.recovery.evidence import window_matrix
from analysis.recovery.propensity import aligned_edges, check_propensity, hourly_weights
from analysis.recovery.result import percentile_summary

__all__ = ["AreaRecovery", "pooled_area_recovery", "report_minutes", "report_time_cdf"]


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

    notes: list[str] = []
    tau_hat = _between_areas(grid, lik, tau, notes)
    post = lik * np.exp(_log_prior(grid, tau_hat))[None, :]
    post = post / post.sum(axis=1, keepdims=True)

    q_rep, w_rep = _national_quantiles(national)
    crit = stats.chi2.ppf(level, 1) / 2
    rows = []
    for i, key in enumerate(keys):
        row = _area_row(key, grid, post[i], rel[i], level=level, tau=tau_hat, crit=crit, n_fit=float(total[i]))
        row |= _area_times(grid, post[i], q_rep, w_rep, level=level, scale=row["scale"])
        row["t90_extrapolated"] = bool(row["t90_minutes"] > horizon)
        rows.append(row)
    if tau_hat == 0 and tau is None and len(keys) >= 3:
        notes.append("no detectable difference in pace between areas (τ = 0): every area is shown with the national curve")
    table = pl.DataFrame(rows)
    return AreaRecovery(table, tau_hat, level, grid, post, national, tuple(notes))


def _between_areas(grid: np.ndarray, lik: np.ndarray, tau: float | None, notes: list[str]) -> float:
    """τ, the between-area SD of log φ: ``tau`` when given, else the maximum of the marginal likelihood on :data:`TAU_GRID`."""
    if tau is not None:
        return float(tau)
    if lik.shape[0] < 3:
        notes.append("fewer than 3 areas: between-area variation not estimated, every area gets the national curve")
        return 0.0
    marg = [float(np.sum(np.log(np.maximum((lik * np.exp(_log_prior(grid, t))[None, :]).sum(axis=1), 1e-300)))) for t in TAU_GRID]
    return float(TAU_GRID[int(np.argmax(marg))])


def _log_prior(grid: np.ndarray, t: float) -> np.ndarray:
    """Log N(0, t²) on ``grid``, normalised over the grid (t = 0: all mass on log φ = 0)."""
    if t <= 0:
        lp = np.full(grid.size, -np.inf)
        lp[np.argmin(np.abs(grid))] = 0.0
        return lp
    lp = -0.5 * (grid / t) ** 2
    return lp - np.log(np.exp(lp).sum())


def _national_quantiles(national: RecoveryFit) -> tuple[dict[float, np.ndarray], np.ndarray]:
    """The national t50 and t90 replicates (the point value when fewer than 10) and their weights.

    t_p of an area is φ_a·t_p of the national curve: its distribution is the product of the
    area's posterior of φ and the national replicates behind the headline numbers (same
    weights), so an area with τ = 0 gets exactly the national value and interval.
    """
    q_rep: dict[float, np.ndarray] = {}
    w_rep = np.ones(1)
    for p in (0.5, 0.9):
        vals, w_rep = national.replicates(lambda f, th, p=p: f.quantile(p, th))
        q_rep[p] = vals[:, 0] if vals.shape[0] >= 10 else np.array([national.point(lambda f, th, p=p: f.quantile(p, th))])
    if q_rep[0.5].size == 1:
        w_rep = np.ones(1)
    return q_rep, w_rep


def _area_row(
    key: str, grid: np.ndarray, post: np.ndarray, rel: np.ndarray, *, level: float, tau: float, crit: float, n_fit: float
) -> dict[str, Any]:
    """One area's time stretch: pooled (posterior) and its own (likelihood), and how much its data weigh."""
    a = (1 - level) / 2
    lo_u, med_u, hi_u = _quantiles(grid, post, (a, 0.5, 1 - a))
    mean_u = float(np.dot(post, grid))
    var_u = float(np.dot(post, (grid - mean_u) ** 2))
    prior_var = tau**2
    weight = max(0.0, 1.0 - var_u / prior_var) if prior_var > 0 else 0.0
    u_own = _peak(grid, rel)
    own_lo, own_hi = _likelihood_interval(grid, rel, crit)
    flat = not (math.isfinite(own_lo) or math.isfinite(own_hi))
    return {
        "key": key,
        "n_fit": n_fit,
        "scale": math.exp(med_u),
        "scale_low": math.exp(lo_u),
        "scale_high": math.exp(hi_u),
        "scale_own": math.nan if flat else math.exp(u_own),
        "scale_own_low": math.exp(own_lo) if math.isfinite(own_lo) else 0.0,
        "scale_own_high": math.exp(own_hi) if math.isfinite(own_hi) else math.inf,
        "data_weight": weight,
        "basis": _basis(weight, tau),
    }


def _area_times(
    grid: np.ndarray, post: np.ndarray, q_rep: dict[float, np.ndarray], w_rep: np.ndarray, *, level: float, scale: float
) -> dict[str, float]:
    """An area's t50 and t90 with their intervals: its posterior of φ times the national replicates."""
    out: dict[str, float] = {}
    live = post > post.max() * 1e-9
    for p, name in ((0.5, "t50"), (0.9, "t90")):
        values = np.exp(grid[live])[:, None] * q_rep[p][None, :]
        weights = post[live][:, None] * w_rep[None, :]
        lo, mid, hi = percentile_summary(values.ravel(), level, weights.ravel())
        out[f"{name}_minutes"] = mid if math.isfinite(mid) else scale * float(np.median(q_rep[p]))
        out[f"{name}_low"] = float(lo)
        out[f"{name}_high"] = float(hi)
    return out


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
