"""The spatial half of an analysed incident: computed once, then shown and exported.

:func:`spatial_analysis` runs every spatial statistic for an :class:`~analysis.pipeline.Analysis`
(and caches the result on that object's identity, so the report section and
``metrics.json`` use one computation). :func:`regions_metrics`,
:func:`equal_recovery_metrics` and :func:`areas_metrics` give the ``regions``,
``regions_equal_recovery`` and ``areas`` blocks of ``metrics.json``;
:func:`geography_parts` the report's Geography section. Every data string that reaches
the page goes through :func:`analysis.narrative.esc`.
"""

from __future__ import annotations

import datetime as dt
import math
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import polars as pl

from analysis import spatial as sp
from analysis.errors import AnalysisError
from analysis.i18n import format_estimate, format_number, text
from analysis.narrative import caption, esc, heading, table
from analysis.spatial_recovery import AreaRecovery, RegionComparison, compare_regions, coverage_caveats, pooled_area_recovery
from analysis.timeline import DOWN_STATUSES, down_reports

__all__ = [
    "SpatialAnalysis",
    "areas_metrics",
    "equal_recovery_metrics",
    "geography_parts",
    "regions_metrics",
    "spatial_analysis",
]

if TYPE_CHECKING:  # plotly is imported only by what draws (not by `postmortem fit`)
    import plotly.graph_objects as go

Part: TypeAlias = "str | go.Figure"
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

_CACHE: dict[int, tuple[weakref.ref[Any], SpatialAnalysis]] = {}


def spatial_analysis(a: Any) -> SpatialAnalysis:
    """Compute (once per Analysis object) every spatial result of the incident."""
    hit = _CACHE.get(id(a))
    if hit is not None and hit[0]() is a:
        return hit[1]
    return remember(a, _compute(a))


def remember(a: Any, result: SpatialAnalysis) -> SpatialAnalysis:
    """Record ``result`` as ``a``'s spatial analysis (e.g. computed for the same analysis in another language)."""
    key = id(a)
    _CACHE[key] = (weakref.ref(a, lambda _r, key=key: _CACHE.pop(key, None)), result)
    return result


def _clean(text: str | None) -> str:
    from analysis.privacy import scrub_contacts

    return scrub_contacts(text) or ""


def _scrubbed(statements: pl.DataFrame) -> pl.DataFrame:
    return statements.with_columns(pl.Series("sources", [_clean(x) for x in statements["sources"]], dtype=pl.String))


def _onset(a: Any) -> dt.datetime:
    if a.fit is not None:
        return a.fit.onset
    if a.incident.onset is not None:
        return a.incident.onset
    first = a.data.reports["reported_at"].min()
    return first if first is not None else a.span[0]


