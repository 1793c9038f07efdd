"""Plotly figure builders: each takes data and returns a ``go.Figure``; none shows or saves.

Every figure is drawn in the incident's local time (the axis says which zone) and works
offline: maps use plotly's ``geo`` subplot with the base layers hidden and our own
polygons (no tile server, no topojson fetched from a CDN; see :mod:`analysis.htmlexport`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl

from analysis.misfit import binned_residuals

PALETTE = {
    "ink": "#1f2933",
    "muted": "#7b8794",
    "grid": "#e4e7eb",
    "exact": "#2f6f9f",
    "windowed": "#9ec5e0",
    "fit": "#c0392b",
    "band": "rgba(192,57,43,0.18)",
    "announcement": "#8e44ad",
    "action": "#16a085",
    "incident": "#d35400",
    "other": "#7b8794",
    "onset": "#1f2933",
    "data": "#2f6f9f",
    "fit_event": "#c0392b",
}
REGION_COLORS = {"Flanders": "#e1a100", "Wallonia": "#c0392b", "Brussels": "#2f6f9f"}
EVENT_SYMBOLS = {"announcement": "diamond", "action": "triangle-up", "incident": "x", "onset": "circle", "data": "square"}

pio.templates["postmortem"] = go.layout.Template(
    layout=go.Layout(
        font={"family": "Inter, 'Segoe UI', Helvetica, Arial, sans-serif", "size": 13, "color": PALETTE["ink"]},
        paper_bgcolor="white",
        plot_bgcolor="white",
        # date ticks take two lines (clock, then the day): keep the axis title clear of them
        xaxis={
            "gridcolor": PALETTE["grid"],
            "zeroline": False,
            "linecolor": PALETTE["muted"],
            "ticks": "outside",
            "automargin": True,
            "title": {"standoff": 14},
        },
        yaxis={"gridcolor": PALETTE["grid"], "zeroline": False, "linecolor": PALETTE["muted"], "ticks": "outside"},
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        hoverlabel={"font": {"size": 12}},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        colorway=["#2f6f9f", "#c0392b", "#e1a100", "#16a085", "#8e44ad", "#7b8794"],
    )
)
TEMPLATE = "postmortem"


def plain(value: object) -> str:
    """Text for plotly labels and hovers: contact details removed, markup escaped.

    Plotly renders a small HTML subset in text; data must never be able to use it.
    """
    import html

    from analysis.privacy import scrub_contacts

    return html.escape(scrub_contacts(str(value)) or "", quote=False)


def wall_clock(t: dt.datetime | None, tz: str) -> dt.datetime | None:
    """A UTC time as naive wall-clock time in ``tz`` (what plotly should print)."""
    if t is None:
        return None
    return t.astimezone(_zone(tz)).replace(tzinfo=None)


def _zone(tz: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(tz)


def time_axis_title(tz: str) -> str:
    """The time axis title of a figure drawn in wall-clock time (figure_text translates it for fr/nl pages)."""
    return f"local time ({tz})"


def _event_lines(
    fig: go.Figure,
    events: pl.DataFrame,
    *,
    tz: str,
    y_top: float = 1.0,
    show_labels: bool = True,
    span: tuple[dt.datetime, dt.datetime] | None = None,
    legend: bool = True,
) -> None:
    """Mark events as vertical lines with hoverable markers along the top of the plot.

    Events are numbered in table order; those outside ``span`` keep their number but are
    not drawn (the table lists them), so a root-cause statement weeks later does not
    stretch the time axis. Events known only by their day are not drawn either: they have
    no clock time to stand at. Events closer together than 2 % of the axis share one marker
    labelled with all their numbers ('1–3'), so numbers never print over each other; the
    hover lists each. With ``legend``, one legend entry per kind of event drawn says what
    the marker shapes mean.
    """
    if events.height == 0:
        return
    drawn = [
        (i, row)
        for i, row in enumerate(events.iter_rows(named=True), start=1)
        if (span is None or span[0] <= row["time"] <= span[1]) and not row.get("date_only")
    ]
    if not drawn:
        return
    kinds_seen: dict[str, str] = {}
    for group in _event_groups(drawn, span):
        for _i, row in group:
            color = _event_color(row)
            fig.add_vline(x=wall_clock(row["time"], tz), line={"color": color, "width": 1, "dash": "dot"}, opacity=0.7)
            kinds_seen.setdefault(_event_kind(row), color)
        fig.add_trace(_event_marker(group, tz=tz, y_top=y_top, show_labels=show_labels))
    if legend:
        for kind, color in kinds_seen.items():
            fig.add_trace(
                go.Scatter(
                    x=[None],
                    y=[None],
                    yaxis="y2",
                    mode="markers",
                    marker={"symbol": EVENT_SYMBOLS.get(kind, "circle"), "size": 9, "color": color},
                    name=f"event: {kind}",
                    hoverinfo="skip",
                )
            )
    fig.update_layout(yaxis2={"overlaying": "y", "range": [0, 1.08], "visible": False, "fixedrange": True})


EventRow = tuple[int, dict[str, Any]]


def _event_groups(drawn: list[EventRow], span: tuple[dt.datetime, dt.datetime] | None) -> list[list[EventRow]]:
    """Numbered events, in time order, grouped where their labels would print over each other."""
    times = [r["time"] for _, r in drawn]
    lo, hi = span if span is not None else (min(times), max(times))
    width = max(hi - lo, dt.timedelta(minutes=1))
    gap = max(width * 0.02, dt.timedelta(minutes=1))
    groups: list[list[EventRow]] = []
    for item in drawn:
        if groups:
            # two labels centred on their markers need half their widths apart: at 10 px type a
            # character is about 1 % of a plot 600 px wide (a 1024-px page), plus a marker's room
            last = groups[-1]
            prev = _number_range([i for i, _ in last])
            need = max(gap, width * (0.01 * (len(prev) + len(str(item[0]))) / 2 + 0.01))
            if item[1]["time"] - last[0][1]["time"] <= need:
                last.append(item)
                continue
        groups.append([item])
    return groups


def _event_marker(group: list[EventRow], *, tz: str, y_top: float, show_labels: bool) -> go.Scatter:
    """One marker for a group of events: its numbers ('4, 5') above it, every label in its hover."""
    first = group[0][1]
    numbers = [i for i, _ in group]
    label = str(numbers[0]) if len(numbers) == 1 else _number_range(numbers)
    kinds = {_event_kind(r) for _, r in group}
    color = _event_color(first) if len(kinds) == 1 else PALETTE["ink"]
    hover = "<br>".join(f"{i}. {wall_clock(r['time'], tz):%a %d %b %H:%M} — {plain(r['label'])}" for i, r in group)
    return go.Scatter(
        x=[wall_clock(first["time"], tz)],
        y=[y_top],
        yaxis="y2",
        mode="markers+text" if show_labels else "markers",
        text=[label],
        textposition="top center",
        textfont={"size": 10, "color": color},
        marker={
            "symbol": EVENT_SYMBOLS.get(_event_kind(first), "circle") if len(kinds) == 1 else "circle",
            "size": 9,
            "color": color,
        },
        hovertext=hover,
        hoverinfo="text",
        showlegend=False,
        cliponaxis=False,
    )


def _event_kind(row: dict[str, Any]) -> str:
    """An event's kind for its marker: fitted milestones apart from configured facts."""
    return "fit milestone" if row["origin"] == "fit" else row["kind"]


