"""The time-lapse map: reports per area, hour by hour, on a slider."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import plotly.graph_objects as go
import polars as pl

from analysis.errors import ParameterError
from analysis.figures import wall_clock
from analysis.maps.layout import SEQUENTIAL, base_trace, colorbar, escape, geo_layout, subset_features


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
    b = base_trace(base)
    if b is not None:
        fig.add_trace(b)
    idx = len(fig.data)
    if h.height == 0:
        geo_layout(fig, title=title, note=(note or "") + " No located report to animate.")
        return fig
    keys = sorted(set(h["key"].to_list()))
    pos = {k: i for i, k in enumerate(keys)}
    t0, t1 = cast(dt.datetime, h["hour"].min()), cast(dt.datetime, h["hour"].max())
    hours = [t0 + dt.timedelta(hours=i) for i in range(int((t1 - t0).total_seconds() // 3600) + 1)]
    grid = np.zeros((len(hours), len(keys)))
    hi = {t: i for i, t in enumerate(hours)}
    for k, t, n in h.select("key", "hour", "reports").iter_rows():
        grid[hi[t], pos[k]] += n
    zmax = float(np.quantile(grid[grid > 0], 0.98)) if (grid > 0).any() else 1.0
    zmax = max(zmax, 1.0)
    labels = [f"{wall_clock(t, timezone):%a %H:%M}" for t in hours]
    text = [escape(names.get(k, k)) for k in keys]

    def z(i: int) -> list[float]:
        return [round(float(x), 2) for x in grid[i]]

    fig.add_trace(
        go.Choropleth(
            geojson=subset_features(geojson, keys),
            locations=keys,
            z=z(0),
            zmin=0,
            zmax=round(zmax, 2),
            colorscale=[[0.0, "#ffffff"], [0.02, "#fdd0a2"], *SEQUENTIAL[1:]],
            colorbar=colorbar("reports in the hour"),
            text=text,
            hovertemplate="%{text}: %{z:.1f} report(s) this hour<extra></extra>",
            marker_line={"color": "#c5ccd3", "width": 0.3},
            name="reports",
        )
    )
    fig.frames = [go.Frame(data=[go.Choropleth(z=z(i))], traces=[idx], name=lab) for i, lab in enumerate(labels)]
    fig.update_layout(**_timelapse_controls(labels, timezone))
    geo_layout(fig, title=title, note=note, slider=True)
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
