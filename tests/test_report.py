"""Rendering one incident: parameters checked against the notebook, complete outputs, atomic failures.

The report notebook needs modules that live on other branches, so rendering is tested
with ``tests/data/notebooks/fixture_report.ipynb`` (same parameters cell, writes
``metrics.json``, misbehaves on request); see ``tests/data/notebooks/make_fixtures.py``.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from analysis.config import PROJECT_ROOT
from analysis.errors import ParameterError, RenderError
from analysis.params import TYPES, ReportParams, parse_cli_params
from analysis.report import OUTPUTS, check_parameters, incident_lock, notebook_parameters, recover_interrupted_swap, render

from .render_fixtures import CSV, write_incident

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "data" / "notebooks" / "fixture_report.ipynb"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    """One successful render with the fixture notebook: (incident folder, reports root, result)."""
    root = tmp_path_factory.mktemp("report")
    folder = write_incident(root / "data", "good-incident", title="Storm <b>&</b> co")
    out = root / "reports"
    result = render(folder, out_root=out, notebook=FIXTURE, run_id="test-run-1", overrides={"level": 0.8})
    return folder, out, result


# --------------------------------------------------------------------------- parameters cell


@pytest.mark.parametrize("notebook", [PROJECT_ROOT / "notebooks" / "postmortem.ipynb", FIXTURE], ids=["report", "fixture"])
def test_inspect_notebook_agrees_with_report_params(notebook: Path) -> None:
    declared = pm.inspect_notebook(str(notebook))
    fields = {f.name: f for f in dataclasses.fields(ReportParams)}
    assert list(declared) == list(fields)
    for name, spec in declared.items():
        assert spec["inferred_type_name"] == TYPES[name].__name__, name
        assert ast.literal_eval(spec["default"]) == fields[name].default, name
        assert spec["help"], f"{name} has no help comment"


def test_check_parameters_accepts_the_report_types() -> None:
    good = {"level": 0.8, "n_boot": 50, "language": "fr", "bin_minutes": 5}
    assert check_parameters(good, FIXTURE) is None
    for name in good:  # the same names with a value of no declared type are refused, one by one
        with pytest.raises(ParameterError, match=f"'{name}'"):
            check_parameters({**good, name: [1, 2]}, FIXTURE)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"colour": "red"}, ["unknown parameter 'colour'", "fixture_report.ipynb"]),
        ({"level": "high"}, ["'level'", "float", "str 'high'"]),
        ({"n_boot": 2.5}, ["'n_boot'", "int"]),
        ({"n_boot": True}, ["'n_boot'", "bool"]),
        ({"language": 3}, ["'language'", "str"]),
    ],
)
def test_check_parameters_refuses_unknown_and_ill_typed(values: dict, words: list[str]) -> None:
    with pytest.raises(ParameterError) as err:
        check_parameters(values, FIXTURE)
    for w in words:
        assert w in str(err.value)


def test_notebook_must_declare_the_fixed_parameters(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell('incident_dir = "x"\nlevel = 0.9', metadata={"tags": ["parameters"]})],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    path = tmp_path / "partial.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ParameterError, match="does not declare 'output_dir'"):
        check_parameters({}, path)
    # an unannotated parameter is typed by its default value
    assert notebook_parameters(path)["level"]["inferred_type_name"] == "None"
    nb.cells[0].source += '\noutput_dir = ""\nrun_id = ""'
    nbformat.write(nb, path)
    with pytest.raises(ParameterError, match="'level'"):
        check_parameters({"level": "x"}, path)


def test_notebook_without_parameters_cell_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), path)
    with pytest.raises(ParameterError, match="no cell tagged 'parameters'"):
        check_parameters({}, path)


def test_yaml_parameters_are_checked_against_the_notebook(tmp_path: Path) -> None:
    good_yaml = tmp_path / "ok.yaml"
    good_yaml.write_text("level: 0.95\nlanguage: nl\n", encoding="utf-8")
    values = parse_cli_params(["n_boot=40"], yaml_file=good_yaml)
    assert values == {"level": 0.95, "language": "nl", "n_boot": 40}
    check_parameters(values, FIXTURE)
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("level: high\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="'level'"):
        check_parameters(parse_cli_params([], yaml_file=bad_yaml), FIXTURE)


def test_cli_bad_parameter_is_one_line_before_any_kernel(tmp_path: Path) -> None:
    folder = write_incident(tmp_path, "cli-incident")
    out = tmp_path / "reports"
    for bad, words in (("level=high", "parameter 'level'"), ("colour=red", "unknown parameter 'colour'")):
        proc = subprocess.run(
            [sys.executable, "-m", "analysis", "render", str(folder), "--out", str(out), "--notebook", str(FIXTURE), "-p", bad],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith("postmortem: error:")
        assert words in lines[0]
        assert not out.exists()  # nothing written, no kernel started


# --------------------------------------------------------------------------- a good render


def test_render_writes_every_output_with_provenance(good: tuple) -> None:
    folder, out, result = good
    final = out / "good-incident"
    assert result.status == "ok"
    assert result.out_dir == final
    for name in OUTPUTS:
        assert (final / name).is_file(), name
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["good-incident"]
    assert not list(out.glob(".*.tmp"))
    metrics = json.loads((final / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["n_reports"] == 3
    assert metrics["recovery"]["t50_minutes"] == 30
    assert metrics == result.metrics
    manifest = json.loads((final / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "ok"
    assert manifest["run_id"] == "test-run-1"
    assert manifest["started"] <= manifest["finished"]
    assert manifest["parameters"]["level"] == 0.8
    hashes = {i["path"]: i["sha256"] for i in manifest["inputs"]}
    assert hashes["reports.csv"] == hashlib.sha256((folder / "reports.csv").read_bytes()).hexdigest()
    assert hashes["incident.toml"] == hashlib.sha256((folder / "incident.toml").read_bytes()).hexdigest()
    assert manifest["code_version"]["label"]
    assert manifest["packages"]["papermill"] == pm.__version__
    assert manifest["machine"]["cpus"] == os.cpu_count()
    assert manifest["notebook"]["sha256"] == hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
    assert len(manifest["fingerprint"]) == 64
    assert set(manifest["outputs"]) == {"postmortem.html", "metrics.json", "postmortem.ipynb"}
    # the executed notebook ran with the injected run id and level
    nb = nbformat.read(final / "postmortem.ipynb", as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'run_id = "test-run-1"' in injected.source
    assert "level = 0.8" in injected.source


def test_report_page_shows_the_run_and_is_escaped(good: tuple) -> None:
    _, out, _ = good
    page = (out / "good-incident" / "postmortem.html").read_text(encoding="utf-8")
    assert "test-run-1" in page
    assert 'href="manifest.json"' in page
    assert "Storm &lt;b&gt;&amp;&lt;/b&gt; co" in page
    assert "<b>&</b>" not in page
    assert 'src="http' not in page
    assert "src='http" not in page


# --------------------------------------------------------------------------- failures


def _copy_good(good: tuple, tmp_path: Path) -> tuple[Path, Path]:
    folder, out, _ = good
    data = tmp_path / "data"
    shutil.copytree(folder, data / folder.name)
    reports = tmp_path / "reports"
    shutil.copytree(out / "good-incident", reports / "good-incident")
    return data / folder.name, reports


def test_failed_cell_keeps_previous_report_and_writes_failed(good: tuple, tmp_path: Path) -> None:
    folder, reports = _copy_good(good, tmp_path)
    final = reports / "good-incident"
    before = snapshot(final)
    (folder / "reports.csv").write_text("time,town,minutes\n2018-01-08 20:05,Evere,soon\n", encoding="utf-8")
    with pytest.raises(RenderError) as err:
        render(folder, out_root=reports, notebook=FIXTURE, run_id="test-run-2")
    message = str(err.value)
    assert message.startswith("good-incident: notebook cell")
    assert "ValueError" in message
    assert "'soon'" in message
    after = snapshot(final)
    assert {k: v for k, v in after.items() if not k.startswith("failed/")} == before
    failed = final / "failed"
    assert sorted(p.name for p in failed.iterdir()) == ["error.txt", "manifest.json", "postmortem.ipynb"]
    details = (failed / "error.txt").read_text(encoding="utf-8")
    assert "could not convert string to float: 'soon'" in details
    assert "minutes = sorted(float(r[" in details  # the kernel's traceback, with the failing line
    assert "\x1b[" not in details
    record = json.loads((failed / "manifest.json").read_text(encoding="utf-8"))
    assert record["status"] == "failed"
    assert record["run_id"] == "test-run-2"
    assert record["error"] == message
    partial = nbformat.read(failed / "postmortem.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in partial.cells if c.cell_type == "code" for o in c.outputs)
    assert not list(reports.glob(".*.tmp"))


def test_a_later_success_clears_failed(good: tuple, tmp_path: Path) -> None:
    folder, reports = _copy_good(good, tmp_path)
    final = reports / "good-incident"
    (final / "failed").mkdir()
    (final / "failed" / "error.txt").write_text("old failure", encoding="utf-8")
    (folder / "reports.csv").write_text(CSV + "2018-01-08 21:00,Namur,70\n", encoding="utf-8")
    stale = reports / ".good-incident.killed-run.tmp"  # left by a render that was killed
    stale.mkdir()
    result = render(folder, out_root=reports, notebook=FIXTURE, run_id="test-run-3")
    assert not stale.exists()
    assert result.metrics["n_reports"] == 4
    assert not (final / "failed").exists()
    assert json.loads((final / "manifest.json").read_text(encoding="utf-8"))["run_id"] == "test-run-3"


def test_dying_kernel_is_a_render_error(tmp_path: Path) -> None:
    folder = write_incident(tmp_path / "data", "dies", action="exit")
    with pytest.raises(RenderError, match="kernel died"):
        render(folder, out_root=tmp_path / "reports", notebook=FIXTURE, run_id="test-run-4")
    final = tmp_path / "reports" / "dies"
    assert sorted(p.name for p in final.iterdir()) == ["failed"]
    assert "kernel died" in (final / "failed" / "error.txt").read_text(encoding="utf-8")


def test_time_limit_stops_the_render(tmp_path: Path) -> None:
    folder = write_incident(tmp_path / "data", "sleepy", action="sleep 120")
    t0 = time.monotonic()
    with pytest.raises(RenderError, match="time limit of 3 s"):
        render(folder, out_root=tmp_path / "reports", notebook=FIXTURE, timeout=3, run_id="test-run-5")
    assert time.monotonic() - t0 < 30
    failed = tmp_path / "reports" / "sleepy" / "failed"
    assert (failed / "postmortem.ipynb").is_file()
    assert json.loads((failed / "manifest.json").read_text(encoding="utf-8"))["error"] == "sleepy: time limit of 3 s reached"


def test_a_time_limit_inside_papermills_waiting_is_still_the_time_limit(tmp_path: Path) -> None:
    """The alarm can fire while papermill waits for a kernel that is still starting, and papermill
    then reports a dead kernel: the reason given must be the limit, not the kernel."""
    from analysis.report_folders import RunStopped
    from analysis.report_kernel import execute_notebook, time_limit

    class DeadKernelError(Exception):
        pass

    def waits_then_dies(*args: object, **kwargs: object) -> None:
        with contextlib.suppress(RunStopped):  # what nbclient's clean-up does with it
            time.sleep(5)
        raise DeadKernelError("Kernel died before replying to kernel_info")

    def dies(*args: object, **kwargs: object) -> None:
        raise DeadKernelError("gone")

    papermill = types.SimpleNamespace(PapermillExecutionError=pm.PapermillExecutionError, execute_notebook=waits_then_dies)
    with pytest.raises(RunStopped, match=r"time limit of 0\.2 s reached"), time_limit(0.2):
        execute_notebook(papermill, FIXTURE, tmp_path / "out.ipynb", {}, "slow", timeout=0.2, progress=False)
    # outside a limit that fired, a dead kernel is a dead kernel
    papermill.execute_notebook = dies
    with pytest.raises(RenderError, match="kernel died"), time_limit(60):
        execute_notebook(papermill, FIXTURE, tmp_path / "out.ipynb", {}, "slow", timeout=60, progress=False)


def test_run_id_must_be_safe_for_a_folder_name(tmp_path: Path) -> None:
    folder = write_incident(tmp_path / "data", "unsafe")
    with pytest.raises(ParameterError, match="run id"):
        render(folder, out_root=tmp_path / "reports", notebook=FIXTURE, run_id="../escape")
    assert not (tmp_path / "reports").exists()


def test_a_second_render_of_the_same_incident_is_refused(tmp_path: Path) -> None:
    folder = write_incident(tmp_path / "data", "busy")
    out = tmp_path / "reports"
    with incident_lock(out, "busy"), pytest.raises(RenderError, match="another render of this incident is running"):
        render(folder, out_root=out, notebook=FIXTURE)
    assert sorted(p.name for p in out.iterdir()) == [".busy.lock"]


def test_an_interrupted_swap_puts_the_previous_report_back(tmp_path: Path) -> None:
    final = tmp_path / "x"
    old = tmp_path / ".x.old"
    old.mkdir()
    (old / "postmortem.html").write_text("previous", encoding="utf-8")
    recover_interrupted_swap(final)
    assert (final / "postmortem.html").read_text(encoding="utf-8") == "previous"
    assert not old.exists()
    old.mkdir()  # both present: the swap had finished, the old copy is garbage
    recover_interrupted_swap(final)
    assert not old.exists()
    assert (final / "postmortem.html").is_file()


def test_kernel_talks_over_private_unix_sockets(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """No TCP port and no plain-text warning in a scheduler's log; the socket folder is removed."""
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("postmortem-kernel-*"))
    folder = write_incident(tmp_path / "data", "quiet-incident")
    render(folder, out_root=tmp_path / "reports", notebook=FIXTURE, run_id="quiet-1")
    err = capfd.readouterr().err
    assert "without encryption" not in err and "TCP" not in err
    assert set(Path(tempfile.gettempdir()).glob("postmortem-kernel-*")) - before == set()  # none left behind
