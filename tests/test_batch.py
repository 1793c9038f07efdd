"""render-all: isolation, exit codes, idempotence, the index, the log.

Renders use ``tests/data/notebooks/fixture_report.ipynb`` (see ``make_fixtures.py``): a
``minutes`` value that is not a number makes a cell raise; ``action.txt`` makes the
kernel sleep or kill itself.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import psutil
import pytest

from analysis import batch
from analysis.batch import render_all, worker_command
from analysis.batch_index import BatchSummary, declared_gap, summary_table, write_index
from analysis.batch_plan import decide, explain_change
from analysis.errors import ConfigError, ParameterError, RenderError
from analysis.params import parse_cli_params
from analysis.report import OUTPUTS, RenderResult

from .render_fixtures import BROKEN_CSV, CSV, write_incident

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "data" / "notebooks" / "fixture_report.ipynb"


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "analysis", *args], capture_output=True, text=True, timeout=timeout, check=False)


class _Table(HTMLParser):
    """The index table as rows of cell texts, and every link and resource reference."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.refs: list[str] = []
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [v for k, v in attrs if k in ("href", "src") and v]
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td":
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def index_rows(out: Path) -> tuple[dict[str, list[str]], list[str]]:
    parser = _Table()
    parser.feed((out / "index.html").read_text(encoding="utf-8"))
    return {row[0].split()[0]: row for row in parser.rows}, parser.refs


def run_ids(out: Path, *ids: str) -> dict[str, str]:
    return {i: json.loads((out / i / "manifest.json").read_text(encoding="utf-8"))["run_id"] for i in ids}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """Three incidents, one broken, rendered by the command line with two jobs."""
    root = tmp_path_factory.mktemp("batch")
    data = root / "data"
    write_incident(data, "alpha", title="Alpha <outage> & co")
    write_incident(data, "beta", csv=CSV + "2018-01-08 21:00,Namur,70\n")
    write_incident(data, "broken", csv=BROKEN_CSV)
    out = root / "reports"
    proc = cli("render-all", str(data), "--out", str(out), "--notebook", str(FIXTURE), "--jobs", "2")
    return data, out, proc


# --------------------------------------------------------------------------- done-when


def test_one_broken_incident_fails_alone(first_run: tuple) -> None:
    _, out, proc = first_run
    assert proc.returncode == 1, proc.stderr
    for ok in ("alpha", "beta"):
        assert sorted(p.name for p in (out / ok).iterdir()) == sorted(OUTPUTS)
    # the broken one: its failure and reason, no report, nothing half-written anywhere
    broken = out / "broken"
    assert sorted(p.name for p in broken.iterdir()) == ["failed"]
    error = json.loads((broken / "failed" / "manifest.json").read_text(encoding="utf-8"))["error"]
    assert "ValueError" in error
    assert "'soon'" in error
    assert (broken / "failed" / "postmortem.ipynb").is_file()
    assert not list(out.glob(".*.tmp"))
    assert not [p for p in out.glob(".render-all.*") if p.is_dir()]
    # metrics come from each incident's own data
    assert json.loads((out / "beta" / "metrics.json").read_text(encoding="utf-8"))["n_reports"] == 4
    # terminal: progress per incident and the summary table
    assert re.search(r"^broken\s+failed\s+[\d.]+ s\s+.*ValueError", proc.stderr, re.M), proc.stderr
    assert re.search(r"^alpha\s+ok\s+[\d.]+ s\s+3\s+30 min", proc.stderr, re.M), proc.stderr
    assert "3 incident(s): 2 ok, 0 skipped, 1 failed" in proc.stderr


def test_index_lists_every_incident_offline_and_escaped(first_run: tuple) -> None:
    _, out, _ = first_run
    rows, refs = index_rows(out)
    assert set(rows) == {"alpha", "beta", "broken"}
    assert rows["alpha"][1] == "ok"
    assert rows["beta"][1] == "ok"
    assert rows["broken"][1] == "failed"
    assert rows["beta"][3] == "4"  # reports
    assert rows["beta"][4] == "40 min"  # t50: median of 10, 30, 50, 70
    assert rows["alpha"][6] == "25 % [10–40]"  # still affected when declared resolved
    assert "ValueError" in rows["broken"][9]
    assert rows["broken"][2] == "—"  # never rendered successfully
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Alpha &lt;outage&gt; &amp; co" in page
    assert "<outage>" not in page
    assert "<script" not in page
    assert all(not re.match(r"[a-z]+://", ref) for ref in refs), refs  # only relative links
    for ref in refs:
        assert (out / ref).is_file(), ref
    assert "broken/failed/error.txt" in refs
    assert "alpha/postmortem.html" in refs
    doc = json.loads((out / "index.json").read_text(encoding="utf-8"))
    assert doc["counts"] == {"ok": 2, "skipped": 0, "failed": 1}
    assert doc["ok"] is False


