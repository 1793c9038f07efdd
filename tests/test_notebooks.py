"""The notebooks: parameters agree with the library, and both execute under papermill."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import papermill as pm
import pytest

from analysis.config import NOTEBOOKS, PROJECT_ROOT
from analysis.metrics import missing_keys
from analysis.params import ReportParams

SMALL = PROJECT_ROOT / "tests" / "data" / "incidents" / "small-fixture"


def test_parameters_cell_matches_report_params() -> None:
    inferred = pm.inspect_notebook(str(NOTEBOOKS / "postmortem.ipynb"))
    fields = {f.name: f for f in dataclasses.fields(ReportParams)}
    assert set(inferred) == set(fields)
    for name, spec in inferred.items():
        assert spec["inferred_type_name"] == type(fields[name].default).__name__, name
        assert eval(spec["default"]) == fields[name].default, name
        assert spec["help"], f"parameter {name} has no help comment"


def test_explore_parameters_are_report_params() -> None:
    inferred = pm.inspect_notebook(str(NOTEBOOKS / "explore.ipynb"))
    names = {f.name for f in dataclasses.fields(ReportParams)}
    assert set(inferred) <= names


# explore.ipynb runs from notebooks/, as JupyterLab starts it, in tests/test_user_paths.py
@pytest.mark.parametrize("name", ["postmortem.ipynb"])
def test_notebook_executes_on_small_fixture(name: str, tmp_path: Path) -> None:
    params = {"incident_dir": str(SMALL), "processed_dir": str(tmp_path / "processed"), "n_boot": 30}
    if name == "postmortem.ipynb":
        params |= {"output_dir": str(tmp_path), "run_id": "test-run"}
    pm.execute_notebook(
        str(NOTEBOOKS / name),
        str(tmp_path / name),
        parameters=params,
        kernel_name="python3",
        progress_bar=False,
        cwd=str(PROJECT_ROOT),
    )
    assert (tmp_path / "processed" / "small-fixture" / "reports.parquet").is_file()
    if name == "postmortem.ipynb":
        metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
        assert missing_keys(metrics) == []
        assert metrics["incident_id"] == "small-fixture"
        assert metrics["n_raw"] == metrics["n_reports"] + metrics["n_rejected"]
        assert metrics["n_rejected"] >= 1  # the unreadable date
        # three rows repeat an earlier one: other customers of the same town, kept as reports
        source = metrics["sources"][0]
        assert (source["dedupe"], source["n_identical"], source["n_identical_kept"], source["n_duplicates"]) == (
            "identity",
            3,
            3,
            0,
        )
        assert metrics["recovery"]["t50_minutes"] is not None
        assert metrics["run_id"] == "test-run"
