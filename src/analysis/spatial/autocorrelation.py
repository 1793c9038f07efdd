"""Whether neighbouring areas are alike: global Moran's I and local (LISA) clusters of report rates.

Polygons become queen-contiguity weights in EPSG:3812 (Belgian Lambert 2008); the statistics
are PySAL's esda, imported lazily (:func:`preload` pays the import ahead of time).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
import polars as pl

from analysis.errors import GeoError, ParameterError
from analysis.geo.boundaries import METRIC_CRS
from analysis.geo.reference import reference_municipalities
from analysis.vocab import AreaLevel, Correction, RateAdjust

if TYPE_CHECKING:
    import geopandas as gpd


from analysis.spatial.areas import _check_choice

__all__ = ["MoranResult", "area_points", "contiguity_weights", "preload", "spatial_autocorrelation"]


def area_points(areas: gpd.GeoDataFrame, *, level: AreaLevel) -> gpd.GeoDataFrame:
    """One point per area in EPSG:3812: the municipality's seat (reference), else a point inside the polygon."""
    import geopandas as gpd

    if areas.crs is None:
        raise GeoError("area_points: the areas have no CRS")
    metric = areas.to_crs(METRIC_CRS)
    pts = metric.geometry.representative_point()
    if level == "municipality":
        seats = reference_municipalities().select("nis_code", "lat", "lon").drop_nulls()
        lookup = {k: (lon, lat) for k, lat, lon in seats.iter_rows()}
        keys = areas["key"].astype(str).tolist()
        have = [k in lookup for k in keys]
        if any(have):
            lon = [lookup[k][0] for k, h in zip(keys, have, strict=True) if h]
            lat = [lookup[k][1] for k, h in zip(keys, have, strict=True) if h]
            seat_pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(METRIC_CRS)
            pts = pts.copy()
            pts.iloc[np.flatnonzero(have)] = seat_pts.to_numpy()
    return gpd.GeoDataFrame({"key": areas["key"].astype(str).to_numpy()}, geometry=pts.to_numpy(), crs=METRIC_CRS)


def contiguity_weights(areas: gpd.GeoDataFrame) -> tuple[Any, list[str]]:
    """Queen-contiguity spatial weights (row-standardised later by the statistic) with islands attached.

    Areas sharing an edge or a corner are neighbours. An area with no neighbour (an island,
    an exclave, or a gap in approximate polygons) is joined to its nearest area by
    centroid distance in EPSG:3812, so every area takes part. Returns the libpysal ``W``
    and notes on what was done (islands, disconnected groups).
    """
    from libpysal import weights

    if areas.crs is None:
        raise GeoError("contiguity_weights: the areas have no CRS")
    if len(areas) < 3:
        raise ParameterError(f"contiguity_weights: at least 3 areas are needed, got {len(areas)}")
    metric = areas.to_crs(METRIC_CRS).reset_index(drop=True)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        w = weights.Queen.from_dataframe(metric, use_index=False, silence_warnings=True)
        if w.islands:
            n_isl = len(w.islands)
            pts = metric.geometry.representative_point()
            knn = weights.KNN.from_dataframe(metric.set_geometry(pts), k=1, use_index=False, silence_warnings=True)
            w = weights.util.attach_islands(w, knn, silence_warnings=True)
            notes.append(f"{n_isl} area(s) without a contiguous neighbour joined to their nearest area")
        if w.n_components > 1:
            notes.append(f"the areas form {w.n_components} disconnected groups")
    for c in caught:  # anything else libpysal had to say goes to the notes, not to the console
        msg = str(c.message).strip().splitlines()[0]
        if msg and not any(msg in n for n in notes):
            notes.append(msg)
    return w, notes


# --------------------------------------------------------------------------- spatial autocorrelation


