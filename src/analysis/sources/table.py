"""What every reader returns: the text table, the rows it could not split, and the shared helpers.

Column names are cleaned the same way for every format: surrounding blanks removed, an
empty name becomes ``column_<position>``, a repeated name gets ``_2``, ``_3``..., and the
reserved name ``_row`` is renamed ``_row_2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

RESERVED = ("_row",)
RAW_FIELD_CHARS = 1000  # a reject's raw value keeps this many characters of each field
REJECT_SCHEMA = {"source": pl.String, "row": pl.Int64, "column": pl.String, "reason": pl.String, "raw": pl.String}
SAMPLE_BYTES = 1 << 20


@dataclass(frozen=True)
class RawTable:
    """What a reader returns: the table, the rows it could not split, and how it read."""

    table: pl.DataFrame
    rejects: pl.DataFrame
    encoding: str | None = None
    delimiter: str | None = None

    @property
    def n_raw(self) -> int:
        """Rows in the file (data rows, header excluded)."""
        return self.table.height + self.rejects.height


def empty_rejects() -> pl.DataFrame:
    """An empty rejects table with the canonical schema."""
    return pl.DataFrame(schema=REJECT_SCHEMA)


def make_rejects(
    source: str, rows: list[int], reasons: list[str], raws: list[str], columns: list[str | None] | None = None
) -> pl.DataFrame:
    """Build a rejects table from parallel lists."""
    return pl.DataFrame(
        {
            "source": [source] * len(rows),
            "row": rows,
            "column": columns if columns is not None else [None] * len(rows),
            "reason": reasons,
            "raw": raws,
        },
        schema=REJECT_SCHEMA,
    )


def clean_names(names: list[str], *, strip: bool = True) -> list[str]:
    """Column names made usable and unique (see the module docstring)."""
    out: list[str] = []
    seen: set[str] = set(RESERVED)
    for position, name in enumerate(names, start=1):
        base = name.replace("\ufeff", "")
        base = base.strip() if strip else base
        base = base or f"column_{position}"
        candidate, k = base, 2
        while candidate in seen:
            candidate, k = f"{base}_{k}", k + 1
        seen.add(candidate)
        out.append(candidate)
    return out


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none), at most 300 characters."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def head(path: Path, n: int = SAMPLE_BYTES) -> bytes:
    """The first ``n`` bytes of a file."""
    with path.open("rb") as fh:
        return fh.read(n)


def row_numbers(table: pl.DataFrame, first: int) -> pl.DataFrame:
    """``table`` with ``_row`` in front: ``first``, ``first + 1``... (as a person counts the rows)."""
    return table.with_row_index("_row", offset=first).with_columns(pl.col("_row").cast(pl.Int64))
