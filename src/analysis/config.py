"""Incident configuration (``incident.toml``) as frozen, typed objects, and the project's paths.

Every path the project uses is defined here, so a notebook, the CLI and the tests agree on
where raw data, processed tables and reports live. ``load_incident`` validates the whole
file at once and names the file and the key in every error, so a user fixes a config in
one pass instead of discovering its problems one kernel start at a time.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analysis.errors import ConfigError, quote
from analysis.paths import notebooks_dir, project_root
from analysis.postmortem import PostMortem, parse_postmortem, parse_when
from analysis.schema import CANONICAL_INPUTS
from analysis.timeparse import parse_config_time
from analysis.vocab import (
    DEDUPE_POLICIES,
    EVENT_KINDS,
    SOURCE_KINDS,
    Ambiguous,
    Dedupe,
    EventKind,
    ExposureKind,
    Sampling,
    SourceFormat,
    SourceKind,
)

log = logging.getLogger("analysis.config")

# --------------------------------------------------------------------------- paths

# the checkout, or for an installed package the working directory's project (analysis.paths)
PROJECT_ROOT = project_root()
DATA_RAW = PROJECT_ROOT / "data" / "raw"
DATA_PROCESSED = PROJECT_ROOT / "data" / "processed"
REPORTS = PROJECT_ROOT / "reports"
NOTEBOOKS = notebooks_dir()
INCIDENT_FILE = "incident.toml"
#: An incident id names folders and files: letters, digits and ``. _ -``, at most 100, not
#: starting with a dot, and none of the names the reports root itself uses.
INCIDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
RESERVED_IDS = frozenset({"index.html", "index.json", "render-all.log", "render-all.log.1", "failed"})
#: Boundary files accepted (``[geography] boundaries``), by suffix, with the first bytes each must
#: start with: plain formats only, never a GDAL virtual format (VRT, ``CSV:``, ``/vsi…``) that
#: could make GDAL open a file outside the incident folder.
BOUNDARY_FORMATS: Mapping[str, tuple[str, tuple[bytes, ...]]] = MappingProxyType(
    {
        ".geojson": ("GeoJSON", (b"{",)),
        ".json": ("GeoJSON", (b"{",)),
        ".gpkg": ("GeoPackage", (b"SQLite format 3\x00",)),
        ".shp": ("Shapefile", (b"\x00\x00\x27\x0a",)),
        ".parquet": ("GeoParquet", (b"PAR1",)),
        ".geoparquet": ("GeoParquet", (b"PAR1",)),
    }
)
SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")
MAX_PATH_CHARS = 1000

# --------------------------------------------------------------------------- types

# which rows of a source are duplicates (docs/data-quality.md, "Duplicates"): identity, the
# default, only a repeated report id or the same user/device at the same time; exact, any row
# identical to an earlier one (feeds known to double-post); none, no row

FORMAT_BY_SUFFIX: Mapping[str, str] = MappingProxyType(
    {
        ".csv": "csv",
        ".tsv": "csv",
        ".txt": "csv",
        ".parquet": "parquet",
        ".pq": "parquet",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".xlsx": "xlsx",
    }
)

#: Canonical columns a source may map, per kind (DESIGN.md contracts).
#: A source's ``dedupe`` when its ``[[sources]]`` table does not set one.
DEFAULT_DEDUPE: Mapping[str, str] = MappingProxyType(
    {"down_reports": "identity", "restorations": "identity", "online_fraction": "exact"}
)
REQUIRED_INPUTS: Mapping[str, tuple[tuple[str, ...], ...]] = MappingProxyType(
    {
        # each inner tuple: at least one of these must be mapped
        "down_reports": (("reported_at", "reported_from", "date"),),
        "restorations": (("observed_at", "restored_after", "restored_before"),),
        "online_fraction": (("observed_at",), ("online_fraction", "online", "out")),
    }
)


@dataclass(frozen=True)
class Origin:
    """Where the fault was (e.g. a datacenter), in WGS84 degrees."""

    name: str
    lat: float
    lon: float
    #: the name in each language it was written in (``name.fr = "…"``); ``name`` is the English one
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def name_in(self, language: str) -> str:
        """The name in ``language`` when written in it, else the English one."""
        return self.names.get(language) or self.name


@dataclass(frozen=True)
class Event:
    """A dated fact of the incident shown on the timeline (time in UTC)."""

    time: dt.datetime
    label: str
    kind: EventKind = "other"
    source: str | None = None
    resolved: bool = False  # this announcement declares the outage resolved
    # known by its day only (``time = 2018-03-02``): shown as a day, never at an invented hour
    date_only: bool = False
    # the label in each language it was written in (``label.fr = "…"``); ``label`` is the English one
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def label_in(self, language: str) -> str:
        """The label in ``language`` when written in it, else the English one."""
        return self.labels.get(language) or self.label


@dataclass(frozen=True)
class Source:
    """One evidence file of an incident and how to read it."""

    path: Path
    rel_path: str
    kind: SourceKind
    name: str
    format: SourceFormat
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    encoding: str | None = None
    delimiter: str | None = None
    time_format: str | None = None
    timezone: str | None = None
    ambiguous: Ambiguous = "earliest"
    sheet: str | None = None
    coverage: str | None = None
    coverage_regions: tuple[str, ...] = ()
    #: ``coverage`` in each language it was written in (``coverage.fr = "…"``)
    coverages: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def coverage_in(self, language: str) -> str | None:
        """The coverage note in ``language`` when written in it, else the English one."""
        return self.coverages.get(language) or self.coverage

    # spontaneous: every affected customer may report (a web form, a status site, a call
    # centre); curated: statements selected by someone else (a newsroom), so their rate
    # reflects editorial choices as much as the number still without service
    sampling: Sampling = "spontaneous"
    # which rows are duplicates: identity (a repeated report_id, or the same user_id,
    # device_id or customer_id at the same time), exact (a row identical to an earlier one)
    # or none; online_fraction sources default to exact (a series point written twice is one
    # measurement, not two people)
    dedupe: Dedupe = "identity"


@dataclass(frozen=True)
class Reporting:
    """How likely a still-affected customer is to report, by local clock hour (relative)."""

    hourly_propensity: tuple[float, ...] | None = None
    surge: bool = False
    # "pooled": intervals pool the fits without and with a noticing ramp (the counts cannot
    # separate them); true / false: only the one hypothesis
    noticing: bool | Literal["pooled"] = "pooled"
    profile_uncertainty: bool = False
    # median minutes from a report's time stamp to its arrival (0: reports arrive at once)
    delay_minutes: float = 0.0


@dataclass(frozen=True)
class Geography:
    """Optional user geography replacing the default reference (boundaries, exposure)."""

    boundaries: Path | None = None
    boundaries_key: str | None = None
    boundaries_name: str | None = None
    level: str = "area"
    exposure: Path | None = None
    exposure_key: str | None = None
    exposure_column: str | None = None
    exposure_kind: ExposureKind = "population"


@dataclass(frozen=True)
class Incident:
    """A validated ``incident.toml``: everything the analysis needs to know about one outage."""

    id: str
    title: str
    timezone: str
    folder: Path
    config_path: Path
    sources: tuple[Source, ...]
    onset: dt.datetime | None = None
    end: dt.datetime | None = None
    origin: Origin | None = None
    events: tuple[Event, ...] = ()
    reporting: Reporting = field(default_factory=Reporting)
    geography: Geography = field(default_factory=Geography)
    description: str | None = None
    affected_customers: int | None = None
    simulated: bool = False
    postmortem: PostMortem = field(default_factory=PostMortem)
    #: ``title`` and ``description`` in each language they were written in (``title.fr = "…"``)
    titles: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    descriptions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def title_in(self, language: str) -> str:
        """The title in ``language`` when written in it, else the English one."""
        return self.titles.get(language) or self.title

    def description_in(self, language: str) -> tuple[str | None, str]:
        """The description in ``language`` when written in it, else the English one: ``(text, its language)``."""
        if self.descriptions.get(language):
            return self.descriptions[language], language
        return self.description, "en"

    @property
    def tz(self) -> ZoneInfo:
        """The incident's timezone object."""
        return ZoneInfo(self.timezone)

    def local(self, t: dt.datetime) -> dt.datetime:
        """Convert a UTC time to the incident's local time."""
        return t.astimezone(self.tz)

    def sampling_for(self, source_names: set[str] | frozenset[str]) -> Sampling:
        """``curated`` when every named source is curated (newsroom statements), else ``spontaneous``."""
        curated = {s.name for s in self.sources if s.sampling == "curated"}
        return "curated" if source_names and set(source_names) <= curated else "spontaneous"

    @property
    def declared_resolved(self) -> Event | None:
        """The first announcement that declared the outage resolved (``resolved = true``)."""
        flagged = [e for e in self.events if e.resolved]
        return min(flagged, key=lambda e: e.time) if flagged else None

    @property
    def announcements(self) -> tuple[Event, ...]:
        """Events of kind ``announcement``, in time order."""
        return tuple(sorted((e for e in self.events if e.kind == "announcement"), key=lambda e: e.time))


