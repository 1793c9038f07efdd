"""Sources of several files (a glob or a folder), read one file (one partition) at a time.

Reading the files of a source one after the other gives the same result as reading one
file holding all their rows, in file order (:func:`analysis.sources.source_files`):

* each time column's day/month order is voted by the whole source (every file's values);
* a row repeating a ``report_id`` (or a ``user_id``/``device_id`` at the same time, or,
  under ``dedupe = "exact"``, a whole row) of an earlier file is a duplicate of that
  file's row, as within one file, and the identical-row counts cover the whole source;
* ``raw rows = kept + rejected`` holds for the source, and every reject names its
  ``file`` and its ``row`` in that file (duplicate reasons name both: "duplicate of row 17
  of parts/day-1.csv (same report_id)"). Kept reports keep their row in ``source_row``; a
  report without an id of its own is named ``<source>:<file>:<row>``.

Rows are numbered internally as ``(file index + 1) · 2⁴⁰ + row`` while the partitions are
processed, so that the repeat checks of :mod:`analysis.ingest` (which remember rows by
number) work across files unchanged; the numbers are turned back into file and row before
anything is returned.

The same per-partition functions run on a Dask cluster (:mod:`analysis.distributed`):
they take and return plain values (sources, paths, polars frames), so they travel to
worker processes. Nothing here imports Dask.

Down reports get every guarantee above. Restoration and online-series sources of several
files are read file by file too, with their own repeat checks and time outliers judged
within each file (not across files), and ids made unique across the files.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from analysis.config import Source
from analysis.errors import IngestError
from analysis.ingest.canonical import SourceRead, bounded, canonicalize, compact_constants
from analysis.ingest.checks import Batches, DuplicateTally, _scrub_raw, key_hash
from analysis.ingest.fields import _column_for
from analysis.ingest.reports import _finish_reports, _report_time_text, _report_work
from analysis.sources import REJECT_SCHEMA, RawTable, read_source, relative_name, source_files
from analysis.timeparse import day_month_votes

SHIFT = 40  # rows are numbered (file index + 1) << SHIFT | row while partitions are processed
COUNT_BIN_MINUTES = 15
COUNT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "source": pl.String,
    "bin_start": pl.Datetime("us", "UTC"),
    "nis_code": pl.String,
    "service": pl.String,
    "windowed": pl.Boolean,
    "reports": pl.Int64,
}


@dataclass(frozen=True)
class Part:
    """One file of a source: its position in the source, its path, its name in the incident folder."""

    index: int
    path: Path
    name: str


@dataclass
class PartOut:
    """What processing one partition gives: its records and rejects, counts, and the keys it holds.

    ``seen`` (down reports): per repeat check, the fingerprint of each key first seen in
    this partition, with its (internal) row number: what later partitions compare with.
    """

    records: pl.DataFrame
    rejects: pl.DataFrame
    n_raw: int
    encoding: str | None
    delimiter: str | None
    tally: tuple[int, int, int]
    seen: dict[str, pl.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class Packed:
    """A frame sent between processes without its single-valued columns (each sent once, rebuilt on arrival).

    Serialising a frame writes a column that holds one value (an unused optional column,
    the source's name) in full on every row; most canonical columns of a report file are such.
    """

    frame: pl.DataFrame
    constants: tuple[tuple[str, object, pl.DataType], ...]
    order: tuple[str, ...]

    @classmethod
    def of(cls, df: pl.DataFrame) -> Packed:
        """``df`` packed."""
        constants = []
        if df.height > 1:
            for name, dtype in df.schema.items():
                s = df.get_column(name)
                if s.null_count() == s.len():
                    constants.append((name, None, dtype))
                elif (
                    s.null_count() == 0
                    and (dtype == pl.String or dtype.is_numeric() or dtype.is_temporal())
                    and s.n_unique() == 1
                ):
                    constants.append((name, s[0], dtype))
        return cls(df.drop([c[0] for c in constants]), tuple(constants), tuple(df.columns))

    def unpack(self) -> pl.DataFrame:
        """The frame as it was (single-valued columns stored once, as :func:`analysis.ingest.canonical.compact_constants` does)."""
        if not self.constants:
            return self.frame
        n = self.frame.height
        base = self.frame if self.frame.width else pl.DataFrame({"_n": range(n)})
        out = base.with_columns(pl.lit(v, d).alias(c) for c, v, d in self.constants)
        return out.select(self.order)


def plan(source: Source) -> list[Part]:
    """The partitions of a source, in order (one per file)."""
    return [Part(i, p, relative_name(source, p)) for i, p in enumerate(source_files(source))]


def part_source(source: Source, part: Part) -> Source:
    """The source narrowed to one of its files (error messages then name that file)."""
    return dataclasses.replace(source, path=part.path, rel_path=part.name)


def _offset(part: Part) -> int:
    return (part.index + 1) << SHIFT


def read_part(source: Source, part: Part) -> RawTable:
    """One file read as text (:func:`analysis.sources.read_source`), rows numbered across the source."""
    raw = read_source(part_source(source, part))
    off = _offset(part)
    return RawTable(
        raw.table.with_columns(pl.col("_row") + off),
        raw.rejects.with_columns(pl.col("row") + off),
        raw.encoding,
        raw.delimiter,
    )


# --------------------------------------------------------------------------- day/month vote

Votes = dict[str, tuple[int, int, int, int, int, int]]


def vote_part(source: Source, part: Part) -> Votes:
    """One file's day/month votes per report time column (additive over files; see :func:`decide`)."""
    if source.kind != "down_reports" or source.time_format is not None:
        return {}
    table = read_source(part_source(source, part)).table
    out: Votes = {}
    for key, expr in _report_time_text(table, source).items():
        c = table.group_by(expr.alias("v")).agg(pl.len().alias("n"))
        day_w, month_w = day_month_votes(c["v"], c["n"])
        day_d, month_d = day_month_votes(c["v"])
        out[key] = (day_w, month_w, day_d, month_d, int(c["n"].sum()), c.height)
    return out


def decide(votes: Sequence[Votes]) -> dict[str, bool]:
    """Each time column's order (month first?) from the votes of every file, by the rule of one read.

    As :func:`analysis.timeparse.column_month_first`: every value votes when at most one
    value in two repeats, else each distinct value once. The distinct values are counted
    per file (a value found in two files counts twice), which can only matter when the
    files' votes disagree.
    """
    total: dict[str, list[int]] = {}
    for v in votes:
        for key, numbers in v.items():
            acc = total.setdefault(key, [0] * 6)
            for i, x in enumerate(numbers):
                acc[i] += x
    out = {}
    for key, (day_w, month_w, day_d, month_d, n, distinct) in total.items():
        every = distinct > n // 2
        out[key] = (month_w > day_w) if every else (month_d > day_d)
    return out


# --------------------------------------------------------------------------- one partition


def report_part(source: Source, timezone: str, part: Part, batches: Batches, *, keep_seen: bool = False) -> PartOut:
    """Down reports of one file, before the source's ids and limits (see :func:`merge`).

    ``batches`` holds the day/month orders and the keys of the earlier files (a shared
    object when the files are read in turn; seeded with the keys found in earlier files
    when they are processed apart, see :mod:`analysis.distributed`); ``keep_seen``: return
    the keys this file adds to them.
    """
    raw = read_part(source, part)
    tally = DuplicateTally()
    work, rejects = _report_work(raw.table, part_source(source, part), timezone, batches, tally)
    local = (pl.col("_row") % (1 << SHIFT)).cast(pl.String)
    work = work.with_columns(pl.coalesce(pl.col("_id"), pl.format("{}:{}", pl.lit(part.name), local)).alias("_id"))
    rejects = pl.concat([_reader_rejects(raw), rejects], how="vertical")
    mine = {k: v.filter(pl.col("_first") >= _offset(part)) for k, v in batches.seen.items()} if keep_seen else {}
    return PartOut(
        compact_constants(work),
        rejects,
        raw.n_raw,
        raw.encoding,
        raw.delimiter,
        (tally.identical, tally.identical_kept, tally.duplicates),
        mine,
    )


def _reader_rejects(raw: RawTable) -> pl.DataFrame:
    """The rows the reader could not split, their raw text scrubbed (as :func:`analysis.ingest.canonical.canonicalize` does)."""
    rejects = raw.rejects.cast(REJECT_SCHEMA)  # type: ignore[arg-type]
    if rejects.height:
        rejects = rejects.with_columns(pl.Series("raw", [_scrub_raw(r) for r in rejects["raw"].to_list()], dtype=pl.String))
    return rejects


def other_part(source: Source, timezone: str, part: Part) -> PartOut:
    """Restoration records or online-series points of one file (checked within the file)."""
    raw = read_source(part_source(source, part))
    tally = DuplicateTally()
    records, rejects = canonicalize(raw, part_source(source, part), timezone=timezone, tally=tally)
    if "record_id" in records.columns:  # rows without a customer id are named by file and row
        plain = pl.format("{}:{}", pl.lit(source.name), pl.col("source_row").cast(pl.String))
        named = pl.format("{}:{}:{}", pl.lit(source.name), pl.lit(part.name), pl.col("source_row").cast(pl.String))
        records = records.with_columns(
            pl.when(pl.col("record_id") == plain).then(named).otherwise("record_id").alias("record_id")
        )
    rejects = rejects.with_columns(pl.lit(part.name, pl.String).alias("file"))
    return PartOut(
        records, rejects, raw.n_raw, raw.encoding, raw.delimiter, (tally.identical, tally.identical_kept, tally.duplicates)
    )


TIMED_IDS = ("user_id", "device_id")


def scan_keys(source: Source, part: Part) -> tuple[bool, pl.DataFrame]:
    """The repeat-check keys one file holds first (fingerprint and first row), before any parsing.

    Whole rows (counted as identical for every policy, duplicates under ``exact``) and, under
    ``identity``, ``report_id``: fingerprinted exactly as :func:`analysis.ingest.checks._earlier`
    does, so the keys an earlier file holds can be handed to a later file's processing
    (``Batches.seen``). The flag says whether the file holds a ``user_id`` or ``device_id``,
    whose repeats depend on parsed times (not scanned here).
    """
    raw = read_part(source, part)
    table = raw.table
    try:
        timed = any(_column_for(table, source, c) is not None for c in TIMED_IDS)
    except IngestError:
        timed = True  # a mapped column missing: the full processing says so
    rows = table["_row"].cast(pl.Int64)
    cols = [c for c in table.columns if c != "_row"]
    frames = [_firsts("row", table.select(cols), rows, None)] if cols and table.height else []
    if source.dedupe == "identity" and table.height:
        name = _column_for(table, source, "report_id") if not timed else None
        if name is not None:
            value = table.select(pl.col(name).cast(pl.String).str.strip_chars().replace("", None).alias("id"))
            frames.append(_firsts("report_id", value, rows, value["id"].is_not_null()))
    return timed, pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=KEY_SCHEMA)


