"""The spatial analysis of an incident: every spatial statistic, computed once per analysis.

:func:`spatial_analysis` runs the area tables, neighbourhood statistics, distance tests,
pooled recovery per area and the regional comparison for an analysed incident; the result
is kept with that analysis so ``metrics.json`` (:func:`regions_metrics`,
:func:`equal_recovery_metrics`, :func:`areas_metrics`) and the report's Geography section
use one computation. Nothing here draws or writes HTML.
"""

from __future__ import annotations

import datetime as dt
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from analysis import spatial as sp
from analysis.errors import AnalysisError
from analysis.spatial.pooling import AreaRecovery, pooled_area_recovery
from analysis.spatial_recovery import RegionComparison, compare_regions, coverage_caveats, region_replicates
from analysis.timeline import DOWN_STATUSES, down_reports

if TYPE_CHECKING:
    from analysis.pipeline import Analysis

MIN_AREAS_MORAN = 10  # below this, neighbourhood statistics say nothing


@dataclass(eq=False)
class SpatialAnalysis:
    """Everything spatial about one incident (times in minutes after ``onset``, UTC).

    Attributes
    ----------
    level : str
        Area level of ``table``: ``municipality`` (reference) or the user's level.
    approximate : bool
        Whether the polygons are the approximate reference municipalities.
    table, provinces, regions_table : polars.DataFrame
        :func:`analysis.spatial.area_table` at the analysis level, provinces and regions.
    statements : polars.DataFrame
        Area-level statements (:func:`analysis.spatial.area_statements`).
    pooled : AreaRecovery or None
        Partially pooled recovery per area.
    moran : MoranResult or None
    distance : dict
        ``onset lag`` and ``recovery`` :class:`~analysis.spatial.DistanceTest`.
    regions : RegionComparison or None
    hourly : polars.DataFrame
        Reports per area and hour (time-lapse).
    """

    level: str
    approximate: bool
    onset: dt.datetime
    boundaries: Any
    table: pl.DataFrame
    provinces: pl.DataFrame
    regions_table: pl.DataFrame
    statements: pl.DataFrame
    scope_counts: dict[str, float]
    rate_unit: str
    expected_within: str
    caveats: dict[str, str]
    hourly: pl.DataFrame
    pooled: AreaRecovery | None = None
    moran: sp.MoranResult | None = None
    distance: dict[str, sp.DistanceTest] = field(default_factory=dict)
    regions: RegionComparison | None = None
    notes: list[str] = field(default_factory=list)


# what the area tables, scopes and time-lapse read from a report (plus any area_* column)
_AREA_COLUMNS = (
    "reported_at", "reported_until", "weight", "status", "source", "municipality", "province", "province_code",
    "region", "region_code", "nis_code", "area_level", "lat", "lon",
)  # fmt: skip


def spatial_analysis(a: Analysis) -> SpatialAnalysis:
    """Every spatial result of the incident, computed once and kept on the analysis (``a.spatial``)."""
    if a.spatial is None:
        a.spatial = _compute(a)
    return a.spatial


def remember(a: Analysis, result: SpatialAnalysis) -> SpatialAnalysis:
    """Give ``a`` an already computed spatial analysis (the same analysis in another language)."""
    a.spatial = result
    return result


def without_contacts(text: str | None) -> str:
    """A data string with contact details (e-mails, phone numbers) scrubbed; '' for None."""
    from analysis.privacy import scrub_contacts

    return scrub_contacts(text) or ""


def _scrubbed(statements: pl.DataFrame) -> pl.DataFrame:
    return statements.with_columns(pl.Series("sources", [without_contacts(x) for x in statements["sources"]], dtype=pl.String))


def _onset(a: Analysis) -> dt.datetime:
    if a.fit is not None:
        return a.fit.onset
    if a.incident.onset is not None:
        return a.incident.onset
    first = a.reports["reported_at"].min()
    return first if first is not None else a.span[0]


