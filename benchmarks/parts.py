"""Where `postmortem fit` spends its CPU, part by part, and how many values of S each part computes.

Usage::

    python -m benchmarks.parts INCIDENT            # e.g. an incident of `postmortem simulate --reports 10000 --seed 7`
    python -m benchmarks.parts INCIDENT --json parts.json

Runs ``pipeline.analyze`` in one process with every thread pool made synchronous and no
worker process (``POSTMORTEM_FIT_WORKERS=1``), so that each part is timed alone: CPU seconds
(``time.process_time``) of the national fit's two reporting hypotheses (candidate fits and
bootstrap each), geocoding, the regions' own fits, the equal-recovery test and the area
statistics. No profiler: the seconds are the code's own. CPU time still moves with the
machine's load (10–20 % between runs of the same code on a busy machine); the counts of
values of S (survival function evaluations, plain and with derivatives) do not, and say
how much arithmetic a change saved independently of the load.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# (module, attribute, label): each call of the attribute is timed under the label, nested under
# the labels of the calls it runs inside (national/no-ramp spec, region/bootstrap, ...)
PARTS = [
    ("analysis.pipeline", "_fit_stage", "national"),
    ("analysis.pipeline", "geocoded", "geocode"),
    ("analysis.recovery.reports._SpecPlan", "spec", "candidates"),
    ("analysis.recovery.reports", "assemble_fit", "bootstrap"),
    ("analysis.recovery.hypotheses", "assemble_fit", "bootstrap"),
    ("analysis.recovery.reports", "fit_hypothesis", "ramp half"),
    ("analysis.spatial_recovery", "fit_group", "region"),
    ("analysis.spatial_recovery", "equal_recovery_test", "equal-recovery test"),
    ("analysis.spatial_analysis", "_area_tests", "area tests"),
]


class _Synchronous:
    """A ThreadPoolExecutor stand-in that runs each task when it is submitted."""

    def __init__(self, *_a: Any, **_k: Any) -> None:
        pass

    def __enter__(self) -> _Synchronous:
        return self

    def __exit__(self, *_a: Any) -> None:
        return None

    def submit(self, fn: Callable[..., Any], *a: Any, **k: Any) -> Future[Any]:
        out: Future[Any] = Future()
        try:
            out.set_result(fn(*a, **k))
        except BaseException as exc:  # handed to the caller through the future, as a pool does
            out.set_exception(exc)
        return out

    def shutdown(self, *_a: Any, **_k: Any) -> None:
        return None


class Recorder:
    """CPU seconds and values of S per nested part label."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.cpu: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()
        self.values: collections.Counter[tuple[str, str]] = collections.Counter()

    def key(self) -> str:
        return "/".join(self.stack) or "other"

    def timed(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def run(*a: Any, **k: Any) -> Any:
            t = time.process_time()
            self.stack.append(label)
            key = self.key()
            try:
                return fn(*a, **k)
            finally:
                self.stack.pop()
                self.cpu[key] += time.process_time() - t
                self.calls[key] += 1

        return run

    def counted(self, fn: Callable[..., Any], what: str) -> Callable[..., Any]:
        import numpy as np

        def run(family: Any, t: Any, theta: Any) -> Any:
            out = fn(family, t, theta)
            s = out[0] if isinstance(out, tuple) else out
            self.values[(self.key(), what)] += int(np.size(s))
            return out

        return run


def _resolve(path: str) -> Any:
    import importlib

    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(path)


@contextmanager
def instrumented(rec: Recorder) -> Iterator[None]:
    """Patch the parts, the thread pools and the family's S for the duration (restored after)."""
    from analysis import pipeline, spatial_analysis, spatial_recovery
    from analysis.recovery.family_base import RecoveryFamily

    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, value: Any) -> None:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    for mod in (pipeline, spatial_analysis, spatial_recovery):
        patch(mod, "ThreadPoolExecutor", _Synchronous)
    for owner, name, label in PARTS:
        target = _resolve(owner)
        patch(target, name, rec.timed(getattr(target, name), label))
    patch(RecoveryFamily, "sf", rec.counted(RecoveryFamily.sf, "plain"))
    patch(RecoveryFamily, "sf_vjp", rec.counted(RecoveryFamily.sf_vjp, "with derivatives"))
    env = os.environ.get("POSTMORTEM_FIT_WORKERS")
    os.environ["POSTMORTEM_FIT_WORKERS"] = "1"
    try:
        yield
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)
        if env is None:
            os.environ.pop("POSTMORTEM_FIT_WORKERS")
        else:
            os.environ["POSTMORTEM_FIT_WORKERS"] = env


def measure(incident: Path, scratch: Path) -> dict[str, Any]:
    """Run the analysis of ``incident`` instrumented; CPU and values of S per part."""
    t0 = time.process_time()
    import analysis.spatial_analysis
    import analysis.spatial_recovery  # noqa: F401 - imported here so that their cost counts as imports
    from analysis.params import validate_params
    from analysis.pipeline import analyze

    imports = time.process_time() - t0
    rec = Recorder()
    params = validate_params(incident_dir=str(incident), output_dir="", processed_dir=str(scratch))
    with instrumented(rec):
        t1, w1 = time.process_time(), time.perf_counter()
        analyze(params)
        cpu, wall = time.process_time() - t1, time.perf_counter() - w1
    values: dict[str, dict[str, int]] = {}
    for (key, what), n in rec.values.items():
        values.setdefault(key, {})[what] = n
    return {
        "incident": str(incident),
        "load_average": list(os.getloadavg()),
        "imports_cpu_s": imports,
        "analysis_cpu_s": cpu,
        "analysis_wall_s": wall,
        "parts_cpu_s": dict(rec.cpu),
        "parts_calls": dict(rec.calls),
        "s_values": values,
    }


def table(res: dict[str, Any]) -> str:
    """The measurement as a printable table (parts nested by indentation)."""
    load = ", ".join(f"{x:.1f}" for x in res["load_average"])
    out = [
        f"{res['incident']}: analysis {res['analysis_cpu_s']:.2f} s CPU ({res['analysis_wall_s']:.1f} s wall), "
        f"imports {res['imports_cpu_s']:.2f} s CPU; load average {load} at the end",
        f"{'part':<44} {'calls':>5} {'CPU s':>7} {'S plain':>10} {'S with d.':>10}",
    ]
    keys = sorted(set(res["parts_cpu_s"]) | set(res["s_values"]))
    for key in keys:
        depth, name = key.count("/"), key.rsplit("/", 1)[-1]
        vals = res["s_values"].get(key, {})
        out.append(
            f"{'  ' * depth + name:<44} {res['parts_calls'].get(key, 0):>5} {res['parts_cpu_s'].get(key, 0.0):>7.2f} "
            f"{vals.get('plain', 0) / 1e6:>9.2f}M {vals.get('with derivatives', 0) / 1e6:>9.2f}M"
        )
    total = collections.Counter[str]()
    for vals in res["s_values"].values():
        total.update(vals)
    out.append(f"{'all values of S':<44} {'':>5} {'':>7} {total['plain'] / 1e6:>9.2f}M {total['with derivatives'] / 1e6:>9.2f}M")
    out.append("a part's CPU includes the parts listed under it; values of S are each part's own (outside its sub-parts)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("incident", type=Path)
    p.add_argument("--scratch", type=Path, default=Path("benchmarks/_work/parts"), help="where the processed tables go")
    p.add_argument("--json", type=Path, default=None, help="also write the measurement here")
    a = p.parse_args(argv)
    res = measure(a.incident, a.scratch)
    sys.stdout.write(table(res) + "\n")
    if a.json is not None:
        a.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
