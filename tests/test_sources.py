"""The FORMATS registry drives how a source file is read: by declared format, file name, then first bytes.

A new format costs one module (its reader and ``FORMAT``) plus one ``FORMATS.register`` line:
the toy format below is defined here, registered from the test, and read through
``postmortem validate`` and ``postmortem fit`` as a user runs them; nothing else of the
package is told about it.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pytest

from analysis.config import load_incident
from analysis.errors import IngestError
from analysis.sources import FORMATS, Format, RawTable, empty_rejects, make_rejects, read_source

from .test_hostile import cli, one_line_error

TIMES = [f"2018-01-08 {20 + i // 60:02d}:{i % 60:02d}" for i in range(0, 240, 2)]
MAP = '[sources.columns]\nreported_at = "time"\nplace = "town"\n'


# --------------------------------------------------------------------------- the toy format: 1 file + 1 line


def read_ndjson_gz(path: Path, source) -> RawTable:  # source: a Source (every reader takes the file and its source)
    """Gzip-compressed JSON Lines: ``_row`` is the line number; a line that is not an object is a reject."""
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").split("\n")
    rows: list[dict[str, str]] = []
    numbers: list[int] = []
    bad: list[int] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if isinstance(value, dict):
            rows.append({k: str(v) for k, v in value.items()})
            numbers.append(number)
        else:
            bad.append(number)
    table = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String)).insert_column(0, pl.Series("_row", numbers))
    rejects = (
        make_rejects(source.name, bad, ["not a JSON object"] * len(bad), [lines[n - 1] for n in bad]) if bad else empty_rejects()
    )
    return RawTable(table, rejects)


TOY = Format("ndjson-gz", read_ndjson_gz, suffixes=(".ndjson.gz",), magic=(b"\x1f\x8b",))


@pytest.fixture
def toy_format() -> Iterator[Format]:
    FORMATS.register(TOY)
    try:
        yield TOY
    finally:
        FORMATS.unregister(TOY.name)


def toy_file(n_bad: int = 0) -> bytes:
    lines = [json.dumps({"time": t, "town": "Liège"}) for t in TIMES] + ["[not an object]"] * n_bad
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"))


def run(*args: str) -> tuple[int, str, str]:
    """``postmortem ARGS`` in this process (the registry is this process's), as the entry point runs it."""
    proc = cli(*args)
    return proc.returncode, proc.stdout, proc.stderr


# --------------------------------------------------------------------------- tests


def test_a_registered_format_is_read_by_validate_and_fit(
    toy_format: Format, make_incident: Callable[..., Path], tmp_path: Path
) -> None:
    folder = make_incident(toy_file(n_bad=2), name="reports.ndjson.gz", source_extra=MAP)
    assert load_incident(folder).sources[0].format == "ndjson-gz"  # chosen by the file name, no 'format' key

    code, out, err = run("validate", str(folder))
    assert code == 0, err
    assert f"reports.ndjson: {len(TIMES) + 2} rows, {len(TIMES)} usable, 2 rejected" in out

    code, out, err = run("fit", str(folder), "-p", f"processed_dir={tmp_path / 'processed'}", "-p", "n_boot=20")
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["n_down_reports"] == len(TIMES)
    assert metrics["sources"][0]["n_raw"] == len(TIMES) + 2 and metrics["sources"][0]["n_rejected"] == 2


def test_a_registered_format_is_found_by_its_first_bytes_and_in_a_folder(
    toy_format: Format, make_incident: Callable[..., Path]
) -> None:
    folder = make_incident(toy_file(), name="export.bin", source_extra=MAP)  # gzip magic, unknown name
    assert load_incident(folder).sources[0].format == "ndjson-gz"
    parts = folder / "parts"
    parts.mkdir()
    for i in range(2):
        (parts / f"part-{i}.ndjson.gz").write_bytes(toy_file())
    (folder / "incident.toml").write_text(
        (folder / "incident.toml").read_text(encoding="utf-8").replace('"export.bin"', '"parts"'), encoding="utf-8"
    )
    code, out, err = run("validate", str(folder))
    assert code == 0, err
    assert f"parts: {2 * len(TIMES)} rows, {2 * len(TIMES)} usable" in out


def test_once_unregistered_the_format_is_unknown(make_incident: Callable[..., Path]) -> None:
    FORMATS.register(TOY)
    FORMATS.unregister(TOY.name)
    folder = make_incident(toy_file(), name="reports.ndjson.gz", source_extra=MAP)
    message = one_line_error(cli("validate", str(folder)))  # exit code 2, one line, no traceback
    # gzip is no known format: the file is named, with the formats known
    assert "reports.ndjson.gz" in message and "csv, parquet, jsonl, xlsx" in message


def test_parquet_is_found_by_its_magic_bytes(make_incident: Callable[..., Path], tmp_path: Path) -> None:
    table = pl.DataFrame({"time": TIMES, "town": ["Namur"] * len(TIMES)})
    table.write_parquet(tmp_path / "t.parquet")
    folder = make_incident((tmp_path / "t.parquet").read_bytes(), name="export.dat", source_extra=MAP)
    assert load_incident(folder).sources[0].format == "parquet"
    code, out, err = run("validate", str(folder))
    assert code == 0, err
    assert f"export: {len(TIMES)} rows, {len(TIMES)} usable, 0 rejected" in out


def test_a_file_of_no_known_format_is_one_line_naming_it_and_the_formats(make_incident: Callable[..., Path]) -> None:
    folder = make_incident("time,town\n2018-01-08 20:05,Liège\n", name="export.dat", source_extra=MAP)
    message = one_line_error(cli("validate", str(folder)))  # exit code 2, one line, no traceback
    assert "export.dat" in message and "csv, parquet, jsonl, xlsx" in message and "'format'" in message


def test_a_declared_format_that_is_unknown_is_refused(make_incident: Callable[..., Path]) -> None:
    folder = make_incident("time,town\n2018-01-08 20:05,Liège\n", source_extra='format = "ndjson-gz"\n' + MAP)
    message = one_line_error(cli("validate", str(folder)))  # exit code 2, one line, no traceback
    assert "'sources[0].format'" in message and "csv, parquet, jsonl, xlsx" in message and "ndjson-gz" in message


def test_a_format_without_a_reader_never_falls_through_to_xlsx(make_incident: Callable[..., Path], tmp_path: Path) -> None:
    from tests.xlsxgen import write_xlsx

    workbook = tmp_path / "w.xlsx"
    write_xlsx(workbook, {"Sheet1": [["time", "town"], ["2018-01-08 20:05", "Liège"]]})
    folder = make_incident(workbook.read_bytes(), name="reports.xlsx", source_extra=MAP)
    source = load_incident(folder).sources[0]
    assert read_source(source).table.height == 1  # the workbook is readable as xlsx
    with pytest.raises(IngestError) as err:
        read_source(dataclasses.replace(source, format="gone"))
    assert str(err.value) == (
        f"{source.path}: no reader for format 'gone' (source 'reports'); formats known: csv, parquet, jsonl, xlsx"
    )


def test_the_registry_refuses_a_name_or_file_ending_already_taken() -> None:
    with pytest.raises(ValueError, match="already registered"):
        FORMATS.register(Format("csv", read_ndjson_gz))
    with pytest.raises(ValueError, match=r"\.tsv"):
        FORMATS.register(Format("tabbed", read_ndjson_gz, suffixes=(".tsv",)))
    assert FORMATS.names() == ("csv", "parquet", "jsonl", "xlsx")
    assert FORMATS.by_suffix("a/b/Reports.CSV").name == "csv"  # type: ignore[union-attr]
