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

import math
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import polars as pl

from analysis.figure_text import area_name, translate_text
from analysis.i18n import TEXT, decimal_mark, format_estimate, format_number, format_percent, text
from analysis.narrative import caption, esc, heading, table
from analysis.sentences import localize, localized_html
from analysis.spatial_analysis import SpatialAnalysis, spatial_analysis, without_contacts

__all__ = ["geography_parts"]

if TYPE_CHECKING:  # plotly is imported only by what draws (not by `postmortem fit`)
    import plotly.graph_objects as go

    from analysis.pipeline import Analysis

Part: TypeAlias = "str | go.Figure"


# --------------------------------------------------------------------------- metrics.json


def _test_stat(t: Any) -> str:
    """The equal-recovery statistic as read: F on (df, df of φ), or χ² on df."""
    if t.reference == "F" and t.dispersion_df:
        return f"F = {t.statistic / t.df:.2f} on ({t.df}, {t.dispersion_df}) degrees of freedom"
    return f"χ² = {t.statistic:.1f} on {t.df} degrees of freedom"


# --------------------------------------------------------------------------- report section


def _fmt_est(v: float, lo: float, hi: float, lang: str) -> str:
    return format_estimate(v, lo, hi, lang)


def _lead(a: Analysis, s: SpatialAnalysis) -> str:
    lang = a.params.language
    c = s.scope_counts
    total = sum(c.values())
    muni = c.get("municipality", 0)
    by_region = (
        a.down.filter(pl.col("municipality").is_not_null())
        .group_by("region")
        .agg(pl.col("weight").cast(pl.Float64).fill_null(1.0).sum().alias("n"))
        .sort("n", descending=True)
    )
    regions = ", ".join(f"{area_name(r, lang)} {n:g}" for r, n in by_region.iter_rows() if r)
    n_areas = int((s.table["n_reports"] > 0).sum())
    what = text(lang, "geo_municipalities" if s.level == "municipality" else "geo_areas")
    parts = [
        text(
            lang,
            "geo_lead",
            total=f"{total:g}",
            muni=f"{muni:g}",
            n_areas=n_areas,
            what=what,
            regions=f" ({regions})" if regions else "",
        )
    ]
    area = c.get("province", 0) + c.get("region", 0)
    if area:
        parts.append(text(lang, "geo_lead_areas", n=f"{area:g}"))
    if c.get("country"):
        parts.append(text(lang, "geo_lead_country", n=f"{c['country']:g}"))
    if c.get("unplaced"):
        parts.append(text(lang, "geo_lead_unplaced", n=f"{c['unplaced']:g}"))
    return "<p>" + esc(" ".join(parts)) + "</p>"


def geography_parts(a: Analysis) -> list[Part]:
    """The report's Geography section: maps with captions, the region comparison and the tests in plain words."""
    from analysis import maps

    lang = a.params.language
    located = a.down.filter(pl.col("nis_code").is_not_null() | pl.col("area_level").is_in(["province", "region"]))
    if located.height == 0:
        if a.down.height == 0 and a.evidence == "restorations":  # no down report to call unplaced
            words = text(lang, "no_geography_records", n=a.data.restorations.height)
        elif a.evidence == "online_fraction":  # a series: no report to call unplaced
            words = text(lang, "s_no_geography_unplaced")
        elif getattr(a, "has_geography", True):
            words = text(lang, "no_geography", n=a.down.height)
        else:  # nothing resolves in the reference geography: name none
            words = text(lang, "no_geography_unplaced", n=a.down.height)
        return [heading("geography", text(lang, "geography")), f"<p>{esc(words)}</p>"]
    s = spatial_analysis(a)
    tz = a.incident.timezone
    parts: list[Part] = [heading("geography", text(lang, "geography")), _lead(a, s)]
    if s.caveats:
        items = "".join(f"<li><b>{esc(area_name(r, lang))}</b>: {localized_html(c, lang)}</li>" for r, c in s.caveats.items())
        parts.append(
            f'<div class="pm-callout"><b>{esc(text(lang, "geo_coverage"))}</b> {esc(text(lang, "geo_coverage_intro"))}'
            f"<ul>{items}</ul></div>"
        )
    note = maps.APPROXIMATE_NOTE if s.approximate else None
    geo = maps.display_geojson(s.boundaries)
    base = _base_outlines()
    layers: list[Any] = ["reports"]
    if s.table["rate"].is_not_null().any():
        layers += ["rate", "excess"]
    # a clusters tab only when some local cluster is significant: an all-grey tab says nothing
    if s.moran is not None and np.isfinite(s.moran.statistic) and s.moran.counts():
        layers.append("clusters")
    shown = s.table
    if lang != "en":  # municipality names in the reader's language (Anvers, Luik) in the hovers
        shown = shown.with_columns(
            pl.Series("name", [place_name(k, n, lang) for k, n in zip(shown["key"], shown["name"], strict=True)])
        )
    fig = maps.area_map(
        shown, geo, layers=layers, rate_unit=s.rate_unit, clusters=s.moran.lisa if s.moran is not None else None,
        base=base, note=note, language=lang,
    )  # fmt: skip
    maps.add_labels(fig, province_labels(lang))
    maps.add_origin(fig, a.incident.origin, lang)
    parts += [fig, caption(_map_caption(s, lang, origin_name(a, lang)))]
    parts += _excess_parts(s, lang)
    parts += _statement_parts(s, base, lang, a.incident.origin)
    parts += _recovery_parts(a, s, geo, base, note=note)
    names = {k: place_name(k, n, lang) for k, n in zip(s.table["key"], s.table["name"], strict=True)}
    if s.hourly.height:
        lapse = maps.timelapse_map(s.hourly, geo, names, timezone=tz, base=base, note=note)
        maps.add_labels(lapse, province_labels(lang))
        maps.add_origin(lapse, a.incident.origin, lang)
        parts += [
            lapse,
            caption(text(lang, "g_hourly_caption")),
        ]
    parts += _region_parts(a, s, lang)
    parts += _distance_parts(a, s)
    parts += _moran_parts(s, lang)
    if s.notes:
        parts.append("<p class='pm-caption'>" + "; ".join(localized_html(n, lang) for n in s.notes) + "</p>")
    return parts


