"""Where a fitted report rate misses the data: runs of large Pearson residuals.

A single large residual is expected now and then; several consecutive display bins all
far above (or all far below) the fitted rate are not. They mark a stretch of time the
model gets wrong — typically a burst of reports or statements the curve cannot produce
(a call for testimonies, a second fault). This module finds such runs in the fit
diagnostics so the report can say so in words, not only in a residual plot.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

#: |Pearson residual| above which a display bin counts toward a run.
RUN_THRESHOLD = 1.5
#: Consecutive bins (same sign, each above the threshold) that make a run.
MIN_RUN = 3
#: The run's pooled residual (ΣO − ΣE)/√ΣE must reach this for the run to be reported.
MIN_POOLED = 3.0


@dataclass(frozen=True)
class Misfit:
    """A stretch of consecutive bins where observed counts sit on one side of the fitted rate.

    Attributes
    ----------
    start, end : datetime.datetime
        The run's first bin start and last bin end (UTC).
    observed, expected : float
        Reports (exact plus windowed allocated by the fit) and fitted counts summed over the run.
    sign : int
        ``+1`` when more reports came than the model expects (a burst), ``-1`` when fewer.
    bins : int
        Number of display bins in the run.
    max_residual : float
        The largest |Pearson residual| among the run's bins.
    pooled_residual : float
        (observed − expected)/√expected over the whole run.
    """

    start: dt.datetime
    end: dt.datetime
    observed: float
    expected: float
    sign: int
    bins: int
    max_residual: float
    pooled_residual: float

    def to_metrics(self, timezone: str) -> dict[str, Any]:
        """The run as a ``metrics.json`` entry (local ISO times, rounded counts)."""
        from analysis.metrics import clean_number, iso

        return {
            "start": iso(self.start, timezone),
            "end": iso(self.end, timezone),
            "direction": "more" if self.sign > 0 else "fewer",
            "observed": clean_number(self.observed, 1),
            "expected": clean_number(self.expected, 1),
            "bins": self.bins,
            "max_residual": clean_number(self.max_residual, 2),
            "pooled_residual": clean_number(self.pooled_residual, 2),
        }


def binned_residuals(observed_vs_fitted: pl.DataFrame, bin_minutes: float) -> pl.DataFrame:
    """Observed and fitted counts of a report fit re-binned to ``bin_minutes``, with Pearson residuals.

    The fit's own bins (5 minutes) hold a few reports each and their residuals are all
    noise; the display bins of the timeline are wide enough for a residual to mean
    something. Windowed reports count where the fit allocated them (``observed_windowed``).
    Bins with no expected count are dropped (a residual there is undefined).

    Returns columns ``bin_start``, ``bin_end``, ``observed``, ``expected``, ``residual``
    (empty when the table is not a report fit's, i.e. has no ``bin_start``).
    """
    schema = pl.Schema(
        {
            "bin_start": pl.Datetime("us", "UTC"),
            "bin_end": pl.Datetime("us", "UTC"),
            "observed": pl.Float64(),
            "expected": pl.Float64(),
            "residual": pl.Float64(),
        }
    )
    if "bin_start" not in observed_vs_fitted.columns or observed_vs_fitted.height == 0:
        return pl.DataFrame(schema=schema)
    every = f"{max(int(bin_minutes), 1)}m"
    extra = [pl.col("observed_windowed")] if "observed_windowed" in observed_vs_fitted.columns else []
    return (
        observed_vs_fitted.sort("bin_start")
        .group_by_dynamic("bin_start", every=every)
        .agg(
            pl.sum_horizontal(pl.col("observed"), *extra).sum().cast(pl.Float64).alias("observed"),
            pl.col("fitted").sum().cast(pl.Float64).alias("expected"),
        )
        .filter(pl.col("expected") > 0)
        .with_columns(
            (pl.col("bin_start") + pl.duration(minutes=max(int(bin_minutes), 1))).alias("bin_end"),
            ((pl.col("observed") - pl.col("expected")) / pl.col("expected").sqrt()).alias("residual"),
        )
        .select(list(schema))
    )


def residual_runs(
    residuals: np.ndarray | list[float], *, threshold: float = RUN_THRESHOLD, min_run: int = MIN_RUN
) -> list[tuple[int, int, int]]:
    """Maximal runs of consecutive residuals beyond ±``threshold`` on one side.

    Parameters
    ----------
    residuals : array of float
        Pearson residuals in time order (NaN breaks a run).
    threshold : float
        A residual counts when its absolute value exceeds this.
    min_run : int
        Shortest run returned.

    Returns
    -------
    list of (first, last, sign)
        Inclusive indices of each run and ``+1`` (above the fit) or ``-1`` (below).

    Why runs, not single bins: with a few dozen bins one residual past ±2 is expected by
    chance, three in a row on the same side is not (≈ 0.13³ per position for |r| > 1.5
    under the model), and a run is what a missed burst or a missed lull looks like.
    """
    r = np.asarray(residuals, dtype=float)
    sign = np.where(np.isfinite(r) & (r > threshold), 1, np.where(np.isfinite(r) & (r < -threshold), -1, 0))
    runs: list[tuple[int, int, int]] = []
    i = 0
    while i < sign.size:
        if sign[i] == 0:
            i += 1
            continue
        j = i
        while j + 1 < sign.size and sign[j + 1] == sign[i]:
            j += 1
        if j - i + 1 >= min_run:
            runs.append((i, j, int(sign[i])))
        i = j + 1
    return runs


def find_misfits(
    diagnostics: Any,
    bin_minutes: float,
    *,
    threshold: float = RUN_THRESHOLD,
    min_run: int = MIN_RUN,
    min_pooled: float = MIN_POOLED,
) -> list[Misfit]:
    """Stretches of time a report fit gets wrong, from its diagnostics.

    Parameters
    ----------
    diagnostics : Diagnostics or None
        A fit's diagnostics; only report fits (an ``observed_vs_fitted`` table with
        ``bin_start``) are examined — restorations and measured series have no counts.
    bin_minutes : float
        Display bin width (the timeline's), the scale at which residuals are read.
    threshold, min_run : see :func:`residual_runs`.
    min_pooled : float
        A run is kept only when its pooled residual (ΣO − ΣE)/√ΣE reaches this in
        absolute value: three bins just past the threshold with tiny expected counts are
        not a finding.

    Returns
    -------
    list of Misfit
        In time order (empty when the model has no such run).
    """
    table = getattr(diagnostics, "observed_vs_fitted", None)
    if table is None:
        return []
    binned = binned_residuals(table, bin_minutes)
    if binned.height == 0:
        return []
    resid = binned["residual"].to_numpy()
    obs, exp = binned["observed"].to_numpy(), binned["expected"].to_numpy()
    starts, ends = binned["bin_start"].to_list(), binned["bin_end"].to_list()
    # a bin dropped for lack of expected counts breaks a run: runs are of adjacent bins only
    cuts = [0] + [k + 1 for k in range(len(starts) - 1) if starts[k + 1] != ends[k]] + [len(starts)]
    runs = [
        (a + first, a + last, sign)
        for a, b in itertools.pairwise(cuts)
        for first, last, sign in residual_runs(resid[a:b], threshold=threshold, min_run=min_run)
    ]
    out = []
    for first, last, sign in runs:
        o, e = float(obs[first : last + 1].sum()), float(exp[first : last + 1].sum())
        pooled = (o - e) / math.sqrt(e) if e > 0 else math.inf
        if abs(pooled) < min_pooled:
            continue
        out.append(
            Misfit(
                start=starts[first],
                end=ends[last],
                observed=o,
                expected=e,
                sign=sign,
                bins=last - first + 1,
                max_residual=float(np.max(np.abs(resid[first : last + 1]))),
                pooled_residual=float(pooled),
            )
        )
    return out
