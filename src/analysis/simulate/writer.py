"""Writing a simulated incident as an incident folder (incident.toml, source file, truth.json)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from analysis.simulate.incident import SimulatedIncident, simulate_incident
from analysis.simulate.scenarios import Noise, Scenario, get_scenario

# --------------------------------------------------------------------------- writing


def write_incident(sim: SimulatedIncident, out_dir: str | Path) -> Path:
    """Write a generated incident: ``incident.toml``, the source CSV, ``truth.json`` (+ per-report truth).

    Returns the folder. Existing files of the same names are replaced.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "incident.toml").write_text(sim.incident_toml, encoding="utf-8")
    sim.rows.write_csv(out / sim.source_name, float_precision=5)
    (out / "truth.json").write_text(json.dumps(sim.truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    truth_path = out / "truth_reports.parquet"
    if sim.report_truth.height:
        sim.report_truth.write_parquet(truth_path, statistics=False)
    elif truth_path.exists():
        truth_path.unlink()
    return out


def write_scenario(
    name: str | Scenario,
    out_dir: str | Path,
    *,
    n_reports: int | None = None,
    seed: int = 0,
    noise: Noise | None = None,
    exposure: pl.DataFrame | None = None,
    report_truth: bool = True,
) -> Path:
    """Generate scenario ``name`` and write it as an incident folder; returns the folder.

    The incident ``id`` is the folder's name (``data/raw/<id>/``), so two simulations in two
    folders never share processed data or reports. See :func:`simulate_incident` for the
    options.
    """
    out = Path(out_dir)
    iid = out.resolve().name
    if not iid or iid.startswith(".") or any(c in iid for c in "/\\"):
        iid = f"simulated-{get_scenario(name).name}"
    sim = simulate_incident(
        name, n_reports=n_reports, seed=seed, incident_id=iid, noise=noise, exposure=exposure, report_truth=report_truth
    )
    return write_incident(sim, out)
