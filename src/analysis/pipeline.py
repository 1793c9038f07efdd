"""One incident, end to end: config → ingest → geography → recovery fit → metrics.

The notebook and ``postmortem fit`` both call :func:`analyze`, so the numbers on the page
and the numbers a scheduler reads from ``metrics.json`` come from one computation.
Nothing here draws; :mod:`analysis.figures` does that from an :class:`Analysis`.
"""

from __future__ import annotations

import datetime as dt
import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analysis import metrics as m
from analysis.config import DATA_PROCESSED, Incident, load_incident, processed_dir
from analysis.errors import AnalysisError, FitError
from analysis.ingest import IngestResult, ingest_incident, write_processed
from analysis.misfit import Misfit, find_misfits
from analysis.params import ReportParams
from analysis.paths import resolve_input, resolve_output
from analysis.timeline import bin_reports, choose_bin_minutes, down_reports, events_table

DEFAULT_TAIL_HOURS = 48
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
    def down(self) -> pl.DataFrame:
        """Reports saying service was out (down, intermittent, partial); filtered once, then shared."""
        return down_reports(self.data.reports)

    @property
    def services(self) -> tuple[str, ...]:
        """The incident's own service(s) (``[postmortem] service``); empty when every service counts."""
        return self.incident.postmortem.service

    @functools.cached_property
    def service_down(self) -> pl.DataFrame:
        """Down reports about the incident's own service (all down reports when none is configured).

        A report that names no service is counted: it does not speak of another service.
        """
        return service_reports(self.down, self.services)

    @functools.cached_property
    def other_services(self) -> dict[str, int]:
        """Down reports about other services than the incident's, per service (listed, not counted)."""
        return other_service_counts(self.down, self.services)


def service_reports(down: pl.DataFrame, services: tuple[str, ...]) -> pl.DataFrame:
    """The rows of ``down`` about one of ``services`` (or naming none); all rows when ``services`` is empty."""
    if not services or "service" not in down.columns:
        return down
    return down.filter(pl.col("service").is_null() | pl.col("service").is_in(list(services)))


def other_service_counts(down: pl.DataFrame, services: tuple[str, ...]) -> dict[str, int]:
    """Weighted counts of the rows of ``down`` about a service outside ``services``, by service."""
    if not services or "service" not in down.columns or down.height == 0:
        return {}
    other = down.filter(pl.col("service").is_not_null() & ~pl.col("service").is_in(list(services)))
    counts = other.group_by("service").agg(pl.col("weight").sum().alias("n")).sort("n", "service", descending=[True, False])
    return {svc: int(n) for svc, n in counts.iter_rows()}


def down_sources(down: pl.DataFrame) -> set[str]:
    """The names of the sources the down reports come from."""
    return set(down["source"].drop_nulls().unique().to_list()) if "source" in down.columns else set()


def observation_end(
    incident: Incident,
    reports: pl.DataFrame,
    *,
    restorations: pl.DataFrame | None = None,
    online: pl.DataFrame | None = None,
) -> dt.datetime:
    """The right-censoring point: the configured end, else the last observation of any kind.

    The last report (or the end of its window), the last restoration record (or the end of
    its interval) and the last point of an online-fraction series all count.
    """
    if incident.end is not None:
        return incident.end
    lasts = []
    if reports.height:
        lasts.append(reports.select(pl.coalesce("reported_until", "reported_at").max()).item())
    if restorations is not None and restorations.height:
        lasts.append(restorations.select(pl.max_horizontal("observed_at", "restored_after", "restored_before").max()).item())
    if online is not None and online.height:
        lasts.append(online["observed_at"].max())
    lasts = [t for t in lasts if t is not None]
    if lasts:
        return max(lasts) + dt.timedelta(minutes=1)
    start = incident.onset or dt.datetime.now(dt.UTC)
    return start + dt.timedelta(hours=DEFAULT_TAIL_HOURS)


