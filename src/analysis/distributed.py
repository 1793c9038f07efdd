"""The heavy part of ingest, and render-all's incidents, as tasks on a Dask cluster (``--dask``).

Imported only when ``--dask ADDRESS`` is given (``ingest``, ``fit``, ``render-all``):
without it nothing of Dask is loaded. ``ADDRESS`` is a scheduler (``tcp://host:8786``) or
``local`` / ``local:N``: a cluster of N worker processes (one thread each) on this machine,
started for the command and stopped after it.

Sources of several files (a glob or a folder, :mod:`analysis.ingest.partitions`) are processed one
task per file, polars inside each task: read, parse, canonical columns, and the partial
report counts per 15-minute bin × municipality × service (additive, so they sum exactly).
Repeats across files (a ``report_id``, a ``user_id``/``device_id`` at the same time, a
whole row) are found by a shuffle on the keys' hash: every file's first keys are split into
buckets by hash, each bucket finds the keys first seen in an earlier file, and only the
files holding such repeats are processed again, seeded with those keys (the usual case, no
repeat across files, costs one pass). The result is the one reading the files in turn
gives; the records are then merged in the calling process, where the fit runs.
:func:`read_source_cells` keeps the records on the workers and brings back each file's
cells (:mod:`analysis.ingest.cells`) and rejects only.

render-all renders each incident as a task: the worker runs the same render command a
local render-all would start (``python -m analysis render ...``), so every worker needs
the project's environment and read/write access to the data and reports folders.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import polars as pl
from dask.distributed import Client, Future, LocalCluster

from analysis.config import Source
from analysis.errors import ParameterError
from analysis.ingest.canonical import Batches, SourceRead
from analysis.ingest.cells import (
    CellRead,
    anchor_counts,
    canonical_part,
    far_rows,
    median_of_counts,
    merge_cells,
    part_cells,
    part_path,
)
from analysis.ingest.partitions import (
    CHECK,
    KEY_SCHEMA,
    Packed,
    Part,
    PartOut,
    add_counts,
    decide,
    empty_counts,
    file_index,
    finish_counts,
    merge,
    other_part,
    part_counts,
    plan,
    report_part,
    scan_keys,
    use_runner,
    vote_part,
)

log = logging.getLogger(__name__)


#: hash buckets of the repeat shuffle per task slot: a bucket's task holds every file's keys of
#: its bucket at once, so more buckets than slots keep that to a fraction of a worker's share
BUCKETS_PER_THREAD = 4


@contextlib.contextmanager
def connect(address: str) -> Iterator[Client]:
    """A client of the cluster at ``address``; ``local[:N]`` starts (and then stops) one on this machine.

    Raises
    ------
    ParameterError
        The address is not usable or no scheduler answers there.
    """
    if address == "local" or address.startswith("local:"):
        text = address.partition(":")[2]
        if text and not (text.isdigit() and int(text) > 0):
            raise ParameterError(f"--dask {address}: expected local or local:N with N a number of workers")
        n = int(text) if text else os.cpu_count() or 1
        with (
            LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
                env={"POLARS_MAX_THREADS": "1"},
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(address, timeout="30s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ParameterError(f"--dask {address}: no Dask scheduler answers there ({str(exc).splitlines()[0][:200]})") from None
    with client:
        yield client


def n_threads(client: Client) -> int:
    """Task slots of the cluster (threads over every worker)."""
    return max(1, sum(client.nthreads().values()))


# --------------------------------------------------------------------------- ingest


class DaskReader:
    """Reads sources of several files on a cluster; keeps the report counts of each source it read."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.counts: list[pl.DataFrame] = []

    def __call__(self, source: Source, timezone: str) -> SourceRead:
        """One source of several files (see the module docstring)."""
        read, counts = read_source(self.client, source, timezone)
        self.counts.append(counts)
        return read

    def all_counts(self) -> pl.DataFrame:
        """The counts of every source read so far."""
        return add_counts(self.counts)


