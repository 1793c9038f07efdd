"""One incident, end to end: config → ingest → geography → recovery fit → metrics.

The notebook and ``postmortem fit`` both call :func:`analyze`, so the numbers on the page
and the numbers a scheduler reads from ``metrics.json`` come from one computation.
Nothing here draws; :mod:`analysis.figures` does that from an :class:`Analysis`.
"""

from __future__ import annotations

import datetime as dt
import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from analysis import metrics as m
from analysis.config import DATA_PROCESSED, Incident, load_incident, processed_dir
from analysis.facts import (
    after_declaration,
    curated_summary,
    customer_impact,
    detection,
    other_service_counts,
    readings_left_out,
    service_reports,
)
from analysis.fitting import DEFAULT_TAIL_HOURS, down_sources, evidence_kind, first_observation, fit_with_choice, observation_end
from analysis.ingest import GEO_COLUMNS, IngestResult, compact_constants, ingest_incident, write_processed
from analysis.misfit import Misfit, find_misfits
from analysis.params import ReportParams
from analysis.paths import resolve_input, resolve_output
from analysis.timeline import bin_reports, choose_bin_minutes, down_reports, events_table

if TYPE_CHECKING:
    from analysis.spatial_analysis import SpatialAnalysis


@dataclass
class Analysis:
    """Everything computed for one incident (the notebook displays it, the CLI prints it)."""

    incident: Incident
    params: ReportParams
    data: IngestResult
    processed: dict[str, Path]
    span: tuple[dt.datetime, dt.datetime]
    display_bin_minutes: float
    binned: pl.DataFrame
    events: pl.DataFrame
    fit: Any | None = None
    fit_error: str | None = None
    evidence: str = "down_reports"
    metrics: dict[str, Any] = field(default_factory=dict)
    misfits: list[Misfit] = field(default_factory=list)
    area_fits: dict[str, Any] = field(default_factory=dict)
    #: the as-of time (UTC) of a live analysis: only the evidence observed by then was used
    as_of: dt.datetime | None = None
    #: the communications review once computed (:func:`analysis.nowcast.review_for`)
    communications: pl.DataFrame | None = None
    #: the spatial analysis once computed (:func:`analysis.spatial_analysis.spatial_analysis`)
    spatial: SpatialAnalysis | None = field(default=None, repr=False)

    @property
    def sampling(self) -> str | None:
        """How the evidence the curve was fitted to was gathered: ``curated``, ``spontaneous`` or ``None``.

        ``None`` when the curve comes from direct observations (restorations, a measured
        series). Down reports are ``curated`` when every one comes from a source declared
        ``sampling = "curated"`` (statements picked by a newsroom) — the rule the fit uses.
        """
        if self.evidence != "down_reports":
            return None
        return self.incident.sampling_for(down_sources(self.down))

    @property
    def curated(self) -> bool:
        """Whether the report leads with what the statements show rather than with model numbers."""
        return self.sampling == "curated"

    @functools.cached_property
    def has_geography(self) -> bool:
        """Whether the report may speak of places: some place in the data lies in the reference geography.

        The reference geography is Belgium's; an incident bringing its own boundaries
        counts too. A Texas series or a file of unplaced reports gets no Belgian regions,
        maps or text.
        """
        if self.incident.geography.boundaries is not None:
            return True
        r = self.data.reports
        return bool(r.height) and bool(r.select((pl.col("nis_code").is_not_null() | pl.col("region").is_not_null()).any()).item())

    @functools.cached_property
    def reports(self) -> pl.DataFrame:
        """The reports the analysis counts: about the incident's own service(s), or naming none.

        Every report when no ``[postmortem] service`` is configured or the data have no
        ``service`` column. The recovery fit, the timeline, the geography, the summary and
        ``metrics.json`` read these; ``data.reports`` keeps every statement (the evidence
        appendix and the data-quality section list them all).
        """
        return service_reports(self.data.reports, self.services)

    @functools.cached_property
    def down(self) -> pl.DataFrame:
        """The one definition of a report counted on the page: a counted report saying service was out.

        Status down, intermittent or partial, about the incident's service(s) (see :attr:`reports`);
        filtered once, then shared.
        """
        return down_reports(self.reports)

    @property
    def services(self) -> tuple[str, ...]:
        """The incident's own service(s) (``[postmortem] service``); empty when every service counts."""
        return self.incident.postmortem.service

    @property
    def service_down(self) -> pl.DataFrame:
        """The down reports about the incident's own service: the same table as :attr:`down`."""
        return self.down

    @functools.cached_property
    def other_services(self) -> dict[str, int]:
        """Down reports about other services than the incident's, per service (listed, not counted)."""
        return other_service_counts(down_reports(self.data.reports), self.services)


