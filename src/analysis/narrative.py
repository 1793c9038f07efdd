"""The report's words: every section's HTML, generated from an :class:`Analysis`.

Everything that comes from data (titles, places, labels, messages) passes through
:func:`esc` — ``html.escape`` with quotes — before it reaches the page; nothing here
trusts its input. Functions return HTML strings; the notebook displays them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from analysis import series_report
from analysis.figure_text import area_name
from analysis.i18n import (
    TEXT,
    decimal_mark,
    estimable,
    format_count,
    format_date,
    format_duration,
    format_percent,
    format_percents,
    format_period,
    format_time,
    labelled_range,
    text,
)
from analysis.privacy import esc, scrub_contacts
from analysis.timeline import events_in

if TYPE_CHECKING:
    from analysis.pipeline import Analysis


def esc_config(value: str | None) -> str:
    """Escape analyst-written text (titles, labels) after removing contact details from it."""
    return esc(scrub_contacts(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, css: str = "") -> str:
    """A small HTML table with every cell escaped."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{esc(css)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def heading(anchor: str, title: str) -> str:
    """A section heading with a stable anchor (used by the table of contents)."""
    return f'<h2 id="{esc(anchor)}">{esc(title)}</h2>'


def caption(words: str) -> str:
    """A figure caption: what to see."""
    return f'<p class="pm-caption">{esc(words)}</p>'


def estimate_text(est: Any, *, unit: str = "min", lang: str = "en", horizon: float = math.inf) -> tuple[str, str]:
    """A value and its interval as text; durations past the observation window say so."""
    if est is None or not math.isfinite(est.value):
        return text(lang, "not_estimable"), ""
    if unit == "pct":
        value, low, high = format_percents(est.value, est.low, est.high, lang)
        return value, f"[{low}–{high}]"
    if not estimable(est.value, est.low, None if getattr(est, "high_beyond", False) else est.high):
        return text(lang, "not_estimable"), ""
    beyond = text(lang, "beyond_window")
    value = format_duration(est.value, lang) if est.value <= horizon else f"> {format_duration(horizon, lang)} ({beyond})"
    capped = getattr(est, "high_beyond", False) or not math.isfinite(est.high) or est.high > horizon
    high = beyond if capped else format_duration(est.high, lang)
    return value, f"[{format_duration(est.low, lang)}–{high}]"


def no_fit_text(a: Analysis, lang: str) -> str:
    """Why no recovery curve was fitted, as one sentence (the error's own final period dropped)."""
    return text(lang, "no_fit", error=str(a.fit_error or "").rstrip(". "))


def _coverage_line(a: Analysis) -> str:
    """How many records from how many sources over which window, and how many rows were rejected.

    Without a usable record there is no window to state: the line says every row was rejected.
    """
    lang, inc, mt = a.params.language, a.incident, a.metrics
    tz = inc.timezone
    if not mt["n_reports"]:
        return text(lang, "coverage_line_empty", n_sources=len(inc.sources), n_rejected=mt["n_rejected"])
    return text(
        lang,
        "coverage_line_series" if series_report.is_series(a) and not mt["n_unresolved_place"] else "coverage_line",
        n_reports=mt["n_reports"],
        n_sources=len(inc.sources),
        first=format_time(a.span[0] + dt.timedelta(hours=1), tz, lang),
        last=format_time(a.span[1], tz, lang),
        n_rejected=mt["n_rejected"],
        n_unresolved=mt["n_unresolved_place"],
    )


def header(a: Analysis) -> str:
    """Title, run line, coverage line, simulated banner and the trust note."""
    lang, inc = a.params.language, a.incident
    tz = inc.timezone
    now = dt.datetime.now(dt.UTC)
    title = inc.title_in(lang) if hasattr(inc, "title_in") else inc.title
    parts = [f"<h1>{esc_config(title)}</h1>" if title != inc.title or lang == "en" else f'<h1 lang="en">{esc_config(title)}</h1>']
    parts.append(
        f'<p class="pm-meta">{esc(inc.id)} · {esc(text(lang, "generated"))} {esc(format_time(now, tz, lang))}'
        f" · {esc(text(lang, 'run'))} {esc(a.params.run_id or 'interactive')}</p>"
    )
    parts.append(f"<p>{esc(_coverage_line(a))}</p>")
    if inc.simulated:
        parts.append(f'<div class="pm-simulated">{esc(text(lang, "simulated_banner"))}</div>')
    notes = trust_notes(a)
    if notes:
        items = "".join(f"<li>{esc(n)}</li>" for n in notes)
        parts.append(f'<div class="pm-trust"><strong>{esc(text(lang, "trust_title"))}</strong><ul>{items}</ul></div>')
    return "\n".join(parts)


