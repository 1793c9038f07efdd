"""Render every incident of a folder, unattended: isolated, idempotent, logged, indexed.

What a scheduler (cron, a systemd timer, Airflow) can rely on:

* **Isolation.** Each incident renders in its own process (``python -m analysis render``)
  in its own process group, at most ``jobs`` at a time. A cell that raises, a kernel that
  dies or a run that exceeds ``timeout`` fails that incident only. The render process
  stops itself at the time limit (so it still saves ``failed/``); if it does not exit
  within :data:`KILL_GRACE` seconds more, its process group is killed.
* **Idempotence.** An incident whose fingerprint (input files, ``incident.toml``,
  parameters, notebook, code version) equals the one of its last good report is skipped
  unless ``force``; the log says why each incident was rendered or skipped.
* **Atomic outputs** (see :mod:`analysis.report`): a failure never touches the last good
  report and writes ``<out>/<id>/failed/``.
* **A record.** ``<out>/index.html`` (offline, every incident with its status, last good
  run, headline numbers and links), ``<out>/index.json`` (the same for machines), and
  ``<out>/render-all.log`` (decisions, outcomes and each render's own output).

Parameters are validated against :class:`analysis.params.ReportParams` and the notebook's
``parameters`` cell before any process or kernel starts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from analysis.config import INCIDENT_FILE, INCIDENT_ID, RESERVED_IDS, find_incidents
from analysis.errors import AnalysisError, ConfigError, ParameterError, bound
from analysis.params import as_dict, validate_params
from analysis.provenance import code_version, input_hashes, new_run_id, sha256_file
from analysis.report import (
    FIXED,
    LOCATIONS,
    NOTEBOOK,
    OUTPUTS,
    RUN_ID,
    RenderResult,
    check_out_root,
    check_parameters,
    exclusive_lock,
    keep_failure,
    make_out_root,
    prepare,
    read_manifest,
    render_fingerprint,
    source_digest,
    work_folder,
)
from analysis.triage import evidence_kind, headline, incident_date, language_pages, quality_flag

#: Seconds a render process gets after its own time limit before its process group is killed.
KILL_GRACE = 30.0
#: Seconds between "still running" lines on the terminal when several incidents run at once.
HEARTBEAT = 30.0
LOG_NAME = "render-all.log"
LOG_ROTATE_BYTES = 5 << 20
#: Shown instead of t50/t90 when the evidence is curated statements (metrics ``curated_summary``).
CURATED_CELL = "n/a (curated)"
_POLL = 0.1
# an output line of the ``postmortem`` command that carries the reason of a failure
_CLI_ERROR = "postmortem: error: "
# ipykernel's notice on every kernel start; kept in the log, not shown between progress bars
_KERNEL_NOISE = re.compile(r"\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption[^\n]*\n")

log = logging.getLogger("analysis.batch")


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


@dataclass
class _Task:
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


# --------------------------------------------------------------------------- decisions


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


# --------------------------------------------------------------------------- render-all


def render_all(
    data_dir: str | Path,
    *,
    out_root: str | Path = "reports",
    overrides: dict[str, Any] | None = None,
    notebook: Path = NOTEBOOK,
    jobs: int = 1,
    timeout: float | None = None,
    force: bool = False,
    quiet: bool = False,
    run_id: str | None = None,
    start: Callable[[list[str], IO[bytes]], Any] | None = None,
) -> BatchSummary:
    """Render each incident folder under ``data_dir`` into ``out_root``; write the index and the log.

    Parameters
    ----------
    data_dir
        Folder of incident folders (each holding ``incident.toml``).
    out_root
        Reports root: ``<out_root>/<id>/``, ``index.html``, ``index.json``, ``render-all.log``.
    overrides
        Notebook parameters for every incident.
    notebook
        The report notebook.
    jobs
        Incidents rendered at the same time (each in its own process).
    timeout
        Seconds allowed per incident (``None``: no limit).
    force
        Render incidents whose fingerprint is unchanged since their last good report.
    quiet
        On success one summary line on stdout; on failure one line per failed incident and
        the log's path on stderr; everything else only in the log.
    run_id
        Run id written into every manifest of this batch (default: time + random); a
        scheduler can pass its own to tie reports to its runs.
    start
        Starts one render elsewhere instead of a local process: called with the render
        command and the file its output goes to, it returns an object watched like a
        ``subprocess.Popen`` (``poll``, ``wait``, ``returncode``, ``kill``); see
        :func:`analysis.distributed.starter`.

    Returns
    -------
    BatchSummary
        One result per incident; ``summary.ok`` is False when any incident failed.

    Raises
    ------
    AnalysisError
        Before anything runs: a bad parameter, no incident folder, another render-all
        already writing to ``out_root``.
    """
    overrides = dict(overrides or {})
    if jobs < 1:
        raise ParameterError(f"jobs: must be at least 1, got {jobs}")
    if timeout is not None and not timeout > 0:
        raise ParameterError(f"timeout: must be a positive number of seconds, got {timeout}")
    notebook = Path(notebook).resolve()
    if run_id is not None and not RUN_ID.fullmatch(run_id):
        raise ParameterError(f"run id {run_id!r}: use letters, digits and . _ : + - (at most 128, no '/')")
    folders = find_incidents(data_dir)
    if not folders:
        raise ConfigError(f"{data_dir}: no incident folder (a folder holding {INCIDENT_FILE}) found")
    out_root = Path(out_root).resolve()
    check_out_root(out_root, [Path(data_dir), *folders])
    validate_overrides(overrides, notebook)
    make_out_root(out_root)
    started = dt.datetime.now(dt.UTC)
    summary = BatchSummary(run_id=run_id or new_run_id(started), started=started, out_root=out_root)
    with _batch_lock(out_root), _logging(out_root, quiet=quiet), _sigterm_as_interrupt():
        log.info("render-all %s: %d incident folder(s) under %s → %s", summary.run_id, len(folders), data_dir, out_root)
        log.info("notebook %s; jobs %d; timeout %s; force %s", notebook, jobs, f"{timeout:g} s" if timeout else "none", force)
        results: dict[int, RenderResult] = {}
        tasks = _plan(
            folders, results, out_root=out_root, overrides=overrides, notebook=notebook, force=force, run_id=summary.run_id
        )
        try:
            _run(
                tasks,
                results,
                out_root=out_root,
                overrides=overrides,
                notebook=notebook,
                jobs=jobs,
                timeout=timeout,
                quiet=quiet,
                start=start,
            )
        finally:
            summary.results = [results[i] for i in sorted(results)]
            summary.finished = dt.datetime.now(dt.UTC)
            index = write_index(summary, out_root)
            write_index_json(summary, out_root)
            table = summary_table(summary)
            log.info("summary\n%s\nindex: %s", table, index)
            if quiet and not summary.ok:
                # cron mails what a job prints: say what failed, and where to read more
                for r in summary.results:
                    if r.status == "failed":
                        print(f"postmortem render-all: failed: {r.error}", file=sys.stderr)
                print(f"postmortem render-all: log {out_root / LOG_NAME}", file=sys.stderr)
            elif quiet:
                # one line on stdout, so a task log (Airflow, the journal) shows the run; cron
                # keeps successful nights silent with >/dev/null (failures go to stderr)
                print(f"postmortem render-all: {table.splitlines()[-1]}; index {index}", flush=True)
    return summary


def validate_overrides(overrides: dict[str, Any], notebook: Path) -> None:
    """Check the batch-wide parameters once, before any incident: names, types, ranges, notebook."""
    for fixed in FIXED:
        if fixed in overrides:
            raise ParameterError(f"parameter '{fixed}' is set by the command, not with -p")
    params = validate_params(**({"incident_dir": ".", "output_dir": ".", "run_id": "check"} | overrides))
    check_parameters({k: v for k, v in as_dict(params).items() if k in overrides or k in FIXED}, notebook)


def _plan(
    folders: list[Path],
    results: dict[int, RenderResult],
    *,
    out_root: Path,
    overrides: dict[str, Any],
    notebook: Path,
    force: bool,
    run_id: str,
) -> list[_Task]:
    """Load every incident, decide render or skip, and record config failures right away."""
    tasks: list[_Task] = []
    seen: dict[str, Path] = {}
    for i, folder in enumerate(folders):
        try:
            incident, params, final = prepare(folder, out_root, overrides, run_id=run_id, notebook=notebook)
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
            tasks.append(_Task(i, incident.folder, incident.id, incident.title, final, reason, fingerprint, run_id))
        else:
            log.info("[%d/%d] %s: skipped: %s", i + 1, len(folders), incident.id, reason)
            manifest = read_manifest(final) or {}
            results[i] = RenderResult(
                incident.id,
                "skipped",
                final,
                run_id=manifest.get("run_id"),
                metrics=_read_metrics(final),
                reason=reason,
                started=_parse_time(manifest.get("started")),
                finished=_parse_time(manifest.get("finished")),
                fingerprint=fingerprint,
                title=incident.title,
            )
    return tasks


def worker_command(
    folder: Path, *, out_root: Path, notebook: Path, overrides: dict[str, Any], timeout: float | None, progress: bool, run_id: str
) -> list[str]:
    """The command that renders one incident in its own process (``python -m analysis render ...``)."""
    cmd = [sys.executable, "-m", "analysis", "render", str(folder), "--out", str(out_root), "--notebook", str(notebook)]
    cmd += ["--run-id", run_id, "--progress" if progress else "--no-progress"]
    if timeout is not None:
        cmd += ["--timeout", repr(float(timeout))]
    for name, value in overrides.items():
        text = (
            ("true" if value else "false") if isinstance(value, bool) else repr(value) if isinstance(value, float) else str(value)
        )
        cmd += ["-p", f"{name}={text}"]
    return cmd


def _run(
    tasks: list[_Task],
    results: dict[int, RenderResult],
    *,
    out_root: Path,
    overrides: dict[str, Any],
    notebook: Path,
    jobs: int,
    timeout: float | None,
    quiet: bool,
    start: Callable[[list[str], IO[bytes]], Any] | None = None,
) -> None:
    """Start at most ``jobs`` render processes at a time, watch their deadlines, collect results."""
    if not tasks:
        return
    live = jobs == 1 and not quiet  # one render at a time: show its cell progress as it happens
    total = len(results) + len(tasks)
    pending = deque(tasks)
    running: list[_Task] = []
    last_beat = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=".render-all.", dir=out_root) as tmp:
        try:
            while pending or running:
                while pending and len(running) < jobs:
                    task = pending.popleft()
                    _start(
                        task,
                        Path(tmp),
                        out_root=out_root,
                        notebook=notebook,
                        overrides=overrides,
                        timeout=timeout,
                        live=live,
                        start=start,
                    )
                    log.info("[%d/%d] %s: rendering (pid %d)", task.index + 1, total, task.incident_id, task.proc.pid)  # type: ignore[union-attr]
                    running.append(task)
                time.sleep(_POLL)
                now = time.monotonic()
                for task in list(running):
                    if live:
                        _echo(task)
                    rc = task.proc.poll()  # type: ignore[union-attr]
                    if rc is None and task.deadline is not None and now > task.deadline:
                        log.warning("%s: still running %.0f s after its time limit; killing it", task.incident_id, KILL_GRACE)
                        _kill(task, signal.SIGKILL)
                        task.killed = True
                        rc = task.proc.wait()  # type: ignore[union-attr]
                    if rc is None:
                        continue
                    running.remove(task)
                    if live:
                        _echo(task)
                    result = _collect(task, rc, out_root=out_root, timeout=timeout)
                    results[task.index] = result
                    _log_result(result, task, total)
                if running and not live and now - last_beat >= HEARTBEAT:
                    last_beat = now
                    log.info("running: %s", ", ".join(f"{t.incident_id} ({now - t.started:.0f} s)" for t in running))
        except KeyboardInterrupt:
            log.error("interrupted: stopping %d running render(s)", len(running))
            for task in running:
                _kill(task, signal.SIGTERM)
            end = time.monotonic() + 15
            for task in running:
                try:
                    task.proc.wait(max(0.1, end - time.monotonic()))  # type: ignore[union-attr]
                except subprocess.TimeoutExpired:
                    _kill(task, signal.SIGKILL)
                    task.proc.wait()  # type: ignore[union-attr]
                results[task.index] = _collect(task, task.proc.returncode, out_root=out_root, timeout=timeout, interrupted=True)  # type: ignore[union-attr]
            for task in pending:
                now_dt = dt.datetime.now(dt.UTC)
                results[task.index] = _result(
                    task, "failed", error=f"{task.incident_id}: not started (interrupted)", finished=now_dt
                )
            raise


def _start(
    task: _Task,
    tmp: Path,
    *,
    out_root: Path,
    notebook: Path,
    overrides: dict[str, Any],
    timeout: float | None,
    live: bool,
    start: Callable[[list[str], IO[bytes]], Any] | None = None,
) -> None:
    """Spawn the render process of one incident in a new session (its own process group)."""
    # cell progress bars only for a person at a terminal: never in a log, cron mail or pipe
    progress = live and sys.stderr.isatty()
    cmd = worker_command(
        task.folder,
        out_root=out_root,
        notebook=notebook,
        overrides=overrides,
        timeout=timeout,
        progress=progress,
        run_id=task.run_id,
    )
    task.output = tmp / f"{task.incident_id}.out"
    task.output_fh = task.output.open("wb")
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    task.started = time.monotonic()
    task.started_at = dt.datetime.now(dt.UTC)
    task.deadline = task.started + timeout + KILL_GRACE if timeout is not None else None
    if start is not None:  # on a cluster: the task stops itself at its time limit
        task.proc = start(cmd, task.output_fh)
        task.deadline = None
        return
    task.proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=task.output_fh, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def _kill(task: _Task, sig: signal.Signals) -> None:
    """Signal the whole process group of a render (it was started in its own session); cancel a remote one."""
    if getattr(task.proc, "remote", False):
        task.proc.kill()  # type: ignore[union-attr]
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(task.proc.pid, sig)  # type: ignore[union-attr]


def _collect(task: _Task, rc: int, *, out_root: Path, timeout: float | None, interrupted: bool = False) -> RenderResult:
    """Read what a finished render process left: the new report, its ``failed/``, or nothing."""
    if task.output_fh is not None:
        task.output_fh.close()
    output = _clean_output(task.output.read_bytes()) if task.output and task.output.exists() else ""
    if output.strip():
        log.debug("%s: render output\n%s", task.incident_id, _indent(output))
    run_id = task.run_id
    finished = dt.datetime.now(dt.UTC)
    if rc == 0:
        manifest = read_manifest(task.final) or {}
        if manifest.get("run_id") == run_id and manifest.get("status") == "ok":
            return _result(task, "ok", finished=finished, metrics=_read_metrics(task.final))
        error = f"{task.incident_id}: the render process exited without error but wrote no report"
    elif (manifest := read_manifest(task.final) or {}).get("run_id") == run_id and manifest.get("status") == "unusable":
        # the report is in place and says why; the batch fails so the scheduler hears of it
        error = f"{task.incident_id}: {manifest.get('problem')}"
        return _result(task, "failed", error=error, finished=finished, metrics=_read_metrics(task.final))
    else:
        failed = read_manifest(task.final / "failed") or {}
        if failed.get("run_id") == run_id and failed.get("error"):
            error = bound(str(failed["error"]))
            if task.killed:
                error += f" (killed {KILL_GRACE:g} s after the time limit)"
            return _result(task, "failed", error=error, finished=finished, metrics=_read_metrics(task.final))
        if task.killed:
            error = f"{task.incident_id}: time limit of {timeout:g} s exceeded; the render process was killed"
        elif interrupted:
            error = f"{task.incident_id}: interrupted"
        else:
            reason = _reason_from_output(output)
            error = f"{task.incident_id}: render process exited with code {rc}" + (f": {reason}" if reason else "")
    tail = "\n".join(bound(line, 1000) for line in output.splitlines()[-40:])
    error = bound(error)
    work = work_folder(out_root, task.incident_id, run_id)
    try:
        keep_failure(
            work, task.final, error, run_id=run_id, started=task.started_at or finished, fingerprint=task.fingerprint, log=tail
        )
    except (OSError, AnalysisError) as second:
        error = bound(f"{error} (failed/ not written: {second})")
    shutil.rmtree(work, ignore_errors=True)
    return _result(task, "failed", error=error, finished=finished, metrics=_read_metrics(task.final))


def _result(
    task: _Task, status: str, *, finished: dt.datetime, error: str | None = None, metrics: dict[str, Any] | None = None
) -> RenderResult:
    return RenderResult(
        task.incident_id,
        status,
        task.final,
        seconds=time.monotonic() - task.started if task.started else 0.0,
        error=error,
        run_id=task.run_id,
        metrics=metrics or {},
        reason=task.reason,
        started=task.started_at,
        finished=finished,
        fingerprint=task.fingerprint,
        title=task.title,
    )


def _log_result(result: RenderResult, task: _Task, total: int) -> None:
    if result.status == "ok":
        log.info("[%d/%d] %s: ok in %.1f s", task.index + 1, total, result.incident_id, result.seconds)
    else:
        log.error("[%d/%d] %s: failed after %.1f s: %s", task.index + 1, total, result.incident_id, result.seconds, result.error)


def _echo(task: _Task) -> None:
    """Copy what a render process wrote since the last call to the terminal (live progress)."""
    if task.output is None or not task.output.exists():
        return
    with task.output.open("rb") as fh:
        fh.seek(task.echoed)
        chunk = fh.read()
    if chunk:
        task.echoed += len(chunk)
        sys.stderr.write(_KERNEL_NOISE.sub("", chunk.decode("utf-8", errors="replace")))
        sys.stderr.flush()


# --------------------------------------------------------------------------- index


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
        f"with the report's interval; {CURATED_CELL}: the evidence is statements picked by newsrooms, whose timing does "
        "not measure restoration (the report shows what they say instead). Skipped: inputs, parameters, notebook and code unchanged since the last good report.</p>"
        "</body></html>\n"
    )
    return _atomic_write(out_root / "index.html", page)


def _index_row(r: RenderResult, out_root: Path) -> str:
    folder = out_root / r.incident_id
    good = read_manifest(folder) or {}
    failed = read_manifest(folder / "failed") if (folder / "failed").is_dir() else None
    metrics = _read_metrics(folder) if good.get("status") == "ok" else {}
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
        last = f"{_e(_fmt_time(_parse_time(good.get('finished'))))}<br><span class='muted'>{_e(good.get('run_id'))}</span>"
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


# --------------------------------------------------------------------------- small pieces


def report_count(metrics: dict[str, Any]) -> Any:
    """The page's one definition of a report (the summary's count), for the index.

    For down reports, those saying service was out (``n_down_reports``); for other evidence,
    the records kept.
    """
    if metrics.get("evidence") == "down_reports" and metrics.get("n_down_reports") is not None:
        return metrics["n_down_reports"]
    return metrics.get("n_reports")


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


def _read_metrics(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _parse_time(value: Any) -> dt.datetime | None:
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


def _indent(text: str) -> str:
    return "\n".join("    | " + line for line in text.splitlines())


def _clean_output(raw: bytes) -> str:
    """A render's captured output as text, keeping only the last state of progress-bar lines."""
    text = raw.decode("utf-8", errors="replace")
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n")).rstrip()


