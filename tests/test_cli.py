"""The command line as users and schedulers call it: exit codes, stdout purity, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.config import PROJECT_ROOT
from analysis.metrics import missing_keys
from tests.contract import contract_gaps

SMALL = PROJECT_ROOT / "tests" / "data" / "incidents" / "small-fixture"


def run(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args], capture_output=True, text=True, cwd=cwd, timeout=600, check=False
    )


def test_fit_prints_only_the_metrics_json(tmp_path: Path) -> None:
    proc = run("fit", str(SMALL), "-p", f"processed_dir={tmp_path}", "-p", "n_boot=20", "-p", "families=exponential,weibull")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)  # stdout is exactly one JSON document
    assert missing_keys(metrics) == []
    assert contract_gaps(metrics) == []  # the keys as DESIGN.md states them, not as the code lists them
    assert metrics["incident_id"] == "small-fixture"
    assert metrics["recovery"]["model"] in {"exponential", "weibull", "exponential+delay", "weibull+delay"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fit", "/no/such/folder"), "no such file"),
        (("fit", str(SMALL), "-p", "level=1.5"), "parameter 'level'"),
        (("fit", str(SMALL), "-p", "colour=red"), "unknown parameter 'colour'"),
        (("fit", str(SMALL), "-p", "n_boot=many"), "parameter 'n_boot': expected an integer"),
        (("validate", str(SMALL), "-p", "families=weibull,banana"), "unknown family 'banana'"),
        (("render", str(SMALL), "-p", "language=de"), "parameter 'language'"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    proc = run(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("postmortem: error:")
    assert message in lines[0]
    assert "Traceback" not in proc.stderr


def test_validate_and_ingest(tmp_path: Path) -> None:
    proc = run("validate", str(SMALL))
    assert proc.returncode == 0, proc.stderr
    assert "small-fixture: valid" in proc.stdout
    duplicates = "dedupe = identity: 3 rows identical to an earlier row (3 kept), 0 rejected as duplicates"
    assert duplicates in proc.stdout
    proc = run("ingest", str(SMALL), "--processed", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "small-fixture" / "reports.parquet").is_file()
    assert "rejected" in proc.stdout
    assert duplicates in proc.stdout


def test_geocode_command(tmp_path: Path) -> None:
    proc = run("geocode", "Nieuport", "Luik", "Rijsel", "50.85,4.35")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert "Nieuwpoort" in out[0]
    assert "Liège" in out[1]
    assert "unresolved" in out[2]
    assert "Bruxelles" in out[3]
    src = tmp_path / "in.csv"
    src.write_text("place,postal_code\nJumet,\n,1348\nParis,\n", encoding="utf-8")
    proc = run("geocode", "--csv", str(src), "--out", str(tmp_path / "out.csv"))
    assert proc.returncode == 0, proc.stderr
    rows = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 4
    assert "Charleroi" in rows[1]
    assert "Ottignies" in rows[2]
    assert "unresolved" in rows[3]


def test_help_lists_every_command() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    # the command names are the first word of each line under "Commands:", not words of the description
    listed = proc.stdout.split("Commands:", 1)[1].splitlines()
    names = {line.split()[0] for line in listed if line.startswith("  ") and line.split()}
    # the DESIGN contract's commands, spelled out here rather than read from the app
    assert {"render", "render-all", "fit", "ingest", "validate", "geocode", "simulate"} <= names


def test_validate_refuses_restoration_records_without_an_onset(make_incident) -> None:
    # restoration times are measured from the onset: without one, fit cannot run, so validate says so
    content = "cust,at\n" + "".join(f"c{i},2018-01-08 21:{i:02d}\n" for i in range(5))
    extra = '[sources.columns]\ncustomer_id = "cust"\nobserved_at = "at"\n[sources.defaults]\nrestored = true\n'
    folder = make_incident(content, kind="restorations", source_extra=extra, incident_id="rest-no-onset")
    proc = run("validate", str(folder))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("postmortem: error: rest-no-onset: onset")
    with_onset = make_incident(
        content, kind="restorations", source_extra=extra, incident_id="rest-onset", extra='onset = "2018-01-08T20:00:00"\n'
    )
    assert run("validate", str(with_onset)).returncode == 0
