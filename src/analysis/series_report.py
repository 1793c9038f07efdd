"""The report's words, tables and figure for a customers-out series (EAGLE-I, outage-map scrapes).

A series measures how many customers are out at each reading, so its post-mortem speaks of
readings and customers out, never of reports: the peak, the clock times at which the count
fell below 50 % and 10 % of it (or "not reached by" the end of the window), the time from
onset and from the peak to those, the customer-hours lost, the restoration time per
customer, and what happened to every reading (used, or why not).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
import polars as pl

from analysis.figures import PALETTE, TEMPLATE, band_trace, time_axis_title, wall_clock
from analysis.i18n import TEXT, format_duration, format_estimate, format_time, labelled_range, text
from analysis.privacy import esc

if TYPE_CHECKING:
    from analysis.pipeline import Analysis

#: The crossings a series report leads with: fraction of the peak restored → metrics key.
CROSSINGS = ((0.5, "t50"), (0.9, "t90"))
#: Reading flags that mean "kept in the fit".
USED_FLAGS = frozenset({"used", "ok", "relapse", "above_total", "flat"})


def is_series(a: Analysis) -> bool:
    """Whether the analysis' curve comes from a customers-out series (fitted or not)."""
    return a.evidence == "online_fraction"


def _when(fit: Any, minutes: float) -> dt.datetime | None:
    return fit.time_at(minutes) if math.isfinite(minutes) else None


def crossing_text(a: Analysis, p: float) -> tuple[str, str, str]:
    """(value, interval, detail) of the clock time at which the count fell below (1 − p) of its peak.

    Past the end of the window it reads "not reached by <end>" with the model's
    extrapolation flagged, never a date inside the window the data contradict.
    """
    lang, fit, tz = a.params.language, a.fit, a.incident.timezone
    c = fit.crossing(p)
    est, horizon = c.minutes, fit.horizon_minutes
    if not math.isfinite(est.value):
        return text(lang, "not_estimable"), "", ""
    end_text = format_time(fit.end, tz, lang)
    if est.value > horizon:
        when = _when(fit, est.value)
        extra = text(lang, "s_extrapolated", when=format_time(when, tz, lang)) if when else ""
        return text(lang, "s_not_reached", end=end_text), extra, ""
    low, high = _when(fit, est.low), _when(fit, est.high)
    hi = text(lang, "beyond_window") if est.high > horizon or getattr(est, "high_beyond", False) else format_time(high, tz, lang)
    interval = f"[{format_time(low, tz, lang)} – {hi}]"
    detail = text(
        lang,
        "s_after_onset_peak",
        onset=format_duration(est.value, lang),
        peak=format_duration(c.after_peak_minutes.value, lang),
    )
    return format_time(_when(fit, est.value), tz, lang), interval, detail


def _count(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:,.0f}"


def flag_name(flag: str, lang: str) -> str:
    """A reading's flag in the report's language (an unknown flag as written)."""
    return text(lang, f"flag_{flag}") if f"flag_{flag}" in TEXT["en"] else flag.replace("_", " ")


def readings_counts(a: Analysis) -> tuple[int, int, str]:
    """(readings used, readings in all, '345 before onset, 10 dropout'): what the fit did with the series."""
    lang = a.params.language
    counts = dict(getattr(a.fit, "flag_counts", {}) or {}) if a.fit is not None else {}
    n = sum(counts.values()) if counts else a.data.online.height
    used = sum(v for k, v in counts.items() if k in USED_FLAGS) if counts else 0
    other = ", ".join(f"{v} {flag_name(k, lang)}" for k, v in sorted(counts.items()) if k not in USED_FLAGS and v)
    return used, n, other or "—"


def readings_line(a: Analysis) -> str:
    """'393 of 768 readings used; not used: 10 dropout, 365 before onset'."""
    used, n, other = readings_counts(a)
    return text(a.params.language, "s_readings_line", used=used, n=n, other=other)


def summary_parts(a: Analysis, kpi: Any) -> list[str]:
    """Headline cards of a series: peak, onset, crossings, customer-hours, readings used."""
    lang, fit, tz = a.params.language, a.fit, a.incident.timezone
    if fit is None:
        return [
            f'<div class="pm-kpis">{kpi(text(lang, "observations"), str(a.data.online.height), sub=text(lang, "ev_online_fraction"))}</div>'
        ]
    cards = [
        kpi(text(lang, "s_peak"), _count(fit.peak_out), sub=format_time(fit.peak_time, tz, lang)),
        kpi(text(lang, "onset"), format_time(fit.onset, tz, lang), sub=a.metrics.get("onset_source") or ""),
    ]
    for p, key in CROSSINGS:
        value, interval, detail = crossing_text(a, p)
        cards.append(kpi(text(lang, f"s_{key}"), value, labelled_range(interval, a.params.level, lang), detail))
    ch = fit.customer_hours_lost(None)
    beyond = math.isfinite(ch.value) and (ch.high_beyond or getattr(ch, "low_beyond", False) or fit.extrapolated(0.99))
    cards.append(
        kpi(
            text(lang, "i_customer_hours"),
            _count(ch.value),
            labelled_range(f"[{_count(ch.low)}–{_count(ch.high)}]", a.params.level, lang),
            text(lang, "s_to_full_extrapolated" if beyond else "s_to_full"),
        )
    )
    used, n, other = readings_counts(a)
    cards.append(kpi(text(lang, "s_readings"), f"{used} / {n}", sub=text(lang, "s_not_used", other=other)))
    return [f'<div class="pm-kpis">{"".join(cards)}</div>']