def province_labels(lang: str) -> list[tuple[str, float, float]]:
    """Each province's name in the reader's language at a point inside it, for map labels."""
    from analysis.geo import boundaries

    # Brussels is left unlabelled: the origin's star and name sit there (Evere)
    both = [(r["name"], r["geometry"]) for _, r in boundaries("province").iterrows()]
    out = []
    for name, geom in both:
        p = geom.representative_point()
        out.append((area_name(name, lang), round(float(p.y), 3), round(float(p.x), 3)))
    return out


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


def origin_name(a: Analysis, lang: str) -> str:
    """The incident's origin in the reader's language (as written in incident.toml), '' when none."""
    origin = a.incident.origin
    if origin is None:
        return ""
    return without_contacts(origin.name_in(lang) if hasattr(origin, "name_in") else origin.name)


def _map_caption(s: SpatialAnalysis, lang: str = "en", origin: str = "") -> str:
    within = text(lang, "geo_within_region" if s.expected_within == "region" else "geo_within_country")
    unit = localize(s.rate_unit, lang)[0] if lang == "en" else _unit_text(s.rate_unit, lang)
    words = text(lang, "geo_map_caption", unit=unit, within=within)
    if origin:  # no origin configured: no star on the map, and no sentence about it
        words += " " + text(lang, "geo_map_origin", origin=origin)
    if s.moran is not None and np.isfinite(s.moran.statistic) and s.moran.counts():
        words += " " + text(lang, "geo_map_clusters")
    return words


def _unit_text(unit: str, lang: str) -> str:
    from analysis.figure_text import translate_text

    return translate_text(unit, lang)


def _excess_parts(s: SpatialAnalysis, lang: str = "en") -> list[Part]:
    t = s.table.filter(pl.col("expected").is_not_null())
    if t.height == 0:
        return [f"<p>{esc(text(lang, 'geo_no_exposure'))}</p>"]
    within = text(lang, "geo_within_region" if s.expected_within == "region" else "geo_within_country")
    hot = t.filter(pl.col("verdict") == "more than expected").sort(["q_value", "ratio"], descending=[False, True])
    parts: list[Part] = [f"<h3>{esc(text(lang, 'g_excess'))}</h3>"]
    n_fdr = hot.filter(pl.col("q_value") < sp_fdr()).height
    words = text(lang, "geo_excess", within=within, hot=hot.height, n=t.height, fdr=n_fdr)
    if hot.height and not n_fdr:
        words += " " + text(lang, "geo_excess_none")
    if t["n_reports"].max() <= 3:
        words += " " + text(lang, "geo_excess_few")
    parts.append(f"<p>{esc(words)}</p>")
    rows = [
        (
            place_name(r["key"], r["name"], lang),
            area_name(r["region"], lang) if r["region"] else "",
            f"{r['n_reports']:g}",
            format_number(r["expected"], language=lang),
            f"{format_number(r['ratio'], language=lang)} [{format_number(r['ratio_low'], language=lang)}–"
            f"{format_number(r['ratio_high'], language=lang)}]",
            text(lang, "yes" if r["q_value"] is not None and r["q_value"] < sp_fdr() else "no"),
        )
        for r in _excess_top(t).to_dicts()
    ]
    headers = ["geo_h_area", "geo_h_region", "geo_h_reports", "geo_h_expected", "geo_h_ratio", "geo_h_stands_out"]
    parts.append(table([text(lang, h) for h in headers], rows))
    return parts


