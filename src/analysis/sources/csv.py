"""CSV: encoding and delimiter sniffed, a fast vectorised read, a row-by-row read that rejects what it cannot split.

``_row`` is the record number with the header as row 1 (a quoted message spanning three
lines is one row). Both the encoding and the delimiter can be forced per source
(``encoding``, ``delimiter``); a file whose first megabyte is UTF-8 but which later is not is
read as cp1252. A row with fewer fields than the header is read with its missing trailing
fields empty (as spreadsheets do); one with more fields is rejected, since which field is
extra cannot be known. Old Mac line endings (CR only) are accepted. Large UTF-8 files can be
read as a stream of row batches (:func:`open_csv_stream`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import polars as pl

from analysis.errors import IngestError
from analysis.sources.registry import Format
from analysis.sources.sniff import (
    check_encoding,
    check_line_lengths,
    check_text,
    decode,
    detect_delimiter,
    detect_encoding,
    is_utf8,
    looks_like_json,
    refuse_binary,
)
from analysis.sources.table import RAW_FIELD_CHARS, SAMPLE_BYTES, RawTable, clean_names, empty_rejects, head, make_rejects

if TYPE_CHECKING:
    from analysis.config import Source

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)
STREAM_BYTES = 256 << 20  # CSV files from this size on are read in batches (see open_csv_stream)


@dataclass(frozen=True)
class CsvStream:
    """A large UTF-8 CSV file read in batches of rows (same columns and ``_row`` as :func:`read_source`).

    ``lazy`` scans the whole file (for a pass over a few columns); :meth:`batches` yields
    the rows in order, ``batch_rows`` at a time, so memory follows the batch, not the file.
    """

    path: Path
    lazy: pl.LazyFrame
    encoding: str
    delimiter: str

    def batches(self, batch_rows: int) -> Iterator[pl.DataFrame]:
        """The file's rows in order, at most ``batch_rows`` per frame."""
        yield from self.lazy.collect_batches(chunk_size=batch_rows)


def open_csv_stream(source: Source, *, min_bytes: int = STREAM_BYTES) -> CsvStream | None:
    """A batched reader for a CSV source of at least ``min_bytes``, or None when it must be read whole.

    Only files the fast reader takes as they are qualify (UTF-8, LF or CRLF line ends, a
    header polars splits like Python's csv module); anything else is read whole by
    :func:`read_source`, which also handles rows the fast reader cannot split. A batch can
    still raise ``polars.exceptions.ComputeError`` (invalid UTF-8 or a ragged row further
    in): the caller then reads the file whole.
    """
    path = source.path
    if source.format != "csv" or not path.is_file() or path.stat().st_size < min_bytes:
        return None
    try:
        encoding, delimiter, sample, sample_text = _csv_plan(path, source)
    except IngestError:
        return None  # read_source gives the error
    if not is_utf8(encoding) or (b"\r" in sample and b"\n" not in sample):
        return None
    header = _header_fields(sample_text, delimiter)
    lazy = pl.scan_csv(
        path, separator=delimiter, infer_schema=False, has_header=True, empty_string_is_null=False, raise_if_empty=True
    )
    try:
        names = lazy.collect_schema().names()
    except pl.exceptions.PolarsError:
        return None
    if header is None or len(header) != len(names):
        return None
    return CsvStream(path, _named_rows(lazy, names, header, sample_text), encoding, delimiter)


