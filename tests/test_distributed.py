"""``--dask``: the same results on a real Dask cluster (a LocalCluster of 2 worker processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from analysis.simulate import write_scenario

FAST = ["-p", "n_boot=20", "-p", "families=exponential"]


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """One LocalCluster (2 worker processes, one thread each) for the module: its scheduler's address."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def split_incident(tmp_path: Path, name: str, *, n_reports: int = 500, seed: int = 5) -> tuple[Path, int]:
    """A simulated incident whose reports are spread over three files, with a report_id repeated across files."""
    folder = tmp_path / name
    write_scenario("proximus-2018", folder, n_reports=n_reports, seed=seed)
    lines = (folder / "reports.csv").read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    (folder / "reports.csv").unlink()
    (folder / "parts").mkdir()
    files = [rows[k::3] for k in range(3)]  # every file spans the whole outage
    # a report seen again in a later file (another comment): a duplicate, as in one file
    first = files[0][0]
    files[2].insert(5, first.rsplit(",", 1)[0] + ",seen again")
    files[1].insert(2, "X1,not a time,,Namur,,,TV,")  # a reject
    for k, chunk in enumerate(files):
        (folder / "parts" / f"part-{k}.csv").write_text("\n".join([header, *chunk]) + "\n", encoding="utf-8")
    toml = (folder / "incident.toml").read_text(encoding="utf-8")
    (folder / "incident.toml").write_text(toml.replace('path = "reports.csv"', 'path = "parts/*.csv"'), encoding="utf-8")
    return folder, sum(len(chunk) for chunk in files)