def _compute(a: Analysis) -> SpatialAnalysis:
    from analysis.fitting import propensity_for
    from analysis.geo import area_layer, boundaries, load_exposure

    inc, params = a.incident, a.params
    reports = a.reports
    layer = area_layer(inc.geography)
    user = inc.geography.boundaries is not None
    level = "user" if user else "municipality"
    onset = _onset(a)
    notes: list[str] = []
    # source and origin names are analyst-written: contact details never reach the page or metrics.json
    coverage = {
        without_contacts(s.name): [without_contacts(r) for r in s.coverage_regions] for s in inc.sources if s.coverage_regions
    }
    expected_within = "region" if coverage and not user else "country"
    exposure = layer.exposure if layer.exposure.height else None
    per, unit = _rate_unit(exposure)
    # the area tables and the scopes read these columns only: their filters copy nothing else
    wanted = dict.fromkeys([*_AREA_COLUMNS, *(c for c in reports.columns if c.startswith("area_"))])
    geo = reports.select([c for c in wanted if c in reports.columns])
    # one pass each: the down reports merged per scope, province, region, source and time (the
    # province and region tables, the scopes, the region comparison) and per area and time
    cells = sp.down_cells(geo)
    placed = sp.area_cells(geo, level="municipality") if not user else _user_placed(geo, layer.boundaries)
    del geo
    table_ = sp.area_table(
        placed, layer.boundaries, level=level, onset=onset, exposure=exposure, per=per,
        ci_level=params.level, expected_within=expected_within,
    )  # fmt: skip
    prov = sp.area_table(
        cells, boundaries("province"), level="province", onset=onset, exposure=load_exposure(level="province"),
        ci_level=params.level, expected_within=expected_within,
    )  # fmt: skip
    reg = sp.area_table(
        cells, boundaries("region"), level="region", onset=onset, exposure=load_exposure(level="region"), ci_level=params.level
    )
    w = pl.col("weight").cast(pl.Float64).fill_null(1.0)
    scope_counts = {s: float(n) for s, n in cells.group_by("scope").agg(w.sum()).iter_rows()}
    out = SpatialAnalysis(
        level=level,
        approximate=bool(layer.approximate),
        onset=onset,
        boundaries=layer.boundaries,
        table=table_,
        provinces=prov,
        regions_table=reg,
        statements=_scrubbed(sp.area_statements(reports, tz=inc.timezone)),
        scope_counts=scope_counts,
        rate_unit=unit,
        expected_within=expected_within,
        caveats=coverage_caveats(coverage, counts=_down_by_source(cells)),
        hourly=sp.hourly_area_counts(placed),
        notes=notes,
    )
    # only what the pooled fit reads
    located = placed.select("area_key", "reported_at", "reported_until", "weight")
    del placed
    prop = propensity_for(inc, params)
    if a.fit is not None and a.fit.end is not None and located.height:
        try:
            out.pooled = pooled_area_recovery(located, a.fit, propensity=prop, bin_minutes=params.bin_minutes)
        except AnalysisError as exc:
            notes.append(f"per-area recovery not estimated: {exc}")
    del located  # the regions below read the cells only
    _regions_and_area_tests(a, out, cells, exposure=exposure, coverage=coverage, propensity=prop)
    return out


def _user_placed(geo: pl.DataFrame, areas: Any) -> pl.DataFrame:
    """The down reports inside the user's areas (placed by their coordinates), as :func:`analysis.spatial.area_cells` has them."""
    assigned = sp.assign_level(down_reports(geo), level="user", areas=areas)
    cols = ("area_key", "whole_area", "status", "reported_at", "reported_until", "weight")
    return assigned.filter(pl.col("area_key").is_not_null()).select(c for c in cols if c in assigned.columns)


def _rate_unit(exposure: pl.DataFrame | None) -> tuple[float, str]:
    """The rate's ``per`` and its unit in words: per inhabitants, or per customers."""
    kind = exposure["exposure_kind"][0] if exposure is not None else "population"
    per, unit = (10_000.0, "per 10,000 inhabitants") if kind == "population" else (1_000.0, "per 1,000 customers")
    if exposure is not None and bool(exposure["is_estimate"].any()):
        unit += " (population estimate)"
    return per, unit


