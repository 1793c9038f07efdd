"""Sources → canonical tables (reports, restorations, online series) + rejects, losing nothing.

:func:`ingest_incident` reads every source of an incident (:mod:`.incident`); the row checks,
the mapping to canonical columns and the reading of one file, whole or in batches, are in
:mod:`.canonical`, which hands each evidence kind to its module (:mod:`.reports`,
:mod:`.restorations`, :mod:`.series`); they share the values of a row (:mod:`.fields`) and
the row checks (:mod:`.checks`). A source of several files is read file by file in
:mod:`.partitions`.
"""

from analysis.ingest.canonical import (
    BATCH_ROWS,
    IngestResult,
    SourceCounts,
    canonicalize,
    compact_constants,
    sort_columnwise,
    with_file,
)
from analysis.ingest.checks import MAX_FIELD_CHARS, DuplicateTally, key_hash
from analysis.ingest.fields import GEO_COLUMNS, ONLINE_COLUMNS, REPORT_COLUMNS, RESTORATION_COLUMNS
from analysis.ingest.incident import (
    ingest_incident,
    ingest_to_processed,
    read_source_checked,
    reject_before_onset,
    write_processed,
)

__all__ = [
    "BATCH_ROWS",
    "GEO_COLUMNS",
    "MAX_FIELD_CHARS",
    "ONLINE_COLUMNS",
    "REPORT_COLUMNS",
    "RESTORATION_COLUMNS",
    "DuplicateTally",
    "IngestResult",
    "SourceCounts",
    "canonicalize",
    "compact_constants",
    "ingest_incident",
    "ingest_to_processed",
    "key_hash",
    "read_source_checked",
    "reject_before_onset",
    "sort_columnwise",
    "with_file",
    "write_processed",
]
