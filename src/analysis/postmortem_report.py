"""The post-mortem's written sections on the page: status, root cause, resolution, follow-up.

Everything shown here was typed by the reviewers in ``incident.toml`` (see
:mod:`analysis.postmortem`); it is escaped and stripped of contact details
(:func:`analysis.privacy.scrub_contacts`, :func:`analysis.privacy.esc`) like every other
configured text. Sources (``S1, S5``) link to the sources key of the evidence appendix.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from analysis.i18n import format_date, format_time, text
from analysis.narrative import heading
from analysis.postmortem import LESSON_KINDS, Item, PostMortem, Text, When, pick
from analysis.privacy import esc, scrub_contacts

if TYPE_CHECKING:
    from analysis.pipeline import Analysis

_SOURCE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,15}")


def source_anchor(source_id: str) -> str:
    """The id of a source's row in the sources key."""
    return "source-" + re.sub(r"[^A-Za-z0-9_-]", "-", source_id)


def cite(source: str | None) -> str:
    """``'S1, S5'`` as escaped links to the sources key; anything else escaped as text."""
    if not source:
        return ""
    parts = []
    for token in re.split(r"(\s*[,;]\s*)", scrub_contacts(source) or ""):
        if _SOURCE_ID.fullmatch(token.strip() or "-"):
            parts.append(f'<a href="#{esc(source_anchor(token.strip()))}">{esc(token.strip())}</a>')
        else:
            parts.append(esc(token))
    return "".join(parts)


_CITATION = re.compile(r"\(([A-Za-z][A-Za-z0-9_-]{0,15}(?:, [A-Za-z][A-Za-z0-9_-]{0,15})*)\)")


def link_citations(html: str, known: set[str]) -> str:
    """``(S1, S5)`` in escaped prose as links to the sources key, when every id in it is a known source.

    The analyst's summary cites its facts the way the tables do; an aside in brackets that is
    not a list of known source ids ("(Brussels)") stays as written.
    """

    def link(m: re.Match[str]) -> str:
        ids = m.group(1).split(", ")
        if not all(i in known for i in ids):
            return m.group(0)
        return "(" + ", ".join(f'<a href="#{esc(source_anchor(i))}">{esc(i)}</a>' for i in ids) + ")"

    return _CITATION.sub(link, html)


def say(value: Text | None, lang: str) -> str:
    """A configured text in the reader's language, scrubbed and escaped."""
    return esc(scrub_contacts(pick(value, lang)))


def when_text(when: When | None, tz: str, lang: str) -> str:
    """A day when only the day is known, else the local time; an en dash when missing."""
    if when is None:
        return "—"
    return format_date(when.time, tz, lang) if when.date_only else format_time(when.time, tz, lang)


