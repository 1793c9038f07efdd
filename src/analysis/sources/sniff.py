"""Sniffing a file before reading it: magic bytes, text encoding, CSV delimiter, binary content.

The encoding is UTF-8 (with or without BOM), UTF-16 with a BOM (or, without one, from the
pattern of zero bytes), else cp1252 (Windows spreadsheet exports), else Latin-1. The
delimiter is sniffed among ``,`` ``;`` tab and ``|``. A file that is binary, or another
format than its source says, is refused with a message naming the format it looks like.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from pathlib import Path

from analysis.errors import IngestError
from analysis.limits import limit
from analysis.sources.registry import FORMATS
from analysis.sources.table import SAMPLE_BYTES, head

DELIMITERS = ",;\t|"

# File signatures, to name what a file really is when it is not what its source says.
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


def what_it_is(sample: bytes) -> str | None:
    """The format a file's first bytes reveal, if it is a known binary one."""
    for magic, label in MAGIC:
        if sample.startswith(magic):
            return label
    return None


def refuse_binary(path: Path, sample: bytes, fmt: str) -> None:
    """Refuse a file whose first bytes show a binary format (naming it, and the ``format`` that reads it)."""
    label = what_it_is(sample)
    if label is not None:
        known = FORMATS.by_magic(sample)
        advice = f'; set format = "{known.name}" for this source' if known else ""
        raise IngestError(f"{path}: this is {label}, not {fmt} text{advice}")
    if b"\x00" in sample:
        raise IngestError(f"{path}: contains zero bytes: a binary file, not {fmt} text (or UTF-16 without a BOM: set 'encoding')")


def require_signature(path: Path, signature: bytes, what: str, check: str) -> None:
    """Refuse a binary file that does not start with its format's ``signature`` (``what``: "a Parquet file")."""
    start = head(path, 16)
    if start.startswith(signature):
        return
    label = what_it_is(start)
    looks = f"it is {label}" if label else ("it looks like text" if b"\x00" not in start else "unknown binary content")
    raise IngestError(f"{path}: not {what} (no {check} signature; {looks}); check the file or set 'format'")


def check_text(path: Path, text: str, fmt: str) -> None:
    """Refuse text that is mostly control characters (a binary file that decoded by luck)."""
    sample = text[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if sample and controls > 0.01 * len(sample):
        raise IngestError(f"{path}: {controls} control characters in the first {len(sample)}: a binary file, not {fmt} text")


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


def check_encoding(path: Path, encoding: str) -> None:
    """Refuse codecs that are not text encodings (``rot_13``, ``base64``...)."""
    try:
        text_encoding = getattr(codecs.lookup(encoding), "_is_text_encoding", True)
    except LookupError:
        text_encoding = False
    if not text_encoding:
        raise IngestError(f"{path}: encoding {encoding!r} is not a text encoding; set 'encoding' to one such as utf-8 or cp1252")


def is_utf8(encoding: str) -> bool:
    """Whether an encoding is UTF-8 (with or without BOM)."""
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def decode(path: Path, data: bytes, encoding: str) -> str:
    """Bytes as text, or one line naming the file and the first bad byte."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not valid {encoding} text (byte {exc.start}); set 'encoding' for this source") from None


def looks_like_json(text: str) -> bool:
    """Whether a text's first line is a JSON object or array (or opens a pretty-printed one)."""
    line = text.lstrip().split("\n", 1)[0].strip()
    if line in ("[", "{"):
        return True
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, (dict, list))


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
