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
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from analysis.errors import GeoError, ParameterError
from analysis.figures import PALETTE, REGION_COLORS, TEMPLATE, wall_clock
from analysis.vocab import AreaLayerName, RecoveryLayerName

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "APPROXIMATE_NOTE",
    "area_map",
    "display_geojson",
    "recovery_map",
    "region_curves",
    "statements_map",
    "timelapse_map",
]

APPROXIMATE_NOTE = "Municipal boundaries are approximate (derived from judicial cantons and GeoNames places)."
NO_DATA = "#eef1f4"
MIN_DATA_WEIGHT = 0.1  # share of an area's t90 that must come from its own reports for the map to colour it
SEQUENTIAL = [[0.0, "#fdd0a2"], [0.35, "#fd8d3c"], [0.7, "#d94801"], [1.0, "#7f2704"]]
DIVERGING = [[0.0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"], [1.0, "#b2182b"]]
DURATION = [[0.0, "#c7e9c0"], [0.35, "#74c476"], [0.7, "#238b45"], [1.0, "#00441b"]]
CLUSTER_COLORS = {
    "not significant": "#f2f2f2",
    "high-high": "#d7191c",
    "low-low": "#2c7bb6",
    "high-low": "#fdae61",
    "low-high": "#abd9e9",
}


# --------------------------------------------------------------------------- geometry for display


def display_geojson(
    areas: gpd.GeoDataFrame,
    *,
    tolerance_m: float = 250.0,
    decimals: int = 3,
    keys: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A light GeoJSON FeatureCollection for plotly geo: simplified, clockwise, rounded, ``id`` = ``key``.

    Simplification works in EPSG:3812 along shared edges (``shapely.coverage_simplify``),
    so neighbours stay edge-matched with no slivers; coordinates are rounded to
    ``decimals`` degrees (3 ≈ 100 m, below a pixel on a national map) and feature properties
    dropped. ``keys`` keeps only those areas. About 0.33 MB for Belgium's 565
    municipalities at the defaults.
    """
    import shapely

    from analysis.geo.boundaries import METRIC_CRS, to_plotly_geojson

    if areas.crs is None:
        raise GeoError("display_geojson: the areas have no CRS")
    if "key" not in areas.columns:
        raise GeoError("display_geojson: the areas need a 'key' column")
    if not tolerance_m >= 0:
        raise ParameterError(f"tolerance_m must be >= 0, got {tolerance_m!r}")
    g = areas[["key", areas.geometry.name]].copy()
    g["key"] = g["key"].astype(str)
    if keys is not None:
        g = g[g["key"].isin(set(map(str, keys)))]
    g = g.to_crs(METRIC_CRS)
    geoms = g.geometry.to_numpy()
    if tolerance_m > 0 and len(g):
        try:
            simple = shapely.coverage_simplify(geoms, tolerance_m)
        except Exception:  # not an edge-matched coverage (user polygons may overlap): simplify one by one
            simple = shapely.simplify(geoms, tolerance_m, preserve_topology=True)
        bad = shapely.is_empty(simple) | ~shapely.is_valid(simple)
        simple[bad] = shapely.make_valid(shapely.simplify(geoms[bad], tolerance_m / 4, preserve_topology=True))
        g = g.set_geometry(simple)
    g = g[~g.geometry.is_empty]
    gj = to_plotly_geojson(g, id_col="key")
    for f in gj["features"]:
        f["properties"] = {}
        f["geometry"]["coordinates"] = _round(f["geometry"]["coordinates"], decimals)
    return gj


def _subset(geojson: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """Only the features drawn (keeps the figure light when few areas have data)."""
    want = set(keys)
    return {"type": "FeatureCollection", "features": [f for f in geojson.get("features", []) if f["id"] in want]}


def _round(c: Any, d: int) -> Any:
    if c and isinstance(c[0], (int, float)):
        return [round(float(x), d) for x in c]
    return [_round(x, d) for x in c]


# --------------------------------------------------------------------------- shared layout


def _layer_buttons(fig: go.Figure, layers: Sequence[str], specs: Mapping[str, Any], idx: int) -> None:
    """One button per layer above the map; each restyles trace ``idx`` (nothing for a single layer)."""
    if len(layers) < 2:
        return
    buttons = [{"label": _LAYER_LABELS[name], "method": "restyle", "args": [_restyle(specs[name]), [idx]]} for name in layers]
    fig.update_layout(
        updatemenus=[
            {"type": "buttons", "direction": "right", "buttons": buttons, "x": 0, "y": 1, "xanchor": "left",
             "yanchor": "bottom", "showactive": True, "pad": {"r": 4, "t": 0}, "font": {"size": 12}}
        ]
    )  # fmt: skip


#: The content width (px) a map's ``height`` is computed for: the page's column at 1280 px.
PAGE_WIDTH = 1100
#: Room above the map (layer buttons, note) and below it (horizontal colour scale, legend), in px.
TOP_PX, BOTTOM_PX = 40, 70
#: Extra room below a time-lapse map for its slider, in px.
SLIDER_PX = 80


def map_bounds(fig: go.Figure, pad: float = 0.02) -> tuple[float, float, float, float] | None:
    """``(lon_min, lon_max, lat_min, lat_max)`` of every area a map draws, widened by ``pad`` of each span; None without areas."""
    lons: list[float] = []
    lats: list[float] = []

    def walk(c: Any) -> None:
        if c and isinstance(c[0], (int, float)):
            lons.append(float(c[0]))
            lats.append(float(c[1]))
        else:
            for x in c:
                walk(x)

    for trace in fig.data:
        for f in (getattr(trace, "geojson", None) or {}).get("features", []) if trace.type == "choropleth" else []:
            walk(f["geometry"]["coordinates"])
    if not lons or max(lats) - min(lats) < 1e-9 or max(lons) - min(lons) < 1e-9:
        return None
    dx, dy = (max(lons) - min(lons)) * pad, (max(lats) - min(lats)) * pad
    return min(lons) - dx, max(lons) + dx, max(-85.0, min(lats) - dy), min(85.0, max(lats) + dy)


def mercator_aspect(bounds: tuple[float, float, float, float]) -> float:
    """Width ÷ height of a longitude/latitude box under the Mercator projection."""

    def y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    lon0, lon1, lat0, lat1 = bounds
    return math.radians(lon1 - lon0) / (y(lat1) - y(lat0))


def _geo_layout(fig: go.Figure, *, title: str | None, note: str | None, slider: bool = False) -> None:
    """A map as wide as the column: the areas fill the width and the height follows (see ``layout.meta``).

    The view is the box around every drawn area (2 % margin), so the map spans the whole
    width; the colour scale lies under the map and the note above it, so nothing takes
    width from it. ``height`` fits a :data:`PAGE_WIDTH` column (JupyterLab); the page's
    renderer (:class:`analysis.htmlexport.OfflineRenderer`) instead sizes the figure from
    ``meta.map`` (aspect, fixed pixels), so the map fills the column at any width.
    """
    top = TOP_PX + (30 if title else 0)
    bottom = BOTTOM_PX + (SLIDER_PX if slider else 0)
    bounds = map_bounds(fig)
    view: dict[str, Any] = {"fitbounds": "locations"}
    aspect = 1.3
    if bounds is not None:
        lon0, lon1, lat0, lat1 = bounds
        aspect = mercator_aspect(bounds)
        view = {"fitbounds": False, "lonaxis_range": [lon0, lon1], "lataxis_range": [lat0, lat1],
                "center": {"lon": (lon0 + lon1) / 2, "lat": (lat0 + lat1) / 2}}  # fmt: skip
    fig.update_geos(visible=False, projection={"type": "mercator"}, bgcolor="white", domain={"x": [0, 1], "y": [0, 1]}, **view)
    fig.update_layout(
        template=TEMPLATE,
        title=title,
        height=round(PAGE_WIDTH / aspect) + top + bottom,
        margin={"l": 0, "r": 0, "t": top, "b": bottom},
        meta={"map": {"aspect": round(aspect, 4), "fixed_px": top + bottom}},
        legend={"orientation": "h", "x": 0, "xanchor": "left", "yref": "container", "y": 0, "yanchor": "bottom"},
    )
    if note:
        fig.add_annotation(
            text=note, xref="paper", yref="paper", x=1, y=1, xanchor="right", yanchor="bottom", yshift=4,
            showarrow=False, font={"size": 10, "color": PALETTE["muted"]},
        )  # fmt: skip


def _base_trace(base: dict[str, Any] | None) -> go.Choropleth | None:
    """Light grey outlines (e.g. provinces) under the data: areas without data stay visible."""
    if not base or not base.get("features"):
        return None
    ids = [f["id"] for f in base["features"]]
    return go.Choropleth(
        geojson=base,
        locations=ids,
        z=[0] * len(ids),
        colorscale=[[0, NO_DATA], [1, NO_DATA]],
        showscale=False,
        marker={"line": {"color": "#9aa5b1", "width": 0.8}},
        hoverinfo="skip",
        name="outline",
    )


def _h(x: Any) -> str:
    """Escape a data string for plotly hover text (which renders a subset of HTML)."""
    import html

    return html.escape("" if x is None else str(x), quote=False)


def _log_ticks(vmin: float, vmax: float) -> tuple[list[float], list[str]]:
    vals, labels = [], []
    for e in range(math.floor(math.log10(vmin)) - 1, math.ceil(math.log10(vmax)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0**e
            if vmin * 0.999 <= v <= vmax * 1.001:
                vals.append(math.log10(v))
                labels.append(f"{v:g}")
    if len(vals) < 2:
        vals, labels = [math.log10(vmin), math.log10(vmax)], [f"{vmin:.3g}", f"{vmax:.3g}"]
    return vals, labels


def _colorbar(title: str, tickvals: list[float] | None = None, ticktext: list[str] | None = None) -> dict[str, Any]:
    """A horizontal colour scale at the foot of the figure, under the map (it takes no width from it)."""
    cb: dict[str, Any] = {
        "title": {"text": title, "side": "top"}, "orientation": "h", "thickness": 12, "len": 0.5, "lenmode": "fraction",
        "x": 0.5, "xanchor": "center", "yref": "container", "y": 0, "yanchor": "bottom", "ypad": 4,
    }  # fmt: skip
    if tickvals is not None:
        cb.update(tickvals=tickvals, ticktext=ticktext, tickmode="array")
    return cb


# --------------------------------------------------------------------------- area map


def _fmt_ratio(r: Mapping[str, Any]) -> str:
    if r.get("ratio") is None or not math.isfinite(r["ratio"]):
        return "no expectation (no exposure)"
    return f"{r['ratio']:.2g}× expected [{r['ratio_low']:.2g}–{r['ratio_high']:.2g}], {r['verdict']}"


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
        ``clusters`` shows the LISA clusters (needs ``clusters``).
    clusters : polars.DataFrame, optional
        ``key``, ``cluster`` (from :class:`analysis.spatial.MoranResult`).
    base : dict, optional
        Outline GeoJSON drawn underneath in grey (e.g. provinces).
    note : str, optional
        Small print under the map (e.g. :data:`APPROXIMATE_NOTE`).
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
    base_hover = [
        f"<b>{_h(r['name'])}</b>{' (' + _h(r['region']) + ')' if r.get('region') else ''}<br>"
        f"{r['n_reports']:g} report(s)"
        + (f" · {r['rate']:.3g} {rate_unit}" if r.get("rate") is not None and math.isfinite(r["rate"]) else "")
        + (f"<br>{r['expected']:.2g} expected · {_fmt_ratio(r)}" if r.get("expected") is not None else "")
        for r in rows
    ]
    if clusters is not None:
        base_hover = [f"{h}<br>LISA cluster: {r.get('cluster') or 'not tested'}" for h, r in zip(base_hover, rows, strict=True)]
    specs = {name: _area_layer(name, rows, rate_unit) for name in layers}
    first = specs[layers[0]]
    fig = go.Figure()
    b = _base_trace(base)
    if b is not None:
        fig.add_trace(b)
    idx = len(fig.data)
    fig.add_trace(
        go.Choropleth(
            geojson=geojson, locations=keys, hovertext=base_hover, hoverinfo="text", name="areas",
            marker_line={"color": "white", "width": 0.3}, **first,
        )
    )  # fmt: skip
    _layer_buttons(fig, layers, specs, idx)
    _geo_layout(fig, title=title, note=note)
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
            lat=[origin.lat], lon=[origin.lon], mode="markers+text", text=[_h(name)], textposition="top right",
            textfont={"size": 11, "color": "#1f2933"}, marker={"symbol": "star", "size": 14, "color": "#1f2933",
            "line": {"color": "white", "width": 1}}, hovertext=f"{_h(name)} (origin)", hoverinfo="text",
            name="origin", showlegend=False,
        )
    )  # fmt: skip
    return fig


#: False discovery rate under which the excess layer colours an area (the Geography text uses the same).
EXCESS_FDR = 0.1

_LAYER_LABELS = {
    "reports": "Reports",
    "rate": "Rate",
    "excess": "Observed vs expected",
    "clusters": "Clusters (LISA)",
    "t90": "Area t90 (pooled)",
    "last_down": "Last 'still down' report",
}


def _restyle(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A trace spec as ``restyle`` arguments (each value wrapped for one trace)."""
    return {k: [v] for k, v in spec.items()}


def _area_layer(name: str, rows: list[dict[str, Any]], rate_unit: str) -> dict[str, Any]:
    if name in ("reports", "rate"):
        col = "n_reports" if name == "reports" else "rate"
        v = np.array([r.get(col) if r.get(col) is not None else np.nan for r in rows], dtype=float)
        pos = v[np.isfinite(v) & (v > 0)]
        z = np.where(np.isfinite(v) & (v > 0), np.log10(np.where(v > 0, v, 1.0)), np.nan)
        vmin, vmax = (float(pos.min()), float(pos.max())) if pos.size else (1.0, 10.0)
        if vmax <= vmin:
            vmax = vmin * 10
        tv, tt = _log_ticks(vmin, vmax)
        title = "reports" if name == "reports" else f"reports {rate_unit}"
        return {
            "z": [None if not math.isfinite(x) else round(float(x), 4) for x in z],
            "zmin": math.log10(vmin),
            "zmax": math.log10(vmax),
            "zmid": None,
            "colorscale": SEQUENTIAL,
            "colorbar": _colorbar(title, tv, tt),
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
            "colorbar": _colorbar("observed ÷ expected", [-3, -2, -1, 0, 1, 2, 3], ["⅛", "¼", "½", "1", "2", "4", "8"]),
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
        "colorbar": _colorbar("LISA cluster", [i + 0.5 for i in range(k)], cats),
        "showscale": True,
    }


# --------------------------------------------------------------------------- area-level statements


STATUS_COLORS = {
    "down": "#8e44ad",
    "intermittent": "#b07cc6",
    "partial": "#c9a3d9",
    "mixed": "#c9a3d9",
    "not_affected": "#7fb77e",
    "restored": "#7fb77e",
}
#: Statuses that say the service failed somewhere in the area.
AFFECTED = ("down", "intermittent", "partial")
#: The order in which an area's statuses decide its fill: the first one present wins.
STATUS_ORDER = ("down", "intermittent", "partial", "mixed", "not_affected", "restored")
#: The legend word of each fill ("mixed": reports of an outage there, and a source saying some kept service).
STATUS_LABELS = {"mixed": "reports; some kept service", "not_affected": "not affected"}


def painted_status(statements: pl.DataFrame, reported: Sequence[str] = ()) -> pl.DataFrame:
    """The fill of each province or region named by a statement: one row per ``scope``, ``code``, ``area``.

    The fill is the most severe stated status (down before partial before not affected).
    An area is never painted "not affected" (or "restored") when there is evidence of the
    outage in it: reports placed in it (``reported``: the codes of provinces and regions
    holding down reports), or a down, intermittent or partial statement about it or about
    the whole country. A statement that some kept service says nothing about the others:
    such an area is painted ``mixed``. Columns: ``scope``, ``code``, ``area``, ``status``, ``what``.
    """
    areas = statements.filter(pl.col("scope").is_in(["province", "region"]))
    country_down = statements.filter((pl.col("scope") == "country") & pl.col("status").is_in(AFFECTED)).height > 0
    rank = {k: i for i, k in enumerate(STATUS_ORDER)}
    agg = areas.group_by("scope", "code", "area", maintain_order=True).agg(
        pl.format("{} × {} ({} – {})", "statements", "status", "from_local", "to_local").str.join("<br>").alias("what"),
        pl.col("status").sort_by(pl.col("status").replace_strict(rank, default=len(rank))).first().alias("main"),
    )
    evidence = pl.lit(country_down) | pl.col("code").is_in(list(reported))
    calm = pl.col("main").is_in(["not_affected", "restored"])
    return agg.select(
        "scope", "code", "area", pl.when(calm & evidence).then(pl.lit("mixed")).otherwise(pl.col("main")).alias("status"), "what"
    )


def statements_map(
    statements: pl.DataFrame,
    geojson: dict[str, Any],
    *,
    reported: Sequence[str] = (),
    base: dict[str, Any] | None = None,
    title: str | None = None,
    note: str | None = None,
) -> go.Figure:
    """Provinces and regions named as a whole by a statement, drawn as areas (never as invented points).

    ``statements`` is :func:`analysis.spatial.area_statements` output (``scope``, ``area``,
    ``code``, ``status``, ``statements``, ``from_local``, ``to_local``); ``geojson`` holds
    the named provinces and regions (feature ``id`` = ``code``); ``reported`` the codes of
    the provinces and regions holding down reports. Regions are drawn first, provinces on
    top; the colour is :func:`painted_status` (an area with reports is never "not
    affected") and the hover lists every statement with its time span. Country-wide
    statements have no polygon of their own and are counted in the legend title instead.
    """
    for c in ("scope", "area", "code", "status", "statements", "from_local", "to_local"):
        if c not in statements.columns:
            raise ParameterError(f"statements: column {c!r} missing")
    fig = go.Figure()
    b = _base_trace(base)
    if b is not None:
        fig.add_trace(b)
    have = {f["id"] for f in geojson.get("features", [])}
    painted = painted_status(statements, reported).filter(pl.col("code").is_in(list(have)))
    for scope in ("region", "province"):
        for status in STATUS_ORDER:
            grp = painted.filter((pl.col("scope") == scope) & (pl.col("status") == status))
            if grp.height:
                fig.add_trace(_status_trace(grp, geojson, scope, status))
    n_country = int(statements.filter(pl.col("scope") == "country")["statements"].sum())
    if n_country:
        fig.update_layout(legend_title_text=f"{n_country} more statement(s) concern the whole country")
    _geo_layout(fig, title=title, note=note)
    return fig


def _status_trace(grp: pl.DataFrame, geojson: dict[str, Any], scope: str, status: str) -> go.Choropleth:
    """One fill for the areas of one scope painted with one status."""
    color = STATUS_COLORS.get(status, PALETTE["muted"])
    fill = _rgba(color, 0.25 if scope == "region" else 0.55)
    return go.Choropleth(
        geojson=_subset(geojson, grp["code"].to_list()),
        locations=grp["code"].to_list(),
        z=[1] * grp.height,
        colorscale=[[0, fill], [1, fill]],
        showscale=False,
        marker_line={"color": color, "width": 2.0 if scope == "province" else 1.2},
        hovertext=[f"<b>{_h(a)}</b> ({scope})<br>{_h(w)}" for a, w in zip(grp["area"], grp["what"], strict=True)],
        hoverinfo="text",
        name=f"{scope}: {STATUS_LABELS.get(status, status.replace('_', ' '))}",
        showlegend=True,
    )


def add_labels(fig: go.Figure, labels: Sequence[tuple[str, float, float]]) -> go.Figure:
    """Write place or province names (``(name, lat, lon)``) on a map in small grey type, under the hover."""
    if not labels:
        return fig
    fig.add_trace(
        go.Scattergeo(
            lat=[lat for _, lat, _ in labels], lon=[lon for _, _, lon in labels], text=[_h(n) for n, _, _ in labels],
            mode="text", textfont={"size": 10, "color": "#52606d"}, hoverinfo="skip", name="labels", showlegend=False,
        )
    )  # fmt: skip
    return fig


# --------------------------------------------------------------------------- recovery map


def recovery_map(
    table: pl.DataFrame,
    geojson: dict[str, Any],
    *,
    onset: dt.datetime,
    timezone: str,
    layers: Sequence[RecoveryLayerName] = ("t90", "last_down"),
    base: dict[str, Any] | None = None,
    note: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """When each area recovered: its pooled t90 or its last "still down" report.

    ``table`` has ``key``, ``name`` and, per layer, ``t90_minutes``/``t90_low``/
    ``t90_high``/``data_weight``/``basis`` (from
    :func:`analysis.spatial_recovery.pooled_area_recovery`) or ``last_down_minutes``
    (from :func:`analysis.spatial.area_table`), minutes after ``onset``. The t90 layer
    colours only areas whose own reports carry at least :data:`MIN_DATA_WEIGHT` of their
    estimate (the rest keep the national t90 and stay grey). Colours are hours after
    onset; hover gives local clock times.
    """
    for name in layers:
        if name not in get_args(RecoveryLayerName):
            raise ParameterError(f"layers: unknown layer {name!r} (expected {', '.join(get_args(RecoveryLayerName))})")
    if not layers:
        raise ParameterError("layers: at least one layer is needed")
    have = {f["id"] for f in geojson.get("features", [])}
    cols = {"t90": "t90_minutes", "last_down": "last_down_minutes"}
    need = [cols[x] for x in layers]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise ParameterError(f"table: column(s) {', '.join(missing)} missing for layers {', '.join(layers)}")
    t = table.filter(pl.col("key").is_in(list(have)) & pl.any_horizontal([pl.col(c).is_not_null() for c in need]))
    rows = t.to_dicts()
    keys = [r["key"] for r in rows]
    specs = {name: _recovery_layer(rows, name, cols[name]) for name in layers}
    fig = go.Figure()
    b = _base_trace(base)
    if b is not None:
        fig.add_trace(b)
    idx = len(fig.data)
    hover = [_recovery_hover(r, layers, onset=onset, timezone=timezone) for r in rows]
    fig.add_trace(
        go.Choropleth(
            geojson=_subset(geojson, keys), locations=keys, hovertext=hover, hoverinfo="text", name="areas",
            marker_line={"color": "white", "width": 0.3}, **specs[layers[0]],
        )
    )  # fmt: skip
    _layer_buttons(fig, layers, specs, idx)
    _geo_layout(fig, title=title, note=note)
    return fig


def _recovery_hover(r: dict[str, Any], layers: Sequence[str], *, onset: dt.datetime, timezone: str) -> str:
    """An area's hover on the recovery map: its t90 with its interval and basis, its last "still down" report."""

    def clock(m: float | None) -> str:
        if m is None or not math.isfinite(m):
            return "—"
        local = wall_clock(onset + dt.timedelta(minutes=float(m)), timezone)
        return f"{local:%a %H:%M}" if local is not None else "—"

    lines = [f"<b>{_h(r['name'])}</b>"]
    if "t90" in layers and r.get("t90_minutes") is not None:
        lines.append(
            f"90% back by {clock(r.get('t90_minutes'))} [{clock(r.get('t90_low'))}–{clock(r.get('t90_high'))}]"
            f"<br>{_h(r.get('basis'))}"
        )
    if "last_down" in layers:
        lines.append(f"last 'still down' report: {clock(r.get('last_down_minutes'))}")
    return "<br>".join(lines)


def _recovery_layer(rows: list[dict[str, Any]], name: str, column: str) -> dict[str, Any]:
    """One layer of the recovery map (colours in hours after onset); t90 only where an area's own reports move it."""
    v = np.array([r.get(column) if r.get(column) is not None else np.nan for r in rows], dtype=float)
    if name == "t90":  # only areas whose own reports move their estimate; the others keep the national t90
        w = np.array([r.get("data_weight") or 0.0 for r in rows], dtype=float)
        v = np.where(w >= MIN_DATA_WEIGHT, v, np.nan)
        label = "hours after onset to 90% back"
    else:
        label = "hours after onset, last down report"
    return {
        "z": [None if not math.isfinite(x) else round(x / 60, 3) for x in v],
        **_hour_range(v),
        "colorscale": DURATION,
        "colorbar": _colorbar(label),
    }


def _hour_range(minutes: np.ndarray) -> dict[str, float]:
    """Colour range in hours for one layer: from its earliest to its latest area."""
    v = minutes[np.isfinite(minutes)] / 60
    if v.size == 0:
        return {"zmin": 0.0, "zmax": 1.0}
    # the whole range: a scale capped below the latest area would paint it like an earlier one
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 0.25:
        lo, hi = max(0.0, lo - 0.5), hi + 0.5
    return {"zmin": round(lo, 2), "zmax": round(hi, 2)}


# --------------------------------------------------------------------------- time-lapse


def timelapse_map(
    hourly: pl.DataFrame,
    geojson: dict[str, Any],
    names: Mapping[str, str],
    *,
    timezone: str,
    base: dict[str, Any] | None = None,
    note: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Reports per area, one animation frame per hour (only ``z`` changes between frames).

    ``hourly`` has ``key``, ``hour`` (UTC start of the hour) and ``reports`` (reports known
    only within a window are spread over the hours they may fall in, see
    :func:`analysis.spatial.hourly_area_counts`). Every hour from the first to the last is
    a frame, empty hours included, so the slider is a clock.
    """
    for c in ("key", "hour", "reports"):
        if c not in hourly.columns:
            raise ParameterError(f"hourly: column {c!r} missing")
    have = {f["id"] for f in geojson.get("features", [])}
    h = hourly.filter(pl.col("key").is_in(list(have)) & (pl.col("reports") > 0))
    fig = go.Figure()
    b = _base_trace(base)
    if b is not None:
        fig.add_trace(b)
    idx = len(fig.data)
    if h.height == 0:
        _geo_layout(fig, title=title, note=(note or "") + " No located report to animate.")
        return fig
    keys = sorted(set(h["key"].to_list()))
    pos = {k: i for i, k in enumerate(keys)}
    t0, t1 = h["hour"].min(), h["hour"].max()
    hours = [t0 + dt.timedelta(hours=i) for i in range(int((t1 - t0).total_seconds() // 3600) + 1)]
    grid = np.zeros((len(hours), len(keys)))
    hi = {t: i for i, t in enumerate(hours)}
    for k, t, n in h.select("key", "hour", "reports").iter_rows():
        grid[hi[t], pos[k]] += n
    zmax = float(np.quantile(grid[grid > 0], 0.98)) if (grid > 0).any() else 1.0
    zmax = max(zmax, 1.0)
    labels = [f"{wall_clock(t, timezone):%a %H:%M}" for t in hours]
    text = [_h(names.get(k, k)) for k in keys]

    def z(i: int) -> list[float]:
        return [round(float(x), 2) for x in grid[i]]

    fig.add_trace(
        go.Choropleth(
            geojson=_subset(geojson, keys),
            locations=keys,
            z=z(0),
            zmin=0,
            zmax=round(zmax, 2),
            colorscale=[[0.0, "#ffffff"], [0.02, "#fdd0a2"], *SEQUENTIAL[1:]],
            colorbar=_colorbar("reports in the hour"),
            text=text,
            hovertemplate="%{text}: %{z:.1f} report(s) this hour<extra></extra>",
            marker_line={"color": "#c5ccd3", "width": 0.3},
            name="reports",
        )
    )
    fig.frames = [go.Frame(data=[go.Choropleth(z=z(i))], traces=[idx], name=lab) for i, lab in enumerate(labels)]
    fig.update_layout(**_timelapse_controls(labels, timezone))
    _geo_layout(fig, title=title, note=note, slider=True)
    return fig


def _timelapse_controls(labels: list[str], timezone: str) -> dict[str, Any]:
    """The time-lapse's hour slider (one step per frame) and its play / pause buttons, as layout keys."""
    step_args = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
    return {
        "sliders": [
            {
                "active": 0,
                "currentvalue": {"prefix": f"hour from ({timezone}) ", "font": {"size": 12}},
                "pad": {"t": 10, "b": 0},
                "x": 0.03,
                "len": 0.94,  # the first and last hour labels stay inside the figure
                "steps": [{"label": lab, "method": "animate", "args": [[lab], step_args]} for lab in labels],
            }
        ],
        "updatemenus": [
            {
                "type": "buttons",
                "direction": "right",
                "showactive": False,
                "x": 0,
                "y": 1,
                "xanchor": "left",
                "yanchor": "bottom",
                "buttons": [
                    {"label": "▶ Play", "method": "animate",
                     "args": [None, {"frame": {"duration": 500, "redraw": True}, "fromcurrent": True, "transition": {"duration": 0}}]},
                    {"label": "❚❚ Pause", "method": "animate", "args": [[None], step_args]},
                ],
            }
        ],
    }  # fmt: skip


# --------------------------------------------------------------------------- regional curves


def region_curves(
    curves: Sequence[Mapping[str, Any]],
    *,
    onset: dt.datetime,
    timezone: str,
    national: Mapping[str, Any] | None = None,
    level: float = 0.9,
    title: str | None = None,
) -> go.Figure:
    """Small multiples of S(t) per region, each with its band, over the national curve.

    Each curve is a mapping with ``region``, ``minutes`` (array, after ``onset``), ``s``,
    ``low``, ``high`` (fractions) and ``label`` (e.g. "own fit, 32 reports" or "pooled:
    national curve"); ``national`` the same without ``region``, drawn grey and dashed in
    every panel for comparison.
    """
    if not curves:
        raise ParameterError("curves: at least one region is needed")
    n = len(curves)
    fig = make_subplots(
        rows=1, cols=n, shared_yaxes=True, horizontal_spacing=0.03,
        subplot_titles=[f"{_h(c['region'])}<br><span style='font-size:11px'>{_h(c.get('label', ''))}</span>" for c in curves],
    )  # fmt: skip

    def x_of(m: Any) -> list[Any]:
        return [wall_clock(onset + dt.timedelta(minutes=float(v)), timezone) for v in np.asarray(m, dtype=float)]

    for j, c in enumerate(curves, start=1):
        color = REGION_COLORS.get(str(c["region"]), PALETTE["fit"])
        if national is not None:
            xn = x_of(national["minutes"])
            fig.add_trace(
                go.Scatter(
                    x=xn, y=list(100 * np.asarray(national["s"])), mode="lines",
                    line={"color": PALETTE["muted"], "dash": "dash", "width": 1.5},
                    name="national", legendgroup="national", showlegend=j == 1, hoverinfo="skip",
                ),
                row=1, col=j,
            )  # fmt: skip
        x = x_of(c["minutes"])
        lo, hi = np.asarray(c["low"], dtype=float), np.asarray(c["high"], dtype=float)
        if np.isfinite(lo).all() and np.isfinite(hi).all():
            fig.add_trace(
                go.Scatter(
                    x=x + x[::-1], y=list(100 * hi) + list(100 * lo[::-1]), fill="toself",
                    fillcolor=_rgba(color, 0.2), line={"width": 0}, hoverinfo="skip",
                    name=f"{level:.0%} band", legendgroup="band", showlegend=j == 1,
                ),
                row=1, col=j,
            )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=x, y=list(100 * np.asarray(c["s"])), mode="lines", line={"color": color, "width": 2.5},
                name=str(c["region"]), showlegend=False,
                hovertemplate=f"{_h(c['region'])} %{{x|%a %H:%M}}: %{{y:.0f}}% still without service<extra></extra>",
            ),
            row=1, col=j,
        )  # fmt: skip
    fig.update_yaxes(range=[0, 102], row=1, col=1, title_text="still without service (%)")
    fig.update_xaxes(tickformat="%a %H:%M", nticks=4)
    fig.update_layout(
        template=TEMPLATE, title=title, height=420, margin={"l": 60, "r": 20, "t": 70, "b": 80},
        legend={"orientation": "h", "x": 0, "y": -0.18, "xanchor": "left", "yanchor": "top"},
    )  # fmt: skip
    fig.update_annotations(font_size=13)
    return fig


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"