def propensity_for(incident: Incident, params: ReportParams) -> list[float] | None:
    """The hourly reporting profile to fit with: flat, the incident's, or ``None`` (default)."""
    if params.propensity == "flat":
        return [1.0] * 24
    if params.propensity == "auto" and incident.reporting.hourly_propensity is not None:
        return list(incident.reporting.hourly_propensity)
    return None


def evidence_kind(data: IngestResult) -> str:
    """The evidence the curve comes from: direct observations of S beat inferences from report rates.

    Per-customer restoration times first, then a customers-out (or online-fraction) series,
    then down reports. Decided from the data, before any fit, so a failed fit still says
    which evidence it failed on.
    """
    if data.restorations.height:
        return "restorations"
    if data.online.height:
        return "online_fraction"
    return "down_reports"


def customers_out_series(online: pl.DataFrame) -> pl.DataFrame:
    """The canonical series as the customers-out fitter reads it: ``observed_at``, ``out``, ``total``, ``area``.

    ``out`` is the count out when the source gives it, else the share out (1 − online
    fraction) times the total when there is one, else the share out itself (the fit works
    relative to the peak either way). ``area``: the mapped area column, else the source
    name when several sources are series (one curve per area, plus their total).
    """
    share_out = 1.0 - pl.col("online_fraction")
    out = pl.coalesce(
        pl.col("out"),
        pl.when(pl.col("total") > 0).then(share_out * pl.col("total")),
        pl.when(pl.col("online").is_null()).then(share_out),
    )
    several = online["source"].n_unique() > 1
    area = pl.coalesce("area", "source") if several else pl.col("area")
    return online.select("observed_at", out.alias("out"), pl.col("total"), area.alias("area"))


@dataclass
class FitOutcome:
    """The recovery fit of an incident: the curve, its evidence kind, and per-area curves of a series."""

    fit: Any
    evidence: str
    areas: dict[str, Any] = field(default_factory=dict)


def fit_evidence(incident: Incident, data: IngestResult, params: ReportParams, *, end: dt.datetime) -> FitOutcome:
    """Fit the recovery from the best evidence the incident has (see :func:`evidence_kind`).

    The incident's timezone reaches every fit. A customers-out series with several areas
    gives one curve per area and the curve of their total (the headline).
    """
    from analysis import recovery

    common = {"level": params.level, "n_boot": params.n_boot, "seed": params.seed, "families": params.family_list}
    evidence = evidence_kind(data)
    tz = incident.timezone
    if evidence == "restorations":
        return FitOutcome(
            recovery.fit_restorations(data.restorations, onset=incident.onset, end=end, timezone=tz, **common), evidence
        )
    if evidence == "online_fraction":
        series = customers_out_series(data.online)
        if series["area"].drop_nulls().n_unique() > 1:
            fits = recovery.fit_customers_out_by_area(series, onset=incident.onset, end=end, timezone=tz, **common)
            total = fits.pop("total")
            return FitOutcome(total, evidence, fits)
        fit = recovery.fit_customers_out(series.drop("area"), onset=incident.onset, end=end, timezone=tz, **common)
        return FitOutcome(fit, evidence)
    # the columns the fit reads (a filter below copies only these, not the whole table)
    down = down_reports(data.reports).select(
        c for c in ("reported_at", "reported_until", "weight", "source") if c in data.reports.columns
    )
    if down.height == 0:
        raise FitError("no down reports to fit a recovery curve to")
    point = down.filter(pl.col("reported_until").is_null())
    windows = down.filter(pl.col("reported_until").is_not_null())
    times = (
        np.repeat(point["reported_at"].to_numpy(), point["weight"].to_numpy())
        if point.height
        else np.array([], dtype="datetime64[us]")
    )
    # one row per distinct window with its number of reports: the fit's cost then follows
    # the distinct windows (a few hundred cells of the clock), not the windowed reports
    win = (
        windows.group_by(pl.col("reported_at").alias("start"), pl.col("reported_until").alias("end"))
        .agg(pl.col("weight").sum().alias("count"))
        .sort("start", "end")
        if windows.height
        else None
    )
    # statements picked by a newsroom come in groups (one article, many places): when every
    # down report comes from such a source, the fit treats identical records as one statement
    names = down_sources(down)
    fit = recovery.fit_down_reports(
        times,
        onset=incident.onset,
        end=end,
        windows=win,
        timezone=tz,
        propensity=propensity_for(incident, params),
        bin_minutes=params.bin_minutes,
        surge=incident.reporting.surge,
        sampling=incident.sampling_for(names),
        noticing=incident.reporting.noticing,
        profile_uncertainty=incident.reporting.profile_uncertainty,
        delay_minutes=incident.reporting.delay_minutes,
        **common,
    )
    return FitOutcome(fit, evidence)


