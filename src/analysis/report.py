"""Render one incident: papermill runs the notebook, nbconvert makes the page, a manifest records it.

Outputs appear atomically: everything is written into a temporary folder next to the
final one and moved into place only when complete, so ``reports/<id>/`` always holds the
last good report. A failed run leaves that report untouched and writes
``reports/<id>/failed/`` with the partially executed notebook and the error.

Parameters are checked twice before any kernel starts: by :func:`analysis.params.validate_params`
(names, types, ranges) and against the notebook's own ``parameters`` cell as papermill
reads it (:func:`check_parameters`), so a notebook that does not declare a parameter, or
declares it with another type, is refused in milliseconds.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.catalogues import languages as report_languages
from analysis.config import NOTEBOOKS, PROJECT_ROOT, Incident, load_incident
from analysis.errors import AnalysisError, ParameterError, RenderError
from analysis.languages import CACHE_FILE, page_name
from analysis.metrics import unusable
from analysis.params import ReportParams, as_dict, validate_params
from analysis.provenance import inputs_fingerprint, new_run_id, provenance, public_path, sha256_file
from analysis.report_export import display_path, export_notebook, export_page, publish_paths
from analysis.report_folders import (
    KERNEL_PREFIX,
    RunStopped,
    check_ours,
    check_out_root,
    exclusive_lock,
    incident_lock,
    is_ours,
    iso,
    keep_failure,
    make_out_root,
    read_manifest,
    recover_interrupted_swap,
    remove_stale_kernel_folders,
    remove_stale_work,
    swap_into_place,
    work_folder,
    write_json,
)
from analysis.report_kernel import execute_notebook, first_line, stop_on_sigterm, time_limit

NOTEBOOK = NOTEBOOKS / "postmortem.ipynb"
OUTPUTS = ("postmortem.html", "metrics.json", "postmortem.ipynb", "manifest.json")
#: Parameters the command sets itself; a report notebook must declare them.
FIXED = ("incident_dir", "output_dir", "run_id")
#: Parameters that say where things are, not what they hold: left out of the fingerprint.
LOCATIONS = ("incident_dir", "output_dir", "processed_dir", "run_id")
#: A run id names work folders: no path separators (an Airflow run id such as
#: ``scheduled__2024-01-01T02:15:00+00:00`` fits).
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}")
#: How papermill's inferred type names map to the Python values they accept.
_NOTEBOOK_TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}


@dataclass
class RenderResult:
    """What happened to one incident in a render.

    Attributes
    ----------
    incident_id
        The incident's id (its folder name when ``incident.toml`` could not be read).
    status
        ``ok``, ``failed`` or ``skipped`` (unchanged since the last good report).
    out_dir
        ``<out>/<id>``: the report folder (``failed/`` inside it after a failure).
    seconds
        Wall-clock duration of the attempt, in seconds.
    error
        One line saying why it failed (``None`` unless failed).
    run_id
        The run that produced this result.
    metrics
        The ``metrics.json`` document of the report (empty when there is none).
    reason
        Why it was rendered or skipped (the idempotence decision), for the log.
    started, finished
        UTC start and end of the attempt.
    fingerprint
        Hash of everything that determines the report (see :func:`render_fingerprint`).
    title
        The incident's title, for the index.
    """

    incident_id: str
    status: str  # ok | failed | skipped
    out_dir: Path
    seconds: float = 0.0
    error: str | None = None
    run_id: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    fingerprint: str | None = None
    title: str | None = None


# --------------------------------------------------------------------------- parameters


def notebook_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """The notebook's ``parameters`` cell as papermill reads it (name → type, default, help).

    Raises :class:`RenderError` when the notebook is missing or unreadable and
    :class:`ParameterError` when it has no cell tagged ``parameters``.
    """
    notebook = Path(notebook).resolve()
    if not notebook.is_file():
        raise RenderError(f"{notebook}: no such notebook")
    stat = notebook.stat()
    return dict(_inspect(notebook, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _inspect(notebook: Path, mtime_ns: int, size: int) -> dict[str, dict[str, Any]]:
    """Cached by path, modification time and size: a batch inspects one notebook once."""
    import nbformat
    import papermill as pm

    try:
        nb = nbformat.read(notebook, as_version=4)
    except (OSError, ValueError) as exc:
        raise RenderError(f"{notebook}: cannot read the notebook: {str(exc).splitlines()[0]}") from None
    if not any("parameters" in (c.get("metadata", {}).get("tags") or []) for c in nb.cells):
        raise ParameterError(f"{notebook}: no cell tagged 'parameters' (papermill needs one to inject values)")
    try:
        return dict(pm.inspect_notebook(str(notebook)))
    except ValueError as exc:  # e.g. no kernelspec in the notebook's metadata
        raise RenderError(f"{notebook}: cannot read its parameters: {exc}") from None


def _declared_types(spec: dict[str, Any]) -> tuple[type, ...] | None:
    """Python types a notebook parameter accepts, from its annotation or else its default value."""
    name = str(spec.get("inferred_type_name") or "None").strip()
    if name in _NOTEBOOK_TYPES:
        return _NOTEBOOK_TYPES[name]
    if name == "None":
        try:
            default = ast.literal_eval(str(spec.get("default", "")))
        except (ValueError, SyntaxError):
            return None
        if isinstance(default, bool):
            return (bool,)
        for kind in (int, float, str):
            if isinstance(default, kind):
                return _NOTEBOOK_TYPES[kind.__name__]
    return None  # a type we cannot check (list[str], Optional[...]): papermill injects it as is


def check_parameters(values: dict[str, Any], notebook: Path, *, declared: dict[str, dict[str, Any]] | None = None) -> None:
    """Refuse a parameter the notebook does not declare or declares with another type.

    papermill itself only warns about an unknown name and never checks types (a wrong
    value fails inside a cell, after a kernel start); this check runs before one.

    Raises
    ------
    ParameterError
        Naming the parameter, the notebook and what it declares.
    """
    declared = notebook_parameters(notebook) if declared is None else declared
    missing = [name for name in FIXED if name not in declared]
    if missing:
        raise ParameterError(
            f"{notebook}: the parameters cell does not declare '{missing[0]}' (a report notebook must declare {', '.join(FIXED)})"
        )
    for name, value in values.items():
        if name not in declared:
            raise ParameterError(
                f"unknown parameter '{name}' for notebook {Path(notebook).name} (it declares: {', '.join(sorted(declared))})"
            )
        kinds = _declared_types(declared[name])
        if kinds is None:
            continue
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise ParameterError(
                f"parameter '{name}': notebook {Path(notebook).name} declares it as "
                f"{declared[name].get('inferred_type_name')}, got {type(value).__name__} {value!r}"
            )


def prepare(
    incident_dir: Path,
    out_root: Path,
    overrides: dict[str, Any],
    *,
    run_id: str,
    notebook: Path = NOTEBOOK,
) -> tuple[Incident, ReportParams, Path]:
    """Validate config and parameters before any kernel starts; return (incident, params, final dir)."""
    for fixed in FIXED:
        if fixed in overrides:
            raise ParameterError(f"parameter '{fixed}' is set by the command, not with -p")
    if not RUN_ID.fullmatch(run_id):
        raise ParameterError(f"run id {run_id!r}: use letters, digits and . _ : + - (at most 128, no '/')")
    incident = load_incident(Path(incident_dir).resolve())
    final = Path(out_root) / incident.id
    values = {"incident_dir": str(incident.folder), "output_dir": str(final), "run_id": run_id, **overrides}
    params = validate_params(**values)
    check_parameters(injected(params, notebook), notebook)
    return incident, params, final


def injected(params: ReportParams, notebook: Path) -> dict[str, Any]:
    """The parameters papermill injects: the fixed ones and every one the notebook declares."""
    declared = notebook_parameters(notebook)
    return {k: v for k, v in as_dict(params).items() if k in declared or k in FIXED}


def render_fingerprint(incident: Incident, params: ReportParams, notebook: Path) -> str:
    """One hash of input files, ``incident.toml``, parameters, code version and the notebook.

    Two renders with the same fingerprint produce the same report; a scheduler skips an
    incident whose fingerprint matches its last good report's.
    """
    # the folder's location is not content (its files are hashed): moving data/ re-renders nothing
    located = {k: v for k, v in as_dict(params).items() if k not in LOCATIONS}
    h = hashlib.sha256(inputs_fingerprint(incident, located).encode())
    h.update(sha256_file(Path(notebook)).encode())
    return h.hexdigest()


def source_digest() -> str:
    """SHA-256 over the library sources and the project's notebooks (path and content).

    Recorded in the manifest so that a re-render caused by uncommitted code changes can be
    explained as such (the git commit alone does not see them).
    """
    h = hashlib.sha256()
    root = PROJECT_ROOT
    for path in sorted((root / "src").rglob("*.py")) + sorted((root / "notebooks").glob("*.ipynb")):
        h.update(f"{path.relative_to(root)}\0{sha256_file(path)}\n".encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- render


def render(
    incident_dir: str | Path,
    *,
    out_root: str | Path = "reports",
    overrides: dict[str, Any] | None = None,
    notebook: Path = NOTEBOOK,
    timeout: float | None = None,
    progress: bool = False,
    run_id: str | None = None,
    languages: tuple[str, ...] | None = None,
) -> RenderResult:
    """Execute the report notebook for one incident and write its outputs atomically.

    One page per language (``languages``, default every report language) is written side
    by side: ``postmortem.html`` in English, ``postmortem.fr.html``, ``postmortem.nl.html``,
    linked from each other. The ``language`` parameter's page is rendered first; the
    analysis is computed once and reused by the other languages.

    Parameters
    ----------
    incident_dir, out_root
        Incident folder holding ``incident.toml``; reports root (the report goes to ``<out_root>/<id>/``).
    overrides
        Notebook parameters (validated against :class:`ReportParams` and the notebook).
    notebook
        The report notebook to execute.
    timeout
        Seconds allowed for the whole render (each cell gets at most this long; from the main
        thread an alarm also bounds the total).
    progress, run_id
        Show papermill's per-cell progress bar on stderr; this run's id (default: from the clock).
    languages
        Languages besides the ``language`` parameter's (default: ``$POSTMORTEM_LANGUAGES`` if
        set, else every language with a catalogue: :func:`analysis.catalogues.languages`).

    Raises
    ------
    AnalysisError
        For a bad config or parameter, before a kernel starts.
    RenderError
        When the notebook or the export fails; the partial notebook and the error are then
        in ``<out>/<id>/failed/`` and the previous report is untouched.
    """
    import papermill as pm

    started = time.monotonic()
    start_time = dt.datetime.now(dt.UTC)
    run_id = run_id or new_run_id(start_time)
    out_root = Path(out_root).resolve()
    notebook = Path(notebook).resolve()
    if timeout is not None and not timeout > 0:
        raise ParameterError(f"timeout: must be a positive number of seconds, got {timeout}")
    check_out_root(out_root, [Path(incident_dir)])  # before anything else: never write into the inputs
    incident, params, final = prepare(Path(incident_dir), out_root, dict(overrides or {}), run_id=run_id, notebook=notebook)
    make_out_root(out_root)
    remove_stale_kernel_folders()
    with incident_lock(out_root, incident.id):
        work = _fresh_work(out_root, incident.id, final, run_id)
        # the notebook writes metrics.json into output_dir: point it at the work folder
        run_params = injected(params, notebook) | {"output_dir": str(work)}
        fingerprint = render_fingerprint(incident, params, notebook)
        try:
            with time_limit(timeout):
                metrics, manifest = _run_pages(
                    pm, notebook, work, run_params=run_params, incident=incident, params=params,
                    run_id=run_id, start_time=start_time, fingerprint=fingerprint, timeout=timeout,
                    progress=progress, languages=languages,
                )  # fmt: skip
            finish_time = _publish(work, final, manifest, seconds=time.monotonic() - started)
            return RenderResult(
                incident.id, "ok", final, time.monotonic() - started, run_id=run_id, metrics=metrics,
                started=start_time, finished=finish_time, fingerprint=fingerprint, title=incident.title,
            )  # fmt: skip
        except BaseException as exc:
            _fail(work, final, exc, incident.id, run_id=run_id, started=start_time, fingerprint=fingerprint, timeout=timeout)
            raise  # _fail raises; this line is never reached
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _fresh_work(out_root: Path, incident_id: str, final: Path, run_id: str) -> Path:
    """Under the incident's lock: finish an interrupted swap, clear stale work, check ``final`` is ours; a new work folder."""
    recover_interrupted_swap(final)
    remove_stale_work(out_root, incident_id)
    check_ours(final)
    work = work_folder(out_root, incident_id, run_id)
    work.mkdir(parents=True)
    return work