def postmortem(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "analysis", *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_fit_on_a_cluster_gives_the_metrics_of_one_process(tmp_path: Path, scheduler: str) -> None:
    folder, n_rows = split_incident(tmp_path, "split")
    alone = postmortem("fit", str(folder), *FAST, "-p", f"processed_dir={tmp_path / 'p1'}")
    assert alone.returncode == 0, alone.stderr
    spread = postmortem("fit", str(folder), *FAST, "-p", f"processed_dir={tmp_path / 'p2'}", "--dask", scheduler)
    assert spread.returncode == 0, spread.stderr
    m1, m2 = json.loads(alone.stdout), json.loads(spread.stdout)
    assert m1 == m2
    assert m1["n_raw"] == n_rows and m1["n_rejected"] >= 2
    # the reject of part-1 and the repeat in part-2 name their file and row, in both runs
    for p in ("p1", "p2"):
        rejects = pl.read_parquet(tmp_path / p / "split" / "rejects.parquet")
        assert ("parts/part-1.csv", 4) in rejects.select("file", "row").rows()
        repeat = rejects.filter((pl.col("file") == "parts/part-2.csv") & (pl.col("row") == 7))
        assert repeat["reason"].to_list() == ["duplicate of row 2 of parts/part-0.csv (same report_id)"]
    r1 = pl.read_parquet(tmp_path / "p1" / "split" / "reports.parquet")
    r2 = pl.read_parquet(tmp_path / "p2" / "split" / "reports.parquet")
    assert r1.equals(r2)


def test_ingest_on_a_cluster_writes_the_summed_partial_counts(tmp_path: Path, scheduler: str) -> None:
    folder, n_rows = split_incident(tmp_path, "counts", n_reports=300, seed=8)
    out = postmortem("ingest", str(folder), "--processed", str(tmp_path / "p"), "--dask", scheduler)
    assert out.returncode == 0, out.stderr
    assert f"total: {n_rows} rows" in out.stdout
    reports = pl.read_parquet(tmp_path / "p" / "counts" / "reports.parquet")
    counts = pl.read_parquet(tmp_path / "p" / "counts" / "counts.parquet")
    # the tasks' partial counts, summed, are the counts of the merged table
    assert counts["reports"].sum() == reports["weight"].fill_null(1).sum()
    by_area = reports.group_by("nis_code").agg(pl.col("weight").fill_null(1).sum().alias("n")).sort("nis_code", nulls_last=True)
    summed = counts.group_by("nis_code").agg(pl.col("reports").sum().alias("n")).sort("nis_code", nulls_last=True)
    assert by_area.equals(summed)


@pytest.mark.parametrize("timed", [False, True], ids=["report_id", "user_id"])
def test_the_cluster_read_equals_the_read_in_turn(tmp_path: Path, scheduler: str, timed: bool) -> None:
    # files repeating report_ids, whole rows and (timed) a user at the same time from earlier files
    from dask.distributed import Client

    from analysis.config import load_incident
    from analysis.distributed import read_source
    from analysis.ingest.partitions import read_partitioned_counts

    sys.path.insert(0, str(Path(__file__).parent))
    from test_partitions import FILES, write_incident

    files = {k: [r.replace("r9,", "u1,") if timed else r for r in v] for k, v in FILES.items()}
    folder = write_incident(tmp_path, "inproc", files, "parts/*.csv")
    if timed:
        toml = (folder / "incident.toml").read_text(encoding="utf-8")
        (folder / "incident.toml").write_text(toml.replace('report_id = "id"', 'user_id = "id"'), encoding="utf-8")
    incident = load_incident(folder)
    (source,) = incident.sources
    local, local_counts = read_partitioned_counts(source, incident.timezone)
    with Client(scheduler) as client:
        spread, spread_counts = read_source(client, source, incident.timezone)
    assert spread.records.equals(local.records)
    assert spread.rejects.equals(local.rejects)
    assert (spread.n_raw, spread.tally) == (local.n_raw, local.tally)
    assert spread_counts.equals(local_counts)
    reasons = local.rejects["reason"].to_list()
    if timed:  # u1 at 20:12 in day-3.csv repeats day-1.csv's row 4: the same user at the same time
        assert "duplicate of row 4 of parts/day-1.csv (same user_id and time)" in reasons
    else:
        assert "duplicate of row 4 of parts/day-1.csv (same report_id)" in reasons


@pytest.mark.slow
def test_render_all_renders_the_incidents_as_cluster_tasks(tmp_path: Path, scheduler: str) -> None:
    data = tmp_path / "data"
    for k in range(2):
        write_scenario("proximus-2018", data / f"sim-{k}", n_reports=300, seed=20 + k)
    out = tmp_path / "reports"
    run = postmortem("render-all", str(data), "--out", str(out), *FAST, "--dask", scheduler, "--quiet", timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    rows = index["incidents"] if isinstance(index, dict) else index
    assert sorted(r["status"] for r in rows) == ["ok", "ok"]
    for k in range(2):
        assert (out / f"sim-{k}" / "postmortem.html").stat().st_size > 10_000
        assert json.loads((out / f"sim-{k}" / "metrics.json").read_text())["n_reports"] >= 300


def test_a_bad_local_address_is_one_clear_error() -> None:
    from analysis.distributed import connect
    from analysis.errors import ParameterError

    with pytest.raises(ParameterError, match=r"--dask local:two: expected local or local:N"), connect("local:two"):
        pass


def _after(seconds: float, value: int) -> int:
    import time

    time.sleep(seconds)
    return value


def test_results_are_fetched_in_order_as_tasks_end_and_released(scheduler: str) -> None:
    import time

    from dask.distributed import Client

    from analysis.distributed import gather_released

    with Client(scheduler) as client:
        # the last submitted ends first: the order is the futures', not the ends'
        futures = [client.submit(_after, 0.6 - 0.2 * i, i, pure=False) for i in range(3)]
        keys = {f.key for f in futures}
        assert gather_released(client, futures) == [0, 1, 2]
        assert futures == []  # no reference left here ...
        for _ in range(50):  # ... so the workers drop the results
            held = client.run(lambda dask_worker: sorted(str(k) for k in dask_worker.data))
            if not keys & {k for v in held.values() for k in v}:
                break
            time.sleep(0.1)
        assert not keys & {k for v in held.values() for k in v}


@pytest.mark.slow
def test_cells_on_a_cluster_give_the_fit_and_counts_of_one_process(tmp_path: Path, scheduler: str) -> None:
    # the records stay on the workers: the calling process gets each file's cells and rejects
    from dask.distributed import Client

    from analysis.aggregate import CELL_METRICS, cell_metrics
    from analysis.config import load_incident
    from analysis.distributed import read_source_cells
    from analysis.ingest import ingest_incident
    from analysis.ingest.cells import report_cells
    from analysis.params import ReportParams

    folder, n_rows = split_incident(tmp_path, "cells")
    # a report dated 2081 in the second file: the time-outlier limit is decided from the files' time counts
    part = folder / "parts" / "part-1.csv"
    part.write_text(part.read_text(encoding="utf-8") + "X2,2081-01-08 20:15:00,,Namur,,,TV,\n", encoding="utf-8")
    alone = postmortem("fit", str(folder), *FAST, "-p", f"processed_dir={tmp_path / 'p1'}")
    assert alone.returncode == 0, alone.stderr
    whole = json.loads(alone.stdout)
    incident = load_incident(folder)
    (source,) = incident.sources
    with Client(scheduler) as client:
        read = read_source_cells(client, source, incident.timezone, folder=tmp_path / "p2")
    data = ingest_incident(incident)
    # every file's kept reports written by its worker: together, the reports of one process
    written = sorted((tmp_path / "p2" / "reports").glob("*.parquet"))
    assert [p.name for p in written] == [f"reports-part-{k:05d}.parquet" for k in range(3)]
    columns = [
        "report_id",
        "source_row",
        "reported_at",
        "reported_until",
        "status",
        "service",
        "weight",
        "nis_code",
        "geo_method",
    ]
    spread = pl.concat([pl.read_parquet(p, columns=columns) for p in written]).sort("reported_at", "report_id")
    assert spread.equals(
        pl.read_parquet(tmp_path / "p1" / "cells" / "reports.parquet", columns=columns).sort("reported_at", "report_id")
    )
    assert read.cells.equals(report_cells(data.reports).sort(list(read.cells.columns[:6]), nulls_last=True))
    assert read.rejects.equals(data.rejects.select(read.rejects.columns))
    assert (read.n_raw, read.n_accepted, read.rejects.height) == (n_rows + 1, whole["n_reports"], whole["n_rejected"])
    assert any("2081-01-08" in r for r in read.rejects["reason"].to_list())
    assert read.cells.height < data.reports.height  # reports of equal values share a cell
    params = ReportParams(incident_dir=str(folder), n_boot=20, families="exponential")
    from_cells = cell_metrics(incident, read.cells, params)
    assert set(from_cells) == set(CELL_METRICS)
    assert from_cells == {k: whole[k] for k in CELL_METRICS}
    assert from_cells["recovery"]["t50"] is not None