@contextlib.contextmanager
def on_cluster(client: Client) -> Iterator[DaskReader]:
    """Within the block, ingest reads sources of several files on the cluster."""
    reader = DaskReader(client)
    with use_runner(reader):
        yield reader


def _first_pass(source: Source, timezone: str, part: Part, month_first: dict[str, bool], n_buckets: int) -> tuple[Any, ...]:
    """One file processed alone; its first keys split into hash buckets for the shuffle."""
    out = report_part(source, timezone, part, Batches(month_first), keep_seen=True)
    counts = part_counts(source, out.records)
    prints = [v.select(pl.lit(k, CHECK).alias("check"), "_h1", "_h2", "_first") for k, v in out.seen.items()]
    keys = pl.concat(prints, how="vertical") if prints else pl.DataFrame(schema=KEY_SCHEMA)
    out.seen = {}
    buckets = [keys.filter(pl.col("_h1") % n_buckets == j) for j in range(n_buckets)]
    return out, counts, buckets


def _bucket(result: tuple[Any, ...], j: int) -> pl.DataFrame:
    return result[2][j]


def _output(result: tuple[Any, ...]) -> tuple[PartOut, pl.DataFrame]:
    return _packed(result[0]), result[1]


def _packed(out: PartOut) -> PartOut:
    """A partition's output made light to send: its records without their single-valued columns."""
    out.records = Packed.of(out.records)  # type: ignore[assignment]
    return out


def _unpacked(out: PartOut) -> PartOut:
    if isinstance(out.records, Packed):
        out.records = out.records.unpack()
    return out


def _repeats(*buckets: pl.DataFrame) -> pl.DataFrame:
    """Keys of one hash bucket first seen in an earlier file: the file holding the repeat, and the first row."""
    keys = pl.concat(buckets, how="vertical")
    if keys.height == 0:
        return keys
    return (
        keys.with_columns(pl.col("_first").min().over("check", "_h1", "_h2").alias("_earliest"))
        .filter(pl.col("_first") != pl.col("_earliest"))
        .with_columns(file_index(pl.col("_first")).alias("part"))
    )


def _second_pass(
    source: Source, timezone: str, part: Part, month_first: dict[str, bool], seeds: dict[str, pl.DataFrame]
) -> tuple[PartOut, pl.DataFrame]:
    """A file processed again knowing the keys it repeats from earlier files (and their first rows)."""
    out = report_part(source, timezone, part, Batches(month_first, seen=dict(seeds)))
    counts = part_counts(source, out.records)
    return _packed(out), counts


def _scan(source: Source, part: Part, n_buckets: int) -> tuple[bool, list[pl.DataFrame]]:
    """One file's first keys (see :func:`analysis.ingest.partitions.scan_keys`) split into hash buckets."""
    timed, keys = scan_keys(source, part)
    return timed, [keys.filter(pl.col("_h1") % n_buckets == j) for j in range(n_buckets)]


def _flag(result: tuple[Any, ...]) -> bool:
    return result[0]


def _scanned_bucket(result: tuple[Any, ...], j: int) -> pl.DataFrame:
    return result[1][j]


def _shuffle(client: Client, scans: list[Future], pick: Any, n_buckets: int) -> pl.DataFrame | None:
    """Keys first seen in an earlier file, found bucket by bucket (each bucket a task over every file's share)."""
    found = client.gather(
        [client.submit(_repeats, *[client.submit(pick, f, j, pure=False) for f in scans], pure=False) for j in range(n_buckets)]
    )
    found = [r for r in found if r.height]
    return pl.concat(found, how="vertical") if found else None


def _seeds(repeats: pl.DataFrame | None, index: int) -> dict[str, pl.DataFrame]:
    """The keys a file repeats from earlier files, with their first rows (a ``Batches.seen``)."""
    if repeats is None:
        return {}
    mine = repeats.filter(pl.col("part") == index)
    return {
        check: mine.filter(pl.col("check").cast(pl.String) == check).select("_h1", "_h2", pl.col("_earliest").alias("_first"))
        for check in mine["check"].cast(pl.String).unique().to_list()
    }