def impact_rows(a: Analysis) -> list[tuple[str, str]]:
    """Impact table rows of a series: what was measured, the peak, what was lost, per-customer times."""
    lang, fit, tz = a.params.language, a.fit, a.incident.timezone
    rows = [(text(lang, "s_evidence"), text(lang, "s_evidence_value", n=a.data.online.height))]
    if fit is None:
        return rows
    share = f" ({fit.peak_out / fit.total:.0%} {text(lang, 's_of_total')})" if getattr(fit, "total", None) else ""
    rows.append((text(lang, "s_peak"), f"{_count(fit.peak_out)}{share} — {format_time(fit.peak_time, tz, lang)}"))
    last = fit.data_quality.filter(pl.col("used")).tail(1)
    if last.height:
        rows.append(
            (
                text(lang, "s_at_end"),
                f"{_count(last['out'][0])} ({last['out'][0] / fit.peak_out:.0%} {text(lang, 's_of_peak')}) — "
                f"{format_time(last['observed_at'][0], tz, lang)}",
            )
        )
    ch, win = fit.customer_hours_lost(None), fit.customer_hours_in_window
    rows.append((text(lang, "i_customer_hours"), f"{_count(ch.value)} [{_count(ch.low)}–{_count(ch.high)}]"))
    rows.append((text(lang, "s_customer_hours_window"), f"{_count(win.value)} [{_count(win.low)}–{_count(win.high)}]"))
    for p in (0.5, 0.9):
        est = fit.restoration_quantile(p)
        rows.append(
            (
                text(lang, "s_per_customer", pct=f"{p:.0%}") + " ¹",
                format_estimate(est.value, est.low, est.high, lang),
            )
        )
    rows.append(("¹", text(lang, "s_weak")))
    arrivals = fit.arrival_window
    if arrivals:
        first, last_arrival = arrivals.get("p05"), arrivals.get("p95")
        if first is not None and last_arrival is not None:
            rows.append(
                (
                    text(lang, "s_arrivals"),
                    f"{format_time(_when(fit, first.value), tz, lang)} – {format_time(_when(fit, last_arrival.value), tz, lang)}",
                )
            )
    return rows


def milestone_rows(a: Analysis) -> list[tuple[str, str, str]]:
    """Milestones of a series: onset, peak, the crossings (clock time, after onset), the end of the window."""
    lang, fit, tz = a.params.language, a.fit, a.incident.timezone
    if fit is None:
        return []
    rows = [
        (text(lang, "onset"), format_time(fit.onset, tz, lang), "0 min"),
        (
            text(lang, "s_peak"),
            format_time(fit.peak_time, tz, lang),
            format_duration((fit.peak_time - fit.onset).total_seconds() / 60, lang),
        ),
    ]
    for p, key in CROSSINGS:
        value, interval, _ = crossing_text(a, p)
        est = fit.crossing(p).minutes
        after = format_duration(est.value, lang) if est.value <= fit.horizon_minutes else "—"
        rows.append((text(lang, f"s_{key}"), f"{value} {interval}".strip(), after))
    rows.append((text(lang, "s_window_end"), format_time(fit.end, tz, lang), format_duration(fit.horizon_minutes, lang)))
    return rows


def quality_html(a: Analysis, table: Any) -> str:
    """The readings of the series by flag: what was used, what was left out and why."""
    lang = a.params.language
    parts = [f"<h3>{esc(text(lang, 's_readings_title'))}</h3>"]
    fit = a.fit
    if fit is None:
        parts.append(f"<p>{esc(text(lang, 's_no_flags'))}</p>")
        return "\n".join(parts)
    counts = dict(fit.flag_counts)
    rows = [
        (flag_name(k, lang), v, text(lang, "yes") if k in USED_FLAGS else text(lang, "no")) for k, v in sorted(counts.items())
    ]
    parts.append(table([text(lang, "s_flag"), text(lang, "s_readings"), text(lang, "s_used")], rows))
    parts.append(f"<p>{esc(readings_line(a))}</p>")
    left = fit.data_quality.filter(~pl.col("used") & ~pl.col("flag").is_in(["before_onset", "after_end"]))
    if left.height:
        tz = a.incident.timezone
        shown = left.head(40)
        parts.append(
            table(
                [text(lang, "time"), text(lang, "s_flag"), text(lang, "s_out")],
                [
                    (format_time(t, tz, lang), flag_name(f, lang), _count(o))
                    for t, f, o in shown.select("observed_at", "flag", "out").rows()
                ],
            )
        )
        if left.height > shown.height:
            parts.append(f"<p class='pm-meta'>{esc(text(lang, 's_more_rows', n=left.height - shown.height))}</p>")
    return "\n".join(parts)


