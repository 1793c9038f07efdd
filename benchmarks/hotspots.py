"""Where a stage's time goes: cProfile of one benchmark stage, as shares of the stage's time.

Usage::

    python -m benchmarks.hotspots ingest --n 1e6      # needs the dataset: run benchmarks/run.py first
    python -m benchmarks.hotspots geocode --n 1e6 --top 15
    python -m benchmarks.hotspots postmortem-fit --n 2e6   # the whole analysis, as `postmortem fit`

Prints the functions of the ``analysis`` package by cumulative time (what they and their
callees cost) and the heaviest functions overall by own time, each with its share of the
stage. Profiling adds overhead, so the shares matter more than the seconds. The
``postmortem-fit`` stage runs every fit in the profiled process (``POSTMORTEM_FIT_WORKERS=1``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
from pathlib import Path

from analysis.recovery.workers import WORKERS_VARIABLE
from benchmarks import _stage
from benchmarks.run import WORK, Bench, parse_sizes


def profile_stage(
    stage: str, n: int, *, work: Path = WORK, seed: int = 20180108, window_fraction: float = 0.0, top: int = 12
) -> str:
    """Profile ``stage`` on the cached dataset of ``n`` reports; return the printable summary."""
    bench = Bench(work=work, seed=seed, window_fraction=window_fraction)
    incident, scratch = bench.incident(n), bench.scratch(n)
    if not (incident / "reports.csv").is_file():
        raise SystemExit(f"no dataset of {n:,} reports under {work}; run benchmarks/run.py --sizes {n} first")
    prof = cProfile.Profile()
    if stage == "postmortem-fit":
        import time

        from analysis.params import validate_params
        from analysis.pipeline import analyze

        params = validate_params(incident_dir=str(incident), output_dir="", processed_dir=str(scratch / "processed"))
        # every fit in this process, where the profiler sees it (no worker process)
        saved = os.environ.get(WORKERS_VARIABLE)
        os.environ[WORKERS_VARIABLE] = "1"
        t0 = time.perf_counter()
        prof.enable()
        try:
            analyze(params)
        finally:
            prof.disable()
            if saved is None:
                os.environ.pop(WORKERS_VARIABLE)
            else:
                os.environ[WORKERS_VARIABLE] = saved
        result = {"seconds": time.perf_counter() - t0, "setup_seconds": 0.0}
    else:
        prof.enable()
        result = _stage.STAGES[stage](incident, scratch)
        prof.disable()
    total = result["seconds"] + result["setup_seconds"]
    stats = pstats.Stats(prof)
    rows = []
    for (path, line, func), (_cc, _nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((path, line, func, tt, ct))
    ours = sorted((r for r in rows if "/analysis/" in r[0]), key=lambda r: -r[4])[:top]
    heavy = sorted(rows, key=lambda r: -r[3])[:top]
    out = [f"{stage} at {n:,} reports: {result['seconds']:.2f} s timed (+{result['setup_seconds']:.2f} s setup), profiled"]
    out.append("\nanalysis functions by cumulative time (share of the profiled run):")
    out += [f"  {ct:8.2f} s  {100 * ct / total:5.1f} %  {Path(p).name}:{ln} {f}" for p, ln, f, _tt, ct in ours]
    out.append("\nfunctions by own time:")
    out += [f"  {tt:8.2f} s  {100 * tt / total:5.1f} %  {Path(p).name}:{ln} {f}" for p, ln, f, tt, _ct in heavy]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("stage", choices=[*_stage.STAGES, "postmortem-fit"])
    p.add_argument("--n", type=parse_sizes, default=[10**6], help="report count of the cached dataset (e.g. 1e6)")
    p.add_argument("--work", type=Path, default=WORK)
    p.add_argument("--seed", type=int, default=20180108)
    p.add_argument("--window-fraction", type=float, default=0.0)
    p.add_argument("--top", type=int, default=12)
    a = p.parse_args(argv)
    text = profile_stage(a.stage, a.n[0], work=a.work, seed=a.seed, window_fraction=a.window_fraction, top=a.top)
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
