"""Synthetic incidents with known truth: seeded generators and named scenarios.

``analysis.simulate`` has two layers. The generative core (:mod:`.processes`: report
times, restoration times, clumped reports, telemetry, online-fraction series) is pure numpy
and light to import. The scenarios build complete incident folders from it:
:mod:`.scenarios` (what each named incident is made of and its true curve), :mod:`.places`
(how people write a place), :mod:`.world` (who is affected where and when they report),
:mod:`.rows` (source rows with their noise), :mod:`.incident` (one incident and its truth)
and :mod:`.writer` (the folder on disk). Their names are loaded on first use, so importing
the package stays light.

A scenario tells this story:

1. ``n_affected`` customers are spread over the 565 municipalities in proportion to their
   population (times a per-province attack weight, or a user exposure table);
2. each region has its recovery curve S_r(t) (a family from :mod:`analysis.recovery`,
   with a delay and optionally a slow tail), and each affected customer's restoration
   time is drawn from it;
3. every still-affected customer reports at a rate proportional to the clock-hour
   propensity g, so region r's reports form an inhomogeneous Poisson process of intensity
   a·n_r·g(clock(t))·S_r(t). The number of reports is fixed exactly: the regions' counts
   are multinomial and, within a region, the times are a uniformly chosen subset of a
   thinned Poisson process drawn slightly larger (the points of a Poisson process given
   their number are i.i.d. with density ∝ λ, and so is any random subset of them);
4. each report names its municipality as people write it — the French or Dutch (or
   German) name, a section or village, a postal code with or without the name, GPS
   coordinates — and noise is added on request: case and accent variants, typos, missing
   places, reports known only within a time window, double posts (a report's row sent
   twice, with the same report id: ingest's identity rule rejects the copy) and rows with
   an unreadable time.

The folder holds ``incident.toml`` (``simulated = true``), the source file and
``truth.json``: the true S(t) quantiles, tail fraction, mean outage, S at each announcement,
per-region truth, every count needed to reconcile ingest, the parameters and the seed.
``truth_reports.parquet`` keeps, per report, the true time, municipality and how its place
was written (for checking the geocoder). Everything is a deterministic function of the
scenario, the size and the seed: the same call writes byte-identical files.

Times are minutes after onset inside the generator and local wall-clock time in the files
(as exports from an outage tracker are); the onset and end are local times of the scenario.
"""

from __future__ import annotations

import importlib
from typing import Any

from analysis.simulate import processes
from analysis.simulate.processes import *  # noqa: F403  (the generative core's public names, listed in its __all__)

# names of the scenario modules, imported when first asked for (they load polars and the geography)
_LAZY = {
    "SCENARIOS": "scenarios",
    "Noise": "scenarios",
    "Scenario": "scenarios",
    "get_scenario": "scenarios",
    "scenario_names": "scenarios",
    "true_survival": "scenarios",
    "PLACE_FORMS": "scenarios",
    "SimulatedIncident": "incident",
    "simulate_incident": "incident",
    "exact_report_times": "world",
    "write_incident": "writer",
    "write_scenario": "writer",
}

# the public names: the generative core's and the scenario modules'
__all__: list[str] = []
__all__ += processes.__all__
__all__.extend(_LAZY)


def __getattr__(name: str) -> Any:
    """Load a scenario name from its module on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'analysis.simulate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"analysis.simulate.{module}"), name)
    globals()[name] = value
    return value