def _csv_plan(path: Path, source: Source) -> tuple[str, str, bytes, str]:
    """Encoding, delimiter, the first bytes and their text: the checks every CSV read starts with."""
    sample = head(path)
    if not sample.strip():
        raise IngestError(f"{path}: the file is empty")
    check_line_lengths(path, "CSV")
    truncated = len(sample) == SAMPLE_BYTES
    encoding = source.encoding or detect_encoding(sample, truncated=truncated)
    check_encoding(path, encoding)
    if not encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32", "utf16", "utf32")):
        refuse_binary(path, sample, "CSV")
    try:
        sample_text = sample.decode(encoding, errors="ignore" if truncated else "strict")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not valid {encoding} text (byte {exc.start}); set 'encoding' for this source") from None
    sample_text = sample_text.removeprefix("\ufeff")
    check_text(path, sample_text, "CSV")
    first = sample_text.lstrip()[:1]
    if first in "{[" and first and looks_like_json(sample_text):
        raise IngestError(f'{path}: this looks like JSON, not CSV text; set format = "jsonl" for this source')
    delimiter = source.delimiter or detect_delimiter(sample_text)
    return encoding, delimiter, sample, sample_text


def _named_rows(frame: FrameT, names: list[str], header: list[str], sample_text: str) -> FrameT:
    """Columns named from the header as Python's csv module splits it, and ``_row`` as a person counts rows.

    ``_row`` starts at 2 (the header is row 1) plus the blank lines before the header,
    which polars skips but a person's numbering counts.
    """
    lead = len(re.findall(r"\r\n|\r|\n", re.match(r"(?:\r\n|\r|\n)*", sample_text).group(0)))  # type: ignore[union-attr]
    frame = frame.rename(dict(zip(names, clean_names(header), strict=True)))
    return frame.with_row_index("_row", offset=2 + lead).with_columns(pl.col("_row").cast(pl.Int64))


def read_csv(path: Path, source: Source) -> RawTable:
    """A CSV file as text columns plus ``_row``; rows it cannot split are rejects (module docstring)."""
    encoding, delimiter, sample, sample_text = _csv_plan(path, source)
    if is_utf8(encoding) and not (b"\r" in sample and b"\n" not in sample):
        data: bytes | Path = path
    else:
        text = decode(path, path.read_bytes(), encoding).removeprefix("\ufeff")
        data = _normalise_newlines(text).encode("utf-8")
    try:
        return _read_csv_fast(path, data, encoding=encoding, delimiter=delimiter, sample_text=sample_text)
    except _FallbackError:
        pass
    except pl.exceptions.ComputeError as exc:
        message = str(exc).lower()
        if "utf-8" in message or "utf8" in message:
            if source.encoding is not None:
                raise IngestError(f"{path}: not valid {source.encoding} text; check 'encoding' for this source") from None
            # UTF-8 at the start, something else later: a Windows export; read it all as cp1252
            encoding = detect_encoding(path.read_bytes())
            text = decode(path, path.read_bytes(), encoding).removeprefix("\ufeff")
            try:
                return _read_csv_fast(
                    path,
                    _normalise_newlines(text).encode("utf-8"),
                    encoding=encoding,
                    delimiter=delimiter,
                    sample_text=sample_text,
                )
            except (_FallbackError, pl.exceptions.ComputeError):
                pass
    text = decode(path, path.read_bytes(), encoding).removeprefix("\ufeff")
    return _read_csv_slow(path, source, text, encoding, delimiter)


class _FallbackError(Exception):
    """The fast reader's table does not match the header: read row by row instead."""


def _normalise_newlines(text: str) -> str:
    if "\r" in text and "\n" not in text:
        return text.replace("\r", "\n")
    return text


def _header_fields(sample_text: str, delimiter: str) -> list[str] | None:
    try:
        return next(csv.reader(io.StringIO(sample_text, newline=""), delimiter=delimiter))
    except (StopIteration, csv.Error):
        return None


def _read_csv_fast(path: Path, data: bytes | Path, *, encoding: str, delimiter: str, sample_text: str) -> RawTable:
    """Polars' CSV reader (the happy path: no per-row Python)."""
    header = _header_fields(sample_text, delimiter)
    try:
        table = pl.read_csv(
            data,
            separator=delimiter,
            infer_schema=False,
            has_header=True,
            empty_string_is_null=False,
            raise_if_empty=True,
        )
    except pl.exceptions.NoDataError:
        raise IngestError(f"{path}: the file is empty") from None
    if header is None or len(header) != table.width:
        raise _FallbackError
    return RawTable(_named_rows(table, table.columns, header, sample_text), empty_rejects(), encoding, delimiter)


