"""Hostile input and operator mistakes, done as the attacker does: build the file, run the CLI.

Nothing deleted (outputs never replace an input), nothing read outside the incident folder,
work bounded by the data's real size (documented limits, docs/security.md), one bounded
line per error, and a batch that survives every bad incident. The ingest-level bad-input
corpus is in test_bad_inputs.py; these cases need the command line or the render.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import polars as pl
import pytest

from analysis import report, report_folders
from analysis.errors import RenderError

from .render_fixtures import write_incident
from .xlsxgen import write_xlsx

HERE = Path(__file__).parent
FIXTURE = HERE / "data" / "notebooks" / "fixture_report.ipynb"
ERROR = "postmortem: error: "


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, limit_mb: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the ``postmortem`` entry point with ARGS.

    Renders, and runs under an address-space limit (``limit_mb``: a memory bomb must fail
    before it allocates), are a separate ``python -m analysis`` process; the other commands
    run the same entry point in this process (same code path, without the import time).
    """
    if limit_mb is not None or args[0] in ("render", "render-all"):
        preexec = None
        if limit_mb is not None:
            import resource

            def preexec() -> None:
                resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))

        return subprocess.run(
            [sys.executable, "-m", "analysis", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=os.environ | (env or {}),
            preexec_fn=preexec,
        )
    import contextlib
    import io

    from analysis.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_argv = dict(os.environ), sys.argv
    os.environ.update(env or {})
    sys.argv = ["postmortem", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def one_line_error(proc: subprocess.CompletedProcess[str], code: int = 2, *, most: int = 2100) -> str:
    """The single ``postmortem: error:`` line of a failed command (no traceback, bounded length)."""
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith(ERROR)]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert len(lines[0]) <= most, len(lines[0])
    return lines[0][len(ERROR) :]


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def incident(
    folder: Path, csv: str, *, extra: str = "", columns: str = 'reported_at = "time"\nplace = "town"\n', top: str = ""
) -> Path:
    """An incident folder with one CSV source of down reports."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "r.csv").write_text(csv, encoding="utf-8")
    (folder / "incident.toml").write_text(
        f'id = "{folder.name}"\ntitle = "Hostile"\ntimezone = "Europe/Brussels"\n{top}'
        f'[[sources]]\npath = "r.csv"\n{extra}[sources.columns]\n{columns}',
        encoding="utf-8",
    )
    return folder


REPORTS = "time,town\n" + "".join(f"2018-01-08 {20 + i // 60:02d}:{i % 60:02d},Liège\n" for i in range(100))


# --------------------------------------------------------------------------- 1. outputs never replace inputs


@pytest.mark.parametrize(
    "command",
    [
        ["render", "{data}/inc", "--out", "{data}"],
        ["render", "{data}/inc", "--out", "{data}/inc"],
        ["render", "{data}/inc", "--out", "{data}/inc/sub"],
        ["render", "{data}/inc", "--out", "{data}/other"],  # inside another incident folder
        ["render-all", "{data}", "--out", "{data}"],
        ["render-all", "{data}", "--out", "{data}/reports"],
        ["render-all", "{data}", "--out", "{root}"],
    ],
    ids=[
        "render-out-data",
        "render-out-incident",
        "render-out-inside",
        "render-out-sibling",
        "all-out-data",
        "all-out-inside",
        "all-out-parent",
    ],
)
def test_an_output_folder_holding_or_inside_the_inputs_is_refused(tmp_path: Path, command: list[str]) -> None:
    data = tmp_path / "data"
    write_incident(data, "inc")
    write_incident(data, "other")
    before = snapshot(tmp_path)
    args = [a.format(data=data, root=tmp_path) for a in command]
    message = one_line_error(cli(*args, "--notebook", str(FIXTURE)))
    assert "--out" in message
    assert "input folder" in message or "incident folder" in message
    assert snapshot(tmp_path) == before  # nothing written, nothing removed


def test_an_id_equal_to_a_foreign_folder_never_removes_it(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    foreign = out / "inc"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("someone's work", encoding="utf-8")
    write_incident(tmp_path / "data", "inc")
    message = one_line_error(cli("render", str(tmp_path / "data" / "inc"), "--out", str(out), "--notebook", str(FIXTURE)), 1)
    assert "not a report made by postmortem" in message
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "someone's work"
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    assert not list(out.glob(".inc.*.tmp"))


def test_the_swap_is_one_atomic_exchange_and_refuses_foreign_folders(tmp_path: Path) -> None:
    final, work = tmp_path / "inc", tmp_path / ".inc.run.tmp"
    final.mkdir()
    (final / "manifest.json").write_text(json.dumps({"incident_id": "inc", "run_id": "old", "status": "ok"}), encoding="utf-8")
    work.mkdir()
    (work / "manifest.json").write_text(json.dumps({"incident_id": "inc", "run_id": "new", "status": "ok"}), encoding="utf-8")
    assert report_folders._exchange(work, final)  # one renameat2(RENAME_EXCHANGE): no moment without <out>/<id>
    report_folders._exchange(work, final)  # and back
    report_folders.swap_into_place(work, final)
    assert json.loads((final / "manifest.json").read_text(encoding="utf-8"))["run_id"] == "new"
    assert not work.exists() and not (tmp_path / ".inc.old").exists()
    foreign = tmp_path / "data"
    foreign.mkdir()
    (foreign / "incident.toml").write_text("id = 'x'", encoding="utf-8")
    work.mkdir()
    with pytest.raises(RenderError, match="not a report made by postmortem"):
        report_folders.swap_into_place(work, foreign)
    assert (foreign / "incident.toml").is_file()


def test_a_failure_record_killed_half_way_does_not_lock_the_incident_out(tmp_path: Path) -> None:
    final = tmp_path / "inc"
    (final / ".failed.killed-run.tmp").mkdir(parents=True)  # kill -9 while writing failed/
    assert report.is_ours(final)
    now = dt.datetime.now(dt.UTC)
    report.keep_failure(None, final, "inc: boom", run_id="next", started=now)
    assert sorted(p.name for p in final.iterdir()) == ["failed"]


def test_a_file_as_out_is_one_line(tmp_path: Path) -> None:
    write_incident(tmp_path / "data", "inc")
    (tmp_path / "out").write_text("a file", encoding="utf-8")
    for command in ("render", "render-all"):
        target = tmp_path / "data" / "inc" if command == "render" else tmp_path / "data"
        message = one_line_error(cli(command, str(target), "--out", str(tmp_path / "out"), "--notebook", str(FIXTURE)))
        assert "is a file" in message


def test_a_full_disk_inside_the_failure_handler_gives_one_line_and_no_staging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_incident(tmp_path / "data", "inc", action="raise boom")
    out = tmp_path / "reports"

    def full(staging: Path, *args: object, **kwargs: object) -> None:
        staging.mkdir()
        (staging / "error.txt").write_text("partial", encoding="utf-8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_folders, "_write_failure", full)
    with pytest.raises(RenderError) as info:
        report.render(folder, out_root=out, notebook=FIXTURE, run_id="disk-1")
    message = str(info.value)
    assert "boom" in message and "No space left on device" in message and "\n" not in message
    assert not list(out.rglob(".failed.*")) and not list(out.glob(".inc.*.tmp"))


def test_stale_kernel_folders_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    stale = Path(tempfile.mkdtemp(prefix=f"{report.KERNEL_PREFIX}{dead.stdout.strip()}-"))
    live = Path(tempfile.mkdtemp(prefix=f"{report.KERNEL_PREFIX}{os.getpid()}-"))
    try:
        report.remove_stale_kernel_folders()
        assert not stale.exists() and live.exists()
    finally:
        for p in (stale, live):
            if p.exists():
                p.rmdir()


# --------------------------------------------------------------------------- 2. nothing read outside the folder


def _with_boundaries(folder: Path, name: str) -> Path:
    incident(folder, REPORTS)
    toml = folder / "incident.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            "[[sources]]", f'[geography]\nboundaries = "{name}"\nboundaries_key = "id"\n[[sources]]'
        ),
        encoding="utf-8",
    )
    return folder


VRT = '<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>CSV:/etc/passwd</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>'


@pytest.mark.parametrize("name", ["b.vrt", "b.geojson", "b.csv"])
def test_boundaries_must_be_a_plain_geo_format(tmp_path: Path, name: str) -> None:
    folder = _with_boundaries(tmp_path / "inc", name)
    (folder / name).write_text(VRT, encoding="utf-8")
    for command in ("validate", "fit"):
        message = one_line_error(cli(command, str(folder)))
        assert "geography.boundaries" in message
        assert "root:" not in message and "passwd" not in message


def test_incident_toml_linking_outside_is_refused(tmp_path: Path) -> None:
    outside = incident(tmp_path / "elsewhere", REPORTS)
    folder = tmp_path / "inc"
    folder.mkdir()
    (folder / "r.csv").write_text(REPORTS, encoding="utf-8")
    (folder / "incident.toml").symlink_to(outside / "incident.toml")
    assert "outside the incident folder" in one_line_error(cli("validate", str(folder)))


# --------------------------------------------------------------------------- 3. bounded work and memory


def _xlsx_with_far_cell(path: Path, ref: str) -> None:
    write_xlsx(path, {"Reports": [["time", "town"], ["2018-01-08 20:05", "Liège"]]})
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    sheet = next(n for n in parts if n.startswith("xl/worksheets/"))
    row = re.sub(r"\D", "", ref)
    cell = f'<row r="{row}"><c r="{ref}" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'.encode()
    parts[sheet] = parts[sheet].replace(b"</sheetData>", cell)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in parts.items():
            z.writestr(n, data)


@pytest.mark.parametrize("ref", ["ZZ1000000", "XFD1048576"])
def test_an_xlsx_cell_far_away_is_refused_before_reading(tmp_path: Path, ref: str) -> None:
    folder = tmp_path / "inc"
    incident(folder, REPORTS)
    _xlsx_with_far_cell(folder / "r.xlsx", ref)
    toml = folder / "incident.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('"r.csv"', '"r.xlsx"'), encoding="utf-8")
    assert (folder / "r.xlsx").stat().st_size < 3000
    started = time.monotonic()
    message = one_line_error(cli("validate", str(folder), limit_mb=3000))
    assert "POSTMORTEM_MAX_XLSX_CELLS" in message and time.monotonic() - started < 60


def test_xlsx_sheet_xml_bomb_is_refused_by_its_unpacked_size(tmp_path: Path) -> None:
    folder = tmp_path / "inc"
    incident(folder, REPORTS)
    path = folder / "r.xlsx"
    write_xlsx(path, {"Reports": [["time", "town"], ["2018-01-08 20:05", "Liège"]]})
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    sheet = next(n for n in parts if n.startswith("xl/worksheets/"))
    parts[sheet] = parts[sheet].replace(b"<sheetData>", b"<sheetData>" + b" " * (3 << 20))  # 3 MB of XML in ~3 KB
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in parts.items():
            z.writestr(n, data)
    toml = folder / "incident.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('"r.csv"', '"r.xlsx"'), encoding="utf-8")
    message = one_line_error(cli("validate", str(folder), env={"POSTMORTEM_MAX_XLSX_XML_MB": "1"}))
    assert "POSTMORTEM_MAX_XLSX_XML_MB" in message
    assert cli("validate", str(folder)).returncode == 0  # under the default limit it reads


def test_huge_counts_are_bounded_by_the_real_rows(tmp_path: Path) -> None:
    rows = "time,town,n\n" + "".join(f"2018-01-08 20:{i:02d},Liège,1000000000\n" for i in range(10))
    folder = incident(tmp_path / "billion", rows, columns='reported_at = "time"\nplace = "town"\ncount = "n"\n')
    proc = cli("validate", str(folder), limit_mb=3000)
    assert "count must be a positive whole number up to 20 million" in proc.stdout
    one_line_error(proc, 1)  # every row rejected: nothing usable
    rows = "time,town,n\n" + "".join(f"2018-01-08 20:{i:02d},Liège,5000000\n" for i in range(10))
    folder = incident(tmp_path / "many", rows, columns='reported_at = "time"\nplace = "town"\ncount = "n"\n')
    for command in ("validate", "fit"):
        message = one_line_error(cli(command, str(folder), limit_mb=3000))
        assert "POSTMORTEM_MAX_REPORTS" in message


def test_a_year_typo_is_an_outlier_row_not_a_63_year_span(tmp_path: Path) -> None:
    folder = incident(tmp_path / "typo", REPORTS + "2081-01-08 20:30,Namur\n")
    proc = cli("validate", str(folder))
    assert proc.returncode == 0, proc.stderr
    assert "1 rejected: 1× time 2081-01-08 19:30 is 23010 days from the median time" in proc.stdout
    started = time.monotonic()
    proc = cli("fit", str(folder), "-p", "n_boot=20", timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads(proc.stdout)
    assert metrics["n_rejected"] == 1
    assert time.monotonic() - started < 240


@pytest.mark.parametrize(
    ("top", "words"),
    [
        ('onset = "1900-01-01T00:00:00"\nend = "2099-12-31T23:59:59"\n', "POSTMORTEM_MAX_SPAN_DAYS"),
        ('onset = "2018-01-08T20:00:00"\nend = "2099-12-31T23:59:59"\n', "POSTMORTEM_MAX_SPAN_DAYS"),
        ('onset = "0001-01-01T00:00:00"\n', "year 1"),
        ("end = 9999-12-31T23:59:59\n", "year 9999"),
    ],
    ids=["1900-2099", "span", "year-1", "year-9999"],
)
def test_absurd_config_times_are_one_line(tmp_path: Path, top: str, words: str) -> None:
    folder = incident(tmp_path / "inc", REPORTS, top=top)
    for command in ("validate", "fit"):
        assert words in one_line_error(cli(command, str(folder)))


def test_typed_parquet_times_in_years_1_and_9999_fail_validate_too(tmp_path: Path) -> None:
    folder = incident(tmp_path / "inc", REPORTS)
    pl.DataFrame({"time": [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59)], "town": ["Liège", "Gent"]}).write_parquet(
        folder / "r.parquet"
    )
    toml = folder / "incident.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('"r.csv"', '"r.parquet"'), encoding="utf-8")
    proc = cli("validate", str(folder))
    assert "year 1 outside 1900–2099" in proc.stdout
    assert "all 2 rows rejected" in one_line_error(proc, 1)
    # fit says the same in its own words, on one line, with exit 1
    assert "every one of the 2 rows was rejected" in one_line_error(cli("fit", str(folder)), 1)


def test_yaml_billion_laughs_is_refused_without_quoting_it(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    lines.append("level: *i")
    params = tmp_path / "p.yaml"
    params.write_text("\n".join(lines) + "\n", encoding="utf-8")
    folder = incident(tmp_path / "inc", REPORTS)
    message = one_line_error(cli("fit", str(folder), "-f", str(params), limit_mb=3000), most=400)
    assert "aliases" in message and "lol" not in message


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_huge_single_line_is_refused_before_reading(tmp_path: Path, fmt: str) -> None:
    folder = incident(tmp_path / "inc", REPORTS)
    big = "x" * (3 << 20)
    if fmt == "csv":
        (folder / "r.csv").write_text(REPORTS + f"2018-01-08 22:00,{big}\n", encoding="utf-8")
    else:
        (folder / "r.jsonl").write_text(
            '{"time": "2018-01-08 20:05", "town": "Liège"}\n' + f'{{"time": "{big}"}}\n', encoding="utf-8"
        )
        toml = folder / "incident.toml"
        toml.write_text(toml.read_text(encoding="utf-8").replace('"r.csv"', '"r.jsonl"'), encoding="utf-8")
    message = one_line_error(cli("validate", str(folder), env={"POSTMORTEM_MAX_LINE_MB": "1"}))
    assert "longer than 1 MB" in message and "xxxx" not in message


# --------------------------------------------------------------------------- 4. a batch survives every bad incident


def _bad_incidents(data: Path) -> dict[str, str]:
    """Folders whose incident.toml is hostile, by folder name → the TOML text."""
    head = 'title = "t"\ntimezone = "Europe/Brussels"\n'
    source = '[[sources]]\npath = "reports.csv"\n[sources.columns]\nreported_at = "time"\nplace = "town"\n'
    cases = {
        "deep": "x = " + "[" * 3000 + "]" * 3000 + "\n",
        "year1": f'id = "year1"\n{head}onset = 0001-01-01T00:00:00\n{source}',
        "nul": f'id = "nul"\n{head}[[sources]]\npath = "a\\u0000b.csv"\n',
        "long": f'id = "{"x" * 300}"\n{head}{source}',
        "index": f'id = "index.html"\n{head}{source}',
        "log": f'id = "render-all.log"\n{head}{source}',
        "newline": f'id = "a\\nb"\n{head}{source}',
        "escape": f'id = "a\\u001b[31mred"\n{head}{source}',
        "nulid": f'id = "x\\u0000y"\n{head}{source}',
        "bom": None,  # written below: a byte-order mark is accepted
    }
    for name, text in cases.items():
        folder = write_incident(data, name)
        if text is not None:
            (folder / "incident.toml").write_text(text, encoding="utf-8")
    bom = data / "bom" / "incident.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + bom.read_bytes())
    return cases


@pytest.mark.slow
def test_render_all_isolates_every_bad_incident_and_the_index_tells_the_truth(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "reports"
    cases = _bad_incidents(data)
    write_incident(data, "good")
    proc = cli("render-all", str(data), "--out", str(out), "--notebook", str(FIXTURE), "--quiet", timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    rows = index["incidents"]
    status = {r["incident_id"]: r["status"] for r in rows}
    assert len(rows) == len(cases) + 1
    assert status["good"] == "ok" and status["bom"] == "ok"
    assert sum(s == "failed" for s in status.values()) == len(cases) - 1
    assert index.get("ok") is False
    # the reports root's own files are intact; no folder name carries a control character
    assert (out / "index.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (out / "render-all.log").is_file()
    assert all(p.name.isprintable() and len(p.name) <= 100 for p in out.iterdir())
    for line in proc.stderr.splitlines():
        assert line.isprintable() and len(line) < 2200
    # the published notebook and manifest name no server path
    for name in ("postmortem.ipynb", "manifest.json", "postmortem.html"):
        assert str(tmp_path) not in (out / "good" / name).read_text(encoding="utf-8"), name
    # a second batch into the same folder still works
    again = cli("render-all", str(data), "--out", str(out), "--notebook", str(FIXTURE), "--quiet", timeout=300)
    assert again.returncode == 1 and "Traceback" not in again.stderr


# --------------------------------------------------------------------------- 5. a default time limit


def test_render_has_a_default_time_limit_that_the_environment_changes(tmp_path: Path) -> None:
    from analysis.cli import _timeout

    assert _timeout(None) == 1800 and _timeout(0) is None and _timeout(5) == 5
    help_text = " ".join(cli("render", "--help").stdout.split())
    assert "1800" in help_text and "POSTMORTEM_TIMEOUT" in help_text
    folder = write_incident(tmp_path / "data", "slow", action="sleep 60")
    started = time.monotonic()
    proc = cli(
        "render", str(folder), "--out", str(tmp_path / "reports"), "--notebook", str(FIXTURE), env={"POSTMORTEM_TIMEOUT": "4"}
    )
    message = one_line_error(proc, 1)
    assert "time limit" in message or "longer than" in message
    assert time.monotonic() - started < 50
    assert "POSTMORTEM_TIMEOUT" in Path(HERE.parent / "docs" / "security.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- 7./9. one bounded line


def test_a_200k_character_header_is_not_quoted_whole(tmp_path: Path) -> None:
    header = "h" * 200_000
    folder = incident(tmp_path / "inc", f"{header},town\n2018-01-08 20:05,Liège\n")
    message = one_line_error(cli("validate", str(folder)))
    assert "'time'" in message and len(message) < 2100


def test_n_boot_has_an_upper_bound(tmp_path: Path) -> None:
    folder = incident(tmp_path / "inc", REPORTS)
    assert "POSTMORTEM_MAX_N_BOOT" in one_line_error(cli("fit", str(folder), "-p", "n_boot=100000000"))


def test_a_nul_or_overlong_path_is_one_line(tmp_path: Path) -> None:
    folder = incident(tmp_path / "inc", REPORTS)
    toml = folder / "incident.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('"r.csv"', '"' + "d/" * 3000 + 'r.csv"'), encoding="utf-8")
    assert "not a usable path" in one_line_error(cli("validate", str(folder)))
    assert "not a usable path" in one_line_error(cli("validate", str(tmp_path / ("x" * 5000))))


# --------------------------------------------------------------------------- lower


def test_the_same_file_named_twice_is_a_config_error(tmp_path: Path) -> None:
    folder = incident(tmp_path / "inc", REPORTS)
    toml = folder / "incident.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(
        text + text[text.index("[[sources]]") :].replace('path = "r.csv"', 'path = "./r.csv"\nname = "again"'), encoding="utf-8"
    )
    assert "name the same file" in one_line_error(cli("validate", str(folder)))


def test_geocode_csv_neutralises_formula_cells(tmp_path: Path) -> None:
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text('place,note\n=HYPERLINK("http://x"),a\n+32 2 123,@SUM(1)\n-4.5,-cmd\nLiège,fine\n', encoding="utf-8")
    proc = cli("geocode", "--csv", str(src), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    table = pl.read_csv(out, infer_schema=False)
    cells = [v for c in ("place", "note") for v in table[c].to_list()]
    assert '\'=HYPERLINK("http://x")' in cells and "'@SUM(1)" in cells and "'-cmd" in cells and "'+32 2 123" in cells
    assert "-4.5" in cells and "Liège" in cells
    assert not any(v[:1] in "=+-@" and v != "-4.5" for v in cells if v)


def test_fit_and_validate_refuse_incident_dir_as_a_parameter(tmp_path: Path) -> None:
    folder = incident(tmp_path / "inc", REPORTS)
    other = incident(tmp_path / "other", REPORTS)
    for command in ("fit", "validate"):
        assert "set by the command" in one_line_error(cli(command, str(folder), "-p", f"incident_dir={other}"))


def test_published_provenance_names_no_absolute_server_path(tmp_path: Path) -> None:
    from analysis.config import load_incident
    from analysis.provenance import provenance

    folder = incident(tmp_path / "inc", REPORTS)
    record = provenance(load_incident(folder), {"incident_dir": str(folder), "output_dir": str(tmp_path / "out")})
    text = json.dumps(record)
    assert str(tmp_path) not in text
    assert record["parameters"]["incident_dir"] == "inc"


@pytest.mark.parametrize("text", ["", "a\nb"], ids=["empty", "newline"])
def test_bounded_quote_helper(text: str) -> None:
    from analysis.errors import ConfigError, quote

    assert quote("x" * 1000).endswith("…'") and len(quote("x" * 1000)) < 210
    assert "\n" not in str(ConfigError(f"bad {text} " + "y" * 10_000)) and len(str(ConfigError("z" * 10_000))) <= 2001


def test_incident_folder_renders_with_a_bom(tmp_path: Path) -> None:
    folder = incident(tmp_path / "inc", REPORTS)
    toml = folder / "incident.toml"
    toml.write_bytes(b"\xef\xbb\xbf" + toml.read_bytes())
    proc = cli("validate", str(folder))
    assert proc.returncode == 0 and "inc: valid" in proc.stdout, proc.stderr


# --------------------------------------------------------------------------- 6. one scrubbing before any output

MAIL, PHONE = "jan.peeters@example.be", "0470 12 34 56"


def _personal_incident(folder: Path, rows: str) -> Path:
    """An incident whose title, event, source name and coverage carry an e-mail and a phone number."""
    folder = incident(
        folder,
        rows,
        extra=f'name = "feed {MAIL}"\ncoverage = "call {PHONE} for access"\n',
        columns='reported_at = "time"\nplace = "town"\nservice = "service"\nstatus = "status"\n',
        top=f'[[events]]\ntime = "2018-01-08T21:00:00"\nlabel = "update by {MAIL}"\nsource = "{PHONE}"\nkind = "announcement"\n',
    )
    toml = folder / "incident.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('title = "Hostile"', f'title = "Outage reported by {MAIL}"'), encoding="utf-8"
    )
    return folder


def test_personal_data_in_labels_values_and_reasons_never_reaches_an_output(tmp_path: Path) -> None:
    rows = f"time,town,service,status,{MAIL}\n" + "".join(
        f"2018-01-08 {20 + i // 60:02d}:{i % 60:02d},Liège,internet {MAIL},down {PHONE},x\n" for i in range(60)
    )
    rows += f"{PHONE[:4]} 99 88 20,Namur,tv,down,x\n"
    folder = _personal_incident(tmp_path / "inc", rows)
    outputs = []
    proc = cli("validate", str(folder))
    assert proc.returncode == 0, proc.stderr
    outputs += [proc.stdout, proc.stderr]
    processed = tmp_path / "processed"
    proc = cli("ingest", str(folder), "--processed", str(processed))
    assert proc.returncode == 0, proc.stderr
    outputs += [proc.stdout, proc.stderr]
    for table in processed.rglob("*.parquet"):
        frame = pl.read_parquet(table)
        outputs += list(frame.columns)
        outputs += [str(v) for c, t in frame.schema.items() if t == pl.String for v in frame[c].to_list()]
    outputs += [p.read_text(encoding="utf-8") for p in processed.rglob("*.json")]
    proc = cli("fit", str(folder), "-p", "n_boot=20", timeout=300)
    outputs += [proc.stdout, proc.stderr]
    metrics = json.loads(proc.stdout)
    assert metrics.get("title", "").startswith("Outage reported by")
    text = "\n".join(outputs)
    assert "[email]" in text  # the values are there, scrubbed
    for secret in (MAIL, "jan.peeters", PHONE, "0470 99 88 20", "0470"):
        assert secret not in text, secret


# --------------------------------------------------------------------------- 8. degenerate data


@pytest.mark.parametrize(
    "times",
    [
        ["2018-01-08 20:31"] * 50,
        [f"2018-01-08 {20 + (i * 5) // 60:02d}:{(i * 5) % 60:02d}" for i in range(100)],
    ],
    ids=["one-instant", "evenly-spaced"],
)
def test_degenerate_data_give_no_number_outside_its_interval_nor_absurd(tmp_path: Path, times: list[str]) -> None:
    from analysis.metrics import interval_violations

    folder = incident(tmp_path / "inc", "time,town\n" + "".join(f"{t},Liège\n" for t in times), extra='dedupe = "none"\n')
    proc = cli("fit", str(folder), "-p", "n_boot=40", timeout=300)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    metrics = json.loads(proc.stdout)
    assert interval_violations(metrics) == []
    for block in [metrics["recovery"], *metrics["regions"].values()]:
        if isinstance(block, dict):
            assert all(block.get(f"{q}_minutes") is None or block[f"{q}_minutes"] <= 366 * 1440 for q in ("t50", "t90", "t99"))
    assert isinstance(metrics["implausible"], list)
    if len(set(times)) > 1:  # evenly spaced: the model's upper ends run to centuries, and say so
        assert any("barely bound" in note for note in metrics["implausible"]), metrics["implausible"]


def test_too_many_events_is_a_config_error(tmp_path: Path) -> None:
    events = "".join(f'[[events]]\ntime = "2018-01-08T20:{i % 60:02d}:00"\nlabel = "e{i}"\n' for i in range(501))
    folder = incident(tmp_path / "inc", REPORTS, top=events)
    assert "POSTMORTEM_MAX_EVENTS" in one_line_error(cli("validate", str(folder)))


def test_validate_reads_the_boundary_file_as_fit_does(tmp_path: Path) -> None:
    folder = _with_boundaries(tmp_path / "inc", "b.geojson")
    polygon = [[[5.5, 50.6], [5.6, 50.6], [5.6, 50.7], [5.5, 50.6]]]
    feature = {"type": "Feature", "properties": {"code": "A"}, "geometry": {"type": "Polygon", "coordinates": polygon}}
    (folder / "b.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8")
    message = one_line_error(cli("validate", str(folder)))
    assert "key column 'id' not found" in message


def test_ingest_never_writes_processed_tables_into_the_incident_folder(tmp_path: Path) -> None:
    folder = incident(tmp_path / "inc", REPORTS)
    before = snapshot(tmp_path)
    for root in (tmp_path, folder):
        assert "--processed" in one_line_error(cli("ingest", str(folder), "--processed", str(root)))
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- leftovers of killed runs


def test_clearing_a_killed_runs_leftovers_never_touches_a_dotted_sibling_id(tmp_path: Path) -> None:
    """Leftover work of ``a`` is cleared; the work of the incident ``a.b`` (maybe running) is not."""
    from analysis.report import render

    folder = write_incident(tmp_path / "data", "a")
    out = tmp_path / "reports"
    out.mkdir()
    sibling = out / ".a.b.20180108T200000Z-0123abcd.tmp"  # a run of incident "a.b"
    sibling.mkdir()
    (sibling / "postmortem.ipynb").write_text("{}", encoding="utf-8")
    killed = out / ".a.20180108T200000Z-89abcdef.tmp"  # a killed run of "a"
    killed.mkdir()
    render(folder, out_root=out, notebook=FIXTURE, run_id="run.with.dots")
    assert not killed.exists()
    assert (sibling / "postmortem.ipynb").read_text(encoding="utf-8") == "{}"
    assert (out / "a" / "manifest.json").is_file()
    assert [p.name for p in out.glob(".*.tmp")] == [sibling.name]


@pytest.mark.parametrize("where", ["under-a-file", "under-proc"])
def test_an_out_folder_that_cannot_be_created_is_one_line(tmp_path: Path, where: str) -> None:
    folder = write_incident(tmp_path / "data", "inc")
    blocker = tmp_path / "plain-file"
    blocker.write_text("x", encoding="utf-8")
    out = blocker / "reports" if where == "under-a-file" else Path("/proc/postmortem-reports")
    before = snapshot(tmp_path)
    for command in (["render", str(folder)], ["render-all", str(folder.parent)]):
        message = one_line_error(cli(*command, "--out", str(out)), code=2)
        assert str(out) in message or "--out" in message, message
        assert snapshot(tmp_path) == before
        assert not list(tmp_path.rglob("*.tmp")) and not out.exists()


_DURATION = r"(?:[\d,]+\s(?:days?|hr|min)(?:\s[\d,]+\s(?:hr|min))?)"


def _minutes(words: str) -> float:
    """'2 days 3 hr', '34 hr 37 min', '45 min' as minutes."""
    unit = {"day": 1440, "days": 1440, "hr": 60, "min": 1}
    found = re.findall(r"([\d,]+)\s(days?|hr|min)", words)
    return sum(float(n.replace(",", "")) * unit[u] for n, u in found)


def _page_text(page: str) -> str:
    import html

    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).replace("\xa0", " ")


@pytest.mark.slow
def test_degenerate_data_render_no_number_outside_its_interval_nor_absurd(tmp_path: Path) -> None:
    """Evenly spaced reports: a region fitted on one instant and upper ends of centuries.

    metrics.json flags them in ``implausible``; the page and the published notebook must
    not print them: 'not estimable', or '> 366 days' for an interval end.
    """
    times = [f"2018-01-08 {20 + (i * 5) // 60:02d}:{(i * 5) % 60:02d}" for i in range(100)]
    folder = incident(
        tmp_path / "data" / "inc", "time,town\n" + "".join(f"{t},Liège\n" for t in times), extra='dedupe = "none"\n'
    )
    out = tmp_path / "reports"
    proc = cli("render", str(folder), "--out", str(out), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "inc" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["implausible"], "the fixture must be degenerate"
    notebook = json.loads((out / "inc" / "postmortem.ipynb").read_text(encoding="utf-8"))
    outputs = [
        "".join(data[kind]) if isinstance(data[kind], list) else data[kind]
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        for data in [output.get("data", {}) | {"text/plain": output.get("text", "")}]
        for kind in ("text/html", "text/plain")
        if kind in data
    ]
    for name, page in [("html", (out / "inc" / "postmortem.html").read_text(encoding="utf-8")), ("ipynb", "\n".join(outputs))]:
        words = _page_text(page)
        assert "not estimable" in words, name
        for m in re.finditer(rf"(?<![>\d,])({_DURATION}) \[({_DURATION})–({_DURATION}|> {_DURATION}|beyond[^\]]*)\]", words):
            value, low, high = m.group(1), m.group(2), m.group(3)
            assert _minutes(low) <= _minutes(value), (name, m.group(0))
            if high[0].isdigit():
                assert _minutes(value) <= _minutes(high), (name, m.group(0))
        for m in re.finditer(rf"(?<!> ){_DURATION}", words):
            assert _minutes(m.group(0)) <= 366 * 1440, (name, words[max(0, m.start() - 200) : m.end() + 50])


@pytest.mark.slow
def test_personal_data_never_reaches_the_rendered_page_notebook_metrics_or_tables(tmp_path: Path) -> None:
    """The same hostile incident rendered in a batch: page, notebook, metrics.json, tables, index and log.

    Title, event label and source, source name, coverage text, unknown service/status values
    (which the evidence appendix once looked up as translation keys and crashed on) and a
    reject reason carry an e-mail and a phone number.
    """
    rows = f"time,town,service,status,{MAIL}\n"
    for i in range(90):
        service, status = (f"internet {MAIL}", f"down {PHONE}") if i % 3 == 0 else ("internet", "down")
        rows += f"2018-01-08 {20 + i // 60:02d}:{i % 60:02d},Liège,{service},{status},x\n"
    rows += f"{PHONE[:4]} 99 88 20,Namur,tv,down,x\n"  # rejected: its reason quotes the time
    folder = _personal_incident(tmp_path / "data" / "inc", rows)
    out, processed = tmp_path / "reports", tmp_path / "processed"
    # the batch path: its log, index.html and index.json are outputs too
    proc = cli(
        "render-all", str(folder.parent), "--out", str(out), "-p", f"processed_dir={processed}", "-p", "n_boot=20", timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    texts = {"stdout": proc.stdout, "stderr": proc.stderr}
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".json", ".ipynb", ".log", ".txt", ".csv"}:
            texts[str(path.relative_to(out))] = path.read_text(encoding="utf-8")
    assert "render-all.log" in texts and "index.html" in texts and "index.json" in texts
    texts["postmortem.html"] = texts.pop("inc/postmortem.html")
    texts["postmortem.ipynb"] = texts.pop("inc/postmortem.ipynb")
    texts["metrics.json"] = texts.pop("inc/metrics.json")
    tables = list(processed.rglob("*.parquet"))
    assert tables, "the render writes its processed tables"
    for table in tables:
        frame = pl.read_parquet(table)
        values = [str(v) for c, t in frame.schema.items() if t == pl.String for v in frame[c].to_list()]
        texts[table.name] = "\n".join([*frame.columns, *values])
    for path in processed.rglob("*.json"):
        texts[path.name] = path.read_text(encoding="utf-8")
    assert {"postmortem.html", "postmortem.ipynb", "metrics.json"} <= texts.keys()
    assert json.loads(texts["metrics.json"])["title"].startswith("Outage reported by")
    page = _page_text(texts["postmortem.html"])
    assert "[email]" in page and "[phone]" in page  # the values are there, scrubbed
    for name, words in texts.items():
        for secret in (MAIL, "jan.peeters", "example.be", PHONE, "0470 99 88 20", "0470 12"):
            assert secret not in words, (name, secret)
