"""Benchmarks: each stage at 10⁴–10⁷ reports against the pandas/geopandas way, and the targets.

Usage::

    python benchmarks/run.py                 # 10⁴, 10⁵, 10⁶, 10⁷ reports, baseline, targets
    python benchmarks/run.py --quick         # 10⁴ and 10⁵ only, no targets
    python benchmarks/run.py --sizes 1e5,2e6 --no-targets --markdown out.md

Every measurement runs in a fresh process (``benchmarks/_stage.py``, or the ``postmortem``
command itself) so that its peak memory is its own: the parent reaps it with ``os.wait4``
and reads ``ru_maxrss`` from the child's resource usage, and polls ``/proc`` to stop a child
that would exhaust the machine. (Linux counts the parent's resident memory at spawn in a
child's peak, which is why the parent imports nothing heavy: it adds about 20 MB.) Stage
times exclude interpreter start-up and imports (both sides); the targets use the wall time
of whole commands, start-up included, on both sides.

Datasets are simulated incidents (``analysis.simulate``, scenario ``proximus-2018`` with
its default noise: case variants, typos, missing places, coordinates, duplicates, bad rows)
cached under ``benchmarks/_work/`` (git-ignored) and regenerated when the generator's source
changes. Reports known only within a time window are left out by default (an outage tracker
stamps every report; windows come from press statements): the fit evaluates one likelihood
term per windowed report, so they have a cost of their own, measured with
``--window-fraction 0.02 --stages fit``. Children write bytecode caches under ``_work/pycache`` so that
start-up is that of an installed package even where ``PYTHONDONTWRITEBYTECODE`` is set.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
STAGE_SCRIPT = Path(__file__).resolve().with_name("_stage.py")
DEFAULT_INCIDENT = ROOT / "data" / "raw" / "proximus-2018-01-08"
DEFAULT_SIZES = (10**4, 10**5, 10**6, 10**7)
QUICK_SIZES = (10**4, 10**5)
OURS = ("ingest", "geocode", "fit")
BASELINE = ("pandas-read", "geopandas-geocode", "pandas-bin")
STAGE_LABELS = {
    "ingest": "ingest: CSV → canonical",
    "geocode": "geocode",
    "fit": "bin + fit (200 boot.)",
    "pandas-read": "pandas read_csv + to_datetime",
    "geopandas-geocode": "pandas merge + gpd.sjoin",
    "pandas-bin": "pandas resample",
    "postmortem-fit": "postmortem fit (whole command)",
    "pandas-read-wall": "pandas script (whole command)",
    "render": "postmortem render (default incident)",
}
# ours → the pandas/geopandas stage doing the same job
PAIRS = {"ingest": "pandas-read", "geocode": "geopandas-geocode", "bin": "pandas-bin"}

TARGET_FIT_N = 2_000_000
TARGET_FIT_RATIO = 1.0
TARGET_FIT_MB = 2048.0
TARGET_BIG_N = 10_000_000
TARGET_BIG_SECONDS = 60.0
TARGET_BIG_MB = 4096.0
TARGET_RENDER_SECONDS = 30.0


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    """One finished child process: wall time, peak resident memory, exit status and output."""

    wall: float
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str
    stopped: str | None = None  # why the parent stopped it (memory cap, timeout)
    cpu: float = 0.0  # processor time of the child, user + system, every thread (steadier than wall on a shared machine)


def measure(cmd: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 1800.0, max_rss_mb: float = 0.0) -> Run:
    """Run ``cmd``; return its wall time, CPU time and peak RSS (``ru_utime``, ``ru_stime``, ``ru_maxrss`` from ``os.wait4``).

    ``max_rss_mb`` > 0 stops the child (SIGKILL) when its resident memory, polled every
    50 ms from ``/proc``, exceeds it; ``timeout`` (seconds) does the same for time.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, env=env)
        stopped = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if max_rss_mb > 0 and _rss_now_mb(proc.pid) > max_rss_mb:
                stopped = f"stopped: resident memory above {max_rss_mb:.0f} MB"
            elif time.perf_counter() - t0 > timeout:
                stopped = f"stopped: longer than {timeout:.0f} s"
            if stopped:
                os.kill(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            wall=wall,
            peak_mb=usage.ru_maxrss / 1024.0,
            cpu=usage.ru_utime + usage.ru_stime,
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            stopped=stopped,
        )


