"""The statements map: provinces and regions painted by what sources said about them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import polars as pl

from analysis.errors import ParameterError
from analysis.figures import PALETTE
from analysis.maps.layout import base_trace, escape, geo_layout, rgba, subset_features

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
    statements of an outage have no polygon of their own and are counted in the legend title
    instead (as the page counts reports: down, intermittent or partial).
    """
    for c in ("scope", "area", "code", "status", "statements", "from_local", "to_local"):
        if c not in statements.columns:
            raise ParameterError(f"statements: column {c!r} missing")
    fig = go.Figure()
    b = base_trace(base)
    if b is not None:
        fig.add_trace(b)
    have = {f["id"] for f in geojson.get("features", [])}
    painted = painted_status(statements, reported).filter(pl.col("code").is_in(list(have)))
    for scope in ("region", "province"):
        for status in STATUS_ORDER:
            grp = painted.filter((pl.col("scope") == scope) & (pl.col("status") == status))
            if grp.height:
                fig.add_trace(_status_trace(grp, geojson, scope, status))
    # counted as the page counts reports: statements that service was out (a "restored" one is no report)
    n_country = int(statements.filter((pl.col("scope") == "country") & pl.col("status").is_in(AFFECTED))["statements"].sum())
    if n_country:
        fig.update_layout(legend_title_text=f"{n_country} more statement(s) concern the whole country")
    geo_layout(fig, title=title, note=note)
    return fig


def _status_trace(grp: pl.DataFrame, geojson: dict[str, Any], scope: str, status: str) -> go.Choropleth:
    """One fill for the areas of one scope painted with one status."""
    color = STATUS_COLORS.get(status, PALETTE["muted"])
    fill = rgba(color, 0.25 if scope == "region" else 0.55)
    return go.Choropleth(
        geojson=subset_features(geojson, grp["code"].to_list()),
        locations=grp["code"].to_list(),
        z=[1] * grp.height,
        colorscale=[[0, fill], [1, fill]],
        showscale=False,
        marker_line={"color": color, "width": 2.0 if scope == "province" else 1.2},
        hovertext=[f"<b>{escape(a)}</b> ({scope})<br>{escape(w)}" for a, w in zip(grp["area"], grp["what"], strict=True)],
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
            lat=[lat for _, lat, _ in labels], lon=[lon for _, _, lon in labels], text=[escape(n) for n, _, _ in labels],
            mode="text", textfont={"size": 10, "color": "#52606d"}, hoverinfo="skip", name="labels", showlegend=False,
        )
    )  # fmt: skip
    return fig