def _excess_top(t: pl.DataFrame) -> pl.DataFrame:
    """The areas the Geography table lists: up to 10 with more reports than expected, else the 5 highest ratios."""
    hot = t.filter(pl.col("verdict") == "more than expected").sort(["q_value", "ratio"], descending=[False, True])
    return hot.head(10) if hot.height else t.sort("ratio", descending=True, nulls_last=True).head(5)


def excess_methods(a: Analysis) -> str:
    """The q-values behind the Geography table's 'stands out' column, for the Methods appendix ("" when none)."""
    s = a.spatial
    if s is None and getattr(a, "has_geography", False):
        s = spatial_analysis(a)
    if s is None or "expected" not in s.table.columns:
        return ""
    t = s.table.filter(pl.col("expected").is_not_null())
    if t.height == 0:
        return ""
    lang = a.params.language
    listed = "; ".join(
        f"{place_name(r['key'], r['name'], lang)} {format_number(r['q_value'], language=lang)}" for r in _excess_top(t).to_dicts()
    )
    words = text(lang, "mt_excess_q", fdr=format_percent(sp_fdr(), 0, lang), areas=listed)
    return f'<h3 id="methods-excess">{esc(text(lang, "g_excess"))}</h3><p>{esc(words)}</p>'


def sp_fdr() -> float:
    """The false discovery rate under which an area's excess is called significant on the page and the map."""
    from analysis.maps import EXCESS_FDR

    return EXCESS_FDR


def place_name(key: str | None, name: str | None, lang: str) -> str:
    """A municipality (by REFNIS code) in the reader's language where it has an official name in it, else ``name``."""
    from analysis.geo.reference import municipality_name

    return municipality_name(key, lang) or (area_name(name, lang) if name else "")


def reported_codes(s: SpatialAnalysis) -> list[str]:
    """Codes of the provinces and regions with evidence of the outage in them.

    That is down reports placed in them, or (for a region) a province in it named down,
    intermittent or partial.
    """
    from analysis.maps import AFFECTED

    codes: set[str] = set()
    for t in (s.provinces, s.regions_table):
        if t.height and "n_reports" in t.columns:
            codes |= set(t.filter(pl.col("n_reports") > 0)["key"].to_list())
    named = s.statements.filter((pl.col("scope") == "province") & pl.col("status").is_in(AFFECTED))["code"].to_list()
    if s.provinces.height and s.regions_table.height:
        region_of = dict(zip(s.provinces["key"], s.provinces["region"], strict=True))
        code_of = dict(zip(s.regions_table["name"], s.regions_table["key"], strict=True))
        codes |= {code_of[region_of[c]] for c in [*named, *codes] if region_of.get(c) in code_of}
    return sorted(codes | set(named))


def _statement_parts(s: SpatialAnalysis, base: dict[str, Any], lang: str = "en", origin: Any | None = None) -> list[Part]:
    """Statements about whole provinces or regions: their map (province names, the origin's star) and table."""
    from analysis import maps

    if s.statements.height == 0:
        return []
    parts: list[Part] = [f"<h3>{esc(text(lang, 'g_statements'))}</h3>"]
    geo = _statement_geojson(s.statements)
    if geo is not None:
        fig = maps.statements_map(s.statements, geo, reported=reported_codes(s), base=base)
        maps.add_labels(fig, province_labels(lang))  # like the other maps: where each province is, where the fault was
        maps.add_origin(fig, origin, lang)
        parts.append(fig)
    rows = [
        (
            text(lang, f"scope_{r['scope']}") if r["scope"] in ("province", "region", "country") else r["scope"],
            translate_text(area_name(r["area"], lang), lang),
            text(lang, f"st_{r['status']}") if f"st_{r['status']}" in TEXT["en"] else str(r["status"]).replace("_", " "),
            r["statements"],
            translate_text(f"{r['from_local']} – {r['to_local']}", lang),
            r["sources"],
        )
        for r in s.statements.to_dicts()
    ]
    headers = ["geo_h_level", "geo_h_area", "geo_h_status", "geo_h_statements", "geo_h_span", "geo_h_sources"]
    parts += [caption(text(lang, "g_statements_caption")), table([text(lang, h) for h in headers], rows)]
    return parts