def _compute(a: Any) -> SpatialAnalysis:
    from analysis.geo import area_layer, boundaries, load_exposure
    from analysis.pipeline import propensity_for

    inc, params = a.incident, a.params
    reports = a.data.reports
    layer = area_layer(inc.geography)
    user = inc.geography.boundaries is not None
    level = "user" if user else "municipality"
    onset = _onset(a)
    notes: list[str] = []
    # source and origin names are analyst-written: contact details never reach the page or metrics.json
    coverage = {_clean(s.name): [_clean(r) for r in s.coverage_regions] for s in inc.sources if s.coverage_regions}
    expected_within = "region" if coverage and not user else "country"
    exposure = layer.exposure if layer.exposure.height else None
    kind = exposure["exposure_kind"][0] if exposure is not None else "population"
    per, unit = (10_000.0, "per 10,000 inhabitants") if kind == "population" else (1_000.0, "per 1,000 customers")
    if exposure is not None and bool(exposure["is_estimate"].any()):
        unit += " (population estimate)"
    # the area tables and the scopes read these columns only: their filters copy nothing else
    wanted = dict.fromkeys([*_AREA_COLUMNS, *(c for c in reports.columns if c.startswith("area_"))])
    geo = reports.select([c for c in wanted if c in reports.columns])
    table_ = sp.area_table(
        geo, layer.boundaries, level=level, onset=onset, exposure=exposure, per=per,
        ci_level=params.level, expected_within=expected_within,
    )  # fmt: skip
    prov = sp.area_table(
        geo, boundaries("province"), level="province", onset=onset, exposure=load_exposure(level="province"),
        ci_level=params.level, expected_within=expected_within,
    )  # fmt: skip
    reg = sp.area_table(
        geo, boundaries("region"), level="region", onset=onset, exposure=load_exposure(level="region"), ci_level=params.level
    )
    scoped = sp.report_scope(sp.assign_level(down_reports(geo), level=level, areas=layer.boundaries))
    del geo
    w = pl.col("weight").cast(pl.Float64).fill_null(1.0)
    scope_counts = {s: float(n) for s, n in scoped.group_by("scope").agg(w.sum()).iter_rows()}
    by_source: dict[str, dict[str, float]] = {}
    per_source = (
        reports.lazy()  # lazy: only the three columns are read, no filtered copy of the table
        .filter(pl.col("status").is_in(DOWN_STATUSES) & pl.col("region").is_not_null())
        .group_by("region", "source")
        .agg(w.sum())
        .collect()
    )
    for r, src, n in per_source.iter_rows():
        by_source.setdefault(r, {})[_clean(src)] = float(n)
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
        caveats=coverage_caveats(coverage, counts=by_source),
        hourly=sp.hourly_area_counts(scoped),
        notes=notes,
    )
    # only what the pooled fit reads: a filtered copy of every column would stay alive below
    used = [c for c in ("area_key", "reported_at", "reported_until", "weight") if c in scoped.columns]
    located = scoped.select(used).filter(pl.col("area_key").is_not_null())
    del scoped
    prop = propensity_for(inc, params)
    if a.fit is not None and a.fit.end is not None and located.height:
        try:
            out.pooled = pooled_area_recovery(located, a.fit, propensity=prop, bin_minutes=params.bin_minutes)
        except AnalysisError as exc:
            notes.append(f"per-area recovery not estimated: {exc}")
    later: list[str] = []

    def areas_tests() -> None:
        """Moran's I and the distance tests: independent of the region comparison, computed beside it."""
        n_with = int((table_["n_reports"] > 0).sum())
        if table_.height < MIN_AREAS_MORAN:
            later.append(f"spatial autocorrelation not computed: {table_.height} areas (at least {MIN_AREAS_MORAN} are needed)")
        elif exposure is None:
            later.append("spatial autocorrelation not computed: no population or customer count per area")
        elif n_with >= 1:
            try:
                x = table_["exposure"].fill_null(0.0).to_numpy()
                out.moran = sp.spatial_autocorrelation(
                    layer.boundaries, counts=table_["n_reports"].to_numpy(), exposure=x, permutations=999, seed=params.seed
                )
            except AnalysisError as exc:
                later.append(f"spatial autocorrelation not computed: {exc}")
        if inc.origin is not None:
            out.distance = _distance_tests(a, out, layer.boundaries, propensity=prop)

    # the region comparison (fits and bootstraps) and the area statistics (esda, permutation
    # tests) share nothing: they run side by side, each seeded on its own, notes in the same order
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="area-tests") as pool:
        beside = pool.submit(areas_tests)
        if a.fit is not None and a.fit.end is not None:
            try:
                names = set(reports["source"].drop_nulls().unique().to_list()) if "source" in reports.columns else set()
                out.regions = compare_regions(
                    reports, a.fit, propensity=prop, bin_minutes=params.bin_minutes, n_boot=params.n_boot,
                    seed=params.seed, coverage=coverage, sampling=a.incident.sampling_for(names),
                )  # fmt: skip
            except AnalysisError as exc:
                notes.append(f"region comparison not made: {exc}")
        elif a.fit is None:
            notes.append("no national recovery curve, so no per-area or per-region recovery either")
        beside.result()
    notes.extend(later)
    return out


ONSET_WORDS = (
    "first reported the outage later than their number of reports predicts",
    "first reported the outage earlier than their number of reports predicts",
)
RECOVERY_WORDS = ("recovered more slowly", "recovered faster")


def _distance_tests(a: Any, s: SpatialAnalysis, areas: Any, *, propensity: Any) -> dict[str, sp.DistanceTest]:
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
    from analysis.spatial_recovery import report_time_cdf

    inc, params = a.incident, a.params
    pts = sp.area_points(areas, level="municipality" if s.level == "municipality" else "user")
    origin = gpd.GeoSeries(gpd.points_from_xy([inc.origin.lon], [inc.origin.lat]), crs="EPSG:4326").to_crs(METRIC_CRS).iloc[0]
    dist = dict(zip(pts["key"], pts.geometry.distance(origin).to_numpy() / 1000.0, strict=True))
    unit = "municipalities" if s.level == "municipality" else "areas"
    name = _clean(inc.origin.name)
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


