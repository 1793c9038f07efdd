"""The tables of ``incident.toml`` besides the sources: ``[origin]``, ``[[events]]``, ``[reporting]``, ``[geography]``, onset and end."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from zoneinfo import ZoneInfo

from analysis.config.model import Event, Geography, Origin, Reporting
from analysis.config.reader import _inside, _label, _Reader, check_boundary_file, event_labels
from analysis.errors import quote
from analysis.postmortem import parse_when
from analysis.timeparse import parse_config_time
from analysis.vocab import (
    EVENT_KINDS,
)


def _noticing(rp: Any) -> bool | Literal["pooled"]:
    """``[reporting] noticing``: true, false or "pooled" (the default: both reporting hypotheses, pooled)."""
    value = rp.get("noticing", (bool, str))
    if value is None:
        return "pooled"
    if isinstance(value, str) and value != "pooled":
        raise rp.fail("noticing", f'expected true, false or "pooled", got {quote(value)}')
    return "pooled" if isinstance(value, str) else bool(value)


def _profile(rp: Any) -> Literal["assumed", "estimated", "shared", "quiet"]:
    """``[reporting] profile``: "quiet" (the default without a stated profile), "assumed", "estimated" or "shared".

    "quiet": learned from the reports before the onset when there are enough, else assumed.
    """
    value = rp.get("profile", str)
    if value is None:
        return "assumed" if rp.table.get("hourly_propensity") is not None else "quiet"
    if value == "estimated":
        return "estimated"
    if value == "quiet":
        return "quiet"
    if value == "shared":
        if rp.table.get("hourly_propensity") is None:
            raise rp.fail("profile", '"shared" is the stated hourly_propensity estimated from other incidents: state it too')
        return "shared"
    if value != "assumed":
        raise rp.fail("profile", f'expected "assumed", "estimated", "shared" or "quiet", got {quote(value)}')
    return "assumed"


def _delay_minutes(rp: Any) -> float:
    """``[reporting] delay_minutes``: the median reporting delay, a finite number of minutes ≥ 0 (at most a week)."""
    value = rp.get("delay_minutes", float)
    if value is None:
        return 0.0
    if not math.isfinite(value) or not 0 <= value <= 7 * 1440:
        raise rp.fail("delay_minutes", f"expected minutes between 0 and 10080, got {value}")
    return float(value)


def _parse_origin(r: _Reader) -> Origin | None:
    """``[origin]``: where the fault was (a name in each language, WGS84 coordinates), or ``None``."""
    if (o := r.sub("origin")) is None:
        return None
    lat = o.get("lat", float, required=True)
    lon = o.get("lon", float, required=True)
    if not (-90 <= lat <= 90) or not (-180 <= lon <= 180):
        raise o.fail("lat", f"({lat}, {lon}) is not a WGS84 coordinate")
    raw_name = o.table.get("name")
    o.used.add("name")
    names = {k: _label(v) or "" for k, v in event_labels(o, raw_name, "name").items()} if raw_name is not None else {}
    o.check_unknown()
    return Origin(name=names.get("en") or "origin", lat=lat, lon=lon, names=MappingProxyType(names))


def _parse_events(r: _Reader, tz: ZoneInfo) -> list[Event]:
    """``[[events]]``: the timeline's milestones (at most ``MAX_EVENTS``), each time in the incident's timezone."""
    config_path = r.path
    events = []
    raw_events = r.get("events", list) or []
    from analysis.limits import limit

    if len(raw_events) > (most := int(limit("MAX_EVENTS"))):
        raise r.fail(
            "events", f"{len(raw_events)} events, more than {most} (limit POSTMORTEM_MAX_EVENTS; a timeline is for milestones)"
        )
    for i, ev in enumerate(raw_events):
        if not isinstance(ev, dict):
            raise r.fail(f"events[{i}]", "expected a table ([[events]])")
        e = _Reader(config_path, ev, f"events[{i}].")
        e.used.add("time")
        if "time" not in ev:
            raise e.fail("time", "is required but missing")
        when = parse_when(ev["time"], tz, where=f"{config_path}: key 'events[{i}].time'")
        events.append(
            Event(
                time=when.time,
                date_only=when.date_only,
                label=(labels := {k: _label(v) or "" for k, v in event_labels(e, ev.get("label")).items()})["en"],
                labels=MappingProxyType(labels),
                kind=e.choice("kind", EVENT_KINDS, "other"),  # type: ignore[arg-type]
                source=_label(e.get("source", str)),
                resolved=bool(e.get("resolved", bool) or False),
            )
        )
        e.check_unknown()
    return events


def _parse_reporting(r: _Reader) -> Reporting:
    """``[reporting]``: how people report (hourly propensity, surge, noticing, delay); defaults when absent."""
    reporting = Reporting()
    if (rp := r.sub("reporting")) is not None:
        prop = rp.get("hourly_propensity", list)
        if prop is not None:
            if len(prop) != 24 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in prop):
                raise rp.fail("hourly_propensity", f"expected 24 numbers (one per local hour 0..23), got {len(prop)} values")
            if any(not math.isfinite(x) or x <= 0 for x in prop):
                raise rp.fail("hourly_propensity", "weights must be finite and > 0")
            prop = tuple(float(x) for x in prop)
        reporting = Reporting(
            hourly_propensity=prop,
            surge=bool(rp.get("surge", bool) or False),
            noticing=_noticing(rp),
            profile_uncertainty=bool(rp.get("profile_uncertainty", bool) or False),
            profile=_profile(rp),
            delay_minutes=_delay_minutes(rp),
        )
        rp.check_unknown()
    return reporting


def _parse_nowcast(r: _Reader, folder: Path) -> tuple[Path | None, Path | None]:
    """``[nowcast] history`` and ``skill``: CSVs of past incidents and of replayed forecasts, inside the folder (docs/nowcast.md)."""
    if (n := r.sub("nowcast")) is None:
        return None, None
    history, skill = n.get("history", str), n.get("skill", str)
    n.check_unknown()
    return tuple(  # type: ignore[return-value]
        _inside(folder, v, f"{r.path}: key 'nowcast.{k}'") if v is not None else None
        for k, v in (("history", history), ("skill", skill))
    )


def _parse_geography(r: _Reader, folder: Path) -> Geography:
    """``[geography]``: the user's own areas and exposure files (inside the incident folder); defaults when absent."""
    config_path = r.path
    geography = Geography()
    if (g := r.sub("geography")) is not None:
        b = g.get("boundaries", str)
        x = g.get("exposure", str)
        geography = Geography(
            boundaries=_inside(folder, b, f"{config_path}: key 'geography.boundaries'") if b else None,
            boundaries_key=g.get("boundaries_key", str),
            boundaries_name=g.get("boundaries_name", str),
            level=g.get("level", str) or "area",
            exposure=_inside(folder, x, f"{config_path}: key 'geography.exposure'") if x else None,
            exposure_key=g.get("exposure_key", str),
            exposure_column=g.get("exposure_column", str),
            exposure_kind=g.choice("exposure_kind", ("customers", "population"), "population"),  # type: ignore[arg-type]
        )
        if geography.boundaries:
            check_boundary_file(geography.boundaries, folder, where=f"{config_path}: key 'geography.boundaries'")
        if geography.boundaries and not geography.boundaries_key:
            raise g.fail("boundaries_key", "is required when 'boundaries' is given (the area id column)")
        if geography.exposure and not (geography.exposure_key and geography.exposure_column):
            raise g.fail("exposure_key", "'exposure_key' and 'exposure_column' are required with 'exposure'")
        g.check_unknown()
    return geography


def _parse_window(r: _Reader, tz: ZoneInfo) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``onset`` and ``end`` in UTC (local times in the incident's timezone): end after onset, within the span limit."""
    raw, config_path = r.table, r.path

    def _time(name: str) -> dt.datetime | None:
        r.used.add(name)
        if name not in raw:
            return None
        return parse_config_time(raw[name], tz, where=f"{config_path}: key '{name}'")

    onset = _time("onset")
    end = _time("end")
    if onset and end and end <= onset:
        raise r.fail("end", f"must be after onset ({onset.isoformat()})")
    if onset and end:
        from analysis.limits import limit

        span = limit("MAX_SPAN_DAYS")
        if (end - onset).total_seconds() > span * 86400:
            raise r.fail(
                "end", f"{(end - onset).days} days after onset, more than {span:g} (limit POSTMORTEM_MAX_SPAN_DAYS; a typo?)"
            )
    return onset, end
