"""As-of analysis and live nowcast: what the evidence in hand at a time T says, and when service returns.

Three pieces, all pure functions of the ingested tables and a fit:

* :func:`observed_by` keeps only what had been observed by T — down reports stamped by T
  (a window still open at T is cut at T), restoration records and series readings up to
  T — *before* any fit, so nothing later can leak into an as-of number.
* :func:`nowcast` turns the recovery fit of that truncated evidence into the live numbers:
  the share still out at T, the clock times at which 50 % and 90 % will be restored (each
  with an interval), what is still to come, and how old the newest evidence is.
  An ETA combines, on the log scale, the fit's crossing (its bootstrap interval read as a
  normal), extrapolations of the recovery so far, the share restored read through the
  recovery's shape (:mod:`analysis.nowcast_shape`) and a log-normal duration prior scaled
  by the size of the event (:class:`DurationPrior`: assumed, or learned from past
  incidents with ``[nowcast] history``, :mod:`analysis.nowcast_history`), averaged over
  which pieces to trust and conditioned on "not reached yet at T" (:func:`eta_forecast`,
  :func:`analysis.nowcast_eta.model_average`; docs/nowcast.md). While a series' count may not
  have peaked yet (:func:`peak_may_be_ahead`) the forecast is mixed with the prior alone.
* :func:`communications_review` replays the analysis at each announcement of the incident
  and sets the as-of estimate beside the retrospective one.

Reporting delay. Reports of customers who were out before T may still be on their way at T
(call-centre tickets logged late, press statements stamped with the time they describe).
With ``[reporting] delay_minutes`` set, the fit multiplies the expected count of each bin
by the share of its reports that has arrived by the end of observation,
F(T − t) for a log-normal delay of that median (σ ``DELAY_SIGMA``) — as epidemic
nowcasting does — so the last hours' thin counts are not read as recovery;
:func:`pending_reports` says how many are still expected for hours already passed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from analysis.config import Incident
from analysis.errors import ConfigError, ParameterError, quote
from analysis.ingest import IngestResult
from analysis.nowcast_eta import (  # noqa: F401 (the public names of the forecast, kept here)
    DurationPrior,
    EtaForecast,
    eta_forecast,
    eta_forecasts,
    event_size,
    log_spread,
    peak_may_be_ahead,
    progress_eta,
    rate_eta,
    series_progress,
    truncated_lognormal,
    weighted_crps,
    with_prior_mixed_in,
)
from analysis.nowcast_history import PastEvent, read_history
from analysis.nowcast_skill import read_replays, skill_for
from analysis.recovery.reports import arrival_share
from analysis.recovery.result import Estimate
from analysis.timeparse import localize

if TYPE_CHECKING:
    from analysis.pipeline import Analysis


def parse_as_of(text: str | dt.datetime, timezone: str) -> dt.datetime:
    """An as-of time as an aware UTC datetime; a naive time is local to the incident's timezone.

    Raises :class:`ParameterError` for text that is not an ISO 8601 time or a local time
    that does not exist (or exists twice) in ``timezone``.
    """
    if isinstance(text, dt.datetime):
        t = text
    else:
        try:
            t = dt.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ParameterError(f"parameter 'as_of': not an ISO 8601 time: {quote(text)}") from None
    if t.tzinfo is None:
        try:
            t = localize(t, ZoneInfo(timezone), where="parameter 'as_of'")
        except ConfigError as exc:
            raise ParameterError(str(exc)) from None
    return t.astimezone(dt.UTC)


def observed_by(data: IngestResult, as_of: dt.datetime) -> IngestResult:
    """The evidence as it stood at ``as_of`` (UTC): nothing observed later is kept.

    * Down reports stamped after ``as_of`` are dropped; a report window still open at
      ``as_of`` ends there.
    * Series readings after ``as_of`` are dropped.
    * Restoration records (every one a customer of the incident): a customer restored, or
      seen still down, after ``as_of`` was still out at ``as_of`` — the record becomes
      "still down at ``as_of``" (right-censored there); one restored within a window ending
      after ``as_of`` becomes "still down at the window's start" (or at ``as_of`` when the
      window starts later); one known only as "restored before" a later time says nothing
      by then and is dropped. A record whose own outage start (``started_at``) is after
      ``as_of`` is not known yet and is dropped too.

    Rejects stay as they are (they never reach a fit).
    """
    t = pl.lit(as_of, dtype=pl.Datetime("us", "UTC"))
    reports = data.reports.filter(pl.col("reported_at") <= t).with_columns(
        pl.when(pl.col("reported_until") > t).then(t).otherwise(pl.col("reported_until")).alias("reported_until")
    )
    rest = data.restorations
    if rest.height and "started_at" in rest.columns:
        rest = rest.filter(pl.col("started_at").is_null() | (pl.col("started_at") <= t))
    if rest.height:
        late_point = pl.col("observed_at").is_not_null() & (pl.col("observed_at") > t)
        late_window = pl.col("observed_at").is_null() & (pl.col("restored_before") > t)
        # every record is a customer of the incident: one restored after T was still out at T
        down_since = pl.when(pl.col("restored_after") > t).then(t).otherwise(pl.col("restored_after"))
        rest = rest.filter(
            ~(late_window & pl.col("restored_after").is_null())
        ).with_columns(  # "restored before a later time": nothing known at T
            pl.when(late_point).then(t).when(late_window).then(down_since).otherwise(pl.col("observed_at")).alias("observed_at"),
            pl.when(late_point | late_window).then(pl.lit(False)).otherwise(pl.col("restored")).alias("restored"),
            pl.when(late_window).then(None).otherwise(pl.col("restored_after")).alias("restored_after"),
            pl.when(late_window).then(None).otherwise(pl.col("restored_before")).alias("restored_before"),
        )
    online = data.online.filter(pl.col("observed_at") <= t) if data.online.height else data.online
    return dataclasses.replace(data, reports=reports, restorations=rest, online=online)


def incident_as_of(incident: Incident, as_of: dt.datetime) -> Incident:
    """The incident as configured at ``as_of``: observation ends there, later events are not known yet."""
    end = as_of if incident.end is None or incident.end > as_of else incident.end
    if incident.onset is not None and incident.onset >= as_of:
        raise ParameterError(
            f"parameter 'as_of': {as_of.isoformat()} is not after the incident's onset ({incident.onset.isoformat()})"
        )
    return dataclasses.replace(incident, end=end, events=tuple(e for e in incident.events if e.time <= as_of))


def pending_reports(down: pl.DataFrame, as_of: dt.datetime, median_minutes: float, *, bin_minutes: float = 15.0) -> float:
    """Reports stamped before ``as_of`` that have not arrived yet (expected number).

    Each ``bin_minutes`` bin of c arrived reports whose delay distribution says a share F
    has arrived is expected to hold c / F in the end: c (1 − F) / F are still to come.
    """
    if not median_minutes > 0 or down.height == 0:
        return 0.0
    age = (as_of - down["reported_at"]).dt.total_seconds().to_numpy() / 60.0
    age = age[age >= 0]
    if not age.size:
        return 0.0
    idx = np.floor(age / bin_minutes).astype(int)
    counts = np.bincount(idx)
    mids = (np.arange(counts.size) + 0.5) * bin_minutes
    f = np.clip(arrival_share(mids, median_minutes), 1e-3, 1.0)
    return float(np.sum(counts * (1 - f) / f))


@dataclass(frozen=True)
class Nowcast:
    """The live numbers at one as-of time (UTC datetimes; minutes after onset in the forecasts)."""

    incident_id: str
    timezone: str
    as_of: dt.datetime
    onset: dt.datetime
    evidence: str
    model: str | None
    level: float
    still_out: Any
    etas: dict[str, EtaForecast]
    last_observation: dt.datetime | None
    reports_pending: float | None = None
    still_out_meaning: str = "share of affected customers"
    peak_may_be_ahead: str | None = None
    #: where the duration prior came from: "assumed", or learned from past incidents (None: no prior)
    prior: str | None = None
    #: replayed pieces of past incidents of this evidence kind that scaled the pieces' spreads (None: not used)
    skill_replays: int | None = None

    @property
    def data_age_minutes(self) -> float | None:
        """Minutes from the newest piece of evidence to the as-of time."""
        if self.last_observation is None:
            return None
        return max(0.0, (self.as_of - self.last_observation).total_seconds() / 60.0)

    def onset_time(self, minutes: float) -> dt.datetime | None:
        """Minutes after onset as a UTC time (None when not a time anyone could read)."""
        if not math.isfinite(minutes) or abs(minutes) > 60 * 24 * 366 * 20:
            return None
        return self.onset + dt.timedelta(minutes=float(minutes))

    def clock(self, minutes: float) -> str | None:
        """Minutes after onset as an ISO time with the incident's offset."""
        from analysis.metrics import iso

        if not math.isfinite(minutes) or abs(minutes) > 60 * 24 * 366 * 20:
            return None
        return iso(self.onset + dt.timedelta(minutes=float(minutes)), self.timezone)

    def to_json(self) -> dict[str, Any]:
        """The one-line document of ``postmortem nowcast`` (times ISO with the incident's offset)."""
        from analysis.metrics import clean_number, interval, iso

        doc: dict[str, Any] = {
            "incident_id": self.incident_id,
            "as_of": iso(self.as_of, self.timezone),
            "still_out": clean_number(self.still_out.value),
            "still_out_ci": interval(self.still_out.low, self.still_out.high),
            "still_out_meaning": self.still_out_meaning,
        }
        reached: dict[str, str | None] = {}
        for key, f in self.etas.items():
            if f.reached:
                doc[f"eta_{key}"] = None
                doc[f"eta_{key}_ci"] = None
                reached[key] = self.clock(f.reached_minutes)
            elif f.samples.size:
                lo, hi = f.interval(self.level)
                doc[f"eta_{key}"] = self.clock(f.median)
                doc[f"eta_{key}_ci"] = [self.clock(lo), self.clock(hi)]
                reached[key] = None
            else:
                doc[f"eta_{key}"] = doc[f"eta_{key}_ci"] = reached[key] = None
        doc["reached_at"] = reached
        doc["level"] = self.level
        doc["model"] = self.model
        doc["evidence"] = self.evidence
        doc["onset"] = iso(self.onset, self.timezone)
        doc["data_age_minutes"] = clean_number(self.data_age_minutes, 1)
        doc["reports_pending"] = clean_number(self.reports_pending, 1)
        doc["peak_may_be_ahead"] = self.peak_may_be_ahead
        doc["prior"] = self.prior
        doc["skill_replays"] = self.skill_replays
        return doc


