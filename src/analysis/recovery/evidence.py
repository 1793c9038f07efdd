"""Likelihoods of the three kinds of evidence, all about the same recovery curve S.

Each evidence object holds its data in the form its likelihood needs (binned counts,
censored times, a cleaned series) and provides:

* ``loglik(family, theta)``: the log-likelihood of a full parameter vector, S's
  parameters followed by the evidence's nuisance parameters (``extra_names``);
* ``profiled(family, theta)``: nuisance parameters maximised in closed form (the report
  rate A);
* ``simulate_batch(family, theta, rng, n)``: n new data sets of the same design, for the
  vectorised bootstrap.

Times are minutes after onset throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
from scipy import sparse
from scipy.special import ndtr

from analysis.recovery.family_base import RecoveryFamily
from analysis.recovery.report_bins import (
    Clumping,
    _clump_totals,
    bin_position,
    edge_index,
    grid_cells,
    merge_windows,
    notice_factor_grad,
    notice_median,
    poisson_clumping,
    profile_perturbation,
    tail_sums,
    window_matrix,
)
from analysis.recovery.restoration_evidence import RestorationEvidence

__all__ = [
    "PROFILE_HARMONIC_SD",
    "Clumping",
    "ReportBatch",
    "ReportEvidence",
    "RestorationEvidence",
    "merge_windows",
    "window_matrix",
]

INF = math.inf
BLOCK_VALUES = 65_536  # values of S per block of parameter rows in ReportEvidence.shape (0.5 MB temporaries)
# the noticing delay before a still-out customer can report: log-normal with a fixed spread
# (log scale) and a median that is a fitted share of the time by which NOTICE_RESTORED of the
# customers are restored, at most NOTICE_MAX_MINUTES. The typical customer notices before
# that share is back: otherwise a fast restoration and a slow noticing explain the same rising
# then falling report rate and the data cannot tell them apart. At the lower bound of the
# share the factor is 1 from the first seconds on, i.e. no ramp.
NOTICE_SIGMA = 1.0
NOTICE_BOUNDS = (1e-3, 1.0)
NOTICE_START = 0.1
# how well an assumed (not stated) clock profile is known: the bootstrap draws each data set
# under g·exp(δ), δ(h) = Σ_{j=1,2} a_j cos(2πjh/24) + b_j sin(2πjh/24) with a_j, b_j ~ N(0, s²),
# so the profile is off by a factor of about exp(√2·s) (1.4) at a typical hour
PROFILE_HARMONIC_SD = 0.25


@dataclass(frozen=True, eq=False)
class ReportEvidence:
    """User reports of the outage as an inhomogeneous Poisson process, binned.

    Intensity (reports per minute) λ(t) = A·g_k·S(t)·(1 + s·exp(−t/τ_s)), the last factor
    only with ``surge=True`` (an onset surge of reports that fades with time constant
    τ_s); with ``noticing=True`` also ×F_N(t), the log-normal share of still-out customers
    who have noticed (:func:`notice_median`), exact per bin. ``hours`` (local clock hour of
    each bin) and ``profile_sd`` > 0 make :meth:`simulate_batch` draw each replicate under
    a randomly distorted clock profile (:func:`profile_perturbation`). The log-likelihood is the point-process one with exact times binned:

        ℓ = Σ_k n_k log(μ_k / w_k) + Σ_j c_j log Λ(W_j) − Λ(0, T),

    where μ_k = ∫_bin λ (Simpson's rule on S, g constant per bin), w_k the bin width,
    n_k the exactly-timed reports in bin k, and Λ(W_j) the expected number in window j
    (c_j reports known only to lie in it; identical windows are one row with their count).
    A is profiled out in closed form (Â = N / Σ m_k), so the optimiser only sees S's
    parameters (and the surge). Λ(W_j) is a difference of tail sums of the bin integrals
    (the intensity is constant within a bin), so each window costs two look-ups: the cost
    depends on the number of bins and of distinct windows, not on the number of reports.
    Rows with the same window are merged on construction (counts summed), whoever builds
    the evidence, so a window row per report costs no more than one row with its count.

    ``win_raw_widths`` are the windows' widths before clipping to the observation period
    (what the bootstrap re-draws); ``record_sizes`` the sizes of groups of exactly timed
    reports sharing one time (used to measure clumping of curated statements);
    ``clumping`` how the bootstrap simulates clumps (None: a plain Poisson process).
    """

    edges: np.ndarray
    g: np.ndarray
    counts: np.ndarray
    win_a: np.ndarray
    win_b: np.ndarray
    win_w: np.ndarray
    win_raw_widths: np.ndarray
    surge: bool = False
    exact_minutes: np.ndarray | None = None
    record_sizes: np.ndarray | None = None
    clumping: Clumping | None = None
    noticing: bool = False
    hours: np.ndarray | None = None
    profile_sd: float = 0.0
    kind: str = "down_reports"
    widths: np.ndarray = field(init=False)
    nodes: np.ndarray = field(init=False)
    _pos: np.ndarray = field(init=False)
    _wpos: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        a, b, w, raw = merge_windows(self.win_a, self.win_b, self.win_w, self.win_raw_widths)
        if a.size != np.asarray(self.win_a).size:
            for name, value in (("win_a", a), ("win_b", b), ("win_w", w), ("win_raw_widths", raw)):
                object.__setattr__(self, name, value)
        widths = np.diff(self.edges)
        nodes = np.empty(2 * widths.size + 1)
        nodes[0::2] = self.edges
        nodes[1::2] = self.edges[:-1] + 0.5 * widths
        object.__setattr__(self, "widths", widths)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "_pos", np.nonzero(self.counts > 0)[0])
        ia, fa = bin_position(self.win_a, self.edges)
        ib, fb = bin_position(self.win_b, self.edges)
        object.__setattr__(self, "_wpos", (ia, fa, ib, fb))

    # ---------------------------------------------------------------- descriptors
    @property
    def horizon(self) -> float:
        """End of observation, minutes after onset."""
        return float(self.edges[-1])

    @property
    def n_obs(self) -> float:
        """Number of reports (exact and windowed)."""
        return float(self.counts.sum() + self.win_w.sum())

    def window_bins(self) -> np.ndarray:
        """Width of each window in bins before clipping (at least 1): its width class in the bootstrap."""
        binw = float(np.median(self.widths))
        return np.maximum(1, np.rint(self.win_raw_widths / binw)).astype(np.int64)

    @cached_property
    def window_phases(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Grids the observed windows lie on: for each width W (bins), the phases φ and their shares of reports.

        A window of width W starting at bin edge i lies on the grid of cells [s, s + W),
        s ≡ i (mod W) (a window clipped at the onset is placed by its end). Windows of the
        local clock ("21:00–22:00", "06:00–12:00") share a few grids; windows placed
        anywhere spread over all W phases. The bootstrap draws windows on these grids.
        """
        if self.win_w.size == 0:
            return {}
        wb = self.window_bins()
        ia, ib = edge_index(self.win_a, self.edges), edge_index(self.win_b, self.edges)
        start_clipped = (ia == 0) & (ib - ia < wb)
        phase = np.where(start_clipped, ib, ia) % wb
        out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for w in np.unique(wb).tolist():
            sel = wb == w
            ph, inv = np.unique(phase[sel], return_inverse=True)
            q = np.bincount(inv.reshape(-1), weights=self.win_w[sel], minlength=ph.size)
            if q.sum() > 0:
                out[int(w)] = (ph[q > 0], q[q > 0] / q.sum())
        return out

    @cached_property
    def win(self) -> sparse.csr_matrix:
        """Window × bin overlap matrix (see :func:`window_matrix`), for diagnostics."""
        return window_matrix(self.win_a, self.win_b, self.edges)

    @property
    def extra_names(self) -> tuple[str, ...]:
        """Nuisance parameters fitted numerically."""
        names = ("surge_", "surge_minutes_") if self.surge else ()
        return (*names, "notice_share_") if self.noticing else names

    @property
    def extra_bounds(self) -> tuple[tuple[float, float], ...]:
        """Bounds of the nuisance parameters."""
        bounds = ((0.0, 100.0), (0.0, self.horizon)) if self.surge else ()
        return (*bounds, NOTICE_BOUNDS) if self.noticing else bounds

    @property
    def profiled_names(self) -> tuple[str, ...]:
        """Nuisance parameters maximised in closed form."""
        return ("reports_per_minute_",)

    def extra_start(self) -> list[float]:
        """Return starting values of the nuisance parameters."""
        start = [1.0, min(60.0, self.horizon / 10)] if self.surge else []
        return [*start, NOTICE_START] if self.noticing else start

    def delay_upper(self) -> float:
        """Return the largest delay: it must end before the end of observation."""
        return 0.999 * self.horizon

    def typical_time(self) -> float:
        """Weighted median report time (minutes after onset): a time scale for starting values."""
        mids = self.edges[:-1] + 0.5 * self.widths
        w = self.counts.astype(float) / self.g
        if self.win_w.size:
            w = w + (self.win.T @ self.win_w) / self.g / max(1.0, float(self.win.sum(axis=1).mean()))
        cw = np.cumsum(w)
        if cw[-1] <= 0:
            return self.horizon / 4
        return float(max(mids[np.searchsorted(cw, 0.5 * cw[-1])], 1e-3 * self.horizon))

    # ---------------------------------------------------------------- likelihood
    def shape(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """m_k = μ_k / A: the expected reports per bin up to the rate A.

        ``theta`` may be ``(k,)`` or ``(B, k)`` (bootstrap replicates; result ``(B, n_bins)``).
        """
        theta = np.asarray(theta, dtype=float)
        th = theta if theta.ndim == 2 else theta[None, :]
        block = max(1, BLOCK_VALUES // self.nodes.size)
        if th.shape[0] > block:
            # a block of rows at a time: the temporaries of S and of the integrals then stay in
            # the processor's cache (the arithmetic per element is the same, so is the result)
            return np.concatenate([self.shape(family, th[i : i + block]) for i in range(0, th.shape[0], block)])
        k = family.n_params
        nn = self.nodes.size
        nb = self.widths.size
        if family.delay:
            # S has a kink at the delay: the bin that contains it is integrated in two smooth
            # pieces (Simpson on each side), so the likelihood stays smooth in the delay (no
            # spurious optima at nodes); the three extra nodes are evaluated with the others
            d = th[:, k - 1]
            j = np.clip(np.searchsorted(self.edges, d, side="right") - 1, 0, nb - 1)
            a, b = self.edges[j], self.edges[j + 1]
            dd = np.clip(d, a, b)
            extra = np.stack([0.5 * (a + dd), dd, 0.5 * (dd + b)], axis=1)
            if theta.ndim == 1:  # one call on all nodes; for many rows two calls copy less
                t = np.concatenate([self.nodes, extra[0]])[None, :]
                s = self._h(family, t, th)
                base, s_extra = s[:, :nn], s[:, nn:]
            else:
                base, s_extra = self._h(family, self.nodes, th), self._h(family, extra, th)
        else:
            base = self._h(family, self.nodes, th)
        integral = self.widths / 6.0 * (base[:, 0:-1:2] + 4.0 * base[:, 1::2] + base[:, 2::2])
        if family.delay:
            inside = (d > a) & (d < b)
            if inside.any():
                rows = np.nonzero(inside)[0]
                jr = j[rows]
                sa, sb = base[rows, 2 * jr], base[rows, 2 * jr + 2]
                s1, s2, s3 = s_extra[rows, 0], s_extra[rows, 1], s_extra[rows, 2]
                da, db = dd[rows] - a[rows], b[rows] - dd[rows]
                integral[rows, jr] = da / 6.0 * (sa + 4.0 * s1 + s2) + db / 6.0 * (s2 + 4.0 * s3 + sb)
        if self.noticing:
            integral = integral * self._noticed(family, th, base)
        m = self.g * integral
        return m if theta.ndim == 2 else m[0]

    def _h(self, family: RecoveryFamily, t: np.ndarray, th: np.ndarray) -> np.ndarray:
        """S(t)·(surge factor) for parameter rows ``th`` (``(B, k)``); ``t`` broadcasts against ``(B, 1)``."""
        k = family.n_params
        s = family.sf(t, th[:, :k])
        if self.surge:
            s = s * (1.0 + th[:, k : k + 1] * np.exp(-t / th[:, k + 1 : k + 2]))
        return s

    def _noticed(self, family: RecoveryFamily, th: np.ndarray, s_nodes: np.ndarray | None = None) -> np.ndarray:
        """Mean of F_N over each bin (``(B, n_bins)``): the share of still-out customers who have noticed.

        Exact (the integral of a log-normal distribution function has a closed form), so a
        ramp much shorter than a bin costs no quadrature error: at the lower bound of the
        noticing share the factor is 1 in every bin to machine precision.
        """
        k = family.n_params + (2 if self.surge else 0)
        s_nodes = family.sf(self.nodes, th[:, : family.n_params]) if self.surge or s_nodes is None else s_nodes
        med = notice_median(self.nodes, s_nodes, th[:, k])[:, None]
        mu = np.log(med)
        x = self.edges[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (np.log(x) - mu) / NOTICE_SIGMA
            big = x * ndtr(z) - np.exp(mu + 0.5 * NOTICE_SIGMA**2) * ndtr(z - NOTICE_SIGMA)
        big[:, x[0] <= 0] = 0.0
        return np.clip(np.diff(big, axis=1) / self.widths, 0.0, 1.0)

    def window_expected(self, m: np.ndarray) -> np.ndarray:
        """Λ(W_j) up to A for every window, from the bin integrals ``m`` (``(n_bins,)``)."""
        ia, fa, ib, fb = self._wpos
        r = tail_sums(m)
        return (r[ia + 1] + (1.0 - fa) * m[ia]) - (r[ib + 1] + (1.0 - fb) * m[ib])

    def rate(self, family: RecoveryFamily, theta: np.ndarray) -> float:
        """Profiled A: reports per minute per unit of S at the peak propensity."""
        return self.n_obs / float(self.shape(family, theta).sum())

    def profiled(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """Closed-form nuisance parameters (A)."""
        return np.array([self.rate(family, theta)])

    def expected(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """μ_k: fitted expected number of reports in each bin."""
        m = self.shape(family, theta)
        return m * (self.n_obs / m.sum())

    def loglik(self, family: RecoveryFamily, theta: np.ndarray) -> float:
        """Point-process log-likelihood with A at its closed-form maximum."""
        m = self.shape(family, theta)
        total = float(m.sum())
        if not (total > 0 and math.isfinite(total)):
            return -INF
        pos = self._pos
        with np.errstate(divide="ignore", invalid="ignore"):
            ll = float(np.dot(self.counts[pos], np.log(m[pos] / self.widths[pos])))
            if self.win_w.size:
                ll += float(np.dot(self.win_w, np.log(self.window_expected(m))))
        n = self.n_obs
        ll += n * math.log(n / total) - n
        return ll if math.isfinite(ll) else -INF

    # ---------------------------------------------------------------- bootstrap
    def as_batch(self, n: int) -> ReportBatch:
        """The observed reports repeated ``n`` times: for evaluating n parameter vectors at once (profiles)."""
        pos = self._pos
        ia, fa, ib, fb = self._wpos
        reps_e = np.repeat(np.arange(n), pos.size)
        reps_w = np.repeat(np.arange(n), self.win_w.size)
        return ReportBatch(
            self,
            n,
            reps_e,
            np.tile(pos, n),
            np.tile(self.counts[pos], n),
            reps_w,
            np.tile(ia, n),
            np.tile(fa, n),
            np.tile(ib, n),
            np.tile(fb, n),
            np.tile(self.win_w, n),
        )

    def simulate_batch(self, family: RecoveryFamily, theta: np.ndarray, rng: np.random.Generator, n: int) -> ReportBatch:
        """Draw ``n`` report sets from the fitted process at once, for the vectorised bootstrap.

        Clumps of reports (:attr:`clumping`; single reports when None) arrive as a Poisson
        process with rate λ(t)/E[K]. Exactly timed clumps take the share 1 − p of the
        intensity, p the observed share of windowed reports. A windowed clump gets a width
        class W from the observed windows and a grid of that width (:attr:`window_phases`:
        the phases of the observed windows of width W, in their shares of reports; all W
        phases alike for a width not observed), and is known only as the cell of that grid
        holding its time. Every time lies in exactly one cell of a grid, so the window does
        not depend on the true time within it, as the likelihood assumes; cells are clipped
        to the observation period at both ends. (Clipping the start and then adding the
        width would make windows at the onset longer for early reports and bias the refits
        towards later times.)

        Counts are drawn per cell: the clumps of width class c in cell j of a grid of share
        q are Poisson with mean p·P(c)/E[K] · q · Σ_{k ∈ j} μ_k, and classes of one width
        and one clump size are drawn together. A replicate therefore holds at most one
        window row per cell of the grids: the cost follows bins / W per observed grid, not
        the number of windowed reports.
        """
        clump = self.clumping or poisson_clumping(self)
        mu = self.expected(family, theta)
        nb = mu.size
        total = self.n_obs
        p = float(self.win_w.sum()) / total if total > 0 else 0.0
        if self.hours is not None and self.profile_sd > 0:
            # the profile is assumed, not known: each data set is drawn under a distorted one
            # and refitted under the assumed one, so the intervals carry the profile's error
            mu = mu * profile_perturbation(self.hours, rng, n, self.profile_sd)
        n_c = rng.poisson(np.broadcast_to(mu * (1.0 - p) / clump.exact_mean, (n, nb)))
        counts = _clump_totals(n_c, clump.exact_sizes, clump.exact_p, clump.exact_geometric, rng)
        rep_e, bin_e = np.nonzero(counts)
        cnt_e = counts[rep_e, bin_e].astype(float)
        empty_i, empty_f = np.empty(0, dtype=np.int64), np.empty(0)
        if not (p > 0 and clump.win_p.size):
            return ReportBatch(self, n, rep_e, bin_e, cnt_e, empty_i, empty_i, empty_f, empty_i, empty_f, empty_f)
        mu2 = np.broadcast_to(mu, (n, nb))
        cum = np.concatenate([np.zeros((n, 1)), np.cumsum(mu2, axis=1)], axis=1)
        rate = p / clump.win_mean
        win_bins = np.asarray(clump.win_bins, dtype=np.int64)
        sizes = np.ones(win_bins.size) if clump.win_geometric is not None else np.asarray(clump.win_sizes, dtype=float)
        parts: list[tuple[np.ndarray, ...]] = []
        for w in np.unique(win_bins).tolist():
            ph, q = self.window_phases.get(int(w), (np.arange(w), np.full(w, 1.0 / w)))
            lo, hi, share = grid_cells(int(w), ph, q, nb)
            mass = rate * share * (cum[:, hi] - cum[:, lo])
            k_w = np.zeros((n, lo.size))
            of_w = win_bins == w
            for size in np.unique(sizes[of_w]).tolist():
                p_c = float(clump.win_p[of_w & (sizes == size)].sum())
                k_c = rng.poisson(p_c * mass)
                if clump.win_geometric is not None:
                    k_c = _clump_totals(k_c, None, None, clump.win_geometric, rng)
                k_w += k_c * size
            r, j = np.nonzero(k_w)
            parts.append((r, lo[j], hi[j], k_w[r, j]))
        rep_w = np.concatenate([x[0] for x in parts])
        order = np.argsort(rep_w, kind="stable")
        rep_w = rep_w[order]
        s_w = np.concatenate([x[1] for x in parts])[order]
        e_w = np.concatenate([x[2] for x in parts])[order]
        c_w = np.concatenate([x[3] for x in parts])[order]
        # a window edge at bin index i is the start of bin i (or the end of the last bin)
        ia, fa = np.minimum(s_w, nb - 1), (s_w == nb).astype(float)
        ib, fb = np.minimum(e_w, nb - 1), (e_w == nb).astype(float)
        return ReportBatch(self, n, rep_e, bin_e, cnt_e, rep_w, ia, fa, ib, fb, c_w)

    def with_propensity(self, g: np.ndarray) -> ReportEvidence:
        """Return the same reports under another propensity profile (per bin)."""
        return replace(self, g=np.asarray(g, dtype=float))


def _gather(off: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the elements of replicates ``rows`` (per-replicate offsets) and the position in ``rows`` of each.

    A replicate may appear several times in ``rows`` (one data set refitted from several starts).
    """
    lens = off[rows + 1] - off[rows]
    total = int(lens.sum())
    if total == 0:
        return np.empty(0, dtype=int), np.empty(0, dtype=int)
    idx = np.repeat(off[rows] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(total)
    return idx, np.repeat(np.arange(rows.size), lens)


@dataclass(frozen=True, eq=False)
class ReportBatch:
    """B report sets on the bins of one :class:`ReportEvidence` (vectorised bootstrap and profiles).

    Exactly timed reports are stored as the non-zero counts (``e_rep``, ``e_bin``,
    ``e_cnt``) and windows as rows (``w_rep``, bin index and fraction of each end, count),
    both sorted by replicate, so the likelihood of a subset of replicates touches only their
    own rows.
    """

    base: ReportEvidence
    n_rep: int
    e_rep: np.ndarray
    e_bin: np.ndarray
    e_cnt: np.ndarray
    w_rep: np.ndarray
    w_ia: np.ndarray
    w_fa: np.ndarray
    w_ib: np.ndarray
    w_fb: np.ndarray
    w_cnt: np.ndarray
    _n: np.ndarray = field(init=False)
    _e_off: np.ndarray = field(init=False)
    _w_off: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        b = self.n_rep
        n = np.bincount(self.e_rep, weights=self.e_cnt, minlength=b) + np.bincount(self.w_rep, weights=self.w_cnt, minlength=b)
        object.__setattr__(self, "_n", n)
        object.__setattr__(self, "_e_off", np.searchsorted(self.e_rep, np.arange(b + 1)))
        object.__setattr__(self, "_w_off", np.searchsorted(self.w_rep, np.arange(b + 1)))

    def n_obs(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Return the number of reports per replicate (of ``rows``, default all)."""
        return self._n if rows is None else self._n[rows]

    def loglik(self, family: RecoveryFamily, theta: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Log-likelihood of replicates ``rows`` (default all), each at its own row of ``theta``."""
        rows = np.arange(self.n_rep) if rows is None else np.asarray(rows)
        m = self.base.shape(family, theta)
        total = m.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            sel, r = _gather(self._e_off, rows)
            kb = self.e_bin[sel]
            ll = np.zeros(rows.size)
            if sel.size:
                ll += np.bincount(r, weights=self.e_cnt[sel] * np.log(m[r, kb] / self.base.widths[kb]), minlength=rows.size)
            sel, r = _gather(self._w_off, rows)
            if sel.size:
                tails = tail_sums(m)
                ia, ib = self.w_ia[sel], self.w_ib[sel]
                lam = (tails[r, ia + 1] + (1.0 - self.w_fa[sel]) * m[r, ia]) - (
                    tails[r, ib + 1] + (1.0 - self.w_fb[sel]) * m[r, ib]
                )
                ll += np.bincount(r, weights=self.w_cnt[sel] * np.log(lam), minlength=rows.size)
            n = self.n_obs(rows)
            ll += np.where(n > 0, n * np.log(n / total), 0.0) - n
        return np.where(np.isfinite(ll) & (total > 0), ll, -INF)

    def loglik_grad(
        self, family: RecoveryFamily, theta: np.ndarray, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """:meth:`loglik` and its gradient in the natural parameters (``(B, k)``), or None without a closed form.

        ∂ℓ/∂m_k is n_k/m_k for exact reports, Σ_j c_j/Λ(W_j)·∂Λ(W_j)/∂m_k for windows and
        −N/Σm for the profiled rate; pushed through Simpson's weights to the nodes, it is
        the weight V of :meth:`RecoveryFamily.sf_vjp` (a bin split by the delay is taken
        piece by piece, its nodes and widths moving with the delay). Rows are done in
        blocks that keep the temporaries in cache. None when the family has no closed-form
        derivatives or the evidence carries a surge factor (a noticing factor: :func:`notice_factor_grad`).
        """
        base = self.base
        if not (family.has_sf_grad and not base.surge):
            return None
        rows = np.arange(self.n_rep) if rows is None else np.asarray(rows)
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        ll = np.empty(rows.size)
        grad = np.empty((rows.size, theta.shape[1]))
        step = max(1, BLOCK_VALUES // base.nodes.size)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for i in range(0, rows.size, step):
                ll[i : i + step], grad[i : i + step] = self._loglik_grad_block(family, theta[i : i + step], rows[i : i + step])
        ok = np.isfinite(ll)
        grad[~ok] = np.nan
        return np.where(ok, ll, -INF), grad

    def _loglik_grad_block(self, family: RecoveryFamily, th: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        base = self.base
        nb, k = base.widths.size, family.n_params
        s, vjp = family.sf_vjp(base.nodes, th[:, :k])
        w6 = base.widths / 6.0
        m = base.g * w6 * (s[:, 0:-1:2] + 4.0 * s[:, 1::2] + s[:, 2::2])
        split = None
        if family.delay:
            d = th[:, k - 1]
            j = np.clip(np.searchsorted(base.edges, d, side="right") - 1, 0, nb - 1)
            a, b = base.edges[j], base.edges[j + 1]
            inside = (d > a) & (d < b)
            if inside.any():
                r_in = np.nonzero(inside)[0]
                jr, dr, ar, br = j[r_in], d[r_in], a[r_in], b[r_in]
                # S at the bin's ends and the pieces' nodes, with every derivative
                pts = np.stack([ar, 0.5 * (ar + dr), dr, 0.5 * (dr + br), br], axis=1)
                sp, dsp = family.sf_grad(pts, th[r_in, :k])
                da, db = dr - ar, br - dr
                left, right = sp[:, 0] + 4.0 * sp[:, 1] + sp[:, 2], sp[:, 2] + 4.0 * sp[:, 3] + sp[:, 4]
                m[r_in, jr] = base.g[jr] * (da / 6.0 * left + db / 6.0 * right)
                # ∂(bin integral)/∂θ; for the delay the nodes move by 0, 1/2, 1, 1/2, 0 and the
                # widths by +1, −1, and S at a moving node x changes by ∂S/∂delay·(1 − dx/d delay)
                dint = da / 6.0 * (dsp[:, :, 0] + 4.0 * dsp[:, :, 1] + dsp[:, :, 2]) + db / 6.0 * (
                    dsp[:, :, 2] + 4.0 * dsp[:, :, 3] + dsp[:, :, 4]
                )
                gd = dsp[k - 1]
                dint[k - 1] = (
                    da / 6.0 * (gd[:, 0] + 2.0 * gd[:, 1]) + db / 6.0 * (2.0 * gd[:, 3] + gd[:, 4]) + (left - right) / 6.0
                )
                split = (r_in, jr, dint.T)
        notice = notice_factor_grad(base, family, th, s, NOTICE_SIGMA) if base.noticing else None
        plain, m = m, (m * notice[0] if notice is not None else m)
        total = m.sum(axis=1)
        # ∂ℓ/∂m per bin
        wm = np.zeros((rows.size, nb + 1))
        sel, r = _gather(self._e_off, rows)
        ll = np.zeros(rows.size)
        if sel.size:
            kb = self.e_bin[sel]
            mk = m[r, kb]
            ll += np.bincount(r, weights=self.e_cnt[sel] * np.log(mk / base.widths[kb]), minlength=rows.size)
            wm[r, kb] = self.e_cnt[sel] / mk  # one entry per (row, bin): the non-zero counts of a replicate
        sel, r = _gather(self._w_off, rows)
        if sel.size:
            ia, ib, fa, fb = self.w_ia[sel], self.w_ib[sel], self.w_fa[sel], self.w_fb[sel]
            tails = tail_sums(m)
            lam = (tails[r, ia + 1] + (1.0 - fa) * m[r, ia]) - (tails[r, ib + 1] + (1.0 - fb) * m[r, ib])
            ll += np.bincount(r, weights=self.w_cnt[sel] * np.log(lam), minlength=rows.size)
            q = self.w_cnt[sel] / lam
            # Λ = Σ_{ia < i ≤ ib} m_i + (1 − fa)·m_ia − (1 − fb)·m_ib: a run of ones and two end terms
            run = np.zeros((rows.size, nb + 2))
            np.add.at(run, (r, ia + 1), q)
            np.add.at(run, (r, ib + 1), -q)
            wm += np.cumsum(run, axis=1)[:, : nb + 1]
            np.add.at(wm, (r, ia), q * (1.0 - fa))
            np.add.at(wm, (r, ib), -q * (1.0 - fb))
        wm = wm[:, :nb]
        n = self.n_obs(rows)
        ll += np.where(n > 0, n * np.log(n / total), 0.0) - n
        wm -= (n / total)[:, None]
        grad = np.zeros((rows.size, th.shape[1]))
        if notice is not None:  # through the ramp's median; the rest through S's integrals, as without a ramp
            grad, wm = grad + np.sum(wm * plain * notice[1], axis=1)[:, None] * notice[2], wm * notice[0]
        if split is not None:
            r_in, jr, dint = split
            grad[r_in, :k] += (wm[r_in, jr] * base.g[jr])[:, None] * dint
            wm[r_in, jr] = 0.0  # that bin is not Simpson on the regular nodes
        u = wm * base.g * w6
        v = np.empty_like(s)
        v[:, 1::2] = 4.0 * u
        v[:, 0::2] = 0.0
        v[:, 0:-1:2] += u
        v[:, 2::2] += u
        grad[:, :k] += vjp(v)
        ok = np.isfinite(ll) & (total > 0)
        return np.where(ok, ll, -INF), grad

    def profiled(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """Return A for each replicate, shape ``(B, 1)``."""
        return (self.n_obs() / self.base.shape(family, theta).sum(axis=1))[:, None]
