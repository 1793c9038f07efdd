"""Read a source file (csv, parquet, jsonl, xlsx) into an all-text table, losing no row.

Every reader returns the file's columns as strings (parquet keeps datetime and numeric
columns typed, since they carry no parsing ambiguity) plus ``_row``: the row as a person
would find it — for CSV the record number with the header as row 1 (a quoted message
spanning three lines is one row), for spreadsheets the sheet's row number, for JSONL the
line number, for parquet the record number (from 1). Rows the reader itself cannot split
into fields (a CSV row with more fields than the header, a quote that never closes, a
JSONL line that is not a JSON object) are returned separately as rejects, so the
caller's counts always reconcile: ``raw rows = table rows + reader rejects``.

Column names are cleaned the same way for every format: surrounding blanks removed, an
empty name becomes ``column_<position>``, a repeated name gets ``_2``, ``_3``..., and the
reserved name ``_row`` is renamed ``_row_2``.

CSV detection: the encoding is UTF-8 (with or without BOM), UTF-16 with a BOM (or, without
one, from the pattern of zero bytes), else cp1252 (Windows spreadsheet exports), else
Latin-1; a file whose first megabyte is UTF-8 but which later is not is read as cp1252.
The delimiter is sniffed among ``,`` ``;`` tab and ``|``. Both can be forced per source
(``encoding``, ``delimiter``). A CSV row with fewer fields than the header is read with
its missing trailing fields empty (as spreadsheets do); one with more fields is rejected,
since which field is extra cannot be known. Old Mac line endings (CR only) are accepted.
A file that is binary, or another format than its suffix says, is refused with a message
naming the format it looks like.

A source ``path`` may also name several files: a glob (``parts/*.parquet``, ``**`` for
sub-folders) or a folder (every file of the source's format under it, hidden files and
names starting with ``_`` aside). :func:`source_files` lists them in a fixed order (by
path); each is read on its own (one file, one partition) by :mod:`analysis.ingest.partitions`.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import polars as pl

from analysis.config import Source
from analysis.errors import IngestError, quote
from analysis.limits import limit

SAMPLE_BYTES = 1 << 20
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)
STREAM_BYTES = 256 << 20  # CSV files from this size on are read in batches (see open_csv_stream)
DELIMITERS = ",;\t|"
RESERVED = ("_row",)
RAW_FIELD_CHARS = 1000  # a reject's raw value keeps this many characters of each field
REJECT_SCHEMA = {"source": pl.String, "row": pl.Int64, "column": pl.String, "reason": pl.String, "raw": pl.String}

# File signatures, to name what a file really is when it is not what its suffix says.
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive (an xlsx workbook?)"),
    (b"PAR1", "a Parquet file"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls (or other OLE) file; save it as .xlsx or CSV"),
    (b"\x1f\x8b", "gzip-compressed; decompress it first"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"SQLite format 3", "an SQLite database"),
)
FORMAT_HINT = {"a zip archive (an xlsx workbook?)": "xlsx", "a Parquet file": "parquet"}


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


GLOB_CHARS = frozenset("*?[")


def is_glob(rel_path: str) -> bool:
    """Whether a source path is a glob pattern (holds ``*``, ``?`` or ``[``)."""
    return any(c in GLOB_CHARS for c in rel_path)


def is_partitioned(source: Source) -> bool:
    """Whether a source names several files (a glob or a folder) rather than one file.

    A file whose name holds glob characters (``report [2018].csv``) is that file.
    """
    if source.path.is_file():
        return False
    return is_glob(source.rel_path) or source.path.is_dir()


def _format_of(path: Path) -> str | None:
    from analysis.config import FORMAT_BY_SUFFIX

    return FORMAT_BY_SUFFIX.get(path.suffix.lower())


def _listed(path: Path, base: Path) -> bool:
    parts = path.relative_to(base).parts
    return path.is_file() and not any(p.startswith((".", "_")) for p in parts)


def source_files(source: Source) -> list[Path]:
    """The files a source reads, sorted by path: the file itself, a folder's files, or a glob's matches.

    A folder contributes the files (in sub-folders too) whose suffix is of the source's
    format; a glob every file it matches (``**`` crosses sub-folders). Files reached
    through a link to outside the incident folder are refused.

    Raises
    ------
    IngestError
        Nothing matches, or a match lies outside the incident folder.
    """
    if not is_partitioned(source):
        return [source.path]
    home = incident_folder(source)
    if source.path.is_dir():
        found = [p for p in source.path.rglob("*") if _listed(p, source.path) and _format_of(p) == source.format]
        empty = f"no {source.format} file in this folder"
    else:
        found = [p for p in home.glob(Path(source.rel_path).as_posix()) if _listed(p, home)]
        empty = "no file matches this pattern"
    if not found:
        raise IngestError(f"{source.path}: {empty} (source '{source.name}')")
    files = sorted({p.resolve() for p in found})
    for p in files:
        if not p.is_relative_to(home):
            raise IngestError(f"{source.path}: {quote(p.name, 80)} lies outside the incident folder (a link?); copy it in")
    return files


def incident_folder(source: Source) -> Path:
    """The incident folder a source path is relative to (its path minus the ``rel_path`` parts)."""
    return source.path.parents[len(Path(source.rel_path).parts) - 1]


def relative_name(source: Source, path: Path) -> str:
    """A file of a source named relative to the incident folder (as in ``incident.toml``)."""
    home = incident_folder(source)
    return path.relative_to(home).as_posix() if path.is_relative_to(home) else str(path)


def read_source(source: Source) -> RawTable:
    """Read one source file into text columns plus ``_row`` (see module docstring).

    Raises
    ------
    IngestError
        The file is missing, empty, binary, another format than declared, or unreadable;
        the message names the file and the problem in one line.
    """
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
    except (OSError, LookupError, pl.exceptions.PolarsError, ValueError, csv.Error, RecursionError, MemoryError) as exc:
        raise IngestError(f"{path}: cannot read as {source.format}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _head(path: Path, n: int = SAMPLE_BYTES) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def _what_it_is(sample: bytes) -> str | None:
    """The format a file's first bytes reveal, if it is a known binary one."""
    for magic, label in MAGIC:
        if sample.startswith(magic):
            return label
    return None


def _refuse_binary(path: Path, sample: bytes, fmt: str) -> None:
    label = _what_it_is(sample)
    if label is not None:
        hint = FORMAT_HINT.get(label)
        advice = f'; set format = "{hint}" for this source' if hint else ""
        raise IngestError(f"{path}: this is {label}, not {fmt} text{advice}")
    if b"\x00" in sample:
        raise IngestError(f"{path}: contains zero bytes: a binary file, not {fmt} text (or UTF-16 without a BOM: set 'encoding')")


def _check_text(path: Path, text: str, fmt: str) -> None:
    """Refuse text that is mostly control characters (a binary file that decoded by luck)."""
    sample = text[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if sample and controls > 0.01 * len(sample):
        raise IngestError(f"{path}: {controls} control characters in the first {len(sample)}: a binary file, not {fmt} text")


# --------------------------------------------------------------------------- CSV


def detect_encoding(sample: bytes, *, truncated: bool = False) -> str:
    """Guess a text encoding from the first bytes of a file (``truncated``: more follows)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = sample[:4096]
    if len(head) >= 4 and b"\x00" in head:
        even = head[0::2].count(0) / len(head[0::2])
        odd = head[1::2].count(0) / max(1, len(head[1::2]))
        if odd > 0.3 and even < 0.05:
            return "utf-16-le"
        if even > 0.3 and odd < 0.05:
            return "utf-16-be"
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
    lines = re.split(r"\r\n|\r|\n", text)[:200]
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


def _check_encoding(path: Path, encoding: str) -> None:
    """Refuse codecs that are not text encodings (``rot_13``, ``base64``...)."""
    try:
        text_encoding = getattr(codecs.lookup(encoding), "_is_text_encoding", True)
    except LookupError:
        text_encoding = False
    if not text_encoding:
        raise IngestError(f"{path}: encoding {encoding!r} is not a text encoding; set 'encoding' to one such as utf-8 or cp1252")


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def _decode(path: Path, data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not valid {encoding} text (byte {exc.start}); set 'encoding' for this source") from None


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
    if not _is_utf8(encoding) or (b"\r" in sample and b"\n" not in sample):
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


_LINE_END = re.compile(rb"[\r\n]")


def check_line_lengths(path: Path, what: str) -> None:
    """Refuse a text file holding a line longer than ``POSTMORTEM_MAX_LINE_MB``, reading it in chunks.

    Readers hold a whole line (a CSV record, a JSON object) in memory, several times over:
    a file that is one 1 GB line would exhaust memory before any row could be rejected.
    """
    cap = int(limit("MAX_LINE_MB") * (1 << 20))
    chunk_size = min(1 << 20, cap)
    run = 0  # bytes since the last line end
    line = 1
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            first = _LINE_END.search(chunk)
            if first is None:
                run += len(chunk)
            else:
                run += first.start()
                if run > cap:
                    break
                line += chunk.count(b"\n") or chunk.count(b"\r")
                run = len(chunk) - 1 - max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
            if run > cap:
                break
    if run > cap:
        raise IngestError(
            f"{path}: line {line} of this {what} file is longer than {cap >> 20} MB "
            "(limit POSTMORTEM_MAX_LINE_MB; see docs/security.md)"
        )


def _csv_plan(path: Path, source: Source) -> tuple[str, str, bytes, str]:
    """Encoding, delimiter, the first bytes and their text: the checks every CSV read starts with."""
    sample = _head(path)
    if not sample.strip():
        raise IngestError(f"{path}: the file is empty")
    check_line_lengths(path, "CSV")
    truncated = len(sample) == SAMPLE_BYTES
    encoding = source.encoding or detect_encoding(sample, truncated=truncated)
    _check_encoding(path, encoding)
    if not encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32", "utf16", "utf32")):
        _refuse_binary(path, sample, "CSV")
    try:
        sample_text = sample.decode(encoding, errors="ignore" if truncated else "strict")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not valid {encoding} text (byte {exc.start}); set 'encoding' for this source") from None
    sample_text = sample_text.removeprefix("\ufeff")
    _check_text(path, sample_text, "CSV")
    first = sample_text.lstrip()[:1]
    if first in "{[" and first and _looks_like_json(sample_text):
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


def _read_csv(path: Path, source: Source) -> RawTable:
    encoding, delimiter, sample, sample_text = _csv_plan(path, source)
    if _is_utf8(encoding) and not (b"\r" in sample and b"\n" not in sample):
        data: bytes | Path = path
    else:
        text = _decode(path, path.read_bytes(), encoding).removeprefix("\ufeff")
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
            text = _decode(path, path.read_bytes(), encoding).removeprefix("\ufeff")
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
    text = _decode(path, path.read_bytes(), encoding).removeprefix("\ufeff")
    return _read_csv_slow(path, source, text, encoding, delimiter)


class _FallbackError(Exception):
    """The fast reader's table does not match the header: read row by row instead."""


def _looks_like_json(text: str) -> bool:
    """Whether a text's first line is a JSON object or array (or opens a pretty-printed one)."""
    line = text.lstrip().split("\n", 1)[0].strip()
    if line in ("[", "{"):
        return True
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, (dict, list))


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


# --------------------------------------------------------------------------- other formats


def _read_parquet(path: Path, source: Source) -> RawTable:
    head = _head(path, 16)
    if not head.startswith(b"PAR1"):
        label = _what_it_is(head)
        looks = f"it is {label}" if label else ("it looks like text" if b"\x00" not in head else "unknown binary content")
        raise IngestError(f"{path}: not a Parquet file (no PAR1 signature; {looks}); check the file or set 'format'")
    table = pl.read_parquet(path)
    table = table.rename(dict(zip(table.columns, clean_names(table.columns, strip=False), strict=True)))
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


def _read_jsonl(path: Path, source: Source) -> RawTable:
    """Line-by-line JSONL: a bad line becomes a reject with its line number."""
    check_line_lengths(path, "JSON Lines")
    data = path.read_bytes()
    if not data.strip():
        raise IngestError(f"{path}: the file is empty")
    encoding = source.encoding or ("utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig")
    _check_encoding(path, encoding)
    if not encoding.lower().startswith("utf-16"):
        _refuse_binary(path, data[:SAMPLE_BYTES], "JSON Lines")
    text = _decode(path, data, encoding).removeprefix("\ufeff")
    _check_text(path, text, "JSON Lines")
    records: list[dict[str, object]] = []
    numbers: list[int] = []
    rej_rows: list[int] = []
    rej_reasons: list[str] = []
    rej_raw: list[str] = []
    # only \n ends a line: JSON strings may hold U+2028 and friends
    for number, full_line in enumerate(text.split("\n"), start=1):
        line = full_line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = f"invalid JSON: {exc.msg} at column {exc.colno}"
        except RecursionError:
            reason = "invalid JSON: nested too deeply"
        except ValueError as exc:
            reason = f"invalid JSON: {_first_line(exc)}"
        else:
            if isinstance(value, dict):
                records.append(value)
                numbers.append(number)
                continue
            reason = f"line is a JSON {_json_kind(value)}, not an object"
        rej_rows.append(number)
        rej_reasons.append(reason)
        rej_raw.append(line[:RAW_FIELD_CHARS])
    if not records and not rej_rows:
        raise IngestError(f"{path}: the file is empty")
    if not records:
        raise IngestError(
            f"{path}: no line is a JSON object (line {rej_rows[0]}: {rej_reasons[0]}); is this really JSON Lines? "
            "(set 'format' for this source)"
        )
    keys: dict[str, None] = {}
    for rec in records:
        keys.update(dict.fromkeys(rec))
    names = list(keys)
    clean = clean_names(names, strip=False)
    data_cols = {new: [_as_text(rec.get(old)) for rec in records] for old, new in zip(names, clean, strict=True)}
    table = pl.DataFrame(
        {"_row": pl.Series(numbers, dtype=pl.Int64), **{k: pl.Series(k, v, dtype=pl.String) for k, v in data_cols.items()}}
    )
    return RawTable(table, make_rejects(source.name, rej_rows, rej_reasons, rej_raw), encoding)


def _json_kind(value: object) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(type(value), "null")


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
    """A worksheet through fastexcel, every cell as text, rows numbered as in the sheet."""
    import fastexcel

    head = _head(path, 8)
    if not head.startswith(b"PK\x03\x04"):
        label = _what_it_is(head)
        looks = f"it is {label}" if label else ("it looks like text" if b"\x00" not in head else "unknown binary content")
        raise IngestError(f"{path}: not an xlsx workbook (no zip signature; {looks}); check the file or set 'format'")
    check_xlsx_size(path)
    try:
        reader = fastexcel.read_excel(str(path))
        names = reader.sheet_names
        if source.sheet is not None and source.sheet not in names:
            raise IngestError(f"{path}: no sheet named {source.sheet!r}; the workbook has: {', '.join(names)}")
        sheet = source.sheet if source.sheet is not None else 0
        grid = reader.load_sheet(sheet, header_row=None, dtypes="string").to_polars()
    except fastexcel.FastExcelError as exc:
        raise IngestError(f"{path}: cannot read as xlsx: {_first_line(exc)}") from None
    if grid.height == 0:
        raise IngestError(f"{path}: the sheet is empty")
    header = [v if v is not None else "" for v in grid.row(0)]
    table = grid.slice(1)
    table = table.rename(dict(zip(table.columns, clean_names([str(h) for h in header]), strict=True)))
    first = _xlsx_first_row(path, sheet if isinstance(sheet, str) else names[0])
    table = table.with_row_index("_row", offset=first + 1).with_columns(pl.col("_row").cast(pl.Int64))
    return RawTable(table, empty_rejects())


_CELL_REF = re.compile(rb" r=\"([A-Z]{1,4})([0-9]{1,9})\"")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]{0,200}?\bref=\"[A-Z]{0,4}\d{0,9}:?([A-Z]{0,4})(\d{0,9})\"")


