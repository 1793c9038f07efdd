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

    def __post_init__(self) -> None:
        widths = np.diff(self.edges)
        nodes = np.empty(2 * widths.size + 1)
        nodes[0::2] = self.edges
        nodes[1::2] = self.edges[:-1] + 0.5 * widths
        object.__setattr__(self, "widths", widths)
        object.__setattr__(self, "nodes", nodes)

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
        """m_k = μ_k / A: the expected reports per bin up to the rate A."""
        k = family.n_params

        def h(t: np.ndarray) -> np.ndarray:
            s = family.sf(t, theta[:k])
            return s * (1.0 + theta[k] * np.exp(-t / theta[k + 1])) if self.surge else s

        s = h(self.nodes)
        integral = self.widths / 6.0 * (s[0:-1:2] + 4.0 * s[1::2] + s[2::2])
        if family.delay:
            # S has a kink at the delay: integrate the bin that contains it in two smooth
            # pieces, so the likelihood stays smooth in the delay (no spurious optima at nodes)
            d = float(theta[k - 1])
            j = int(np.searchsorted(self.edges, d, side="right")) - 1
            if 0 <= j < self.widths.size and d > self.edges[j]:
                a, b = self.edges[j], self.edges[j + 1]
                v = h(np.array([a, 0.5 * (a + d), d, 0.5 * (d + b), b]))
                integral[j] = (d - a) / 6.0 * (v[0] + 4 * v[1] + v[2]) + (b - d) / 6.0 * (v[2] + 4 * v[3] + v[4])
        return self.g * integral

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
        pos = self.counts > 0
        with np.errstate(divide="ignore"):
            ll = float(np.dot(self.counts[pos], np.log(m[pos] / self.widths[pos])))
            if self.win_w.size:
                ll += float(np.dot(self.win_w, np.log(self.win @ m)))
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

    def with_propensity(self, g: np.ndarray) -> ReportEvidence:
        """Return the same reports under another propensity profile (per bin)."""
        return replace(self, g=np.asarray(g, dtype=float))


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