def trust_notes(a: Analysis) -> list[str]:
    """Plain statements of what limits the conclusions, derived from the data."""
    lang = a.params.language
    notes = []
    down = a.down
    n = down.height
    windowed = down.filter(pl.col("reported_until").is_not_null()).height
    if a.evidence != "down_reports":
        notes.append(text(lang, "trust_direct", what=text(lang, f"ev_{a.evidence}"), n=evidence_rows(a)))
    elif n == 0:
        pass  # nothing to fit: the no-fit sentence below says so, and no interval is shown
    elif n < 30:
        notes.append(text(lang, "trust_very_little", n=n))
    elif n < 200:
        notes.append(text(lang, "trust_limited", n=n))
    if n and windowed / n > 0.3:
        notes.append(text(lang, "trust_windows", windowed=windowed, n=n))
    area_rows = down.filter(pl.col("area_level").is_in(["province", "region", "country"])).height
    if area_rows:
        notes.append(text(lang, "trust_areas", n=area_rows))
    for s in a.incident.sources:
        if s.coverage:
            coverage = s.coverage_in(lang) if hasattr(s, "coverage_in") else s.coverage
            notes.append(text(lang, "trust_coverage", source=s.name, coverage=coverage))
        if s.sampling == "curated":
            notes.append(text(lang, "trust_curated", source=s.name))
    if a.fit is None:
        notes.append(no_fit_text(a, lang))
    elif not getattr(a, "curated", False):  # curated: t90 is not read as a restoration time
        t90 = a.fit.t90
        if math.isfinite(t90.high) and math.isfinite(t90.low) and t90.high > 3 * max(t90.low, 1):
            notes.append(text(lang, "trust_t90_wide"))
    for misfit in getattr(a, "misfits", []):
        notes.append(text(lang, "misfit_trust", sentence=misfit_sentence(a, misfit)))
    if a.data.n_rejected:
        notes.append(text(lang, "trust_rejects", rejected=a.data.n_rejected, raw=a.data.n_raw))
    return notes


def misfit_sentence(a: Analysis, misfit: Any) -> str:
    """One plain sentence for a stretch the model gets wrong (see :mod:`analysis.misfit`).

    'The model misses a burst of statements on Tuesday 9 January 06:00–12:00 CET: observed
    28, model 9.9.' Curated evidence is counted as statements, anything else as reports.
    """
    lang = a.params.language
    what = text(lang, "w_statements" if getattr(a, "curated", False) else "w_reports")
    return text(
        lang,
        "misfit_more" if misfit.sign > 0 else "misfit_fewer",
        what=what,
        period=format_period(misfit.start, misfit.end, a.incident.timezone, lang),
        observed=f"{misfit.observed:.0f}",
        expected=f"{misfit.expected:.1f}".replace(".", decimal_mark(lang)),
    )


def evidence_rows(a: Analysis) -> int:
    """How many records the recovery curve was fitted to (restoration records or series points)."""
    if a.evidence == "restorations":
        return a.data.restorations.height
    if a.evidence == "online_fraction":
        return a.data.online.height
    return a.down.height


def kpi(label: str, value: str, ci: str = "", sub: str = "") -> str:
    """One headline number card."""
    return (
        f'<div class="pm-kpi"><div class="l">{esc(label)}</div><div class="v">{esc(value)}</div>'
        f'<div class="ci">{esc(ci)}</div><div class="ci">{esc(sub)}</div></div>'
    )


