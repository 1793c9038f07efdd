"""Fitting the recovery curve to the best evidence an incident has, and the window it is observed in.

Per-customer restoration records beat a customers-out series, which beats down reports
(:func:`evidence_kind`, decided from the data before any fit). :func:`fit_evidence` runs the
fit with the incident's timezone, reporting profile and policies; the pipeline, the nowcast and
the spatial analysis all fit through it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from analysis.config import Incident
from analysis.errors import AnalysisError, FitError
from analysis.facts import service_reports
from analysis.ingest import IngestResult
from analysis.params import ReportParams
from analysis.timeline import down_reports

DEFAULT_TAIL_HOURS = 48


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
    # the reports about the incident's own service(s) (all when none is configured), and of
    # them only the columns the fit reads (a filter below copies only these, not the whole table)
    reports = service_reports(data.reports, incident.postmortem.service)
    down = down_reports(reports).select(c for c in ("reported_at", "reported_until", "weight", "source") if c in reports.columns)
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
        profile=incident.reporting.profile,
        delay_minutes=incident.reporting.delay_minutes,
        **common,
    )
    return FitOutcome(fit, evidence)


def fit_with_choice(
    incident: Incident, data: IngestResult, params: ReportParams, *, end: dt.datetime
) -> tuple[FitOutcome | None, str | None]:
    """:func:`fit_evidence` then the model the user chose (``params.model``): ``(outcome, error)``.

    A fit that fails gives ``(None, its message)``; a chosen model that cannot be reported
    keeps the curve of the selected one, with the reason as the message.
    """
    try:
        outcome = fit_evidence(incident, data, params, end=end)
    except AnalysisError as exc:
        return None, str(exc)
    if outcome.fit is None or params.model == "auto":
        return outcome, None
    try:
        outcome.fit = outcome.fit.with_model(params.model)
    except AnalysisError as exc:  # keep the chosen model rather than lose the curve
        return outcome, f"model {params.model!r} could not be reported ({exc}); showing {outcome.fit.model}"
    return outcome, None


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
        cols = data.restorations.columns
        firsts.append(
            data.restorations.select(
                pl.min_horizontal(*(c for c in ("observed_at", "restored_after", "restored_before", "started_at") if c in cols))
            )
            .min()
            .item()
        )
    if data.online.height:
        firsts.append(data.online["observed_at"].min())
    firsts = [t for t in firsts if t is not None]
    return min(firsts) if firsts else None


def shared_profile(folders: list[Any], *, families: Any = "all") -> dict[str, Any]:
    """One clock profile from the down reports of several incident folders of one population.

    Each folder is read as ``postmortem fit`` reads it (exactly timed down reports of
    spontaneous sources, the configured onset or one estimated from the reports, the end of
    observation); the profile is estimated by :func:`analysis.recovery.estimate_shared_profile`
    around the incidents' own stated profile (all alike) or the default. Returns the JSON
    ``postmortem profile`` prints: ``hourly_propensity`` and what it was estimated from.
    """
    from analysis.config import load_incident
    from analysis.errors import ParameterError
    from analysis.ingest import ingest_incident
    from analysis.recovery.shared_profile import estimate_shared_profile

    incidents, rows, zones, stated = [], [], set(), set()
    for folder in folders:
        incident = load_incident(folder)
        data = ingest_incident(incident, geocode=False)
        reports = service_reports(data.reports, incident.postmortem.service)
        down = down_reports(reports)
        if incident.sampling_for(down_sources(down)) == "curated":
            raise ParameterError(
                f"{folder}: its down reports are curated statements, which say nothing about when customers report"
            )
        point = down.filter(pl.col("reported_until").is_null())
        times = np.repeat(point["reported_at"].to_numpy(), point["weight"].to_numpy())
        if times.size < 200:
            raise ParameterError(f"{folder}: {times.size} exactly timed down report(s); a clock profile needs at least 200")
        incidents.append((times, incident.onset, observation_end(incident, reports)))
        zones.add(incident.timezone)
        stated.add(incident.reporting.hourly_propensity)
        rows.append({"folder": str(folder), "reports": int(times.size)})
    if len(zones) > 1 or len(stated) > 1:
        raise ParameterError("incidents: one population's incidents share a timezone and a stated hourly_propensity (or none)")
    base = next(iter(stated))
    est = estimate_shared_profile(incidents, timezone=next(iter(zones)), propensity=base, families=families)
    for row, model, phi in zip(rows, est.models, est.dispersion, strict=True):
        row.update({"model": model, "dispersion": round(phi, 2)})
    return {
        "hourly_propensity": [round(x, 4) for x in est.hourly],
        "coefficients": {k: round(v, 4) for k, v in est.coefficients.items()},
        "centred_on": "stated" if base is not None else "default",
        "incidents": rows,
    }