CHECK = pl.Enum(["row", "report_id", "user_id", "device_id"])  # the repeat checks of analysis.ingest
KEY_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {"check": CHECK, "_h1": pl.UInt64, "_h2": pl.UInt64, "_first": pl.Int64}


def file_index(first: pl.Expr) -> pl.Expr:
    """The partition a row (numbered across files) is in."""
    return (first // (1 << SHIFT) - 1).cast(pl.Int32)


def _firsts(check: str, keys: pl.DataFrame, rows: pl.Series, valid: pl.Series | None) -> pl.DataFrame:
    keys = keys.rename({c: f"k{j}" for j, c in enumerate(keys.columns)})
    prints = pl.DataFrame({"_h1": key_hash(keys, 7), "_h2": key_hash(keys, 11), "_first": rows})
    if valid is not None:
        prints = prints.filter(valid)
    prints = prints.unique(subset=["_h1", "_h2"], keep="first", maintain_order=True)
    return prints.select(pl.lit(check, CHECK).alias("check"), pl.all())


# --------------------------------------------------------------------------- the whole source


@dataclass(frozen=True)
class Merged:
    """A source's partitions put together: what ingest keeps, and the kept rows the limits then removed."""

    read: SourceRead
    removed: pl.DataFrame


def merge(source: Source, parts: Sequence[Part], outs: Sequence[PartOut]) -> Merged:
    """The partitions of one source as one read: ids, limits, rows back to file and row, counts checked."""
    names = {p.index + 1: p.name for p in parts}
    n_raw = sum(o.n_raw for o in outs)
    tally = DuplicateTally(*(sum(o.tally[i] for o in outs) for i in range(3)))
    first = outs[0] if outs else None
    encoding, delimiter = (first.encoding, first.delimiter) if first else (None, None)
    if source.kind != "down_reports":
        records = pl.concat([o.records for o in outs], how="vertical")
        rejects = pl.concat([o.rejects for o in outs], how="vertical")
        return Merged(SourceRead(records, rejects, n_raw, encoding, delimiter, tally), records.clear())
    work = pl.concat([o.records for o in outs], how="vertical_relaxed", rechunk=False)
    records = compact_constants(_finish_reports(work, source))
    del work
    before = records
    # reasons name the file before the limits scrub them (a long internal row number reads like a phone number)
    rejects = _decode_reasons(pl.concat([o.rejects for o in outs], how="vertical"), names)
    records, rejects = bounded(records, rejects, source)
    if records.height + rejects.height != n_raw:
        raise AssertionError(f"{source.path}: {n_raw} rows in, {records.height} kept + {rejects.height} rejected")
    removed = before.join(records.select("source_row"), on="source_row", how="anti") if rejects.height else before.clear()
    del before
    records = records.with_columns(pl.col("source_row") % (1 << SHIFT))
    rejects = _decode_rejects(rejects, names)
    return Merged(SourceRead(records, rejects, n_raw, encoding, delimiter, tally), removed)


_DUP = r"duplicate of row (\d+)"


def _decode_reasons(rejects: pl.DataFrame, names: dict[int, str]) -> pl.DataFrame:
    """Internal row numbers in duplicate reasons back to file and row."""
    unit = 1 << SHIFT
    number = pl.col("reason").str.extract(_DUP, 1).cast(pl.Int64)
    named = pl.format(
        "{}duplicate of row {} of {}{}",
        pl.col("reason").str.extract(r"^(.*?)duplicate of row \d+", 1),
        number % unit,
        (number // unit).replace_strict(names, default="?", return_dtype=pl.String),
        pl.col("reason").str.extract(r"duplicate of row \d+(.*)$", 1),
    )
    return rejects.with_columns(pl.when(number >= unit).then(named).otherwise(pl.col("reason")).alias("reason"))


def _decode_rejects(rejects: pl.DataFrame, names: dict[int, str]) -> pl.DataFrame:
    """Internal row numbers back to file and row."""
    unit = 1 << SHIFT
    return rejects.with_columns(
        pl.col("row") % unit,
        (pl.col("row") // unit).replace_strict(names, default=None, return_dtype=pl.String).alias("file"),
    )


Runner = Callable[[Source, str], SourceRead]
_RUNNER: ContextVar[Runner | None] = ContextVar("partition_runner", default=None)


@contextlib.contextmanager
def use_runner(runner: Runner) -> Iterator[None]:
    """Within the block, sources of several files are read by ``runner`` (e.g. on a Dask cluster)."""
    token = _RUNNER.set(runner)
    try:
        yield
    finally:
        _RUNNER.reset(token)


def read_partitioned(source: Source, timezone: str) -> SourceRead:
    """Every file of a source as one read (see the module docstring): in turn, or by the runner in use."""
    runner = _RUNNER.get()
    if runner is not None:
        return runner(source, timezone)
    return read_partitioned_counts(source, timezone, counts=False)[0]


def read_partitioned_counts(source: Source, timezone: str, *, counts: bool = True) -> tuple[SourceRead, pl.DataFrame]:
    """:func:`read_partitioned`, and (``counts``) the report counts per time bin × municipality × service.

    Memory holds one file's raw text at a time (and the kept records of the files read).
    """
    parts = plan(source)
    if source.kind != "down_reports":
        merged = merge(source, parts, [other_part(source, timezone, p) for p in parts])
        return merged.read, empty_counts()
    batches = Batches(decide([vote_part(source, p) for p in parts]))
    outs, partial = [], []
    for part in parts:
        out = report_part(source, timezone, part, batches)
        if counts:
            partial.append(part_counts(source, out.records))
        outs.append(out)
    merged = merge(source, parts, outs)
    if not counts:
        return merged.read, empty_counts()
    return merged.read, finish_counts(source, partial, merged)


# --------------------------------------------------------------------------- additive counts


def empty_counts() -> pl.DataFrame:
    """A counts table with no rows."""
    return pl.DataFrame(schema=COUNT_SCHEMA)


def report_counts(source: str, reports: pl.DataFrame, *, bin_minutes: int = COUNT_BIN_MINUTES) -> pl.DataFrame:
    """Reports (their ``weight``) per UTC time bin × municipality (``nis_code``) × service of geocoded reports.

    A report known only within a window counts in the bin of the window's start, in the
    rows with ``windowed`` true. The counts of parts of a source add up to the counts of
    the whole source.
    """
    if reports.height == 0:
        return empty_counts()
    return (
        reports.group_by(
            pl.col("reported_at").dt.truncate(f"{bin_minutes}m").alias("bin_start"),
            "nis_code",
            "service",
            pl.col("reported_until").is_not_null().alias("windowed"),
        )
        .agg(pl.col("weight").fill_null(1).sum().cast(pl.Int64).alias("reports"))
        .select(pl.lit(source, pl.String).alias("source"), pl.all())
        .cast(COUNT_SCHEMA)  # type: ignore[arg-type]
    )


def part_counts(source: Source, work: pl.DataFrame) -> pl.DataFrame:
    """The counts of one partition's kept reports (geocoded here, row by row as ingest does)."""
    from analysis.geo import resolve_places

    if work.height == 0:
        return empty_counts()
    return report_counts(
        source.name,
        resolve_places(
            work.select(
                "reported_at", "reported_until", "place_raw", "postal_code", "lat", "lon", "service", "area_level", "weight"
            )
        ),
    )


def add_counts(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Counts tables summed key by key (zero rows dropped), sorted."""
    keys = ["source", "bin_start", "nis_code", "service", "windowed"]
    frames = [f for f in frames if f.height]
    if not frames:
        return empty_counts()
    return (
        pl.concat(frames, how="vertical")
        .group_by(keys)
        .agg(pl.col("reports").sum())
        .filter(pl.col("reports") != 0)
        .sort(keys, nulls_last=True)
        .select(list(COUNT_SCHEMA))
    )


def finish_counts(source: Source, partial: Sequence[pl.DataFrame], merged: Merged) -> pl.DataFrame:
    """The partitions' counts summed, less those of the reports the source's limits removed afterwards (time outliers)."""
    if merged.removed.height == 0:
        return add_counts(partial)
    minus = part_counts(source, merged.removed).with_columns(pl.col("reports") * -1)
    return add_counts([*partial, minus])
