"""Where the outage hit and whether place mattered: per-area statistics, no plotting.

Every function here is a pure function of tables (polars) and polygons (GeoDataFrames with
a CRS). Times are UTC; durations are minutes after the national onset. Metric work
(distances, neighbours) is done in EPSG:3812 (Belgian Lambert 2008).

Reports belong to areas by their *scope*: a report placed in a municipality counts in that
municipality, its province and its region; a statement about a whole province ("mainly
the province of Antwerp") counts for the province and its region, never for any
municipality — it is kept as an area, not spread into invented points; a statement about
the whole country counts for no area.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, get_args

import numpy as np
import polars as pl
from scipy import stats

from analysis.errors import GeoError, ParameterError
from analysis.geo.boundaries import METRIC_CRS
from analysis.geo.reference import COUNTRY_CODE, REGION_NAMES, reference_municipalities
from analysis.timeline import DOWN_STATUSES
from analysis.vocab import AreaLevel, Correction, ExpectedWithin, RateAdjust

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "SCOPES",
    "AreaLevel",
    "DistanceTest",
    "MoranResult",
    "area_points",
    "area_statements",
    "area_table",
    "assign_level",
    "benjamini_hochberg",
    "contiguity_weights",
    "distance_effect",
    "excess_table",
    "hourly_area_counts",
    "poisson_interval",
    "report_scope",
    "spatial_autocorrelation",
]

AREA_LEVELS: tuple[str, ...] = get_args(AreaLevel)
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)  # a DataFrame in, a DataFrame out; lazy stays lazy
#: What a report is about: one municipality, a whole province/region/country, or nowhere known.
SCOPES: tuple[str, ...] = ("municipality", "province", "region", "country", "unplaced")
#: Scopes that count inside an area of each level (a province statement is not inside any municipality).
_SCOPES_IN_LEVEL: dict[str, tuple[str, ...]] = {
    "municipality": ("municipality",),
    "canton": ("municipality",),
    "user": ("municipality",),
    "province": ("municipality", "province"),
    "region": ("municipality", "province", "region"),
}
_REGION_CODES = {v.lower(): k for k, v in REGION_NAMES.items()}


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ParameterError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")


def _names(df: pl.DataFrame | pl.LazyFrame) -> list[str]:
    return df.collect_schema().names() if isinstance(df, pl.LazyFrame) else df.columns


def _need(df: pl.DataFrame | pl.LazyFrame, cols: Sequence[str], what: str) -> None:
    names = _names(df)
    missing = [c for c in cols if c not in names]
    if missing:
        raise GeoError(f"{what}: column(s) {', '.join(missing)} missing (have: {', '.join(names)})")


# --------------------------------------------------------------------------- scope and assignment


def report_scope(reports: FrameT) -> FrameT:
    """Add ``scope``: what each report is about (municipality, province, region, country, unplaced).

    Decided from the resolved geography, so it works whether or not the source had an
    ``area_level`` column: a resolved municipality wins; otherwise a province code makes a
    province statement, a region code a region statement, the country code (or
    ``area_level = country``) a national one. A LazyFrame stays lazy.
    """
    _need(reports, ["nis_code", "municipality", "province_code", "region_code"], "report_scope")
    level = pl.col("area_level") if "area_level" in _names(reports) else pl.lit(None, dtype=pl.String)
    scope = (
        pl.when(pl.col("municipality").is_not_null())
        .then(pl.lit("municipality"))
        .when(pl.col("province_code").is_not_null())
        .then(pl.lit("province"))
        .when(pl.col("region_code").is_not_null())
        .then(pl.lit("region"))
        .when((pl.col("nis_code") == COUNTRY_CODE) | (level == "country"))
        .then(pl.lit("country"))
        .otherwise(pl.lit("unplaced"))
    )
    return reports.with_columns(scope.alias("scope"))


def assign_level(reports: FrameT, *, level: AreaLevel, areas: gpd.GeoDataFrame | None = None) -> FrameT:
    """Add ``scope``, ``area_key`` (the area of ``level`` a report counts in) and ``whole_area``.

    ``area_key`` is null for reports about a larger area than ``level`` or not placed.
    ``whole_area`` is true for a statement naming the whole area (a province statement in
    the province table). Municipality, province and region use the resolved codes (a
    LazyFrame stays lazy); ``canton`` and ``user`` need ``areas`` (``key``, geometry, CRS)
    and place each municipal report by its coordinates or its municipality's seat.
    """
    _check_choice("level", level, AREA_LEVELS)
    df = report_scope(reports)
    inside = pl.col("scope").is_in(list(_SCOPES_IN_LEVEL[level]))
    if level in ("municipality", "province", "region"):
        code = {"municipality": "nis_code", "province": "province_code", "region": "region_code"}[level]
        df = df.with_columns(pl.when(inside).then(pl.col(code)).alias("area_key"))
    else:
        if areas is None:
            raise ParameterError(f"level={level!r}: the area polygons ('areas') are required")
        from analysis.geo.boundaries import assign_areas

        placed = assign_areas(df.collect() if isinstance(df, pl.LazyFrame) else df, areas, out_col="__area")
        df = placed.with_columns(pl.when(inside).then(pl.col("__area")).alias("area_key")).drop("__area")
    whole = pl.col("area_key").is_not_null() & (pl.col("scope") == level)
    return df.with_columns(whole.alias("whole_area") if level in ("province", "region") else pl.lit(False).alias("whole_area"))


def weighted_median(value: str, weight: str) -> pl.Expr:
    """Median of ``value`` with each row counted ``weight`` times (whole weights), as an aggregation.

    The same number as repeating each value by its weight and taking the median (the mean
    of the two middle values when the total weight is even), without building the repeats:
    a table of ten million reports does not grow ten million little lists.
    """
    ok = pl.col(value).is_not_null() & (pl.col(weight) > 0)
    v = pl.col(value).cast(pl.Float64).filter(ok)
    ranked = v.sort()
    cum = pl.col(weight).cast(pl.Int64).filter(ok).sort_by(v).cum_sum()
    total = cum.last()
    low = ranked.filter(cum > (total - 1) // 2).first()
    high = ranked.filter(cum > total // 2).first()
    return (low + high) / 2


def _times(df: FrameT, onset: dt.datetime) -> FrameT:
    """Report start/end/midpoint in minutes after ``onset`` (windows: their ends; point reports: the time)."""
    on = pl.lit(onset).cast(pl.Datetime("us", "UTC"))
    start = (pl.col("reported_at") - on).dt.total_microseconds() / 6e7
    end = (pl.coalesce("reported_until", "reported_at") - on).dt.total_microseconds() / 6e7
    w = pl.col("weight").cast(pl.Int64) if "weight" in _names(df) else pl.lit(1, dtype=pl.Int64)
    return df.with_columns(
        start.alias("t_start"), end.alias("t_end"), ((start + end) / 2).alias("t_mid"), w.fill_null(1).alias("w")
    )


# --------------------------------------------------------------------------- intervals and tests


def poisson_interval(observed: Any, *, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for a Poisson mean given ``observed`` counts, at ``level``.

    Lower = χ²(α/2; 2k)/2 (0 when k = 0), upper = χ²(1 − α/2; 2k + 2)/2.
    """
    if not 0 < level < 1:
        raise ParameterError(f"level must be in (0, 1), got {level!r}")
    k = np.asarray(observed, dtype=float)
    if np.any(k < 0) or not np.all(np.isfinite(k)):
        raise ParameterError("observed: counts must be finite and >= 0")
    a = 1 - level
    with np.errstate(invalid="ignore"):
        lo = np.where(k > 0, stats.chi2.ppf(a / 2, 2 * k) / 2, 0.0)
    hi = stats.chi2.ppf(1 - a / 2, 2 * k + 2) / 2
    return lo, hi