def test_second_run_skips_unchanged_then_renders_what_changed(first_run: tuple, tmp_path: Path) -> None:
    data_first, first_out, _ = first_run
    data, out = tmp_path / "data", tmp_path / "reports"
    for name in ("alpha", "beta"):  # at another place: the location is not in the fingerprint
        shutil.copytree(data_first / name, data / name)
        shutil.copytree(first_out / name, out / name)
    before = run_ids(out, "alpha", "beta")
    summary = render_all(data, out_root=out, notebook=FIXTURE, jobs=2, quiet=True)
    assert {r.incident_id: r.status for r in summary.results} == {"alpha": "skipped", "beta": "skipped"}
    assert run_ids(out, "alpha", "beta") == before
    log = (out / "render-all.log").read_text(encoding="utf-8")
    assert re.search(r"alpha: skipped: unchanged since run " + re.escape(before["alpha"]), log)
    rows, _ = index_rows(out)
    assert rows["alpha"][1] == "skipped"
    assert rows["alpha"][3] == "3"  # the last good report's numbers stay listed
    # now one input changes: that incident renders, the other is still skipped
    (data / "alpha" / "reports.csv").write_text(CSV + "2018-01-08 22:00,Mons,90\n", encoding="utf-8")
    summary = render_all(data, out_root=out, notebook=FIXTURE, jobs=2, quiet=True)
    assert summary.ok
    result = {r.incident_id: r for r in summary.results}
    assert {k: r.status for k, r in result.items()} == {"alpha": "ok", "beta": "skipped"}
    assert result["alpha"].reason == "changed input reports.csv"
    assert result["alpha"].metrics["n_reports"] == 4
    assert run_ids(out, "alpha", "beta") == {"alpha": summary.run_id, "beta": before["beta"]}
    assert "alpha: will render: changed input reports.csv" in (out / "render-all.log").read_text(encoding="utf-8")


def test_force_rerenders_an_unchanged_incident(first_run: tuple, tmp_path: Path) -> None:
    data_first, first_out, _ = first_run
    data, out = tmp_path / "data", tmp_path / "reports"
    shutil.copytree(data_first / "alpha", data / "alpha")
    shutil.copytree(first_out / "alpha", out / "alpha")
    before = run_ids(out, "alpha")["alpha"]
    summary = render_all(data, out_root=out, notebook=FIXTURE, force=True, quiet=True)
    assert summary.results[0].status == "ok"
    assert run_ids(out, "alpha")["alpha"] == summary.run_id != before
    assert "alpha: will render: forced (--force)" in (out / "render-all.log").read_text(encoding="utf-8")


