"""Likelihoods of the three kinds of evidence, all about the same recovery curve S.

Each evidence object holds its data in the form its likelihood needs (binned counts,
censored times, a cleaned series) and provides:

* ``loglik(family, theta)``: the log-likelihood of a full parameter vector, S's
  parameters followed by the evidence's nuisance parameters (``extra_names``);
* ``profiled(family, theta)``: nuisance parameters maximised in closed form (the report
  rate A);
* ``simulate(family, theta, rng)`` (or ``resample``): a new data set of the same design,
  for the bootstrap.

Times are minutes after onset throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse

from analysis.recovery.families import CensoredData, RecoveryFamily

INF = math.inf


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


# --------------------------------------------------------------------------- down reports


@dataclass(frozen=True, eq=False)
class ReportEvidence:
    """User reports of the outage as an inhomogeneous Poisson process, binned.

    Intensity (reports per minute) λ(t) = A·g_k·S(t)·(1 + s·exp(−t/τ_s)), the last factor
    only with ``surge=True`` (an onset surge of reports that fades with time constant
    τ_s). The log-likelihood is the point-process one with exact times binned:

        ℓ = Σ_k n_k log(μ_k / w_k) + Σ_j c_j log Λ(W_j) − Λ(0, T),

    where μ_k = ∫_bin λ (Simpson's rule on S, g constant per bin), w_k the bin width,
    n_k the exactly-timed reports in bin k, and Λ(W_j) the expected number in window j
    (c_j reports known only to lie in it). A is profiled out in closed form
    (Â = N / Σ m_k), so the optimiser only sees S's parameters (and the surge).
    Its cost depends on the number of bins and windows, not on the number of reports.
    """

    edges: np.ndarray
    g: np.ndarray
    counts: np.ndarray
    win: sparse.csr_matrix
    win_w: np.ndarray
    win_widths: np.ndarray
    surge: bool = False
    exact_minutes: np.ndarray | None = None
    kind: str = "down_reports"
    widths: np.ndarray = field(init=False)
    nodes: np.ndarray = field(init=False)
    _pos: np.ndarray = field(init=False)
    _win_op: object = field(init=False)

    def __post_init__(self) -> None:
        widths = np.diff(self.edges)
        nodes = np.empty(2 * widths.size + 1)
        nodes[0::2] = self.edges
        nodes[1::2] = self.edges[:-1] + 0.5 * widths
        object.__setattr__(self, "widths", widths)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "_pos", np.nonzero(self.counts > 0)[0])
        # a small window matrix is faster dense (the likelihood is evaluated thousands of times)
        small = self.win.shape[0] * self.win.shape[1] <= 200_000
        object.__setattr__(self, "_win_op", self.win.toarray() if small else self.win)

    # ---------------------------------------------------------------- descriptors
    @property
    def horizon(self) -> float:
        """End of observation, minutes after onset."""
        return float(self.edges[-1])

    @property
    def n_obs(self) -> float:
        """Number of reports (exact and windowed)."""
        return float(self.counts.sum() + self.win_w.sum())

    @property
    def extra_names(self) -> tuple[str, ...]:
        """Nuisance parameters fitted numerically."""
        return ("surge_", "surge_minutes_") if self.surge else ()

    @property
    def extra_bounds(self) -> tuple[tuple[float, float], ...]:
        """Bounds of the nuisance parameters."""
        return ((0.0, 100.0), (0.0, self.horizon)) if self.surge else ()

    @property
    def profiled_names(self) -> tuple[str, ...]:
        """Nuisance parameters maximised in closed form."""
        return ("reports_per_minute_",)

    def extra_start(self) -> list[float]:
        """Return starting values of the nuisance parameters."""
        return [1.0, min(60.0, self.horizon / 10)] if self.surge else []

    def delay_upper(self) -> float:
        """Return the largest delay: it must end before the end of observation."""
        return 0.999 * self.horizon

    def typical_time(self) -> float:
        """Weighted median report time (minutes after onset): a time scale for starting values."""
        mids = self.edges[:-1] + 0.5 * self.widths
        w = self.counts.astype(float) / self.g
        if self.win.shape[0]:
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
        k = family.n_params

        def h(t: np.ndarray) -> np.ndarray:
            s = family.sf(t, th[:, :k])
            return s * (1.0 + th[:, k : k + 1] * np.exp(-t / th[:, k + 1 : k + 2])) if self.surge else s

        s = h(self.nodes)
        integral = self.widths / 6.0 * (s[:, 0:-1:2] + 4.0 * s[:, 1::2] + s[:, 2::2])
        if family.delay:
            # S has a kink at the delay: integrate the bin that contains it in two smooth
            # pieces, so the likelihood stays smooth in the delay (no spurious optima at nodes)
            d = th[:, k - 1]
            nb = self.widths.size
            j = np.clip(np.searchsorted(self.edges, d, side="right") - 1, 0, nb - 1)
            a, b = self.edges[j], self.edges[j + 1]
            inside = (d > a) & (d < b)
            if inside.any():
                pts = np.stack([a, 0.5 * (a + d), d, 0.5 * (d + b), b], axis=1)
                v = h(pts)
                split = (d - a) / 6.0 * (v[:, 0] + 4 * v[:, 1] + v[:, 2]) + (b - d) / 6.0 * (v[:, 2] + 4 * v[:, 3] + v[:, 4])
                rows = np.nonzero(inside)[0]
                integral[rows, j[rows]] = split[rows]
        m = self.g * integral
        return m if theta.ndim == 2 else m[0]

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
        with np.errstate(divide="ignore"):
            ll = float(np.dot(self.counts[pos], np.log(m[pos] / self.widths[pos])))
            if self.win_w.size:
                ll += float(np.dot(self.win_w, np.log(self._win_op @ m)))
        n = self.n_obs
        ll += n * math.log(n / total) - n
        return ll if math.isfinite(ll) else -INF

    # ---------------------------------------------------------------- bootstrap
    def simulate(self, family: RecoveryFamily, theta: np.ndarray, rng: np.random.Generator) -> ReportEvidence:
        """Draw a new report set from the fitted process, with the same share of windowed reports.

        Exact reports: Poisson counts per bin with mean (1 − p)·μ_k. Windowed reports (share
        p as observed): Poisson counts with mean p·μ_k, a uniform time within the bin, and a
        window of a width drawn from the observed widths placed uniformly around that time
        (clipped to the observation period).
        """
        mu = self.expected(family, theta)
        n = self.n_obs
        p = float(self.win_w.sum()) / n if n > 0 else 0.0
        counts = rng.poisson(mu * (1.0 - p)).astype(float)
        if p > 0 and self.win_widths.size:
            nw = rng.poisson(mu * p)
            bins = np.repeat(np.arange(mu.size), nw)
            t = self.edges[bins] + rng.random(bins.size) * self.widths[bins]
            wprob = self.win_w / self.win_w.sum()
            width = rng.choice(self.win_widths, size=bins.size, p=wprob)
            start = np.clip(t - rng.random(bins.size) * width, 0.0, self.horizon)
            end = np.clip(start + width, 0.0, self.horizon)
            win = window_matrix(start, end, self.edges)
            return replace(self, counts=counts, win=win, win_w=np.ones(bins.size), win_widths=end - start, exact_minutes=None)
        return replace(self, counts=counts, exact_minutes=None)

    def simulate_batch(self, family: RecoveryFamily, theta: np.ndarray, rng: np.random.Generator, n: int) -> ReportBatch:
        """Draw ``n`` report sets at once (see :meth:`simulate`), for a vectorised bootstrap."""
        mu = self.expected(family, theta)
        total = self.n_obs
        p = float(self.win_w.sum()) / total if total > 0 else 0.0
        counts = rng.poisson(np.broadcast_to(mu * (1.0 - p), (n, mu.size))).astype(float)
        if p > 0 and self.win_widths.size:
            nw = rng.poisson(np.broadcast_to(mu * p, (n, mu.size)))
            rep, bins = np.nonzero(nw)
            reps = np.repeat(rep, nw[rep, bins])
            bins = np.repeat(bins, nw[rep, bins])
            t = self.edges[bins] + rng.random(bins.size) * self.widths[bins]
            width = rng.choice(self.win_widths, size=bins.size, p=self.win_w / self.win_w.sum())
            start = np.clip(t - rng.random(bins.size) * width, 0.0, self.horizon)
            end = np.clip(start + width, 0.0, self.horizon)
            win = window_matrix(start, end, self.edges).tocoo()
            return ReportBatch(self, counts, win.row, win.col, win.data, reps, np.ones(bins.size))
        empty = np.empty(0, dtype=int)
        return ReportBatch(self, counts, empty, empty, np.empty(0), empty, np.empty(0))

    def with_propensity(self, g: np.ndarray) -> ReportEvidence:
        """Return the same reports under another propensity profile (per bin)."""
        return replace(self, g=np.asarray(g, dtype=float))


@dataclass(frozen=True, eq=False)
class ReportBatch:
    """B simulated report sets on the bins of one :class:`ReportEvidence` (vectorised bootstrap).

    Windows are stored as the non-zeros (``row``, ``col``, ``frac``) of one stacked window
    matrix, with ``row_rep`` the replicate each window row belongs to.
    """

    base: ReportEvidence
    counts: np.ndarray
    row: np.ndarray
    col: np.ndarray
    frac: np.ndarray
    row_rep: np.ndarray
    win_w: np.ndarray
    _n: np.ndarray = field(init=False)
    _nz_rep: np.ndarray = field(init=False)

    _nz_off: np.ndarray = field(init=False)
    _w_off: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        b = self.counts.shape[0]
        n = self.counts.sum(axis=1) + np.bincount(self.row_rep, weights=self.win_w, minlength=b)
        object.__setattr__(self, "_n", n)
        # window rows are generated replicate by replicate, so both the window rows and the
        # non-zeros are sorted by replicate: offsets let a subset of replicates be sliced out
        nz_rep = self.row_rep[self.row] if self.row.size else self.row
        object.__setattr__(self, "_nz_rep", nz_rep)
        object.__setattr__(self, "_nz_off", np.searchsorted(nz_rep, np.arange(b + 1)))
        object.__setattr__(self, "_w_off", np.searchsorted(self.row_rep, np.arange(b + 1)))

    @staticmethod
    def _gather(off: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return the indices of the elements of replicates ``rows`` given per-replicate offsets."""
        lens = off[rows + 1] - off[rows]
        total = int(lens.sum())
        if total == 0:
            return np.empty(0, dtype=int)
        return np.repeat(off[rows] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(total)

    @property
    def n_rep(self) -> int:
        """Number of replicates."""
        return int(self.counts.shape[0])

    def n_obs(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Return the number of reports per replicate (of ``rows``, default all)."""
        return self._n if rows is None else self._n[rows]

    def loglik(self, family: RecoveryFamily, theta: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Log-likelihood of replicates ``rows`` (default all), each at its own row of ``theta``."""
        rows = np.arange(self.n_rep) if rows is None else np.asarray(rows)
        m = self.base.shape(family, theta)
        total = m.sum(axis=1)
        counts = self.counts[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            ll = np.where(counts > 0, counts * np.log(m / self.base.widths), 0.0).sum(axis=1)
            if self.win_w.size:
                pos = np.full(self.n_rep, -1)
                pos[rows] = np.arange(rows.size)
                nz = self._gather(self._nz_off, rows)
                sel = self._gather(self._w_off, rows)
                vals = self.frac[nz] * m[pos[self._nz_rep[nz]], self.col[nz]]
                wm = np.bincount(self.row[nz], weights=vals, minlength=self.win_w.size)[sel]
                ll += np.bincount(pos[self.row_rep[sel]], weights=self.win_w[sel] * np.log(wm), minlength=rows.size)
            n = self.n_obs(rows)
            ll += np.where(n > 0, n * np.log(n / total), 0.0) - n
        return np.where(np.isfinite(ll) & (total > 0), ll, -INF)

    def profiled(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """Return A for each replicate, shape ``(B, 1)``."""
        return (self.n_obs() / self.base.shape(family, theta).sum(axis=1))[:, None]


@dataclass(frozen=True, eq=False)
class RestorationEvidence:
    """Per-customer restoration times: exact, right-censored and interval-censored.

    ℓ = Σ w log f(t) + Σ w log S(c) + Σ w log[S(L) − S(R)]. No nuisance parameters.
    """

    data: CensoredData
    kind: str = "restorations"
    extra_names: tuple[str, ...] = ()
    extra_bounds: tuple[tuple[float, float], ...] = ()
    profiled_names: tuple[str, ...] = ()

    @property
    def n_obs(self) -> float:
        """Number of customers (sum of weights)."""
        return self.data.n

    def extra_start(self) -> list[float]:
        """No nuisance parameters."""
        return []

    def delay_upper(self) -> float:
        """No restoration can precede the delay."""
        return self.data.delay_upper()

    def typical_time(self) -> float:
        """Weighted median of the known times."""
        return self.data.typical_time()

    def loglik(self, family: RecoveryFamily, theta: np.ndarray) -> float:
        """Censored log-likelihood."""
        return family.censored_loglik(theta[: family.n_params], self.data)

    def profiled(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """Nothing profiled."""
        del family, theta
        return np.empty(0)

    def simulate(self, family: RecoveryFamily, theta: np.ndarray, rng: np.random.Generator) -> RestorationEvidence:
        """Case-resampling bootstrap: customers drawn with replacement (multinomial weights).

        Resampling whole records keeps whatever censoring mechanism produced the data
        (observation end, inspection times) without having to model it.
        """
        del family, theta
        d = self.data
        w = np.concatenate([d.exact_w, d.right_w, d.interval_w])
        total = round(float(w.sum()))
        new = rng.multinomial(total, w / w.sum()).astype(float)
        a, b = d.exact_w.size, d.exact_w.size + d.right_w.size
        data = CensoredData(d.exact, new[:a], d.right, new[a:b], d.lower, d.upper, new[b:])
        return replace(self, data=data)

    def simulate_batch(self, family: RecoveryFamily, theta: np.ndarray, rng: np.random.Generator, n: int) -> RestorationBatch:
        """Draw ``n`` case-resampled data sets at once (multinomial weights per replicate)."""
        del family, theta
        d = self.data
        w = np.concatenate([d.exact_w, d.right_w, d.interval_w])
        total = round(float(w.sum()))
        return RestorationBatch(d, rng.multinomial(total, w / w.sum(), size=n).astype(float))


@dataclass(frozen=True, eq=False)
class RestorationBatch:
    """B resampled restoration data sets: the same records with replicate-specific weights."""

    data: CensoredData
    weights: np.ndarray

    def loglik(self, family: RecoveryFamily, theta: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Censored log-likelihood of replicates ``rows`` (default all) at their own parameters."""
        d = self.data
        k = family.n_params
        th = np.asarray(theta, dtype=float)[:, :k]
        a, b = d.exact.size, d.exact.size + d.right.size
        w = self.weights if rows is None else self.weights[rows]
        ll = np.zeros(w.shape[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            if d.exact.size:
                ll += np.where(w[:, :a] > 0, w[:, :a] * family.log_pdf(d.exact, th), 0.0).sum(axis=1)
            if d.right.size:
                ll += np.where(w[:, a:b] > 0, w[:, a:b] * family.log_sf(d.right, th), 0.0).sum(axis=1)
            if d.lower.size:
                lo = family.log_sf(d.lower, th)
                up = family.log_sf(d.upper, th)
                term = lo + np.log(-np.expm1(np.minimum(up - lo, 0.0)))
                ll += np.where(w[:, b:] > 0, w[:, b:] * term, 0.0).sum(axis=1)
        return np.where(np.isfinite(ll), ll, -INF)

    def profiled(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """Nothing profiled."""
        del family
        return np.empty((np.asarray(theta).shape[0], 0))
