"""Overdispersion of report counts: how it is measured and how the bootstrap reproduces it.

A Poisson process is an assumption. Reports come in clumps (one newspaper article naming
twenty places, a burst after a social-media post), and a curve that does not fit adds
lack-of-fit on top. Either way the counts vary more than the Poisson variance, and a
Poisson bootstrap gives intervals that are too narrow. Two measures, both of
φ = Var(count) / E(count):

* **Pearson dispersion** X²/df: observed against fitted counts on cells of consecutive
  bins merged until each expects at least :data:`MIN_EXPECTED` reports and spans at least
  :data:`MIN_CELL_MINUTES` (so a burst of reports stays in one cell; windowed reports
  allocated to bins in proportion to the fitted intensity, as in the diagnostics), with
  df = cells − 1 − number of fitted parameters (the − 1 for the report rate). It measures
  clumping and lack of fit alike (McCullagh & Nelder, *Generalized Linear Models*, §4.5)
  and needs at least :data:`MIN_DF` degrees of freedom.
* **Clumping of curated statements** (``sampling="curated"``: statements picked by a
  newsroom): reports sharing one window, or one time, are one statement, and for a
  compound Poisson process with clump sizes K, φ = E[K²]/E[K], estimated by ΣK²/ΣK over
  the groups of identical records. For spontaneous reports identical windows are not
  evidence of clumping (independent people say "Tuesday morning" alike; a Downdetector
  row counts independent reports), so this measure is used only for curated sources.

The dispersion used is the larger of the two (and at least 1). The bootstrap then draws
clumps: empirical clump sizes (and window widths) for curated statements, geometric sizes
with E[K²]/E[K] = φ otherwise; models are ranked by QAIC = −2ℓ/φ + 2k (Burnham &
Anderson, *Model Selection and Multimodel Inference*, 2002, §2.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis.recovery.evidence import ReportEvidence
from analysis.recovery.families import RecoveryFamily
from analysis.recovery.report_bins import Clumping, poisson_clumping
from analysis.vocab import Sampling

MIN_EXPECTED = 5.0  # reports expected per Pearson cell
MIN_CELL_MINUTES = 15.0  # and its shortest span: longer than a burst of reports, shorter than a recovery
MIN_DF = 4  # fewer degrees of freedom: X²/df is too noisy to act on
MIN_PHI = 1.2  # below this, no allowance (a Pearson ratio of 1.1 on 30 df is noise)


@dataclass(frozen=True)
class Dispersion:
    """Measured overdispersion of the reports and the value used for intervals and QAIC.

    Attributes
    ----------
    phi : float
        Dispersion used (≥ 1; 1 = Poisson).
    pearson : float
        Pearson X²/df against the fitted intensity (NaN when df < :data:`MIN_DF`).
    pearson_df : int
        Its degrees of freedom.
    clump_index : float
        ΣK²/ΣK over groups of identical curated statements (NaN for spontaneous reports).
    n_groups : int
        Number of such groups (distinct statements; 0 for spontaneous reports).
    source : str
        ``"none"``, ``"pearson"`` or ``"clumps"``: which measure set ``phi``.
    """

    phi: float
    pearson: float
    pearson_df: int
    clump_index: float
    n_groups: int
    source: str

    @property
    def overdispersed(self) -> bool:
        """True when intervals were widened for overdispersion."""
        return self.phi > 1.0

    def describe(self) -> str:
        """One plain-language sentence."""
        if self.source == "clumps":
            return (
                f"the {self.n_groups} distinct statements come in groups of identical time or window (one article "
                "naming many places), so they carry less information than their number suggests (overdispersion "
                f"{self.phi:.1f}); intervals widened and models compared allowing for it"
            )
        if self.source == "pearson":
            return (
                "reports vary more than a Poisson process around the fitted curve (overdispersion "
                f"{self.phi:.1f}, Pearson X²/df on {self.pearson_df} df); intervals widened and models compared "
                "allowing for it"
            )
        if math.isfinite(self.pearson):
            return f"no overdispersion detected (Pearson X²/df {self.pearson:.2f} on {self.pearson_df} df)"
        return "too few reports to check for overdispersion; intervals assume Poisson variation"

    def to_metrics(self) -> dict[str, float | int | str | None]:
        """JSON-ready summary."""
        return {
            "phi": round(self.phi, 3),
            "pearson": round(self.pearson, 3) if math.isfinite(self.pearson) else None,
            "pearson_df": self.pearson_df,
            "clump_index": round(self.clump_index, 3) if math.isfinite(self.clump_index) else None,
            "n_groups": self.n_groups,
            "source": self.source,
        }


NO_DISPERSION = Dispersion(1.0, math.nan, 0, math.nan, 0, "none")


def allocated_counts(ev: ReportEvidence, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Windowed reports allocated to bins in proportion to the fitted counts ``mu``; returns (exact, allocated)."""
    alloc = np.zeros_like(mu)
    if ev.win_w.size:
        wm = ev.win.multiply(mu[None, :]).tocsr()
        tot = np.asarray(wm.sum(axis=1)).ravel()
        scale = np.divide(ev.win_w, tot, out=np.zeros_like(tot), where=tot > 0)
        alloc = np.asarray(wm.multiply(scale[:, None]).sum(axis=0)).ravel()
    return ev.counts, alloc