def benjamini_hochberg(p: Any) -> np.ndarray:
    """Benjamini–Hochberg q-values (false discovery rate) of p-values; NaN stays NaN."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return q
    order = ok[np.argsort(p[ok])]
    m = order.size
    ranked = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return q


def excess_table(observed: Any, expected: Any, *, level: float = 0.9) -> pl.DataFrame:
    """Observed vs expected counts: ratio, exact Poisson interval, two-sided p-value, BH q-value, verdict.

    ``ratio`` = O/E (standardised reporting ratio). The interval is the Garwood interval of
    the Poisson mean divided by E; ``p_value`` = min(1, 2·min(P(X ≤ O), P(X ≥ O))) with
    X ~ Poisson(E); ``q_value`` controls the false discovery rate over all areas, since
    among hundreds of areas some will look extreme by chance. ``verdict``: "more than
    expected" / "fewer than expected" when the interval excludes 1, else "as expected";
    null when E is 0 or unknown.
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    if o.shape != e.shape:
        raise ParameterError(f"observed and expected differ in length ({o.size} vs {e.size})")
    lo, hi = poisson_interval(o, level=level)
    good = np.isfinite(e) & (e > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(good, o / e, np.nan)
        rlo = np.where(good, lo / e, np.nan)
        rhi = np.where(good, hi / e, np.nan)
    ee = np.where(good, e, 1.0)
    p = np.where(good, np.minimum(1.0, 2 * np.minimum(stats.poisson.cdf(o, ee), stats.poisson.sf(o - 1, ee))), np.nan)
    verdict = np.where(
        ~good, None, np.where(rlo > 1, "more than expected", np.where(rhi < 1, "fewer than expected", "as expected"))
    )
    return pl.DataFrame(
        {
            "observed": o,
            "expected": np.where(np.isfinite(e), e, np.nan),
            "ratio": ratio,
            "ratio_low": rlo,
            "ratio_high": rhi,
            "p_value": p,
            "q_value": benjamini_hochberg(p),
            "verdict": pl.Series(verdict.tolist(), dtype=pl.String),
        },
        nan_to_null=True,
    )


# --------------------------------------------------------------------------- per-area table


def area_table(
    reports: pl.DataFrame,
    areas: gpd.GeoDataFrame,
    *,
    level: AreaLevel,
    onset: dt.datetime,
    exposure: pl.DataFrame | None = None,
    per: float = 10_000.0,
    ci_level: float = 0.9,
    expected_within: ExpectedWithin = "country",
) -> pl.DataFrame:
    """One row per area of ``level``: counts, rate, timing and excess over expectation.

    Parameters
    ----------
    reports : polars.DataFrame
        Canonical reports with the resolved geography; only down reports (down,
        intermittent, partial) are counted, each with its ``weight``.
    areas : geopandas.GeoDataFrame
        The areas of ``level`` (``key``, ``name``, optional ``region_code``), with a CRS.
    level : {"municipality", "canton", "province", "region", "user"}
        Which areas; see :func:`assign_level` for what counts inside each.
    onset : datetime
        National onset (UTC): lags and report times are minutes after it.
    exposure : polars.DataFrame, optional
        ``key``, ``exposure`` (population or customers), ``exposure_kind`` per area. Without
        it no rate, expectation or excess is computed.
    per : float
        Rate unit: reports per ``per`` inhabitants (or customers).
    ci_level : float
        Level of the excess intervals.
    expected_within : {"country", "region"}
        Expected counts share the reports of the whole country, or of each area's region
        (use it when sources cover regions unequally, so coverage is not read as excess).

    Returns
    -------
    polars.DataFrame
        ``key``, ``name``, ``region``, ``exposure``, ``n_reports`` (down reports inside the
        area, weighted), ``n_whole_area`` (of which statements about the whole area),
        ``n_windowed``, ``first_report`` / ``last_down_report`` (UTC; a windowed report
        counts from its window's start to its end, so the lag is a lower bound),
        ``onset_lag_minutes``, ``last_down_minutes`` (a window counts to its end), ``last_down_start_minutes`` (to
        its start: down at least until then), ``median_report_minutes`` (window
        midpoints), ``rate``, ``expected``, ``ratio`` with ``ratio_low``/``ratio_high``,
        ``p_value``, ``q_value``, ``verdict``. Areas without reports are included (zeros).
    """
    _check_choice("expected_within", expected_within, get_args(ExpectedWithin))
    if not per > 0:
        raise ParameterError(f"per must be > 0, got {per!r}")
    if areas.crs is None:
        raise GeoError("area_table: the areas have no CRS")
    if "key" not in areas.columns:
        raise GeoError("area_table: the areas need a 'key' column")
    # by code levels lazily: the scope and area columns are never built for the whole table
    lazy = level in ("municipality", "province", "region")
    assigned = _times(assign_level(reports.lazy() if lazy else reports, level=level, areas=areas), onset)
    # lazily: only the columns the aggregation reads are ever materialised for the down rows
    down = assigned.lazy().filter(pl.col("status").is_in(DOWN_STATUSES) & pl.col("area_key").is_not_null())
    per_area = (
        down.group_by("area_key")
        .agg(
            pl.col("w").sum().alias("n_reports"),
            pl.col("w").filter(pl.col("whole_area")).sum().alias("n_whole_area"),
            pl.col("w").filter(pl.col("reported_until").is_not_null()).sum().alias("n_windowed"),
            pl.col("reported_at").min().alias("first_report"),
            pl.coalesce("reported_until", "reported_at").max().alias("last_down_report"),
            pl.col("t_start").min().alias("onset_lag_minutes"),
            pl.col("t_end").max().alias("last_down_minutes"),
            pl.col("t_start").max().alias("last_down_start_minutes"),
            weighted_median("t_mid", "w").alias("median_report_minutes"),
        )
        .collect()
    )
    region = _area_regions(areas, level)
    base = pl.DataFrame(
        {
            "key": areas["key"].astype(str).to_list(),
            "name": (areas["name"].astype(str) if "name" in areas.columns else areas["key"].astype(str)).to_list(),
            "region": region,
        },
        schema={"key": pl.String, "name": pl.String, "region": pl.String},
    )
    out = base.join(per_area, left_on="key", right_on="area_key", how="left").with_columns(
        pl.col("n_reports", "n_whole_area", "n_windowed").fill_null(0)
    )
    if exposure is not None and exposure.height:
        _need(exposure, ["key", "exposure"], "exposure")
        out = out.join(exposure.select("key", pl.col("exposure").cast(pl.Float64)), on="key", how="left")
    else:
        out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias("exposure"))
    out = out.with_columns((pl.col("n_reports") / pl.col("exposure") * per).alias("rate"))
    # expectation: the counted reports shared by exposure, within the country or each region
    has_x = pl.col("exposure").is_not_null() & (pl.col("exposure") > 0)
    scope = pl.col("region") if expected_within == "region" and level != "region" else pl.lit("all")
    out = out.with_columns(
        pl.when(has_x)
        .then(
            pl.col("n_reports").filter(has_x).sum().over(scope).cast(pl.Float64)
            * pl.col("exposure")
            / pl.col("exposure").filter(has_x).sum().over(scope)
        )
        .alias("expected")
    )
    ex = excess_table(out["n_reports"].to_numpy(), out["expected"].fill_null(np.nan).to_numpy(), level=ci_level)
    out = pl.concat([out, ex.drop("observed", "expected")], how="horizontal")
    return out.sort("key")