def summary(a: Analysis) -> str:
    """Executive summary: what happened, the headline numbers with intervals, the gap."""
    lang, inc, fit = a.params.language, a.incident, a.fit
    tz = inc.timezone
    parts = [heading("summary", text(lang, "summary"))]
    description, written_in = inc.description_in(lang) if hasattr(inc, "description_in") else (inc.description, "en")
    if description:
        marked = f' lang="{written_in}"' if written_in != lang else ""  # not written in the reader's language
        parts.append(f"<p{marked}>{esc_config(description.strip())}</p>")
    if getattr(a, "curated", False) and a.metrics.get("curated_summary"):
        return "\n".join(parts + curated_summary_parts(a))
    if series_report.is_series(a):
        parts += series_report.summary_parts(a, kpi)
        if fit is None:
            parts.append(f'<div class="pm-callout">{esc(no_fit_text(a, lang))}</div>')
        gap = declared_gap_sentence(a)
        if gap:
            parts.append(f'<div class="pm-callout">{esc(gap)}</div>')
        parts.append(_intervals_line(a))
        return "\n".join(parts)
    if a.evidence == "down_reports":
        n_down, n_raw = format_count(a.metrics["n_down_reports"], lang), format_count(a.metrics["n_raw"], lang)
        cards = [kpi(text(lang, "reports"), n_down, sub=text(lang, "rows_in", n=n_raw))]
    else:
        cards = [kpi(text(lang, "observations"), format_count(evidence_rows(a), lang), sub=text(lang, f"ev_{a.evidence}"))]
    onset = fit.onset if fit is not None else inc.onset
    cards.append(kpi(text(lang, "onset"), format_time(onset, tz, lang, with_day=False), sub=a.metrics.get("onset_source") or ""))
    if fit is not None:
        for q in ("t50", "t90", "t99"):
            value, ci = estimate_text(getattr(fit, q), lang=lang, horizon=fit.horizon_minutes)
            cards.append(kpi(text(lang, q), value, labelled_range(ci, a.params.level, lang), text(lang, "after_onset")))
        value, ci = estimate_text(fit.mean_outage_minutes, lang=lang, horizon=fit.horizon_minutes)
        cards.append(kpi(text(lang, "mean_outage"), value, labelled_range(ci, a.params.level, lang)))
        value, ci = estimate_text(fit.tail_fraction, unit="pct", lang=lang)
        cards.append(kpi(text(lang, "tail_fraction"), value, labelled_range(ci, a.params.level, lang)))
    parts.append(f'<div class="pm-kpis">{"".join(cards)}</div>')
    if fit is None:
        parts.append(f'<div class="pm-callout">{esc(no_fit_text(a, lang))}</div>')
    gap = declared_gap_sentence(a)
    after = after_declaration_sentence(a.metrics.get("declared_resolved") or {}, lang)
    if gap and after:
        gap += " " + after
    if gap:
        parts.append(f'<div class="pm-callout">{esc(gap)}</div>')
    parts.append(_intervals_line(a))
    return "\n".join(parts)


def _intervals_line(a: Analysis) -> str:
    """What the brackets are, in plain words; how they were computed (bootstrap, QAIC weights) is in Methods."""
    lang = a.params.language
    return f'<p class="pm-meta">{esc(text(lang, "summary_intervals", level=format_percent(a.params.level, 0, lang)))}</p>'


def _place(place: str | None, lang: str) -> str:
    """The place a statement names (a region or the country in the reader's language), or 'no place named'."""
    return area_name(place, lang) if place else text(lang, "no_place")


def _place_suffix(place: str | None, lang: str) -> str:
    """' (Messancy)', or ' (no place named)': appended to a sentence about a statement."""
    return f" ({_place(place, lang)})"


def window_text(start: dt.datetime, until: dt.datetime, tz: str, lang: str) -> str:
    """A statement's window in words: 'Wednesday 10 January 00:00–21:17 CET'."""
    return format_period(start, until, tz, lang)


