"""The report's live parts: the "as of" banner of a live page and the communications review.

Kept apart from the other sections (one banner, one section) so the live features stay a
small addition to the page. Their words are the catalogues' ``live_*`` keys.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from analysis.i18n import format_duration, format_percent, format_percents, format_time, text
from analysis.narrative import caption, esc, heading, table
from analysis.privacy import scrub_contacts

if TYPE_CHECKING:
    from analysis.pipeline import Analysis


def _t(lang: str, key: str, **values: Any) -> str:
    """The live page's words (``live_<key>`` in the catalogues)."""
    return text(lang, f"live_{key}", **values)


def _pct(value: float | None, low: float | None, high: float | None, lang: str) -> tuple[str, str, str]:
    if value is None or not math.isfinite(value):
        return "—", "—", "—"
    return format_percents(value, low, high, lang)


def live_banner(a: Analysis) -> str:
    """The "as of" banner of a live page (empty for a retrospective run).

    One small box: the as-of time, the share still out, a warning when a series' count may
    not have peaked yet, and the 50 % / 90 % ETAs with their intervals, from
    :func:`analysis.nowcast.nowcast`.
    """
    if getattr(a, "as_of", None) is None:
        return ""
    from analysis.nowcast import nowcast

    lang, tz = a.params.language, a.incident.timezone
    nc = nowcast(a)
    lines = [_t(lang, "banner", time=format_time(a.as_of, tz, lang))]
    if a.fit is None:
        lines.append(_t(lang, "no_curve"))
    else:
        v, lo, hi = _pct(nc.still_out.value, nc.still_out.low, nc.still_out.high, lang)
        lines.append(_t(lang, "still_out", value=v, low=lo, high=hi))
    if nc.peak_may_be_ahead is not None:
        lines.append(_t(lang, "peak_ahead"))
    for key, share in (("t50", format_percent(0.5, 0, lang)), ("t90", format_percent(0.9, 0, lang))):
        f = nc.etas[key]
        when = nc.onset_time(f.reached_minutes) if f.reached else None
        if f.reached and when is not None:
            lines.append(_t(lang, "reached", share=share, time=format_time(when, tz, lang)))
        elif f.samples.size:
            lo_m, hi_m = f.interval(nc.level)
            times = [nc.onset_time(x) for x in (f.median, lo_m, hi_m)]
            lines.append(
                _t(
                    lang,
                    "eta",
                    share=share,
                    time=format_time(times[0], tz, lang),
                    low=format_time(times[1], tz, lang),
                    high=format_time(times[2], tz, lang),
                )
            )
    body = "".join(f"<div>{esc(x)}</div>" for x in lines)
    return f'<div class="pm-live" role="status" style="border:2px solid #b45309;padding:.4em .8em;margin:.6em 0">{body}</div>'


def _said(a: Analysis, time: Any, label: str) -> str:
    """An announcement in the reader's language as incident.toml words it (the review, computed once, keeps one language)."""
    for e in a.incident.announcements:
        if e.time == time:
            return e.label_in(a.params.language)
    return label


def communications_section(a: Analysis) -> list[str]:
    """The communications review: each announcement's as-of estimate beside the retrospective one.

    Empty when the incident has no announcement or no curve (nothing to compare). With
    curated statements for evidence the curve says when statements were made, not how many
    customers were out: each announcement is set beside the statements that came after it.
    """
    if a.incident.announcements and getattr(a, "curated", False) and a.evidence == "down_reports":
        return _statements_review(a)
    if a.fit is None or not a.incident.announcements or getattr(a, "curated", False):
        return []
    from analysis.nowcast import review_for

    lang, tz = a.params.language, a.incident.timezone
    review = review_for(a)
    lines, rows = [], []
    for r in review.iter_rows(named=True):
        now, now_lo, now_hi = _pct(r["now_still_out"], r["now_low"], r["now_high"], lang)
        then, then_lo, then_hi = _pct(r["as_of_still_out"], r["as_of_low"], r["as_of_high"], lang)
        when = format_time(r["time"], tz, lang)
        if r["as_of_still_out"] is None:
            line = _t(lang, "review_none", time=when, why=r["note"] or "—", now=now, now_low=now_lo, now_high=now_hi)
        else:
            line = _t(
                lang,
                "review_line",
                time=when,
                then=then,
                then_low=then_lo,
                then_high=then_hi,
                now=now,
                now_low=now_lo,
                now_high=now_hi,
            )
        lines.append(f"<li>{esc(line)}</li>")
        said = scrub_contacts(_said(a, r["time"], r["label"])) or ""
        rows.append([when, said, f"{then} [{then_lo}–{then_hi}]", f"{now} [{now_lo}–{now_hi}]"])
    headers = [_t(lang, k) for k in ("col_time", "col_label", "col_then", "col_now")]
    return [
        heading("communications", text(lang, "comm_title")),
        f"<p>{esc(_t(lang, 'review_lead'))}</p>",
        f"<ul>{''.join(lines)}</ul>",
        table(headers, rows, css="pm-comms"),
        caption(_t(lang, "caption")),
    ]


def _statements_review(a: Analysis) -> list[str]:
    """Each announcement beside the statements about the incident's service that came after it (model-free)."""
    from analysis.facts import after_declaration

    lang, tz = a.params.language, a.incident.timezone
    rows = []
    for e in a.incident.announcements:
        after = after_declaration(a.service_down, e.time)
        n, maybe = after["reports_after"], after["reports_possibly_after"]
        hours = after["last_report_hours_after"]
        rows.append(
            [
                format_time(e.time, tz, lang),
                scrub_contacts(e.label_in(lang)) or "",
                f"{n} (+{maybe})" if maybe else str(n),
                str(after["municipalities_after"]),
                format_duration(hours * 60, lang) if hours is not None else "—",
            ]
        )
    headers = [_t(lang, k) for k in ("col_time", "col_label", "col_after", "col_places", "col_last")]
    return [
        heading("communications", text(lang, "comm_title")),
        f"<p>{esc(_t(lang, 'statements_lead'))}</p>",
        table(headers, rows, css="pm-comms"),
    ]
