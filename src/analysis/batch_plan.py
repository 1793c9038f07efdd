"""Which incidents a render-all run renders: each incident loaded and fingerprinted, rendered or skipped.

An incident whose fingerprint (input files, ``incident.toml``, parameters, notebook, code
version) equals the one of its last good report is skipped unless ``force``; the log says
why each incident was rendered or skipped, naming what changed. An incident that cannot be
loaded fails on its own, before any process starts.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from analysis.batch_index import parse_time, read_metrics
from analysis.config import INCIDENT_FILE, INCIDENT_ID, RESERVED_IDS
from analysis.errors import AnalysisError, ConfigError, ParameterError, bound
from analysis.params import as_dict, validate_params
from analysis.provenance import code_version, input_hashes, sha256_file
from analysis.report import (
    FIXED,
    LOCATIONS,
    OUTPUTS,
    RenderResult,
    check_parameters,
    keep_failure,
    prepare,
    read_manifest,
    render_fingerprint,
    source_digest,
)

# the render-all log's logger (analysis.batch sends it to render-all.log)
log = logging.getLogger("analysis.batch")


@dataclass(frozen=True)
class RenderTarget:
    """What every incident of a batch renders into and with: the reports root, the notebook, its parameters."""

    out_root: Path
    notebook: Path
    overrides: dict[str, Any]


@dataclass
class Task:
    """One incident to render: what the render process needs and what the parent watches."""

    index: int
    folder: Path
    incident_id: str
    title: str
    final: Path
    reason: str
    fingerprint: str
    run_id: str
    proc: subprocess.Popen[bytes] | None = None
    output: Path | None = None
    output_fh: IO[bytes] | None = None
    echoed: int = 0
    started: float = 0.0
    started_at: dt.datetime | None = None
    deadline: float | None = None
    killed: bool = False


def current_state(incident: Any, params: Any, notebook: Path) -> dict[str, Any]:
    """What the fingerprint covers, in the shape of ``manifest.json`` (for explanations)."""
    return {
        "inputs": input_hashes(incident),
        "parameters": {k: v for k, v in as_dict(params).items() if k not in ("output_dir", "processed_dir")},
        "code_version": code_version(),
        "notebook": {"sha256": sha256_file(notebook)},
        "source_sha256": source_digest(),
    }


def explain_change(previous: dict[str, Any], current: dict[str, Any]) -> str:
    """Say in words what differs between the last good manifest and the current inputs.

    Compares input files (added, removed, changed content), parameters (old → new),
    the notebook and the code version; run ids and locations (``incident_dir``) never count.
    """
    parts: list[str] = []
    old_in = {i.get("path"): i.get("sha256") for i in previous.get("inputs") or []}
    new_in = {i.get("path"): i.get("sha256") for i in current.get("inputs") or []}
    changed = sorted(p for p in new_in.keys() & old_in.keys() if new_in[p] != old_in[p])
    added = sorted(new_in.keys() - old_in.keys())
    removed = sorted(old_in.keys() - new_in.keys())
    if changed:
        parts.append("changed input " + ", ".join(map(str, changed)))
    if added:
        parts.append("new input " + ", ".join(map(str, added)))
    if removed:
        parts.append("input no longer used " + ", ".join(map(str, removed)))
    old_p = {k: v for k, v in (previous.get("parameters") or {}).items() if k not in LOCATIONS}
    new_p = {k: v for k, v in (current.get("parameters") or {}).items() if k not in LOCATIONS}
    for name in sorted(old_p.keys() | new_p.keys()):
        if old_p.get(name) != new_p.get(name):
            parts.append(f"parameter {name}: {old_p.get(name)!r} → {new_p.get(name)!r}")
    if (previous.get("notebook") or {}).get("sha256") != (current.get("notebook") or {}).get("sha256"):
        parts.append("notebook changed")
    old_cv, new_cv = previous.get("code_version") or {}, current.get("code_version") or {}
    if any(old_cv.get(k) != new_cv.get(k) for k in ("commit", "dirty", "package")):
        parts.append(f"code version {old_cv.get('label') or '?'} → {new_cv.get('label') or '?'}")
    elif previous.get("source_sha256") and previous.get("source_sha256") != current.get("source_sha256"):
        parts.append(f"uncommitted changes to the code ({new_cv.get('label') or '?'})")
    return "; ".join(parts) or "fingerprint differs"


def decide(final: Path, fingerprint: str, *, force: bool, current: dict[str, Any] | None = None) -> tuple[bool, str]:
    """Whether to render an incident, and why: ``(render, reason)``.

    Skip only when the last good report in ``final`` is complete and was made from the
    same fingerprint; anything else (no report, a missing output, a changed input) renders.
    """
    previous = read_manifest(final)
    if force:
        return True, "forced (--force)"
    if previous is None:
        return True, "no previous report" if not (final / "manifest.json").exists() else "previous manifest.json unreadable"
    if previous.get("status") != "ok":
        return True, "previous report not marked ok"
    missing = [name for name in OUTPUTS if not (final / name).is_file()]
    if missing:
        return True, f"previous report incomplete (missing {', '.join(missing)})"
    if previous.get("fingerprint") == fingerprint:
        return False, (
            f"unchanged since run {previous.get('run_id')} ({previous.get('finished')}): same inputs, parameters, "
            f"notebook and code version (fingerprint {fingerprint[:12]})"
        )
    return True, explain_change(previous, current) if current is not None else "fingerprint differs"


def validate_overrides(overrides: dict[str, Any], notebook: Path) -> None:
    """Check the batch-wide parameters once, before any incident: names, types, ranges, notebook."""
    for fixed in FIXED:
        if fixed in overrides:
            raise ParameterError(f"parameter '{fixed}' is set by the command, not with -p")
    params = validate_params(**({"incident_dir": ".", "output_dir": ".", "run_id": "check"} | overrides))
    check_parameters({k: v for k, v in as_dict(params).items() if k in overrides or k in FIXED}, notebook)


def plan(folders: list[Path], results: dict[int, RenderResult], target: RenderTarget, *, force: bool, run_id: str) -> list[Task]:
    """Load every incident, decide render or skip, and record config failures right away."""
    out_root, notebook = target.out_root, target.notebook
    tasks: list[Task] = []
    seen: dict[str, Path] = {}
    for i, folder in enumerate(folders):
        try:
            incident, params, final = prepare(folder, out_root, target.overrides, run_id=run_id, notebook=notebook)
            if incident.id in seen:
                raise ConfigError(f"{folder / INCIDENT_FILE}: id '{incident.id}' is already used by {seen[incident.id]}")
            seen[incident.id] = folder
            fingerprint = render_fingerprint(incident, params, notebook)
            render, reason = decide(final, fingerprint, force=force, current=current_state(incident, params, notebook))
        except Exception as exc:  # one incident's failure, whatever it is, stays its own
            iid = _guess_id(folder)
            now = dt.datetime.now(dt.UTC)
            message = str(exc) if isinstance(exc, AnalysisError) else f"{type(exc).__name__}: {exc}"
            error = bound(message if message.startswith(f"{iid}:") else f"{iid}: {message}")
            try:
                keep_failure(None, out_root / iid, error, run_id=run_id, started=now)
            except (OSError, AnalysisError) as second:
                error = bound(f"{error} (failed/ not written: {second})")
            results[i] = RenderResult(iid, "failed", out_root / iid, error=error, run_id=run_id, started=now, finished=now)
            log.error("[%d/%d] %s: failed before rendering: %s", i + 1, len(folders), iid, error)
            continue
        if render:
            log.info("[%d/%d] %s: will render: %s", i + 1, len(folders), incident.id, reason)
            tasks.append(Task(i, incident.folder, incident.id, incident.title, final, reason, fingerprint, run_id))
        else:
            log.info("[%d/%d] %s: skipped: %s", i + 1, len(folders), incident.id, reason)
            manifest = read_manifest(final) or {}
            results[i] = RenderResult(
                incident.id,
                "skipped",
                final,
                run_id=manifest.get("run_id"),
                metrics=read_metrics(final),
                reason=reason,
                started=parse_time(manifest.get("started")),
                finished=parse_time(manifest.get("finished")),
                fingerprint=fingerprint,
                title=incident.title,
            )
    return tasks


def _guess_id(folder: Path) -> str:
    """The incident id for a folder whose config is broken: its ``id`` if readable and safe, else the folder name."""
    try:
        raw = tomllib.loads((folder / INCIDENT_FILE).read_text(encoding="utf-8-sig"))
        value = raw.get("id")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError, ValueError):
        value = None
    if isinstance(value, str) and _usable_id(value):
        return value
    if _usable_id(folder.name):
        return folder.name
    return "incident-" + re.sub(r"[^A-Za-z0-9._-]", "_", folder.name)[:80]


def _usable_id(name: str) -> bool:
    return bool(INCIDENT_ID.fullmatch(name)) and name.lower() not in RESERVED_IDS
