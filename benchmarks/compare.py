"""Before ÷ after for ``postmortem fit``: two versions of the code, run alternately on one incident.

Usage::

    python -m benchmarks.compare INCIDENT --before 4acad1c [--after HEAD] [--runs 3] [--pandas]

Each version is exported from git (``git archive``) into ``benchmarks/_work/compare/<commit>``
and run as ``python -m analysis fit INCIDENT`` with ``PYTHONPATH`` pointing at its ``src``
(the installed environment supplies the libraries, so only the project's code differs).
Runs alternate before, after, before, after…, so that a load that changes during the
comparison touches both sides alike; each prints its wall time, its CPU time (user +
system, all threads) and the load average when it started. On a shared machine CPU time
is the steadier figure; wall time says what a user waits for. With ``--pandas`` each round
also runs the pandas read-and-parse script of ``benchmarks/run.py`` (start-up included) on
the same CSV, and each side's wall time is given as a ratio to it. The metrics of the last
run of each side are compared and every differing number is listed. ``--workers N`` sets
``POSTMORTEM_FIT_WORKERS`` for every run (by default a command fits in a second process only
while a core is idle, so on a busy machine both sides run in one process).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks.run import STAGE_SCRIPT, WORK, child_env, measure

ROOT = Path(__file__).resolve().parent.parent


def export(ref: str, work: Path = WORK) -> Path:
    """The ``src`` folder of commit ``ref``, exported once under ``work/compare/<full hash>``."""
    sha = subprocess.run(["git", "rev-parse", ref], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    dest = work / "compare" / sha
    if not (dest / "src" / "analysis").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as tar:
            subprocess.run(["git", "archive", sha, "src"], cwd=ROOT, stdout=tar, check=True)
            tar.seek(0)
            with tarfile.open(fileobj=tar) as t:
                t.extractall(dest, filter="data")
    return dest / "src"


def run_fit(src: Path, incident: Path, processed: Path, work: Path = WORK, *, workers: str = "") -> dict[str, Any]:
    """One ``postmortem fit`` of ``incident`` with the code under ``src``: wall, CPU, load, metrics.

    ``workers``: ``POSTMORTEM_FIT_WORKERS`` for the run (empty: the command's default).
    """
    env = child_env(work) | {"PYTHONPATH": str(src)}
    env.pop("POSTMORTEM_FIT_WORKERS", None)
    if workers:
        env["POSTMORTEM_FIT_WORKERS"] = workers
    load = os.getloadavg()[0]
    cmd = [sys.executable, "-m", "analysis", "fit", str(incident), "-p", f"processed_dir={processed}"]
    run = measure(cmd, env=env)
    if run.returncode != 0:
        raise SystemExit(f"{src}: postmortem fit failed: {run.stderr.strip().splitlines()[-1:]}")
    return {"wall": run.wall, "cpu": run.cpu, "peak_mb": run.peak_mb, "load": load, "metrics": json.loads(run.stdout)}


def run_pandas(incident: Path, work: Path = WORK) -> dict[str, Any]:
    """The pandas ``read_csv`` + ``to_datetime`` script on ``incident``'s CSV, as a whole command."""
    load = os.getloadavg()[0]
    scratch = work / "compare" / "pandas"
    cmd = [sys.executable, str(STAGE_SCRIPT), "pandas-read", "--incident", str(incident), "--work", str(scratch)]
    run = measure(cmd, env=child_env(work))
    if run.returncode != 0:
        raise SystemExit(f"pandas script failed: {run.stderr.strip().splitlines()[-1:]}")
    return {"wall": run.wall, "cpu": run.cpu, "peak_mb": run.peak_mb, "load": load}


def differences(a: Any, b: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every leaf where two metrics documents differ (``run_id`` aside), as (path, before, after)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k != "run_id":
                out += differences(a.get(k), b.get(k), f"{path}.{k}" if path else k)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [(path, a, b)]


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("incident", type=Path)
    p.add_argument("--before", required=True, help="git commit of the code before")
    p.add_argument("--after", default="HEAD", help="git commit of the code after (default HEAD)")
    p.add_argument("--runs", type=int, default=3, help="runs of each side, alternated")
    p.add_argument("--pandas", action="store_true", help="also time the pandas read-and-parse script each round")
    p.add_argument("--work", type=Path, default=WORK)
    p.add_argument("--workers", default="", help="POSTMORTEM_FIT_WORKERS of every run (default: each command's own choice)")
    a = p.parse_args(argv)
    sides = {"before": export(a.before, a.work), "after": export(a.after, a.work)}
    got: dict[str, list[dict[str, Any]]] = {"before": [], "after": [], "pandas": []}
    for i in range(a.runs):
        for side in [*sides, *(["pandas"] if a.pandas else [])]:
            if side == "pandas":
                r = run_pandas(a.incident.resolve(), a.work)
            else:
                r = run_fit(sides[side], a.incident.resolve(), a.work / "compare" / f"processed-{side}", workers=a.workers)
            got[side].append(r)
            sys.stdout.write(
                f"run {i + 1} {side:6s}  wall {r['wall']:6.2f} s  cpu {r['cpu']:6.2f} s  "
                f"peak {r['peak_mb']:5.0f} MB  load {r['load']:.1f}\n"
            )
            sys.stdout.flush()
    for what in ("wall", "cpu"):
        b, f = median(r[what] for r in got["before"]), median(r[what] for r in got["after"])
        sys.stdout.write(f"median {what}: before {b:.2f} s, after {f:.2f} s, before ÷ after {b / f:.2f}\n")
    if got["pandas"]:
        pd_wall = median(r["wall"] for r in got["pandas"])
        for side in sides:
            ratio = median(r["wall"] for r in got[side]) / pd_wall
            sys.stdout.write(f"{side}: postmortem fit ÷ pandas read+parse (median wall, {pd_wall:.2f} s) = {ratio:.2f}\n")
    diff = differences(got["before"][-1]["metrics"], got["after"][-1]["metrics"])
    sys.stdout.write(f"metrics: {len(diff)} value(s) differ\n")
    for path, x, y in diff:
        sys.stdout.write(f"  {path}: {x!r} → {y!r}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