@pytest.mark.slow
def test_timeout_kills_only_its_incident(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    write_incident(data, "quick")
    write_incident(data, "stuck", action="sleep 300")
    write_incident(data, "dies", action="exit")
    out = tmp_path / "reports"
    t0 = time.monotonic()
    # generous enough that a quick render finishes on a loaded 2-core machine (kernel start can take 10 s there)
    summary = render_all(data, out_root=out, notebook=FIXTURE, jobs=3, timeout=30, quiet=True)
    elapsed = time.monotonic() - t0
    result = {r.incident_id: r for r in summary.results}
    assert result["quick"].status == "ok"
    assert result["stuck"].status == "failed"
    assert result["stuck"].error == "stuck: time limit of 30 s reached"
    assert result["dies"].status == "failed"
    assert "kernel died" in (result["dies"].error or "")
    assert elapsed < 30 + batch.KILL_GRACE
    assert (out / "stuck" / "failed" / "postmortem.ipynb").is_file()
    # quiet: nothing on stdout; stderr says only what failed and where the log is
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 3
    assert lines[-1].endswith("render-all.log")
    assert "stuck: time limit" in captured.err
    assert "quick" not in captured.err


def test_a_render_process_that_hangs_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last line of defence: a render that ignores its own time limit loses its process group."""
    data = tmp_path / "data"
    write_incident(data, "hangs")
    write_incident(data, "fine")
    out = tmp_path / "reports"

    def command(folder: Path, **kw: object) -> list[str]:
        if folder.name == "hangs":  # a render process stuck outside Python's reach
            return [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"]
        return [sys.executable, "-c", "import sys; sys.exit(3)"]

    monkeypatch.setattr(batch, "worker_command", command)
    monkeypatch.setattr(batch, "KILL_GRACE", 0.5)
    t0 = time.monotonic()
    summary = render_all(data, out_root=out, notebook=FIXTURE, jobs=2, timeout=1, quiet=True)
    assert time.monotonic() - t0 < 20
    result = {r.incident_id: r for r in summary.results}
    assert result["hangs"].error == "hangs: time limit of 1 s exceeded; the render process was killed"
    assert result["fine"].error == "fine: render process exited with code 3"
    assert (out / "hangs" / "failed" / "error.txt").is_file()


# --------------------------------------------------------------------------- before any kernel


def test_bad_parameter_stops_render_all_before_any_kernel(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_incident(data, "alpha")
    out = tmp_path / "reports"
    proc = cli("render-all", str(data), "--out", str(out), "--notebook", str(FIXTURE), "-p", "n_boot=many", timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["postmortem: error: parameter 'n_boot': expected an integer, got 'many'"]
    assert not out.exists()
    with pytest.raises(ParameterError, match="'level'"):
        render_all(data, out_root=out, notebook=FIXTURE, overrides={"level": "high"})
    with pytest.raises(ParameterError, match="'level'"):
        render_all(data, out_root=out, notebook=FIXTURE, overrides={"level": 1.5})
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no incident folder"):
        render_all(empty, out_root=out)
    assert not out.exists()


def test_a_broken_config_fails_its_incident_without_a_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    write_incident(data, "good")
    bad = write_incident(data, "bad-config")
    (bad / "incident.toml").write_text('id = "bad-config"\ntitle = "x"\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    started: list[str] = []
    monkeypatch.setattr(batch, "worker_command", lambda folder, **kw: started.append(folder.name) or [sys.executable, "-c", ""])
    summary = render_all(data, out_root=tmp_path / "reports", notebook=FIXTURE, quiet=True)
    result = {r.incident_id: r for r in summary.results}
    assert started == ["good"]
    assert result["bad-config"].status == "failed"
    assert "Mars/Olympus" in (result["bad-config"].error or "")
    assert (tmp_path / "reports" / "bad-config" / "failed" / "error.txt").is_file()


# --------------------------------------------------------------------------- pieces


def test_worker_command_round_trips_parameters() -> None:
    overrides = {"level": 1e-05, "n_boot": 40, "language": "fr", "families": "weibull, gamma"}
    cmd = worker_command(
        Path("/d/x"), out_root=Path("/r"), notebook=FIXTURE, overrides=overrides, timeout=9, progress=False, run_id="r1"
    )
    pairs = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-p"]
    assert parse_cli_params(pairs) == overrides
    assert cmd[cmd.index("--timeout") + 1] == "9.0"
    assert cmd[cmd.index("--run-id") + 1] == "r1"


def test_explain_change_names_what_changed() -> None:
    previous = {
        "inputs": [
            {"path": "incident.toml", "sha256": "a"},
            {"path": "r.csv", "sha256": "b"},
            {"path": "old.csv", "sha256": "c"},
        ],
        "parameters": {"level": 0.9, "run_id": "x", "incident_dir": "/old/place"},
        "code_version": {"commit": "c1", "dirty": False, "package": "0.1.0", "label": "c1"},
        "notebook": {"sha256": "n1"},
    }
    current = {
        "inputs": [
            {"path": "incident.toml", "sha256": "a"},
            {"path": "r.csv", "sha256": "B"},
            {"path": "new.csv", "sha256": "d"},
        ],
        "parameters": {"level": 0.95, "run_id": "y", "incident_dir": "/new/place"},
        "code_version": {"commit": "c2", "dirty": False, "package": "0.1.0", "label": "c2"},
        "notebook": {"sha256": "n1"},
    }
    text = explain_change(previous, current)
    assert text == (
        "changed input r.csv; new input new.csv; input no longer used old.csv; parameter level: 0.9 → 0.95; code version c1 → c2"
    )
    assert explain_change(previous, previous) == "fingerprint differs"
    dirty = {"commit": "c1", "dirty": True, "package": "0.1.0", "label": "c1+changes"}
    edited = previous | {"code_version": dirty, "source_sha256": "s1"}
    assert explain_change(edited, edited | {"source_sha256": "s2"}) == "uncommitted changes to the code (c1+changes)"


def test_decide_renders_unless_a_complete_report_has_the_same_fingerprint(tmp_path: Path) -> None:
    final = tmp_path / "x"
    assert decide(final, "f1", force=False) == (True, "no previous report")
    final.mkdir()
    (final / "manifest.json").write_text(json.dumps({"status": "ok", "fingerprint": "f1", "run_id": "r0"}), encoding="utf-8")
    render, reason = decide(final, "f1", force=False)
    assert render
    assert reason.startswith("previous report incomplete (missing postmortem.html")
    for name in OUTPUTS[:-1]:
        (final / name).write_text("x", encoding="utf-8")
    render, reason = decide(final, "f1", force=False)
    assert not render
    assert reason.startswith("unchanged since run r0")
    assert decide(final, "f1", force=True) == (True, "forced (--force)")
    assert decide(final, "f2", force=False) == (True, "fingerprint differs")
    (final / "manifest.json").write_text("{not json", encoding="utf-8")
    assert decide(final, "f1", force=False) == (True, "previous manifest.json unreadable")


def test_index_escapes_everything_and_keeps_the_last_good_report(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    final = out / "x-1"
    final.mkdir(parents=True)
    for name in OUTPUTS:
        (final / name).write_text("{}", encoding="utf-8")
    (final / "manifest.json").write_text(
        json.dumps({"status": "ok", "run_id": "r<0>", "finished": "2024-05-01T10:00:00+00:00"}), encoding="utf-8"
    )
    (final / "metrics.json").write_text(
        json.dumps({"n_reports": 12, "recovery": {"t50_minutes": 61.4, "t50_minutes_ci": [50, 80.2], "t90_minutes": None}}),
        encoding="utf-8",
    )
    summary = BatchSummary(run_id="run&1")
    summary.results.append(
        RenderResult("x-1", "failed", final, error="x-1: cell raised <script>alert(1)</script>", title="T & <i>t</i>")
    )
    write_index(summary, out)
    rows, refs = index_rows(out)
    row = rows["x-1"]
    assert row[1] == "failed"
    assert row[2] == "2024-05-01 10:00 r<0>"
    assert row[3:6] == ["12", "61 min [50 min–80 min]", ""]  # durations as people read them
    # the bracket is named for what it is
    assert "interval in brackets (a 90 % range" in (out / "index.html").read_text(encoding="utf-8")
    assert "x-1: cell raised <script>alert(1)</script>" in row[9]
    assert "last good one" in row[9]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "run&amp;1" in page
    assert "x-1/postmortem.html" in refs
    table = summary_table(summary)
    assert table.splitlines()[1].split()[:2] == ["x-1", "failed"]


def test_sigterm_stops_the_batch_and_still_writes_the_index(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_incident(data, "long", action="sleep 300")
    out = tmp_path / "reports"
    cmd = [sys.executable, "-m", "analysis", "render-all", str(data), "--out", str(out), "--notebook", str(FIXTURE), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    # the render is under way: its folder exists and its worker process has started
    while not (list(out.glob(".long.*.tmp")) and parent.children(recursive=True)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert parent.children(recursive=True), "the render worker never started"
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "postmortem: error: interrupted" in err.splitlines(), err
    rows, _ = index_rows(out)
    assert rows["long"][1] == "failed"
    assert "long: stopped by SIGTERM" in rows["long"][9]
    assert not list(out.glob(".*.tmp"))


def test_only_one_render_all_per_reports_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_incident(data, "alpha")
    out = tmp_path / "reports"
    out.mkdir()
    with batch._batch_lock(out), pytest.raises(RenderError, match="another render-all is already writing here"):
        render_all(data, out_root=out, notebook=FIXTURE)
    assert not (out / "index.html").exists()


def test_one_job_on_a_terminal_shows_the_render_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    write_incident(data, "shown")
    asked: list[object] = []
    script = "import sys, time; [print(f'\\rExecuting {i}/3', end='', file=sys.stderr, flush=True) or time.sleep(0.3) for i in range(4)]; sys.exit(3)"

    def command(folder: Path, **kw: object) -> list[str]:
        asked.append(kw["progress"])
        return [sys.executable, "-c", script]

    monkeypatch.setattr(batch, "worker_command", command)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a person watching
    summary = render_all(data, out_root=tmp_path / "reports", notebook=FIXTURE, jobs=1)
    err = capsys.readouterr().err
    assert asked == [True]
    assert "\rExecuting 3/3" in err
    assert "[1/1] shown: rendering" in err
    assert re.search(r"^shown\s+failed\s+[\d.]+ s\s+shown: render process exited with code 3: Executing 3/3$", err, re.M), err
    assert summary.ok is False
    # the log keeps the final state of the progress line, without carriage returns
    log = (tmp_path / "reports" / "render-all.log").read_text(encoding="utf-8")
    assert "    | Executing 3/3" in log
    assert "\r" not in log


def test_declared_gap_prefers_the_declared_block_then_the_last_announcement() -> None:
    declared = {"still_affected": 0.123, "still_affected_ci": [0.05, 0.2]}
    announcements = [
        {"time": "2018-01-08T21:00:00+01:00", "label": "teams alerted", "still_affected": 0.9, "still_affected_ci": None},
        {"time": "2018-01-08T22:30:00+01:00", "label": "resolved", "still_affected": 0.31, "still_affected_ci": [0.2, 0.4]},
        {"time": "2018-01-09T10:00:00+01:00", "label": "no fit here", "still_affected": None, "still_affected_ci": None},
    ]
    assert declared_gap({"declared_resolved": declared, "announcements": announcements}) == ("12 % [5–20]", "declared resolved")
    text, source = declared_gap({"announcements": announcements})
    assert text == "31 % [20–40]"
    assert source == "at the last announcement (2018-01-08T22:30:00+01:00): resolved"
    assert declared_gap({"declared_resolved": {"still_affected": None}}) == ("", "")
    assert declared_gap({}) == ("", "")


def test_index_shows_counts_not_model_times_for_curated_statements(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    final = out / "press-1"
    final.mkdir(parents=True)
    for name in OUTPUTS:
        (final / name).write_text("{}", encoding="utf-8")
    (final / "manifest.json").write_text(
        json.dumps({"status": "ok", "run_id": "r1", "finished": "2024-05-01T10:00:00+00:00"}), encoding="utf-8"
    )
    metrics = {
        "n_reports": 64,
        "recovery": {"t50_minutes": 381.0, "t50_minutes_ci": [126, 1436], "t90_minutes": 1264.0},
        "declared_resolved": {"still_affected": 0.76, "still_affected_ci": [0.42, 1.0]},
        "curated_summary": {"statements_after_declaration": 34},
    }
    (final / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    summary = BatchSummary(run_id="run-1")
    summary.results.append(RenderResult("press-1", "ok", final, metrics=metrics))
    write_index(summary, out)
    rows, _ = index_rows(out)
    assert rows["press-1"][4:7] == ["n/a (curated)", "n/a (curated)", "34 statements after"]
    assert "381" not in summary_table(summary) and "n/a (curated)" in summary_table(summary)


def test_one_job_without_a_terminal_asks_for_no_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cron, a log file, a pipe: no progress bars, even with --jobs 1 (tests/test_user_paths.py runs the real one)."""
    data = tmp_path / "data"
    write_incident(data, "plain")
    asked: list[object] = []

    def command(folder: Path, **kw: object) -> list[str]:
        asked.append(kw["progress"])
        return [sys.executable, "-c", "raise SystemExit(3)"]

    monkeypatch.setattr(batch, "worker_command", command)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    render_all(data, out_root=tmp_path / "reports", notebook=FIXTURE, jobs=1)
    assert asked == [False]


def test_parallel_renders_start_no_fit_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With --jobs 2 the renders share the cores: each is told to fit in its own process (POSTMORTEM_FIT_WORKERS=1)."""
    data = tmp_path / "data"
    for name in ("one", "two"):
        write_incident(data, name)
    seen = tmp_path / "seen.txt"
    probe = f"import os; open({str(seen)!r}, 'a').write(os.environ.get('POSTMORTEM_FIT_WORKERS', '-') + chr(10))"

    def command(folder: Path, **kw: object) -> list[str]:
        return [sys.executable, "-c", probe + "; raise SystemExit(3)"]

    monkeypatch.setattr(batch, "worker_command", command)
    monkeypatch.delenv("POSTMORTEM_FIT_WORKERS", raising=False)
    render_all(data, out_root=tmp_path / "reports", notebook=FIXTURE, jobs=2)
    assert seen.read_text().split() == ["1", "1"]
    seen.unlink()
    render_all(data, out_root=tmp_path / "reports1", notebook=FIXTURE, jobs=1)
    assert seen.read_text().split() == ["-", "-"]  # one render at a time: the command decides