# --------------------------------------------------------------------------- parsing helpers


class _Reader:
    """Typed access to a TOML table that names the file and key in every error."""

    def __init__(self, path: Path, table: Mapping[str, Any], prefix: str = "") -> None:
        self.path = path
        self.table = table
        self.prefix = prefix
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def fail(self, name: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: key '{self.key(name)}': {message}")

    def get(self, name: str, kind: type | tuple[type, ...], *, required: bool = False) -> Any:
        self.used.add(name)
        if name not in self.table:
            if required:
                raise self.fail(name, "is required but missing")
            return None
        value = self.table[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(name, f"expected {_kind_name(kinds)}, got a boolean")
        if not isinstance(value, kinds):
            raise self.fail(name, f"expected {_kind_name(kinds)}, got {type(value).__name__} {quote(value)}")
        if isinstance(value, str) and str in kinds and required and not value.strip():
            raise self.fail(name, "must not be empty")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(name, str)
        if value is None:
            return default
        if value not in choices:
            raise self.fail(name, f"expected one of {', '.join(choices)}; got {quote(value)}")
        return value

    def sub(self, name: str, *, required: bool = False) -> _Reader | None:
        table = self.get(name, dict, required=required)
        if table is None:
            return None
        return _Reader(self.path, table, f"{self.prefix}{name}.")

    def check_unknown(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise self.fail(unknown[0], "unknown key (check the spelling; see docs/architecture.md)")


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true/false", dict: "a table", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _noticing(rp: Any) -> bool | Literal["pooled"]:
    """``[reporting] noticing``: true, false or "pooled" (the default: both reporting hypotheses, pooled)."""
    value = rp.get("noticing", (bool, str))
    if value is None:
        return "pooled"
    if isinstance(value, str) and value != "pooled":
        raise rp.fail("noticing", f'expected true, false or "pooled", got {quote(value)}')
    return value


def _delay_minutes(rp: Any) -> float:
    """``[reporting] delay_minutes``: the median reporting delay, a finite number of minutes ≥ 0 (at most a week)."""
    value = rp.get("delay_minutes", float)
    if value is None:
        return 0.0
    if not math.isfinite(value) or not 0 <= value <= 7 * 1440:
        raise rp.fail("delay_minutes", f"expected minutes between 0 and 10080, got {value}")
    return float(value)


def _label(text: str | None, limit: int = 200) -> str | None:
    """A config text that is published (title, labels, source names): scrubbed like every label."""
    from analysis.privacy import scrub_label

    return scrub_label(text, limit)


def _inside(folder: Path, rel: str, where: str) -> Path:
    """Resolve ``rel`` against ``folder`` and refuse anything that escapes it."""
    if not rel.strip():
        raise ConfigError(f"{where}: must not be empty")
    if len(rel) > MAX_PATH_CHARS or any(not c.isprintable() for c in rel):
        raise ConfigError(f"{where}: {quote(rel)} is not a usable path (control characters, or over {MAX_PATH_CHARS} characters)")
    candidate = Path(rel)
    if candidate.is_absolute():
        raise ConfigError(f"{where}: {quote(rel)} is absolute; give a path inside the incident folder")
    try:
        # symlinks are followed: a link inside the folder to a file outside is outside
        resolved = (folder / candidate).resolve()
        inside = resolved.is_relative_to(folder.resolve())
    except (OSError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"{where}: {quote(rel)} is not a usable path ({type(exc).__name__})") from None
    if not inside:
        raise ConfigError(f"{where}: {quote(rel)} points outside the incident folder {folder}")
    return resolved


def check_boundary_file(path: Path, folder: Path, *, where: str) -> None:
    """Refuse a boundary file that is not a plain GeoJSON, GeoPackage, Shapefile or GeoParquet.

    The suffix must be one of :data:`BOUNDARY_FORMATS` and the file must start like that
    format (a VRT renamed ``.geojson`` is refused); a Shapefile's companion files must be
    inside ``folder`` too. Nothing of the file's content is quoted in the error.
    """
    fmt = BOUNDARY_FORMATS.get(path.suffix.lower())
    if fmt is None:
        names = ", ".join(sorted(BOUNDARY_FORMATS))
        raise ConfigError(
            f"{where}: {quote(path.name, 80)}: boundary files must be GeoJSON, GeoPackage, Shapefile or GeoParquet ({names})"
        )
    name, magics = fmt
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError:
        return  # a missing file is reported where it is read
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(magics):
        raise ConfigError(f"{where}: {quote(path.name, 80)} does not start like a {name} file; only plain {name} content is read")
    if name == "Shapefile":
        root = folder.resolve()
        for part in SHAPEFILE_PARTS:
            for sibling in (path.with_suffix(part), path.with_suffix(part.upper())):
                if (sibling.exists() or sibling.is_symlink()) and not sibling.resolve().is_relative_to(root):
                    raise ConfigError(f"{where}: {quote(sibling.name, 80)} points outside the incident folder {folder}")


# --------------------------------------------------------------------------- loading


def _read_config(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The ``incident.toml`` of ``path`` (a file or its folder), parsed and checked for unknown keys and types."""
    text_path = str(path)
    if len(text_path) > 4096 or "\x00" in text_path:
        raise ConfigError(f"{quote(text_path, 100)}: not a usable path (NUL byte, or over 4096 characters)")
    path = Path(path)
    try:
        config_path = path / INCIDENT_FILE if path.is_dir() else path
        is_file = config_path.is_file()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{quote(text_path, 100)}: not a usable path ({type(exc).__name__})") from None
    if not is_file:
        raise ConfigError(f"{config_path}: no such file (an incident folder needs an {INCIDENT_FILE}){_near(config_path)}")
    folder = config_path.parent
    if not config_path.resolve().is_relative_to(folder.resolve()):
        raise ConfigError(f"{config_path}: a link to a file outside the incident folder; copy the file into the folder")
    try:
        # utf-8-sig: an editor's byte-order mark at the start is not part of the TOML
        raw = tomllib.loads(config_path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{config_path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{config_path}: invalid TOML: tables or arrays nested too deeply") from None
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    from analysis.configcheck import config_problems

    if problems := config_problems(raw):  # every key, type and choice problem at once
        many = f"{len(problems)} problems: " if len(problems) > 1 else ""
        raise ConfigError(f"{config_path}: {many}{'; '.join(problems)}")
    return config_path, raw


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
            delay_minutes=_delay_minutes(rp),
        )
        rp.check_unknown()
    return reporting


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


def _parse_sources(r: _Reader, folder: Path) -> tuple[Source, ...]:
    """``[[sources]]``: at least one, unique names, no file named twice (every report would count twice)."""
    config_path = r.path
    raw_sources = r.get("sources", list, required=True)
    if not raw_sources:
        raise r.fail("sources", "at least one [[sources]] table is required")
    sources = tuple(_parse_source(config_path, folder, i, s) for i, s in enumerate(raw_sources))
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise r.fail("sources", f"source names must be unique, got {quote(names)}")
    paths: dict[Path, str] = {}
    for s in sources:
        if s.path in paths:
            raise r.fail(
                "sources",
                f"sources '{paths[s.path]}' and '{s.name}' name the same file {quote(s.rel_path)}; every report would count twice",
            )
        paths[s.path] = s.name
    return sources


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

    sources = _parse_sources(r, folder)
    r.used.add("postmortem")
    postmortem = parse_postmortem(config_path, raw.get("postmortem"), tz)
    r.check_unknown()

    if incident_id != folder.name:
        log.warning(
            "%s: id '%s' differs from its folder name '%s' (reports go to <out>/%s/)",
            config_path,
            incident_id,
            folder.name,
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
    )


def event_labels(e: _Reader, value: Any, key: str = "label") -> dict[str, str]:
    """An event's ``label`` (or a ``title``, ``description``, ``name``): a string or translations including ``en``."""
    e.used.add(key)
    if value is None:
        raise e.fail(key, "is required but missing")
    if isinstance(value, str):
        if not value.strip():
            raise e.fail(key, "must not be empty")
        return {"en": value}
    if not isinstance(value, dict):
        raise e.fail(key, f"expected a string or a table of translations (en, fr, nl), got {type(value).__name__}")
    for lang, words in value.items():
        if lang not in ("en", "fr", "nl"):
            raise e.fail(f"{key}.{lang}", "unknown language (expected one of en, fr, nl)")
        if not isinstance(words, str) or not words.strip():
            raise e.fail(f"{key}.{lang}", f"expected a non-empty string, got {quote(words)}")
    if "en" not in value:
        raise e.fail(f"{key}.en", f"is required (the English {key} is the one every language falls back to)")
    return dict(value)


def _near(config_path: Path) -> str:
    """A "did you mean" naming the incident folder beside a missing one whose name is closest."""
    import difflib

    folder = config_path.parent if config_path.name == INCIDENT_FILE else config_path
    try:
        siblings = [p.name for p in folder.parent.iterdir() if (p / INCIDENT_FILE).is_file()]
    except OSError:
        return ""
    close = difflib.get_close_matches(folder.name, siblings, n=1, cutoff=0.6)
    return f"; did you mean {folder.parent / close[0]}?" if close else ""


def _parse_source(config_path: Path, folder: Path, i: int, raw: Any) -> Source:
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: key 'sources[{i}]': expected a table ([[sources]])")
    s = _Reader(config_path, raw, f"sources[{i}].")
    rel = s.get("path", str, required=True)
    path = _inside(folder, rel, f"{config_path}: key 'sources[{i}].path'")
    kind = s.choice("kind", SOURCE_KINDS, "down_reports")
    fmt = s.get("format", str)
    if fmt is None and path.is_dir():
        fmt = _folder_format(path)
        if fmt is None:
            raise s.fail("path", f"folder {rel!r} holds no file of one known format; set 'format' (csv, parquet, jsonl, xlsx)")
    if fmt is None:
        fmt = FORMAT_BY_SUFFIX.get(path.suffix.lower())
        if fmt is None:
            raise s.fail("path", f"cannot tell the format of {rel!r} from its suffix; set 'format' (csv, parquet, jsonl, xlsx)")
    elif fmt not in get_args(SourceFormat):
        raise s.fail("format", f"expected one of csv, parquet, jsonl, xlsx; got {fmt!r}")

    columns: dict[str, str] = {}
    if (c := s.sub("columns")) is not None:
        allowed = CANONICAL_INPUTS[kind]
        for canonical, column in c.table.items():
            if canonical not in allowed:
                raise c.fail(canonical, f"not a canonical column for kind '{kind}' (allowed: {', '.join(allowed)})")
            if not isinstance(column, str) or not column:
                raise c.fail(canonical, f"expected the name of a column in the file, got {column!r}")
            columns[canonical] = column
    defaults: dict[str, Any] = {}
    if (d := s.sub("defaults")) is not None:
        for canonical, value in d.table.items():
            if canonical not in CANONICAL_INPUTS[kind]:
                raise d.fail(canonical, f"not a canonical column for kind '{kind}'")
            if not isinstance(value, (str, int, float, bool)):
                raise d.fail(canonical, f"expected a plain value, got {type(value).__name__}")
            defaults[canonical] = value

    delimiter = s.get("delimiter", str)
    if delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise s.fail("delimiter", f"must be one character (or 'tab'), got {delimiter!r}")
    encoding = s.get("encoding", str)
    if encoding is not None:
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            raise s.fail("encoding", f"unknown encoding {encoding!r}") from None
    tz_name = s.get("timezone", str)
    if tz_name is not None:
        try:
            ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise s.fail("timezone", f"unknown IANA timezone {tz_name!r}") from None
    raw_coverage = s.table.get("coverage")
    s.used.add("coverage")
    coverages = (
        {k: _label(v, 1000) or "" for k, v in event_labels(s, raw_coverage, "coverage").items()}
        if raw_coverage is not None
        else {}
    )
    cov_regions = s.get("coverage_regions", list) or []
    if not all(isinstance(x, str) for x in cov_regions):
        raise s.fail("coverage_regions", "expected a list of region names")

    source = Source(
        path=path,
        rel_path=rel,
        kind=kind,  # type: ignore[arg-type]
        name=_label(s.get("name", str) or path.stem),
        format=fmt,  # type: ignore[arg-type]
        columns=MappingProxyType(columns),
        defaults=MappingProxyType(defaults),
        encoding=encoding,
        delimiter=delimiter,
        time_format=s.get("time_format", str),
        timezone=tz_name,
        ambiguous=s.choice("ambiguous", ("earliest", "latest", "reject"), "earliest"),  # type: ignore[arg-type]
        sheet=s.get("sheet", str),
        coverage=coverages.get("en"),
        coverages=MappingProxyType(coverages),
        coverage_regions=tuple(_label(x) for x in cov_regions),
        sampling=s.choice("sampling", ("spontaneous", "curated"), "spontaneous"),  # type: ignore[arg-type]
        dedupe=s.choice("dedupe", DEDUPE_POLICIES, DEFAULT_DEDUPE[kind]),  # type: ignore[arg-type]
    )
    s.check_unknown()
    return source


def _folder_format(folder: Path) -> str | None:
    """The one format of the files in a source folder (by suffix), or None when there are several or none."""
    formats = {
        FORMAT_BY_SUFFIX.get(p.suffix.lower())
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
    }
    formats.discard(None)
    return formats.pop() if len(formats) == 1 else None  # type: ignore[return-value]


def find_incidents(data_dir: str | Path) -> list[Path]:
    """Incident folders (holding an ``incident.toml``) directly under ``data_dir``, sorted."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ConfigError(f"{data_dir}: not a folder")
    return sorted(p for p in data_dir.iterdir() if (p / INCIDENT_FILE).is_file())


def processed_dir(incident: Incident, root: Path | None = None) -> Path:
    """Where ingest writes this incident's canonical tables."""
    return (root or DATA_PROCESSED) / incident.id