def _down_by_source(reports: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Down reports per region and source (source names without contact details), for the coverage caveats.

    ``reports``: the reports or their cells (:func:`analysis.spatial.down_cells`).
    """
    w = pl.col("weight").cast(pl.Float64).fill_null(1.0)
    by_source: dict[str, dict[str, float]] = {}
    per_source = (
        reports.lazy()  # lazy: only the three columns are read, no filtered copy of the table
        .filter(pl.col("status").is_in(DOWN_STATUSES) & pl.col("region").is_not_null())
        .group_by("region", "source")
        .agg(w.sum())
        .collect()
    )
    for r, src, n in per_source.iter_rows():
        by_source.setdefault(r, {})[without_contacts(src)] = float(n)
    return by_source


def _area_tests(a: Analysis, out: SpatialAnalysis, *, exposure: pl.DataFrame | None, propensity: Any, later: list[str]) -> None:
    """Moran's I and the distance tests into ``out``; why one was not computed into ``later``."""
    table_, areas = out.table, out.boundaries
    n_with = int((table_["n_reports"] > 0).sum())
    if table_.height < MIN_AREAS_MORAN:
        later.append(f"spatial autocorrelation not computed: {table_.height} areas (at least {MIN_AREAS_MORAN} are needed)")
    elif exposure is None:
        later.append("spatial autocorrelation not computed: no population or customer count per area")
    elif n_with >= 1:
        try:
            x = table_["exposure"].fill_null(0.0).to_numpy()
            out.moran = sp.spatial_autocorrelation(
                areas, counts=table_["n_reports"].to_numpy(), exposure=x, permutations=999, seed=a.params.seed
            )
        except AnalysisError as exc:
            later.append(f"spatial autocorrelation not computed: {exc}")
    if a.incident.origin is not None:
        out.distance = _distance_tests(a, out, areas, propensity=propensity)


def _regions_and_area_tests(
    a: Analysis,
    out: SpatialAnalysis,
    cells: pl.DataFrame,
    *,
    exposure: pl.DataFrame | None,
    coverage: dict[str, list[str]],
    propensity: Any,
) -> None:
    """The region comparison into ``out``, with the area tests (:func:`_area_tests`) computed beside it.

    The region comparison (fits and bootstraps) and the area statistics (esda, permutation
    tests) share nothing: they run side by side, each seeded on its own, notes in the same
    order. The regions read the down reports' cells (:func:`analysis.spatial.down_cells`).
    """
    params, reports, notes = a.params, a.reports, out.notes
    later: list[str] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="area-tests") as pool:
        beside = pool.submit(_area_tests, a, out, exposure=exposure, propensity=propensity, later=later)
        if a.fit is not None and a.fit.end is not None:
            try:
                names = set(reports["source"].drop_nulls().unique().to_list()) if "source" in reports.columns else set()
                out.regions = compare_regions(
                    cells, a.fit, propensity=propensity, bin_minutes=params.bin_minutes, n_boot=region_replicates(params.n_boot),
                    seed=params.seed, coverage=coverage, sampling=a.incident.sampling_for(names),
                )  # fmt: skip
            except AnalysisError as exc:
                notes.append(f"region comparison not made: {exc}")
        elif a.fit is None:
            notes.append("no national recovery curve, so no per-area or per-region recovery either")
        beside.result()
    notes.extend(later)


ONSET_WORDS = (
    "first reported the outage later than their number of reports predicts",
    "first reported the outage earlier than their number of reports predicts",
)

RECOVERY_WORDS = ("recovered more slowly", "recovered faster")


def _distance_tests(a: Analysis, s: SpatialAnalysis, areas: Any, *, propensity: Any) -> dict[str, sp.DistanceTest]:
    """Distance from the origin against onset and recovery pace, over all areas and within regions.

    Onset: the first report comes early wherever there are many reports, so each area's
    first report is turned into u = 1 − (1 − F(t₁))ⁿ, the chance that the first of its n
    reports would come by t₁ under the national timing F (uniform when the area follows
    the national timing, whatever n). Recovery: the area's own time stretch φ against the
    national curve (unpooled, where its reports bound it), which does not depend on how
    many reports it has either.
    """
    import geopandas as gpd

    from analysis.geo.boundaries import METRIC_CRS
    from analysis.spatial.pooling import report_time_cdf

    inc, params = a.incident, a.params
    pts = sp.area_points(areas, level="municipality" if s.level == "municipality" else "user")
    origin = gpd.GeoSeries(gpd.points_from_xy([inc.origin.lon], [inc.origin.lat]), crs="EPSG:4326").to_crs(METRIC_CRS).iloc[0]
    dist = dict(zip(pts["key"], pts.geometry.distance(origin).to_numpy() / 1000.0, strict=True))
    unit = "municipalities" if s.level == "municipality" else "areas"
    name = without_contacts(inc.origin.name)
    has = s.table.filter(pl.col("n_reports") > 0)
    series: list[tuple[str, pl.DataFrame, np.ndarray, tuple[str, str]]] = []
    if a.fit is not None and a.fit.end is not None:
        cdf = report_time_cdf(a.fit, propensity=propensity, bin_minutes=params.bin_minutes)
        f = cdf(has["onset_lag_minutes"].to_numpy())
        u = 1.0 - (1.0 - f) ** has["n_reports"].to_numpy().astype(float)
        series.append(("onset", has, u, ONSET_WORDS))
    if s.pooled is not None:
        own = s.pooled.table.filter(
            pl.col("scale_own").is_not_nan() & (pl.col("scale_own_low") > 0) & pl.col("scale_own_high").is_finite()
        ).join(s.table.select("key", "region"), on="key", how="left")
        series.append(("recovery pace", own, np.log(own["scale_own"].to_numpy()), RECOVERY_WORDS))
    out: dict[str, sp.DistanceTest] = {}
    for outcome, rows, values, (higher, lower) in series:
        d = np.array([dist.get(k, np.nan) for k in rows["key"]])
        common = {
            "outcome": outcome,
            "origin": name,
            "unit": unit,
            "higher": higher,
            "lower": lower,
            "slope_unit": None,
            "seed": params.seed,
        }
        key = outcome.split()[0]
        out[key] = sp.distance_effect(d, values, **common)
        regions = rows["region"].to_list()
        if sum(1 for r in set(regions) if r and regions.count(r) >= 3) >= 2:
            strata = np.array([r or "none" for r in regions])
            out[f"{key}_within_regions"] = sp.distance_effect(d, values, strata=strata, **common)
    return out


