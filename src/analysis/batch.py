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
``parameters`` cell before any process or kernel starts. Which incidents render is decided by
:mod:`analysis.batch_plan`; the index and the summary are written by :mod:`analysis.batch_index`;
this module runs the render processes and watches them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
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
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from analysis.batch_index import (
    BatchSummary,
    read_metrics,
    summary_table,
    write_index,
    write_index_json,
)
from analysis.batch_plan import RenderTarget, Task, plan, validate_overrides
from analysis.config import INCIDENT_FILE, find_incidents
from analysis.errors import AnalysisError, ConfigError, ParameterError, bound
from analysis.provenance import new_run_id
from analysis.report import (
    NOTEBOOK,
    RUN_ID,
    RenderResult,
    check_out_root,
    exclusive_lock,
    keep_failure,
    make_out_root,
    read_manifest,
    work_folder,
)

#: Seconds a render process gets after its own time limit before its process group is killed.
KILL_GRACE = 30.0
#: Seconds between "still running" lines on the terminal when several incidents run at once.
HEARTBEAT = 30.0
LOG_NAME = "render-all.log"
LOG_ROTATE_BYTES = 5 << 20
_POLL = 0.1
# an output line of the ``postmortem`` command that carries the reason of a failure
_CLI_ERROR = "postmortem: error: "
# ipykernel's notice on every kernel start; kept in the log, not shown between progress bars
_KERNEL_NOISE = re.compile(r"\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption[^\n]*\n")

