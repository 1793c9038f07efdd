"""Report sections as lists of displayable parts (HTML strings and plotly figures).

A notebook cell calls one section function and :func:`show`; the post-mortem notebook
and the exploratory one share these, so the page and JupyterLab show the same things.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import polars as pl

from analysis import figures, narrative
from analysis.i18n import format_duration, text
from analysis.narrative import caption, esc, heading
from analysis.params import as_dict
from analysis.provenance import provenance

Part = str | go.Figure


def show(parts: list[Part]) -> None:
    """Display each part: HTML strings as HTML, figures through the active renderer."""
    from IPython.display import HTML, display

    html_buffer: list[str] = []
    for part in parts:
        if isinstance(part, str):
            html_buffer.append(part)
            continue
        if html_buffer:
            display(HTML("\n".join(html_buffer)))
            html_buffer = []
        display(part)
    if html_buffer:
        display(HTML("\n".join(html_buffer)))


def header(a: Any) -> list[Part]:
    """Title, run line, coverage and trust note."""
    return [narrative.header(a)]


def summary(a: Any) -> list[Part]:
    """Executive summary with headline numbers."""
    return [narrative.summary(a)]


def impact(a: Any) -> list[Part]:
    """Impact table and time metrics."""
    return [narrative.impact(a)]


def timeline(a: Any) -> list[Part]:
    """Report-rate figure with events, and the events table."""
    lang = a.params.language
    fig = figures.timeline_figure(
        a.binned, a.events, timezone=a.incident.timezone, bin_minutes=a.display_bin_minutes, span=a.span
    )
    return [heading("timeline", text(lang, "timeline")), fig, caption(text(lang, "caption_timeline")), narrative.events_html(a)]


def recovery(a: Any) -> list[Part]:
    """The fitted curve with its band and announcements, and the candidate families."""
    lang = a.params.language
    parts: list[Part] = [heading("recovery", text(lang, "recovery"))]
    if a.fit is None:
        parts.append(f'<div class="pm-callout">{esc(text(lang, "no_fit", error=a.fit_error))}</div>')
        return parts
    announcements = [(e.time, e.label[:40] + ("…" if len(e.label) > 40 else "")) for e in a.incident.announcements if e.resolved]
    if not announcements and a.incident.announcements:
        announcements = [(e.time, e.label[:40]) for e in a.incident.announcements[:1]]
    fig = figures.recovery_figure(a.fit, timezone=a.incident.timezone, announcements=announcements, level=a.params.level)
    parts += [fig, caption(text(lang, "caption_recovery", level=f"{a.params.level:.0%}"))]
    cand = a.fit.candidates
    cols = [
        c
        for c in ("family", "n_params", "log_likelihood", "aic", "delta_aic", "akaike_weight", "t50_minutes", "t90_minutes")
        if c in cand.columns
    ]
    rows = cand.select(cols).with_columns(pl.col(pl.Float64).round(2)).rows()
    parts.append(f"<h3>{esc(text(lang, 'candidates'))}</h3>")
    parts.append(narrative.table(cols, rows))
    parts += diagnostics(a)
    ann = a.metrics.get("announcements") or []
    if ann:
        parts.append(f"<h3>{esc(text(lang, 'announcements_vs'))}</h3>")
        parts.append(
            narrative.table(
                ["time", "announcement", text(lang, "still_affected"), "interval"],
                [
                    (
                        x["time"],
                        narrative.scrub_contacts(x["label"]),
                        f"{100 * x['still_affected']:.0f}%" if x["still_affected"] is not None else "—",
                        f"[{100 * x['still_affected_ci'][0]:.0f}–{100 * x['still_affected_ci'][1]:.0f}]"
                        if x["still_affected_ci"]
                        else "—",
                    )
                    for x in ann
                ],
            )
        )
    return parts


def diagnostics(a: Any) -> list[Part]:
    """Observed vs fitted counts, time-rescaling, and the sensitivity to the propensity profile."""
    lang, fit = a.params.language, a.fit
    parts: list[Part] = []
    diag = getattr(fit, "diagnostics", None)
    if diag is not None and diag.observed_vs_fitted.height:
        parts.append(f"<h3>{esc(text(lang, 'diagnostics'))}</h3>")
        parts.append(
            figures.observed_fitted_figure(
                diag.observed_vs_fitted, timezone=a.incident.timezone, bin_minutes=a.display_bin_minutes
            )
        )
        parts.append(caption(text(lang, "caption_observed_fitted")))
        if len(diag.rescaled_times):
            parts.append(
                figures.rescaling_figure(
                    diag.rescaled_times, band=diag.ks_band, statistic=diag.ks_statistic, pvalue=diag.ks_pvalue
                )
            )
            parts.append(caption(text(lang, "caption_rescaling")))
        if diag.note:
            parts.append(f'<p class="pm-meta">{esc(diag.note)}</p>')
    sens = getattr(fit, "sensitivity", None)
    if sens is not None and sens.height:
        parts.append(f"<h3>{esc(text(lang, 'sensitivity'))}</h3>")
        rows = [
            (r["propensity"], r["model"], *(format_duration(r[c], lang) for c in ("t50_minutes", "t90_minutes", "t99_minutes")))
            for r in sens.iter_rows(named=True)
        ]
        parts.append(narrative.table(["propensity", "model", "t50", "t90", "t99"], rows))
        parts.append(caption(text(lang, "caption_sensitivity")))
    return parts


def geography(a: Any) -> list[Part]:
    """Where it hit, where it lasted, whether place mattered (see :mod:`analysis.spatial_report`)."""
    from analysis.spatial_report import geography_parts

    return geography_parts(a)


def data_quality(a: Any) -> list[Part]:
    """Sources, rejects, unresolved places, windows, coverage."""
    return [narrative.data_quality(a)]


def methods(a: Any) -> list[Part]:
    """Methods and assumptions."""
    return [narrative.methods(a)]


def provenance_section(a: Any) -> list[Part]:
    """Run id, code version, input hashes, parameters, packages."""
    return [narrative.provenance_html(a, provenance(a.incident, as_dict(a.params)))]
