"""A source of several files (a glob or a folder) reads as one file holding all their rows."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from analysis.config import load_incident
from analysis.errors import ConfigError, IngestError
from analysis.ingest import ingest_incident
from analysis.ingest.partitions import read_partitioned_counts, report_counts

HEADER = "id,time,town,msg"
# three files; ids r2 and r5 come back in later files, r9's row is identical in files 1 and 3,
# one row has no time, one is empty, one lacks an id (named by its file and row)
FILES = {
    "day-1.csv": [
        "r1,08/01/2018 20:05,Liège,plus de télé",
        "r2,08/01/2018 20:10,Namur,écran noir",
        "r9,08/01/2018 20:12,Gent,storing",
        "r3,not a time,Gent,storing",
    ],
    "day-2.csv": [
        "r4,08/01/2018 21:00,Mons,rien",
        "r2,08/01/2018 21:30,Namur,toujours rien",  # r2 again: a duplicate of day-1.csv row 3
        ",,,",
        ",08/01/2018 21:40,Arlon,no id",
        "r5,08/01/2018 22:00,Hasselt,geen tv",
    ],
    "day-3.csv": [
        "r5,08/01/2018 23:00,Hasselt,nog steeds",  # r5 again: duplicate of day-2.csv row 6
        "r9,08/01/2018 20:12,Gent,storing",  # identical to day-1.csv row 4: a duplicate (same report_id)
        "r6,09/01/2018 01:00,Bruges,back",
    ],
}
TOML = """\
id = "{id}"
title = "Partitioned"
timezone = "Europe/Brussels"
onset = "2018-01-08T20:00:00"
[[sources]]
path = "{path}"
kind = "down_reports"
name = "web"
[sources.columns]
report_id = "id"
reported_at = "time"
place = "town"
text = "msg"
"""


def write_incident(root: Path, name: str, files: dict[str, list[str]], path: str, *, one_file: bool = False) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    if one_file:
        rows = [r for lines in files.values() for r in lines]
        (folder / "all.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    else:
        (folder / "parts").mkdir()
        for fname, lines in files.items():
            (folder / "parts" / fname).write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    (folder / "incident.toml").write_text(TOML.format(id=name, path=path), encoding="utf-8")
    return folder


def test_a_glob_reads_as_one_file_holding_every_row(tmp_path: Path) -> None:
    parts = ingest_incident(load_incident(write_incident(tmp_path, "parts", FILES, "parts/*.csv")), geocode=False)
    whole = ingest_incident(load_incident(write_incident(tmp_path, "whole", FILES, "all.csv", one_file=True)), geocode=False)

    # counts reconcile, and agree with the single file
    assert (parts.n_raw, parts.n_reports, parts.n_rejected) == (whole.n_raw, whole.n_reports, whole.n_rejected) == (12, 7, 5)
    (ps,), (ws,) = parts.sources, whole.sources
    assert (ps.n_identical, ps.n_identical_kept, ps.n_duplicates) == (ws.n_identical, ws.n_identical_kept, ws.n_duplicates)
    assert (ps.n_identical, ps.n_duplicates) == (1, 3)
    assert ps.path == "parts/*.csv"
    # the same reports kept, each with its row in its own file
    cols = ["reported_at", "place_raw", "text"]
    assert parts.reports.select(cols).sort(cols).equals(whole.reports.select(cols).sort(cols))
    got = dict(zip(parts.reports["text"], parts.reports["source_row"], strict=True))
    assert (got["plus de télé"], got["geen tv"], got["back"]) == (2, 6, 4)
    assert "web:parts/day-2.csv:5" in parts.reports["report_id"].to_list()  # the row without an id
    assert parts.reports["report_id"].n_unique() == parts.reports.height

    # rejects name their file and their row in it; repeats of a report_id in other files are found
    rej = {(r["file"], r["row"]): r["reason"] for r in parts.rejects.iter_rows(named=True)}
    assert rej == {
        ("parts/day-1.csv", 5): "unreadable time 'not a time'",
        ("parts/day-2.csv", 3): "duplicate of row 3 of parts/day-1.csv (same report_id)",
        ("parts/day-2.csv", 4): "empty row",
        ("parts/day-3.csv", 2): "duplicate of row 6 of parts/day-2.csv (same report_id)",
        ("parts/day-3.csv", 3): "duplicate of row 4 of parts/day-1.csv (same report_id)",
    }
    # the single file rejects the same rows for the same reasons
    assert whole.rejects.select("file", "row", "reason").rows() == [
        ("all.csv", 5, "unreadable time 'not a time'"),
        ("all.csv", 7, "duplicate of row 3 (same report_id)"),
        ("all.csv", 8, "empty row"),
        ("all.csv", 11, "duplicate of row 10 (same report_id)"),
        ("all.csv", 12, "duplicate of row 4 (same report_id)"),
    ]


def test_day_month_order_is_voted_by_every_file(tmp_path: Path) -> None:
    # day-1.csv alone cannot tell 01/08 from 08/01; day-2.csv's 01/13 says month first
    files = {"day-1.csv": ["a,01/08/2018 20:05,Liège,x"], "day-2.csv": ["b,01/13/2018 20:10,Namur,y"]}
    r = ingest_incident(load_incident(write_incident(tmp_path, "vote", files, "parts/day-*.csv")), geocode=False)
    assert r.n_rejected == 0
    assert [t.day for t in r.reports.sort("source_row")["reported_at"]] == [8, 13]


def test_a_folder_of_parquet_files_and_its_counts(tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    (folder / "parts" / "year=2018").mkdir(parents=True)
    rows = [(f"r{i}", f"2018-01-08 2{i % 4}:0{i % 10}", ["Liège", "Gent", "Namur"][i % 3], "x") for i in range(30)]
    for k in range(3):
        chunk = rows[k * 10 : (k + 1) * 10]
        pl.DataFrame(chunk, schema=["id", "time", "town", "msg"], orient="row").write_parquet(
            folder / "parts" / "year=2018" / f"part-{k}.parquet"
        )
    (folder / "parts" / "_SUCCESS").write_text("")
    (folder / "incident.toml").write_text(TOML.format(id="pq", path="parts"), encoding="utf-8")
    incident = load_incident(folder)
    (source,) = incident.sources
    assert source.format == "parquet"
    result = ingest_incident(incident)
    assert (result.n_raw, result.n_reports, result.n_rejected) == (30, 30, 0)
    assert sorted(result.reports["source_row"].to_list()) == sorted(list(range(1, 11)) * 3)
    # the counts of the files add up to the counts of the whole table
    _read, counts = read_partitioned_counts(source, incident.timezone)
    assert counts.equals(report_counts("web", result.reports).sort(counts.columns[:5], nulls_last=True))
    assert counts["reports"].sum() == 30
    assert counts["nis_code"].null_count() == 0


def test_a_pattern_matching_nothing_is_one_clear_line(tmp_path: Path) -> None:
    folder = write_incident(tmp_path, "none", {"day-1.csv": ["a,01/08/2018 20:05,Liège,x"]}, "parts/*.parquet")
    with pytest.raises(IngestError, match=r"no file matches this pattern \(source 'web'\)"):
        ingest_incident(load_incident(folder), geocode=False)
    (folder / "mixed").mkdir()
    (folder / "mixed" / "a.csv").write_text(HEADER + "\n")
    (folder / "mixed" / "b.parquet").write_bytes(b"PAR1")
    (folder / "incident.toml").write_text(TOML.format(id="none", path="mixed"), encoding="utf-8")
    with pytest.raises(ConfigError, match="holds no file of one known format; set 'format'"):
        load_incident(folder)


def test_cli_ingest_of_a_glob_imports_nothing_of_dask(tmp_path: Path) -> None:
    folder = write_incident(tmp_path, "cli", FILES, "parts/*.csv")
    code = textwrap.dedent(
        f"""
        import sys
        from analysis.cli import main
        sys.argv = ["postmortem", "ingest", {str(folder)!r}, "--processed", {str(tmp_path / "processed")!r}]
        try:
            main()
        except SystemExit as exc:
            assert not exc.code, exc.code
        sys.argv = ["postmortem", "validate", {str(folder)!r}]
        try:
            main()
        except SystemExit as exc:
            assert not exc.code, exc.code
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert "web: 12 rows = 7 kept + 5 rejected" in out.stdout
    assert "web: 12 rows, 7 usable, 5 rejected" in out.stdout  # validate reads the files in turn too
    rejects = pl.read_parquet(tmp_path / "processed" / "cli" / "rejects.parquet")
    assert rejects.filter(pl.col("file") == "parts/day-3.csv")["row"].to_list() == [2, 3]


def test_provenance_hashes_every_file_of_a_glob(tmp_path: Path) -> None:
    from analysis.provenance import input_hashes

    folder = write_incident(tmp_path, "prov", FILES, "parts/*.csv")
    paths = [e["path"] for e in input_hashes(load_incident(folder))]
    assert paths == ["incident.toml", "parts/day-1.csv", "parts/day-2.csv", "parts/day-3.csv"]