def _html_table(headers: list[str], rows: list[list[str]], css: str = "") -> str:
    """A table whose cells are already escaped HTML (headers are escaped here)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{esc(css)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _items(items: tuple[Item, ...], lang: str) -> str:
    """A bullet list of items, each with its sources."""
    lis = []
    for item in items:
        src = f' <span class="pm-meta">({cite(item.source)})</span>' if item.source else ""
        lis.append(f"<li>{say(item.text, lang)}{src}</li>")
    return f"<ul>{''.join(lis)}</ul>"


def status_box(pm: PostMortem, lang: str) -> str:
    """Status, severity and owners in one box under the title ('' when none is written)."""
    rows = []
    if pm.status:
        rows.append((text(lang, "pm_status"), esc(text(lang, f"pm_status_{pm.status}"))))
    if pm.severity:
        note = f" — {say(pm.severity_note, lang)}" if pm.severity_note else ""
        rows.append((text(lang, "pm_severity"), esc(scrub_contacts(pm.severity)) + note))
    if pm.owners:
        rows.append((text(lang, "pm_owners"), "; ".join(say(o, lang) for o in pm.owners)))
    cause = pm.current_cause
    if cause is not None:
        rows.append((text(lang, "pm_cause"), f"{say(cause.statement, lang)} ({cite(cause.source)})"))
    if not rows:
        return ""
    items = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<dl class="pm-status">{items}</dl>'


def cause_section(pm: PostMortem, tz: str, lang: str) -> str:
    """Root cause as stated over time, the trigger and the contributing factors."""
    if not (pm.root_causes or pm.trigger or pm.contributing_factors):
        return ""
    parts = [heading("root-cause", text(lang, "pm_root_cause"))]
    if pm.root_causes:
        current = pm.current_cause
        rows = []
        for c in pm.root_causes:
            mark = text(lang, "pm_current") if c is current else text(lang, "pm_superseded")
            rows.append(
                [esc(when_text(c.when, tz, lang)), say(c.statement, lang), say(c.stated_by, lang), cite(c.source), esc(mark)]
            )
        parts.append(f"<p>{esc(text(lang, 'pm_causes_intro'))}</p>")
        parts.append(
            _html_table(
                [text(lang, "pm_date"), text(lang, "pm_statement"), text(lang, "pm_stated_by"), text(lang, "source"), ""],
                rows,
            )
        )
    if pm.trigger:
        src = f' <span class="pm-meta">({cite(pm.trigger.source)})</span>' if pm.trigger.source else ""
        parts.append(f"<h3>{esc(text(lang, 'pm_trigger'))}</h3><p>{say(pm.trigger.text, lang)}{src}</p>")
    if pm.contributing_factors:
        parts.append(f"<h3>{esc(text(lang, 'pm_factors'))}</h3>{_items(pm.contributing_factors, lang)}")
    return "\n".join(parts)


def resolution_section(pm: PostMortem, tz: str, lang: str) -> str:
    """What was done to restore service, in order (the announcements are on the timeline)."""
    if not pm.resolution:
        return ""
    rows = [[esc(when_text(s.when, tz, lang)), say(s.step, lang), cite(s.source)] for s in pm.resolution]
    return "\n".join(
        [
            heading("resolution", text(lang, "pm_resolution")),
            f"<p>{esc(text(lang, 'pm_resolution_intro'))}</p>",
            _html_table([text(lang, "time"), text(lang, "pm_step"), text(lang, "source")], rows),
        ]
    )


def followup_section(pm: PostMortem, tz: str, lang: str) -> str:
    """Action items, lessons (went well / went wrong / got lucky) and open questions."""
    parts = []
    if pm.action_items:
        rows = [
            [
                say(x.action, lang),
                say(x.owner, lang),
                esc(text(lang, f"pm_priority_{x.priority}")),
                esc(text(lang, f"pm_action_{x.status}")),
                esc(when_text(x.due, tz, lang)) if x.due else "—",
                cite(x.source),
            ]
            for x in pm.action_items
        ]
        parts.append(heading("action-items", text(lang, "pm_actions")))
        parts.append(
            _html_table(
                [
                    text(lang, "pm_action"),
                    text(lang, "pm_owner"),
                    text(lang, "pm_priority"),
                    text(lang, "pm_status"),
                    text(lang, "pm_due"),
                    text(lang, "source"),
                ],
                rows,
            )
        )
    if any(pm.lessons.get(k) for k in LESSON_KINDS):
        parts.append(heading("lessons", text(lang, "pm_lessons")))
        for kind in LESSON_KINDS:
            if pm.lessons.get(kind):
                parts.append(f"<h3>{esc(text(lang, f'pm_{kind}'))}</h3>{_items(pm.lessons[kind], lang)}")
    if pm.open_questions:
        parts.append(heading("open-questions", text(lang, "pm_questions")))
        parts.append(_items(pm.open_questions, lang))
    return "\n".join(parts)


def written_parts(a: Analysis, which: str) -> list[str]:
    """One of the written parts of ``a``'s post-mortem as page parts (empty when not written)."""
    pm: PostMortem = a.incident.postmortem
    lang, tz = a.params.language, a.incident.timezone
    html = {
        "status": lambda: status_box(pm, lang),
        "cause": lambda: cause_section(pm, tz, lang),
        "resolution": lambda: resolution_section(pm, tz, lang),
        "followup": lambda: followup_section(pm, tz, lang),
    }[which]()
    return [html] if html else []


__all__ = ["cite", "source_anchor", "written_parts"]