def _reason_from_output(output: str) -> str:
    """The ``postmortem: error:`` line of a render's output, else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(_CLI_ERROR):
            return line[len(_CLI_ERROR) :]
    return lines[-1] if lines else ""


def _atomic_write(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


@contextmanager
def _batch_lock(out_root: Path) -> Iterator[None]:
    """One render-all per reports root at a time (an overlapping cron run stops at once)."""
    path = out_root / ".render-all.lock"
    with exclusive_lock(path, f"{out_root}: another render-all is already writing here (lock {path})"):
        yield


@contextmanager
def _logging(out_root: Path, *, quiet: bool) -> Iterator[None]:
    """Log to ``<out>/render-all.log`` (rotated at 5 MB) and, unless quiet, to stderr."""
    path = out_root / LOG_NAME
    if path.exists() and path.stat().st_size > LOG_ROTATE_BYTES:
        os.replace(path, path.with_name(LOG_NAME + ".1"))
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setLevel(logging.DEBUG)
    formatter = logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    to_file.setFormatter(formatter)
    handlers: list[logging.Handler] = [to_file]
    if not quiet:
        to_term = logging.StreamHandler(sys.stderr)
        to_term.setLevel(logging.INFO)
        to_term.setFormatter(logging.Formatter("%(message)s"))
        handlers.append(to_term)
    previous = (log.level, log.propagate)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    for h in handlers:
        log.addHandler(h)
    try:
        yield
    finally:
        for h in handlers:
            log.removeHandler(h)
            h.close()
        log.setLevel(previous[0])
        log.propagate = previous[1]


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """In the main thread, treat SIGTERM like Ctrl-C: stop the renders, record them, write the index."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
