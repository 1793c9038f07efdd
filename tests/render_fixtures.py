"""A tiny incident folder for the render and batch tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

CSV = "time,town,minutes\n2018-01-08 20:05,Evere,10\n2018-01-08 20:10,Gent,30\n2018-01-08 20:20,Liège,50\n"
BROKEN_CSV = "time,town,minutes\n2018-01-08 20:05,Evere,soon\n"


def write_incident(root: Path, incident_id: str, *, csv: str = CSV, action: str | None = None, title: str = "Test") -> Path:
    folder = root / incident_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "incident.toml").write_text(
        textwrap.dedent(
            f"""\
            id = "{incident_id}"
            title = "{title}"
            timezone = "Europe/Brussels"
            [[sources]]
            path = "reports.csv"
            kind = "down_reports"
            [sources.columns]
            reported_at = "time"
            place = "town"
            """
        ),
        encoding="utf-8",
    )
    (folder / "reports.csv").write_text(csv, encoding="utf-8")
    if action is not None:
        (folder / "action.txt").write_text(action, encoding="utf-8")
    return folder