def analyze(params: ReportParams, *, incident: Incident | None = None) -> Analysis:
    """Run the whole analysis of ``params.incident_dir`` (writes the processed tables)."""
    # relative paths are the project root's when they do not exist from here (a kernel
    # started by JupyterLab runs in notebooks/)
    incident = incident or load_incident(resolve_input(params.incident_dir))
    root = resolve_output(params.processed_dir) if params.processed_dir else DATA_PROCESSED
    from analysis.recovery.workers import fit_workers

    # a worker process takes fits that can run beside others (the second reporting
    # hypothesis, some regions): it starts now, its imports overlapping the ingest
    with fit_workers(preload=("analysis.spatial_recovery",)):
        plain = ingest_incident(incident, geocode=False)
        # the recovery fit reads times, statuses and weights only: it runs while the places are
        # geocoded (polars, rapidfuzz and shapely do much of that outside the interpreter lock)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="geocode") as pool:
            geocoding = pool.submit(geocoded, plain, preload=True)
            fitted = _fit_stage(params, incident, plain)
            data = geocoding.result()
        del plain
        # the processed tables are written while the rest is computed (the writer runs in
        # polars, outside the interpreter lock); the analysis returns only once they are on disk
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-processed") as writer:
            written = writer.submit(write_processed, data, processed_dir(incident, root))
            analysis = _analyze_ingested(params, incident, data, fitted=fitted)
        analysis.processed = written.result()
    return analysis


def geocoded(data: IngestResult, *, preload: bool = False) -> IngestResult:
    """``data`` as read by ``ingest_incident(geocode=False)``, with its places resolved.

    The same tables as ``ingest_incident(incident)`` gives (geocoding is the last step of
    ingest): the empty geography columns are replaced by the resolved ones, constant
    columns stored once. ``preload``: when some report lies in a region, also import what
    the area statistics will need (:func:`analysis.spatial.preload`), on this thread.
    """
    from analysis.geo import resolve_places

    def one(df: pl.DataFrame) -> pl.DataFrame:
        return compact_constants(resolve_places(df.drop(GEO_COLUMNS, strict=False)))

    out = replace(data, reports=one(data.reports), restorations=one(data.restorations))
    if preload and out.reports.height and out.reports["region"].is_not_null().any():
        from analysis.spatial import preload as preload_spatial

        preload_spatial()
    return out


@dataclass(frozen=True)
class _Fitted:
    """The recovery fit of an incident and what it was fitted on (the as-of cut, the end)."""

    incident: Incident
    as_of: dt.datetime | None
    end: dt.datetime
    fit: Any | None
    fit_error: str | None
    evidence: str
    area_fits: dict[str, Any]


def _fit_stage(params: ReportParams, incident: Incident, data: IngestResult) -> _Fitted:
    """The curve: reads the evidence's times, statuses and weights, not its geography.

    With ``params.as_of`` the evidence is first cut to what had been observed by then
    (:func:`analysis.nowcast.observed_by`), before anything is fitted.
    """
    as_of = None
    if params.as_of.strip():
        from analysis.nowcast import incident_as_of, observed_by, parse_as_of

        as_of = parse_as_of(params.as_of, incident.timezone)
        incident = incident_as_of(incident, as_of)
        data = observed_by(data, as_of)
    counted = service_reports(data.reports, incident.postmortem.service)
    end = observation_end(incident, counted, restorations=data.restorations, online=data.online)
    outcome, fit_error = fit_with_choice(incident, data, params, end=end)
    fit, area_fits = (outcome.fit, outcome.areas) if outcome is not None else (None, {})
    return _Fitted(incident, as_of, end, fit, fit_error, evidence_kind(data), area_fits)