def _area_regions(areas: gpd.GeoDataFrame, level: str) -> list[str | None]:
    """Region name of each area (None when unknown, e.g. user areas)."""
    if level == "region":
        return [REGION_NAMES.get(str(k)) for k in areas["key"]]
    if "region_code" in areas.columns:
        return [REGION_NAMES.get(str(c)) if c is not None else None for c in areas["region_code"]]
    return [None] * len(areas)


def area_statements(reports: pl.DataFrame, *, tz: str) -> pl.DataFrame:
    """Statements about a whole province, region or the country, kept as areas (one row per area and status).

    Columns: ``scope``, ``area`` (name as resolved, else as written), ``code``, ``status``,
    ``statements`` (weighted), ``from_local`` / ``to_local`` (the span the statements
    cover, in ``tz``), ``sources``. These are never turned into points.
    """
    df = report_scope(reports.lazy()).filter(pl.col("scope").is_in(["province", "region", "country"])).collect()
    if df.height == 0:
        return pl.DataFrame(
            schema={
                "scope": pl.String,
                "area": pl.String,
                "code": pl.String,
                "status": pl.String,
                "statements": pl.Int64,
                "from_local": pl.String,
                "to_local": pl.String,
                "sources": pl.String,
            }
        )
    w = pl.col("weight").cast(pl.Int64).fill_null(1) if "weight" in df.columns else pl.lit(1, dtype=pl.Int64)
    name = (
        pl.when(pl.col("scope") == "province")
        .then(pl.col("province"))
        .when(pl.col("scope") == "region")
        .then(pl.col("region"))
        .otherwise(pl.lit("Belgium (whole country)"))
    )
    code = (
        pl.when(pl.col("scope") == "province")
        .then(pl.col("province_code"))
        .when(pl.col("scope") == "region")
        .then(pl.col("region_code"))
        .otherwise(pl.lit(COUNTRY_CODE))
    )
    src = pl.col("source") if "source" in df.columns else pl.lit("")
    g = (
        df.with_columns(pl.coalesce(name, pl.col("place_raw")).alias("area"), code.alias("code"), w.alias("w"), src.alias("src"))
        .group_by("scope", "area", "code", "status")
        .agg(
            pl.col("w").sum().alias("statements"),
            pl.col("reported_at").min().alias("t0"),
            pl.coalesce("reported_until", "reported_at").max().alias("t1"),
            pl.col("src").drop_nulls().unique().sort().str.join(", ").alias("sources"),
        )
    )
    order = {"province": 0, "region": 1, "country": 2}
    fmt = "%a %d %b %H:%M"
    return (
        g.with_columns(
            pl.col("t0").dt.convert_time_zone(tz).dt.strftime(fmt).alias("from_local"),
            pl.col("t1").dt.convert_time_zone(tz).dt.strftime(fmt).alias("to_local"),
            pl.col("scope").replace_strict(order, return_dtype=pl.Int8).alias("__o"),
        )
        .sort("__o", "area", "status")
        .select("scope", "area", "code", "status", "statements", "from_local", "to_local", "sources")
    )


