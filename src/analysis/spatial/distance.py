"""Whether place mattered by distance: an area outcome against distance from the fault's origin."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from analysis.errors import ParameterError

if TYPE_CHECKING:
    pass


__all__ = ["MIN_AREAS", "DistanceTest", "distance_effect"]


#: Fewest areas with a value for a distance test to be run (fewer say nothing about near and far).
MIN_AREAS = 8


@dataclass(frozen=True)
class DistanceTest:
    """Association between distance from the fault's origin and an area outcome.

    Attributes
    ----------
    outcome : str
        What was compared (e.g. "onset").
    n : int
        Areas with a value.
    rho : float
        Spearman's rank correlation (within strata when ``stratified``).
    p_value : float
        Two-sided permutation p-value of ρ (outcomes shuffled across areas, within strata
        when ``stratified``).
    slope_per_10km, slope_low, slope_high : float
        Theil–Sen slope of the outcome per 10 km with its interval (NaN when the outcome
        has no unit worth a slope, or within strata).
    stratified : bool
        Whether areas were compared only within their stratum (e.g. region), so that a
        difference between strata is not read as an effect of distance.
    test : str
        The test in words.
    verdict : str
        One plain-language sentence.
    """

    outcome: str
    n: int
    rho: float
    p_value: float
    slope_per_10km: float
    slope_low: float
    slope_high: float
    stratified: bool
    test: str
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN → None)."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.__dict__.items()}


def _stratified_ranks(x: np.ndarray, strata: np.ndarray) -> np.ndarray:
    """Ranks within each stratum, centred and scaled to (−½, ½) so strata of any size pool."""
    out = np.empty(x.size)
    for s in np.unique(strata):
        i = np.flatnonzero(strata == s)
        out[i] = (stats.rankdata(x[i]) - (i.size + 1) / 2) / i.size
    return out


def distance_effect(
    distance_km: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    *,
    outcome: str,
    origin: str = "the origin",
    unit: str = "areas",
    higher: str | None = None,
    lower: str | None = None,
    slope_unit: str | None = "min",
    strata: Sequence[Any] | np.ndarray | None = None,
    permutations: int = 9999,
    seed: int = 0,
    alpha: float = 0.05,
    ci_level: float = 0.9,
    min_areas: int = MIN_AREAS,
) -> DistanceTest:
    """Test whether an area outcome rises or falls with distance from the origin.

    Spearman's ρ with a two-sided permutation p-value (the outcomes are shuffled across
    areas ``permutations`` times). With ``strata`` (e.g. each area's region) ranks are
    taken and shuffled within each stratum only, so a region that is both farther away and
    slower does not pass for a distance effect. The Theil–Sen slope per 10 km, with its
    interval, is the effect size when ``slope_unit`` is given. A failure at a central site
    (a datacenter) should show no distance effect; a spreading fault or repair crews moving
    outwards would.

    ``higher``/``lower`` complete the sentence "<unit> farther from <origin> …" when the
    outcome rises or falls with distance (default: "had a higher/lower <outcome>").
    """
    d = np.asarray(distance_km, dtype=float)
    y = np.asarray(values, dtype=float)
    if d.shape != y.shape:
        raise ParameterError(f"distance_km and values differ in length ({d.size} vs {y.size})")
    g = np.zeros(d.size, dtype=int) if strata is None else np.unique(np.asarray(strata, dtype=str), return_inverse=True)[1]
    if g.shape != d.shape:
        raise ParameterError(f"strata: one per area expected ({d.size}), got {g.size}")
    ok = np.isfinite(d) & np.isfinite(y)
    d, y, g = d[ok], y[ok], g[ok]
    keep = np.isin(g, [s for s in np.unique(g) if (g == s).sum() >= 3])  # a stratum of one or two says nothing
    d, y, g = d[keep], y[keep], g[keep]
    n = int(d.size)
    stratified = strata is not None
    within = " within strata" if stratified else ""
    test = f"Spearman rank correlation{within}, two-sided permutation test ({permutations} permutations{within})"
    if slope_unit and not stratified:
        test += "; Theil–Sen slope"
    nan = math.nan
    if n < min_areas or np.ptp(y) == 0 or np.ptp(d) == 0:
        why = f"only {n} {unit} with a value" if n < min_areas else "no variation to compare"
        return DistanceTest(
            outcome, n, nan, nan, nan, nan, nan, stratified, test, f"Distance from {origin} vs {outcome}: not tested ({why})."
        )
    rd, ry = _stratified_ranks(d, g), _stratified_ranks(y, g)
    rho = float(np.corrcoef(rd, ry)[0, 1])
    p = _permutation_p(rd, ry, g, rho=rho, permutations=permutations, seed=seed)
    s10 = l10 = h10 = nan
    if slope_unit and not stratified:
        slope, _, lo, hi = stats.theilslopes(y, d, alpha=ci_level)
        s10, l10, h10 = 10 * float(slope), 10 * float(lo), 10 * float(hi)
    slope_txt = f"; about {s10:+.0f} {slope_unit} per 10 km [{l10:+.0f}, {h10:+.0f}]" if math.isfinite(s10) else ""
    where = " within regions" if stratified else ""
    stat = f"Spearman ρ{where} = {rho:+.2f}, permutation p = {p:.2g}, {n} {unit}{slope_txt}"
    if p < alpha:
        phrase = (higher or f"had a higher {outcome}") if rho > 0 else (lower or f"had a lower {outcome}")
        verdict = f"{unit.capitalize()} farther from {origin} {phrase}{where} ({stat})."
    else:
        verdict = f"No distance effect on {outcome}{where} ({stat})."
    return DistanceTest(outcome, n, rho, p, s10, l10, h10, stratified, test, verdict)


def _permutation_p(rd: np.ndarray, ry: np.ndarray, g: np.ndarray, *, rho: float, permutations: int, seed: int) -> float:
    """Two-sided permutation p-value of the rank correlation ``rho``: ``ry`` shuffled within each stratum of ``g``."""
    n = int(rd.size)
    rng = np.random.default_rng(seed)
    null = np.empty(permutations)
    groups = [np.flatnonzero(g == s) for s in np.unique(g)]
    rdc = rd - rd.mean()
    # a shuffle keeps the values, hence their mean and spread: every permuted correlation has
    # the observed denominator, and against the centred rdc the mean drops out of the numerator
    denom = np.sqrt(((ry - ry.mean()) ** 2).sum()) * np.sqrt((rdc**2).sum())
    chunk = 1000
    for i in range(0, permutations, chunk):
        m = min(chunk, permutations - i)
        if len(groups) == 1:  # each row an independent shuffle (Fisher–Yates, not a sort)
            ys = rng.permuted(np.broadcast_to(ry, (m, n)), axis=1)
        else:
            ys = np.empty((m, n))
            for idx in groups:
                ys[:, idx] = rng.permuted(np.broadcast_to(ry[idx], (m, idx.size)), axis=1)
        null[i : i + m] = (ys @ rdc) / denom
    return float((1 + np.sum(np.abs(null) >= abs(rho) - 1e-12)) / (permutations + 1))
