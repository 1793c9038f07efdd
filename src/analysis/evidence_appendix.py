"""The evidence appendix: every statement with its source, a sources key, conflicting accounts.

One definition of a *report* holds on the page and in the index: a row whose status says
service was out (down, intermittent or partial, :data:`analysis.timeline.DOWN_STATUSES`)
about the incident's own service (``[postmortem] service``; a row naming no service counts);
the other rows (service kept or restored, another service) are statements too, and the
appendix lists all.
Every value shown comes from the data or ``incident.toml`` and goes through
:mod:`analysis.privacy` (``scrub_text`` for free text, ``scrub_place`` for places, ``esc``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import polars as pl

from analysis.facts import service_reports
from analysis.figure_text import area_name
from analysis.i18n import TEXT, format_period, format_time, text
from analysis.narrative import heading
from analysis.postmortem import PostMortem, Reference
from analysis.postmortem_report import cite, say, source_anchor
from analysis.privacy import esc, scrub_contacts, scrub_label, scrub_place, scrub_text
from analysis.timeline import DOWN_STATUSES

if TYPE_CHECKING:
    from analysis.pipeline import Analysis

_URL = re.compile(r"https?://[^\s<>\"']+$")
#: Most statements listed one by one; beyond, the table lists the first ones and says so.
MAX_ROWS = 300


def report_counts(reports: pl.DataFrame, services: tuple[str, ...] = ()) -> dict[str, int]:
    """Statements, reports (service out) and the rest, by the one definition used everywhere.

    With ``services`` (the incident's ``[postmortem] service``) a report is also about one of
    them or names none; ``other_service`` counts the statements about another service (listed,
    not counted), ``other`` those saying service was kept or restored.
    """
    n = reports.height
    if not n:
        return {"statements": 0, "reports": 0, "other_service": 0, "other": 0}
    own = service_reports(reports, services)
    down = int(own["status"].is_in(list(DOWN_STATUSES)).fill_null(False).sum())
    return {"statements": n, "reports": down, "other_service": n - own.height, "other": own.height - down}


def link(url: str | None) -> str:
    """An http(s) address as an escaped link; anything else as escaped text (never a live link)."""
    if not url:
        return ""
    url = url.strip()
    if not _URL.match(url):
        return esc(scrub_contacts(url))
    short = re.sub(r"^https?://(www\.)?", "", url)
    short = short if len(short) <= 48 else short[:45] + "…"
    return f'<a href="{esc(url)}" rel="noopener noreferrer">{esc(short)}</a>'


def references(pm: PostMortem, reports: pl.DataFrame) -> list[Reference]:
    """The sources key: the configured references, plus any id the rows cite that they lack."""
    refs = {r.id: r for r in pm.references}
    if reports.height and "source_ref" in reports.columns:
        cols = [c for c in ("source_ref", "outlet", "url") if c in reports.columns]
        for row in reports.select(cols).unique(subset="source_ref", keep="first", maintain_order=True).iter_rows(named=True):
            for sid in re.split(r"\s*[,;]\s*", row["source_ref"] or ""):
                if sid and sid not in refs:
                    refs[sid] = Reference(id=sid, outlet=row.get("outlet") or "—", url=row.get("url"))
    return sorted(refs.values(), key=lambda r: (re.sub(r"\d+", "", r.id), int(re.sub(r"\D", "", r.id) or 0), r.id))


def _when(row: dict[str, Any], tz: str, lang: str) -> str:
    start, until = row.get("reported_at"), row.get("reported_until")
    if start is None:
        return "—"
    if until is None or until == start:
        return format_time(start, tz, lang)
    return format_period(start, until, tz, lang)


def _place(row: dict[str, Any], lang: str) -> str:
    raw = scrub_place(row.get("place_raw"))
    resolved = row.get("municipality")
    if not raw:
        return esc(text(lang, "no_place"))
    if row.get("area_level") in ("province", "region", "country"):
        return esc(area_name(raw, lang))
    if resolved and resolved != raw and raw not in resolved:
        return f"{esc(raw)} → {esc(resolved)}"
    return esc(raw)


def _value_label(lang: str, prefix: str, value: str | None) -> str:
    """The translated name of a known service/status value; an unknown one as written, scrubbed."""
    if not value:
        return "—"
    key = f"{prefix}{value}"
    if key in TEXT.get(lang, {}) or key in TEXT["en"]:
        return text(lang, key)
    return scrub_label(value) or "—"


def statements_table(a: Analysis) -> str:
    """Every statement, in time order: when, where, service, status, source, outlet, URL."""
    lang, tz = a.params.language, a.incident.timezone
    reports: pl.DataFrame = a.data.reports
    cols = [c for c in ("reported_at", "reported_until", "report_id") if c in reports.columns]
    # the row's own words only for statements a newsroom published (paraphrased in the data);
    # people's free-text reports stay off the page (they are scrubbed, but not published)
    show_text = lang == "en" and getattr(a, "curated", False)
    rows = []
    for i, r in enumerate(reports.sort(cols, nulls_last=True).head(MAX_ROWS).iter_rows(named=True), start=1):
        cells = [
            str(i),
            esc(_when(r, tz, lang)),
            _place(r, lang),
            esc(_value_label(lang, "svc_", r.get("service"))),
            esc(_value_label(lang, "st_", r.get("status"))),
        ]
        if show_text:  # the paraphrases are written in English: the other pages show the structured fields
            cells.append(esc(scrub_text(r.get("text")) or ""))
        cells += [
            cite(r.get("source_ref")) or esc(r.get("source") or ""),
            esc(scrub_contacts(r.get("outlet")) or ""),
            link(r.get("url")),
        ]
        rows.append(cells)
    headers = ["#", text(lang, "time"), text(lang, "ev_place"), text(lang, "ev_service"), text(lang, "ev_status")]
    if show_text:
        headers.append(text(lang, "ev_statement"))
    headers += [text(lang, "source"), text(lang, "ev_outlet"), "URL"]
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    more = ""
    if reports.height > MAX_ROWS:
        more = f'<p class="pm-meta">{esc(text(lang, "ev_more", shown=MAX_ROWS, n=reports.height))}</p>'
    return f'<div class="pm-scroll"><table class="pm-evidence"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{more}'


def sources_key(a: Analysis) -> str:
    """One row per source id (anchored, so citations link here): outlet, language, date, URL, statements."""
    lang = a.params.language
    reports: pl.DataFrame = a.data.reports
    counts: dict[str, int] = {}
    if reports.height and "source_ref" in reports.columns:
        for ref in reports["source_ref"].drop_nulls().to_list():
            for sid in re.split(r"\s*[,;]\s*", ref):
                counts[sid] = counts.get(sid, 0) + 1
    rows = []
    for r in references(a.incident.postmortem, reports):
        rows.append(
            f'<tr id="{esc(source_anchor(r.id))}"><td>{esc(r.id)}</td><td>{esc(scrub_contacts(r.outlet))}</td>'
            f"<td>{esc((r.language or '').upper())}</td><td>{esc(scrub_contacts(r.published) or '—')}</td>"
            f"<td>{counts.get(r.id, 0)}</td><td>{link(r.url)}</td></tr>"
        )
    if not rows:
        return ""
    headers = ["ID", text(lang, "ev_outlet"), text(lang, "ev_language"), text(lang, "ev_published"), text(lang, "ev_n"), "URL"]
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f'<h3 id="sources-key">{esc(text(lang, "ev_sources_key"))}</h3><table class="pm-sources"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def conflicts_table(a: Analysis) -> str:
    """Each question the sources answer differently, with every account in its own column."""
    lang = a.params.language
    conflicts = a.incident.postmortem.conflicts
    if not conflicts:
        return ""
    width = max(len(c.accounts) for c in conflicts)
    rows = []
    for c in conflicts:
        cells = [f"<th scope='row'>{say(c.topic, lang)}</th>"]
        for acc in c.accounts:
            cells.append(f'<td>{say(acc.says, lang)} <span class="pm-meta">({cite(acc.source)})</span></td>')
        cells += ["<td></td>"] * (width - len(c.accounts))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = f"<th>{esc(text(lang, 'ev_question'))}</th>" + "".join(
        f"<th>{esc(text(lang, 'ev_account', n=i))}</th>" for i in range(1, width + 1)
    )
    return (
        f'<h3 id="conflicts">{esc(text(lang, "ev_conflicts"))}</h3><p>{esc(text(lang, "ev_conflicts_intro"))}</p>'
        f'<table class="pm-conflicts"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def appendix(a: Analysis) -> list[str]:
    """The evidence appendix: counts by the one definition, statements, sources key, conflicts."""
    reports = getattr(getattr(a, "data", None), "reports", None)
    if reports is None or reports.height == 0:
        return []
    lang = a.params.language
    counts = report_counts(reports, tuple(getattr(a, "services", ())))
    line = text(lang, "ev_counts", **counts)
    if counts["other_service"]:
        line += " " + text(lang, "ev_counts_other_service", n=counts["other_service"])
    parts = [
        heading("evidence", text(lang, "ev_title")),
        f"<p>{esc(line)}</p>",
        statements_table(a),
        sources_key(a),
        conflicts_table(a),
    ]
    return ["\n".join(p for p in parts if p)]


__all__ = ["appendix", "references", "report_counts"]
