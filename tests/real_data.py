"""Where the real third-party series live (EAGLE-I, CC BY 4.0), and incident folders written from them.

The files stay outside the repository (``../shared/data/real`` beside the checkout, or
``$POSTMORTEM_REAL_DATA``). Missing files fail the test under CI (where they must be) and
skip it elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BERYL = "eaglei_outages_2024_harris_beryl.csv"
VOLUSIA = "eaglei_2022_ian_volusia_fl.csv"
CHARLOTTE = "eaglei_2022_ian_charlotte_fl.csv"


def real_file(name: str) -> Path:
    """The path of one real data file; fails under CI and skips elsewhere when it is absent."""
    folders = [os.environ.get("POSTMORTEM_REAL_DATA"), ROOT.parent / "shared" / "data" / "real", "/work/shared/data/real"]
    for folder in folders:
        if folder and (Path(folder) / name).is_file():
            return Path(folder) / name
    message = f"{name} (EAGLE-I, CC BY 4.0) not found beside the checkout (../shared/data/real) or in $POSTMORTEM_REAL_DATA"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def eaglei_incident(
    folder: Path, name: str, *, incident_id: str, timezone: str, onset: str | None = None, end: str | None = None
) -> Path:
    """An incident folder for one EAGLE-I file, written as the README's customers-out example says."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(real_file(name), folder / "outages.csv")
    lines = [f'id = "{incident_id}"', f'title = "{incident_id}: customers out"', f'timezone = "{timezone}"']
    if onset:
        lines.append(f'onset = "{onset}"')
    if end:
        lines.append(f'end = "{end}"')
    lines += [
        "[[sources]]",
        'path = "outages.csv"',
        'kind = "online_fraction"',
        'timezone = "UTC"',
        "[sources.columns]",
        'observed_at = "run_start_time"',
        'out = "customers_out"',
    ]
    (folder / "incident.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def postmortem(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user does (``python -m analysis``), capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT, check=False
    )