def _event_color(row: dict[str, Any]) -> str:
    return PALETTE.get(row["kind"], PALETTE["other"]) if row["origin"] != "fit" else PALETTE["fit_event"]


def _number_range(numbers: list[int]) -> str:
    """'1–3' for consecutive numbers, '4, 6' otherwise; runs compressed ('14, 16–18')."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def timeline_figure(
    binned: pl.DataFrame,
    events: pl.DataFrame,
    *,
    timezone: str,
    bin_minutes: float,
    span: tuple[dt.datetime, dt.datetime] | None = None,
    unit: str = "reports",
    series: pl.DataFrame | None = None,
    title: str | None = None,
) -> go.Figure:
    """Report rate over time with the incident's events marked.

    Exact-time reports are solid bars; reports known only within a window are spread
    over it and drawn lighter, so the chart never pretends to more precision than the
    data have. Numbered markers along the top match the events table. ``unit`` names what
    was counted (e.g. "restorations"); ``series`` (``observed_at``, ``share`` out, 0–1), a
    measured share of customers out, is drawn as a line instead when nothing was counted.
    """
    fig = go.Figure()
    counted = bool(binned.height) and float(binned["exact"].sum() + binned["windowed"].sum()) > 0
    if counted or series is None:
        fig.add_trace(
            go.Bar(
                x=binned["local"].to_list(),
                y=binned["exact"].to_list(),
                name=f"{unit} with a known time",
                marker={"color": PALETTE["exact"]},
                hovertemplate=f"%{{x|%a %H:%M}}: %{{y:.0f}} {unit}<extra></extra>",
            )
        )
    if binned.height and binned["windowed"].sum() > 0:
        fig.add_trace(
            go.Bar(
                x=binned["local"].to_list(),
                y=binned["windowed"].to_list(),
                name="known only within a window (spread evenly)",
                marker={"color": PALETTE["windowed"]},
                hovertemplate="%{x|%a %H:%M}: %{y:.1f} (spread)<extra></extra>",
            )
        )
    if series is not None and not counted:
        fig.add_trace(
            go.Scatter(
                x=[wall_clock(t, timezone) for t in series["observed_at"].to_list()],
                y=(100 * series["share"]).to_list(),
                mode="lines",
                name="customers out (measured)",
                line={"color": PALETTE["exact"], "width": 2},
                hovertemplate="%{x|%a %H:%M}: %{y:.1f}% out<extra></extra>",
            )
        )
    _event_lines(fig, events, tz=timezone, span=span)
    if span is not None:
        fig.update_xaxes(range=[wall_clock(span[0], timezone), wall_clock(span[1], timezone)])
    width = f"{bin_minutes:g} min" if bin_minutes < 120 else f"{bin_minutes / 60:g} h"
    fig.update_layout(
        template=TEMPLATE,
        barmode="stack",
        bargap=0.05,
        title=title,
        xaxis_title=time_axis_title(timezone),
        yaxis_title="share of customers out (%)" if series is not None and not counted else f"{unit} per {width}",
        height=420,
    )
    return fig


def band_trace(x: Sequence[Any], lo: np.ndarray, hi: np.ndarray, level: float) -> go.Scatter:
    """A shaded pointwise interval (shares drawn as %) between ``lo`` and ``hi`` over ``x``."""
    return go.Scatter(
        x=list(x) + list(x)[::-1],
        y=list(100 * hi) + list(100 * lo[::-1]),
        fill="toself",
        fillcolor=PALETTE["band"],
        line={"width": 0},
        hoverinfo="skip",
        name=f"{level:.0%} band",
    )


def recovery_figure(
    fit: Any,
    *,
    timezone: str,
    horizon_minutes: float | None = None,
    events: pl.DataFrame | None = None,
    level: float = 0.9,
    title: str | None = None,
    y_title: str | None = None,
) -> go.Figure:
    """The fitted share still without service, S(t), with its band and every event of the incident.

    ``events`` is the timeline's events table (:func:`analysis.timeline.events_table`):
    each event inside the curve's window is a dotted line with a numbered marker along the
    top, numbered as in the timeline and its table, close ones sharing a marker ('4, 5')
    so no two labels print over each other; the hover shows each label (the report adds
    the share still affected to an announcement's). With ``y_title`` the curve is described
    by that axis title instead (curated statements: S(t) is then the model's rate of
    statements relative to the onset, not a share of customers).
    """
    as_share = y_title is None
    onset: dt.datetime = fit.onset
    q99 = fit.t99.value if np.isfinite(fit.t99.value) else None
    horizon = horizon_minutes or min(max((q99 or 240.0) * 1.15, 120.0), 7 * 24 * 60)
    t = np.linspace(0.0, horizon, 400)
    s, lo, hi = fit.survival_curve(t)
    x = [wall_clock(onset + dt.timedelta(minutes=float(m)), timezone) for m in t]
    fig = go.Figure()
    fig.add_trace(band_trace(x, lo, hi, level))
    fig.add_trace(
        go.Scatter(
            x=x,
            y=100 * s,
            mode="lines",
            line={"color": PALETTE["fit"], "width": 2.5},
            name=f"estimate ({fit.model})" if len(getattr(fit, "draws", ())) <= 1 else "estimate (median over the models)",
            hovertemplate="%{x|%a %H:%M}: %{y:.1f}%" + (" still without service" if as_share else "") + "<extra></extra>",
        )
    )
    if events is not None and events.height:
        span = (onset, onset + dt.timedelta(minutes=horizon))
        _event_lines(fig, events, tz=timezone, span=span)
    fig.update_layout(
        template=TEMPLATE,
        title=title,
        xaxis_title=time_axis_title(timezone),
        # a little room left of the onset: the first event's number is not cut at the axis
        xaxis_range=[wall_clock(onset - dt.timedelta(minutes=0.02 * horizon), timezone), x[-1]],
        yaxis={"title": y_title or "affected customers still without service (%)", "range": [0, 102]},
        height=480,
    )
    return fig


def observed_fitted_figure(
    table: pl.DataFrame,
    *,
    timezone: str,
    bin_minutes: float = 60.0,
    onset: dt.datetime | None = None,
    title: str | None = None,
) -> go.Figure:
    """Observed evidence against the fit: report counts per bin, or an observed curve.

    ``table`` is the fit's ``observed_vs_fitted``. From down reports it has fine bins
    (``bin_start``, ``observed``, ``observed_windowed`` — window reports allocated in
    proportion to the fit — and ``fitted``), re-binned to ``bin_minutes`` for reading. From
    restorations or an online-fraction series it has ``minutes`` after ``onset`` (or
    ``observed_at``), the observed share (nonparametric curve or measured series) and the
    fitted one, drawn as points against a line. Systematic runs on one side of the line are
    what a misfit looks like.
    """
    if table.height == 0:
        return go.Figure().update_layout(template=TEMPLATE, title=title)
    if "bin_start" not in table.columns:
        return _observed_fitted_curve(table, timezone=timezone, onset=onset, title=title)
    width = f"{int(bin_minutes)}m"
    extra = ["observed_windowed"] if "observed_windowed" in table.columns else []
    agg = (
        table.sort("bin_start")
        .group_by_dynamic("bin_start", every=width)
        .agg(pl.col("observed").sum(), *[pl.col(c).sum() for c in extra], pl.col("fitted").sum())
        .with_columns(pl.col("bin_start").dt.convert_time_zone(timezone).dt.replace_time_zone(None).alias("local"))
    )
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=agg["local"].to_list(),
            y=agg["observed"].to_list(),
            name="observed (known time)",
            marker={"color": PALETTE["exact"]},
        )
    )
    if extra:
        fig.add_trace(
            go.Bar(
                x=agg["local"].to_list(),
                y=agg["observed_windowed"].to_list(),
                name="observed (window, allocated)",
                marker={"color": PALETTE["windowed"]},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=agg["local"].to_list(),
            y=agg["fitted"].to_list(),
            mode="lines",
            name="fitted",
            line={"color": PALETTE["fit"], "width": 2},
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        barmode="stack",
        title=title,
        xaxis_title=time_axis_title(timezone),
        yaxis_title=f"reports per {int(bin_minutes)} min",
        height=360,
    )
    return fig


def _observed_fitted_curve(table: pl.DataFrame, *, timezone: str, onset: dt.datetime | None, title: str | None) -> go.Figure:
    """Observed share (points) against the fitted one (line), in local time when it is known."""
    if "observed_at" in table.columns:
        x = [wall_clock(t, timezone) for t in table["observed_at"].to_list()]
        axis = time_axis_title(timezone)
    elif onset is not None:
        x = [wall_clock(onset + dt.timedelta(minutes=float(m)), timezone) for m in table["minutes"].to_list()]
        axis = time_axis_title(timezone)
    else:
        x = table["minutes"].to_list()
        axis = "minutes after onset"
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x,
            y=(100 * table["observed"]).to_list(),
            mode="markers",
            name="observed",
            marker={"color": PALETTE["exact"], "size": 4},
            hovertemplate="%{y:.1f}% observed<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=(100 * table["fitted"]).to_list(),
            mode="lines",
            name="fitted",
            line={"color": PALETTE["fit"], "width": 2},
            hovertemplate="%{y:.1f}% fitted<extra></extra>",
        )
    )
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title=axis, yaxis_title="share of customers (%)", height=360)
    return fig


def residual_figure(
    diagnostics: Any,
    *,
    onset: dt.datetime,
    timezone: str,
    bin_minutes: float = 60.0,
    title: str | None = None,
) -> go.Figure:
    """Standardised residuals over time, with the ±2 lines a good fit mostly stays within.

    Report fits: Pearson residuals (O − E)/√E of the counts re-binned to ``bin_minutes``
    (windowed reports allocated by the fit), since 5-minute bins of a few reports are all
    noise. Restorations and measured series: the fit's own residuals (nonparametric minus
    fitted S; standardised noise innovations).
    """
    table = diagnostics.observed_vs_fitted
    if "bin_start" in table.columns and table.height:
        # the same bins the misfit verdict reads, so the sentence and the plot agree
        agg = binned_residuals(table, bin_minutes)
        x = [wall_clock(t, timezone) for t in agg["bin_start"].to_list()]
        y = agg["residual"].to_list()
        label = f"observed − fitted, in standard deviations, per {int(bin_minutes)} min"  # a Pearson residual (glossary)
        standardised = True
    else:
        res = diagnostics.residuals
        x = [wall_clock(onset + dt.timedelta(minutes=float(m)), timezone) for m in res["minutes"].to_list()]
        # a measured series has standardised innovations; restorations the gap between two curves
        standardised = "observed_at" in table.columns
        y = res["residual"].to_list() if standardised else (100 * res["residual"]).to_list()
        label = "standardised residual" if standardised else "nonparametric − fitted (points of %)"
    fig = go.Figure()
    if x:
        # ±2 marks where a standardised residual should mostly stay; a gap between curves has no such scale
        for level in (-2, 2) if standardised else ():
            fig.add_hline(y=level, line={"color": PALETTE["muted"], "dash": "dot", "width": 1})
        fig.add_hline(y=0, line={"color": PALETTE["muted"], "width": 1})
    fig.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="markers",
            marker={"color": PALETTE["exact"], "size": 5},
            name=label,
            hovertemplate="%{y:.2f}<extra></extra>",
        )
    )
    # one clause per line: the figure is 300 px high and the whole label on one line ran off both ends
    fig.update_layout(
        template=TEMPLATE, title=title, xaxis_title=time_axis_title(timezone), yaxis_title=label.replace(", ", ",<br>"),
        height=300, showlegend=False,
    )  # fmt: skip
    return fig


def rescaling_figure(
    rescaled: np.ndarray, *, band: float, statistic: float, pvalue: float, title: str | None = None
) -> go.Figure:
    """Time-rescaling check: sorted rescaled inter-report times against the uniform diagonal.

    If the fitted intensity is right, the points lie on the diagonal and inside the
    Kolmogorov–Smirnov band; points outside it mean the model misses the report timing.
    """
    n = len(rescaled)
    fig = go.Figure()
    if n == 0:
        return fig.update_layout(template=TEMPLATE, title=title)
    expected = (np.arange(1, n + 1) - 0.5) / n
    fig.add_trace(
        go.Scatter(
            x=[0, 1, 1, 0],
            y=[band, 1 + band, 1 - band, -band],
            fill="toself",
            fillcolor="rgba(47,111,159,0.12)",
            line={"width": 0},
            hoverinfo="skip",
            name="KS band",
        )
    )
    fig.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": PALETTE["muted"], "dash": "dot"}, name="perfect fit")
    )
    fig.add_trace(
        go.Scatter(x=expected, y=np.sort(rescaled), mode="markers", marker={"color": PALETTE["exact"], "size": 5}, name="reports")
    )
    fig.update_layout(
        template=TEMPLATE,
        title=title or f"Time-rescaling: KS = {statistic:.3f}, p = {pvalue:.2g} (n = {n})",
        xaxis={"title": "uniform quantile", "range": [0, 1]},
        yaxis={"title": "rescaled inter-report time", "range": [-0.05, 1.05]},
        height=360,
    )
    return fig
