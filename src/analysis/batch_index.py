"""What a render-all run leaves for people and machines: ``index.html``, ``index.json``, the summary table.

Every incident with its status, last good run, headline numbers (with the declared-vs-observed
gap) and links to its pages; the same as JSON; and the plain-text table the log and the
terminal show. :mod:`analysis.batch` runs the renders and calls these at the end of a run.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from analysis.report import RenderResult, read_manifest
from analysis.triage import evidence_kind, headline, incident_date, language_pages, quality_flag

#: Shown instead of t50/t90 when the evidence is curated statements (metrics ``curated_summary``).
CURATED_CELL = "n/a (curated)"


@dataclass
class BatchSummary:
    """The outcome of a render-all run.

    Attributes
    ----------
    results
        One :class:`RenderResult` per incident folder, in folder order.
    run_id
        The run id shared by every render of this batch (it is in each manifest).
    started, finished
        UTC start and end of the batch.
    out_root
        The reports root (holding ``index.html`` and ``render-all.log``).
    """

    results: list[RenderResult] = field(default_factory=list)
    run_id: str = ""
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    out_root: Path | None = None

    @property
    def ok(self) -> bool:
        """True when no incident failed (skipped incidents count as up to date)."""
        return all(r.status != "failed" for r in self.results)

    def counts(self) -> dict[str, int]:
        """Number of incidents per status."""
        out = {"ok": 0, "skipped": 0, "failed": 0}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out


def write_index(summary: BatchSummary, out_root: Path) -> Path:
    """``<out>/index.html``: every incident, its status, last good run, headline numbers and links.

    Offline (inline style, no script, no external resource); every value escaped.
    """
    rows = [_index_row(r, out_root) for r in summary.results]
    counts = summary.counts()
    started = _fmt_time(summary.started)
    head = (
        f"Run <code>{_e(summary.run_id)}</code> started {_e(started)} UTC: {counts['ok']} rendered, "
        f"{counts['skipped']} unchanged (skipped), {counts['failed']} failed."
    )
    style = (
        "body{font-family:system-ui,sans-serif;color:#1f2933;max-width:1200px;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse;width:100%;font-size:14px}th,td{padding:.4rem .6rem;border-bottom:1px solid #e4e7eb;"
        "text-align:left;vertical-align:top}th{background:#f5f7fa}td.num{text-align:right;white-space:nowrap}"
        ".st{font-weight:600;padding:.1rem .4rem;border-radius:4px}.st-ok{background:#e3f9e5;color:#1f6e2a}"
        ".st-skipped{background:#eef2f7;color:#3e4c59}.st-failed{background:#fde8e8;color:#9b1c1c}"
        ".q{font-weight:600;padding:.1rem .4rem;border-radius:4px}.q-good{background:#e3f9e5;color:#1f6e2a}"
        ".q-caution{background:#fff3c4;color:#8d2b0b}.q-poor{background:#fde8e8;color:#9b1c1c}"
        ".muted{color:#616e7c;font-size:12px}.err{color:#9b1c1c;font-size:13px}a{margin-right:.5rem}"
    )
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        "<meta name='generator' content='outage-postmortem'>"
        f"<title>Outage post-mortems</title><style>{style}</style></head><body>"
        f"<h1>Outage post-mortems</h1><p>{head}</p>"
        "<table><thead><tr><th>Incident (date · evidence)</th><th>Status</th><th>Last good report (UTC)</th><th>Reports</th>"
        "<th>t50</th><th>t90</th><th title='Estimated share of affected customers still without service when the "
        "outage was declared resolved'>Still affected when declared resolved</th><th>Data quality</th>"
        "<th>Report (per language) and files</th><th>Note</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        "<p class='muted'>Data quality: good, caution (the report's numbers need its caveats) or poor (no "
        "usable curve), with the reasons. Reports: statements or reports saying service was out, as counted in "
        "each report's summary. t50 / t90: time after onset until 50 % / 90 % of affected customers had service again, "
        f"with the report's interval in brackets (a 90 % range unless the report sets another level); {CURATED_CELL}: the evidence is statements picked by newsrooms, whose timing does "
        "not measure restoration (the report shows what they say instead). Skipped: inputs, parameters, notebook and code unchanged since the last good report.</p>"
        "</body></html>\n"
    )
    return _atomic_write(out_root / "index.html", page)


def _index_row(r: RenderResult, out_root: Path) -> str:
    folder = out_root / r.incident_id
    good = read_manifest(folder) or {}
    failed = read_manifest(folder / "failed") if (folder / "failed").is_dir() else None
    metrics = read_metrics(folder) if good.get("status") == "ok" else {}
    gap, gap_source = declared_gap(metrics)
    t50, t90 = headline(metrics, "t50"), headline(metrics, "t90")
    curated = metrics.get("curated_summary")
    if isinstance(curated, dict):  # statements picked by newsrooms: no model reading is a restoration time
        t50 = t90 = CURATED_CELL
        after = curated.get("statements_after_declaration")
        gap = "" if after is None else f"{after} statements after"
        gap_source = "curated statements: counted, not estimated"
    title = r.title or ""
    incident = f"<strong>{_e(r.incident_id)}</strong>" + (f"<br><span class='muted'>{_e(title)}</span>" if title else "")
    facts = " · ".join(x for x in (incident_date(metrics), evidence_kind(metrics)) if x)
    if facts:
        incident += f"<br><span class='muted'>{_e(facts)}</span>"
    quality = ""
    if metrics:
        level, reasons = quality_flag(metrics)
        quality = f"<span class='q q-{_e(level)}'>{_e(level)}</span>" + "".join(
            f"<br><span class='muted'>{_e(x)}</span>" for x in reasons
        )
    last = "—"
    if good.get("status") == "ok":
        last = f"{_e(_fmt_time(parse_time(good.get('finished'))))}<br><span class='muted'>{_e(good.get('run_id'))}</span>"
    links = []
    base = quote(r.incident_id)
    if good.get("status") in ("ok", "unusable"):
        files = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
        pages = language_pages(good, files)
        for lang, name, page in pages:
            links.append(f"<a href='{_e(base)}/{page}' hreflang='{lang}' lang='{lang}'>{_e(name)}</a>")
        if not pages and "postmortem.html" in files:
            links.append(f"<a href='{_e(base)}/postmortem.html'>report</a>")
        for name, label in (("metrics.json", "metrics"), ("manifest.json", "manifest")):
            if name in files:
                links.append(f"<a href='{_e(base)}/{name}'>{label}</a>")
    if failed is not None:
        links.append(f"<a href='{_e(base)}/failed/error.txt'>error</a>")
        if (folder / "failed" / "postmortem.ipynb").is_file():
            links.append(f"<a href='{_e(base)}/failed/postmortem.ipynb'>partial notebook</a>")
    note = ""
    if r.status == "failed":
        note = f"<span class='err'>{_e(r.error or 'failed')}</span>"
        if good.get("status") == "ok":
            note += "<br><span class='muted'>The report linked here is the last good one.</span>"
    elif r.status == "skipped" and failed is not None:
        note = f"<span class='muted'>An earlier attempt failed ({_e(failed.get('run_id'))}): {_e(failed.get('error'))}</span>"
    elif r.reason:
        note = f"<span class='muted'>{_e(r.reason)}</span>"
    cells = [
        f"<td>{incident}</td>",
        f"<td><span class='st st-{_e(r.status)}'>{_e(r.status)}</span></td>",
        f"<td>{last}</td>",
        f"<td class='num'>{_e(_count(report_count(metrics)))}</td>",
        f"<td class='num'>{_e(t50)}</td>",
        f"<td class='num'>{_e(t90)}</td>",
        f"<td class='num' title='{_e(gap_source)}'>{_e(gap)}</td>",
        f"<td>{quality}</td>",
        f"<td>{''.join(links)}</td>",
        f"<td>{note}</td>",
    ]
    return f"<tr id='{_e(r.incident_id)}'>{''.join(cells)}</tr>"


def write_index_json(summary: BatchSummary, out_root: Path) -> Path:
    """``<out>/index.json``: the batch outcome for machines (an Airflow task, a monitor)."""
    doc = {
        "run_id": summary.run_id,
        "started": _fmt_time(summary.started, iso=True),
        "finished": _fmt_time(summary.finished, iso=True),
        "ok": summary.ok,
        "counts": summary.counts(),
        "incidents": [
            {
                "incident_id": r.incident_id,
                "status": r.status,
                "error": r.error,
                "reason": r.reason,
                "seconds": round(r.seconds, 2),
                "fingerprint": r.fingerprint,
                "report": f"{r.incident_id}/postmortem.html"
                if (out_root / r.incident_id / "postmortem.html").is_file()
                else None,
            }
            for r in summary.results
        ],
    }
    return _atomic_write(out_root / "index.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def summary_table(summary: BatchSummary) -> str:
    """The terminal summary: one line per incident, then the totals."""
    header = ("incident", "status", "time", "reports", "t50", "t90", "note")
    rows = []
    for r in summary.results:
        rec = r.metrics.get("recovery") or {}
        curated = isinstance(r.metrics.get("curated_summary"), dict)
        note = r.error if r.status == "failed" else (r.reason if r.status == "skipped" else "")
        rows.append(
            (
                r.incident_id,
                r.status,
                f"{r.seconds:.1f} s" if r.status != "skipped" else "—",
                _count(report_count(r.metrics)),
                CURATED_CELL if curated else _minutes(rec.get("t50_minutes")),
                CURATED_CELL if curated else _minutes(rec.get("t90_minutes")),
                _shorten(note or "", 90),
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    widths[-1] = 0
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in (header, *rows)]
    c = summary.counts()
    took = (summary.finished - summary.started).total_seconds() if summary.finished and summary.started else 0.0
    lines.append(
        f"{len(summary.results)} incident(s): {c['ok']} ok, {c['skipped']} skipped, {c['failed']} failed in {took:.1f} s"
    )
    return "\n".join(lines)


def report_count(metrics: dict[str, Any]) -> Any:
    """The page's one definition of a report (the summary's count), for the index.

    For down reports, those saying service was out (``n_down_reports``); for other evidence,
    the records kept.
    """
    if metrics.get("evidence") == "down_reports" and metrics.get("n_down_reports") is not None:
        return metrics["n_down_reports"]
    return metrics.get("n_reports")


def read_metrics(folder: Path) -> dict[str, Any]:
    """A report folder's ``metrics.json`` ({} when absent or unreadable)."""
    try:
        data = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO time from a manifest or metrics.json (None when absent or unreadable)."""
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _fmt_time(t: dt.datetime | None, *, iso: bool = False) -> str:
    if t is None:
        return "—" if not iso else ""
    t = t.astimezone(dt.UTC)
    return t.isoformat(timespec="seconds") if iso else f"{t:%Y-%m-%d %H:%M}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _count(value: Any) -> str:
    v = _number(value)
    return "" if v is None else f"{v:.0f}"


def _minutes(value: Any, ci: Any = None) -> str:
    v = _number(value)
    if v is None:
        return ""
    text = f"{v:.0f} min"
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(_number(x) is not None for x in ci):
        text += f" [{float(ci[0]):.0f}–{float(ci[1]):.0f}]"
    return text


def declared_gap(metrics: dict[str, Any]) -> tuple[str, str]:
    """Share still without service when the outage was declared resolved: ``(text, source)``.

    From ``metrics["declared_resolved"]`` when present; otherwise, like the report's
    summary, from the last announcement with an estimate (``source`` then says which).
    Empty text when the metrics hold neither.
    """
    block = metrics.get("declared_resolved")
    source = "declared resolved"
    if not isinstance(block, dict) or _number(block.get("still_affected")) is None:
        announced = [a for a in metrics.get("announcements") or [] if isinstance(a, dict)]
        announced = [a for a in announced if _number(a.get("still_affected")) is not None]
        if not announced:
            return "", ""
        block = announced[-1]
        source = f"at the last announcement ({block.get('time') or '?'}): {block.get('label') or ''}".strip()
    v = float(block["still_affected"])
    text = f"{100 * v:.0f} %"
    ci = block.get("still_affected_ci")
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(_number(x) is not None for x in ci):
        text += f" [{100 * float(ci[0]):.0f}–{100 * float(ci[1]):.0f}]"
    return text, source


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _shorten(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _atomic_write(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
