"""Post-mortem facts computed from the data: the incident's service, what followed the declaration, detection and customer impact.

Each function reads an analysed incident (or its down reports) and returns plain values for
``metrics.json`` and the report; nothing here fits or draws.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import polars as pl

from analysis import metrics as m

if TYPE_CHECKING:
    from analysis.pipeline import Analysis


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
