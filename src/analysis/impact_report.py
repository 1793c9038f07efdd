"""The impact sections: the impact table and time metrics, detection, and the impact on customers."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import polars as pl

from analysis import series_report
from analysis.figure_text import area_name
from analysis.i18n import TEXT, format_count, format_duration, format_estimate, format_percent, format_period, format_time, text
from analysis.metrics import offset
from analysis.narrative import estimate_text, evidence_rows, heading, table, translated_label
from analysis.privacy import esc, scrub_contacts

if TYPE_CHECKING:
    from analysis.pipeline import Analysis


def impact(a: Analysis) -> str:
    """PagerDuty-style impact table and the time metrics from onset."""
    lang = a.params.language
    if series_report.is_series(a):
        return _series_impact(a)
    milestones = [text(lang, "m_milestone"), text(lang, "m_local_time"), text(lang, "after_onset")]
    return "\n".join(
        [
            heading("impact", text(lang, "impact")),
            table([text(lang, "i_impact"), ""], _impact_rows(a)),
            table(milestones, _milestone_rows(a)),
        ]
    )


def _series_impact(a: Analysis) -> str:
    """A customers-out series: its impact rows, the 50 %/10 % crossings, the declaration and the areas."""
    lang, inc, fit = a.params.language, a.incident, a.fit
    parts = [heading("impact", text(lang, "impact")), table([text(lang, "i_impact"), ""], series_report.impact_rows(a))]
    rows = series_report.milestone_rows(a)
    resolved = inc.declared_resolved
    if resolved is not None and fit is not None:
        after = format_duration((resolved.time - fit.onset).total_seconds() / 60, lang)
        rows.append((text(lang, "m_declared"), format_time(resolved.time, inc.timezone, lang), after))
    if rows:
        parts.append(table([text(lang, "m_milestone"), text(lang, "m_local_time"), text(lang, "after_onset")], rows))
    parts.append(series_report.areas_html(a, table))
    return "\n".join(parts)


def _milestone_rows(a: Analysis) -> list[tuple[str, str, str]]:
    """First report, model milestones (not for curated statements), the declaration, the last report(s)."""
    lang, inc, fit, mt = a.params.language, a.incident, a.fit, a.metrics
    tz = inc.timezone
    onset = fit.onset if fit is not None else inc.onset

    def since(t: dt.datetime | None) -> str:
        if t is None or onset is None:
            return "—"
        return format_duration((t - onset).total_seconds() / 60, lang)

    when = dt.datetime.fromisoformat
    first = when(mt["first_report"]) if mt.get("first_report") else None
    last = when(mt["last_report"]) if mt.get("last_report") else None
    rows = [(text(lang, "m_detect"), format_time(first, tz, lang), time_to_detect(mt, first, onset, lang))]
    # curated statements do not measure restoration: their model quantiles stay in the exploratory section
    if fit is not None and not getattr(a, "curated", False):
        for p, key in ((0.05, "m_first_restorations"), (0.5, "m_50"), (0.9, "m_90")):
            est = fit.quantile(p)
            rows.append(
                (
                    text(lang, key),
                    format_time(offset(fit.onset, est.value), tz, lang),
                    format_estimate(est.value, est.low, est.high, lang),
                )
            )
    resolved = inc.declared_resolved.time if inc.declared_resolved else None
    rows.append((text(lang, "m_declared"), format_time(resolved, tz, lang), since(resolved)))
    facts = mt.get("curated_summary") if getattr(a, "curated", False) else None
    if facts:  # a dated statement's window end is not a report time: the two are shown apart
        timed, dated = facts.get("last_timed_statement"), facts.get("last_dated_statement")
        if timed:
            rows.append((text(lang, "m_last_timed"), format_time(when(timed["time"]), tz, lang), since(when(timed["time"]))))
        if dated:
            rows.append((text(lang, "m_last_dated"), format_time(when(dated["until"]), tz, lang), since(when(dated["until"]))))
    else:
        rows.append((text(lang, "m_last"), format_time(last, tz, lang), since(last)))
    return rows


def _impact_rows(a: Analysis) -> list[tuple[str, str]]:
    """Service, reports (the incident's own service only), municipalities, regions, other services, mean outage."""
    lang, fit, mt = a.params.language, a.fit, a.metrics
    # the incident's own service only ([postmortem] service); reports about other services are listed apart
    own = getattr(a, "service_down", a.down)
    others: dict[str, int] = getattr(a, "other_services", {})
    services = getattr(a, "services", ()) or sorted(set(own["service"].drop_nulls().unique().to_list()))
    n_own = int(own["weight"].sum()) if own.height else 0
    rows = [
        (text(lang, "i_service"), ", ".join(service_name(x, lang) for x in services) or "—"),
        (text(lang, "i_reports"), f"{n_own} / {mt['n_raw']}")
        if a.evidence == "down_reports"
        else (text(lang, "observations"), f"{evidence_rows(a)} {text(lang, f'ev_{a.evidence}')}"),
        (text(lang, "i_municipalities"), str(own.filter(pl.col("municipality").is_not_null())["nis_code"].n_unique())),
        (
            text(lang, "i_regions"),
            ", ".join(sorted(area_name(r, lang) for r in own["region"].drop_nulls().unique().to_list())) or "—",
        ),
    ]
    if others:
        listed = ", ".join(f"{service_name(x, lang)} {n}" for x, n in others.items())
        rows.append((text(lang, "i_other_services"), text(lang, "i_other_services_value", listed=listed)))
    if fit is not None and not getattr(a, "curated", False):
        value, ci = estimate_text(fit.mean_outage_minutes, lang=lang, horizon=fit.horizon_minutes)
        rows.append((text(lang, "mean_outage"), f"{value} {ci}"))
        if a.incident.affected_customers:
            est = fit.customer_hours_lost(a.incident.affected_customers)
            hours = f"{format_count(est.value, lang)} [{format_count(est.low, lang)}–{format_count(est.high, lang)}]"
            rows.append((text(lang, "i_customer_hours"), hours))
    return rows


def detection_html(a: Analysis) -> str:
    """The Detection section: onset, first signal, first acknowledgement and the gaps between them.

    Reads the ``detection`` block of metrics.json (:func:`analysis.facts.detection`); the
    time to detect is 'unknown' when the onset was configured rather than observed.
    """
    lang, tz = a.params.language, a.incident.timezone
    d = a.metrics.get("detection") or {}
    when = dt.datetime.fromisoformat

    def t(key: str) -> dt.datetime | None:
        return when(d[key]) if d.get(key) else None

    onset, signal, until, ack = t("onset"), t("first_signal"), t("first_signal_until"), t("first_acknowledgement")
    source_word = {"config": "det_onset_config", "estimated": "det_onset_estimated", "observed": "det_onset_estimated"}
    rows: list[tuple[str, str, str]] = [
        (
            text(lang, "det_onset"),
            format_time(onset, tz, lang),
            text(lang, source_word[d["onset_source"]]) if d.get("onset_source") in source_word else "",
        )
    ]
    series = series_report.is_series(a)  # readings of customers out: no report is a signal
    signal_text = format_period(signal, until, tz, lang) if signal and until else format_time(signal, tz, lang)
    if series and signal is None:
        rows.append((text(lang, "det_first_signal_series"), "—", text(lang, "det_signal_series")))
    else:
        rows.append((text(lang, "det_first_signal"), signal_text, ""))
    if ack is not None:
        label, label_lang = translated_label(a, d.get("first_acknowledgement_label") or "", lang)
        note = esc(scrub_contacts(label))
        if label_lang != lang:
            note = f'<span lang="{esc(label_lang)}">{note}</span>'
        if d.get("first_acknowledgement_source"):
            note += f" ({esc(scrub_contacts(d['first_acknowledgement_source']))})"
        rows.append((text(lang, "det_first_ack"), format_time(ack, tz, lang), _Html(note)))
    else:
        rows.append((text(lang, "det_first_ack"), "—", text(lang, "det_none")))
    detect = d.get("time_to_detect_minutes")
    if detect is not None:
        detect_text = format_duration(detect, lang)
    elif d.get("onset_source") == "config":
        detect_text = text(lang, "det_unknown_configured")
    else:
        detect_text = text(lang, "unknown")
    rows.append((text(lang, "det_time_to_detect"), detect_text, ""))
    to_ack = d.get("time_to_acknowledge_minutes")
    if to_ack:
        low, high = to_ack
        ack_text = (
            format_duration(low, lang)
            if low == high
            else text(lang, "det_between", low=format_duration(low, lang), high=format_duration(high, lang))
        )
        rows.append((text(lang, "det_time_to_ack"), ack_text, ""))
    if d.get("acknowledged_after_onset_minutes") is not None:
        rows.append((text(lang, "det_ack_after_onset"), format_duration(d["acknowledged_after_onset_minutes"], lang), ""))
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, _Html) else esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return "\n".join(
        [
            heading("detection", text(lang, "det_title")),
            f"<p>{esc(text(lang, 'det_intro_series' if series else 'det_intro'))}</p>",
            f"<table><thead><tr><th>{esc(text(lang, 'm_milestone'))}</th><th>{esc(text(lang, 'time'))}</th><th></th></tr></thead>"
            f"<tbody>{body}</tbody></table>",
        ]
    )


