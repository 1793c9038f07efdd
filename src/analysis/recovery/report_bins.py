"""The bins and windows of report evidence, and how reports arrive in clumps.

Building blocks of :class:`~analysis.recovery.evidence.ReportEvidence`: windows spread over
bins (``window_matrix``, ``merge_windows``), bin positions and tail sums on a grid, the
noticing delay, the clock-profile distortion of the bootstrap, and :class:`Clumping`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse
from scipy.special import ndtr

if TYPE_CHECKING:
    from analysis.recovery.evidence import ReportEvidence
    from analysis.recovery.family_base import RecoveryFamily

# the noticing delay's median is a share of the time by which NOTICE_RESTORED of the customers
# are restored, at most NOTICE_MAX_MINUTES (see analysis.recovery.evidence)
NOTICE_RESTORED = 0.2
# the noticing delay's spread on the log scale (its distribution is log-normal)
NOTICE_SIGMA = 1.0
NOTICE_MAX_MINUTES = 30.0


def profile_perturbation(
    hours: np.ndarray,
    rng: np.random.Generator,
    n: int,
    sd: float,
    chol: np.ndarray | None = None,
    *,
    df: float = 0.0,
) -> np.ndarray:
    """exp(δ) per replicate and bin (``(n, n_bins)``): a smooth random distortion of the clock profile.

    Two daily harmonics whose four coefficients are N(0, sd²) each, or N(0, L·Lᵀ) with
    ``chol`` = L (2k × 2k: k harmonics, cos and sin of each). ``df`` > 0 makes each
    harmonic's pair a bivariate Student t with ``df`` degrees of freedom instead (the pair
    divided by one √(χ²_df / df) per replicate and harmonic): the same scale, so most
    replicates stay as near the profile as before, and a few far, with any phase.
    """
    w = 2.0 * np.pi * np.asarray(hours, dtype=float) / 24.0
    k = 2 if chol is None else np.asarray(chol).shape[0] // 2
    basis = np.stack([f(j * w) for j in range(1, k + 1) for f in (np.cos, np.sin)])
    if chol is None:
        coef = rng.normal(0.0, sd, size=(n, basis.shape[0]))
    else:
        coef = rng.standard_normal((n, basis.shape[0])) @ np.asarray(chol, dtype=float).T
    if df > 0:
        scale = np.sqrt(df / rng.chisquare(df, size=(n, k)))
        coef = coef * np.repeat(scale, 2, axis=1)
    return np.exp(coef @ basis)


def notice_median(times: np.ndarray, sf: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Median noticing delay (minutes) for rows of S at ``times`` (``sf``: ``(B, n)``) and noticing ``share`` (``(B,)``).

    ``share`` × the time S falls to 1 − NOTICE_RESTORED (linear between the given times; past
    the last one: the cap), capped at NOTICE_MAX_MINUTES.
    """
    hit, j, _, _, raw = _restored_crossing(sf, times)
    t_q = np.where(hit, times[j - 1] + np.clip(raw, 0.0, 1.0) * (times[j] - times[j - 1]), NOTICE_MAX_MINUTES)
    return np.minimum(share * t_q, NOTICE_MAX_MINUTES)


def _restored_crossing(sf: np.ndarray, times: np.ndarray) -> tuple[Any, ...]:
    """Where each row of S first falls to 1 − NOTICE_RESTORED: (hit, index j, S before, S at j, unclipped fraction)."""
    level = 1.0 - NOTICE_RESTORED
    below = sf <= level
    hit = below.any(axis=1)
    j = np.clip(np.argmax(below, axis=1), 1, times.size - 1)
    r = np.arange(sf.shape[0])
    s0, s1 = sf[r, j - 1], sf[r, j]
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(s0 > s1, (s0 - level) / (s0 - s1), 1.0)
    return hit, j, s0, s1, raw


