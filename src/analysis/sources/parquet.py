"""Parquet: the record number (from 1) as ``_row``; datetime, numeric and boolean columns stay typed.

They carry no parsing ambiguity; every other column becomes text (nested values as JSON).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from analysis.sources.registry import Format
from analysis.sources.sniff import require_signature
from analysis.sources.table import RawTable, clean_names, empty_rejects, row_numbers

if TYPE_CHECKING:
    from analysis.config import Source


def read_parquet(path: Path, source: Source) -> RawTable:
    """A Parquet file, numbered by record (module docstring)."""
    require_signature(path, b"PAR1", "a Parquet file", "PAR1")
    table = pl.read_parquet(path)
    table = table.rename(dict(zip(table.columns, clean_names(table.columns, strip=False), strict=True)))
    table = row_numbers(table, 1)
    keep_typed = (
        pl.Datetime,
        pl.Date,
        pl.Float64,
        pl.Float32,
        pl.Int64,
        pl.Int32,
        pl.Int16,
        pl.Int8,
        pl.UInt8,
        pl.UInt16,
        pl.UInt32,
        pl.UInt64,
        pl.Boolean,
    )
    casts = []
    for name, dtype in table.schema.items():
        if name == "_row" or isinstance(dtype, keep_typed) or dtype in keep_typed:
            continue
        if dtype.is_nested():
            casts.append(pl.col(name).map_elements(lambda v: json.dumps(v, default=str), return_dtype=pl.String))
        elif dtype == pl.Binary:
            casts.append(pl.col(name).cast(pl.String, strict=False))
        else:
            casts.append(pl.col(name).cast(pl.String))
    return RawTable(table.with_columns(casts) if casts else table, empty_rejects())


FORMAT = Format("parquet", read_parquet, suffixes=(".parquet", ".pq"), magic=(b"PAR1",))