def _analyze_ingested(params: ReportParams, incident: Incident, data: IngestResult, *, fitted: _Fitted | None = None) -> Analysis:
    """Everything after ingest: the curve (``fitted`` when already made on the same data), the events, the metrics."""
    fitted = fitted or _fit_stage(params, incident, data)
    incident, as_of, end = fitted.incident, fitted.as_of, fitted.end
    fit, fit_error, evidence = fitted.fit, fitted.fit_error, fitted.evidence
    if as_of is not None:
        from analysis.nowcast import observed_by

        data = observed_by(data, as_of)
    # the reports counted: about the incident's own service(s) (all of them when none is configured)
    counted = service_reports(data.reports, incident.postmortem.service)
    counted_down = down_reports(counted)
    # the timeline shows the whole evidence: a storm's build-up before the onset too
    starts = [t for t in (incident.onset, first_observation(replace(data, reports=counted))) if t is not None]
    start = (min(starts) if starts else end - dt.timedelta(hours=DEFAULT_TAIL_HOURS)) - dt.timedelta(hours=1)
    width = choose_bin_minutes(start, end)
    binned = bin_reports(counted_down, start=start, end=end, bin_minutes=width, timezone=incident.timezone)

    curated = evidence == "down_reports" and incident.sampling_for(down_sources(counted_down)) == "curated"
    derived = []
    # the curve of curated statements is not a restoration curve: no "half back" on the timeline
    if fit is not None and not curated:
        labels = (
            (("t50", "Out below 50% of the peak (t50)"), ("t90", "Out below 10% of the peak (t90)"))
            if evidence == "online_fraction"
            else (("t50", "Half of affected customers back (t50)"), ("t90", "90% back (t90)"))
        )
        for q, label in labels:
            when = m.offset(fit.onset, getattr(fit, q).value)
            if when is not None and when <= end:
                derived.append((when, label, "fit"))
    if fit is not None and incident.onset is None:
        derived.append((fit.onset, "Onset (estimated)", "onset"))
    events = events_table(incident, reports=counted, derived=derived)

    analysis = Analysis(
        incident=incident,
        params=params,
        data=data,
        processed={},
        span=(start, end),
        display_bin_minutes=width,
        binned=binned,
        events=events,
        fit=fit,
        fit_error=fit_error,
        evidence=evidence,
        area_fits=fitted.area_fits,
        misfits=find_misfits(getattr(fit, "diagnostics", None), width) if evidence == "down_reports" else [],
        as_of=as_of,
    )
    analysis.metrics = build_metrics(analysis)
    return analysis


#: What metrics.json says of each source: its accounting, and its duplicate policy with the
#: rows identical to an earlier one (kept or not) and the rows rejected as duplicates.
SOURCE_METRICS = (
    "source",
    "kind",
    "path",
    "n_raw",
    "n_accepted",
    "n_rejected",
    "dedupe",
    "n_identical",
    "n_identical_kept",
    "n_duplicates",
)


