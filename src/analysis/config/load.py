"""``load_incident``: ``incident.toml`` read, every table parsed and checked, the frozen ``Incident`` built."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analysis.config.model import INCIDENT_ID, RESERVED_IDS, Incident, log
from analysis.config.reader import _label, _read_config, _Reader, event_labels
from analysis.config.sections import (
    _parse_events,
    _parse_geography,
    _parse_nowcast,
    _parse_origin,
    _parse_reporting,
    _parse_window,
)
from analysis.config.source import _parse_sources
from analysis.errors import quote
from analysis.postmortem import parse_postmortem


def load_incident(path: str | Path) -> Incident:
    """Read and validate ``incident.toml`` (or the folder holding it).

    Raises :class:`ConfigError` naming the file and key for any problem: a missing or
    unknown key, a wrong type, an unknown timezone, a source path outside the folder.
    """
    config_path, raw = _read_config(path)
    folder = config_path.parent
    r = _Reader(config_path, raw)

    incident_id = r.get("id", str, required=True).strip()
    if not INCIDENT_ID.fullmatch(incident_id) or incident_id.lower() in RESERVED_IDS:
        raise r.fail(
            "id",
            f"must be 1–100 letters, digits, '.', '_' or '-', not starting with '.' and not one of "
            f"{', '.join(sorted(RESERVED_IDS))}; got {quote(incident_id, 60)}",
        )
    titles = {k: _label(v.strip()) or "" for k, v in event_labels(r, r.table.get("title"), "title").items()}
    title = titles["en"]
    tz_name = r.get("timezone", str, required=True)
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail("timezone", f"unknown IANA timezone {tz_name!r} (e.g. 'Europe/Brussels')") from None

    onset, end = _parse_window(r, tz)

    raw_description = r.table.get("description")
    descriptions = (
        {k: _label(v, 2000) or "" for k, v in event_labels(r, raw_description, "description").items()}
        if raw_description is not None
        else {}
    )
    r.used.add("description")
    description = descriptions.get("en")
    affected = r.get("affected_customers", int)
    if affected is not None and affected <= 0:
        raise r.fail("affected_customers", f"must be a positive integer, got {affected}")
    simulated = bool(r.get("simulated", bool) or False)

    origin = _parse_origin(r)
    events = _parse_events(r, tz)
    reporting = _parse_reporting(r)
    geography = _parse_geography(r, folder)
    nowcast_history, nowcast_skill = _parse_nowcast(r, folder)
    sources = _parse_sources(r, folder)
    r.used.add("postmortem")
    postmortem = parse_postmortem(config_path, raw.get("postmortem"), tz)
    r.check_unknown()

    if incident_id != (folder_name := folder.resolve().name):  # "." names the folder it resolves to
        log.warning(
            "%s: id '%s' differs from its folder name '%s' (reports go to <out>/%s/)",
            config_path,
            incident_id,
            folder_name,
            incident_id,
        )
    return Incident(
        id=incident_id,
        title=title,
        titles=MappingProxyType(titles),
        descriptions=MappingProxyType(descriptions),
        timezone=tz_name,
        folder=folder.resolve(),
        config_path=config_path.resolve(),
        sources=sources,
        onset=onset,
        end=end,
        origin=origin,
        events=tuple(sorted(events, key=lambda e: e.time)),
        reporting=reporting,
        geography=geography,
        description=description,
        affected_customers=affected,
        simulated=simulated,
        postmortem=postmortem,
        nowcast_history=nowcast_history,
        nowcast_skill=nowcast_skill,
    )
