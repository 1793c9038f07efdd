"""Sources → canonical tables (reports, restorations, online series) + rejects, losing nothing.

For each source the file is read as text (:mod:`analysis.sources`), the columns named in
``[sources.columns]`` (or present under their canonical name) are mapped, times are parsed
into UTC (:mod:`analysis.timeparse`), free text is scrubbed of personal data
(:mod:`analysis.privacy`), and every row that cannot become a record goes to the rejects
table with its source, row, the file column at fault (when there is one), its raw values
(scrubbed too) and a reason a person understands. Kept rows carry remarks in ``issues``
(coordinates ignored, an unknown status, an ambiguous clock time...).

Invariant, checked before anything is returned: for every source,
``raw rows = accepted rows + rejected rows``. A source whose ``path`` is a glob or a folder
is read file by file by :mod:`analysis.ingest.partitions`, with the result of one file holding all
the rows; every reject names its ``file``.

Each evidence kind has its module (:mod:`.reports`, :mod:`.restorations`, :mod:`.series`),
built on the values of a row (:mod:`.fields`) and the row checks every kind shares, once
(:mod:`.checks`: empty rows, oversized fields, duplicates by the ``dedupe`` policy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from analysis.config import Source
from analysis.errors import IngestError
from analysis.ingest.checks import Batches, DuplicateTally, _scrub_raw
from analysis.ingest.reports import _finish_reports, _report_frame, _report_time_text, _report_work
from analysis.ingest.restorations import _restoration_frame
from analysis.ingest.series import _online_frame
from analysis.limits import limit
from analysis.privacy import scrub_labels
from analysis.sources import REJECT_SCHEMA, CsvStream, RawTable, open_csv_stream, read_source
from analysis.timeparse import UTC_DTYPE, column_month_first

BATCH_ROWS = 2_000_000  # rows per batch of a large CSV file (see ingest_incident)


@dataclass(frozen=True)
class SourceCounts:
    """How many rows a source had, kept and rejected, and how it was read."""

    source: str
    kind: str
    path: str
    n_raw: int
    n_accepted: int
    n_rejected: int
    encoding: str | None = None
    delimiter: str | None = None
    time_format: str | None = None
    # duplicates (docs/data-quality.md): the policy applied (the source's ``dedupe``), how
    # many rows are identical in every raw field to an earlier row of the source (empty rows
    # aside), how many of those were kept, and how many rows were rejected as duplicates
    dedupe: str = "identity"
    n_identical: int = 0
    n_identical_kept: int = 0
    n_duplicates: int = 0


@dataclass(frozen=True)
class IngestResult:
    """Canonical tables of one incident and the accounting that reconciles them."""

    reports: pl.DataFrame
    rejects: pl.DataFrame
    restorations: pl.DataFrame
    online: pl.DataFrame
    sources: tuple[SourceCounts, ...] = field(default=())

    @property
    def n_raw(self) -> int:
        """Rows in all source files."""
        return sum(s.n_raw for s in self.sources)

    @property
    def n_rejected(self) -> int:
        """Rows that could not be used (each with a reason in ``rejects``)."""
        return self.rejects.height

    @property
    def n_reports(self) -> int:
        """Accepted rows of every kind (down reports, restoration records, online points)."""
        return self.reports.height + self.restorations.height + self.online.height

    def counts_table(self) -> pl.DataFrame:
        """Per-source accounting, one row per source."""
        return pl.DataFrame([s.__dict__ for s in self.sources]) if self.sources else pl.DataFrame()


_BUILDERS: Mapping[str, Callable[[pl.DataFrame, Source, str, DuplicateTally | None], tuple[pl.DataFrame, pl.DataFrame]]] = {
    "down_reports": _report_frame,
    "restorations": _restoration_frame,
    "online_fraction": _online_frame,
}


def canonicalize(
    raw: RawTable, source: Source, *, timezone: str, tally: DuplicateTally | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Turn a raw table into canonical records and rejects (reader rejects included).

    ``tally``, when given, receives the source's duplicate accounting (identical rows, how
    many were kept, how many rejected as duplicates).

    Raises
    ------
    IngestError
        A mapped column is absent, no time column exists, or ``time_format`` is unusable.
    """
    records, rejects = _BUILDERS[source.kind](raw.table, source, timezone, tally)
    # the reader's rejects carry raw text that was never split into fields: scrub it here
    reader_rejects = raw.rejects.cast(REJECT_SCHEMA)  # type: ignore[arg-type]
    if reader_rejects.height:
        reader_rejects = reader_rejects.with_columns(
            pl.Series("raw", [_scrub_raw(r) for r in reader_rejects["raw"].to_list()], dtype=pl.String)
        )
    rejects = pl.concat([reader_rejects, rejects], how="vertical")
    records, rejects = bounded(records, rejects, source)
    if records.height + rejects.height != raw.n_raw:
        raise AssertionError(f"{source.path}: {raw.n_raw} rows in, {records.height} kept + {rejects.height} rejected")
    return records, rejects