def notice_factor_grad(
    ev: ReportEvidence, family: RecoveryFamily, th: np.ndarray, s_nodes: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The noticing factor per bin (as ``ReportEvidence._noticed``), its derivative in μ = log(median), and ∂μ/∂θ.

    ``s_nodes``: S at the evidence's nodes for each row of ``th`` (S's parameters, then the
    noticing share); ``sigma``: the noticing delay's log-scale spread. The median is
    :func:`notice_median`'s (it moves with S's parameters as well as with the share); for
    B(x) = ∫₀ˣ F_N, ∂B/∂μ = −e^{μ+σ²/2}·Φ(z − σ); zero where the factor or the median is
    clipped. Returns ``(factor (B, n_bins), ∂factor/∂μ (B, n_bins), ∂μ/∂θ (B, k + 1))``.
    """
    k = family.n_params
    nodes, share = ev.nodes, th[:, k]
    level = 1.0 - NOTICE_RESTORED
    # the median as notice_median computes it, with its derivative
    hit, j, s0, s1, raw = _restored_crossing(s_nodes, nodes)
    step = nodes[j] - nodes[j - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_q = np.where(hit, nodes[j - 1] + np.clip(raw, 0.0, 1.0) * step, NOTICE_MAX_MINUTES)
        med = np.minimum(share * t_q, NOTICE_MAX_MINUTES)
        _, ds = family.sf_grad(np.stack([nodes[j - 1], nodes[j]], axis=1), th[:, :k])
        dfrac = (ds[:, :, 0] * (level - s1) + ds[:, :, 1] * (s0 - level)) / (s0 - s1) ** 2
        moving = hit & (s0 > s1) & (raw > 0.0) & (raw < 1.0)
        free = share * t_q < NOTICE_MAX_MINUTES
        dmu = np.zeros_like(th)
        dmu[:, :k] = np.where(moving & free, step * dfrac / t_q, 0.0).T
        dmu[:, k] = np.where(free, 1.0 / share, 0.0)
        mu = np.log(med)[:, None]
        x = ev.edges[None, :]
        z = (np.log(x) - mu) / sigma
        upper = np.exp(mu + 0.5 * sigma**2) * ndtr(z - sigma)
        big = x * ndtr(z) - upper
    big[:, x[0] <= 0] = 0.0
    upper[:, x[0] <= 0] = 0.0
    mean = np.diff(big, axis=1) / ev.widths
    dmean = np.where((mean > 0.0) & (mean < 1.0), -np.diff(upper, axis=1) / ev.widths, 0.0)
    return np.clip(mean, 0.0, 1.0), dmean, np.where(np.isfinite(dmu), dmu, 0.0)


def window_matrix(start: np.ndarray, end: np.ndarray, edges: np.ndarray) -> sparse.csr_matrix:
    """Overlap of each window [start, end] with each bin, as a fraction of the bin's width.

    Row j, column k holds |W_j ∩ bin_k| / |bin_k|, so ``M @ m`` is the expected number of
    reports in each window when the intensity is constant within bins.
    """
    start = np.asarray(start, dtype=float)
    end = np.asarray(end, dtype=float)
    n_bins = edges.size - 1
    if start.size == 0:
        return sparse.csr_matrix((0, n_bins))
    widths = np.diff(edges)
    i0 = np.clip(np.searchsorted(edges, start, side="right") - 1, 0, n_bins - 1)
    i1 = np.clip(np.searchsorted(edges, end, side="left") - 1, 0, n_bins - 1)
    i1 = np.maximum(i1, i0)
    cnt = i1 - i0 + 1
    rows = np.repeat(np.arange(start.size), cnt)
    offset = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    cols = np.repeat(i0, cnt) + offset
    lo = np.maximum(edges[cols], start[rows])
    hi = np.minimum(edges[cols + 1], end[rows])
    frac = np.clip(hi - lo, 0.0, None) / widths[cols]
    return sparse.csr_matrix((frac, (rows, cols)), shape=(start.size, n_bins))


def bin_position(x: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bin index i and fraction f ∈ [0, 1] with x = edges[i] + f·(edges[i+1] − edges[i]) (x clipped to the bins)."""
    x = np.clip(np.asarray(x, dtype=float), edges[0], edges[-1])
    nb = edges.size - 1
    i = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, nb - 1)
    f = np.clip((x - edges[i]) / (edges[i + 1] - edges[i]), 0.0, 1.0)
    return i, f


def tail_sums(m: np.ndarray) -> np.ndarray:
    """R[..., i] = Σ_{k ≥ i} m[..., k], with a trailing 0 (shape ``(..., n_bins + 1)``).

    Sums from the end, so a window late in the tail (where m is tiny) is a difference of
    two small numbers rather than of two totals: no cancellation.
    """
    out = np.zeros((*m.shape[:-1], m.shape[-1] + 1))
    out[..., :-1] = np.cumsum(m[..., ::-1], axis=-1)[..., ::-1]
    return out


