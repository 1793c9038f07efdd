"""The package as a user installs it: a wheel in a clean environment, used from any folder.

Builds the wheel with ``uv build``, installs it with ``uv pip`` into a new virtual
environment (the package registry fills uv's cache once; later runs install from the
cache) and runs the installed ``postmortem`` from a temporary working directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from analysis import __version__
from analysis.config import PROJECT_ROOT

SMALL = PROJECT_ROOT / "tests" / "data" / "incidents" / "small-fixture"


def uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def run(args: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=1200, check=False, env=env or os.environ.copy()
    )
    assert proc.returncode == 0, f"{args}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
def test_wheel_installs_and_renders_from_any_folder(tmp_path: Path) -> None:
    env = os.environ | {"UV_PYTHON_DOWNLOADS": "never", "PYTHONUNBUFFERED": "1"}
    env.pop("VIRTUAL_ENV", None)
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    dist = tmp_path / "dist"
    run([*uv(), "build", "--wheel", "--out-dir", dist, PROJECT_ROOT], cwd=PROJECT_ROOT, env=env)
    (wheel,) = dist.glob("outage_postmortem-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for packaged in (
        "analysis/py.typed",
        "analysis/notebooks/postmortem.ipynb",
        "analysis/notebooks/explore.ipynb",
        "analysis/templates/postmortem/index.html.j2",
    ):
        assert packaged in names, packaged
    assert any(n.endswith("entry_points.txt") for n in names)
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "[nbconvert.exporters]" in entry_points and "postmortem = analysis.htmlexport:PostmortemExporter" in entry_points

    venv = tmp_path / "venv"
    run([*uv(), "venv", "--python", sys.executable, venv], cwd=tmp_path, env=env)
    run([*uv(), "pip", "install", "--python", venv / "bin" / "python", wheel], cwd=tmp_path, env=env)
    bin_dir = venv / "bin"
    work = tmp_path / "work"  # a user's folder: no checkout, no pyproject.toml
    work.mkdir()
    user_env = {k: v for k, v in env.items() if k not in ("PYTHONPATH", "POSTMORTEM_HOME")}
    version = run([bin_dir / "postmortem", "--version"], cwd=work, env=user_env)
    assert version.stdout.strip() == f"postmortem {__version__}"
    incident = work / "small-fixture"
    shutil.copytree(SMALL, incident)

    ingest = run([bin_dir / "postmortem", "ingest", incident], cwd=work, env=user_env)
    assert (work / "data" / "processed" / "small-fixture" / "reports.parquet").is_file(), ingest.stdout
    assert not list((venv / "lib").rglob("processed"))  # never into the environment

    render = run([bin_dir / "postmortem", "render", incident, "-p", "n_boot=20"], cwd=work, env=user_env)
    report = work / "reports" / "small-fixture"
    assert (report / "postmortem.html").is_file(), render.stderr
    metrics = json.loads((report / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["incident_id"] == "small-fixture" and metrics["recovery"]["t50_minutes"] is not None
    manifest = json.loads((report / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["code_version"]["package"] == __version__
    page = (report / "postmortem.html").read_text(encoding="utf-8")
    assert 'class="plotly-graph-div"' in page and '<script src="http' not in page

    # the installed exporter, through the installed jupyter
    shutil.copy(report / "postmortem.ipynb", work / "out.ipynb")
    run([bin_dir / "jupyter", "nbconvert", "--to", "postmortem", "out.ipynb"], cwd=work, env=user_env)
    assert "<title>Small simulated outage (test fixture)</title>" in (work / "out.html").read_text(encoding="utf-8")