def _rss_now_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def child_env(work: Path) -> dict[str, str]:
    """The children's environment: bytecode cached under ``work`` (start-up as installed)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


@dataclass
class Measurement:
    """A stage at one size: timed work (``seconds``), whole-process wall time and peak memory."""

    stage: str
    n: int
    ok: bool
    wall: float
    peak_mb: float
    seconds: float | None = None
    setup_seconds: float | None = None
    rss_setup_mb: float | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    cpu: float | None = None  # the whole process's CPU time (user + system), when measured

    @property
    def time(self) -> float:
        """The stage's own time when it reports one, else the whole process's wall time."""
        return self.seconds if self.seconds is not None else self.wall


def _from_run(stage: str, n: int, run: Run) -> Measurement:
    if run.returncode != 0 or run.stopped:
        tail = (run.stopped or run.stderr.strip().splitlines()[-1:] or [f"exit code {run.returncode}"])[0]
        if not run.stopped and run.stderr.strip():
            tail = run.stderr.strip().splitlines()[-1]
        return Measurement(stage, n, False, run.wall, run.peak_mb, error=tail[:300], cpu=run.cpu)
    try:
        doc = json.loads(run.stdout.strip().splitlines()[-1]) if run.stdout.strip() else {}
    except json.JSONDecodeError:
        doc = {}
    return Measurement(
        stage,
        n,
        True,
        run.wall,
        run.peak_mb,
        seconds=doc.pop("seconds", None),
        setup_seconds=doc.pop("setup_seconds", None),
        rss_setup_mb=doc.pop("rss_setup_mb", None),
        details=doc,
        cpu=run.cpu,
    )


@dataclass
class Bench:
    """Settings of one benchmark run."""

    work: Path = WORK
    scenario: str = "proximus-2018"
    seed: int = 20180108
    window_fraction: float = 0.0
    timeout: float = 1800.0
    max_rss_mb: float = 0.0
    python: str = sys.executable
    postmortem: str = str(Path(sys.executable).with_name("postmortem"))
    verbose: bool = True

    def log(self, text: str) -> None:
        """Progress on stderr."""
        if self.verbose:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def incident(self, n: int) -> Path:
        """Folder of the simulated incident with ``n`` reports."""
        windows = f"-windows{self.window_fraction:g}" if self.window_fraction else ""
        return self.work / "data" / f"{self.scenario}-n{n}-seed{self.seed}{windows}"

    def scratch(self, n: int) -> Path:
        """Where the stages at size ``n`` pass tables to each other."""
        return self.work / "scratch" / self.incident(n).name

    def stage(self, stage: str, n: int) -> Measurement:
        """Measure one ``_stage.py`` stage at size ``n`` in its own process."""
        cmd = [self.python, str(STAGE_SCRIPT), stage, "--incident", str(self.incident(n)), "--work", str(self.scratch(n))]
        if stage == "generate":
            cmd += ["--scenario", self.scenario, "--n", str(n), "--seed", str(self.seed)]
            cmd += ["--window-fraction", str(self.window_fraction)]
        m = _from_run(stage, n, measure(cmd, env=child_env(self.work), timeout=self.timeout, max_rss_mb=self.max_rss_mb))
        self.log(_progress(m))
        return m

    def command(self, stage: str, n: int, cmd: Sequence[str]) -> Measurement:
        """Measure a whole command (wall time from process start to exit; no stage time)."""
        run = measure(cmd, env=child_env(self.work), timeout=self.timeout, max_rss_mb=self.max_rss_mb)
        m = _from_run(stage, n, dataclasses.replace(run, stdout=""))
        if m.ok and stage == "postmortem-fit":
            m.details = _metrics_summary(run.stdout)
        self.log(_progress(m))
        return m

    def dataset(self, n: int) -> Measurement | None:
        """Generate the incident with ``n`` reports unless an identical one is cached."""
        folder = self.incident(n)
        stamp = folder / ".stamp.json"
        want = {
            "scenario": self.scenario,
            "n": n,
            "seed": self.seed,
            "window_fraction": self.window_fraction,
            "generator": generator_digest(),
        }
        if stamp.is_file() and (folder / "reports.csv").is_file():
            try:
                if json.loads(stamp.read_text()) == want:
                    return None
            except json.JSONDecodeError:
                pass
        shutil.rmtree(self.scratch(n), ignore_errors=True)  # tables derived from the old file are stale
        m = self.stage("generate", n)
        if m.ok:
            stamp.write_text(json.dumps(want))
        return m


def generator_digest() -> str:
    """Hash of the generator's source: a cached dataset is stale when it changes."""
    h = hashlib.sha256()
    for path in sorted((ROOT / "src" / "analysis" / "simulate").glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _progress(m: Measurement) -> str:
    if not m.ok:
        return f"  {m.stage:<18} n={m.n:>10,}  FAILED after {m.wall:.1f} s ({m.peak_mb:,.0f} MB): {m.error}"
    own = f"{m.seconds:8.2f} s" if m.seconds is not None else "         "
    return f"  {m.stage:<18} n={m.n:>10,}  {own}  wall {m.wall:7.2f} s  peak {m.peak_mb:8,.0f} MB"


# --------------------------------------------------------------------------- the run


def run_sizes(
    bench: Bench, sizes: Sequence[int], *, baseline: bool = True, stages: Sequence[str] | None = None
) -> list[Measurement]:
    """Our stages, the pandas/geopandas ones and the whole ``postmortem fit`` at each size."""
    wanted = list(stages) if stages else [*OURS, *(BASELINE if baseline else ()), "postmortem-fit"]
    out: list[Measurement] = []
    # the first child of a run compiles the bytecode cache; it is not a measurement
    measure([bench.python, "-c", "import analysis.pipeline, analysis.geo, pandas, geopandas"], env=child_env(bench.work))
    for n in sizes:
        bench.log(f"n = {n:,}")
        gen = bench.dataset(n)
        if gen is not None:
            out.append(gen)
            if not gen.ok:
                continue
        for stage in wanted:
            if stage == "postmortem-fit":
                out.append(postmortem_fit(bench, n))
            elif stage in OURS or stage in BASELINE:
                out += _inputs(bench, n, stage)
                out.append(bench.stage(stage, n))
    return out


# what each stage reads, and the stage that writes it
_NEEDS = {"geocode": "ingest", "geopandas-geocode": "ingest", "fit": "geocode", "pandas-bin": "geocode"}
_WRITES = {"ingest": "canonical.parquet", "geocode": "geocoded.parquet"}


def _inputs(bench: Bench, n: int, stage: str) -> list[Measurement]:
    """Run the stages whose output ``stage`` reads and that are not in the scratch folder yet."""
    before = _NEEDS.get(stage)
    if before is None or (bench.scratch(n) / _WRITES[before]).is_file():
        return []
    return [*_inputs(bench, n, before), bench.stage(before, n)]


def postmortem_fit(bench: Bench, n: int) -> Measurement:
    """``postmortem fit`` on the incident with ``n`` reports, as a user runs it."""
    processed = bench.scratch(n) / "processed"
    cmd = [bench.postmortem, "fit", str(bench.incident(n)), "-p", f"processed_dir={processed}"]
    return bench.command("postmortem-fit", n, cmd)


def _metrics_summary(stdout: str) -> dict[str, Any]:
    """The few metrics worth keeping beside a timing (the command prints the whole metrics.json)."""
    try:
        doc = json.loads(stdout)
    except json.JSONDecodeError:
        return {}
    rec = doc.get("recovery") or {}
    keep = {k: doc.get(k) for k in ("n_raw", "n_reports", "n_rejected", "n_unresolved_place")}
    return keep | {k: rec.get(k) for k in ("model", "t50_minutes", "t90_minutes")}


def run_targets(bench: Bench, results: list[Measurement]) -> list[Measurement]:
    """The measurements the targets need that ``results`` does not hold yet."""
    out: list[Measurement] = []
    have = {(m.stage, m.n) for m in results if m.ok}
    for n in (TARGET_FIT_N, TARGET_BIG_N):
        if ("postmortem-fit", n) in have and ("pandas-read-wall", n) in have:
            continue
        bench.log(f"target n = {n:,}")
        gen = bench.dataset(n)
        if gen is not None:
            out.append(gen)
            if not gen.ok:
                continue
        if ("pandas-read-wall", n) not in have:
            out.append(pandas_wall(bench, n))
        if ("postmortem-fit", n) not in have:
            out.append(postmortem_fit(bench, n))
    if ("render", 0) not in have:
        bench.log("target: default report")
        cmd = [
            bench.postmortem,
            "render",
            str(DEFAULT_INCIDENT),
            "--out",
            str(bench.work / "reports"),
            "-p",
            f"processed_dir={bench.work / 'processed'}",
        ]
        out.append(bench.command("render", 0, cmd))
    return out


def pandas_wall(bench: Bench, n: int) -> Measurement:
    """The pandas read-and-parse script as a whole command (start-up and imports included)."""
    cmd = [bench.python, str(STAGE_SCRIPT), "pandas-read", "--incident", str(bench.incident(n)), "--work", str(bench.scratch(n))]
    return bench.command("pandas-read-wall", n, cmd)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Target:
    """One target: what was measured against what was asked, and by how much it was missed."""

    name: str
    value: float | None
    limit: float
    unit: str

    @property
    def met(self) -> bool | None:
        """True/False, or None when it could not be measured."""
        return None if self.value is None else self.value <= self.limit

    def verdict(self) -> str:
        """One line: met, or missed by how much."""
        if self.value is None:
            return f"{self.name}: not measured"
        v = f"{self.value:,.2f} {self.unit}"
        if self.met:
            return f"{self.name}: {v.rstrip(' ×')} ≤ {self.limit:,g}{'' if self.unit == '×' else ' ' + self.unit}: met"
        over = self.value - self.limit
        factor = self.value / self.limit if self.limit else float("inf")
        if self.unit == "×":
            return f"{self.name}: {self.value:,.2f} > {self.limit:g}: MISSED, {factor:.1f} times slower than the target allows"
        return f"{self.name}: {v} > {self.limit:,g} {self.unit}: MISSED by {over:,.2f} {self.unit} ({factor:.1f}× the target)"


def _find(results: Sequence[Measurement], stage: str, n: int) -> Measurement | None:
    ms = [m for m in results if m.stage == stage and m.n == n and m.ok]
    return ms[-1] if ms else None


def evaluate_targets(results: Sequence[Measurement]) -> list[Target]:
    """The issue's targets from the measurements (None values where a run is missing or failed)."""
    fit2 = _find(results, "postmortem-fit", TARGET_FIT_N)
    pd2 = _find(results, "pandas-read-wall", TARGET_FIT_N)
    fit10 = _find(results, "postmortem-fit", TARGET_BIG_N)
    render = _find(results, "render", 0)
    ratio = fit2.wall / pd2.wall if fit2 and pd2 else None
    return [
        Target(f"postmortem fit, {TARGET_FIT_N:,} reports ÷ pandas read+parse (wall)", ratio, TARGET_FIT_RATIO, "×"),
        Target(f"postmortem fit, {TARGET_FIT_N:,} reports, peak memory", fit2.peak_mb if fit2 else None, TARGET_FIT_MB, "MB"),
        Target(f"postmortem fit, {TARGET_BIG_N:,} reports, wall time", fit10.wall if fit10 else None, TARGET_BIG_SECONDS, "s"),
        Target(f"postmortem fit, {TARGET_BIG_N:,} reports, peak memory", fit10.peak_mb if fit10 else None, TARGET_BIG_MB, "MB"),
        Target(
            "postmortem render of the default incident, wall time", render.wall if render else None, TARGET_RENDER_SECONDS, "s"
        ),
    ]


def ratios(results: Sequence[Measurement]) -> list[dict[str, Any]]:
    """Per size: our time ÷ the pandas/geopandas time for ingest, geocode, binning and the whole command."""
    rows = []
    for n in sorted({m.n for m in results if m.n}):
        row: dict[str, Any] = {"n": n}
        for ours, theirs in PAIRS.items():
            b = _find(results, theirs, n)
            if ours == "bin":
                f = _find(results, "fit", n)
                a = f.details.get("fit_timings", {}).get("binning") if f else None
            else:
                a_m = _find(results, ours, n)
                a = a_m.seconds if a_m else None
            row[ours] = a / b.seconds if a is not None and b is not None and b.seconds else None
        pm, pdw = _find(results, "postmortem-fit", n), _find(results, "pandas-read-wall", n)
        pdr = _find(results, "pandas-read", n)
        row["postmortem fit ÷ pandas read"] = pm.wall / pdw.wall if pm and pdw else (pm.wall / pdr.wall if pm and pdr else None)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- reporting


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import importlib.metadata as md

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cores": os.cpu_count(),
    }
    try:
        cpu = [
            ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")
        ]
        info["cpu"] = cpu[0] if cpu else platform.processor()
        mem = [ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")]
        info["memory_gb"] = round(int(mem[0].split()[1]) / 1024**2, 1) if mem else None
    except OSError:
        info["cpu"] = platform.processor()
    for pkg in ("polars", "pandas", "geopandas", "shapely", "numpy", "scipy", "rapidfuzz"):
        try:
            info[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            info[pkg] = None
    return info


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "–" if x is None else format(x, spec)


def table(results: Sequence[Measurement], *, markdown: bool = False) -> str:
    """The measurements as a table (plain text, or Markdown)."""
    head = ["reports", "stage", "time s", "wall s", "cpu s", "peak MB", "setup MB", "note"]
    rows = []
    for m in sorted(results, key=lambda m: m.n or float("inf")):  # stable: run order within a size
        if m.stage == "generate":
            note = f"{m.details.get('bytes', 0) / 1e6:,.0f} MB of CSV" if m.ok else (m.error or "")
        elif not m.ok:
            note = f"FAILED: {m.error}"
        elif m.stage == "fit":
            note = f"{m.details.get('model')}; " + ", ".join(f"{k} {v:g} s" for k, v in m.details.get("fit_timings", {}).items())
        elif m.stage == "geocode":
            note = f"{m.details.get('n_distinct_places', 0):,} distinct places"
        elif m.stage == "ingest":
            note = f"{m.details.get('n_reports', 0):,} kept, {m.details.get('n_rejected', 0):,} rejected"
        else:
            note = ""
        rows.append(
            [
                f"{m.n:,}" if m.n else "default",
                STAGE_LABELS.get(m.stage, m.stage),
                _fmt(m.seconds),
                _fmt(m.wall),
                _fmt(m.cpu),
                _fmt(m.peak_mb, ",.0f"),
                _fmt(m.rss_setup_mb, ",.0f"),
                note,
            ]
        )
    return _render(head, rows, markdown=markdown)


def ratio_table(results: Sequence[Measurement], *, markdown: bool = False) -> str:
    """Our time ÷ the pandas/geopandas time, per size (below 1: we are faster)."""
    head = [
        "reports",
        "ingest ÷ read_csv+to_datetime",
        "geocode ÷ merge+sjoin",
        "binning ÷ resample",
        "postmortem fit ÷ pandas read",
    ]
    rows = [
        [f"{r['n']:,}", _fmt(r["ingest"]), _fmt(r["geocode"]), _fmt(r["bin"], ".3f"), _fmt(r["postmortem fit ÷ pandas read"])]
        for r in ratios(results)
    ]
    return _render(head, rows, markdown=markdown)


def _render(head: list[str], rows: list[list[str]], *, markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), fmt.format(*("-" * w for w in widths)), *(fmt.format(*r) for r in rows)])