def curated_summary_parts(a: Analysis) -> list[str]:
    """The executive summary of curated evidence: what the statements show, then the operator's claims.

    Statements picked by newsrooms do not measure how many customers were without
    service, so the summary leads with counts and dates read straight from them (the
    ``curated_summary`` block of metrics.json) and presents the operator's announcements
    as its own statements. Model numbers stay in the exploratory section.
    """
    lang = a.params.language
    parts = [
        f'<div class="pm-kpis">{"".join(_curated_cards(a))}</div>',
        f"<p><b>{esc(text(lang, 'summary_curated_lead'))}</b></p>",
        "<ul>" + "".join(f"<li>{esc(x)}</li>" for x in _curated_facts(a)) + "</ul>",
    ]
    claims = _operator_claims(a)
    if claims:
        parts.append(f"<p>{esc(text(lang, 'operator_claims'))}</p><ul>{claims}</ul>")
    parts.append(f'<div class="pm-callout">{esc(text(lang, "curated_model_pointer"))}</div>')
    return parts


def _curated_facts_of(a: Analysis) -> tuple[dict[str, Any], dt.datetime | None, Any, Any, Any, int]:
    """metrics.json's curated summary, with the declaration time, the last timed and dated statements and the counts after it."""
    facts = a.metrics["curated_summary"]
    declared = dt.datetime.fromisoformat(facts["declared_resolved"]) if facts.get("declared_resolved") else None
    timed, dated = facts.get("last_timed_statement"), facts.get("last_dated_statement")
    after = facts.get("statements_after_declaration")
    return facts, declared, timed, dated, after, facts.get("statements_possibly_after_declaration") or 0


def _curated_cards(a: Analysis) -> list[str]:
    """The tiles: statements, after the declaration, last timed and last dated statement, the declaration."""
    lang, tz = a.params.language, a.incident.timezone
    facts, declared, timed, dated, after, maybe = _curated_facts_of(a)
    when = dt.datetime.fromisoformat
    places = facts.get("municipalities_after_declaration") or 0
    cards = [kpi(text(lang, "kpi_statements"), str(facts["n_statements"]), sub=text(lang, "rows_in", n=a.metrics["n_raw"]))]
    if declared is not None and after is not None:
        sub = text(lang, "kpi_after_declared_sub", places=places, maybe=maybe)
        cards.append(kpi(text(lang, "kpi_after_declared"), str(after), sub=sub))
    last_timed = format_time(when(timed["time"]), tz, lang) if timed else "—"
    cards.append(kpi(text(lang, "kpi_last_timed"), last_timed, sub=_place(timed["place"], lang) if timed else ""))
    last_dated = window_text(when(dated["from"]), when(dated["until"]), tz, lang) if dated else "—"
    cards.append(kpi(text(lang, "kpi_last_dated"), last_dated, sub=_place(dated["place"], lang) if dated else ""))
    if declared is not None:
        at = format_time(declared, tz, lang, with_day=False)
        cards.append(kpi(text(lang, "kpi_declared"), at, sub=text(lang, "kpi_declared_sub")))
    return cards


def _curated_facts(a: Analysis) -> list[str]:
    """The facts under the tiles, as sentences: after the declaration, the last timed and last dated statement."""
    lang, tz = a.params.language, a.incident.timezone
    facts, declared, timed, dated, after, maybe = _curated_facts_of(a)
    when = dt.datetime.fromisoformat
    out = []
    if declared is not None and after is not None:
        at = format_time(declared, tz, lang, with_day=False)
        maybe_text = text(lang, "curated_maybe", n=maybe) if maybe else ""
        out.append(
            text(
                lang,
                "curated_after",
                n=after,
                time=at,
                maybe=maybe_text,
                places=facts.get("municipalities_after_declaration") or 0,
            )
        )
    if timed:
        out.append(
            text(
                lang,
                "curated_last_timed",
                time=format_time(when(timed["time"]), tz, lang),
                place=_place_suffix(timed["place"], lang),
            )
        )
    else:
        out.append(text(lang, "curated_no_timed"))
    if dated:
        window = window_text(when(dated["from"]), when(dated["until"]), tz, lang)
        out.append(text(lang, "curated_last_dated", window=window, place=_place_suffix(dated["place"], lang)))
    else:
        out.append(text(lang, "curated_no_dated"))
    return out


