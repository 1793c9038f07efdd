"""Raw files → raw tables: every source file read as text columns plus ``_row``, losing no row.

Every reader returns the file's columns as strings (parquet keeps datetime and numeric
columns typed) plus ``_row``: the row as a person would find it — for CSV the record
number with the header as row 1, for spreadsheets the sheet's row number, for JSONL the
line number, for parquet the record number (from 1). Rows the reader itself cannot split
into fields are returned separately as rejects, so the caller's counts always reconcile:
``raw rows = table rows + reader rejects``.

One module per format (:mod:`.csv`, :mod:`.parquet`, :mod:`.jsonl`, :mod:`.xlsx`), each
ending with its ``FORMAT``; the lines below register them in :data:`FORMATS`, which drives
config's choice of format and the reader dispatch. Sniffing (magic bytes, encoding,
delimiter) is :mod:`.sniff`; a source's files (globs, folders) :mod:`.files`.
"""

from analysis.sources import csv, jsonl, parquet, xlsx
from analysis.sources.csv import STREAM_BYTES, CsvStream, open_csv_stream
from analysis.sources.files import folder_format, is_glob, is_partitioned, read_source, relative_name, source_files
from analysis.sources.registry import FORMATS, Format, FormatRegistry
from analysis.sources.sniff import detect_delimiter, detect_encoding
from analysis.sources.table import RAW_FIELD_CHARS, REJECT_SCHEMA, RawTable, empty_rejects, make_rejects

# the formats, in the order a file's first bytes are tried against them
FORMATS.register(csv.FORMAT)
FORMATS.register(parquet.FORMAT)
FORMATS.register(jsonl.FORMAT)
FORMATS.register(xlsx.FORMAT)

__all__ = [
    "FORMATS",
    "RAW_FIELD_CHARS",
    "REJECT_SCHEMA",
    "STREAM_BYTES",
    "CsvStream",
    "Format",
    "FormatRegistry",
    "RawTable",
    "detect_delimiter",
    "detect_encoding",
    "empty_rejects",
    "folder_format",
    "is_glob",
    "is_partitioned",
    "make_rejects",
    "open_csv_stream",
    "read_source",
    "relative_name",
    "source_files",
]