def fit_recovery(incident: Incident, data: IngestResult, params: ReportParams, *, end: dt.datetime) -> tuple[Any, str]:
    """Fit S(t) from the best evidence the incident has: ``(fit, evidence kind)`` (see :func:`fit_evidence`)."""
    outcome = fit_evidence(incident, data, params, end=end)
    return outcome.fit, outcome.evidence


def first_observation(data: IngestResult) -> dt.datetime | None:
    """The earliest time in the evidence: a report, a restoration record or a series reading."""
    firsts = []
    if data.reports.height:
        firsts.append(data.reports["reported_at"].min())
    if data.restorations.height:
        firsts.append(
            data.restorations.select(pl.min_horizontal("observed_at", "restored_after", "restored_before").min()).item()
        )
    if data.online.height:
        firsts.append(data.online["observed_at"].min())
    firsts = [t for t in firsts if t is not None]
    return min(firsts) if firsts else None


def analyze(params: ReportParams, *, incident: Incident | None = None) -> Analysis:
    """Run the whole analysis of ``params.incident_dir`` (writes the processed tables)."""
    # relative paths are the project root's when they do not exist from here (a kernel
    # started by JupyterLab runs in notebooks/)
    incident = incident or load_incident(resolve_input(params.incident_dir))
    root = resolve_output(params.processed_dir) if params.processed_dir else DATA_PROCESSED
    data = ingest_incident(incident)
    # the processed tables are written while the curves are fitted (the writer runs in
    # polars, outside the interpreter lock); the analysis returns only once they are on disk
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-processed") as writer:
        written = writer.submit(write_processed, data, processed_dir(incident, root))
        analysis = _analyze_ingested(params, incident, data)
    analysis.processed = written.result()
    return analysis


def _analyze_ingested(params: ReportParams, incident: Incident, data: IngestResult) -> Analysis:
    """Everything after ingest: the curve, the events, the metrics.

    With ``params.as_of`` the evidence is first cut to what had been observed by then
    (:func:`analysis.nowcast.observed_by`), before anything is fitted.
    """
    as_of = None
    if params.as_of.strip():
        from analysis.nowcast import incident_as_of, observed_by, parse_as_of

        as_of = parse_as_of(params.as_of, incident.timezone)
        incident = incident_as_of(incident, as_of)
        data = observed_by(data, as_of)
    end = observation_end(incident, data.reports, restorations=data.restorations, online=data.online)
    # the timeline shows the whole evidence: a storm's build-up before the onset too
    starts = [t for t in (incident.onset, first_observation(data)) if t is not None]
    start = (min(starts) if starts else end - dt.timedelta(hours=DEFAULT_TAIL_HOURS)) - dt.timedelta(hours=1)
    width = choose_bin_minutes(start, end)
    binned = bin_reports(down_reports(data.reports), start=start, end=end, bin_minutes=width, timezone=incident.timezone)

    fit, fit_error, evidence, area_fits = None, None, evidence_kind(data), {}
    try:
        outcome = fit_evidence(incident, data, params, end=end)
        fit, area_fits = outcome.fit, outcome.areas
    except AnalysisError as exc:
        fit_error = str(exc)
    if fit is not None and params.model != "auto":
        try:
            fit = fit.with_model(params.model)
        except AnalysisError as exc:  # keep the chosen model rather than lose the curve
            fit_error = f"model {params.model!r} could not be reported ({exc}); showing {fit.model}"

    curated = evidence == "down_reports" and incident.sampling_for(down_sources(down_reports(data.reports))) == "curated"
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
    events = events_table(incident, reports=data.reports, derived=derived)

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
        area_fits=area_fits,
        misfits=find_misfits(getattr(fit, "diagnostics", None), width) if evidence == "down_reports" else [],
        as_of=as_of,
    )
    analysis.metrics = build_metrics(analysis)
    return analysis