def _last_observation(data: IngestResult) -> dt.datetime | None:
    lasts = []
    if data.reports.height:
        lasts.append(data.reports.select(pl.coalesce("reported_until", "reported_at").max()).item())
    if data.online.height:
        lasts.append(data.online["observed_at"].max())
    if data.restorations.height:
        lasts.append(data.restorations.select(pl.max_horizontal("observed_at", "restored_after", "restored_before").max()).item())
    lasts = [t for t in lasts if t is not None]
    return max(lasts) if lasts else None


def nowcast_from_fit(
    fit: Any,
    *,
    incident: Incident,
    data: IngestResult,
    evidence: str,
    as_of: dt.datetime,
    level: float,
    prior: bool = True,
    onset: dt.datetime | None = None,
    fit_error: str | None = None,
    history: Sequence[PastEvent] | None = None,
) -> Nowcast:
    """The live numbers from a fit of the evidence observed by ``as_of`` (see the module docstring).

    ``fit`` None (nothing could be fitted yet, e.g. early in a storm whose count still
    rises): the ETAs come from the duration prior alone, the share still out is unknown,
    and ``model`` says so; ``onset`` is then the incident's or the first observation.
    ``history``: past incidents the duration prior is learned from (the incident's own
    id in it is left out); None: the incident's ``[nowcast] history``, if any.
    """
    if history is None and incident.nowcast_history is not None:
        history = read_history(incident.nowcast_history)
    skill = skill_for(read_replays(incident.nowcast_skill), exclude=incident.id) if incident.nowcast_skill else None
    onset = fit.onset if fit is not None else onset
    if onset is None:
        from analysis.errors import FitError

        raise FitError(f"{incident.id}: no onset and no recovery curve to nowcast from: {fit_error or 'nothing to fit'}")
    elapsed = (as_of - onset).total_seconds() / 60.0
    etas = eta_forecasts(
        fit,
        evidence=evidence,
        data=data,
        elapsed=elapsed,
        level=level,
        prior=prior,
        history=history,
        exclude=incident.id,
        skill=skill,
    )
    size = event_size(fit, evidence, data)
    prior_source = DurationPrior.for_event(evidence, size, history, exclude=incident.id).source if prior else None
    pending = None
    if evidence == "down_reports":
        from analysis.facts import service_reports
        from analysis.timeline import down_reports

        counted = down_reports(service_reports(data.reports, incident.postmortem.service))
        pending = pending_reports(counted, as_of, incident.reporting.delay_minutes)
    model = getattr(fit, "model", None) if fit is not None else f"duration prior only (no curve: {fit_error or 'nothing to fit'})"
    return Nowcast(
        incident_id=incident.id,
        timezone=incident.timezone,
        as_of=as_of,
        onset=onset,
        evidence=evidence,
        model=model,
        level=level,
        still_out=fit.still_affected(as_of) if fit is not None else Estimate.nan(),
        etas=etas,
        last_observation=_last_observation(data),
        reports_pending=pending,
        peak_may_be_ahead=peak_may_be_ahead(data, as_of) if prior and evidence == "online_fraction" else None,
        prior=prior_source,
        skill_replays=sum(n for (_, kind, _), n in skill.replays.items() if kind == evidence) if skill and prior else None,
        still_out_meaning="share of the peak still out" if evidence == "online_fraction" else "share of affected customers",
    )


