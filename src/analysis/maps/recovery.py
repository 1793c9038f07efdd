"""Recovery by place: the map of each area's t90 (or last "still down" report) and the curves per region."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any, get_args

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from analysis.errors import ParameterError
from analysis.figures import PALETTE, REGION_COLORS, TEMPLATE, wall_clock
from analysis.maps.layout import (
    DURATION,
    MIN_DATA_WEIGHT,
    base_trace,
    colorbar,
    escape,
    geo_layout,
    hour_range,
    layer_buttons,
    rgba,
    subset_features,
)
from analysis.vocab import RecoveryLayerName


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
    b = base_trace(base)
    if b is not None:
        fig.add_trace(b)
    idx = len(fig.data)
    hover = [_recovery_hover(r, layers, onset=onset, timezone=timezone) for r in rows]
    fig.add_trace(
        go.Choropleth(
            geojson=subset_features(geojson, keys), locations=keys, hovertext=hover, hoverinfo="text", name="areas",
            marker_line={"color": "white", "width": 0.3}, **specs[layers[0]],
        )
    )  # fmt: skip
    layer_buttons(fig, layers, specs, idx)
    geo_layout(fig, title=title, note=note)
    return fig


def _recovery_hover(r: dict[str, Any], layers: Sequence[str], *, onset: dt.datetime, timezone: str) -> str:
    """An area's hover on the recovery map: its t90 with its interval and basis, its last "still down" report."""

    def clock(m: float | None) -> str:
        if m is None or not math.isfinite(m):
            return "—"
        local = wall_clock(onset + dt.timedelta(minutes=float(m)), timezone)
        return f"{local:%a %H:%M}" if local is not None else "—"

    lines = [f"<b>{escape(r['name'])}</b>"]
    if "t90" in layers and r.get("t90_minutes") is not None:
        lines.append(
            f"90% back by {clock(r.get('t90_minutes'))} [{clock(r.get('t90_low'))}–{clock(r.get('t90_high'))}]"
            f"<br>{escape(r.get('basis'))}"
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
        **hour_range(v),
        "colorscale": DURATION,
        "colorbar": colorbar(label),
    }


def region_curves(
    curves: Sequence[Mapping[str, Any]],
    *,
    onset: dt.datetime,
    timezone: str,
    national: Mapping[str, Any] | None = None,
    level: float = 0.9,
    title: str | None = None,
    y_title: str | None = None,
) -> go.Figure:
    """Small multiples of S(t) per region, each with its band, over the national curve.

    ``y_title`` names what the curves are when they are not a share still without service
    (curated statements: the model's rate of statements); the hover then gives the bare value.

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
        subplot_titles=[f"{escape(c['region'])}<br><span style='font-size:11px'>{escape(c.get('label', ''))}</span>" for c in curves],
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
                    fillcolor=rgba(color, 0.2), line={"width": 0}, hoverinfo="skip",
                    name=f"{level:.0%} band", legendgroup="band", showlegend=j == 1,
                ),
                row=1, col=j,
            )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=x, y=list(100 * np.asarray(c["s"])), mode="lines", line={"color": color, "width": 2.5},
                name=str(c["region"]), showlegend=False,
                hovertemplate=f"{escape(c['region'])} %{{x|%a %H:%M}}: %{{y:.0f}}%{'' if y_title else ' still without service'}<extra></extra>",
            ),
            row=1, col=j,
        )  # fmt: skip
    fig.update_yaxes(
        range=[0, 102], row=1, col=1, title_text=y_title.replace(", ", ",<br>") if y_title else "still without service (%)"
    )
    fig.update_xaxes(tickformat="%a %H:%M", nticks=4)
    fig.update_layout(
        template=TEMPLATE, title=title, height=420, margin={"l": 60, "r": 20, "t": 70, "b": 80},
        legend={"orientation": "h", "x": 0, "y": -0.18, "xanchor": "left", "yanchor": "top"},
    )  # fmt: skip
    fig.update_annotations(font_size=13)
    return fig