def gather_released(client: Client, futures: list[Future]) -> list[Any]:
    """The futures' results in their order, each fetched as soon as its task ends and then released.

    ``futures`` is emptied: once a result is here no reference to its future is left, so
    the worker drops it. A worker then holds only the results not yet fetched, instead of
    every file's records until the last file is done.
    """
    from dask.distributed import as_completed

    where = {f.key: i for i, f in enumerate(futures)}
    out: list[Any] = [None] * len(futures)
    pending = as_completed(futures)
    futures.clear()
    for done in pending:
        out[where[done.key]] = done.result()
        del done
    return out


def _part_futures(client: Client, source: Source, timezone: str, parts: list[Part]) -> list[Future]:
    """Every file of a down-reports source processed on the cluster knowing its repeats: futures of ``(PartOut, counts)``.

    First every file's keys are scanned (no parsing) and shuffled by hash to find the keys
    each file repeats from earlier files; then every file is processed once, knowing them.
    Files holding a ``user_id`` or ``device_id`` (whose repeats depend on parsed times) are
    processed first on their own, and again where they repeat earlier files.
    """
    n = len(parts)
    month_first = decide(client.gather(client.map(vote_part, [source] * n, parts, pure=False)))
    n_buckets = min(n, BUCKETS_PER_THREAD * n_threads(client))
    scans: list[Future] = client.map(_scan, [source] * n, parts, [n_buckets] * n, pure=False)
    timed = any(client.gather([client.submit(_flag, f, pure=False) for f in scans]))
    if not timed:
        repeats = _shuffle(client, scans, _scanned_bucket, n_buckets)
        del scans
        results = [
            client.submit(_second_pass, source, timezone, part, month_first, _seeds(repeats, part.index), pure=False)
            for part in parts
        ]
    else:
        del scans
        first: list[Future] = client.map(
            _first_pass, [source] * n, [timezone] * n, parts, [month_first] * n, [n_buckets] * n, pure=False
        )
        repeats = _shuffle(client, first, _bucket, n_buckets)
        results = [client.submit(_output, f, pure=False) for f in first]
        for index in sorted(set(repeats["part"].to_list())) if repeats is not None else []:
            results[index] = client.submit(
                _second_pass, source, timezone, parts[index], month_first, _seeds(repeats, index), pure=False
            )
        del first  # each first pass is released once its output is fetched
    if repeats is not None:
        log.info("%s: %d of %d files repeat keys of earlier files", source.name, repeats["part"].n_unique(), n)
    return results


def read_source(client: Client, source: Source, timezone: str) -> tuple[SourceRead, pl.DataFrame]:
    """A source of several files read on the cluster: the same read as in turn, and its report counts.

    The files are processed by :func:`_part_futures`; their records come back here and are merged.
    """
    parts = plan(source)
    n = len(parts)
    if source.kind != "down_reports":
        outs = client.gather(client.map(other_part, [source] * n, [timezone] * n, parts, pure=False))
        return merge(source, parts, outs).read, empty_counts()
    gathered = gather_released(client, _part_futures(client, source, timezone, parts))
    outs = [_unpacked(o) for o, _ in gathered]
    merged = merge(source, parts, outs)
    return merged.read, finish_counts(source, [c for _, c in gathered], merged)


def _canonical_out(result: tuple[Any, ...], source: Source) -> PartOut:
    return canonical_part(_unpacked(result[0]), source)


def _anchors(out: PartOut, source: Source) -> tuple[pl.DataFrame, int]:
    return anchor_counts(out.records, source.kind), out.records.height


def _accounting(out: PartOut) -> PartOut:
    """The partition's accounting without its records (what the calling process keeps of it)."""
    return PartOut(out.records.clear(), out.rejects.clear(), out.n_raw, out.encoding, out.delimiter, out.tally)


