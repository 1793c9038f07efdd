"""The benchmark harness: memory measured per child, stages runnable, targets reported with their miss."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks import _stage
from benchmarks.run import (
    TARGET_BIG_N,
    TARGET_FIT_N,
    Measurement,
    evaluate_targets,
    measure,
    parse_sizes,
    ratios,
    report,
)

ROOT = Path(__file__).resolve().parents[1]


def test_measure_reports_the_childs_own_peak_memory():
    # Linux counts a child's memory before exec (the parent's, shared) in its peak, so the two
    # children are started from a small parent, as benchmarks/run.py is
    probe = (
        "import json, sys; from benchmarks.run import measure; "
        "big = measure([sys.executable, '-c', \"b = b'x' * 300_000_000\"]); "
        "small = measure([sys.executable, '-c', 'pass']); "
        "print(json.dumps([big.peak_mb, small.peak_mb, big.returncode, big.stopped]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    big, small, code, stopped = json.loads(out.stdout)
    assert code == 0 and stopped is None
    assert 286 < big < 1000  # 300 MB = 286 MiB of bytes, plus the interpreter
    assert small < big - 250  # its own peak, not the largest child so far as RUSAGE_CHILDREN would give


def test_measure_reports_the_childs_cpu_time_of_every_thread():
    """CPU time is the child's own, all threads counted: two threads spinning 1 s each use about 2 s."""
    spin = (
        "import threading, time\n"
        "def spin():\n"
        "    t = time.thread_time()\n"
        "    while time.thread_time() - t < 1.0: pass\n"
        "ts = [threading.Thread(target=spin) for _ in range(2)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
    )
    busy = measure([sys.executable, "-c", spin])
    idle = measure([sys.executable, "-c", "import time; time.sleep(1.0)"])
    assert busy.returncode == 0 and idle.returncode == 0
    assert 1.9 < busy.cpu < 4.0
    assert idle.cpu < 0.5 < idle.wall


def test_compare_lists_every_metric_that_moved():
    from benchmarks.compare import differences

    before = {"run_id": "a", "n_reports": 10, "recovery": {"t50_minutes": 84.2, "t50_minutes_ci": [83.0, 85.1]}, "x": None}
    after = {"run_id": "b", "n_reports": 10, "recovery": {"t50_minutes": 84.2, "t50_minutes_ci": [83.0, 85.2]}, "x": 1}
    assert differences(before, after) == [("recovery.t50_minutes_ci[1]", 85.1, 85.2), ("x", None, 1)]
    assert differences(before, before) == []


def test_measure_stops_a_child_above_the_memory_cap():
    run = measure([sys.executable, "-c", "import time; b = b'x' * 400_000_000; time.sleep(20)"], max_rss_mb=200)
    assert run.stopped is not None and "memory" in run.stopped
    assert run.returncode != 0
    assert run.wall < 15


def test_stages_run_at_ten_thousand_reports(tmp_path):
    incident, work = tmp_path / "sim", tmp_path / "work"
    gen = _stage.stage_generate(incident, work, scenario="proximus-2018", n=10_000, seed=1)
    assert gen["bytes"] > 100_000
    ingest = _stage.stage_ingest(incident, work)
    assert ingest["n_reports"] == 10_000
    assert ingest["n_raw"] == 10_000 + ingest["n_rejected"]
    read = _stage.stage_pandas_read(incident, work)
    assert read["n_rows"] == ingest["n_raw"]
    assert read["n_bad_time"] > 0  # the bad rows the simulator wrote
    geo = _stage.stage_geocode(incident, work)
    assert geo["n_reports"] == 10_000 and geo["n_unresolved"] < 1_000
    gpd = _stage.stage_geopandas_geocode(incident, work)
    assert gpd["n_reports"] == 10_000
    assert gpd["n_unresolved"] > geo["n_unresolved"]  # exact merges miss typos and odd spellings
    binned = _stage.stage_pandas_bin(incident, work)
    assert binned["n_bins"] > 400
    for result in (ingest, read, geo, gpd, binned):
        assert result["seconds"] >= 0 and result["rss_setup_mb"] > 0


def _m(stage: str, n: int, *, wall: float, seconds: float | None = None, peak: float = 100.0, **details) -> Measurement:
    return Measurement(stage, n, True, wall, peak, seconds=seconds, details=details)


def test_targets_say_whether_they_are_met_and_by_how_much_they_are_missed():
    results = [
        _m("postmortem-fit", TARGET_FIT_N, wall=30.0, peak=1500.0),
        _m("pandas-read-wall", TARGET_FIT_N, wall=10.0),
        _m("postmortem-fit", TARGET_BIG_N, wall=90.0, peak=5120.0),
    ]
    verdicts = [t.verdict() for t in evaluate_targets(results)]
    assert "3.00 > 1: MISSED, 3.0 times slower" in verdicts[0]
    assert verdicts[1].endswith(": met")
    assert "MISSED by 30.00 s (1.5× the target)" in verdicts[2]
    assert "MISSED by 1,024.00 MB" in verdicts[3]
    assert verdicts[4].endswith("not measured")


def test_ratios_divide_ours_by_the_pandas_way():
    results = [
        _m("ingest", 1000, wall=2.0, seconds=2.0),
        _m("pandas-read", 1000, wall=1.5, seconds=0.5),
        _m("geocode", 1000, wall=1.0, seconds=1.0),
        _m("geopandas-geocode", 1000, wall=1.0, seconds=4.0),
        _m("fit", 1000, wall=9.0, seconds=8.0, fit_timings={"binning": 0.01}),
        _m("pandas-bin", 1000, wall=1.0, seconds=0.02),
        _m("postmortem-fit", 1000, wall=12.0),
    ]
    (row,) = ratios(results)
    assert row["ingest"] == pytest.approx(4.0)
    assert row["geocode"] == pytest.approx(0.25)
    assert row["bin"] == pytest.approx(0.5)
    assert row["postmortem fit ÷ pandas read"] == pytest.approx(12.0 / 1.5)
    text = report(results, [], markdown=True)
    assert "| 1,000 | ingest: CSV → canonical | 2.00 |" in text


def test_parse_sizes_accepts_scientific_notation():
    assert parse_sizes("1e4, 1e5,2_000_000") == [10_000, 100_000, 2_000_000]
    with pytest.raises(Exception, match="positive whole number"):
        parse_sizes("1.5")


@pytest.mark.slow
def test_run_py_quick_subset_end_to_end(tmp_path):
    cmd = [sys.executable, "benchmarks/run.py", "--sizes", "1e4", "--stages", "ingest,pandas-read", "--no-targets"]
    out = subprocess.run([*cmd, "--work", str(tmp_path)], capture_output=True, text=True, check=False, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "Ratios" in out.stdout and "ingest: CSV → canonical" in out.stdout
    assert (tmp_path / "results.json").is_file()
