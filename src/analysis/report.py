"""Render one incident: papermill runs the notebook, nbconvert makes the page, a manifest records it.

Outputs appear atomically: everything is written into a temporary folder next to the
final one and moved into place only when complete, so ``reports/<id>/`` always holds the
last good report. A failed run leaves that report untouched and writes
``reports/<id>/failed/`` with the partially executed notebook and the error.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.config import NOTEBOOKS, PROJECT_ROOT, load_incident
from analysis.errors import AnalysisError, RenderError
from analysis.params import ReportParams, as_dict, validate_params
from analysis.provenance import inputs_fingerprint, new_run_id, provenance

NOTEBOOK = NOTEBOOKS / "postmortem.ipynb"
OUTPUTS = ("postmortem.html", "metrics.json", "postmortem.ipynb", "manifest.json")
KERNEL = "python3"


@dataclass
class RenderResult:
    """What happened to one incident in a render."""

    incident_id: str
    status: str  # ok | failed | skipped
    out_dir: Path
    seconds: float = 0.0
    error: str | None = None
    run_id: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


def prepare(incident_dir: Path, out_root: Path, overrides: dict[str, Any], *, run_id: str) -> tuple[Any, ReportParams, Path]:
    """Validate config and parameters before any kernel starts; return (incident, params, final dir)."""
    incident = load_incident(incident_dir)
    final = out_root / incident.id
    values = {"incident_dir": str(incident.folder), "output_dir": str(final), "run_id": run_id, **overrides}
    for fixed in ("incident_dir", "output_dir", "run_id"):
        if fixed in overrides:
            raise RenderError(f"parameter '{fixed}' is set by the command, not with -p")
    return incident, validate_params(**values), final


def render(
    incident_dir: str | Path,
    *,
    out_root: str | Path = "reports",
    overrides: dict[str, Any] | None = None,
    notebook: Path = NOTEBOOK,
    timeout: float | None = None,
    progress: bool = False,
    run_id: str | None = None,
) -> RenderResult:
    """Execute the report notebook for one incident and write its outputs atomically.

    Raises :class:`AnalysisError` for a bad config or parameter (before a kernel starts)
    and :class:`RenderError` when the notebook or the export fails; in that case the
    partial notebook and the error are in ``<out>/<id>/failed/``.
    """
    import papermill as pm

    started = time.monotonic()
    start_time = dt.datetime.now(dt.UTC)
    run_id = run_id or new_run_id(start_time)
    out_root = Path(out_root).resolve()
    incident, params, final = prepare(Path(incident_dir), out_root, dict(overrides or {}), run_id=run_id)
    out_root.mkdir(parents=True, exist_ok=True)
    work = out_root / f".{incident.id}.{run_id}.tmp"
    work.mkdir(parents=True)
    # the notebook writes metrics.json into output_dir: point it at the work folder
    run_params = as_dict(params) | {"output_dir": str(work)}
    executed = work / "postmortem.ipynb"
    try:
        try:
            pm.execute_notebook(
                str(notebook),
                str(executed),
                parameters=run_params,
                kernel_name=KERNEL,
                progress_bar=progress,
                log_output=False,
                execution_timeout=timeout,
                cwd=str(PROJECT_ROOT),
                report_mode=True,
            )
        except pm.PapermillExecutionError as exc:
            raise RenderError(f"{incident.id}: notebook cell {exc.exec_count} raised {exc.ename}: {exc.evalue}") from None
        except Exception as exc:  # a dying kernel, a timeout: papermill raises many kinds
            raise RenderError(
                f"{incident.id}: notebook run failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            ) from None
        metrics_path = work / "metrics.json"
        if not metrics_path.is_file():
            raise RenderError(f"{incident.id}: the notebook finished without writing metrics.json")
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        from analysis.htmlexport import export_html
        from analysis.i18n import text as t

        export_html(
            executed,
            work / "postmortem.html",
            title=incident.title,
            language=params.language,
            toc_title=t(params.language, "contents"),
        )
        manifest = provenance(incident, as_dict(params), run_id=run_id) | {
            "status": "ok",
            "started": start_time.isoformat(timespec="seconds"),
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - started, 2),
            "fingerprint": inputs_fingerprint(incident, as_dict(params)),
            "outputs": {name: (work / name).stat().st_size for name in OUTPUTS if (work / name).exists()},
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _swap_into_place(work, final)
        return RenderResult(incident.id, "ok", final, time.monotonic() - started, run_id=run_id, metrics=metrics)
    except BaseException as exc:
        _keep_failure(work, final, exc, run_id=run_id, started=start_time)
        if isinstance(exc, AnalysisError):
            raise
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise RenderError(f"{incident.id}: {type(exc).__name__}: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _swap_into_place(work: Path, final: Path) -> None:
    """Replace ``final`` by ``work`` with two renames (never a half-written folder)."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    work.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(final / "failed", ignore_errors=True)


def _keep_failure(work: Path, final: Path, exc: BaseException, *, run_id: str, started: dt.datetime) -> None:
    """Move the partial notebook and the error to ``final/failed/``; keep the last good report."""
    failed = final / "failed"
    shutil.rmtree(failed, ignore_errors=True)
    failed.mkdir(parents=True, exist_ok=True)
    partial = work / "postmortem.ipynb"
    if partial.exists():
        shutil.copy2(partial, failed / "postmortem.ipynb")
    message = str(exc) or type(exc).__name__
    (failed / "error.txt").write_text(message + "\n\n" + "".join(traceback.format_exception(exc)), encoding="utf-8")
    (failed / "manifest.json").write_text(
        json.dumps(
            {"status": "failed", "run_id": run_id, "started": started.isoformat(timespec="seconds"), "error": message},
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