def nowcast(analysis: Analysis, *, prior: bool = True) -> Nowcast:
    """The live numbers of an as-of analysis (its ``as_of``; the end of observation when not set).

    Without a recovery curve (too little evidence yet) the ETAs are the duration prior's.
    """
    from analysis.fitting import first_observation

    as_of = analysis.as_of or analysis.span[1]
    return nowcast_from_fit(
        analysis.fit,
        incident=analysis.incident,
        data=analysis.data,
        evidence=analysis.evidence,
        as_of=as_of,
        level=analysis.params.level,
        prior=prior,
        onset=analysis.incident.onset or first_observation(analysis.data),
        fit_error=analysis.fit_error,
    )


#: Bootstrap replicates of each as-of fit of the communications review (at most; one fit per announcement).
REVIEW_N_BOOT = 100


def review_for(analysis: Analysis) -> pl.DataFrame:
    """:func:`communications_review` of an analysis, computed once and kept on it (renders share it across languages)."""
    review = getattr(analysis, "communications", None)
    if review is None:
        review = analysis.communications = communications_review(analysis)
    return review


def communications_review(analysis: Analysis) -> pl.DataFrame:
    """At each announcement: what the evidence in hand then implied, beside what the full evidence says now.

    One row per announcement of the incident (``[[events]]`` of kind ``announcement``),
    columns ``time`` (UTC), ``label``, ``as_of_still_out`` with ``as_of_low``/``as_of_high``
    (the share still out at that moment, from a fit of only the evidence observed by then,
    with at most :data:`REVIEW_N_BOOT` bootstrap replicates), ``now_still_out`` with
    ``now_low``/``now_high`` (the retrospective fit), and ``note`` (why an as-of estimate
    is missing: before the onset, too little evidence yet, or curated statements, whose
    curve is not a restoration curve and which the review therefore does not replay).
    """
    from analysis.errors import AnalysisError
    from analysis.fitting import fit_evidence

    inc, data = analysis.incident, analysis.data
    params = dataclasses.replace(analysis.params, n_boot=min(analysis.params.n_boot, REVIEW_N_BOOT))
    curated = bool(getattr(analysis, "curated", False))
    rows = []
    for event in inc.announcements:
        row: dict[str, Any] = {"time": event.time, "label": event.label_in(params.language)}
        now = analysis.fit.still_affected(event.time) if analysis.fit is not None else None
        row.update(
            now_still_out=None if now is None else now.value,
            now_low=None if now is None else now.low,
            now_high=None if now is None else now.high,
            as_of_still_out=None,
            as_of_low=None,
            as_of_high=None,
            note=None,
        )
        if curated:
            row["note"] = "curated statements: their curve is not a restoration curve"
            rows.append(row)
            continue
        try:
            then_incident = incident_as_of(inc, event.time)
            then_data = observed_by(data, event.time)
            fit = fit_evidence(then_incident, then_data, params, end=then_incident.end or event.time).fit
            est = fit.still_affected(event.time)
            row.update(as_of_still_out=est.value, as_of_low=est.low, as_of_high=est.high)
        except (AnalysisError, ValueError) as exc:
            row["note"] = str(exc).splitlines()[0][:200]
        rows.append(row)
    schema: dict[str, pl.DataType] = {
        "time": pl.Datetime("us", "UTC"),
        "label": pl.String(),
        "now_still_out": pl.Float64(),
        "now_low": pl.Float64(),
        "now_high": pl.Float64(),
        "as_of_still_out": pl.Float64(),
        "as_of_low": pl.Float64(),
        "as_of_high": pl.Float64(),
        "note": pl.String(),
    }
    return pl.DataFrame(rows, schema=schema)