def _publish(work: Path, final: Path, manifest: dict[str, Any], *, seconds: float) -> dt.datetime:
    """Complete and write the manifest, then swap the work folder into place; the finish time."""
    finish_time = dt.datetime.now(dt.UTC)
    manifest |= {
        "finished": iso(finish_time),
        "seconds": round(seconds, 2),
        "outputs": {name: (work / name).stat().st_size for name in OUTPUTS if (work / name).exists()},
    }
    write_json(work / "manifest.json", manifest)
    swap_into_place(work, final)
    return finish_time


def _run_pages(
    pm: Any,
    notebook: Path,
    work: Path,
    *,
    run_params: dict[str, Any],
    incident: Incident,
    params: ReportParams,
    run_id: str,
    start_time: dt.datetime,
    fingerprint: str,
    timeout: float | None,
    progress: bool,
    languages: tuple[str, ...] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Execute the notebook once per language into ``work`` and export each page: (metrics, manifest so far).

    The ``language`` parameter's run comes first and writes metrics.json; the others reuse
    its analysis (:func:`analysis.languages.analyze_once`) and only add their page.
    """
    executed = work / "postmortem.ipynb"
    execute_notebook(pm, notebook, executed, run_params, incident.id, timeout=timeout, progress=progress)
    publish_paths(
        executed,
        {work: incident.id, incident.folder: public_path(incident.folder), notebook: display_path(notebook)},
    )
    metrics = _notebook_metrics(work, incident.id)
    problem = unusable(metrics)
    manifest = provenance(incident, as_dict(params), run_id=run_id) | {
        # nothing usable is written like any report, but never marked ok: a batch
        # re-renders it and reports it failed until the data give a curve
        "status": "unusable" if problem else "ok",
        "problem": problem,
        "started": iso(start_time),
        "notebook": {"path": display_path(notebook), "sha256": sha256_file(notebook)},
        "fingerprint": fingerprint,
        "source_sha256": source_digest(),
        "timeout_seconds": timeout,
    }
    langs = _languages(params.language, languages)
    export_page(executed, work / page_name(params.language), incident=incident, params=params, manifest=manifest, languages=langs)
    for lang in langs[1:]:
        other = work / f".postmortem.{lang}.ipynb"
        execute_notebook(pm, notebook, other, run_params | {"language": lang}, incident.id, timeout=timeout, progress=progress)
        lang_params = dataclasses.replace(params, language=lang)
        export_page(other, work / page_name(lang), incident=incident, params=lang_params, manifest=manifest, languages=langs)
        other.unlink()
    (work / CACHE_FILE).unlink(missing_ok=True)
    manifest["pages"] = {lang: page_name(lang) for lang in report_languages() if lang in langs}
    return metrics, manifest


def _fail(
    work: Path,
    final: Path,
    exc: BaseException,
    incident_id: str,
    *,
    run_id: str,
    started: dt.datetime,
    fingerprint: str,
    timeout: float | None,
) -> None:
    """Keep the failed run in ``<final>/failed/`` and raise what the caller should see (always raises)."""
    error = _one_line(incident_id, exc, timeout=timeout)
    try:
        keep_failure(work, final, error, exc, run_id=run_id, started=started, fingerprint=fingerprint)
    except (OSError, RenderError) as second:
        # a full disk or a read-only folder fails the failure record too: say both, in one line
        detail = second.strerror if isinstance(second, OSError) and second.strerror else str(second)
        raise RenderError(f"{error} (and {final / 'failed'} could not be written: {detail})") from None
    if isinstance(exc, (KeyboardInterrupt, AnalysisError)):
        raise exc
    raise RenderError(error) from None


def _notebook_metrics(work: Path, incident_id: str) -> dict[str, Any]:
    """The metrics.json the notebook wrote into the work folder; a RenderError when missing or not JSON."""
    path = work / "metrics.json"
    if not path.is_file():
        raise RenderError(f"{incident_id}: the notebook finished without writing metrics.json")
    try:
        metrics: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RenderError(f"{incident_id}: metrics.json written by the notebook is not JSON: {exc}") from None
    return metrics


def _languages(first: str, languages: tuple[str, ...] | None) -> tuple[str, ...]:
    """The languages of a render, the parameter's first; unknown ones refused.

    Without ``languages``: ``$POSTMORTEM_LANGUAGES`` (comma-separated; empty for the
    parameter's language alone), else every report language.
    """
    if languages is None:
        env = os.environ.get("POSTMORTEM_LANGUAGES")
        languages = report_languages() if env is None else tuple(x.strip() for x in env.split(",") if x.strip())
    wanted = tuple(languages)
    known = report_languages()
    unknown = [x for x in wanted if x not in known]
    if unknown:
        raise ParameterError(f"languages: expected some of {', '.join(known)}, got {', '.join(unknown)}")
    return (first, *(x for x in known if x in wanted and x != first))


# --------------------------------------------------------------------------- time limit


def _one_line(incident_id: str, exc: BaseException, *, timeout: float | None) -> str:
    """The reason of a failure in one line, prefixed with the incident id."""
    if isinstance(exc, RunStopped):
        return f"{incident_id}: {exc}"
    if isinstance(exc, KeyboardInterrupt):
        return f"{incident_id}: interrupted"
    message = first_line(str(exc)) or type(exc).__name__
    if isinstance(exc, AnalysisError):
        return message if message.startswith(f"{incident_id}:") else f"{incident_id}: {message}"
    return f"{incident_id}: {type(exc).__name__}: {message}"


#: The folder-safety names render-all and the CLI read from here (defined in :mod:`analysis.report_folders`).
__all__ = [
    "FIXED",
    "KERNEL_PREFIX",
    "LOCATIONS",
    "NOTEBOOK",
    "OUTPUTS",
    "RUN_ID",
    "RenderResult",
    "RunStopped",
    "check_ours",
    "check_out_root",
    "check_parameters",
    "exclusive_lock",
    "export_notebook",
    "incident_lock",
    "is_ours",
    "keep_failure",
    "make_out_root",
    "notebook_parameters",
    "prepare",
    "read_manifest",
    "recover_interrupted_swap",
    "remove_stale_kernel_folders",
    "render",
    "render_fingerprint",
    "source_digest",
    "stop_on_sigterm",
    "work_folder",
]