@dataclass(frozen=True, eq=False)
class MoranResult:
    """Global Moran's I of per-capita rates and the local (LISA) clusters.

    Attributes
    ----------
    statistic : float
        Moran's I (0 ≈ no spatial pattern; > 0 neighbours alike; < 0 neighbours unlike).
    expected : float
        E[I] under no autocorrelation, −1/(n − 1).
    p_value : float
        Pseudo p-value from ``permutations`` random permutations (one-sided, in the
        direction of the observed I, as PySAL reports it).
    z : float
        Standardised I against the permutation distribution.
    permutations : int
    n_areas : int
    method : str
        What was tested, in words.
    lisa : polars.DataFrame
        ``key``, ``local_i``, ``p_value``, ``quadrant`` (high-high, low-low, high-low,
        low-high) and ``cluster`` (the quadrant when p < alpha, else "not significant").
    notes : tuple of str
    """

    statistic: float
    expected: float
    p_value: float
    z: float
    permutations: int
    n_areas: int
    method: str
    lisa: pl.DataFrame
    notes: tuple[str, ...] = field(default=())

    def counts(self) -> dict[str, int]:
        """Number of areas in each significant LISA cluster type."""
        vc = self.lisa.filter(pl.col("cluster") != "not significant")["cluster"].value_counts()
        return {str(k): int(v) for k, v in vc.iter_rows()}


_QUADRANTS = {1: "high-high", 2: "low-high", 3: "low-low", 4: "high-low"}


def _import_esda() -> Any:
    """``import esda`` without the "IProgress not found" warning its ``tqdm.auto`` import prints in a kernel without ipywidgets."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import esda
    return esda


def preload() -> None:
    """Import what the area statistics need (esda, libpysal and their scikit-learn, geopandas).

    Half a second to two seconds of start-up: called where a processor would otherwise
    wait (beside the national fit), it is not paid again when the statistics run beside
    the region comparison, which keeps both cores busy.
    """
    import geopandas  # noqa: F401
    from libpysal import weights  # noqa: F401

    _import_esda()


def spatial_autocorrelation(
    areas: gpd.GeoDataFrame,
    *,
    counts: Sequence[float] | np.ndarray,
    exposure: Sequence[float] | np.ndarray,
    permutations: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
    adjust: RateAdjust = "eb",
    correction: Correction = "fdr",
) -> MoranResult:
    """Global Moran's I and local Moran (LISA) of report rates, with PySAL's esda.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame
        Polygons (``key``, geometry, CRS) in the same order as ``counts``/``exposure``.
    counts, exposure : array-like
        Reports and population (or customers) per area. Areas with no exposure are left out.
    permutations : int
        Random permutations behind the pseudo p-values.
    seed : int
        Seed of the permutations (results are reproducible).
    alpha : float
        Significance level for calling a LISA cluster.
    correction : {"fdr", "none"}
        ``fdr``: a local cluster is called only below PySAL's false-discovery-rate cut-off
        (``esda.fdr``) — with hundreds of areas, about ``alpha`` of them would look like
        clusters by chance alone; ``none``: plain ``p < alpha``.
    adjust : {"eb", "raw"}
        ``eb``: Assunção–Reis empirical-Bayes standardised rates (``esda.Moran_Rate``), so
        small areas with unstable rates do not dominate; ``raw``: Moran's I of the plain
        rates counts/exposure.
    """
    esda = _import_esda()

    _check_choice("adjust", adjust, get_args(RateAdjust))
    _check_choice("correction", correction, get_args(Correction))
    if isinstance(permutations, bool) or not isinstance(permutations, int) or permutations < 99:
        raise ParameterError(f"permutations must be an integer >= 99, got {permutations!r}")
    e = np.asarray(counts, dtype=float)
    b = np.asarray(exposure, dtype=float)
    if e.shape != (len(areas),) or b.shape != (len(areas),):
        raise ParameterError(f"counts and exposure need one value per area ({len(areas)})")
    keep = np.isfinite(b) & (b > 0) & np.isfinite(e)
    notes: list[str] = []
    if (~keep).sum():
        notes.append(f"{int((~keep).sum())} area(s) without exposure left out")
    sub = areas.iloc[np.flatnonzero(keep)]
    e, b = e[keep], b[keep]
    w, wnotes = contiguity_weights(sub)
    notes += wnotes
    w.transform = "r"
    keys = sub["key"].astype(str).tolist()
    if e.sum() == 0 or np.allclose(e / b, (e / b)[0]):
        return _no_pattern(keys, permutations=permutations, adjust=adjust, notes=notes)
    g, loc = _moran(esda, e, b, w, adjust=adjust, permutations=permutations, seed=seed)
    lisa = _lisa(esda, loc, keys, alpha=alpha, correction=correction)
    return MoranResult(
        statistic=float(g.I),
        expected=float(g.EI),
        p_value=float(g.p_sim),
        z=float(g.z_sim),
        permutations=permutations,
        n_areas=len(keys),
        method=_method(adjust)
        + (
            f"; local clusters at false discovery rate {alpha:g}" if correction == "fdr" else f"; local clusters at p < {alpha:g}"
        ),
        lisa=lisa,
        notes=tuple(notes),
    )


def _lisa(esda: Any, loc: Any, keys: list[str], *, alpha: float, correction: str) -> pl.DataFrame:
    """The local Moran table: each area's statistic, p-value, quadrant and called cluster."""
    quad = [_QUADRANTS.get(int(q)) for q in loc.q]
    cut = float(esda.fdr(loc.p_sim, alpha)) if correction == "fdr" else alpha
    sig = loc.p_sim <= cut if correction == "fdr" else loc.p_sim < alpha
    return pl.DataFrame(
        {
            "key": keys,
            "local_i": np.asarray(loc.Is, dtype=float),
            "p_value": np.asarray(loc.p_sim, dtype=float),
            "quadrant": pl.Series(quad, dtype=pl.String),
            "cluster": [q if s else "not significant" for q, s in zip(quad, sig, strict=True)],
        }
    )