def report(results: Sequence[Measurement], targets: Sequence[Target], *, markdown: bool = False) -> str:
    """The whole printout: machine, measurements, ratios, targets."""
    info = machine()
    parts = [
        ("## Machine\n\n" if markdown else "Machine: ") + ", ".join(f"{k} {v}" for k, v in info.items() if v is not None) + "\n",
        ("## Measurements\n\n" if markdown else "Measurements\n") + table(results, markdown=markdown) + "\n",
        (
            "## Ratios (ours ÷ pandas/geopandas; below 1 we are faster)\n\n"
            if markdown
            else "Ratios (ours ÷ pandas; < 1: faster)\n"
        )
        + ratio_table(results, markdown=markdown)
        + "\n",
    ]
    if targets:
        lines = [("- " if markdown else "  ") + t.verdict() for t in targets]
        parts.append(("## Targets\n\n" if markdown else "Targets\n") + "\n".join(lines) + "\n")
    return "\n".join(parts)


def parse_sizes(text: str) -> list[int]:
    """``"1e4,1e5,2000000"`` → ``[10000, 100000, 2000000]``."""
    out = []
    for raw in text.split(","):
        part = raw.strip().replace("_", "")
        if not part:
            continue
        value = float(part)
        if value < 1 or value != int(value):
            raise argparse.ArgumentTypeError(f"--sizes: {part!r} is not a positive whole number")
        out.append(int(value))
    if not out:
        raise argparse.ArgumentTypeError("--sizes: give at least one size")
    return out


