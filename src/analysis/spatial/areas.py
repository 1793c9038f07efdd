"""Where the outage hit: reports assigned to areas and one table row per area, no plotting.

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
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar, get_args

import numpy as np
import polars as pl
from scipy import stats

from analysis.errors import GeoError, ParameterError
from analysis.geo.reference import COUNTRY_CODE, REGION_NAMES
from analysis.timeline import DOWN_STATUSES
from analysis.vocab import AreaLevel, ExpectedWithin

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "AREA_LEVELS",
    "SCOPES",
    "AreaLevel",
    "FrameT",
    "area_cells",
    "area_statements",
    "area_table",
    "assign_level",
    "benjamini_hochberg",
    "down_cells",
    "excess_table",
    "hourly_area_counts",
    "merge_rows",
    "poisson_interval",
    "report_scope",
    "weighted_median",
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
    ``area_level = country``) a national one. A LazyFrame stays lazy. A table that already
    has ``scope`` (the cells of :func:`down_cells`) keeps it.
    """
    if "scope" in _names(reports):
        return reports
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


#: what a cell of :func:`down_cells` is keyed by (the columns of these the reports have)
_CELL_KEYS = ("scope", "province_code", "region_code", "region", "source", "status", "reported_at", "reported_until")


def merge_rows(lazy: pl.LazyFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Rows of ``lazy`` equal in ``keys`` (those it has) merged into one, ``weight`` summed (a missing weight counts 1).

    Reports of equal values give the same counts, times and weighted medians as one row of
    their summed weight, so the tables and fits that read them read the merged rows instead.
    """
    names = _names(lazy)
    w = pl.col("weight").cast(pl.Int64).fill_null(1) if "weight" in names else pl.lit(1, dtype=pl.Int64)
    # the streaming engine aggregates as it reads: the down rows are never copied out of the table
    return lazy.group_by([k for k in keys if k in names]).agg(w.sum().alias("weight")).collect(engine="streaming")


def down_cells(reports: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """The down reports merged into cells of one scope, province, region, source, status and time, weights summed.

    What the province and region tables, the counts per scope and the region comparison read
    of the reports, in one pass over them: the reports of an incident fall into far fewer
    cells (times to the second, eleven provinces), and every count, first and last time and
    weighted median computed over the cells equals the one over the reports, since a cell
    holds reports with equal values only. Columns: ``scope`` (:func:`report_scope`), the
    keys the reports have of ``province_code``, ``region_code``, ``region``, ``source``,
    ``status``, ``reported_at``, ``reported_until``, and ``weight`` (the cell's reports,
    weighted). :func:`area_table` at province or region level and
    :func:`analysis.spatial_recovery.compare_regions` take the cells as they take reports.
    """
    return merge_rows(report_scope(reports.lazy()).filter(pl.col("status").is_in(DOWN_STATUSES)), _CELL_KEYS)


def area_cells(reports: pl.DataFrame | pl.LazyFrame, *, level: AreaLevel = "municipality") -> pl.DataFrame:
    """The down reports inside an area of ``level`` merged per area, status and time, weights summed.

    ``level`` is a code level (municipality, province, region; see :func:`assign_level`).
    Columns ``area_key``, ``whole_area``, ``status``, ``reported_at``, ``reported_until``,
    ``weight``: what :func:`area_table` (which takes cells already assigned to its level),
    :func:`hourly_area_counts` and the pooled recovery per area read, with the same results
    as on the reports, in one pass over them.
    """
    if level not in ("municipality", "province", "region"):
        raise ParameterError(f"area_cells: level must be municipality, province or region, got {level!r}")
    down = assign_level(reports.lazy(), level=level).filter(
        pl.col("status").is_in(DOWN_STATUSES) & pl.col("area_key").is_not_null()
    )
    return merge_rows(down, ("area_key", "whole_area", "status", "reported_at", "reported_until"))


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
        intermittent, partial) are counted, each with its ``weight``. Or their cells
        (:func:`down_cells`; :func:`area_cells` of this ``level``, with ``area_key``).
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
    _check_table_options(areas, per=per, expected_within=expected_within)
    # by code levels lazily: the scope and area columns are never built for the whole table;
    # cells of :func:`area_cells` are already assigned to their level
    lazy = level in ("municipality", "province", "region")
    frame = reports.lazy() if lazy else reports
    assigned = _times(frame if "area_key" in reports.columns else assign_level(frame, level=level, areas=areas), onset)
    # lazily: only the columns the aggregation reads are ever materialised for the down rows
    down = assigned.lazy().filter(pl.col("status").is_in(DOWN_STATUSES) & pl.col("area_key").is_not_null())
    per_area = _per_area(down)
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
    within_region = expected_within == "region" and level != "region"
    return _with_excess(out, within_region=within_region, ci_level=ci_level).sort("key")


def _check_table_options(areas: gpd.GeoDataFrame, *, per: float, expected_within: str) -> None:
    _check_choice("expected_within", expected_within, get_args(ExpectedWithin))
    if not per > 0:
        raise ParameterError(f"per must be > 0, got {per!r}")
    if areas.crs is None:
        raise GeoError("area_table: the areas have no CRS")
    if "key" not in areas.columns:
        raise GeoError("area_table: the areas need a 'key' column")


def _per_area(down: pl.LazyFrame) -> pl.DataFrame:
    """Counts and timing of the down reports of each area (``area_key``), weighted by ``w``."""
    return (
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


def _with_excess(out: pl.DataFrame, *, within_region: bool, ci_level: float) -> pl.DataFrame:
    """Add ``expected`` and the excess columns: the counted reports shared by exposure, within the country or each region."""
    has_x = pl.col("exposure").is_not_null() & (pl.col("exposure") > 0)
    scope = pl.col("region") if within_region else pl.lit("all")
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
    return pl.concat([out, ex.drop("observed", "expected")], how="horizontal")


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