def _operator_claims(a: Analysis) -> str:
    """The operator's announcements as list items: its own words, quoted, with their source."""
    lang, tz = a.params.language, a.incident.timezone
    lis = []
    for c in a.metrics["curated_summary"].get("operator_statements") or []:
        label, label_lang = translated_label(a, c["label"], lang)
        sentence = text(lang, "claim_item", time=format_time(dt.datetime.fromisoformat(c["time"]), tz, lang), label="\x00")
        source = f" ({esc_config(c['source'])})" if c.get("source") else ""
        lis.append(f"<li>{quoted_label(sentence, label, lang, label_lang)}{source}</li>")
    return "".join(lis)


def translated_label(a: Analysis, label: str, lang: str) -> tuple[str, str]:
    """An event label (as metrics.json keeps it, in English) in ``lang`` if written in it: ``(label, its language)``."""
    for e in a.incident.events:
        if e.label == label and e.labels.get(lang):
            return e.labels[lang], lang
    return label, "en"


def quoted_label(sentence: str, label: str | None, lang: str, label_lang: str = "en") -> str:
    """``sentence`` (a NUL character where the label goes) escaped, the analyst's label inside it.

    A label not written in the page's language (labels in ``incident.toml`` are English unless
    translated) is marked with its own ``lang``, so browsers, screen readers and translators
    know what it is.
    """
    label_html = esc(scrub_contacts(label))
    if label_lang != lang:
        label_html = f'<span lang="{esc(label_lang)}">{label_html}</span>'
    return esc(sentence).replace("\x00", label_html)


def after_declaration_sentence(after: dict[str, Any], lang: str = "en") -> str | None:
    """What the reports said after the outage was declared resolved (model-free counts).

    ``after`` is the ``declared_resolved`` block of metrics.json; ``None`` when it has no counts.
    """
    if after.get("reports_after") is None or after.get("last_report_hours_after") is None:
        return None
    maybe = after.get("reports_possibly_after") or 0
    return text(
        lang,
        "after_declared",
        n=after["reports_after"],
        maybe=text(lang, "after_declared_maybe", n=maybe) if maybe else "",
        places=after["municipalities_after"],
        hours=after["last_report_hours_after"],
    )


def declared_gap_sentence(a: Analysis) -> str | None:
    """'Declared resolved at 22:30; an estimated X% [a–b] … still without service …'."""
    lang, inc, fit = a.params.language, a.incident, a.fit
    event = inc.declared_resolved or (inc.announcements[-1] if inc.announcements else None)
    if event is None or fit is None:
        return None
    est = fit.still_affected(event.time)
    last = a.metrics.get("last_report")
    gap = text(
        lang,
        "declared_gap",
        time=format_time(event.time, inc.timezone, lang, with_day=False),
        **dict(zip(("pct", "lo", "hi"), format_percents(est.value, est.low, est.high, lang), strict=True)),
    )
    if last:  # evidence without reports (restorations, a measured series) has no last report
        gap += " " + text(lang, "declared_last", last=format_time(dt.datetime.fromisoformat(last), inc.timezone, lang))
    return gap


def events_html(a: Analysis) -> str:
    """The timeline table (numbered like the figure's markers), in the reader's language where it can be."""
    from analysis.figure_text import CODE_LABELS, translate_text

    lang = a.params.language

    def label(r: dict[str, Any]) -> str:
        # the analyst's labels as written (translated where incident.toml gives them), the code's own in the reader's language
        own = r["origin"] == "config" and r["label"] not in CODE_LABELS  # "Onset (configured)" is the code's words
        return scrub_contacts(r["label"]) if own else translate_text(r["label"], lang)

    def word(prefix: str, value: str | None) -> str:
        key = f"{prefix}_{value}"
        return text(lang, key) if value and key in TEXT["en"] else (value or "")

    rows = [
        (
            i,
            (format_date if r.get("date_only") else format_time)(r["time"], a.incident.timezone, lang),
            label(r),
            word("kind", r["kind"]),
            r["source"] or word("origin", r["origin"]),
        )
        for i, r in enumerate(events_in(a.events, lang).iter_rows(named=True), start=1)
    ]
    return table(["#", text(lang, "time"), text(lang, "event"), text(lang, "kind"), text(lang, "source")], rows)
