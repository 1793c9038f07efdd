"""Render every incident of a folder; one failure never stops the others.

Writes ``<out>/index.html`` listing every incident with its status and key metrics.
"""

from __future__ import annotations

import html
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.config import find_incidents
from analysis.errors import AnalysisError
from analysis.report import RenderResult, render


@dataclass
class BatchSummary:
    """The outcome of a render-all run."""

    results: list[RenderResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no incident failed."""
        return all(r.status != "failed" for r in self.results)


def render_all(
    data_dir: str | Path,
    *,
    out_root: str | Path = "reports",
    overrides: dict[str, Any] | None = None,
    jobs: int = 1,
    timeout: float | None = None,
    force: bool = False,
    quiet: bool = False,
) -> BatchSummary:
    """Render each incident folder under ``data_dir`` into ``out_root`` and write the index."""
    out_root = Path(out_root)
    summary = BatchSummary()
    for folder in find_incidents(data_dir):
        try:
            result = render(folder, out_root=out_root, overrides=overrides, timeout=timeout)
        except AnalysisError as exc:
            result = RenderResult(folder.name, "failed", out_root / folder.name, error=str(exc))
        summary.results.append(result)
        if not quiet:
            line = f"{result.incident_id:<40} {result.status:<8} {result.seconds:6.1f} s"
            print(line + (f"  {result.error}" if result.error else ""), file=sys.stderr)
    write_index(summary, out_root)
    return summary


def write_index(summary: BatchSummary, out_root: Path) -> Path:
    """A small offline page listing every incident, its status and its headline numbers."""
    rows = []
    for r in summary.results:
        metrics = r.metrics
        if not metrics and (r.out_dir / "metrics.json").is_file():
            metrics = json.loads((r.out_dir / "metrics.json").read_text(encoding="utf-8"))
        rec = metrics.get("recovery") or {}
        link = (
            f'<a href="{html.escape(r.out_dir.name)}/postmortem.html">report</a>'
            if (r.out_dir / "postmortem.html").is_file()
            else ""
        )
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{c}</td>"
                for c in (
                    html.escape(r.incident_id),
                    html.escape(r.status),
                    html.escape(str(metrics.get("n_reports", ""))),
                    html.escape(_minutes(rec.get("t50_minutes"))),
                    html.escape(_minutes(rec.get("t90_minutes"))),
                    link,
                    html.escape(r.error or ""),
                )
            )
            + "</tr>"
        )
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Outage post-mortems</title>"
        "<style>body{font-family:sans-serif;max-width:1000px;margin:2rem auto}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}</style>"
        "</head><body><h1>Outage post-mortems</h1><table><thead><tr><th>incident</th><th>status</th><th>reports</th>"
        "<th>t50</th><th>t90</th><th>report</th><th>error</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></body></html>"
    )
    out_root.mkdir(parents=True, exist_ok=True)
    path = out_root / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _minutes(value: Any) -> str:
    return "" if value is None else f"{float(value):.0f} min"