def _column_number(letters: bytes) -> int:
    n = 0
    for c in letters:
        n = n * 26 + (c - 64)
    return n


def check_xlsx_size(path: Path) -> None:
    """Refuse a workbook whose sheets would take far more memory than the file, before reading it.

    Each part of the zip is decompressed as a stream (declared sizes can lie) and counted
    against ``POSTMORTEM_MAX_XLSX_XML_MB``; worksheet cell addresses and ``<dimension ref>``
    give the rows × columns the reader would allocate, held to ``POSTMORTEM_MAX_XLSX_CELLS``.
    A 1.5 KB file with one cell at ZZ1000000 is refused here, not after 23 GB.
    """
    cap = int(limit("MAX_XLSX_XML_MB") * (1 << 20))
    max_cells = int(limit("MAX_XLSX_CELLS"))
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if info.is_dir():
                    continue
                sheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
                size, rows, cols, tail, in_data = 0, 0, 0, b"", False
                with z.open(info) as fh:
                    while chunk := fh.read(1 << 20):
                        size += len(chunk)
                        if size > cap:
                            raise IngestError(
                                f"{path}: part {quote(info.filename, 80)} of the workbook unpacks to more than "
                                f"{cap >> 20} MB (limit POSTMORTEM_MAX_XLSX_XML_MB; see docs/security.md)"
                            )
                        if sheet:
                            text = tail + chunk
                            if not in_data:  # <dimension> comes before the cells
                                for m in _DIMENSION.finditer(text):
                                    cols = max(cols, _column_number(m.group(1)))
                                    rows = max(rows, int(m.group(2) or 0))
                                in_data = b"sheetData" in text
                            refs = _CELL_REF.findall(text)
                            if refs:
                                letters = {r[0] for r in refs}
                                cols = max(cols, *map(_column_number, letters))
                                rows = max(rows, max(map(int, (r[1] for r in refs))))  # noqa: PLW3301
                            tail = text[-300:]
                if sheet and rows * max(cols, 1) > max_cells:
                    raise IngestError(
                        f"{path}: sheet part {quote(info.filename, 80)} spans {rows:,} rows × {max(cols, 1):,} columns, "
                        f"more than {max_cells:,} cells (limit POSTMORTEM_MAX_XLSX_CELLS; a stray cell far from the "
                        "data? delete it, or see docs/security.md)"
                    )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
        raise IngestError(f"{path}: cannot read as xlsx: {_first_line(exc)}") from None


