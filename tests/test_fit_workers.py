"""The worker process of ``postmortem fit``: same results with and without it, off on request, no re-run scripts."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from analysis.errors import ParameterError
from analysis.recovery import fit_down_reports, workers
from analysis.recovery.workers import WORKERS_VARIABLE, beside, fit_worker_count, fit_workers

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)


def _pooled_fit() -> object:
    rng = np.random.default_rng(3)
    times = rng.weibull(1.2, 600) * 80.0
    return fit_down_reports(
        times, onset=ONSET, end=ONSET + dt.timedelta(hours=12), families=["weibull", "weibull+delay"], n_boot=12,
        seed=5, noticing="pooled",
    )  # fmt: skip


def test_beside_runs_in_another_process_only_inside_fit_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_VARIABLE, "2")
    assert beside(os.getpid).result() == os.getpid()
    with fit_workers() as n:
        assert n == 1
        assert beside(os.getpid).result() != os.getpid()
    assert beside(os.getpid).result() == os.getpid()


def test_pooled_hypotheses_identical_with_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_VARIABLE, "1")
    alone = _pooled_fit()
    monkeypatch.setenv(WORKERS_VARIABLE, "2")
    with fit_workers() as n:
        assert n == 1
        aside = _pooled_fit()
    assert alone.model == aside.model  # type: ignore[attr-defined]
    assert alone.identifiability == aside.identifiability  # type: ignore[attr-defined]
    for a, b in zip(alone.draws, aside.draws, strict=True):  # type: ignore[attr-defined]
        assert a.name == b.name and a.weight == b.weight
        np.testing.assert_array_equal(a.theta, b.theta)
    assert alone.t50 == aside.t50 and alone.t90 == aside.t90  # type: ignore[attr-defined]
    # the model switch of the pooled fit still works (it is the first hypothesis's)
    assert aside.with_model("weibull").model == "weibull"  # type: ignore[attr-defined]


def test_one_worker_means_none_and_bad_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_VARIABLE, "1")
    with fit_workers() as n:
        assert n == 0
        assert beside(os.getpid).result() == os.getpid()
    monkeypatch.setenv(WORKERS_VARIABLE, "two")
    with pytest.raises(ParameterError, match=WORKERS_VARIABLE):
        fit_worker_count()
    monkeypatch.delenv(WORKERS_VARIABLE)
    assert 1 <= fit_worker_count() <= 2


def test_default_is_two_on_idle_cores_and_one_when_they_are_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    monkeypatch.setattr(workers, "usable_cores", lambda: 2)
    monkeypatch.setattr(workers.os, "getloadavg", lambda: (0.3, 0.2, 0.1))
    assert fit_worker_count() == 2
    monkeypatch.setattr(workers.os, "getloadavg", lambda: (3.5, 3.0, 2.0))
    assert fit_worker_count() == 1
    monkeypatch.setattr(workers, "usable_cores", lambda: 1)
    monkeypatch.setattr(workers.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert fit_worker_count() == 1


def test_a_script_without_main_guard_is_not_run_again(tmp_path: Path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            """
            import os
            from analysis.recovery.workers import beside, fit_workers
            print("script ran", flush=True)
            with fit_workers() as n:
                print("workers", n, beside(os.getpid).result() != os.getpid(), flush=True)
            """
        )
    )
    env = os.environ | {WORKERS_VARIABLE: "2"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300, check=True)
    assert out.stdout.count("script ran") == 1, out.stdout
    assert "workers 1 True" in out.stdout


def test_a_daemonic_process_fits_alone(tmp_path: Path) -> None:
    """Inside a daemonic process (a multiprocessing or Dask worker) no worker is started: the work runs there."""
    script = tmp_path / "daemon.py"
    script.write_text(
        textwrap.dedent(
            """
            import multiprocessing, os
            from analysis.recovery.workers import beside, fit_workers

            def child(q):
                with fit_workers() as n:
                    q.put((n, beside(os.getpid).result() == os.getpid()))

            if __name__ == "__main__":
                ctx = multiprocessing.get_context("spawn")
                q = ctx.Queue()
                p = ctx.Process(target=child, args=(q,), daemon=True)
                p.start()
                print("got", q.get(timeout=240), flush=True)
                p.join()
            """
        )
    )
    env = os.environ | {WORKERS_VARIABLE: "2"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300, check=True)
    assert "got (0, True)" in out.stdout, out.stdout + out.stderr