log = logging.getLogger("analysis.batch")


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
    data_dir, out_root
        Folder of incident folders (each holding ``incident.toml``); the reports root
        (``<out_root>/<id>/``, ``index.html``, ``index.json``, ``render-all.log``).
    overrides, notebook
        Notebook parameters for every incident; the report notebook.
    jobs
        Incidents rendered at the same time (each in its own process).
    timeout
        Seconds allowed per incident (``None``: no limit).
    force
        Render incidents whose fingerprint is unchanged since their last good report.
    quiet
        On success one summary line on stdout; on failure one line per failed incident and the
        log's path on stderr; everything else only in the log.
    run_id
        Run id of every manifest of this batch (default: time + random; a scheduler may pass its own).
    start
        Starts one render elsewhere: called with the render command and the file its output goes
        to, it returns an object watched like a ``subprocess.Popen`` (:func:`analysis.distributed.starter`).

    Returns
    -------
    BatchSummary
        One result per incident; ``summary.ok`` is False when any incident failed.

    Raises
    ------
    AnalysisError
        Before anything runs: a bad parameter, no incident folder, another render-all writing there.
    """
    overrides = dict(overrides or {})
    notebook = Path(notebook).resolve()
    out_root = Path(out_root).resolve()
    folders = _check_arguments(data_dir, out_root, overrides, notebook, jobs=jobs, timeout=timeout, run_id=run_id)
    make_out_root(out_root)
    started = dt.datetime.now(dt.UTC)
    summary = BatchSummary(run_id=run_id or new_run_id(started), started=started, out_root=out_root)
    with _batch_lock(out_root), _logging(out_root, quiet=quiet), _sigterm_as_interrupt():
        log.info("render-all %s: %d incident folder(s) under %s → %s", summary.run_id, len(folders), data_dir, out_root)
        log.info("notebook %s; jobs %d; timeout %s; force %s", notebook, jobs, f"{timeout:g} s" if timeout else "none", force)
        results: dict[int, RenderResult] = {}
        target = RenderTarget(out_root, notebook, overrides)
        tasks = plan(folders, results, target, force=force, run_id=summary.run_id)
        try:
            _run(tasks, results, target, jobs=jobs, timeout=timeout, quiet=quiet, start=start)
        finally:
            summary.results = [results[i] for i in sorted(results)]
            summary.finished = dt.datetime.now(dt.UTC)
            _finish(summary, out_root, quiet=quiet)
    return summary


def _check_arguments(
    data_dir: str | Path,
    out_root: Path,
    overrides: dict[str, Any],
    notebook: Path,
    *,
    jobs: int,
    timeout: float | None,
    run_id: str | None,
) -> list[Path]:
    """The incident folders to render, once every argument is checked (before anything runs)."""
    if jobs < 1:
        raise ParameterError(f"jobs: must be at least 1, got {jobs}")
    if timeout is not None and not timeout > 0:
        raise ParameterError(f"timeout: must be a positive number of seconds, got {timeout}")
    if run_id is not None and not RUN_ID.fullmatch(run_id):
        raise ParameterError(f"run id {run_id!r}: use letters, digits and . _ : + - (at most 128, no '/')")
    folders = find_incidents(data_dir)
    if not folders:
        raise ConfigError(f"{data_dir}: no incident folder (a folder holding {INCIDENT_FILE}) found")
    check_out_root(out_root, [Path(data_dir), *folders])
    validate_overrides(overrides, notebook)
    return folders


def _finish(summary: BatchSummary, out_root: Path, *, quiet: bool) -> None:
    """The index (html and json), the summary in the log, and what a scheduler shows (quiet: stderr on failure)."""
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
    tasks: list[Task],
    results: dict[int, RenderResult],
    target: RenderTarget,
    *,
    jobs: int,
    timeout: float | None,
    quiet: bool,
    start: Callable[[list[str], IO[bytes]], Any] | None = None,
) -> None:
    """Start at most ``jobs`` render processes at a time, watch their deadlines, collect results."""
    if not tasks:
        return
    out_root = target.out_root
    live = jobs == 1 and not quiet  # one render at a time: show its cell progress as it happens
    total = len(results) + len(tasks)
    pending = deque(tasks)
    running: list[Task] = []
    last_beat = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=".render-all.", dir=out_root) as tmp:
        try:
            while pending or running:
                while pending and len(running) < jobs:
                    task = pending.popleft()
                    _start(task, Path(tmp), target, timeout=timeout, live=live, start=start, jobs=jobs)
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
    task: Task,
    tmp: Path,
    target: RenderTarget,
    *,
    timeout: float | None,
    live: bool,
    start: Callable[[list[str], IO[bytes]], Any] | None = None,
    jobs: int = 1,
) -> None:
    """Spawn the render process of one incident in a new session (its own process group); ``jobs``: renders at a time."""
    # cell progress bars only for a person at a terminal: never in a log, cron mail or pipe
    progress = live and sys.stderr.isatty()
    # the target's fields (out_root, notebook, overrides) are arguments of the same names
    cmd = worker_command(task.folder, **vars(target), timeout=timeout, progress=progress, run_id=task.run_id)
    task.output = tmp / f"{task.incident_id}.out"
    task.output_fh = task.output.open("wb")
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    if jobs > 1:  # the renders already share the cores: none adds a fit worker process (unless asked to)
        env.setdefault("POSTMORTEM_FIT_WORKERS", "1")
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


def _kill(task: Task, sig: signal.Signals) -> None:
    """Signal the whole process group of a render (it was started in its own session); cancel a remote one."""
    if getattr(task.proc, "remote", False):
        task.proc.kill()  # type: ignore[union-attr]
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(task.proc.pid, sig)  # type: ignore[union-attr]


def _collect(task: Task, rc: int, *, out_root: Path, timeout: float | None, interrupted: bool = False) -> RenderResult:
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
            return _result(task, "ok", finished=finished, metrics=read_metrics(task.final))
        error = f"{task.incident_id}: the render process exited without error but wrote no report"
    elif (manifest := read_manifest(task.final) or {}).get("run_id") == run_id and manifest.get("status") == "unusable":
        # the report is in place and says why; the batch fails so the scheduler hears of it
        error = f"{task.incident_id}: {manifest.get('problem')}"
        return _result(task, "failed", error=error, finished=finished, metrics=read_metrics(task.final))
    else:
        failed = read_manifest(task.final / "failed") or {}
        if failed.get("run_id") == run_id and failed.get("error"):
            error = bound(str(failed["error"]))
            if task.killed:
                error += f" (killed {KILL_GRACE:g} s after the time limit)"
            return _result(task, "failed", error=error, finished=finished, metrics=read_metrics(task.final))
        if task.killed:
            error = f"{task.incident_id}: time limit of {timeout:g} s exceeded; the render process was killed"
        elif interrupted:
            # the batch sent SIGTERM and the render stopped before it recorded why: its handler
            # not yet installed (killed by the signal), or installed before the render's own
            # record-keeping began (exited with its error code)
            code = "" if rc == -signal.SIGTERM else f", exit code {rc}"
            error = f"{task.incident_id}: stopped by SIGTERM before the render recorded anything{code}"
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
    return _result(task, "failed", error=error, finished=finished, metrics=read_metrics(task.final))


def _result(
    task: Task, status: str, *, finished: dt.datetime, error: str | None = None, metrics: dict[str, Any] | None = None
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


def _log_result(result: RenderResult, task: Task, total: int) -> None:
    if result.status == "ok":
        log.info("[%d/%d] %s: ok in %.1f s", task.index + 1, total, result.incident_id, result.seconds)
    else:
        log.error("[%d/%d] %s: failed after %.1f s: %s", task.index + 1, total, result.incident_id, result.seconds, result.error)


def _echo(task: Task) -> None:
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


# --------------------------------------------------------------------------- small pieces


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
