"""What every map shares: display polygons, the layout that fits the page's column, colour scales, hover text.

Every map is a plotly ``geo`` subplot with the base layers hidden (``visible=False``) and
our own polygons, so nothing is fetched from a tile server or a CDN and the page works
from ``file://`` (see :mod:`analysis.htmlexport`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from analysis.errors import GeoError, ParameterError
from analysis.figures import PALETTE, TEMPLATE

if TYPE_CHECKING:
    import geopandas as gpd


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


def subset_features(geojson: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """Only the features drawn (keeps the figure light when few areas have data)."""
    want = set(keys)
    return {"type": "FeatureCollection", "features": [f for f in geojson.get("features", []) if f["id"] in want]}


def _round(c: Any, d: int) -> Any:
    if c and isinstance(c[0], (int, float)):
        return [round(float(x), d) for x in c]
    return [_round(x, d) for x in c]


# --------------------------------------------------------------------------- shared layout


def layer_buttons(fig: go.Figure, layers: Sequence[str], specs: Mapping[Any, Any], idx: int) -> None:
    """One button per layer above the map; each restyles trace ``idx`` (nothing for a single layer)."""
    if len(layers) < 2:
        return
    buttons = [{"label": LAYER_LABELS[name], "method": "restyle", "args": [restyle(specs[name]), [idx]]} for name in layers]
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


def geo_layout(fig: go.Figure, *, title: str | None, note: str | None, slider: bool = False) -> None:
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


def base_trace(base: dict[str, Any] | None) -> go.Choropleth | None:
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


def escape(x: Any) -> str:
    """Escape a data string for plotly hover text (which renders a subset of HTML)."""
    import html

    return html.escape("" if x is None else str(x), quote=False)


def log_ticks(vmin: float, vmax: float) -> tuple[list[float], list[str]]:
    """Ticks 1, 2, 5 × 10^k between ``vmin`` and ``vmax`` on a log10 colour scale: positions and labels."""
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


def colorbar(title: str, tickvals: list[float] | None = None, ticktext: list[str] | None = None) -> dict[str, Any]:
    """A horizontal colour scale at the foot of the figure, under the map (it takes no width from it)."""
    cb: dict[str, Any] = {
        "title": {"text": title, "side": "top"}, "orientation": "h", "thickness": 12, "len": 0.5, "lenmode": "fraction",
        "x": 0.5, "xanchor": "center", "yref": "container", "y": 0, "yanchor": "bottom", "ypad": 4,
    }  # fmt: skip
    if tickvals is not None:
        cb.update(tickvals=tickvals, ticktext=ticktext, tickmode="array")
    return cb


#: The label of each map layer's button.
LAYER_LABELS = {
    "reports": "Reports",
    "rate": "Rate",
    "excess": "Observed vs expected",
    "clusters": "Clusters",
    "t90": "Area t90 (pooled)",
    "last_down": "Last 'still down' report",
}


def restyle(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A trace spec as ``restyle`` arguments (each value wrapped for one trace)."""
    return {k: [v] for k, v in spec.items()}


def hour_range(minutes: np.ndarray) -> dict[str, float]:
    """Colour range in hours for one layer: from its earliest to its latest area."""
    v = minutes[np.isfinite(minutes)] / 60
    if v.size == 0:
        return {"zmin": 0.0, "zmax": 1.0}
    # the whole range: a scale capped below the latest area would paint it like an earlier one
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 0.25:
        lo, hi = max(0.0, lo - 0.5), hi + 0.5
    return {"zmin": round(lo, 2), "zmax": round(hi, 2)}


def rgba(hex_color: str, alpha: float) -> str:
    """``#rrggbb`` with an opacity, as plotly's ``rgba(r,g,b,a)``."""
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"
