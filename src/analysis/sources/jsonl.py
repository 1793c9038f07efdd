"""JSON Lines: one object per line, ``_row`` the line number; a line that is not an object is a reject.

Only a line feed ends a line (JSON strings may hold U+2028 and friends); values that are not
strings are written as JSON text (``true``, ``3.5``, nested objects).
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from analysis.errors import IngestError
from analysis.sources.registry import Format
from analysis.sources.sniff import check_encoding, check_line_lengths, check_text, decode, refuse_binary
from analysis.sources.table import RAW_FIELD_CHARS, SAMPLE_BYTES, RawTable, clean_names, first_line, make_rejects

if TYPE_CHECKING:
    from analysis.config import Source


def read_jsonl(path: Path, source: Source) -> RawTable:
    """Line-by-line JSONL: a bad line becomes a reject with its line number."""
    check_line_lengths(path, "JSON Lines")
    data = path.read_bytes()
    if not data.strip():
        raise IngestError(f"{path}: the file is empty")
    encoding = source.encoding or ("utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig")
    check_encoding(path, encoding)
    if not encoding.lower().startswith("utf-16"):
        refuse_binary(path, data[:SAMPLE_BYTES], "JSON Lines")
    text = decode(path, data, encoding).removeprefix("\ufeff")
    check_text(path, text, "JSON Lines")
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
            reason = f"invalid JSON: {first_line(exc)}"
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


FORMAT = Format("jsonl", read_jsonl, suffixes=(".jsonl", ".ndjson"))
