"""The bad-input corpus (tests/data/bad/): every case ingests with the listed counts and
reasons, or fails with one line naming the file; nothing personal reaches processed data."""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from analysis import errors
from analysis.config import load_incident
from analysis.ingest import ONLINE_COLUMNS, REPORT_COLUMNS, RESTORATION_COLUMNS, ingest_incident, write_processed

from .xlsxgen import write_xlsx

CORPUS = Path(__file__).parent / "data" / "bad"
CASES: dict[str, dict[str, Any]] = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- build steps


def _huge_field(folder: Path) -> None:
    big = "x" * 200_000
    (folder / "r.csv").write_text(
        f"time,town,msg\n2018-01-08 20:05,Liège,short\n2018-01-08 20:06,Namur,{big}\n2018-01-08 20:07,Gent,short too\n",
        encoding="utf-8",
    )


def _xlsx_workbook(folder: Path) -> None:
    rows: list[list[object]] = [
        [None, None, None, None],
        ["time", "town", "msg", "postcode"],
        [dt.datetime(2018, 1, 8, 20, 5), "Liège", "plus de télé", 4000],
        ["08/01/2018 20:10", "Namur", "line one\nline two", "5000"],
        [None, None, None, None],
        [dt.datetime(2018, 1, 8, 21, 0, 30), "Gent", None, 9000.0],
    ]
    write_xlsx(folder / "r.xlsx", {"Cover": [["about"], ["nothing here"]], "Reports": rows})


def _symlink_outside(folder: Path) -> None:
    outside = folder.parent / "secret.csv"
    outside.write_text("time\n2018-01-08 20:05\n", encoding="utf-8")
    (folder / "link.csv").symlink_to(outside)


def _symlink_dir_outside(folder: Path) -> None:
    outside = folder.parent / "elsewhere"
    outside.mkdir()
    (outside / "r.csv").write_text("time\n2018-01-08 20:05\n", encoding="utf-8")
    (folder / "linked").symlink_to(outside, target_is_directory=True)


def _symlink_inside(folder: Path) -> None:
    (folder / "link.csv").symlink_to(Path("data") / "r.csv")


BUILDS: dict[str, Callable[[Path], None]] = {
    "huge_field": _huge_field,
    "xlsx_workbook": _xlsx_workbook,
    "symlink_outside": _symlink_outside,
    "symlink_dir_outside": _symlink_dir_outside,
    "symlink_inside": _symlink_inside,
}


def _case_folder(name: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    shutil.copytree(CORPUS / name, folder, symlinks=True)
    build = CASES[name].get("build")
    if build is not None:
        BUILDS[build](folder)
    return folder


# --------------------------------------------------------------------------- checks


def test_corpus_and_expectations_match() -> None:
    folders = {p.name for p in CORPUS.iterdir() if p.is_dir()}
    assert folders == set(CASES), (
        f"folders without expectations: {folders - set(CASES)}; expectations without folder: {set(CASES) - folders}"
    )
    for name, case in CASES.items():
        assert ("error" in case) != ("raw" in case), name
        if "raw" in case:
            assert case["raw"] == case["kept"] + len(case["rejects"]), f"{name}: expectations do not reconcile"
        assert case.get("build") in (None, *BUILDS), name


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float) and not isinstance(expected, bool):
        return actual is not None and math.isclose(actual, expected, rel_tol=0, abs_tol=1e-12)
    if isinstance(expected, dt.datetime):
        return actual is not None and actual.tzinfo is not None and actual == expected
    return actual == expected


def _processed_text(paths: dict[str, Path]) -> str:
    """Every string value of every processed table, and the accounting file, as one text."""
    parts = [paths["ingest"].read_text(encoding="utf-8")]
    for key in ("reports", "rejects", "restorations", "online"):
        frame = pl.read_parquet(paths[key])
        for name, dtype in frame.schema.items():
            parts.append(name)
            if dtype == pl.String:
                parts.extend(v for v in frame[name].to_list() if v is not None)
    return "\n".join(parts)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if "error" in c])
