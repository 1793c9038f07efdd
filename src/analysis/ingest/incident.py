"""Ingest an incident: every source read into the canonical tables and rejects, geocoded, written as processed parquet.

A source of one file is read whole or, when large, in batches (:mod:`.canonical`); a source
of several files (a glob or a folder) file by file (:mod:`.partitions`). Either way the
result is that of one file holding every row, and raw rows = kept + rejected per source.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from analysis.config import Incident, Source, processed_dir
from analysis.ingest.canonical import (
    BATCH_ROWS,
    IngestResult,
    SourceCounts,
    SourceRead,
    _read_batched,
    _read_whole,
    compact_constants,
    sort_columnwise,
    with_file,
)
from analysis.ingest.fields import ONLINE_COLUMNS, REPORT_COLUMNS, RESTORATION_COLUMNS, _geo_columns_missing, _unique_ids
from analysis.sources import (
    STREAM_BYTES,
    empty_rejects,
    is_partitioned,
    make_rejects,
)


def ingest_incident(
    incident: Incident, *, geocode: bool = True, batch_rows: int = BATCH_ROWS, stream_bytes: int = STREAM_BYTES
) -> IngestResult:
    """Read every source of ``incident`` into canonical tables, with rejects and counts.

    Parameters
    ----------
    incident
        A validated incident (see :func:`analysis.config.load_incident`).
    geocode
        Resolve places to municipalities (adds the geography columns). Without it the
        geography columns are present but empty.
    batch_rows, stream_bytes
        Down-report CSV files of ``stream_bytes`` or more are read ``batch_rows`` rows at a
        time (same result, memory bounded by the batch; see :func:`_read_batched`).
    """
    reports: list[pl.DataFrame] = []
    restorations: list[pl.DataFrame] = []
    online: list[pl.DataFrame] = []
    rejects: list[pl.DataFrame] = []
    counts: list[SourceCounts] = []
    for source in incident.sources:
        read = read_source_checked(incident, source, batch_rows=batch_rows, stream_bytes=stream_bytes)
        {"down_reports": reports, "restorations": restorations, "online_fraction": online}[source.kind].append(read.records)
        rejects.append(with_file(read.rejects, source.rel_path))
        counts.append(
            SourceCounts(
                source=source.name,
                kind=source.kind,
                path=source.rel_path,
                n_raw=read.n_raw,
                n_accepted=read.records.height,
                n_rejected=read.rejects.height,
                encoding=read.encoding,
                delimiter=read.delimiter,
                time_format=source.time_format,
                dedupe=source.dedupe,
                n_identical=read.tally.identical,
                n_identical_kept=read.tally.identical_kept,
                n_duplicates=read.tally.duplicates,
            )
        )
        del read
    result_reports = _concat(reports, REPORT_COLUMNS)
    result_rest = _concat(restorations, RESTORATION_COLUMNS)
    result_online = _concat(online, ONLINE_COLUMNS)
    several = len(reports) > 1
    del reports, online
    # ids are unique per source; a source name holding ':' could still collide across sources
    if several:
        result_reports = result_reports.with_columns(_unique_ids(result_reports["report_id"]))
    if restorations:
        result_rest = result_rest.with_columns(_unique_ids(result_rest["record_id"]))
    # sorted before the geography is added (row by row), so the sort copies fewer columns
    # a sorted copy of a constant column is stored whole again: stored once before geocoding
    result_reports = compact_constants(sort_columnwise(result_reports, ["reported_at", "report_id"]))
    if geocode:
        result_reports = compact_constants(_geocode(result_reports))
        result_rest = compact_constants(_geocode(result_rest))
    else:
        result_reports = _geo_columns_missing(result_reports)
        result_rest = _geo_columns_missing(result_rest)
    return IngestResult(
        reports=result_reports,
        rejects=pl.concat(rejects) if rejects else with_file(empty_rejects(), ""),
        restorations=result_rest,
        online=result_online.sort("observed_at"),
        sources=tuple(counts),
    )


def read_source_checked(
    incident: Incident, source: Source, *, batch_rows: int = BATCH_ROWS, stream_bytes: int = STREAM_BYTES
) -> SourceRead:
    """One source read into canonical records and rejects, every row check applied (ingest and validate).

    A glob or a folder is read file by file; a large down-report CSV in batches; restoration
    records ending before a configured onset are moved to the rejects.
    """
    read = None
    if is_partitioned(source):  # a glob or a folder: one file, one partition
        from analysis.ingest.partitions import read_partitioned

        read = read_partitioned(source, incident.timezone)
    elif source.kind == "down_reports":
        read = _read_batched(source, incident.timezone, batch_rows=batch_rows, min_bytes=stream_bytes)
    read = read or _read_whole(source, incident.timezone)
    if source.kind == "restorations" and incident.onset is not None:
        kept, rejected = reject_before_onset(read.records, read.rejects, source, incident.onset, incident.timezone)
        read = replace(read, records=kept, rejects=rejected)
    if source.kind == "restorations":
        read = replace(read, records=close_open_records(read.records, incident.end))
    return read


def close_open_records(records: pl.DataFrame, end: dt.datetime | None) -> pl.DataFrame:
    """Give each open record (an outage start, no end) its censoring time: still down at the end of observation.

    A ticket log exported while some customers are still out leaves their end blank; such a
    record says "still down when the log was written". The export time is the incident's
    ``end`` when set, else the latest time in the source (the log cannot have been written
    before its last entry); never before the record's own start.
    """
    open_ = (
        pl.col("started_at").is_not_null()
        & pl.col("observed_at").is_null()
        & pl.col("restored_after").is_null()
        & pl.col("restored_before").is_null()
    )
    if "started_at" not in records.columns or not records.select(open_.any()).item():
        return records
    if end is not None:
        at = pl.lit(end.astimezone(dt.UTC)).cast(records.schema["started_at"])
    else:
        at = pl.max_horizontal("observed_at", "restored_after", "restored_before", "started_at").max()
    return records.with_columns(
        pl.when(open_).then(pl.max_horizontal(at, "started_at")).otherwise("observed_at").alias("observed_at"),
        pl.when(open_).then(pl.lit(False)).otherwise("restored").alias("restored"),
    )


def reject_before_onset(
    records: pl.DataFrame, rejects: pl.DataFrame, source: Source, onset: dt.datetime, timezone: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Move the restoration records that end before the configured ``onset`` to the rejects: (records, rejects).

    A restoration (or a still-down observation) stamped before the onset, or a window that
    closes before it, is a clock or onset error in that row; rejected with its reason, it no longer stops the whole fit
    and raw rows = kept + rejected still holds.
    """
    ends = pl.coalesce(pl.when(pl.col("restored_before").is_null()).then("observed_at"), "restored_before")
    start = onset.astimezone(dt.UTC).replace(tzinfo=None)
    early = records.select(ends.dt.replace_time_zone(None) < start).to_series().fill_null(False)
    if not early.any():
        return records, rejects
    at = onset.astimezone(ZoneInfo(timezone))  # one reason for all of them (the raw values hold each time)
    rows = records.filter(early)
    times = ("observed_at", "restored_after", "restored_before")
    reasons, columns, raws = [], [], []
    for rec in rows.select("source_row", "customer_id", "restored", *times).iter_rows(named=True):
        window = rec["restored_before"] is not None
        what = "restored" if window or rec["restored"] is not False else "still down"
        reasons.append(f"{what} before the onset ({at:%Y-%m-%d %H:%M} {timezone})")
        columns.append(source.columns.get("restored_before" if window else "observed_at"))
        raws.append(
            json.dumps({k: rec[k].isoformat() if isinstance(rec[k], dt.datetime) else rec[k] for k in ("customer_id", *times)})
        )
    early_rejects = make_rejects(source.name, rows["source_row"].to_list(), reasons, raws, columns)
    merged = pl.concat([rejects, early_rejects.select(rejects.columns)]).sort("row")
    return records.filter(~early), merged


