"""A worker process for fits that run beside each other (``postmortem fit`` opens it).

The fits of one incident are pure numpy and Python; threads share one interpreter lock,
so two fits in two threads take nearly as long as one after the other. :func:`fit_workers`
opens one worker process for the duration of an analysis (started at once, so its imports
overlap the reading of the data), and :func:`beside` hands it a fit while the caller does
another. The work handed over is a top-level function with picklable arguments; what it
returns comes back pickled (a :class:`~analysis.recovery.result.RecoveryFit` without its
``switch``).

Without an open pool (a notebook calling the fitters, a test, ``POSTMORTEM_FIT_WORKERS=1``,
one core, or inside a worker) :func:`beside` runs the work in the caller when its result is
asked for, so results never depend on whether a worker was used: every fit is seeded on its
own and deterministic. A worker that cannot be started or dies makes the work run in the
caller too.

``POSTMORTEM_FIT_WORKERS`` sets how many processes fit at once, the command's own included
(default: min(2, the cores this process may use), and 1 while the load average already
fills the cores); 1 turns the worker off. A worker never starts workers of its own, and the
pool lives only as long as the analysis that opened it.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import pickle
import sys
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

from analysis.errors import ParameterError

WORKERS_VARIABLE = "POSTMORTEM_FIT_WORKERS"
T = TypeVar("T")


class _Open:
    """The pool opened by :func:`fit_workers`, shared by the threads of the analysis."""

    lock = threading.Lock()
    pool: ProcessPoolExecutor | None = None


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system says, else all)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def fit_worker_count() -> int:
    """Processes that fit at once, the caller included: ``POSTMORTEM_FIT_WORKERS``, else min(2, usable cores).

    Without the variable, a worker is used only while a core is idle: when the load average
    of the last minute already fills the cores, the processes of one command share what the
    system gives them (Linux shares the processor among sessions), and a second one would
    only add its start-up and imports.
    """
    text = os.environ.get(WORKERS_VARIABLE, "").strip()
    if not text:
        cores = min(2, usable_cores())
        try:
            busy = os.getloadavg()[0]
        except (AttributeError, OSError):  # no load average on this system
            busy = 0.0
        return cores if busy <= usable_cores() - 1 else 1
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise ParameterError(f"environment variable {WORKERS_VARIABLE}: expected a whole number ≥ 1, got {text[:50]!r}")
    return n


def _start_worker(preload: tuple[str, ...]) -> None:
    """Initialiser of a worker: it starts no workers itself, and imports the fitters now (while the caller reads data)."""
    os.environ[WORKERS_VARIABLE] = "1"
    for name in ("analysis.recovery.hypotheses", *preload):
        importlib.import_module(name)


def _ready() -> bool:
    return True


@contextlib.contextmanager
def fit_workers(preload: Sequence[str] = ()) -> Iterator[int]:
    """Open the worker process(es) for the analyses inside the ``with`` block; yields how many.

    Nested or concurrent uses share the pool opened first. Zero when the count is 1: the
    work then runs in the caller. ``preload``: modules a worker imports as it starts (those
    of the work the caller will hand it), besides the recovery fitters.
    """
    # a daemonic process (a multiprocessing or Dask worker) may not start processes
    n = 0 if multiprocessing.current_process().daemon else fit_worker_count() - 1
    with _Open.lock:
        own = _Open.pool is None and n > 0
        if own:
            try:
                # a fresh interpreter ("spawn"): forking a process whose threads (polars,
                # the BLAS) hold locks could leave the child waiting on them forever
                pool = ProcessPoolExecutor(
                    n, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker, initargs=(tuple(preload),)
                )
                with _main_hidden():
                    for _ in range(n):  # starts the processes now: their imports overlap the caller's work
                        pool.submit(_ready)
                _Open.pool = pool
            except (OSError, RuntimeError, NotImplementedError, AssertionError):
                own = False
    try:
        yield n if _Open.pool is not None else 0
    finally:
        if own:
            with _Open.lock:
                opened, _Open.pool = _Open.pool, None
            if opened is not None:
                opened.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """Start processes without the caller's ``__main__``: the work handed over lives in this package.

    A spawned process would otherwise import the script that called the analysis, and a
    script without an ``if __name__ == "__main__"`` guard would run again in it.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


class _Later(Generic[T]):
    """Work done in the caller when its result is asked for (no worker, or the worker failed)."""

    def __init__(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._fn, self._args, self._kwargs = fn, args, kwargs

    def result(self) -> T:
        return self._fn(*self._args, **self._kwargs)


class _Aside(Generic[T]):
    """Work handed to a worker; run in the caller instead if the worker breaks."""

    def __init__(self, future: Future[T], fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._future, self._fn, self._args, self._kwargs = future, fn, args, kwargs

    def result(self) -> T:
        try:
            return self._future.result()
        except (BrokenProcessPool, pickle.PicklingError, TypeError, AttributeError):
            # the worker died, or the work could not be sent: do it here (an error of the
            # work itself is raised again, from here)
            return self._fn(*self._args, **self._kwargs)


def workers_open() -> bool:
    """Whether :func:`fit_workers` has a worker process open (work handed to :func:`beside` runs there)."""
    return _Open.pool is not None


def beside(fn: Callable[..., T], *args: Any, **kwargs: Any) -> _Later[T] | _Aside[T]:
    """Start ``fn(*args, **kwargs)`` in the worker when one is open; ``.result()`` gives its value either way.

    ``fn`` must be a module-level function (or a picklable callable) and its arguments picklable. Exceptions raised by
    ``fn`` reach the caller from ``.result()``, as if it had run here.
    """
    pool = _Open.pool
    if pool is None:
        return _Later(fn, args, kwargs)
    try:
        return _Aside(pool.submit(fn, *args, **kwargs), fn, args, kwargs)
    except (BrokenProcessPool, RuntimeError):  # shut down, or the worker died
        return _Later(fn, args, kwargs)