def after_declaration(down: pl.DataFrame, declared: dt.datetime) -> dict[str, Any]:
    """Model-free facts about reports after the outage was declared resolved.

    ``reports_after``: down reports whose time (or whole window) is after the declaration;
    ``reports_possibly_after``: windowed reports straddling it; ``municipalities_after``:
    distinct municipalities among the former; ``last_report_hours_after``: from the
    declaration to the end of the last down report (or its window).
    """
    end = pl.coalesce("reported_until", "reported_at")
    after = pl.col("reported_at") > declared
    straddles = (
        (pl.col("reported_at") <= declared) & pl.col("reported_until").is_not_null() & (pl.col("reported_until") > declared)
    )
    # one pass over the columns it needs: no filtered copies of a large table
    counts = (
        down.lazy()
        .select(
            pl.col("weight").filter(after).sum().alias("after"),
            pl.col("weight").filter(straddles).sum().alias("maybe"),
            pl.col("nis_code").filter(after & pl.col("municipality").is_not_null()).n_unique().alias("places"),
            end.max().alias("last"),
        )
        .collect()
    )
    last = counts["last"][0] if down.height else None
    return {
        "reports_after": int(counts["after"][0] or 0),
        "reports_possibly_after": int(counts["maybe"][0] or 0),
        "municipalities_after": int(counts["places"][0]),
        "last_report_hours_after": m.clean_number((last - declared).total_seconds() / 3600, 2)
        if last and last > declared
        else None,
    }


