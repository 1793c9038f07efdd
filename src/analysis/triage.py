"""The index as a triage view: per incident, what a reader needs to pick a report to open.

Incident date, evidence kind, a data-quality flag with its reasons, headline numbers
formatted for people (durations, not raw minutes) and a link per language. Everything is
read from a report's ``metrics.json`` and ``manifest.json``; every value is escaped by the
caller (:mod:`analysis.batch`).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from analysis.catalogues import catalogue, languages
from analysis.i18n import format_duration
from analysis.languages import page_name

#: Evidence kinds in words.
EVIDENCE = {
    "down_reports": "user reports",
    "restorations": "restoration records",
    "online_fraction": "measured series",
}
#: Share of rejected input rows above which the data are flagged.
REJECTED_WARN = 0.05


def incident_date(metrics: dict[str, Any]) -> str:
    """The local date of the onset (or of the first report): '2018-01-08'; '' when unknown."""
    for key in ("onset", "first_report"):
        value = metrics.get(key)
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value).date().isoformat()
            except ValueError:
                continue
    return ""


def evidence_kind(metrics: dict[str, Any]) -> str:
    """'press statements (curated)', 'user reports', 'measured series'… ('' when unknown)."""
    kind = EVIDENCE.get(str(metrics.get("evidence") or ""), "")
    if metrics.get("evidence_sampling") == "curated":
        kind = "statements picked by newsrooms (curated)"
    if metrics.get("simulated"):
        kind = f"{kind}, simulated" if kind else "simulated"
    return kind


def quality_flag(metrics: dict[str, Any]) -> tuple[str, list[str]]:
    """``('good' | 'caution' | 'poor', reasons)`` from what metrics.json says about the data."""
    reasons: list[str] = []
    poor = False
    if metrics.get("recovery_error"):
        poor = True
        reasons.append("no recovery curve could be fitted")
    if metrics.get("evidence_sampling") == "curated":
        reasons.append("the timing of statements does not measure restoration")
    n_raw = metrics.get("n_raw") or 0
    rejected = metrics.get("n_rejected") or 0
    if n_raw and rejected / n_raw > REJECTED_WARN:
        reasons.append(f"{rejected} of {n_raw} rows rejected")
    if metrics.get("n_unresolved_place"):
        reasons.append(f"{metrics['n_unresolved_place']} places not found")
    if metrics.get("misfits"):
        reasons.append(f"{len(metrics['misfits'])} burst(s) the model misses")
    if metrics.get("simulated"):
        reasons.append("simulated data")
    if poor:
        return "poor", reasons
    serious = [r for r in reasons if r != "simulated data" and "places not found" not in r]
    return ("caution" if serious else "good"), reasons


def _duration(value: Any) -> str:
    return format_duration(float(value)) if isinstance(value, (int, float)) and math.isfinite(value) else ""


def headline(metrics: dict[str, Any], key: str) -> str:
    """A recovery milestone as a duration with its interval: '12 hr 32 min [2 hr 6 min–23 hr 56 min]'."""
    rec = metrics.get("recovery") or {}
    value = _duration(rec.get(f"{key}_minutes"))
    ci = rec.get(f"{key}_minutes_ci")
    if value and isinstance(ci, (list, tuple)) and len(ci) == 2 and all(_duration(x) for x in ci):
        value += f" [{_duration(ci[0])}–{_duration(ci[1])}]"
    return value


def language_pages(manifest: dict[str, Any], files: set[str]) -> list[tuple[str, str, str]]:
    """``(language, its name, file)`` for each page of the report that exists."""
    pages = manifest.get("pages") or {}
    out = []
    for lang in languages():
        name = pages.get(lang) if isinstance(pages, dict) else None
        name = name if name == page_name(lang) else None  # never a path the manifest could point elsewhere
        if name is None and lang == "en" and "postmortem.html" in files and not pages:
            name = "postmortem.html"  # a report from before the language pages
        if name and name in files:
            out.append((lang, catalogue(lang).name, name))
    return out