def build_metrics(a: Analysis) -> dict[str, Any]:
    """The ``metrics.json`` document of an analysis (see :mod:`analysis.metrics`)."""
    inc, data, tz = a.incident, a.data, a.incident.timezone
    reports = data.reports
    # counts as expressions over the columns they read: a filter would copy the whole table
    unresolved = int(reports.select((pl.col("geo_method").is_null() | (pl.col("geo_method") == "unresolved")).sum()).item())
    onset = a.fit.onset if a.fit is not None else inc.onset
    onset_source = "config" if inc.onset is not None else ("estimated" if a.fit is not None else None)
    down = a.down
    last_down = down.select(pl.coalesce("reported_until", "reported_at").max()).item() if down.height else None
    first_down = down["reported_at"].min() if down.height else None
    doc: dict[str, Any] = {
        "schema_version": m.SCHEMA_VERSION,
        "incident_id": inc.id,
        "title": inc.title,
        "timezone": tz,
        "simulated": inc.simulated,
        "run_id": a.params.run_id or None,
        "n_raw": data.n_raw,
        "n_reports": data.n_reports,
        "n_rejected": data.n_rejected,
        "n_down_reports": down.height,
        "n_windowed_reports": int(down["reported_until"].is_not_null().sum()),
        "n_unresolved_place": unresolved,
        "onset": m.iso(onset, tz),
        "onset_source": onset_source,
        "onset_ci": [m.iso(t, tz) for t in a.fit.onset_ci] if a.fit is not None and getattr(a.fit, "onset_ci", None) else None,
        "end": m.iso(a.span[1], tz),
        "first_report": m.iso(first_down, tz),
        "last_report": m.iso(last_down, tz),
        "evidence": a.evidence,
        "recovery": m.recovery_block(a.fit, inc, level=a.params.level),
        "recovery_error": a.fit_error,
        "announcements": m.announcements_block(a.fit, inc),
        "declared_resolved": None,
        "regions": {},
        "areas": {
            "n_municipalities": int(
                a.reports.select(pl.col("nis_code").filter(pl.col("municipality").is_not_null()).n_unique()).item()
            )
        },
        "sources": [{k: v for k, v in s.__dict__.items() if k in SOURCE_METRICS} for s in data.sources],
    }
    _geography_metrics(a, doc)
    if a.evidence == "online_fraction" and a.fit is not None:
        doc["series_readings_left_out"] = readings_left_out(a.fit.data_quality, tz)
        est = a.fit.customer_hours_lost(None)
        doc["recovery"]["customer_hours_lost"] = m.clean_number(est.value, 0)
        doc["recovery"]["customer_hours_lost_ci"] = m.interval(est.low, est.high, 0)
    if a.area_fits:
        doc["series_areas"] = {name: fit.to_metrics() for name, fit in sorted(a.area_fits.items())}
    doc["declared_resolved"] = _declared_resolved(a, doc["announcements"])
    doc["evidence_sampling"] = a.sampling
    doc["curated_summary"] = curated_summary(a) if a.curated else None
    doc["misfits"] = [x.to_metrics(tz) for x in a.misfits]
    doc["service_filter"] = service_filter_metrics(a)
    doc["detection"] = detection(a)
    doc["customer_impact"] = customer_impact(a)
    if a.fit is not None and inc.affected_customers and a.evidence != "online_fraction":
        est = a.fit.customer_hours_lost(inc.affected_customers)
        doc["recovery"]["customer_hours_lost"] = m.clean_number(est.value, 0)
        doc["recovery"]["customer_hours_lost_ci"] = m.interval(est.low, est.high, 0)
    from analysis.limits import limit

    doc["implausible"] = m.flag_implausible(doc, limit("MAX_SPAN_DAYS") * 1440)
    doc["as_of"] = m.iso(a.as_of, tz)
    doc["nowcast"] = None
    if a.as_of is not None:
        from analysis.nowcast import nowcast

        doc["nowcast"] = nowcast(a).to_json()
    return doc


def service_filter_metrics(a: Analysis) -> dict[str, Any]:
    """``metrics.json`` ``service_filter``: which services every count on the page covers.

    ``services``: the ``[postmortem] service`` list (empty: every service counts);
    ``services_counted``: the services named by the counted down reports (``n_down_reports``,
    weighted), ``n_down_reports_unnamed_service`` of them naming none; ``other_services``:
    the down reports about another service, per service (listed in the evidence appendix,
    not counted); ``n_down_reports_all_services``: every down report, counted or not.
    """
    down = a.down
    named = down["service"].drop_nulls().unique().sort().to_list() if "service" in down.columns else []
    unnamed = int(down.filter(pl.col("service").is_null())["weight"].sum()) if "service" in down.columns else down.height
    return {
        "services": list(a.services),
        "services_counted": named,
        "n_down_reports": int(down["weight"].sum()) if down.height else 0,
        "n_down_reports_unnamed_service": unnamed if down.height else 0,
        "other_services": a.other_services,
        "n_down_reports_all_services": (int(down["weight"].sum()) if down.height else 0) + sum(a.other_services.values()),
    }


def _geography_metrics(a: Analysis, doc: dict[str, Any]) -> None:
    """Fill ``regions``, ``regions_equal_recovery`` and the area counts of ``doc`` (empty without geography)."""
    if a.has_geography:
        from analysis.spatial_analysis import areas_metrics, equal_recovery_metrics, regions_metrics

        doc["regions"] = regions_metrics(a)
        doc["regions_equal_recovery"] = equal_recovery_metrics(a)
        doc["areas"].update(areas_metrics(a))
    else:
        note = "no place in the data lies in the reference geography (Belgium's municipalities)"
        doc["regions_equal_recovery"] = {
            "test": None,
            "statistic": None,
            "p_value": None,
            "df": None,
            "performed": False,
            "note": note,
        }
        doc["areas"].update({"level": None, "n_areas": 0, "n_areas_with_reports": 0, "note": note})


def _declared_resolved(a: Analysis, announcements: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The announcement that declared the outage resolved, with what the reports said after it (None if not declared)."""
    resolved, tz = a.incident.declared_resolved, a.incident.timezone
    if resolved is None:
        return None
    entry = next((x for x in announcements if x["time"] == m.iso(resolved.time, tz) and x["label"] == resolved.label), None)
    return None if entry is None else entry | after_declaration(a.service_down, resolved.time)