def last_statements(down: pl.DataFrame) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The last down report with an exact time and the last one known only by a window.

    They are kept apart because they say different things: a timed statement is a
    moment someone was without service; a dated one ("Wednesday", "Tuesday morning") only
    bounds it. The windowed one is the window ending last (ties: starting last). Each is
    ``{"time"}`` or ``{"from", "until"}`` (UTC datetimes) with ``place``: the municipality,
    else the place as written; ``None`` when there is no such report.
    """
    place = pl.coalesce("municipality", "place_raw") if "municipality" in down.columns else pl.col("place_raw")
    timed = down.filter(pl.col("reported_until").is_null()).sort("reported_at")
    dated = down.filter(pl.col("reported_until").is_not_null()).sort("reported_until", "reported_at")
    last_timed = {"time": timed["reported_at"][-1], "place": timed.select(place)[-1].item()} if timed.height else None
    last_dated = (
        {"from": dated["reported_at"][-1], "until": dated["reported_until"][-1], "place": dated.select(place)[-1].item()}
        if dated.height
        else None
    )
    return last_timed, last_dated


def curated_summary(a: Analysis) -> dict[str, Any]:
    """Model-free facts the report leads with when the evidence is curated statements.

    Counts of statements (after the "resolved" declaration and from how many
    municipalities), the last timed and the last dated statement, and the operator's
    announcements as claims. Times are ISO 8601 in the incident's timezone.
    """
    inc, tz, down = a.incident, a.incident.timezone, a.down
    timed, dated = last_statements(down)
    resolved = inc.declared_resolved
    # "after the declaration" counts the incident's own service only (another service's trouble is listed apart)
    after = after_declaration(a.service_down, resolved.time) if resolved is not None else {}
    return {
        "n_statements": int(down["weight"].sum()) if down.height else 0,
        "declared_resolved": m.iso(resolved.time, tz) if resolved is not None else None,
        "declared_resolved_label": resolved.label if resolved is not None else None,
        "statements_after_declaration": after.get("reports_after"),
        "statements_possibly_after_declaration": after.get("reports_possibly_after"),
        "municipalities_after_declaration": after.get("municipalities_after"),
        "last_timed_statement": None if timed is None else {"time": m.iso(timed["time"], tz), "place": timed["place"]},
        "last_dated_statement": None
        if dated is None
        else {"from": m.iso(dated["from"], tz), "until": m.iso(dated["until"], tz), "place": dated["place"]},
        "operator_statements": [
            {"time": m.iso(e.time, tz), "label": e.label, "source": e.source, "resolved": e.resolved} for e in inc.announcements
        ],
    }


def first_signal(down: pl.DataFrame) -> dict[str, Any] | None:
    """The earliest down report: ``{"from", "until"}`` (``until`` ``None`` when its time is exact).

    Among the reports starting earliest, an exactly timed one wins; otherwise the signal is
    known only within the narrowest of their windows.
    """
    if down.height == 0:
        return None
    first = down["reported_at"].min()
    rows = down.filter(pl.col("reported_at") == first)
    if rows["reported_until"].null_count():
        return {"from": first, "until": None}
    return {"from": first, "until": rows["reported_until"].min()}


def detection(a: Analysis) -> dict[str, Any]:
    """When the outage was first signalled and first acknowledged, computed from the data and the timeline.

    ``first_signal``: the earliest down report about the incident's service (a window when
    only its window is known). ``first_acknowledgement``: the earliest event of kind
    ``announcement`` (the operator's first public word). ``time_to_detect_minutes`` is the
    first signal minus the onset, and is ``None`` (shown as unknown) when the onset was
    configured rather than observed or estimated: a configured onset is usually the time
    of the first complaints, so the gap would be zero by construction.
    ``time_to_acknowledge_minutes``: from the first signal to the acknowledgement, as
    ``[low, high]`` when the signal is known only within a window.
    """
    inc, tz = a.incident, a.incident.timezone
    onset = a.fit.onset if a.fit is not None else inc.onset
    onset_source = "config" if inc.onset is not None else ("estimated" if a.fit is not None else None)
    signal = first_signal(a.service_down)
    ack = inc.announcements[0] if inc.announcements else None

    def minutes(later: dt.datetime | None, earlier: dt.datetime | None) -> float | None:
        return None if later is None or earlier is None else m.clean_number((later - earlier).total_seconds() / 60, 1)

    detect = None
    if signal is not None and onset is not None and onset_source in ("estimated", "observed"):
        detect = minutes(signal["from"], onset)
    to_ack: list[float | None] | None = None
    if signal is not None and ack is not None:
        latest = signal["until"] or signal["from"]
        to_ack = [minutes(ack.time, latest), minutes(ack.time, signal["from"])]
    return {
        "onset": m.iso(onset, tz),
        "onset_source": onset_source,
        "first_signal": None if signal is None else m.iso(signal["from"], tz),
        "first_signal_until": None if signal is None or signal["until"] is None else m.iso(signal["until"], tz),
        "first_acknowledgement": None if ack is None else m.iso(ack.time, tz),
        "first_acknowledgement_label": None if ack is None else ack.label,
        "first_acknowledgement_source": None if ack is None else ack.source,
        "time_to_detect_minutes": detect,
        "time_to_acknowledge_minutes": to_ack,
        "acknowledged_after_onset_minutes": minutes(ack.time if ack else None, onset),
    }


def customer_impact(a: Analysis) -> dict[str, Any]:
    """Impact in customer-hours when the number of affected customers is known.

    ``basis``: ``series`` (a customers-out series integrates itself), ``model`` (affected
    customers × the fitted mean outage, with its interval), ``operator_timeline`` (curated
    statements measure no durations: affected customers × the time from onset to the
    declared resolution, a figure resting on the operator's own timeline), or ``None`` with
    ``reason`` when it cannot be computed.
    """
    inc, fit = a.incident, a.fit
    out: dict[str, Any] = {
        "affected_customers": inc.affected_customers,
        "customer_hours": None,
        "customer_hours_ci": None,
        "basis": None,
        "reason": None,
    }
    if a.evidence == "online_fraction" and fit is not None:
        est = fit.customer_hours_lost(None)
        return out | {
            "customer_hours": m.clean_number(est.value, 0),
            "customer_hours_ci": m.interval(est.low, est.high, 0),
            "basis": "series",
        }
    if not inc.affected_customers:
        return out | {"reason": "affected_unknown"}
    onset = fit.onset if fit is not None else inc.onset
    if a.curated:
        resolved = inc.declared_resolved
        if resolved is None or onset is None:
            return out | {"reason": "no_declared_resolution"}
        hours = (resolved.time - onset).total_seconds() / 3600
        return out | {"customer_hours": m.clean_number(inc.affected_customers * hours, 0), "basis": "operator_timeline"}
    if fit is None:
        return out | {"reason": "no_fit"}
    est = fit.customer_hours_lost(inc.affected_customers)
    return out | {
        "customer_hours": m.clean_number(est.value, 0),
        "customer_hours_ci": m.interval(est.low, est.high, 0),
        "basis": "model",
    }


def readings_left_out(quality: pl.DataFrame, tz: str) -> list[dict[str, Any]]:
    """The readings of a series inside the fitted window that the fit did not use, with their flag.

    Readings before the onset or after the end are outside the window, not defects, and are
    only counted (``recovery.readings``); these are the ones a reader checks against the feed.
    """
    left = quality.filter(~pl.col("used") & ~pl.col("flag").is_in(["before_onset", "after_end"]))
    return [
        {"time": m.iso(t, tz), "flag": f, "out": m.clean_number(o, 1)}
        for t, f, o in left.select("observed_at", "flag", "out").iter_rows()
    ]


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
        "n_windowed_reports": int(reports["reported_until"].is_not_null().sum()),
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
                reports.select(pl.col("nis_code").filter(pl.col("municipality").is_not_null()).n_unique()).item()
            )
        },
        "sources": [{k: v for k, v in s.__dict__.items() if k in SOURCE_METRICS} for s in data.sources],
    }
    if a.has_geography:
        from analysis.spatial_report import areas_metrics, equal_recovery_metrics, regions_metrics

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
    if a.evidence == "online_fraction" and a.fit is not None:
        doc["series_readings_left_out"] = readings_left_out(a.fit.data_quality, tz)
        est = a.fit.customer_hours_lost(None)
        doc["recovery"]["customer_hours_lost"] = m.clean_number(est.value, 0)
        doc["recovery"]["customer_hours_lost_ci"] = m.interval(est.low, est.high, 0)
    if a.area_fits:
        doc["series_areas"] = {name: fit.to_metrics() for name, fit in sorted(a.area_fits.items())}
    resolved = inc.declared_resolved
    if resolved is not None:
        entry = next(
            (x for x in doc["announcements"] if x["time"] == m.iso(resolved.time, tz) and x["label"] == resolved.label), None
        )
        doc["declared_resolved"] = None if entry is None else entry | after_declaration(a.service_down, resolved.time)
    doc["evidence_sampling"] = a.sampling
    doc["curated_summary"] = curated_summary(a) if a.curated else None
    doc["misfits"] = [x.to_metrics(tz) for x in a.misfits]
    doc["service_filter"] = {
        "services": list(a.services),
        "n_down_reports": int(a.service_down["weight"].sum()) if a.service_down.height else 0,
        "other_services": a.other_services,
    }
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
