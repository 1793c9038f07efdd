"""Down reports merged into additive cells: a source read without holding its records.

A cell holds the reports of one source equal in ``service``, ``status``, ``reported_at``,
``reported_until`` and whether their place is unresolved, with their summed ``weight`` and
their number of ``rows``. Cells of two partitions merge by adding both, so each partition
of a source of several files can return its cells instead of its records
(:func:`analysis.distributed.read_source_cells`). The national fit reads times, windows,
weights and sources only, and the row counts of ``metrics.json`` (``n_down_reports``,
``n_windowed_reports``, ``n_unresolved_place``) read ``rows``: both equal on the cells and
on the records.

The source's time-outlier limit (:func:`analysis.ingest.canonical.bounded`) is decided the
same way from additive pieces: every partition counts its rows per anchor time
(:func:`anchor_counts`), the median is read from the summed counts
(:func:`median_of_counts`), every partition counts its rows far from it, and when fewer
than half the rows are, each partition drops its own (:func:`part_cells`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from analysis.config import Source
from analysis.ingest.canonical import far_from, outlier_rejects, time_anchor
from analysis.ingest.checks import DuplicateTally
from analysis.ingest.fields import GEO_COLUMNS
from analysis.ingest.partitions import SHIFT, Part, PartOut, _decode_reasons, _decode_rejects
from analysis.ingest.reports import _finish_reports
from analysis.privacy import scrub_labels
from analysis.sources import REJECT_SCHEMA

#: what makes two reports one cell
CELL_KEYS = ("source", "service", "status", "reported_at", "reported_until", "unresolved")

#: the columns of a cells table
CELL_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "service": pl.String(),
    "status": pl.String(),
    "reported_at": pl.Datetime("us", "UTC"),
    "reported_until": pl.Datetime("us", "UTC"),
    "unresolved": pl.Boolean(),
    "weight": pl.Int64(),
    "rows": pl.Int64(),
}

_ANCHOR_SCHEMA = {"t": pl.Int64, "n": pl.Int64}


def report_cells(reports: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Canonical (geocoded) reports merged into cells, ``weight`` summed (a missing one counts 1) and ``rows`` counted.

    ``unresolved``: the place is not resolved (``geo_method`` null or ``unresolved``), as
    ``metrics.json`` counts ``n_unresolved_place``.
    """
    lazy = reports.lazy()
    names = lazy.collect_schema().names()
    method = pl.col("geo_method") if "geo_method" in names else pl.lit(None, pl.String)
    missing = [pl.lit(None, CELL_SCHEMA[k]).alias(k) for k in CELL_KEYS[:-1] if k not in names]
    weight = pl.col("weight").cast(pl.Int64).fill_null(1) if "weight" in names else pl.lit(1, pl.Int64)
    return (
        lazy.with_columns(*missing, (method.is_null() | (method == "unresolved")).alias("unresolved"), weight.alias("weight"))
        .group_by(CELL_KEYS)
        .agg(pl.col("weight").sum(), pl.len().cast(pl.Int64).alias("rows"))
        .collect(engine="streaming")
        .select(pl.col(k).cast(t) for k, t in CELL_SCHEMA.items())
    )


