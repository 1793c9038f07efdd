"""Running the report notebook: papermill on a local kernel over Unix sockets, one-line errors, time limits.

A render's kernel talks over Unix sockets in a private folder (never TCP); every failure
papermill can raise becomes one :class:`~analysis.errors.RenderError` line; a time limit or
SIGTERM stops the run with :class:`~analysis.report_folders.RunStopped`, so ``failed/`` is
still written.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from analysis.config import PROJECT_ROOT
from analysis.errors import RenderError
from analysis.report_folders import KERNEL_PREFIX, RunStopped

KERNEL = "python3"
# the message of a time limit that has fired in this process's current run (main thread only)
_EXPIRED: list[str] = []
# the whole-run limit armed by :func:`time_limit` (main thread only); while it is armed, papermill
# gets no per-cell limit of the same length, which would race it and print nbclient's traceback
_ARMED: list[float] = []
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _local_kernel_manager(created: list[str] | None = None) -> type:
    """A kernel manager talking to its kernel over Unix sockets in a private folder, not TCP.

    The kernel is on this machine anyway; Unix sockets are not reachable from the network
    and not readable by other users, and the kernel has no plain-text-TCP warning to print
    into a scheduler's log. Each socket folder is appended to ``created``, for the caller
    to remove once the run is over whatever happened to the kernel.
    """
    import tempfile
    import weakref

    from jupyter_client.manager import AsyncKernelManager

    class LocalKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            # the pid in the name lets a later render remove the folder if this process is killed
            folder = tempfile.mkdtemp(prefix=f"{KERNEL_PREFIX}{os.getpid()}-")
            super().__init__(transport="ipc", ip=str(Path(folder) / "kernel"), **kwargs)
            self._socket_folder = folder
            if created is not None:
                created.append(folder)
            self._kernel_log: Any = None
            # a kernel that died or was killed skips the cleanup below: remove the folder anyway
            weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            # the kernel's own stderr (a ZMQ traceback when a time limit or SIGTERM stops it)
            # goes to a file beside its sockets, not into the command's one-line output
            if self._kernel_log is None:
                self._kernel_log = open(Path(self._socket_folder) / "kernel.log", "ab")  # noqa: SIM115
                weakref.finalize(self, self._kernel_log.close)
            kw.setdefault("stderr", self._kernel_log)
            await super()._async_launch_kernel(kernel_cmd, **kw)

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if not restart:
                if self._kernel_log is not None:
                    self._kernel_log.close()
                shutil.rmtree(self._socket_folder, ignore_errors=True)

    return LocalKernelManager


def execute_notebook(pm: Any, notebook: Path, executed: Path, params: dict[str, Any], incident_id: str, **opts: Any) -> None:
    """papermill, with its many failure types turned into one-line :class:`RenderError` messages."""
    folders: list[str] = []
    try:
        pm.execute_notebook(
            str(notebook),
            str(executed),
            parameters=params,
            kernel_name=KERNEL,
            progress_bar=opts["progress"],
            log_output=False,
            execution_timeout=None if _ARMED else opts["timeout"],
            cwd=str(PROJECT_ROOT),
            report_mode=True,
            kernel_manager_class=_local_kernel_manager(folders),
        )
    except pm.PapermillExecutionError as exc:
        error = RenderError(f"{incident_id}: notebook cell In [{exc.exec_count}] raised {exc.ename}: {first_line(exc.evalue)}")
        # the kernel's traceback (what an operator needs), not ours
        error.details = _ANSI.sub("", "\n".join(exc.traceback or []))  # type: ignore[attr-defined]
        raise error from None
    except RunStopped:
        raise
    except Exception as exc:
        if _EXPIRED:
            # the limit fired inside papermill's own waiting (a kernel still starting), which
            # reported it as a dead kernel or a failed run: the limit is the reason
            raise RunStopped(_EXPIRED[-1]) from None
        name = type(exc).__name__
        if name == "DeadKernelError":
            raise RenderError(f"{incident_id}: the kernel died while running the notebook ({first_line(str(exc))})") from None
        if name == "CellTimeoutError":
            raise RenderError(f"{incident_id}: a notebook cell ran longer than the {opts['timeout']:g} s time limit") from None
        raise RenderError(f"{incident_id}: notebook run failed: {name}: {first_line(str(exc))}") from None
    finally:
        for folder in folders:  # a kernel that died skips its manager's cleanup
            shutil.rmtree(folder, ignore_errors=True)


def stop_on_sigterm() -> None:
    """Turn SIGTERM into :class:`RunStopped`, so a killed render still saves ``failed/``.

    Schedulers (cron wrappers, systemd, Airflow) stop a task with SIGTERM; installed by
    the command line in the main thread.
    """

    def _term(signum: int, frame: Any) -> None:
        raise RunStopped("stopped by SIGTERM")

    signal.signal(signal.SIGTERM, _term)


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped (a message for one log line)."""
    lines = [s for s in str(text).strip().splitlines() if s.strip()]
    return lines[0].strip() if lines else ""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`RunStopped` after ``seconds`` (main thread on POSIX only; else no-op)."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def _alarm(signum: int, frame: Any) -> None:
        _EXPIRED.append(f"time limit of {seconds:g} s reached")
        raise RunStopped(_EXPIRED[-1])

    previous = signal.signal(signal.SIGALRM, _alarm)
    _EXPIRED.clear()
    _ARMED.append(seconds)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        _EXPIRED.clear()
        _ARMED.clear()
