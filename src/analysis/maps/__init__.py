"""Maps and regional curves for the post-mortem: plotly builders that return ``go.Figure``.

Every map is a plotly ``geo`` subplot with the base layers hidden (``visible=False``) and
our own polygons, so nothing is fetched from a tile server or a CDN and the page works
from ``file://`` (see :mod:`analysis.htmlexport`). Polygons go through
:func:`display_geojson` first: simplified along shared edges, exterior rings clockwise
(plotly's spherical winding), coordinates rounded, properties dropped. Each map embeds its
area GeoJSON once: switching what the map shows (reports, rate, excess, clusters) or
playing the time-lapse only changes ``z`` on one trace.

The builders take plain tables (polars) and GeoJSON; they compute nothing statistical
(see :mod:`analysis.spatial`). Times are drawn in the incident's timezone.

One module per map: the area choropleth (reports, rate, excess, clusters) is here;
:mod:`~analysis.maps.statements` paints areas named by statements,
:mod:`~analysis.maps.recovery` colours areas by recovery and draws the regional curves,
:mod:`~analysis.maps.timelapse` plays the reports hour by hour;
:mod:`~analysis.maps.layout` holds what they share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, get_args

import numpy as np
import plotly.graph_objects as go
import polars as pl

from analysis.errors import ParameterError
from analysis.i18n import format_count, format_number
from analysis.maps.layout import (
    APPROXIMATE_NOTE,
    CLUSTER_COLORS,
    DIVERGING,
    DURATION,
    LAYER_LABELS,
    MIN_DATA_WEIGHT,
    NO_DATA,
    PAGE_WIDTH,
    SEQUENTIAL,
    base_trace,
    colorbar,
    display_geojson,
    escape,
    geo_layout,
    layer_buttons,
    log_ticks,
    map_bounds,
    mercator_aspect,
)
from analysis.maps.recovery import recovery_map, region_curves
from analysis.maps.statements import AFFECTED, STATUS_COLORS, add_labels, painted_status, statements_map
from analysis.maps.timelapse import timelapse_map
from analysis.vocab import AreaLayerName

__all__ = [
    "AFFECTED",
    "APPROXIMATE_NOTE",
    "CLUSTER_COLORS",
    "DIVERGING",
    "DURATION",
    "EXCESS_FDR",
    "LAYER_LABELS",
    "MIN_DATA_WEIGHT",
    "NO_DATA",
    "PAGE_WIDTH",
    "SEQUENTIAL",
    "STATUS_COLORS",
    "add_labels",
    "add_origin",
    "area_map",
    "display_geojson",
    "map_bounds",
    "mercator_aspect",
    "painted_status",
    "recovery_map",
    "region_curves",
    "statements_map",
    "timelapse_map",
]


def _fmt_ratio(r: Mapping[str, Any], language: str = "en") -> str:
    if r.get("ratio") is None or not math.isfinite(r["ratio"]):
        return "no expectation (no exposure)"
    low, high = (format_number(r[k], 2, language) for k in ("ratio_low", "ratio_high"))
    return f"{format_number(r['ratio'], 2, language)}× expected [{low}–{high}], {r['verdict']}"


def _area_hover(r: Mapping[str, Any], rate_unit: str, language: str, cluster: bool) -> str:
    """One area's hover: name, region, reports, rate, expected and the ratio, numbers in ``language`` (no 4.4e+02)."""
    rate = r.get("rate")
    return (
        f"<b>{escape(r['name'])}</b>{' (' + escape(r['region']) + ')' if r.get('region') else ''}<br>"
        f"{format_count(r['n_reports'], language)} report(s)"
        + (f" · {format_number(rate, 3, language)} {rate_unit}" if rate is not None and math.isfinite(rate) else "")
        + (
            f"<br>{format_number(r['expected'], 2, language)} expected · {_fmt_ratio(r, language)}"
            if r.get("expected") is not None
            else ""
        )
        + (f"<br>cluster of alike neighbours: {r.get('cluster') or 'not tested'}" if cluster else "")
    )


