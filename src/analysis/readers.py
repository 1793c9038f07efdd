"""Read a source file (csv, parquet, jsonl, xlsx) into an all-text table, losing no row.

Every reader returns the file's columns as strings (parquet keeps datetime and numeric
columns typed, since they carry no parsing ambiguity) plus ``_row``: the row as a person
would find it — for CSV and spreadsheets the row number with the header as row 1, for
JSONL the line number, for parquet the record number (from 1). Rows the reader itself
cannot split into fields (a CSV row with more fields than the header, a JSONL line that
is not a JSON object) are returned separately as rejects, so the caller's counts always
reconcile: ``raw rows = table rows + reader rejects``.

CSV detection: the encoding is UTF-8 (with or without BOM), UTF-16 with a BOM, else
cp1252 (Windows spreadsheet exports), else Latin-1; the delimiter is sniffed among
``,`` ``;`` tab and ``|``. Both can be forced per source (``encoding``, ``delimiter``).
A CSV row with fewer fields than the header is read with its missing trailing fields
empty (as spreadsheets do); one with more fields is rejected, since which field is extra
cannot be known.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from analysis.config import Source
from analysis.errors import IngestError

SAMPLE_BYTES = 1 << 20
DELIMITERS = ",;\t|"
REJECT_SCHEMA = {"source": pl.String, "row": pl.Int64, "column": pl.String, "reason": pl.String, "raw": pl.String}


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


def read_source(source: Source) -> RawTable:
    """Read one source file into text columns plus ``_row`` (see module docstring)."""
    path = source.path
    if not path.exists():
        raise IngestError(f"{path}: file not found (source '{source.name}')")
    if not path.is_file():
        raise IngestError(f"{path}: not a file (source '{source.name}')")
    try:
        if source.format == "csv":
            return _read_csv(path, source)
        if source.format == "parquet":
            return _read_parquet(path, source)
        if source.format == "jsonl":
            return _read_jsonl(path, source)
        return _read_xlsx(path, source)
    except IngestError:
        raise
    except (OSError, pl.exceptions.PolarsError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IngestError(f"{path}: cannot read as {source.format}: {first}") from None


# --------------------------------------------------------------------------- CSV


def detect_encoding(sample: bytes, *, truncated: bool = False) -> str:
    """Guess a text encoding from the first bytes of a file (``truncated``: more follows)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by the sample boundary is not evidence against UTF-8
        if truncated and exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def detect_delimiter(text: str) -> str:
    """Guess the delimiter from the first lines of a CSV text.

    Each candidate splits the first lines with a real CSV parser (so delimiters inside
    quoted fields do not count); the winner gives the most lines with the header's field
    count, with more than one field. Ties go to the order ``,`` ``;`` tab ``|``.
    """
    lines = text.splitlines()[:200]
    if len(lines) > 1 and len(text) >= SAMPLE_BYTES - 1:
        lines = lines[:-1]  # the sample may end inside a line
    sample = "\n".join(lines)
    best, best_score = ",", (-1, 0)
    for delim in DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delim) if r]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(len(r) == width for r in rows), width)
        if score > best_score:
            best, best_score = delim, score
    return best


def _read_csv(path: Path, source: Source) -> RawTable:
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if not sample.strip():
        raise IngestError(f"{path}: the file is empty")
    encoding = source.encoding or detect_encoding(sample, truncated=len(sample) == SAMPLE_BYTES)
    try:
        sample_text = sample.decode(encoding, errors="ignore" if len(sample) == SAMPLE_BYTES else "strict")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not valid {encoding} text (byte {exc.start}); set 'encoding' for this source") from None
    delimiter = source.delimiter or detect_delimiter(sample_text)

    data: Path | io.BytesIO
    if encoding in ("utf-8", "utf-8-sig", "utf8"):
        data = path
    else:
        try:
            text = path.read_bytes().decode(encoding)
        except UnicodeDecodeError as exc:
            raise IngestError(f"{path}: not valid {encoding} text (byte {exc.start}); set 'encoding' for this source") from None
        data = io.BytesIO(text.encode("utf-8"))
    try:
        table = pl.read_csv(
            data,
            separator=delimiter,
            infer_schema=False,
            row_index_name="_row",
            row_index_offset=2,
            empty_string_is_null=False,
            raise_if_empty=True,
        )
        table = table.with_columns(pl.col("_row").cast(pl.Int64))
        _check_header(path, table.columns)
        return RawTable(table, empty_rejects(), encoding, delimiter)
    except pl.exceptions.NoDataError:
        raise IngestError(f"{path}: the file is empty") from None
    except pl.exceptions.ComputeError as exc:
        message = str(exc)
        if "invalid utf-8" in message.lower() or ("utf8" in message.lower() and "invalid" in message.lower()):
            return _read_csv_slow(path, source, "cp1252", delimiter)
        return _read_csv_slow(path, source, encoding, delimiter)