def areas_html(a: Analysis, table: Any) -> str:
    """One row per area of a multi-area series: peak and the crossings."""
    lang = a.params.language
    if not a.area_fits:
        return ""
    rows = []
    for name, fit in sorted(a.area_fits.items()):
        cells = [esc(name), _count(fit.peak_out)]
        for p, _ in CROSSINGS:
            est = fit.crossing(p).minutes
            cells.append(
                text(lang, "s_not_reached_short")
                if est.value > fit.horizon_minutes
                else format_estimate(est.value, est.low, est.high, lang)
            )
        rows.append(cells)
    head = [text(lang, "s_area"), text(lang, "s_peak"), text(lang, "s_t50"), text(lang, "s_t90")]
    return f"<h3>{esc(text(lang, 's_areas'))}</h3>" + table(head, rows)


def series_figure(a: Analysis) -> go.Figure:
    """The series as measured (share of its peak), the fitted curve with its band, defects marked, the 50 %/10 % lines."""
    fit, tz, level, lang = a.fit, a.incident.timezone, a.params.level, a.params.language
    peak = fit.peak_out
    fig = go.Figure()
    # from a little before the onset (the build-up) to the end of the window; the timeline shows the rest
    start = -max(360.0, 0.1 * fit.horizon_minutes)
    dq = fit.data_quality.filter((pl.col("minutes") >= start) & (pl.col("minutes") <= fit.horizon_minutes))
    grid = np.linspace(max(float(dq["minutes"].min()), start), fit.horizon_minutes, 500)
    mid, lo, hi = fit.survival_curve(grid)
    x = [wall_clock(fit.onset + dt.timedelta(minutes=float(m)), tz) for m in grid]
    if np.isfinite(lo).any():
        fig.add_trace(band_trace(x, lo, hi, level))
    fig.add_trace(
        go.Scatter(x=x, y=100 * mid, mode="lines", line={"color": PALETTE["fit"], "width": 2.5}, name=text(lang, "s_model"))
    )
    for flag, used in ((None, True), ("defect", False)):
        rows = dq.filter(pl.col("used") == used) if flag is None else dq.filter(~pl.col("used") & pl.col("out").is_not_null())
        if not rows.height:
            continue
        fig.add_trace(
            go.Scatter(
                x=[wall_clock(t, tz) for t in rows["observed_at"]],
                y=(100 * rows["out"] / peak).to_list(),
                mode="markers",
                marker={"size": 4 if used else 7, "color": "#444" if used else "#d62728", "symbol": "circle" if used else "x"},
                name=text(lang, "s_used_readings") if used else text(lang, "s_left_out"),
                text=[flag_name(f, lang) for f in rows["flag"].to_list()],
                customdata=rows["out"].to_list(),
                hovertemplate="%{x|%a %d %b %H:%M}: %{customdata:,.0f} (%{y:.1f}% of peak) · %{text}<extra></extra>",
            )
        )
    for p, key in CROSSINGS:
        fig.add_hline(y=100 * (1 - p), line={"color": "#888", "dash": "dot", "width": 1})
        est = fit.crossing(p).minutes
        if not (math.isfinite(est.value) and est.value <= fit.horizon_minutes):
            continue
        when, low, high = (wall_clock(_when(fit, x), tz) for x in (est.value, est.low, min(est.high, fit.horizon_minutes)))
        fig.add_trace(
            go.Scatter(
                x=[low, when, high],
                y=[100 * (1 - p)] * 3,
                mode="lines+markers",
                marker={"size": [0, 11, 0], "color": PALETTE["announcement"], "symbol": "diamond"},
                line={"color": PALETTE["announcement"], "width": 3},
                name=f"{text(lang, f's_{key}')} ({level:.0%})",
                hovertemplate="%{x|%a %d %b %H:%M}<extra></extra>",
            )
        )
    fig.update_layout(
        template=TEMPLATE,
        xaxis_title=time_axis_title(tz),
        yaxis={"title": text(lang, "s_axis"), "rangemode": "tozero"},
        height=440,
    )
    return fig