def _recovery_parts(
    a: Analysis, s: SpatialAnalysis, geo: dict[str, Any], base: dict[str, Any], *, note: str | None
) -> list[Part]:
    from analysis import maps

    lang = a.params.language
    parts: list[Part] = [f"<h3>{esc(text(lang, 'g_recovered'))}</h3>"]
    # a statement known only by a window says the area was down at some moment in it: the area was
    # down at least until the window's start, not until its end ('Tuesday morning' is 06:00, not noon)
    t = s.table.select(
        "key",
        pl.Series("name", [place_name(k, n, lang) for k, n in zip(s.table["key"], s.table["name"], strict=True)]),
        pl.col("last_down_start_minutes").alias("last_down_minutes")
        if "last_down_start_minutes" in s.table.columns
        else "last_down_minutes",
    )
    p = s.pooled
    some = int((p.table["data_weight"] >= maps.MIN_DATA_WEIGHT).sum()) if p is not None else 0
    layers: list[Any] = []
    if p is not None and some:
        t = t.join(p.table, on="key", how="left")
        layers.append("t90")
    layers.append("last_down")
    fig = maps.recovery_map(t, geo, onset=s.onset, timezone=a.incident.timezone, layers=layers, base=base, note=note)
    maps.add_labels(fig, province_labels(lang))
    parts.append(maps.add_origin(fig, a.incident.origin, lang))
    words = []
    if p is not None:
        own = int((p.table["data_weight"] >= 0.5).sum())
        nat = a.fit.t90
        words.append(text(lang, "geo_pooling"))
        if p.tau == 0:
            words.append(text(lang, "geo_pooling_none", t90=format_estimate(nat.value, nat.low, nat.high, lang)))
        else:
            words.append(text(lang, "geo_pooling_tau", factor=format_number(math.exp(p.tau), 3, lang)))
        words.append(text(lang, "geo_pooling_own", own=own, n=p.table.height, some=some))
        words[-1] += text(lang, "geo_pooling_t90_layer") if some else "."
    words.append(text(lang, "geo_last_down"))
    parts.append(caption(" ".join(words)))
    return parts


def _region_parts(a: Analysis, s: SpatialAnalysis, lang: str) -> list[Part]:
    from analysis import maps

    rc = s.regions
    parts: list[Part] = [f"<h3>{esc(text(lang, 'g_regions'))}</h3>"]
    if rc is None or a.fit is None:
        why = "; ".join(localize(n, lang)[0] for n in s.notes) or text(lang, "geo_no_curve")
        parts.append(f"<p>{esc(text(lang, 'geo_no_regions', why=why))}</p>")
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
    # curated statements: the same model reading as the exploratory curve, named as what it is
    curated = getattr(a, "curated", False)
    parts.append(
        maps.region_curves(
            curves, onset=fit.onset, timezone=a.incident.timezone, national=national, level=a.params.level,
            y_title=text(lang, "axis_statements_model") if curated else None,
        )
    )  # fmt: skip
    parts.append(caption(text(lang, "g_regions_caption_curated" if curated else "g_regions_caption")))
    rows = []
    for name, r in rc.regions.items():
        rows.append(
            (
                area_name(name, lang),
                f"{r.n_reports:g}",
                _fmt_est(r.t50.value, r.t50.low, r.t50.high, lang),
                _fmt_est(r.t90.value, r.t90.low, r.t90.high, lang),
                localize(r.basis, lang)[0],
                localize(r.coverage_note, lang)[0] if r.coverage_note else "",
            )
        )
    headers = [text(lang, "geo_h_region"), text(lang, "geo_h_reports"), text(lang, "geo_h_t50"), text(lang, "geo_h_t90")]
    headers += [text(lang, "geo_h_basis"), text(lang, "geo_h_coverage")]
    parts.append(table(headers, rows))
    t = rc.test
    question = f"<b>{esc(text(lang, 'geo_alike_q'))}</b>"
    if t.performed:
        verdict = text(lang, "geo_alike_differ" if (t.p_value or 1) < 0.05 else "geo_alike_same")
        words = text(lang, "geo_alike_test", stat=_test_stat(t), p=format_number(t.p_value, 2, lang), verdict=verdict)
        parts.append(f"<p>{question} {esc(words)} ({localized_html(t.note, lang)}.)</p>")
    else:
        why = localize(t.note.removeprefix("not performed: "), lang)[0]
        parts.append(f"<p>{question} {esc(text(lang, 'geo_alike_not', why=why))}</p>")
    if s.caveats:
        parts.append(f"<p>{esc(text(lang, 'geo_undersampled'))}</p>")
    return parts