def add_cells(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Cells tables merged: equal cells add their weights and rows (cells left with no row dropped), sorted."""
    frames = [f.select(list(CELL_SCHEMA)).cast(pl.Schema(CELL_SCHEMA)) for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=CELL_SCHEMA)
    return (
        pl.concat(frames, how="vertical")
        .group_by(CELL_KEYS)
        .agg(pl.col("weight").sum(), pl.col("rows").sum())
        .filter(pl.col("rows") != 0)
        .sort(list(CELL_KEYS), nulls_last=True)
        .select(list(CELL_SCHEMA))
    )


def anchor_counts(records: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Rows per anchor time (µs since the epoch) of the outlier limit: additive over partitions."""
    anchor, _ = time_anchor(records, kind)
    if anchor is None or records.height == 0:
        return pl.DataFrame(schema=_ANCHOR_SCHEMA)
    return (
        records.select(anchor.to_physical().cast(pl.Int64).alias("t"))
        .drop_nulls()
        .group_by("t")
        .agg(pl.len().cast(pl.Int64).alias("n"))
    )


def median_of_counts(frames: Sequence[pl.DataFrame]) -> float | None:
    """The median of the times counted in ``frames`` (summed), as polars takes it over the rows: mid-way for an even count."""
    counts = pl.concat([pl.DataFrame(schema=_ANCHOR_SCHEMA), *frames], how="vertical")
    counts = counts.group_by("t").agg(pl.col("n").sum()).sort("t")
    total = int(counts["n"].sum()) if counts.height else 0
    if total == 0:
        return None
    ends = counts["n"].cum_sum().to_numpy()
    values = counts["t"].to_numpy()

    def at(k: int) -> float:  # the k-th time (0-based) in sorted order
        return float(values[int((ends > k).argmax())])

    return at(total // 2) if total % 2 else (at(total // 2 - 1) + at(total // 2)) / 2


def canonical_part(out: PartOut, source: Source) -> PartOut:
    """A partition's records with the canonical columns (ids made unique within the partition only)."""
    out.records = _finish_reports(out.records, source) if out.records.height else out.records
    return out


def far_rows(out: PartOut, source: Source, median: float | None) -> int:
    """The partition's (canonical) rows with a time beyond the outlier limit around ``median``."""
    _, times = time_anchor(out.records, source.kind)
    if median is None or not times or out.records.height == 0:
        return 0
    return int(out.records.select(far_from(times, median).sum()).item())


def part_cells(
    out: PartOut, source: Source, median: float | None, *, write: Path | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A partition's cells and rejects; ``median`` given: its time outliers around it are dropped and rejected.

    The records are scrubbed as :func:`analysis.ingest.canonical.bounded` does and geocoded
    row by row, as ingest does. ``write``: the kept, geocoded records are also written
    there (parquet; ``source_row`` the row in the file, as in ``reports.parquet``).
    """
    from analysis.geo import resolve_places

    records, rejects = out.records, out.rejects
    _, times = time_anchor(records, source.kind)
    if median is not None and times and records.height:
        far = far_from(times, median)
        flagged = records.filter(far)
        records = records.filter(~far)
        rejects = pl.concat([rejects, outlier_rejects(flagged, times, median, source)], how="vertical")
    records = records.with_columns(scrub_labels(records[c], 200) for c in ("service", "status") if c in records.columns)
    if write is None:
        columns = ["reported_at", "reported_until", "place_raw", "postal_code", "lat", "lon", "service", "status", "area_level"]
        placed = resolve_places(records.select(*columns, "source", "weight")) if records.height else records
    else:
        placed = resolve_places(records.drop(GEO_COLUMNS, strict=False)).with_columns(pl.col("source_row") % (1 << SHIFT))
        write.parent.mkdir(parents=True, exist_ok=True)
        placed.write_parquet(write)
    if placed.height == 0:
        return pl.DataFrame(schema=CELL_SCHEMA), rejects
    return report_cells(placed), rejects


def part_path(folder: Path, source: Source, part: Part) -> Path:
    """Where a partition's kept reports are written: ``<folder>/reports/<source>-part-<n>.parquet``."""
    return folder / "reports" / f"{source.name}-part-{part.index:05d}.parquet"


@dataclass(frozen=True)
class CellRead:
    """A source of several files read as cells: its cells, rejects and accounting (no records)."""

    cells: pl.DataFrame
    rejects: pl.DataFrame
    n_raw: int
    tally: DuplicateTally

    @property
    def n_accepted(self) -> int:
        """Kept rows: the cells' rows."""
        return int(self.cells["rows"].sum()) if self.cells.height else 0


def merge_cells(
    source: Source, parts: Sequence[Part], outs: Sequence[PartOut], pieces: Sequence[tuple[pl.DataFrame, pl.DataFrame]]
) -> CellRead:
    """The partitions' cells and rejects as one read of the source (``outs`` carry their accounting, no records).

    Raises
    ------
    AssertionError
        Rows in differ from rows kept plus rejected.
    """
    names = {p.index + 1: p.name for p in parts}
    n_raw = sum(o.n_raw for o in outs)
    tally = DuplicateTally(*(sum(o.tally[i] for o in outs) for i in range(3)))
    cells = add_cells([c for c, _ in pieces])
    rejects = _decode_reasons(pl.concat([r.cast(REJECT_SCHEMA) for _, r in pieces], how="vertical"), names)  # type: ignore[arg-type]
    rejects = rejects.with_columns(scrub_labels(rejects["reason"], 300), scrub_labels(rejects["column"])).sort("row")
    read = CellRead(cells, _decode_rejects(rejects, names), n_raw, tally)
    if read.n_accepted + read.rejects.height != n_raw:
        raise AssertionError(f"{source.path}: {n_raw} rows in, {read.n_accepted} kept + {read.rejects.height} rejected")
    return read


__all__ = [
    "CELL_KEYS",
    "CELL_SCHEMA",
    "CellRead",
    "add_cells",
    "anchor_counts",
    "canonical_part",
    "far_rows",
    "median_of_counts",
    "merge_cells",
    "part_cells",
    "part_path",
    "report_cells",
]