def read_source_cells(client: Client, source: Source, timezone: str, *, folder: Path | None = None) -> CellRead:
    """A down-reports source of several files read on the cluster as cells (:mod:`analysis.ingest.cells`).

    The files are processed as by :func:`read_source`, but their records stay on the
    workers: the calling process receives each file's anchor-time counts (for the
    time-outlier limit), its number of far rows, and then its cells and rejects. The cells
    are those of the merged records of :func:`read_source`, the rejects the same rows.
    ``folder``: each worker also writes its file's kept reports under it
    (:func:`analysis.ingest.cells.part_path`).

    Raises
    ------
    ParameterError
        The source is not of down reports (restorations and series have no cells).
    """
    if source.kind != "down_reports":
        raise ParameterError(f"source '{source.name}': only down reports are read as cells, not {source.kind}")
    parts = plan(source)
    outs: list[Future] = [
        client.submit(_canonical_out, f, source, pure=False) for f in _part_futures(client, source, timezone, parts)
    ]
    anchors = client.gather([client.submit(_anchors, f, source, pure=False) for f in outs])
    median = median_of_counts([a for a, _ in anchors])
    total = sum(h for _, h in anchors)
    far = sum(client.gather([client.submit(far_rows, f, source, median, pure=False) for f in outs]))
    cut = median if far and 2 * far < total else None  # outliers only when most rows agree
    paths = [part_path(folder, source, p) if folder is not None else None for p in parts]
    pieces = client.gather(
        [client.submit(part_cells, f, source, cut, write=w, pure=False) for f, w in zip(outs, paths, strict=True)]
    )
    accounts = client.gather([client.submit(_accounting, f, pure=False) for f in outs])
    del outs
    return merge_cells(source, parts, accounts, pieces)


# --------------------------------------------------------------------------- render-all


def run_render(cmd: Sequence[str]) -> tuple[int, bytes]:
    """On a worker: the render command (with the worker's own Python), its exit code and output."""
    argv = [sys.executable, *cmd[1:]]
    proc = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
        start_new_session=True,
        check=False,
    )
    return proc.returncode, proc.stdout


class RemoteRender:
    """A render running as a task on the cluster, watched by render-all like a local process.

    A render stops itself at its time limit (``--timeout``); ``kill`` only forgets the task.
    """

    remote = True

    def __init__(self, client: Client, cmd: Sequence[str], output: IO[bytes]) -> None:
        self.future = client.submit(run_render, list(cmd), pure=False)
        self.output = output
        self.pid = 0
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code once the task is over, else None."""
        if self.returncode is None and self.future.done():
            self._finish()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the task (``subprocess.TimeoutExpired`` after ``timeout`` seconds)."""
        if self.returncode is None:
            try:
                self.future.result(timeout=timeout)
            except TimeoutError:
                raise subprocess.TimeoutExpired(["render"], timeout or 0) from None
            except Exception:  # the task's error is read in _finish
                pass
            self._finish()
        return self.returncode  # type: ignore[return-value]

    def kill(self) -> None:
        """Cancel the task (a render already running ends at its own time limit)."""
        self.future.cancel()
        if self.returncode is None:
            self.returncode = -9

    def _finish(self) -> None:
        if self.future.cancelled():
            self.returncode = -9
            return
        try:
            rc, text = self.future.result()
        except Exception as exc:  # a worker lost, an import error there: the render failed
            rc, text = 1, f"postmortem: error: the render task failed on the cluster: {exc}\n".encode()
        self.output.write(text)
        self.output.flush()
        self.returncode = rc


def starter(client: Client) -> Any:
    """What render-all calls to start one render on the cluster instead of a local process."""

    def start(cmd: Sequence[str], output: IO[bytes]) -> RemoteRender:
        return RemoteRender(client, cmd, output)

    return start


def write_counts(counts: pl.DataFrame, folder: Path) -> Path:
    """The report counts (per source, 15-minute bin, municipality, service) as ``counts.parquet``."""
    path = folder / "counts.parquet"
    counts.write_parquet(path)
    return path