def hourly_area_counts(reports: pl.DataFrame) -> pl.DataFrame:
    """Down reports per area and clock hour: ``key``, ``hour`` (UTC start), ``reports``.

    ``reports`` need ``area_key`` (:func:`assign_level`). A report known only within a
    window is spread over the hours it overlaps in proportion to the overlap, so the
    time-lapse never shows more precision than the data have. Computed lazily: the down
    rows are aggregated as they are read, never copied out of a large table.
    """
    _need(reports, ["area_key", "reported_at", "reported_until", "status"], "hourly_area_counts")
    w = pl.col("weight").cast(pl.Float64).fill_null(1.0) if "weight" in reports.columns else pl.lit(1.0)
    df = (
        reports.lazy()
        .filter(pl.col("status").is_in(DOWN_STATUSES) & pl.col("area_key").is_not_null())
        .select(
            pl.col("area_key").alias("key"),
            "reported_at",
            pl.coalesce("reported_until", "reported_at").alias("until"),
            w.alias("w"),
        )
    )
    schema = {"key": pl.String, "hour": pl.Datetime("us", "UTC"), "reports": pl.Float64}
    point = df.filter(pl.col("until") <= pl.col("reported_at")).select(
        "key", pl.col("reported_at").dt.truncate("1h").alias("hour"), pl.col("w").alias("reports")
    )
    span = (pl.col("until") - pl.col("reported_at")).dt.total_microseconds().cast(pl.Float64)
    win = (
        df.filter(pl.col("until") > pl.col("reported_at"))
        .with_columns(
            span.alias("span"),
            pl.datetime_ranges(
                pl.col("reported_at").dt.truncate("1h"),
                (pl.col("until") - pl.duration(microseconds=1)).dt.truncate("1h"),
                interval="1h",
            ).alias("hour"),
        )
        .explode("hour")
        .with_columns(
            (
                pl.min_horizontal(pl.col("until"), pl.col("hour") + pl.duration(hours=1))
                - pl.max_horizontal(pl.col("reported_at"), pl.col("hour"))
            )
            .dt.total_microseconds()
            .cast(pl.Float64)
            .alias("overlap")
        )
        .select("key", "hour", (pl.col("w") * pl.col("overlap") / pl.col("span")).alias("reports"))
    )
    out = (
        pl.concat([point, win])
        .group_by("key", "hour")
        .agg(pl.col("reports").sum())
        .sort("hour", "key")
        .select(pl.col("key").cast(pl.String), pl.col("hour").cast(schema["hour"]), pl.col("reports").cast(pl.Float64))
        .collect()
    )
    return out if out.height else pl.DataFrame(schema=schema)


# --------------------------------------------------------------------------- geometry helpers


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
    quad = [_QUADRANTS.get(int(q)) for q in loc.q]
    cut = float(esda.fdr(loc.p_sim, alpha)) if correction == "fdr" else alpha
    sig = loc.p_sim <= cut if correction == "fdr" else loc.p_sim < alpha
    lisa = pl.DataFrame(
        {
            "key": keys,
            "local_i": np.asarray(loc.Is, dtype=float),
            "p_value": np.asarray(loc.p_sim, dtype=float),
            "quadrant": pl.Series(quad, dtype=pl.String),
            "cluster": [q if s else "not significant" for q, s in zip(quad, sig, strict=True)],
        }
    )
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


def _method(adjust: str) -> str:
    rate = "empirical-Bayes standardised report rates (Assunção–Reis)" if adjust == "eb" else "report rates"
    return f"Moran's I of {rate}, queen-contiguity weights (row-standardised), permutation inference (PySAL esda)"


# --------------------------------------------------------------------------- distance from the origin


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
    min_areas: int = 8,
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
    p = float((1 + np.sum(np.abs(null) >= abs(rho) - 1e-12)) / (permutations + 1))
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