#: The time column a source's rows are placed by, per kind (the others are checked as well).
_MAIN_TIME = {"down_reports": "reported_at", "restorations": "observed_at", "online_fraction": "observed_at"}


def bounded(records: pl.DataFrame, rejects: pl.DataFrame, source: Source) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hold a source's kept rows to the documented limits (docs/security.md); rejects sorted by row.

    * A row with a time more than ``POSTMORTEM_MAX_SPAN_DAYS`` from the median time of its
      source is rejected as an outlier, when fewer than half the rows are (one report dated
      2081 among 2018 ones is a typo; kept, it would stretch the analysed span to 63 years).
    * Reports whose ``count`` adds up to more than ``POSTMORTEM_MAX_REPORTS`` are refused:
      every report is a unit of work, whatever number a cell says.

    Raises
    ------
    IngestError
        The counts of the source add up to more than the limit.
    """
    anchor, times = time_anchor(records, source.kind)
    if records.height and anchor is not None:
        median = records.select(anchor.to_physical().median()).item()
        if median is not None:
            far = far_from(times, median)
            flagged = records.with_columns(far.alias("_far")).filter("_far")
            if flagged.height and 2 * flagged.height < records.height:  # outliers only when most rows agree
                records = records.filter(~far)
                rejects = pl.concat([rejects, outlier_rejects(flagged, times, median, source)], how="vertical")
    # values quoted in notes and reasons (an unknown service, an unreadable time, a header
    # name) and the words kept as written go through the same scrubbing as every label
    records = records.with_columns(
        scrub_labels(records[c], 1000 if c == "issues" else 200)
        for c in ("service", "status", "area_level", "issues")
        if c in records.columns
    )
    rejects = rejects.with_columns(scrub_labels(rejects["reason"], 300), scrub_labels(rejects["column"]))
    if "weight" in records.columns and records.height:
        total = int(records["weight"].fill_null(1).sum())
        if total > (most := int(limit("MAX_REPORTS"))):
            raise IngestError(
                f"{source.path}: the counts of source '{source.name}' add up to {total:,} reports, more than "
                f"{most:,} (limit POSTMORTEM_MAX_REPORTS; see docs/security.md)"
            )
    return records, rejects.sort("row")


def time_anchor(records: pl.DataFrame, kind: str) -> tuple[pl.Expr | None, list[str]]:
    """The time a row is placed by for the outlier limit (its main time, else another), and the time columns."""
    times = [c for c, t in records.schema.items() if t == UTC_DTYPE]
    if not times:
        return None, times
    main = _MAIN_TIME[kind]
    anchor = pl.coalesce([pl.col(main), *[pl.col(c) for c in times if c != main]]) if main in times else pl.col(times[0])
    return anchor, times


def _span_us() -> int:
    return int(limit("MAX_SPAN_DAYS") * 86400 * 1_000_000)


def far_from(times: Sequence[str], median: float) -> pl.Expr:
    """Whether a row has a time more than ``POSTMORTEM_MAX_SPAN_DAYS`` from ``median`` (µs since the epoch)."""
    span_us = _span_us()
    return pl.any_horizontal([(pl.col(c).to_physical() - int(median)).abs() > span_us for c in times]).fill_null(False)


def outlier_rejects(flagged: pl.DataFrame, times: Sequence[str], median: float, source: Source) -> pl.DataFrame:
    """The rejects of rows ``flagged`` as time outliers around ``median``, one reason each."""
    span_us = _span_us()
    main = _MAIN_TIME[source.kind]
    center = pl.lit(int(median)).cast(pl.Datetime("us", "UTC")).dt.strftime("%Y-%m-%d")
    first_far = pl.coalesce([pl.when((pl.col(c).to_physical() - int(median)).abs() > span_us).then(pl.col(c)) for c in times])
    days = ((first_far.to_physical() - int(median)).abs() // 86_400_000_000).cast(pl.Int64)
    return flagged.select(
        pl.lit(source.name).alias("source"),
        pl.col("source_row").cast(pl.Int64).alias("row"),
        pl.lit(source.columns.get(main, main)).alias("column"),
        pl.format(
            "time {} is {} days from the median time of this source ({}): an outlier (a typo?); "
            "limit POSTMORTEM_MAX_SPAN_DAYS = {}",
            first_far.dt.strftime("%Y-%m-%d %H:%M"),
            days,
            center,
            pl.lit(f"{limit('MAX_SPAN_DAYS'):g}"),
        ).alias("reason"),
        pl.format('{{"time": "{}"}}', first_far.dt.strftime("%Y-%m-%dT%H:%M:%SZ")).alias("raw"),
    ).cast(REJECT_SCHEMA)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SourceRead:
    """One source read into canonical records, with its rejects and how it was read."""

    records: pl.DataFrame
    rejects: pl.DataFrame
    n_raw: int
    encoding: str | None
    delimiter: str | None
    tally: DuplicateTally


def _read_whole(source: Source, timezone: str) -> SourceRead:
    raw = read_source(source)
    tally = DuplicateTally()
    records, rejects = canonicalize(raw, source, timezone=timezone, tally=tally)
    return SourceRead(compact_constants(records), rejects, raw.n_raw, raw.encoding, raw.delimiter, tally)


def _column_votes(stream: CsvStream, source: Source) -> dict[str, bool]:
    """Each report time column's day/month order, voted by the whole column as one read would."""
    if source.time_format is not None:
        return {}  # a given format decides the order
    exprs = _report_time_text(stream.lazy, source)
    tallies = pl.collect_all(
        [stream.lazy.group_by(e.alias("v")).agg(pl.len().alias("n")) for e in exprs.values()], engine="streaming"
    )
    return {key: column_month_first(c["v"], c["n"]) for key, c in zip(exprs, tallies, strict=True)}


