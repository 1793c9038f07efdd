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

from analysis.recovery.clock_profile import PROFILE_BOUND, PROFILE_NAMES, profile_basis, profile_factor, profile_penalty
from analysis.recovery.family_base import RecoveryFamily
from analysis.recovery.report_batch import BLOCK_VALUES, INF, ReportBatch
from analysis.recovery.report_bins import (
    NOTICE_SIGMA,
    Clumping,
    _clump_totals,
    bin_position,
    edge_index,
    grid_cells,
    merge_windows,
    notice_median,
    poisson_clumping,
    profile_perturbation,
    tail_sums,
    window_matrix,
)
from analysis.recovery.restoration_evidence import RestorationEvidence

__all__ = [
    "PROFILE_HARMONIC_DF",
    "PROFILE_HARMONIC_SD",
    "Clumping",
    "ReportBatch",
    "ReportEvidence",
    "RestorationEvidence",
    "merge_windows",
    "window_matrix",
]

# the noticing delay before a still-out customer can report: log-normal with a fixed spread
# (log scale) and a median that is a fitted share of the time by which NOTICE_RESTORED of the
# customers are restored, at most NOTICE_MAX_MINUTES. The typical customer notices before
# that share is back: otherwise a fast restoration and a slow noticing explain the same rising
# then falling report rate and the data cannot tell them apart. At the lower bound of the
# share the factor is 1 from the first seconds on, i.e. no ramp.
NOTICE_BOUNDS = (1e-3, 1.0)
NOTICE_START = 0.1
# how well an assumed (not stated) clock profile is known: the bootstrap draws each data set
# under g·exp(δ), δ(h) = Σ_{j=1,2} a_j cos(2πjh/24) + b_j sin(2πjh/24) with a_j, b_j ~ N(0, s²),
# so the profile is off by a factor of about exp(√2·s) (1.4) at a typical hour
PROFILE_HARMONIC_SD = 0.25
# 0: those coefficients are normal. > 0: each harmonic's pair (a_j, b_j) is drawn as a bivariate
# Student t of that scale with this many degrees of freedom instead (3 is what the published
# diurnal shapes of benchmarks/profile_prior.py give by maximum likelihood at the scale 0.25).
# Measured with 3 and not kept: docs/recovery.md, "A heavier-tailed profile spread".
PROFILE_HARMONIC_DF = 0.0


@dataclass(frozen=True, eq=False)
class ReportEvidence:
    """User reports of the outage as an inhomogeneous Poisson process, binned.

    Intensity (reports per minute) λ(t) = A·g_k·S(t)·(1 + s·exp(−t/τ_s)), the last factor
    only with ``surge=True`` (an onset surge of reports that fades with time constant
    τ_s); with ``noticing=True`` also ×F_N(t), the log-normal share of still-out customers
    who have noticed (:func:`notice_median`), exact per bin. ``hours`` (local clock hour of
    each bin) and ``profile_sd`` > 0 make :meth:`simulate_batch` draw each replicate under
    a randomly distorted clock profile (:func:`profile_perturbation`; ``profile_chol``: the
    coefficients' covariance factor when it is not s²·I, e.g. learned from the quiet days,
    :mod:`analysis.recovery.quiet_profile`; ``profile_df`` > 0: each harmonic a Student t of
    that many degrees of freedom: ``PROFILE_HARMONIC_DF`` for an assumed profile, 0 = normal). The log-likelihood is the point-process one with exact times binned:

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
    ``profile_prior`` > 0 (with ``hours``) fits the clock profile's two daily harmonics too,
    g·exp(δ), penalised by a Gaussian of that spread (:mod:`analysis.recovery.clock_profile`).
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
    profile_prior: float = 0.0
    profile_chol: np.ndarray | None = None
    profile_df: float = 0.0
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
        names = (*names, "notice_share_") if self.noticing else names
        return (*names, *PROFILE_NAMES) if self.fits_profile else names

    @property
    def extra_bounds(self) -> tuple[tuple[float, float], ...]:
        """Bounds of the nuisance parameters."""
        bounds = ((0.0, 100.0), (0.0, self.horizon)) if self.surge else ()
        bounds = (*bounds, NOTICE_BOUNDS) if self.noticing else bounds
        return (*bounds, *[(-PROFILE_BOUND, PROFILE_BOUND)] * len(PROFILE_NAMES)) if self.fits_profile else bounds

    @property
    def profiled_names(self) -> tuple[str, ...]:
        """Nuisance parameters maximised in closed form."""
        return ("reports_per_minute_",)

    def extra_start(self) -> list[float]:
        """Return starting values of the nuisance parameters."""
        start = [1.0, min(60.0, self.horizon / 10)] if self.surge else []
        start = [*start, NOTICE_START] if self.noticing else start
        return [*start, *[0.0] * len(PROFILE_NAMES)] if self.fits_profile else start

    @property
    def fits_profile(self) -> bool:
        """Whether the clock profile's harmonics are fitted (penalised) with S."""
        return self.profile_prior > 0 and self.hours is not None

    @cached_property
    def _basis(self) -> np.ndarray:
        return profile_basis(np.asarray(self.hours))

    def profile_start(self, family: RecoveryFamily) -> int:
        """Index of the first profile coefficient in a parameter vector of ``family``."""
        return family.n_params + (2 if self.surge else 0) + (1 if self.noticing else 0)

    def penalty(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """The profile's log-prior per parameter row (0 when the profile is not fitted)."""
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        if not self.fits_profile:
            return np.zeros(th.shape[0])
        j = self.profile_start(family)
        return profile_penalty(th[:, j : j + len(PROFILE_NAMES)], self.profile_prior)

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
        if self.fits_profile:
            c0 = self.profile_start(family)
            m = m * profile_factor(self._basis, th[:, c0 : c0 + len(PROFILE_NAMES)])
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
        ll += n * math.log(n / total) - n + float(self.penalty(family, theta)[0])
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
            mu = mu * profile_perturbation(self.hours, rng, n, self.profile_sd, self.profile_chol, df=self.profile_df)
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
