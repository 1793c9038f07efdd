"""The national fit and the report counts of ``metrics.json`` from cells (:mod:`analysis.ingest.cells`).

What a run that never holds every report can say: the recovery curve fitted to the down
reports (it reads times, windows, weights and sources, which cells keep), the onset and
end, the first and last report, and the counts by rows and by weight. Each value equals
the one :func:`analysis.pipeline.build_metrics` writes for the same reports
(``tests/test_distributed.py`` compares them on a cluster). The spatial tables, the facts
read from single reports and ``--as-of`` are not computed here (docs/scaling.md).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import polars as pl

from analysis import metrics as m
from analysis.config import Incident
from analysis.facts import other_service_counts, service_reports
from analysis.fitting import fit_with_choice, observation_end
from analysis.ingest import IngestResult
from analysis.params import ReportParams
from analysis.timeline import down_reports

#: the keys of ``metrics.json`` :func:`cell_metrics` fills
CELL_METRICS = (
    "n_down_reports",
    "n_windowed_reports",
    "n_unresolved_place",
    "onset",
    "onset_source",
    "end",
    "first_report",
    "last_report",
    "evidence",
    "recovery",
    "recovery_error",
    "announcements",
    "service_filter",
)


def _rows(cells: pl.DataFrame) -> int:
    return int(cells["rows"].sum()) if cells.height else 0


def _weight(cells: pl.DataFrame) -> int:
    return int(cells["weight"].sum()) if cells.height else 0


def fit_cells(incident: Incident, cells: pl.DataFrame, params: ReportParams) -> tuple[Any | None, str | None, Any]:
    """The recovery fit to the down reports in ``cells``: the fit (or None), its error, and the end of observation."""
    counted = service_reports(cells, incident.postmortem.service)
    end = observation_end(incident, counted)
    empty = pl.DataFrame()
    data = IngestResult(reports=cells, rejects=empty, restorations=empty, online=empty)
    outcome, error = fit_with_choice(incident, data, params, end=end)
    return (outcome.fit if outcome is not None else None), error, end


def _service_filter(cells: pl.DataFrame, down: pl.DataFrame, services: tuple[str, ...]) -> dict[str, Any]:
    """``metrics.json`` ``service_filter`` from cells (see :func:`analysis.pipeline.service_filter_metrics`)."""
    other = other_service_counts(down_reports(cells), services)
    return {
        "services": list(services),
        "services_counted": down["service"].drop_nulls().unique().sort().to_list(),
        "n_down_reports": _weight(down),
        "n_down_reports_unnamed_service": _weight(down.filter(pl.col("service").is_null())),
        "other_services": other,
        "n_down_reports_all_services": _weight(down) + sum(other.values()),
    }


def cell_metrics(incident: Incident, cells: pl.DataFrame, params: ReportParams) -> dict[str, Any]:
    """The entries :data:`CELL_METRICS` of ``metrics.json`` computed from cells (down-reports evidence only)."""
    params = replace(params, as_of="")
    tz = incident.timezone
    down = down_reports(service_reports(cells, incident.postmortem.service))
    fit, error, end = fit_cells(incident, cells, params)
    doc: dict[str, Any] = {
        "n_down_reports": _rows(down),
        "n_windowed_reports": _rows(down.filter(pl.col("reported_until").is_not_null())),
        "n_unresolved_place": _rows(cells.filter("unresolved")),
        "onset": m.iso(fit.onset if fit is not None else incident.onset, tz),
        "onset_source": "config" if incident.onset is not None else ("estimated" if fit is not None else None),
        "end": m.iso(end, tz),
        "first_report": m.iso(down.select(pl.col("reported_at").min()).item() if down.height else None, tz),
        "last_report": m.iso(down.select(pl.coalesce("reported_until", "reported_at").max()).item() if down.height else None, tz),
        "evidence": "down_reports",
        "recovery": m.recovery_block(fit, incident, level=params.level),
        "recovery_error": error,
        "announcements": m.announcements_block(fit, incident),
        "service_filter": _service_filter(cells, down, incident.postmortem.service),
    }
    if fit is not None and incident.affected_customers:
        est = fit.customer_hours_lost(incident.affected_customers)
        doc["recovery"]["customer_hours_lost"] = m.clean_number(est.value, 0)
        doc["recovery"]["customer_hours_lost_ci"] = m.interval(est.low, est.high, 0)
    return doc