def _xlsx_first_row(path: Path, sheet_name: str) -> int:
    """The sheet row number of the first row holding a value (the header), 1 if unknown.

    The reader starts at the first non-empty row; this keeps reported row numbers equal
    to the ones a person sees in the spreadsheet when a sheet starts with blank rows.
    """
    try:
        with zipfile.ZipFile(path) as z:
            workbook = z.read("xl/workbook.xml").decode("utf-8", "replace")
            rels = z.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
            rid = None
            for m in re.finditer(r"<(?:\w+:)?sheet\b([^>]*)/?>", workbook):
                attrs = m.group(1)
                name = re.search(r'\bname="([^"]*)"', attrs)
                if name and _xml_unescape(name.group(1)) == sheet_name:
                    found = re.search(r'\br:id="([^"]*)"', attrs) or re.search(r'\b\w+:id="([^"]*)"', attrs)
                    rid = found.group(1) if found else None
                    break
            target = None
            for m in re.finditer(r"<Relationship\b([^>]*)/?>", rels):
                attrs = m.group(1)
                if re.search(rf'\bId="{re.escape(rid or "")}"', attrs):
                    t = re.search(r'\bTarget="([^"]*)"', attrs)
                    target = t.group(1) if t else None
            if target is None:
                return 1
            member = target.lstrip("/") if target.startswith("/") else "xl/" + target
            with z.open(member) as fh:
                buf = b""
                while chunk := fh.read(1 << 16):
                    buf += chunk
                    for m in re.finditer(rb"<row\b[^>]*\br=\"(\d+)\"[^>]*>(.*?)</row>", buf, re.S):
                        if re.search(rb"<(?:\w+:)?v>|<(?:\w+:)?t[ >]", m.group(2)):
                            return int(m.group(1))
                    if len(buf) > 1 << 24:
                        return 1
    except (OSError, KeyError, zipfile.BadZipFile, ValueError):
        return 1
    return 1


def _xml_unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'").replace("&amp;", "&")
