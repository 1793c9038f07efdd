"""Beyond one machine: a source of many parquet files, read in turn on one node vs on a Dask cluster.

    python benchmarks/scaling.py                       # 2·10⁶ reports in 8 files, LocalCluster of 2 workers
    python benchmarks/scaling.py --rows 1e7 --files 40
    python benchmarks/scaling.py --rows 1e8 --files 200 --dask tcp://scheduler:8786   # the full claim, on a real cluster

Writes N simulated reports (id, local time as text, town, service) as partitioned parquet in
a temporary incident folder (``path = "parts"``), then measures, each in its own process:

* ``single``: :func:`analysis.ingest.partitions.read_partitioned_counts`: the files read one after
  the other on this node (memory: one file's raw text, plus the kept records);
* ``dask``: :func:`analysis.distributed.read_source` on a cluster (a LocalCluster started
  in the child, whose start is timed apart, or ``--dask ADDRESS``): one task per file;
* ``cells``: :func:`analysis.distributed.read_source_cells` on the cluster: the records stay
  on the workers, the calling process receives each file's cells and rejects.

Both do the same work: read, parse, canonical columns, repeat checks across files, and the
report counts per 15-minute bin × municipality × service (geocoded in the tasks); the merged
records come back to the calling process (``cells``: only their cells). The counts of
``single`` and ``dask`` must be equal, and the reports counted by every mode (checked).
Peak memory: the measured process with the processes it started (``ru_maxrss``), for the
cluster modes the calling process alone (``self_peak_mb``) and each worker's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.run import measure  # noqa: E402

TOWNS = ["Liège", "Namur", "Gent", "Antwerpen", "Bruxelles", "Mons", "Brugge", "Leuven", "Hasselt", "Arlon", "Charleroi", "Wavre"]
SERVICES = ["TV", "internet", "decoder", "calls"]
TOML = """\
id = "scaling"
title = "Scaling benchmark"
timezone = "Europe/Brussels"
onset = "2018-01-08T20:00:00"
[[sources]]
path = "parts"
kind = "down_reports"
name = "reports"
time_format = "%Y-%m-%d %H:%M:%S"
[sources.columns]
report_id = "id"
reported_at = "time"
place = "town"
service = "service"
"""


def write_incident(folder: Path, rows: int, files: int, seed: int = 0) -> None:
    """``rows`` reports over ``files`` parquet files; a report_id in 1 of 10⁴ rows repeats one of an earlier file."""
    rng = np.random.default_rng(seed)
    (folder / "parts").mkdir(parents=True, exist_ok=True)
    start = np.datetime64("2018-01-08T20:00:00")
    per = -(-rows // files)
    for k in range(files):
        n = min(per, rows - k * per)
        if n <= 0:
            break
        ids = np.char.add("R", (np.arange(n) + k * per).astype(str))
        if k:
            again = rng.random(n) < 1e-4
            ids[again] = np.char.add("R", rng.integers(0, k * per, again.sum()).astype(str))
        minutes = rng.exponential(180.0, n).astype("int64")
        times = (start + minutes.astype("timedelta64[m]")).astype(str)
        frame = pl.DataFrame(
            {
                "id": ids,
                "time": pl.Series(times).str.replace("T", " "),
                "town": pl.Series(TOWNS).gather(rng.integers(0, len(TOWNS), n)),
                "service": pl.Series(SERVICES).gather(rng.integers(0, len(SERVICES), n)),
            }
        )
        frame.write_parquet(folder / "parts" / f"part-{k:05d}.parquet")
    (folder / "incident.toml").write_text(TOML, encoding="utf-8")


def _digest(counts: pl.DataFrame) -> str:
    return hashlib.sha256(counts.write_csv().encode()).hexdigest()[:16]


def run_child(mode: str, folder: Path, workers: int, address: str | None) -> dict[str, object]:
    """One measured run (in the child process)."""
    from analysis.config import load_incident

    incident = load_incident(folder)
    (source,) = incident.sources
    out: dict[str, object] = {"mode": mode}
    if mode == "single":
        from analysis.ingest.partitions import read_partitioned_counts

        t0 = time.perf_counter()
        read, counts = read_partitioned_counts(source, incident.timezone)
        out["seconds"] = time.perf_counter() - t0
    else:
        from analysis import distributed

        t0 = time.perf_counter()
        with distributed.connect(address or f"local:{workers}") as client:
            client.wait_for_workers(1)
            out["start_seconds"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            if mode == "cells":
                cells = distributed.read_source_cells(client, source, incident.timezone)
            else:
                read, counts = distributed.read_source(client, source, incident.timezone)
            out["seconds"] = time.perf_counter() - t1
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            out["worker_peak_mb"] = sorted(round(v) for v in peaks.values())
        out["self_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if mode == "cells":
        return out | {
            "n_raw": cells.n_raw,
            "n_kept": cells.n_accepted,
            "n_rejected": cells.rejects.height,
            "counts_rows": cells.cells.height,
            "counts_total": int(cells.cells["weight"].sum() or 0),
            "counts_sha": None,
        }
    out |= {
        "n_raw": read.n_raw,
        "n_kept": read.records.height,
        "n_rejected": read.rejects.height,
        "counts_rows": counts.height,
        "counts_total": int(counts["reports"].sum() or 0),
        "counts_sha": _digest(counts),
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=float, default=2e6, help="reports in all (default 2e6; 1e8 for the full claim)")
    ap.add_argument("--files", type=int, default=8, help="parquet files (partitions)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (one thread each)")
    ap.add_argument("--dask", metavar="ADDRESS", help="an existing scheduler instead of a LocalCluster")
    ap.add_argument("--modes", default="single,dask")
    ap.add_argument("--keep", type=Path, help="write the incident here (kept) instead of a temporary folder")
    ap.add_argument("--child", choices=["single", "dask", "cells"], help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.folder, args.workers, args.dask)))
        return
    rows = int(args.rows)
    with tempfile.TemporaryDirectory(prefix="scaling-") as tmp:
        folder = args.keep or Path(tmp) / "scaling"
        t0 = time.perf_counter()
        if not (folder / "incident.toml").exists():
            write_incident(folder, rows, args.files)
        size = sum(p.stat().st_size for p in (folder / "parts").glob("*.parquet"))
        print(
            f"{rows:,} reports in {args.files} parquet files ({size / 1e6:.0f} MB), written in {time.perf_counter() - t0:.1f} s"
        )
        results = []
        for mode in args.modes.split(","):
            cmd = [sys.executable, __file__, "--child", mode, "--folder", str(folder), "--workers", str(args.workers)]
            cmd += ["--dask", args.dask] if args.dask else []
            run = measure(cmd, timeout=7200)
            if run.returncode != 0:
                print(f"{mode}: failed ({run.stopped or run.returncode})\n{run.stderr[-2000:]}")
                continue
            res = json.loads(run.stdout.strip().splitlines()[-1]) | {"peak_mb": round(run.peak_mb), "wall": run.wall}
            results.append(res)
            extra = (
                f"; cluster start {res['start_seconds']:.1f} s; calling process {res['self_peak_mb']} MB; "
                f"worker peaks {res['worker_peak_mb']} MB"
                if mode != "single"
                else ""
            )
            print(
                f"{mode:>6}: {res['seconds']:.1f} s ({rows / res['seconds'] / 1e6:.2f} M rows/s), peak {res['peak_mb']} MB "
                f"(process; {res['peak_mb'] * 1e6 / rows:.0f} B a report), whole run {res['wall']:.1f} s{extra}; "
                f"{res['n_raw']:,} rows = {res['n_kept']:,} kept + "
                f"{res['n_rejected']:,} rejected; counts {res['counts_rows']:,} cells, sha {res['counts_sha']}, "
                f"{res['counts_total']:,} reports"
            )
        shas = {r["counts_sha"] for r in results if r["counts_sha"] is not None}
        if len(shas) > 1 or len({(r["counts_total"], r["n_kept"], r["n_rejected"]) for r in results}) > 1:
            print("MISMATCH: the counts differ between modes")
            sys.exit(1)
        if len(results) > 1:
            base = results[0]
            for r in results[1:]:
                print(f"{r['mode']} / {base['mode']} time: {r['seconds'] / base['seconds']:.2f}×; counts equal")


if __name__ == "__main__":
    main()