def pearson_cells(mu: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Cell index of each bin: consecutive bins merged until a cell expects :data:`MIN_EXPECTED` reports and spans :data:`MIN_CELL_MINUTES`.

    The minimum span keeps a burst of reports (minutes long) inside one cell, where it shows
    as extra variance, instead of splitting it across cells, where it would not. A short
    remainder joins the last cell.
    """
    cell = np.empty(mu.size, dtype=np.int64)
    i, e, w = 0, 0.0, 0.0
    for k in range(mu.size):
        cell[k] = i
        e += mu[k]
        w += widths[k]
        if e >= MIN_EXPECTED and w >= MIN_CELL_MINUTES:
            i, e, w = i + 1, 0.0, 0.0
    if i > 0 and cell[-1] == i and (e < MIN_EXPECTED or w < MIN_CELL_MINUTES):
        cell[cell == i] = i - 1
    return cell


def pearson_dispersion(ev: ReportEvidence, mu: np.ndarray, n_params: int) -> tuple[float, int]:
    """Pearson X²/df of observed (exact + allocated windowed) against fitted counts ``mu``, on merged cells."""
    exact, alloc = allocated_counts(ev, mu)
    cell = pearson_cells(mu, ev.widths)
    n_cells = int(cell[-1]) + 1
    o = np.bincount(cell, weights=exact + alloc, minlength=n_cells)
    e = np.bincount(cell, weights=mu, minlength=n_cells)
    df = n_cells - 1 - n_params
    if df < MIN_DF:
        return math.nan, max(df, 0)
    ok = e > 0
    x2 = float(np.sum((o[ok] - e[ok]) ** 2 / e[ok]))
    return x2 / df, df


def clump_index(ev: ReportEvidence) -> tuple[float, int]:
    """ΣK²/ΣK over groups of identical records (exact times and windows) and the number of groups."""
    sizes = [ev.win_w]
    if ev.record_sizes is not None:
        sizes.append(np.asarray(ev.record_sizes, dtype=float))
    k = np.concatenate(sizes)
    k = k[k > 0]
    if k.size == 0:
        return math.nan, 0
    return float(np.sum(k * k) / np.sum(k)), int(k.size)


def estimate_dispersion(ev: ReportEvidence, family: RecoveryFamily, theta: np.ndarray, *, sampling: Sampling) -> Dispersion:
    """Measure the overdispersion of the reports around the fit ``(family, theta)``; see the module docstring."""
    n_params = family.n_params + len(ev.extra_names)
    mu = ev.expected(family, theta)
    pearson, df = pearson_dispersion(ev, mu, n_params)
    ci, groups = clump_index(ev) if sampling == "curated" else (math.nan, 0)
    phi, source = 1.0, "none"
    if math.isfinite(pearson) and pearson >= MIN_PHI:
        phi, source = pearson, "pearson"
    if math.isfinite(ci) and ci >= MIN_PHI and ci >= phi:
        phi, source = ci, "clumps"
    return Dispersion(float(phi), pearson, int(df), ci, groups, source)


def clumping_for(ev: ReportEvidence, disp: Dispersion) -> Clumping:
    """The clump model the bootstrap draws from, matching the measured dispersion.

    Curated statements: the observed groups themselves (sizes of identical exact times;
    width and size of identical windows). Otherwise geometric clump sizes on 1, 2, … with
    mean (φ + 1)/2, whose E[K²]/E[K] is φ.
    """
    base = poisson_clumping(ev)
    if disp.source == "none":
        return base
    binw = float(np.median(ev.widths))
    if disp.source == "clumps":
        es = np.asarray(ev.record_sizes if ev.record_sizes is not None else [1.0], dtype=float)
        es = es[es > 0] if es.size else np.ones(1)
        ex_sizes, ex_inv = np.unique(es, return_inverse=True)
        ex_p = np.bincount(ex_inv.reshape(-1)).astype(float)
        if ev.win_w.size:
            wb = np.maximum(1, np.rint(ev.win_raw_widths / binw)).astype(np.int64)
            wp = np.ones(wb.size) / wb.size  # each distinct window is one clump
            return Clumping(disp.phi, ex_sizes, ex_p / ex_p.sum(), wb, ev.win_w.astype(float), wp)
        return Clumping(disp.phi, ex_sizes, ex_p / ex_p.sum(), base.win_bins, base.win_sizes, base.win_p)
    mean = 0.5 * (disp.phi + 1.0)
    return Clumping(
        disp.phi, np.ones(1), np.ones(1), base.win_bins, base.win_sizes, base.win_p, exact_geometric=mean, win_geometric=mean
    )
