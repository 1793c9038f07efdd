"""The report folders: locks, the atomic swap into place, failure records, manifests.

A render writes into a work folder beside the final one and swaps it into place in one
rename (``renameat2(RENAME_EXCHANGE)`` where the kernel has it); a failed run keeps the
last good report and writes ``failed/`` beside it. Every folder is checked to be one of
ours before anything in it is replaced.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import shutil
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from analysis.config import INCIDENT_FILE
from analysis.errors import ParameterError, RenderError

KERNEL_PREFIX = "postmortem-kernel-"


class RunStopped(BaseException):
    """A signal (time limit, SIGTERM) stopped the run; a BaseException so no library swallows it."""


@contextlib.contextmanager
def incident_lock(out_root: Path, incident_id: str) -> Iterator[None]:
    """Hold ``<out>/.<id>.lock`` so two renders of one incident never write at once."""
    out_root.mkdir(parents=True, exist_ok=True)
    path = out_root / f".{incident_id}.lock"
    with exclusive_lock(path, f"{incident_id}: another render of this incident is running (lock {path})"):
        yield


@contextlib.contextmanager
def exclusive_lock(path: Path, busy: str) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path``; raise ``RenderError(busy)`` at once if it is taken."""
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RenderError(busy) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def check_out_root(out_root: Path, protected: list[Path], *, option: str = "--out") -> None:
    """Refuse a reports root that could overwrite or remove an input, and one that cannot be written.

    ``out_root`` must not be, contain or be inside any ``protected`` folder (the incident
    folders and the data root), nor be inside any folder holding an ``incident.toml``; it
    must be a writable folder, or creatable (see :func:`make_out_root`).

    Raises
    ------
    ParameterError
        Naming the option (``--out``) and the folder it would endanger, or why it cannot be written.
    """
    out = Path(out_root).resolve()
    for folder in protected:
        p = Path(folder).resolve()
        if out == p or out.is_relative_to(p) or p.is_relative_to(out):
            relation = "is" if out == p else ("is inside" if out.is_relative_to(p) else "contains")
            raise ParameterError(
                f"{option} {out}: {relation} the input folder {p}; outputs must go to a folder apart from the data"
            )
    for parent in (out, *out.parents):
        if (parent / INCIDENT_FILE).is_file():
            raise ParameterError(f"{option} {out}: is inside the incident folder {parent}; outputs must go apart from the data")
    if out.exists() and not out.is_dir():
        raise ParameterError(f"{option} {out}: is a file, not a folder")
    existing = next((p for p in (out, *out.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ParameterError(f"{option} {out}: {existing} is a file, not a folder")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(f"{option} {out}: {existing} is not writable")


def make_out_root(out_root: Path) -> None:
    """Create the reports root (checked by :func:`check_out_root`), failing in one line."""
    try:
        Path(out_root).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"--out {out_root}: cannot create the folder ({exc.strerror or type(exc).__name__})") from None


def is_ours(folder: Path) -> bool:
    """Whether ``folder`` is a report folder this tool made (so a render may replace it).

    Ours: a real folder (not a link) whose ``manifest.json`` names this incident (its id is
    the folder's name) with a run id and a status, or, when only a failure was ever
    written, whose ``failed/manifest.json`` records a failed run. An empty folder is ours too.
    """
    if folder.is_symlink() or not folder.is_dir():
        return False
    # a staging folder of a failure record killed half-way is ours too
    if all(p.name.startswith(".failed.") and p.name.endswith(".tmp") for p in folder.iterdir()):
        return True
    manifest = read_manifest(folder) or {}
    if manifest.get("incident_id") == folder.name and "run_id" in manifest and "status" in manifest:
        return True
    failed = read_manifest(folder / "failed") or {}
    return failed.get("status") == "failed" and "run_id" in failed


def check_ours(final: Path) -> None:
    """Refuse to write ``final`` when it exists and is not a report of ours (an id equal to another folder's name)."""
    if (final.exists() or final.is_symlink()) and not is_ours(final):
        raise RenderError(
            f"{final}: exists and is not a report made by postmortem (no manifest.json of ours); refusing to replace it "
            "(another folder with the incident's id? choose another --out)"
        )


def remove_stale_kernel_folders() -> None:
    """Remove kernel socket folders left by renders that were killed (their process is gone)."""
    import tempfile

    root = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for folder in root.glob(f"{KERNEL_PREFIX}*"):
            pid_text = folder.name[len(KERNEL_PREFIX) :].split("-", 1)[0]
            try:
                if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
                    continue
                if pid_text.isdigit():
                    os.kill(int(pid_text), 0)  # raises when the process is gone
                    continue
                if time.time() - folder.stat().st_mtime < 86400:
                    continue  # an older name without a pid: only once it is a day old
            except ProcessLookupError:
                pass
            except OSError:
                continue
            shutil.rmtree(folder, ignore_errors=True)


def recover_interrupted_swap(final: Path) -> None:
    """Put the previous report back if a run died between the two renames of a swap."""
    old = final.with_name(f".{final.name}.old")
    if old.is_dir() and not final.exists():
        old.rename(final)
    elif old.exists():
        shutil.rmtree(old, ignore_errors=True)


def work_folder(out_root: Path, incident_id: str, run_id: str) -> Path:
    """Where a run writes before its swap: ``.<id>.<run id>.tmp``, the run id without dots.

    Ids may hold dots, run ids not here: so the name tells the id exactly (the work of
    ``a.b`` is never taken for a run of ``a``, nor the reverse).
    """
    return out_root / f".{incident_id}.{run_id.replace('.', '_')}.tmp"


def remove_stale_work(out_root: Path, incident_id: str) -> None:
    """Delete work folders of earlier runs that were killed (safe: we hold the incident lock).

    Only ``.<id>.<run id>.tmp`` with this exact id: the folders of an incident ``a.b`` are
    not those of ``a``, and another run of ``a.b`` may be writing them.
    """
    pattern = re.compile(rf"\.{re.escape(incident_id)}\.[^.]+\.tmp")
    for stale in out_root.glob(".*.tmp"):
        if pattern.fullmatch(stale.name):
            shutil.rmtree(stale, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    import ctypes
    import errno

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_into_place(work: Path, final: Path) -> None:
    """Replace ``final`` by ``work`` atomically: at every instant ``final`` is the old or the new report.

    An existing ``final`` is exchanged with ``work`` in one system call (the old report then
    sits in the work folder, removed next); where the file system cannot exchange, two
    renames, and a run killed between them is repaired by :func:`recover_interrupted_swap`.
    Only a report folder of ours is ever replaced (:func:`check_ours`).
    """
    check_ours(final)
    if not final.exists():
        work.rename(final)
        return
    if _exchange(work, final):
        shutil.rmtree(work, ignore_errors=True)
        return
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    final.rename(old)
    work.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def keep_failure(
    work: Path | None,
    final: Path,
    error: str,
    exc: BaseException | None = None,
    *,
    run_id: str,
    started: dt.datetime,
    fingerprint: str | None = None,
    log: str | None = None,
) -> Path:
    """Write ``final/failed/`` (partial notebook, ``error.txt``, ``manifest.json``); keep the last good report.

    The folder is assembled under a temporary name and renamed into place, so a reader
    never sees half of it.
    """
    check_ours(final)
    final.mkdir(parents=True, exist_ok=True)
    for stale in final.glob(".failed.*.tmp"):  # left by a run killed while writing its failure
        shutil.rmtree(stale, ignore_errors=True)
    staging = final / f".failed.{run_id}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _write_failure(staging, work, error, exc, run_id=run_id, started=started, fingerprint=fingerprint, log=log)
        failed = final / "failed"
        shutil.rmtree(failed, ignore_errors=True)
        staging.rename(failed)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # a full disk: no half-written staging folder left
    return failed


def _write_failure(
    staging: Path,
    work: Path | None,
    error: str,
    exc: BaseException | None,
    *,
    run_id: str,
    started: dt.datetime,
    fingerprint: str | None,
    log: str | None,
) -> None:
    staging.mkdir()
    partial = work / "postmortem.ipynb" if work is not None else None
    if partial is not None and partial.exists():
        shutil.copy2(partial, staging / "postmortem.ipynb")
    details = error + "\n"
    if getattr(exc, "details", None):
        details += "\n" + str(exc.details) + "\n"  # type: ignore[union-attr]
    elif exc is not None and not isinstance(exc, (RunStopped, RenderError)):
        details += "\n" + "".join(traceback.format_exception(exc))
    if log:
        details += "\n--- render output (last lines) ---\n" + log
    (staging / "error.txt").write_text(details, encoding="utf-8")
    write_json(
        staging / "manifest.json",
        {
            "status": "failed",
            "run_id": run_id,
            "started": iso(started),
            "finished": iso(dt.datetime.now(dt.UTC)),
            "error": error,
            "fingerprint": fingerprint,
            "partial_notebook": (staging / "postmortem.ipynb").exists(),
        },
    )


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The ``manifest.json`` in ``folder`` (``None`` when absent or unreadable)."""
    path = folder / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON through a temporary file and a rename (a reader never sees half of it)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def iso(t: dt.datetime) -> str:
    """A time as UTC ISO 8601 to the second."""
    return t.astimezone(dt.UTC).isoformat(timespec="seconds")