def _distance_parts(a: Analysis, s: SpatialAnalysis) -> list[Part]:
    from analysis.distance_report import distance_parts

    lang = a.params.language
    origin_en = without_contacts(a.incident.origin.name) if a.incident.origin is not None else ""
    name = origin_name(a, lang)
    return distance_parts(s, (origin_en, name), text(lang, "g_distance", origin=name), lang)


def distance_methods(a: Analysis) -> str:
    """The distance tests' measures for the Methods appendix ("" when none was run)."""
    from analysis.distance_report import distance_methods as measures

    s = a.spatial
    if s is None and getattr(a, "has_geography", False):
        s = spatial_analysis(a)
    lang = a.params.language
    origin_en = without_contacts(a.incident.origin.name) if a.incident.origin is not None else ""
    name = origin_name(a, lang)
    return measures(s, origin_en, name, text(lang, "g_distance", origin=name), lang)


def _moran_parts(s: SpatialAnalysis, lang: str = "en") -> list[Part]:
    m = s.moran
    if m is None:
        return []
    parts: list[Part] = [f"<h3>{esc(text(lang, 'g_neighbours'))}</h3>"]
    if not math.isfinite(m.statistic):
        why = "; ".join(localize(n, lang)[0] for n in m.notes)
        parts.append(f"<p>{esc(text(lang, 'geo_moran_na', why=why))}</p>")
        return parts
    if m.p_value < 0.05:
        words = text(lang, "geo_moran_alike" if m.statistic > m.expected else "geo_moran_unlike")
    else:
        words = text(lang, "geo_moran_none")
    # the plain finding here; the statistic that measured it (Moran's I, p) is in Methods
    sentence = words[:1].upper() + words[1:]
    c = m.counts()
    if c:  # the cluster kinds ("high-high", …) are phrases of the maps
        listed = ", ".join(f"{v} {translate_text(k, lang)}" for k, v in sorted(c.items()))
        sentence += " " + text(lang, "geo_lisa", counts=listed)
    else:
        sentence += " " + text(lang, "geo_lisa_none")
    if s.caveats:
        sentence += " " + text(lang, "geo_moran_caveat")
    parts.append(f"<p>{esc(sentence)}</p>")
    # how it was measured (empirical Bayes, contiguity, permutations) is Methods' business
    parts.append(
        f"<p class='pm-caption'>{esc(text(lang, 'geo_moran_in_methods'))} "
        f'<a href="#methods-neighbours">{esc(text(lang, "methods"))}</a>.</p>'
    )
    return parts


def moran_methods(a: Analysis) -> str:
    """How the neighbourhood statistic was computed, for the Methods appendix ("" when it was not)."""
    s = a.spatial
    if s is None and getattr(a, "has_geography", False):
        s = spatial_analysis(a)
    m = s.moran if s is not None else None
    if m is None or not math.isfinite(m.statistic):
        return ""
    lang = a.params.language
    if m.p_value < 0.05:
        words = text(lang, "geo_moran_alike" if m.statistic > m.expected else "geo_moran_unlike")
    else:
        words = text(lang, "geo_moran_none")
    measured = text(
        lang,
        "geo_moran",
        i=format_number(m.statistic, 2, lang) if abs(m.statistic) >= 1 else _fixed(m.statistic, 3, lang),
        e=_fixed(m.expected, 3, lang),
        p=_fixed(m.p_value, max(2, -math.floor(math.log10(m.p_value))) if m.p_value > 0 else 3, lang),
        n=m.permutations,
        words=words[:1].upper() + words[1:],
    )
    notes = "; ".join(localized_html(n, lang) for n in m.notes)
    return (
        f'<h3 id="methods-neighbours">{esc(text(lang, "g_neighbours"))}</h3><p>{esc(measured)}</p>'
        f"<p>{esc(text(lang, 'geo_moran_method'))}" + (f" {notes}." if notes else "") + "</p>"
    )


def _fixed(x: float, decimals: int, lang: str) -> str:
    """A number with a fixed count of decimals and the language's decimal sign ('0.092', '0,092')."""
    return f"{x:.{decimals}f}".replace(".", decimal_mark(lang))