def test_bad_input_fails_with_one_clear_line(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    folder = _case_folder(name, tmp_path)
    expected = getattr(errors, case["error"])
    with pytest.raises(errors.AnalysisError) as info:
        ingest_incident(load_incident(folder), geocode=False)
    assert type(info.value) is expected, f"{name}: {type(info.value).__name__}: {info.value}"
    message = str(info.value)
    assert "\n" not in message, f"{name}: the message must be one line: {message!r}"
    assert "Traceback" not in message
    for part in case["message"]:
        assert part in message, f"{name}: {part!r} not in {message!r}"


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if "raw" in c])
def test_bad_input_ingests_with_exact_accounting(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    folder = _case_folder(name, tmp_path)
    result = ingest_incident(load_incident(folder), geocode=False)

    # counts reconcile, per source and in total, and match the expectation
    assert (result.n_raw, result.n_reports, result.n_rejected) == (case["raw"], case["kept"], len(case["rejects"]))
    for s in result.sources:
        assert s.n_raw == s.n_accepted + s.n_rejected
    # every raw row is accounted for exactly once
    rows = [*result.rejects["row"].to_list()]
    for table in (result.reports, result.restorations, result.online):
        rows += table["source_row"].to_list()
    assert len(rows) == len(set(rows)) == case["raw"]

    # every reject: its row, its reason (exact unless reason_has), its column when given
    got = {r["row"]: r for r in result.rejects.iter_rows(named=True)}
    assert sorted(got) == sorted(r["row"] for r in case["rejects"])
    for want in case["rejects"]:
        row = got[want["row"]]
        if "reason" in want:
            assert row["reason"] == want["reason"], f"{name} row {want['row']}"
        else:
            assert want["reason_has"] in row["reason"], f"{name} row {want['row']}: {row['reason']!r}"
        if "column" in want:
            assert row["column"] == want["column"], f"{name} row {want['row']}"
        assert row["raw"] is not None
        assert row["source"]

    if "read" in case:
        s = result.sources[0]
        assert (s.encoding, s.delimiter) == (case["read"]["encoding"], case["read"]["delimiter"])
    if "duplicates" in case:
        s, want = result.sources[0], case["duplicates"]
        got = {"dedupe": s.dedupe, "identical": s.n_identical, "identical_kept": s.n_identical_kept, "rejected": s.n_duplicates}
        assert got == want, name

    tables = {"reports": result.reports, "restorations": result.restorations, "online": result.online}
    for want in case.get("rows", []):
        spec = dict(want)
        table = tables[spec.pop("table", "reports")]
        match = table.filter(pl.col("source_row") == spec.pop("source_row"))
        assert match.height == 1, f"{name}: {want}"
        record = match.row(0, named=True)
        for column in spec.pop("nulls", []):
            assert record[column] is None, f"{name}: {column} = {record[column]!r}, expected null"
        for column, value in spec.items():
            assert _equal(record[column], value), f"{name}: {column} = {record[column]!r}, expected {value!r}"

    # the processed files keep the canonical schema and carry nothing personal or executable
    paths = write_processed(result, tmp_path / "processed")
    reports = pl.read_parquet(paths["reports"])
    assert reports.columns[: len(REPORT_COLUMNS)] == list(REPORT_COLUMNS)
    assert reports.schema["reported_at"] == pl.Datetime("us", "UTC")
    assert pl.read_parquet(paths["restorations"]).columns[: len(RESTORATION_COLUMNS)] == list(RESTORATION_COLUMNS)
    assert pl.read_parquet(paths["online"]).columns == list(ONLINE_COLUMNS)
    text = _processed_text(paths)
    for secret in case.get("secrets", []):
        assert secret not in text, f"{name}: {secret!r} reached the processed data"


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
def test_symlink_inside_the_folder_still_reads_the_target(tmp_path: Path) -> None:
    folder = _case_folder("symlink_inside", tmp_path)
    source = load_incident(folder).sources[0]
    assert source.path == (folder / "data" / "r.csv").resolve()


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_read_in_batches_gives_the_same_result(name: str, tmp_path: Path) -> None:
    """A file read in batches (as large files are) gives the same tables, counts and errors."""
    folder = _case_folder(name, tmp_path)

    def run(**options: int) -> Any:
        try:
            return ingest_incident(load_incident(folder), geocode=False, **options)
        except errors.AnalysisError as exc:
            return type(exc), str(exc)

    whole = run(stream_bytes=1 << 60)
    batched = run(stream_bytes=0, batch_rows=3)
    if isinstance(whole, tuple):
        assert batched == whole
        return
    assert whole.reports.equals(batched.reports)
    assert whole.rejects.equals(batched.rejects)
    assert whole.restorations.equals(batched.restorations) and whole.online.equals(batched.online)
    assert whole.sources == batched.sources
