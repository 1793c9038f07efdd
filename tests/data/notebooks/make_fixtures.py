"""Rebuild the fixture notebooks of the report and batch tests (run from the repository root).

``fixture_report.ipynb`` behaves like the report notebook as far as rendering is
concerned: the same ``parameters`` cell as :class:`analysis.params.ReportParams`, a
``metrics.json`` written into ``output_dir``, an HTML summary, and no heavy imports (a
kernel starts in about a second). What it computes comes from the incident's data, so
incidents differ in the index; how it misbehaves is chosen per incident:

* a ``minutes`` value that is not a number makes a cell raise ``ValueError``;
* an ``action.txt`` beside ``incident.toml`` holding ``sleep <seconds>``, ``exit`` (the
  kernel kills itself with ``os._exit(1)``) or ``raise <message>``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

PARAMETERS = """\
# Parameters (same names, types and defaults as analysis.params.ReportParams)
incident_dir: str = "data/raw/proximus-2018-01-08"  # incident folder holding incident.toml
output_dir: str = "reports/proximus-2018-01-08"  # where metrics.json is written
processed_dir: str = ""  # root of processed tables (empty: data/processed)
level: float = 0.9  # confidence level of every interval (0 < level < 1)
model: str = "auto"  # recovery family to report: auto (lowest AIC) or a family name
families: str = "all"  # candidate families, comma-separated, or all
propensity: str = "auto"  # reporting propensity by clock hour: auto | default | flat
n_boot: int = 200  # parametric-bootstrap replicates behind the intervals (at least 20)
bin_minutes: float = 5.0  # width of the fit's time bins, in minutes
seed: int = 20180108  # random seed (bootstrap, permutation tests)
language: str = "en"  # report language: en | fr | nl
run_id: str = ""  # identifier of this run (set by the CLI)
as_of: str = ""  # analyse only the evidence observed by this time (ISO 8601, local if naive); empty: all"""

LOAD = """\
import csv
import json
import os
import statistics
import time
import tomllib
from pathlib import Path

folder = Path(incident_dir)
config = tomllib.loads((folder / "incident.toml").read_text(encoding="utf-8-sig"))
with (folder / config["sources"][0]["path"]).open(encoding="utf-8", newline="") as fh:
    rows = list(csv.DictReader(fh))
minutes = sorted(float(r["minutes"]) for r in rows)  # a value that is not a number raises here"""

ACT = """\
action_file = folder / "action.txt"
action = action_file.read_text(encoding="utf-8").split(maxsplit=1) if action_file.is_file() else []
if action and action[0] == "sleep":
    time.sleep(float(action[1]))
elif action and action[0] == "exit":
    os._exit(1)
elif action and action[0] == "raise":
    raise RuntimeError(action[1] if len(action) > 1 else "fixture failure")"""

METRICS = """\
q = statistics.quantiles(minutes, n=10, method="inclusive") if len(minutes) > 1 else minutes * 9
metrics = {
    "incident_id": config["id"],
    "n_raw": len(rows),
    "n_reports": len(rows),
    "n_rejected": 0,
    "recovery": {"model": "fixture", "level": level, "t50_minutes": statistics.median(minutes), "t90_minutes": q[8]},
    "declared_resolved": {"time": None, "label": "fixture", "still_affected": 0.25, "still_affected_ci": [0.1, 0.4]},
    "run_id": run_id,
}
Path(output_dir).mkdir(parents=True, exist_ok=True)
(Path(output_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")"""

SHOW = """\
from IPython.display import HTML

HTML(f"<h2 id='summary'>Summary</h2><p>{len(rows)} reports; median {metrics['recovery']['t50_minutes']} min</p>")"""


def fixture_report() -> nbformat.NotebookNode:
    """The fixture notebook described in the module docstring."""
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Fixture report"),
            new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
            new_code_cell(LOAD),
            new_code_cell(ACT),
            new_code_cell(METRICS),
            new_code_cell(SHOW),
        ],
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    return nb


if __name__ == "__main__":
    nbformat.write(fixture_report(), HERE / "fixture_report.ipynb")