def _read_batched(source: Source, timezone: str, *, batch_rows: int, min_bytes: int) -> SourceRead | None:
    """Down reports of a large CSV file read ``batch_rows`` at a time; None when it must be read whole.

    The result is the same as reading the file at once (the time columns' day/month order is
    voted by the whole column; rows and ids repeating those of earlier batches are found), but memory
    holds one batch of raw text and its intermediate columns instead of the whole file's.
    """
    stream = open_csv_stream(source, min_bytes=min_bytes)
    if stream is None:
        return None
    works: list[pl.DataFrame] = []
    rejects: list[pl.DataFrame] = []
    n_raw = 0
    tally = DuplicateTally()
    try:
        batches = Batches(_column_votes(stream, source))
        for table in stream.batches(batch_rows):
            work, rej = _report_work(table, source, timezone, batches, tally)
            works.append(compact_constants(work))
            rejects.append(rej)
            n_raw += table.height
    except pl.exceptions.ComputeError:
        return None  # a row the fast reader cannot split, or bytes that are not UTF-8: read whole
    del batches
    if not works:
        return None  # no rows: the whole-file reader says what the file holds
    records = compact_constants(_finish_reports(pl.concat(works, how="vertical", rechunk=False), source))
    del works
    records, rejected = bounded(records, pl.concat(rejects, how="vertical"), source)
    if records.height + rejected.height != n_raw:
        raise AssertionError(f"{source.path}: {n_raw} rows in, {records.height} kept + {rejected.height} rejected")
    return SourceRead(records, rejected, n_raw, stream.encoding, stream.delimiter, tally)


def with_file(rejects: pl.DataFrame, name: str) -> pl.DataFrame:
    """Rejects with their ``file`` (relative to the incident folder), when they do not name it yet."""
    if "file" in rejects.columns:
        return rejects
    return rejects.with_columns(pl.lit(name, pl.String).alias("file"))


def compact_constants(df: pl.DataFrame) -> pl.DataFrame:
    """The same table with each column holding a single value (or only nulls) stored once.

    A text column costs 16 bytes a row even when every row is null (an unused optional
    column: url, outlet, note...); stored as one value it costs nothing, and filters,
    sorts, joins and parquet files see the same column.
    """
    same = []
    for name, dtype in df.schema.items():
        s = df.get_column(name)
        if s.len() < 2:
            continue
        nulls = s.null_count()
        if nulls == s.len():
            same.append(pl.lit(None, dtype).alias(name))
        elif nulls == 0 and (dtype == pl.String or dtype.is_numeric() or dtype.is_temporal()) and bool((s == s[0]).all()):
            same.append(pl.lit(s[0], dtype).alias(name))
    return df.with_columns(same) if same else df


def sort_columnwise(df: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """``df.sort(by)`` (stable), one column at a time: memory grows by one column, not by the table.

    A sort builds the sorted copy of every column before the unsorted table can go; here
    the order is computed once and each column is replaced by its sorted copy in turn,
    the unsorted one freed as soon as nothing else holds it.
    """
    if df.height < 2:
        return df
    order = df.select(pl.arg_sort_by(by, maintain_order=True)).to_series()
    if bool((order.diff().drop_nulls() == 1).all()):
        return df  # already in order: nothing to copy
    names = df.columns
    done: list[pl.Series] = []
    rest = df
    del df
    for name in names:
        column = rest.get_column(name)
        # a column of one value is the same in any order (and stays stored once)
        done.append(column if column.null_count() == column.len() else column.gather(order))
        rest = rest.drop(name)
    return pl.DataFrame(done)