def area_map(
    table: pl.DataFrame,
    geojson: dict[str, Any],
    *,
    layers: Sequence[AreaLayerName] = ("reports", "rate", "excess"),
    rate_unit: str = "per 10,000 inhabitants",
    clusters: pl.DataFrame | None = None,
    base: dict[str, Any] | None = None,
    note: str | None = None,
    title: str | None = None,
    language: str = "en",
) -> go.Figure:
    """Choropleth of reports per area, with a menu switching between counts, rates, excess and clusters.

    Parameters
    ----------
    table : polars.DataFrame
        :func:`analysis.spatial.area_table` output (``key``, ``name``, ``region``,
        ``n_reports``, ``rate``, ``expected``, ``ratio``, ``ratio_low``, ``ratio_high``,
        ``verdict``).
    geojson : dict
        Area polygons (:func:`display_geojson`), feature ``id`` = ``key``.
    layers : sequence of {"reports", "rate", "excess", "clusters"}
        What the menu offers, the first shown on opening. ``reports`` and ``rate`` use a
        log colour scale (areas with none stay grey); ``excess`` is observed/expected on a
        diverging log₂ scale, coloured only where the interval excludes 1 and the area stays
        significant at a false discovery rate of :data:`EXCESS_FDR` (the others take the
        neutral colour; the hover still gives their ratio);
        ``clusters`` shows the local clusters of alike neighbours (LISA; needs ``clusters``).
    clusters : polars.DataFrame, optional
        ``key``, ``cluster`` (from :class:`analysis.spatial.MoranResult`).
    base : dict, optional
        Outline GeoJSON drawn underneath in grey (e.g. provinces).
    note : str, optional
        Small print under the map (e.g. :data:`APPROXIMATE_NOTE`).
    language : str
        The page's language: the numbers of the hovers take its decimal mark and grouping (the
        words are translated with the rest of the figure).
    """
    for name in layers:
        if name not in get_args(AreaLayerName):
            raise ParameterError(f"layers: unknown layer {name!r} (expected {', '.join(get_args(AreaLayerName))})")
    if not layers:
        raise ParameterError("layers: at least one layer is needed")
    if "clusters" in layers and clusters is None:
        raise ParameterError("layers: 'clusters' needs the LISA table (clusters=)")
    have = {f["id"] for f in geojson.get("features", [])}
    t = table.filter(pl.col("key").is_in(list(have)))
    if clusters is not None:
        t = t.join(clusters.select("key", "cluster"), on="key", how="left")
    rows = t.to_dicts()
    keys = [r["key"] for r in rows]
    base_hover = [_area_hover(r, rate_unit, language, "clusters" in layers) for r in rows]
    specs = {name: _area_layer(name, rows, rate_unit) for name in layers}
    first = specs[layers[0]]
    fig = go.Figure()
    b = base_trace(base)
    if b is not None:
        fig.add_trace(b)
    idx = len(fig.data)
    fig.add_trace(
        go.Choropleth(
            geojson=geojson, locations=keys, hovertext=base_hover, hoverinfo="text", name="areas",
            marker_line={"color": "white", "width": 0.3}, **first,
        )
    )  # fmt: skip
    layer_buttons(fig, layers, specs, idx)
    geo_layout(fig, title=title, note=note)
    return fig


def add_origin(fig: go.Figure, origin: Any | None, language: str = "en") -> go.Figure:
    """Mark where the fault was (``incident.origin``: name, lat, lon) with a labelled star; distances are measured from it.

    The label is the origin's name in ``language`` when incident.toml gives one (``name.fr``).
    """
    if origin is None:
        return fig
    name = origin.name_in(language) if hasattr(origin, "name_in") else origin.name
    fig.add_trace(
        go.Scattergeo(
            lat=[origin.lat], lon=[origin.lon], mode="markers+text", text=[escape(name)], textposition="top right",
            textfont={"size": 11, "color": "#1f2933"}, marker={"symbol": "star", "size": 14, "color": "#1f2933",
            "line": {"color": "white", "width": 1}}, hovertext=f"{escape(name)} (origin)", hoverinfo="text",
            name="origin", showlegend=False,
        )
    )  # fmt: skip
    return fig


#: False discovery rate under which the excess layer colours an area (the Geography text uses the same).
EXCESS_FDR = 0.1


def _area_layer(name: str, rows: list[dict[str, Any]], rate_unit: str) -> dict[str, Any]:
    if name in ("reports", "rate"):
        col = "n_reports" if name == "reports" else "rate"
        v = np.array([r.get(col) if r.get(col) is not None else np.nan for r in rows], dtype=float)
        pos = v[np.isfinite(v) & (v > 0)]
        z = np.where(np.isfinite(v) & (v > 0), np.log10(np.where(v > 0, v, 1.0)), np.nan)
        vmin, vmax = (float(pos.min()), float(pos.max())) if pos.size else (1.0, 10.0)
        if vmax <= vmin:
            vmax = vmin * 10
        tv, tt = log_ticks(vmin, vmax)
        title = "reports" if name == "reports" else f"reports {rate_unit}"
        return {
            "z": [None if not math.isfinite(x) else round(float(x), 4) for x in z],
            "zmin": math.log10(vmin),
            "zmax": math.log10(vmax),
            "zmid": None,
            "colorscale": SEQUENTIAL,
            "colorbar": colorbar(title, tv, tt),
            "showscale": True,
        }
    if name == "excess":
        ratio = np.array([r["ratio"] if r.get("ratio") is not None else np.nan for r in rows], dtype=float)
        with np.errstate(divide="ignore"):
            z = np.clip(np.log2(ratio), -3, 3)
        # plotly geo cannot fade single areas, so areas within chance take the neutral colour; an area is
        # coloured only when it stays significant after allowing for the number of areas tested (the
        # q-value under the false discovery rate the text uses), so the map never paints red what the
        # text calls not significant
        sig = np.array(
            [
                r.get("verdict") in ("more than expected", "fewer than expected")
                and (r.get("q_value") is None or r["q_value"] < EXCESS_FDR)
                for r in rows
            ],
            dtype=bool,
        )
        z = np.where(sig | ~np.isfinite(z), z, 0.0)
        return {
            "z": [None if not math.isfinite(x) else round(float(x), 3) for x in z],
            "zmin": -3,
            "zmax": 3,
            "zmid": 0,
            "colorscale": DIVERGING,
            "colorbar": colorbar("observed ÷ expected", [-3, -2, -1, 0, 1, 2, 3], ["⅛", "¼", "½", "1", "2", "4", "8"]),
            "showscale": True,
        }
    cats = list(CLUSTER_COLORS)
    code = [cats.index(r.get("cluster") or "not significant") for r in rows]
    k = len(cats)
    scale = []
    for i, c in enumerate(cats):
        scale += [[i / k, CLUSTER_COLORS[c]], [(i + 1) / k, CLUSTER_COLORS[c]]]
    return {
        "z": [c + 0.5 for c in code],
        "zmin": 0,
        "zmax": k,
        "zmid": None,
        "colorscale": scale,
        "colorbar": colorbar("cluster of alike neighbours", [i + 0.5 for i in range(k)], cats),
        "showscale": True,
    }