def _no_pattern(keys: list[str], *, permutations: int, adjust: str, notes: list[str]) -> MoranResult:
    """The result when every rate is equal (or there are no reports): nothing to test, no cluster."""
    lisa = pl.DataFrame({"key": keys, "local_i": np.zeros(len(keys)), "p_value": np.ones(len(keys))}).with_columns(
        pl.lit(None, dtype=pl.String).alias("quadrant"), pl.lit("not significant").alias("cluster")
    )
    return MoranResult(
        math.nan,
        -1 / (len(keys) - 1),
        math.nan,
        math.nan,
        permutations,
        len(keys),
        _method(adjust),
        lisa,
        (*notes, "all rates equal: no pattern to test"),
    )


def _moran(esda: Any, e: np.ndarray, b: np.ndarray, w: Any, *, adjust: str, permutations: int, seed: int) -> tuple[Any, Any]:
    """Esda's global and local Moran of the rates ``e / b`` (empirical-Bayes with ``adjust="eb"``), seeded."""
    state = np.random.get_state()  # esda's global Moran draws from numpy's global generator
    try:
        np.random.seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 in EB rates of empty areas is handled by esda
            # esda's local Moran announces a future change of its default alternative without letting callers choose;
            # the p-values used here are today's (folded: extreme on either side of the permutation median)
            warnings.filterwarnings("ignore", message="The alternative hypothesis for conditional", category=DeprecationWarning)
            if adjust == "eb":
                g = esda.Moran_Rate(e, b, w, adjusted=True, permutations=permutations)
                loc = esda.Moran_Local_Rate(e, b, w, adjusted=True, permutations=permutations, seed=seed, n_jobs=1)
            else:
                y = e / b
                g = esda.Moran(y, w, permutations=permutations)
                loc = esda.Moran_Local(y, w, permutations=permutations, seed=seed, n_jobs=1)
    finally:
        np.random.set_state(state)
    return g, loc


def _method(adjust: str) -> str:
    rate = "empirical-Bayes standardised report rates (Assunção–Reis)" if adjust == "eb" else "report rates"
    return f"Moran's I of {rate}, queen-contiguity weights (row-standardised), permutation inference (PySAL esda)"


# --------------------------------------------------------------------------- distance from the origin