def _check_header(path: Path, columns: list[str]) -> None:
    names = [c for c in columns if c != "_row"]
    blank = [i + 1 for i, c in enumerate(names) if not c.strip()]
    if blank and len(names) > 1:
        raise IngestError(f"{path}: header column {blank[0]} has no name")


def _read_csv_slow(path: Path, source: Source, encoding: str, delimiter: str) -> RawTable:
    """Row-by-row CSV reading that rejects rows with too many fields instead of failing."""
    try:
        text = path.read_bytes().decode(encoding)
    except UnicodeDecodeError:
        encoding = "latin-1"
        text = path.read_bytes().decode(encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise IngestError(f"{path}: the file is empty") from None
    except csv.Error as exc:
        raise IngestError(f"{path}: row 1 (header): {exc}") from None
    header = _dedupe_header(header)
    _check_header(path, header)
    width = len(header)
    rows: list[list[str]] = []
    row_numbers: list[int] = []
    rej_rows: list[int] = []
    rej_reasons: list[str] = []
    rej_raw: list[str] = []
    number = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            number += 1
            rej_rows.append(number)
            rej_reasons.append(f"malformed CSV: {exc}")
            rej_raw.append("")
            continue
        number += 1
        if len(fields) > width:
            rej_rows.append(number)
            rej_reasons.append(f"row has {len(fields)} fields but the header has {width} (a stray delimiter or quote?)")
            rej_raw.append(json.dumps(fields, ensure_ascii=False))
            continue
        rows.append(fields + [""] * (width - len(fields)))
        row_numbers.append(number)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    table = pl.DataFrame({name: pl.Series(name, list(col), dtype=pl.String) for name, col in zip(header, columns, strict=True)})
    table = table.with_columns(pl.Series("_row", row_numbers, dtype=pl.Int64)).select("_row", *header)
    rejects = make_rejects(source.name, rej_rows, rej_reasons, rej_raw)
    return RawTable(table, rejects, encoding, delimiter)


def _dedupe_header(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in header:
        base = name.strip() or "column"
        if base in seen:
            seen[base] += 1
            out.append(f"{base}_{seen[base]}")
        else:
            seen[base] = 1
            out.append(base)
    return out


# --------------------------------------------------------------------------- other formats


def _read_parquet(path: Path, source: Source) -> RawTable:
    table = pl.read_parquet(path)
    table = table.with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64))
    keep_typed = (
        pl.Datetime,
        pl.Date,
        pl.Float64,
        pl.Float32,
        pl.Int64,
        pl.Int32,
        pl.Int16,
        pl.Int8,
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
        else:
            casts.append(pl.col(name).cast(pl.String))
    return RawTable(table.with_columns(casts) if casts else table, empty_rejects())


def _read_jsonl(path: Path, source: Source) -> RawTable:
    """Line-by-line JSONL: a bad line becomes a reject with its line number."""
    records: list[dict[str, object]] = []
    numbers: list[int] = []
    rej_rows: list[int] = []
    rej_reasons: list[str] = []
    rej_raw: list[str] = []
    encoding = source.encoding or "utf-8-sig"
    try:
        text = path.read_bytes().decode(encoding)
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not valid {encoding} text (byte {exc.start}); set 'encoding' for this source") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            rej_rows.append(number)
            rej_reasons.append(f"invalid JSON: {exc.msg} at column {exc.colno}")
            rej_raw.append(line[:500])
            continue
        if not isinstance(value, dict):
            rej_rows.append(number)
            rej_reasons.append(f"line is a JSON {type(value).__name__}, not an object")
            rej_raw.append(line[:500])
            continue
        records.append(value)
        numbers.append(number)
    if not records and not rej_rows:
        raise IngestError(f"{path}: the file is empty")
    names: list[str] = []
    for rec in records:
        for key in rec:
            if key not in names:
                names.append(str(key))
    data = {name: [_as_text(rec.get(name)) for rec in records] for name in names}
    table = pl.DataFrame(
        {"_row": pl.Series(numbers, dtype=pl.Int64), **{k: pl.Series(k, v, dtype=pl.String) for k, v in data.items()}}
    )
    return RawTable(table, make_rejects(source.name, rej_rows, rej_reasons, rej_raw))


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _read_xlsx(path: Path, source: Source) -> RawTable:
    kwargs: dict[str, object] = {"infer_schema_length": 0}
    if source.sheet:
        kwargs["sheet_name"] = source.sheet
    table = pl.read_excel(path, **kwargs)  # type: ignore[arg-type]
    table = table.with_row_index("_row", offset=2).with_columns(pl.col("_row").cast(pl.Int64))
    table = table.with_columns(pl.exclude("_row").cast(pl.String))
    return RawTable(table, empty_rejects())