def _default_cap_mb() -> float:
    try:
        mem = [ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")]
        return int(mem[0].split()[1]) / 1024.0 * 0.8
    except (OSError, IndexError):
        return 0.0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: measure, print the tables and the targets; exit 0 (misses are reported, not errors)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=parse_sizes, default=None, help="comma-separated report counts (default 1e4,1e5,1e6,1e7)")
    p.add_argument("--quick", action="store_true", help="10⁴ and 10⁵ reports only, no targets")
    p.add_argument("--no-baseline", action="store_true", help="skip the pandas/geopandas stages")
    p.add_argument("--no-targets", action="store_true", help="skip the target runs (2·10⁶ and 10⁷ reports, default report)")
    p.add_argument(
        "--stages", default=None, help=f"only these stages, comma-separated ({', '.join([*OURS, *BASELINE])}, postmortem-fit)"
    )
    p.add_argument("--work", type=Path, default=WORK, help="cache and scratch folder (default benchmarks/_work)")
    p.add_argument("--seed", type=int, default=20180108)
    p.add_argument("--window-fraction", type=float, default=0.0, help="share of reports known only within a window (default 0)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per measurement")
    p.add_argument("--max-rss-gb", type=float, default=None, help="stop a measurement above this memory (default 80%% of RAM)")
    p.add_argument("--markdown", type=Path, default=None, help="also write the report as Markdown to this file")
    p.add_argument("--json", type=Path, default=None, help="also write every measurement as JSON to this file")
    a = p.parse_args(argv)
    sizes = list(QUICK_SIZES) if a.quick and a.sizes is None else (a.sizes or list(DEFAULT_SIZES))
    cap = a.max_rss_gb * 1024.0 if a.max_rss_gb is not None else _default_cap_mb()
    bench = Bench(work=a.work, seed=a.seed, window_fraction=a.window_fraction, timeout=a.timeout, max_rss_mb=cap)
    bench.work.mkdir(parents=True, exist_ok=True)
    stages = [s.strip() for s in a.stages.split(",")] if a.stages else None
    unknown = set(stages or ()) - {*OURS, *BASELINE, "postmortem-fit"}
    if unknown:
        p.error(f"--stages: unknown stage(s) {', '.join(sorted(unknown))}")
    results = run_sizes(bench, sizes, baseline=not a.no_baseline, stages=stages)
    targets: list[Target] = []
    if not (a.quick or a.no_targets):
        results += run_targets(bench, results)
        targets = evaluate_targets(results)
    sys.stdout.write("\n" + report(results, targets) + "\n")
    if a.markdown:
        a.markdown.write_text(report(results, targets, markdown=True), encoding="utf-8")
    doc = {"machine": machine(), "results": [dataclasses.asdict(m) for m in results], "targets": [t.verdict() for t in targets]}
    (a.json or bench.work / "results.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