def _physical_lines(text: str) -> list[str]:
    """Lines with their endings, split only where the csv module splits (CR, LF, CRLF)."""
    parts = re.split(r"(\r\n|\r|\n)", text)
    lines = [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


@contextlib.contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, limit))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _unterminated(lines: list[str], delimiter: str) -> bool:
    """Whether the record made of ``lines`` ends inside an open quote."""
    try:
        list(csv.reader(io.StringIO("".join(lines), newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        return "unexpected end of data" in str(exc) or "EOF" in str(exc)
    return False


def _raw_fields(fields: list[str]) -> str:
    return json.dumps([f if len(f) <= RAW_FIELD_CHARS else f[:RAW_FIELD_CHARS] + "…" for f in fields], ensure_ascii=False)


def _read_csv_slow(path: Path, source: Source, text: str, encoding: str, delimiter: str) -> RawTable:
    """Row-by-row CSV reading that rejects rows it cannot split instead of failing.

    Rows with more fields than the header are rejected. A quote that never closes would
    swallow the rest of the file into one field: that row is rejected and reading resumes
    on the line after it.
    """
    lines = _physical_lines(text)
    pos = 0

    def feed() -> Iterator[str]:
        nonlocal pos
        while pos < len(lines):
            pos += 1
            yield lines[pos - 1]

    rows: list[list[str]] = []
    row_numbers: list[int] = []
    rej_rows: list[int] = []
    rej_reasons: list[str] = []
    rej_raw: list[str] = []
    header: list[str] | None = None
    width = 0
    number = 0
    with _field_limit(1 << 30):
        reader = csv.reader(feed(), delimiter=delimiter)
        while True:
            start = pos
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                number += 1
                if header is None:
                    raise IngestError(f"{path}: row 1 (header): {exc}") from None
                rej_rows.append(number)
                rej_reasons.append(f"malformed CSV: {exc}")
                rej_raw.append(lines[start][:RAW_FIELD_CHARS] if start < len(lines) else "")
                continue
            number += 1
            if pos == len(lines) and pos - start > 1 and _unterminated(lines[start:], delimiter):
                if header is None:
                    raise IngestError(f"{path}: row 1 (header): a quote opens and never closes")
                rej_rows.append(number)
                rej_reasons.append(
                    "a quoted field opens on this row and never closes (a stray quote?); the lines after it are read as rows"
                )
                rej_raw.append(_raw_fields([lines[start].rstrip("\r\n")]))
                pos = start + 1
                reader = csv.reader(feed(), delimiter=delimiter)
                continue
            if header is None:
                if not fields:
                    continue  # blank lines before the header
                header = clean_names(fields)
                width = len(header)
                continue
            if len(fields) > width:
                rej_rows.append(number)
                rej_reasons.append(f"row has {len(fields)} fields but the header has {width} (a stray delimiter or quote?)")
                rej_raw.append(_raw_fields(fields))
                continue
            rows.append(fields + [""] * (width - len(fields)))
            row_numbers.append(number)
    if header is None:
        raise IngestError(f"{path}: the file is empty")
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    table = pl.DataFrame({name: pl.Series(name, list(col), dtype=pl.String) for name, col in zip(header, columns, strict=True)})
    table = table.with_columns(pl.Series("_row", row_numbers, dtype=pl.Int64)).select("_row", *header)
    rejects = make_rejects(source.name, rej_rows, rej_reasons, rej_raw)
    return RawTable(table, rejects, encoding, delimiter)


FORMAT = Format("csv", read_csv, suffixes=(".csv", ".tsv", ".txt"))