# --------------------------------------------------------------------------- metrics.json


def regions_metrics(a: Any) -> dict[str, Any]:
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


def _test_stat(t: Any) -> str:
    """The equal-recovery statistic as read: F on (df, df of φ), or χ² on df."""
    if t.reference == "F" and t.dispersion_df:
        return f"F = {t.statistic / t.df:.2f} on ({t.df}, {t.dispersion_df}) degrees of freedom"
    return f"χ² = {t.statistic:.1f} on {t.df} degrees of freedom"


def equal_recovery_metrics(a: Any) -> dict[str, Any]:
    """``metrics.json`` ``regions_equal_recovery``: ``test``, ``statistic``, ``p_value``, ``df`` (null when not performed, with a note)."""
    s = spatial_analysis(a)
    if s.regions is None:
        note = "; ".join(s.notes) or "no region comparison"
        return {"test": None, "statistic": None, "p_value": None, "df": None, "performed": False, "note": note}
    return s.regions.test.to_metrics()


def areas_metrics(a: Any) -> dict[str, Any]:
    """``metrics.json`` ``areas``: coverage of the areas, spatial autocorrelation, distance tests, pooling."""
    s = spatial_analysis(a)
    t = s.table
    # lazy: counts the down reports' municipalities without a filtered copy of the table
    n_municipalities = (
        a.data.reports.lazy()
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


# --------------------------------------------------------------------------- report section


def _fmt_est(v: float, lo: float, hi: float, lang: str) -> str:
    return format_estimate(v, lo, hi, lang)


def _lead(a: Any, s: SpatialAnalysis) -> str:
    c = s.scope_counts
    total = sum(c.values())
    muni = c.get("municipality", 0)
    by_region = (
        a.down.filter(pl.col("municipality").is_not_null())
        .group_by("region")
        .agg(pl.col("weight").cast(pl.Float64).fill_null(1.0).sum().alias("n"))
        .sort("n", descending=True)
    )
    regions = ", ".join(f"{esc(r)} {n:g}" for r, n in by_region.iter_rows() if r)
    n_areas = int((s.table["n_reports"] > 0).sum())
    what = "municipalities" if s.level == "municipality" else "areas"
    parts = [
        f"Of {total:g} down reports, {muni:g} name a place inside one of {n_areas} {what}"
        + (f" ({regions})" if regions else "")
        + "."
    ]
    area = c.get("province", 0) + c.get("region", 0)
    if area:
        parts.append(f"{area:g} are statements about a whole province or region: they are shown as areas, never as points.")
    if c.get("country"):
        parts.append(f"{c['country']:g} speak of the whole country and belong to no area.")
    if c.get("unplaced"):
        parts.append(f"{c['unplaced']:g} could not be placed.")
    return "<p>" + " ".join(parts) + "</p>"


def geography_parts(a: Any) -> list[Part]:
    """The report's Geography section: maps with captions, the region comparison and the tests in plain words."""
    from analysis import maps

    lang = a.params.language
    located = a.down.filter(pl.col("nis_code").is_not_null() | pl.col("area_level").is_in(["province", "region"]))
    if located.height == 0:
        return [heading("geography", text(lang, "geography")), f"<p>{esc(text(lang, 'no_geography', n=a.down.height))}</p>"]
    s = spatial_analysis(a)
    tz = a.incident.timezone
    parts: list[Part] = [heading("geography", text(lang, "geography")), _lead(a, s)]
    if s.caveats:
        items = "".join(f"<li><b>{esc(r)}</b>: {esc(c)}</li>" for r, c in s.caveats.items())
        parts.append(f'<div class="pm-callout"><b>Coverage.</b> Not every source covers the whole country.<ul>{items}</ul></div>')
    note = maps.APPROXIMATE_NOTE if s.approximate else None
    geo = maps.display_geojson(s.boundaries)
    base = _base_outlines()
    layers: list[Any] = ["reports"]
    if s.table["rate"].is_not_null().any():
        layers += ["rate", "excess"]
    if s.moran is not None and np.isfinite(s.moran.statistic):
        layers.append("clusters")
    fig = maps.area_map(
        s.table, geo, layers=layers, rate_unit=s.rate_unit, clusters=s.moran.lisa if s.moran is not None else None,
        base=base, note=note,
    )  # fmt: skip
    maps.add_origin(fig, a.incident.origin)
    parts += [fig, caption(_map_caption(s))]
    parts += _excess_parts(s, lang)
    parts += _statement_parts(s, base, lang)
    parts += _recovery_parts(a, s, geo, base, note=note)
    names = dict(zip(s.table["key"], s.table["name"], strict=True))
    if s.hourly.height:
        lapse = maps.timelapse_map(s.hourly, geo, names, timezone=tz, base=base, note=note)
        parts += [
            lapse,
            caption(text(lang, "g_hourly_caption")),
        ]
    parts += _region_parts(a, s, lang)
    parts += _distance_parts(a, s)
    parts += _moran_parts(s, lang)
    if s.notes:
        parts.append("<p class='pm-caption'>" + esc("; ".join(s.notes)) + "</p>")
    return parts


def _base_outlines() -> dict[str, Any]:
    """Provinces plus the Brussels region (which has no province), for the grey base layer."""
    import pandas as pd

    from analysis import maps
    from analysis.geo import boundaries

    prov = boundaries("province")
    reg = boundaries("region")
    both = pd.concat([prov[["key", "geometry"]], reg[reg["key"] == "04000"][["key", "geometry"]]], ignore_index=True)
    import geopandas as gpd

    return maps.display_geojson(gpd.GeoDataFrame(both, geometry="geometry", crs=prov.crs), tolerance_m=400, decimals=3)


def _statement_geojson(statements: pl.DataFrame) -> dict[str, Any] | None:
    """Polygons of the provinces and regions that area-level statements name."""
    from analysis import maps

    if statements.height == 0:
        return None
    import pandas as pd

    from analysis.geo import boundaries

    codes = set(statements.filter(pl.col("scope").is_in(["province", "region"]))["code"].to_list())
    if not codes:
        return None
    prov, reg = boundaries("province"), boundaries("region")
    both = pd.concat([prov[["key", "geometry"]], reg[["key", "geometry"]]], ignore_index=True)
    both = both[both["key"].isin(codes)]
    import geopandas as gpd

    return maps.display_geojson(gpd.GeoDataFrame(both, geometry="geometry", crs=prov.crs), tolerance_m=400, decimals=3)


def _map_caption(s: SpatialAnalysis) -> str:
    within = "within each region" if s.expected_within == "region" else "across the country"
    words = (
        "Where reports came from. Buttons switch between the number of reports, the rate "
        f"({s.rate_unit}) and observed ÷ expected, where the expectation shares the reports {within} in proportion "
        "to population: red areas reported more than their population predicts, blue fewer; areas within chance "
        "(their 90% interval includes 1) stay neutral. Grey: no report. Statements about whole provinces or regions "
        "are mapped separately below."
    )
    if s.moran is not None and np.isfinite(s.moran.statistic):
        words += " 'Clusters' shows the local Moran (LISA) clusters."
    return words


def _excess_parts(s: SpatialAnalysis, lang: str = "en") -> list[Part]:
    t = s.table.filter(pl.col("expected").is_not_null())
    if t.height == 0:
        return ["<p>No exposure (population or customers) for these areas, so no rate or excess is computed.</p>"]
    within = "within each region" if s.expected_within == "region" else "across the country"
    hot = t.filter(pl.col("verdict") == "more than expected").sort(["q_value", "ratio"], descending=[False, True])
    parts: list[Part] = [f"<h3>{esc(text(lang, 'g_excess'))}</h3>"]
    n_fdr = hot.filter(pl.col("q_value") < 0.1).height
    parts.append(
        f"<p>Expected reports share the located reports {esc(within)} in proportion to population. "
        f"{hot.height} of {t.height} areas have more reports than expected (90% Poisson interval above 1); after "
        f"allowing for the number of areas tested (false discovery rate 10%), {n_fdr} remain. "
        + ("With so few reports per area, single reports make most of these ratios." if t["n_reports"].max() <= 3 else "")
        + "</p>"
    )
    top = hot.head(10) if hot.height else t.sort("ratio", descending=True, nulls_last=True).head(5)
    rows = [
        (
            r["name"],
            r["region"] or "",
            f"{r['n_reports']:g}",
            format_number(r["expected"]),
            f"{format_number(r['ratio'])} [{format_number(r['ratio_low'])}–{format_number(r['ratio_high'])}]",
            format_number(r["q_value"]),
        )
        for r in top.to_dicts()
    ]
    parts.append(table(["area", "region", "reports", "expected", "observed ÷ expected [90%]", "q-value (FDR)"], rows))
    return parts


def _statement_parts(s: SpatialAnalysis, base: dict[str, Any], lang: str = "en") -> list[Part]:
    from analysis import maps

    if s.statements.height == 0:
        return []
    parts: list[Part] = [f"<h3>{esc(text(lang, 'g_statements'))}</h3>"]
    geo = _statement_geojson(s.statements)
    if geo is not None:
        parts.append(maps.statements_map(s.statements, geo, base=base))
    rows = [
        (
            r["scope"],
            r["area"],
            str(r["status"]).replace("_", " "),
            r["statements"],
            f"{r['from_local']} – {r['to_local']}",
            r["sources"],
        )
        for r in s.statements.to_dicts()
    ]
    parts += [
        caption(text(lang, "g_statements_caption")),
        table(["level", "area", "status", "statements", "time span (local)", "sources"], rows),
    ]
    return parts


def _recovery_parts(a: Any, s: SpatialAnalysis, geo: dict[str, Any], base: dict[str, Any], *, note: str | None) -> list[Part]:
    from analysis import maps

    parts: list[Part] = [f"<h3>{esc(text(a.params.language, 'g_recovered'))}</h3>"]
    t = s.table.select("key", "name", "last_down_minutes")
    p = s.pooled
    some = int((p.table["data_weight"] >= maps.MIN_DATA_WEIGHT).sum()) if p is not None else 0
    layers: list[Any] = []
    if p is not None and some:
        t = t.join(p.table, on="key", how="left")
        layers.append("t90")
    layers.append("last_down")
    fig = maps.recovery_map(t, geo, onset=s.onset, timezone=a.incident.timezone, layers=layers, base=base, note=note)
    parts.append(maps.add_origin(fig, a.incident.origin))
    words = []
    if p is not None:
        own = int((p.table["data_weight"] >= 0.5).sum())
        nat = a.fit.t90
        words.append(
            "Each area's recovery curve is the national curve stretched or compressed in time, estimated from the area's own "
            "reports and pulled toward the national curve as far as its few reports require (partial pooling)."
        )
        if p.tau == 0:
            words.append(
                "Here the areas' reports show no detectable difference in pace, so every area keeps the national t90 "
                f"({format_estimate(nat.value, nat.low, nat.high)} after onset): "
                "no municipality gets a confident curve of its own from a handful of reports."
            )
        else:
            words.append(f"Areas differ in pace by a factor of about ×{math.exp(p.tau):.2f} (one standard deviation).")
        words.append(f"{own} of {p.table.height} areas with reports are led by their own data and {some} have some say")
        words[-1] += "; only those are coloured on the t90 layer." if some else "."
    words.append(
        "The last 'still down' report depends on how many reports an area has: read it as 'reported down at least until'."
    )
    parts.append(caption(" ".join(words)))
    return parts


def _region_parts(a: Any, s: SpatialAnalysis, lang: str) -> list[Part]:
    from analysis import maps

    rc = s.regions
    parts: list[Part] = [f"<h3>{esc(text(lang, 'g_regions'))}</h3>"]
    if rc is None or a.fit is None:
        parts.append("<p>No region comparison: " + esc("; ".join(s.notes) or "no recovery curve") + ".</p>")
        return parts
    fit = a.fit
    horizon = min(max(float(fit.t99.value) * 1.15 if math.isfinite(fit.t99.value) else 240.0, 120.0), fit.horizon_minutes)
    grid = np.linspace(0.0, horizon, 200)
    mid, lo, hi = fit.survival_curve(grid)
    national = {"minutes": grid, "s": mid, "low": lo, "high": hi}
    code_of = {"Flanders": "02000", "Wallonia": "03000", "Brussels": "04000"}
    curves = []
    for name, r in rc.regions.items():
        if r.fit is not None:
            rmid, rlo, rhi = r.fit.survival_curve(grid)
            curves.append(
                {
                    "region": name,
                    "minutes": grid,
                    "s": rmid,
                    "low": rlo,
                    "high": rhi,
                    "label": f"own fit, {r.n_reports:g} reports",
                }
            )
        elif rc.pooled is not None and code_of.get(name) in rc.pooled.table["key"].to_list():
            mid, plo, phi = rc.pooled.survival_band(code_of[name], grid, seed=a.params.seed)
            curves.append(
                {"region": name, "minutes": grid, "s": mid, "low": plo, "high": phi, "label": f"pooled, {r.n_reports:g} reports"}
            )
        else:
            curves.append(
                {"region": name, "minutes": grid, "s": national["s"], "low": lo, "high": hi, "label": "no reports: national"}
            )
    parts.append(
        maps.region_curves(curves, onset=fit.onset, timezone=a.incident.timezone, national=national, level=a.params.level)
    )
    parts.append(caption(text(lang, "g_regions_caption")))
    rows = []
    for name, r in rc.regions.items():
        rows.append(
            (
                name,
                f"{r.n_reports:g}",
                _fmt_est(r.t50.value, r.t50.low, r.t50.high, lang),
                _fmt_est(r.t90.value, r.t90.low, r.t90.high, lang),
                r.basis,
                r.coverage_note or "",
            )
        )
    parts.append(table(["region", "reports", "t50 [90%]", "t90 [90%]", "basis", "coverage"], rows))
    t = rc.test
    if t.performed:
        verdict = (
            "the regions did not recover alike"
            if (t.p_value or 1) < 0.05
            else "the data do not show the regions recovering differently"
        )
        parts.append(
            f"<p><b>Did the regions recover alike?</b> Likelihood-ratio test of one shared recovery curve against one per "
            f"region: {_test_stat(t)}, p = {t.p_value:.2g} — {esc(verdict)}. "
            f"({esc(t.note)}.)</p>"
        )
    else:
        parts.append(f"<p><b>Did the regions recover alike?</b> Not tested: {esc(t.note.removeprefix('not performed: '))}.</p>")
    if s.caveats:
        parts.append(
            "<p>Where a region is under-sampled by the sources, its curve rests on fewer and less typical reports: "
            "a difference there may be the sources', not the network's.</p>"
        )
    return parts


def _distance_parts(a: Any, s: SpatialAnalysis) -> list[Part]:
    if not s.distance:
        return []
    parts: list[Part] = [f"<h3>{esc(text(a.params.language, 'g_distance', origin=_clean(a.incident.origin.name)))}</h3>"]
    items = []
    for key, label in (("onset", "Onset"), ("recovery", "Recovery")):
        overall, within = s.distance.get(key), s.distance.get(f"{key}_within_regions")
        if overall is None:
            continue
        words = overall.verdict
        if within is not None:
            if math.isfinite(overall.p_value) and overall.p_value < 0.05 and within.p_value >= 0.05:
                words += (
                    " Within each region, however, distance makes no difference: the pattern comes from the regions "
                    f"differing, not from distance ({within.verdict.split('(', 1)[-1].rstrip('.')})."
                )
            else:
                words += " " + within.verdict
        items.append(f"<li><b>{label}.</b> {esc(words)}</li>")
    parts.append("<ul>" + "".join(items) + "</ul>")
    test = next(iter(s.distance.values())).test
    parts.append(
        caption(
            f"Test: {test}; regions compared within themselves as well. Onset is measured by how late each area's first "
            "report came given how many reports it has (the first of many reports comes early by chance alone); "
            "recovery by the area's own time stretch against the national curve, where its reports are enough to bound "
            "it. Distances from each municipality's seat, in EPSG:3812. A failure at one central site should show no "
            "distance effect; first reports known only within a window count from the window's start."
        )
    )
    return parts


def _moran_parts(s: SpatialAnalysis, lang: str = "en") -> list[Part]:
    m = s.moran
    if m is None:
        return []
    parts: list[Part] = [f"<h3>{esc(text(lang, 'g_neighbours'))}</h3>"]
    if not math.isfinite(m.statistic):
        parts.append(f"<p>{esc('; '.join(m.notes))}.</p>")
        return parts
    alike = (
        "neighbouring areas had similar report rates"
        if m.statistic > m.expected
        else "neighbouring areas had dissimilar report rates"
    )
    sig = m.p_value < 0.05
    words = (
        f"Global Moran's I = {m.statistic:.3f} (no pattern: {m.expected:.3f}), permutation p = {m.p_value:.3g} "
        f"({m.permutations} permutations): "
        + (f"{alike}, more than chance would give." if sig else "no spatial pattern beyond chance.")
    )
    c = m.counts()
    if c:
        words += " Local clusters (LISA, false discovery rate 5%): " + ", ".join(f"{v} {k}" for k, v in sorted(c.items())) + "."
    if s.caveats:
        words += (
            " Because the sources cover regions unequally, a pattern here can come from where the sources listen rather "
            "than from the outage."
        )
    parts.append(f"<p>{esc(words)}</p>")
    parts.append(f"<p class='pm-caption'>{esc(m.method)}." + (" " + esc("; ".join(m.notes)) + "." if m.notes else "") + "</p>")
    return parts