def edge_index(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Index of the bin edge nearest to each time (minutes)."""
    x = np.asarray(x, dtype=float)
    j = np.clip(np.searchsorted(edges, x), 1, edges.size - 1)
    return np.where(np.abs(edges[j - 1] - x) <= np.abs(edges[j] - x), j - 1, j)


def merge_windows(
    start: np.ndarray, end: np.ndarray, count: np.ndarray, raw_width: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Identical windows (same start and end) as one row: counts summed, raw widths count-weighted.

    The likelihood of c reports in one window is c·log Λ(W), so a window row per report
    and one row with its count give the same value; one row per distinct window makes the
    cost of every evaluation follow the distinct windows, not the windowed reports.
    """
    start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    count, raw_width = np.asarray(count, dtype=float), np.asarray(raw_width, dtype=float)
    if start.size < 2:
        return start, end, count, raw_width
    uniq, inv = np.unique(np.stack([start, end], axis=1), axis=0, return_inverse=True)
    if uniq.shape[0] == start.size:
        return start, end, count, raw_width
    inv = inv.reshape(-1)
    c = np.bincount(inv, weights=count, minlength=uniq.shape[0])
    cw = np.bincount(inv, weights=count * raw_width, minlength=uniq.shape[0])
    plain = np.bincount(inv, weights=raw_width, minlength=uniq.shape[0]) / np.bincount(inv, minlength=uniq.shape[0])
    raw = np.divide(cw, c, out=plain, where=c > 0)
    return uniq[:, 0].copy(), uniq[:, 1].copy(), c, raw


def grid_cells(width: int, phases: np.ndarray, weights: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells of the window grids of one width: first and end bin of each cell and the weight of its grid.

    The grid of width W (bins) and phase φ cuts the bins into cells [s, s + W) with
    s ≡ φ (mod W), clipped to the observation period, so every bin lies in exactly one cell
    of every grid. Returns ``(lo, hi, weight)`` over the cells of all the given phases.
    """
    lo, hi, wt = [], [], []
    for ph, q in zip(phases.tolist(), weights.tolist(), strict=True):
        s0 = int(ph) % width
        starts = np.arange(s0 - width if s0 > 0 else 0, n_bins, width)
        lo.append(np.clip(starts, 0, n_bins))
        hi.append(np.clip(starts + width, 0, n_bins))
        wt.append(np.full(starts.size, float(q)))
    if not lo:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0)
    return np.concatenate(lo), np.concatenate(hi), np.concatenate(wt)


@dataclass(frozen=True)
class Clumping:
    """How reports arrive in clumps, for the overdispersed parametric bootstrap.

    Reports come in clumps (several reports at one time, or one statement naming several
    places) that arrive as a Poisson process with rate λ(t)/E[K]; a clump of K reports shares
    one time (exactly timed) or one window. Counts then have variance φ × mean with
    φ = E[K²]/E[K]; φ = 1 with every K = 1 is the plain Poisson process.

    Exactly timed clumps: K drawn from ``exact_sizes``/``exact_p``, or geometric on 1, 2, …
    with mean ``exact_geometric``. Windowed clumps fall in classes: class c has a width of
    ``win_bins[c]`` bins, probability ``win_p[c]`` (per clump) and K = ``win_sizes[c]``, or
    K geometric with mean ``win_geometric`` when that is set.
    """

    phi: float
    exact_sizes: np.ndarray
    exact_p: np.ndarray
    win_bins: np.ndarray
    win_sizes: np.ndarray
    win_p: np.ndarray
    exact_geometric: float | None = None
    win_geometric: float | None = None

    @property
    def exact_mean(self) -> float:
        """E[K] of exactly timed clumps."""
        if self.exact_geometric is not None:
            return float(self.exact_geometric)
        return float(np.dot(self.exact_sizes, self.exact_p)) if self.exact_p.size else 1.0

    @property
    def win_mean(self) -> float:
        """E[K] of windowed clumps."""
        if self.win_geometric is not None:
            return float(self.win_geometric)
        return float(np.dot(self.win_sizes, self.win_p)) if self.win_p.size else 1.0


def _clump_totals(
    n_c: np.ndarray, sizes: np.ndarray | None, p: np.ndarray | None, geometric: float | None, rng: np.random.Generator
) -> np.ndarray:
    """Reports in ``n_c`` clumps (any shape): K fixed (``sizes`` scalar-like), drawn from (sizes, p), or geometric."""
    if geometric is not None and geometric > 1.0:
        # a sum of m geometric(q) variables on 1, 2, … is m + NegBin(m, q)
        return n_c + rng.negative_binomial(np.maximum(n_c, 1), 1.0 / geometric) * (n_c > 0)
    if sizes is None or (sizes.size == 1 and sizes[0] == 1):
        return n_c
    if sizes.size == 1:
        return n_c * sizes[0]
    flat = np.repeat(np.arange(n_c.size), n_c.ravel())
    k = rng.choice(sizes, size=flat.size, p=p)
    return np.bincount(flat, weights=k, minlength=n_c.size).reshape(n_c.shape)


def poisson_clumping(ev: ReportEvidence) -> Clumping:
    """No clumping: single reports, window widths as observed (weighted by their counts)."""
    if ev.win_w.size:
        wb = ev.window_bins()
        uw, inv = np.unique(wb, return_inverse=True)
        p = np.bincount(inv, weights=ev.win_w)
        return Clumping(1.0, np.ones(1), np.ones(1), uw, np.ones(uw.size), p / p.sum())
    return Clumping(1.0, np.ones(1), np.ones(1), np.empty(0, dtype=np.int64), np.empty(0), np.empty(0))


def replicate_offsets(rep: np.ndarray, n: int) -> np.ndarray:
    """Where each replicate's rows start in arrays sorted by replicate (``n + 1`` offsets)."""
    return np.searchsorted(rep, np.arange(n + 1))


def gather_rows(off: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the elements of replicates ``rows`` (per-replicate offsets) and the position in ``rows`` of each.

    A replicate may appear several times in ``rows`` (one data set refitted from several starts).
    """
    lens = off[rows + 1] - off[rows]
    total = int(lens.sum())
    if total == 0:
        return np.empty(0, dtype=int), np.empty(0, dtype=int)
    idx = np.repeat(off[rows] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(total)
    return idx, np.repeat(np.arange(rows.size), lens)