def regions_metrics(a: Analysis) -> dict[str, Any]:
    """``metrics.json`` ``regions``: per region name, reports, t50/t90 with intervals, rate, basis, caveat."""
    s = spatial_analysis(a)
    out: dict[str, Any] = {}
    rates = {r["name"]: r for r in s.regions_table.to_dicts()}
    names = list(s.regions.regions) if s.regions is not None else list(rates)
    for name in names:
        r = rates.get(name, {})
        entry: dict[str, Any] = {"n_reports": int(r.get("n_reports") or 0)}
        if s.regions is not None and name in s.regions.regions:
            entry.update(s.regions.regions[name].to_metrics())
        else:
            entry.update({"t50_minutes": None, "t90_minutes": None, "t50_minutes_ci": None, "t90_minutes_ci": None})
        entry["n_whole_region_statements"] = int(r.get("n_whole_area") or 0)
        entry["rate_per_10k"] = _num(r.get("rate"), 4)
        entry["coverage_caveat"] = s.caveats.get(name)
        out[name] = entry
    return out


def equal_recovery_metrics(a: Analysis) -> dict[str, Any]:
    """``metrics.json`` ``regions_equal_recovery``: ``test``, ``statistic``, ``p_value``, ``df`` (null when not performed, with a note)."""
    s = spatial_analysis(a)
    if s.regions is None:
        note = "; ".join(s.notes) or "no region comparison"
        return {"test": None, "statistic": None, "p_value": None, "df": None, "performed": False, "note": note}
    return s.regions.test.to_metrics()


def areas_metrics(a: Analysis) -> dict[str, Any]:
    """``metrics.json`` ``areas``: coverage of the areas, spatial autocorrelation, distance tests, pooling."""
    s = spatial_analysis(a)
    t = s.table
    # lazy: counts the down reports' municipalities without a filtered copy of the table
    n_municipalities = (
        a.reports.lazy()
        .filter(pl.col("status").is_in(DOWN_STATUSES) & pl.col("municipality").is_not_null())
        .select(pl.col("nis_code").n_unique())
        .collect()
        .item()
    )
    out: dict[str, Any] = {
        "n_municipalities": n_municipalities,
        "level": s.level,
        "n_areas": t.height,
        "n_areas_with_reports": int((t["n_reports"] > 0).sum()),
        "reports_by_scope": {k: int(v) for k, v in sorted(s.scope_counts.items())},
        "expected_within": s.expected_within,
        "n_areas_more_than_expected": int((t["verdict"] == "more than expected").sum()),
        "n_areas_more_than_expected_fdr10": int(((t["verdict"] == "more than expected") & (t["q_value"] < 0.1)).sum()),
        "boundaries_approximate": s.approximate,
    }
    m = s.moran
    out["morans_i"] = None if m is None else _num(m.statistic, 4)
    out["morans_i_p_value"] = None if m is None else _num(m.p_value, 4)
    out["morans_i_permutations"] = None if m is None else m.permutations
    out["morans_i_method"] = None if m is None else m.method
    out["lisa_clusters"] = None if m is None else m.counts()
    out["distance_from_origin"] = {k: v.to_dict() for k, v in s.distance.items()} or None
    p = s.pooled
    out["pooled_recovery"] = (
        None
        if p is None
        else {
            "tau_log_scale": _num(p.tau, 4),
            "n_areas": p.table.height,
            "n_areas_mostly_own_data": int((p.table["data_weight"] >= 0.5).sum()),
        }
    )
    return out


def _num(x: Any, digits: int = 2) -> float | None:
    return round(float(x), digits) if x is not None and math.isfinite(float(x)) else None
