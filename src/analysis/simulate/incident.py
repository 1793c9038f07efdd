"""The generator: one simulated incident (reports or telemetry) and its truth, from a scenario and a seed."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from analysis.errors import ParameterError
from analysis.simulate.places import _places
from analysis.simulate.processes import restoration_times
from analysis.simulate.rows import _report_rows, _telemetry_rows

# --------------------------------------------------------------------------- the generator
from analysis.simulate.scenarios import (
    TIME_FORMAT,
    Noise,
    Scenario,
    _curve_truth,
    _region_theta,
    _sample_truth,
    get_scenario,
    true_survival,
)
from analysis.simulate.world import _affected, _epoch, _iso, _World


@dataclass(frozen=True)
class SimulatedIncident:
    """A generated incident in memory: what :func:`write_incident` puts on disk."""

    scenario: Scenario
    seed: int
    incident_toml: str
    source_name: str
    rows: pl.DataFrame
    truth: dict[str, Any]
    report_truth: pl.DataFrame


def simulate_incident(
    scenario: str | Scenario,
    *,
    n_reports: int | None = None,
    seed: int = 0,
    incident_id: str | None = None,
    noise: Noise | None = None,
    exposure: pl.DataFrame | None = None,
    report_truth: bool = True,
) -> SimulatedIncident:
    """Generate a scenario in memory (pure: nothing is read but the reference geography).

    Parameters
    ----------
    scenario
        A name from :data:`SCENARIOS` or a :class:`Scenario`.
    n_reports
        Genuine reports (``restorations``: devices) to generate; None uses the scenario's
        default. Duplicate and bad rows come on top.
    seed
        Seed of every random choice; the same seed gives the same incident.
    incident_id
        The ``id`` written in ``incident.toml`` (default ``simulated-<scenario>``).
    noise
        Overrides the scenario's defects (``Noise.none()`` for a clean file).
    exposure
        Columns ``nis_code`` and ``exposure`` (customers or population per municipality):
        spreads the affected customers instead of population × attack weight.
    report_truth
        Keep the per-report truth table (skip it for very large benchmark files).
    """
    sc = get_scenario(scenario)
    if noise is not None:
        sc = replace(sc, noise=noise)
    n = sc.n_reports if n_reports is None else n_reports
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1:
        raise ParameterError(f"n_reports: expected a positive integer, got {n!r}")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ParameterError(f"seed: expected a non-negative integer, got {seed!r}")
    n = int(n)
    if sc.kind == "restorations":
        sc = replace(sc, n_affected=n)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(8)]
    tz = ZoneInfo(sc.timezone)
    onset_s, end_s = _epoch(sc.onset, tz), _epoch(sc.end, tz)
    places = _places()
    munis = places.munis
    regions = sorted(set(munis["region"].to_list()))
    unknown = set(sc.region_params) - set(regions)
    if unknown:
        raise ParameterError(f"scenario {sc.name!r}: region_params name unknown regions {sorted(unknown)}")

    # 1. affected customers and their restoration times, per region
    per_muni = _affected(sc, places, exposure, streams[0])
    muni_region = munis["region"].to_numpy()
    models = {r: _region_theta(sc, r) for r in regions}
    n_aff = {r: int(per_muni[muni_region == r].sum()) for r in regions}
    restore = {r: restoration_times(n_aff[r], family=models[r][0], params=models[r][1], rng=streams[0]) for r in regions}
    world = _World(sc, int(seed), places, per_muni, models, n_aff, restore, streams, onset_s, end_s)

    if sc.kind == "down_reports":
        rows, rtruth, counts = _report_rows(world, n)
    else:
        rows, rtruth, counts = _telemetry_rows(world)
    truth = _truth_doc(world, n, counts, rtruth)
    iid = incident_id or f"simulated-{sc.name}"
    return SimulatedIncident(
        scenario=sc,
        seed=int(seed),
        incident_toml=_toml(sc, iid, int(seed), n_affected=sum(n_aff.values())),
        source_name="reports.csv" if sc.kind == "down_reports" else "telemetry.csv",
        rows=rows,
        truth=truth,
        report_truth=rtruth if report_truth else rtruth.clear(),
    )


def _truth_doc(world: _World, n: int, counts: dict[str, Any], rtruth: pl.DataFrame) -> dict[str, Any]:
    """The ``truth.json`` document: what the analysis of this incident should find."""
    sc, models, n_aff, restore, components = world.sc, world.models, world.n_aff, world.restore, world.components
    seed, onset_s, end_s, horizon = world.seed, world.onset_s, world.end_s, world.horizon
    from analysis.recovery.propensity import check_propensity

    tz = ZoneInfo(sc.timezone)
    curve = _curve_truth(components)
    for q in ("t50", "t90", "t99"):
        curve[q] = _iso(onset_s + curve[f"{q}_minutes"] * 60.0, tz)
    grid = np.array([0, 30, 60, 75, 90, 105, 120, 150, 180, 240, 360, 720, 1440, horizon])
    announcements = []
    for when, label, kind, resolved in sc.events:
        m = (_epoch(when, tz) - onset_s) / 60.0
        if kind == "announcement":
            s = float(true_survival(np.array([m]), components)[0])
            announcements.append({"time": _iso(_epoch(when, tz), tz), "label": label, "resolved": resolved, "still_affected": s})
    all_t = np.concatenate([restore[r] for r in sorted(restore)])
    regions = {}
    for r in sorted(n_aff):
        fam, th, params = models[r]
        reg = {"n_affected": n_aff[r], "family": fam.label, "params": params}
        if n_aff[r]:
            reg |= _curve_truth([(fam, th, 1.0)])
        reg["sample"] = _sample_truth(restore[r])
        if "reports_by_region" in counts:
            reg["n_reports"] = counts["reports_by_region"].get(r, 0)
        elif rtruth.height:
            reg["n_reports"] = int((rtruth["region"] == r).sum())
        regions[r] = reg
    return {
        "scenario": sc.name,
        "seed": seed,
        "simulated": True,
        "generator": "analysis.simulate.simulate_incident",
        "kind": sc.kind,
        "timezone": sc.timezone,
        "onset": _iso(onset_s, tz),
        "end": _iso(end_s, tz),
        "horizon_minutes": round(horizon, 4),
        "family": models[sorted(models)[0]][0].label,
        "params": _region_theta(sc, "")[2],
        "region_params": {k: dict(v) for k, v in sc.region_params.items()},
        "attack_weights": dict(sc.attack_weights),
        "propensity": [round(float(x), 6) for x in check_propensity(sc.propensity)],
        "propensity_declared": sc.declare_propensity,
        "n_affected": int(sum(n_aff.values())),
        "n_reports": n,
        "recovery": curve,
        "survival": {"minutes": [float(x) for x in grid], "S": [float(x) for x in true_survival(grid, components)]},
        "sample": _sample_truth(all_t),
        "announcements": announcements,
        "regions": regions,
        "rows": counts,
        "noise": {k: (list(v) if isinstance(v, tuple) else v) for k, v in sc.noise.__dict__.items()},
    }


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # JSON string escapes are valid TOML basic strings


def _toml(sc: Scenario, incident_id: str, seed: int, *, n_affected: int) -> str:
    lines = [
        f"# Simulated incident: scenario {sc.name!r}, seed {seed}. Written by `postmortem simulate`; the true recovery",
        "# curve, the parameters and every count are in truth.json beside this file.",
        "",
        f"id = {_toml_str(incident_id)}",
        f"title = {_toml_str(sc.title)}",
        f"timezone = {_toml_str(sc.timezone)}",
        f"onset = {_toml_str(sc.onset)}",
        f"end = {_toml_str(sc.end)}",
        "simulated = true",
        f"affected_customers = {n_affected}",
        f"description = {_toml_str(sc.description)}",
        "",
        "[origin]",
        f"name = {_toml_str(sc.origin[0])}",
        f"lat = {sc.origin[1]}",
        f"lon = {sc.origin[2]}",
    ]
    if sc.declare_propensity:
        lines += ["", "[reporting]", "hourly_propensity = [" + ", ".join(f"{x:g}" for x in (sc.propensity or ())) + "]"]
    for when, label, kind, resolved in sc.events:
        lines += ["", "[[events]]", f"time = {_toml_str(when)}", f"label = {_toml_str(label)}", f"kind = {_toml_str(kind)}"]
        if resolved:
            lines.append("resolved = true")
    lines += ["", "[[sources]]"]
    if sc.kind == "down_reports":
        lines += [
            'path = "reports.csv"',
            'kind = "down_reports"',
            'name = "reports"',
            'coverage = "Simulated outage-tracker reports: every affected customer equally likely to report, by the clock hour."',
            f"time_format = {_toml_str(TIME_FORMAT)}",
            'delimiter = ","',
            'encoding = "utf-8"',
            "",
            "[sources.columns]",
            'report_id = "id"',
            'reported_at = "time"',
            'reported_until = "until"',
            'place = "place"',
            'lat = "lat"',
            'lon = "lon"',
            'service = "service"',
            'text = "comment"',
        ]
    else:
        lines += [
            'path = "telemetry.csv"',
            'kind = "restorations"',
            'name = "telemetry"',
            'coverage = "Simulated decoder telemetry: every affected decoder, polled or reporting its return."',
            f"time_format = {_toml_str(TIME_FORMAT)}",
            'delimiter = ","',
            'encoding = "utf-8"',
            "",
            "[sources.columns]",
            'customer_id = "device"',
            'observed_at = "observed_at"',
            'restored = "restored"',
            'restored_after = "restored_after"',
            'restored_before = "restored_before"',
            'postal_code = "postal_code"',
        ]
    return "\n".join(lines) + "\n"