class _Html(str):
    """A table cell that is already escaped HTML."""


def customer_impact_html(a: Analysis) -> str:
    """Impact in customer-hours when the affected count is known; says why not otherwise."""
    lang = a.params.language
    c = a.metrics.get("customer_impact") or {}
    level = format_percent(a.params.level, 0, lang)
    hours = format_count(c.get("customer_hours"), lang)
    low, high = (c.get("customer_hours_ci") or [None, None])[:2]
    affected = format_count(c["affected_customers"], lang) if c.get("affected_customers") else None
    basis = c.get("basis")
    if basis == "model":
        words = text(
            lang,
            "ci_model",
            affected=affected,
            hours=hours,
            low=format_count(low, lang),
            high=format_count(high, lang),
            level=level,
        )
    elif basis == "series":
        words = text(lang, "ci_series", hours=hours, low=format_count(low, lang), high=format_count(high, lang), level=level)
    elif basis == "operator_timeline":
        d = a.metrics.get("detection") or {}
        declared = (a.metrics.get("declared_resolved") or {}).get("minutes_after_onset")
        if declared is None and d.get("onset") and a.incident.declared_resolved is not None:
            declared = (a.incident.declared_resolved.time - dt.datetime.fromisoformat(d["onset"])).total_seconds() / 60
        words = text(lang, "ci_operator", affected=affected, duration=format_duration(declared, lang), hours=hours)
    else:
        words = text(
            lang,
            {"no_declared_resolution": "ci_no_declared", "no_fit": "ci_no_fit"}.get(c.get("reason") or "", "ci_affected_unknown"),
        )
    rows = [
        (text(lang, "ci_affected"), affected or text(lang, "ci_unknown")),
        (text(lang, "ci_hours"), hours if basis else "—"),
    ]
    return "\n".join([heading("customer-impact", text(lang, "ci_title")), table(["", ""], rows), f"<p>{esc(words)}</p>"])


def service_name(service: str, lang: str) -> str:
    """A service as the data name it (``tv``, ``web``) in the reader's words where the report knows it."""
    key = f"svc_{service}"
    return text(lang, key) if key in TEXT["en"] else service


def time_to_detect(mt: dict[str, Any], first: dt.datetime | None, onset: dt.datetime | None, lang: str) -> str:
    """First report minus onset, or 'unknown' when the onset was configured rather than observed.

    A configured onset is usually the time the first complaints arrived, so the difference
    would be zero by construction and would say nothing about detection. Only an onset
    estimated from the data (``onset_source`` ``estimated`` or ``observed``) makes the gap a
    measurement.
    """
    if mt.get("onset_source") not in ("estimated", "observed") or first is None or onset is None:
        return text(lang, "unknown")
    return format_duration((first - onset).total_seconds() / 60, lang)