def _concat(frames: list[pl.DataFrame], schema: Mapping[str, Any]) -> pl.DataFrame:
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=dict(schema))


def _geocode(df: pl.DataFrame) -> pl.DataFrame:
    from analysis.geo import resolve_places

    return resolve_places(df)


def write_processed(result: IngestResult, folder: Path) -> dict[str, Path]:
    """Write the canonical tables and the accounting (``ingest.json``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "reports": folder / "reports.parquet",
        "rejects": folder / "rejects.parquet",
        "restorations": folder / "restorations.parquet",
        "online": folder / "online.parquet",
        "ingest": folder / "ingest.json",
    }
    result.reports.write_parquet(paths["reports"])
    result.rejects.write_parquet(paths["rejects"])
    result.restorations.write_parquet(paths["restorations"])
    result.online.write_parquet(paths["online"])
    summary = {
        "n_raw": result.n_raw,
        "n_reports": result.n_reports,
        "n_rejected": result.n_rejected,
        "sources": [s.__dict__ for s in result.sources],
    }
    paths["ingest"].write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return paths


def ingest_to_processed(
    incident: Incident, *, root: Path | None = None, geocode: bool = True
) -> tuple[IngestResult, dict[str, Path]]:
    """Ingest ``incident`` and write its processed tables under ``root/<id>/``."""
    result = ingest_incident(incident, geocode=geocode)
    return result, write_processed(result, processed_dir(incident, root))
