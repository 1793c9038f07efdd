"""Incident configuration (``incident.toml``) as frozen, typed objects, and the project's paths.

Every path the project uses is defined here, so a notebook, the CLI and the tests agree on
where raw data, processed tables and reports live. ``load_incident`` validates the whole
file at once and names the file and the key in every error, so a user fixes a config in
one pass instead of discovering its problems one kernel start at a time.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analysis.errors import ConfigError

# --------------------------------------------------------------------------- paths

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_RAW = PROJECT_ROOT / "data" / "raw"
DATA_PROCESSED = PROJECT_ROOT / "data" / "processed"
REPORTS = PROJECT_ROOT / "reports"
NOTEBOOKS = PROJECT_ROOT / "notebooks"
PACKAGE_DATA = Path(__file__).resolve().parent / "data"
INCIDENT_FILE = "incident.toml"

# --------------------------------------------------------------------------- types

SourceKind = Literal["down_reports", "restorations", "online_fraction"]
SourceFormat = Literal["csv", "parquet", "jsonl", "xlsx"]
EventKind = Literal["announcement", "action", "incident", "other"]
Ambiguous = Literal["earliest", "latest", "reject"]
Sampling = Literal["spontaneous", "curated"]
ExposureKind = Literal["customers", "population"]
# which rows of a source are duplicates (docs/data-quality.md, "Duplicates"): identity, the
# default, only a repeated report id or the same user/device at the same time; exact, any row
# identical to an earlier one (feeds known to double-post); none, no row
Dedupe = Literal["identity", "exact", "none"]

SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
DEDUPE_POLICIES: tuple[str, ...] = get_args(Dedupe)
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
LOCATION_COLUMNS = ("place", "postal_code", "lat", "lon", "region_hint")
CANONICAL_INPUTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "down_reports": (
            "report_id",
            "user_id",
            "device_id",
            "reported_at",
            "reported_from",
            "reported_until",
            "date",
            "time",
            *LOCATION_COLUMNS,
            "service",
            "status",
            "text",
            "url",
            "outlet",
            "source_ref",
            "note",
            "area_level",
            "area",
            "count",
        ),
        "restorations": (
            "customer_id",
            "observed_at",
            "restored",
            "restored_after",
            "restored_before",
            *LOCATION_COLUMNS,
            "service",
            "text",
        ),
        "online_fraction": (
            "observed_at",
            "online_fraction",
            "online",
            "total",
            "out",
            *LOCATION_COLUMNS,
            "area",
            "service",
        ),
    }
)
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


@dataclass(frozen=True)
class Event:
    """A dated fact of the incident shown on the timeline (time in UTC)."""

    time: dt.datetime
    label: str
    kind: EventKind = "other"
    source: str | None = None
    resolved: bool = False  # this announcement declares the outage resolved


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
    noticing: bool = False
    profile_uncertainty: bool = False


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
            raise self.fail(name, f"expected {_kind_name(kinds)}, got {type(value).__name__} {value!r}")
        if isinstance(value, str) and str in kinds and required and not value.strip():
            raise self.fail(name, "must not be empty")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(name, str)
        if value is None:
            return default
        if value not in choices:
            raise self.fail(name, f"expected one of {', '.join(choices)}; got {value!r}")
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


def parse_config_time(value: Any, tz: ZoneInfo, *, where: str) -> dt.datetime:
    """Parse a config time (TOML datetime or ISO string) into an aware UTC datetime.

    Naive times are local to the incident's timezone. A local time that does not exist
    (spring-forward gap) or exists twice (autumn overlap) is an error here: a config is
    written by a person who can say which one they mean by adding an offset.
    """
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, dt.date):
        t = dt.datetime.combine(value, dt.time())
    elif isinstance(value, str):
        try:
            t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{where}: not an ISO 8601 time: {value!r}") from None
    else:
        raise ConfigError(f"{where}: expected a time, got {type(value).__name__} {value!r}")
    if t.tzinfo is None:
        t = localize(t, tz, where=where)
    return t.astimezone(dt.UTC)


def localize(t: dt.datetime, tz: ZoneInfo, *, where: str) -> dt.datetime:
    """Attach ``tz`` to a naive time, refusing DST-gap and DST-overlap times."""
    early = t.replace(tzinfo=tz, fold=0)
    late = t.replace(tzinfo=tz, fold=1)
    if early.utcoffset() != late.utcoffset():
        # either a gap (time does not exist) or an overlap (time exists twice)
        roundtrip = early.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
        if roundtrip != t:
            raise ConfigError(f"{where}: {t.isoformat()} does not exist in {tz.key} (clocks jump forward); add an offset")
        raise ConfigError(f"{where}: {t.isoformat()} happens twice in {tz.key} (clocks go back); add an offset")
    return early


def _inside(folder: Path, rel: str, where: str) -> Path:
    """Resolve ``rel`` against ``folder`` and refuse anything that escapes it."""
    if not rel.strip():
        raise ConfigError(f"{where}: must not be empty")
    candidate = Path(rel)
    if candidate.is_absolute():
        raise ConfigError(f"{where}: {rel!r} is absolute; give a path inside the incident folder")
    resolved = (folder / candidate).resolve()
    if not resolved.is_relative_to(folder.resolve()):
        raise ConfigError(f"{where}: {rel!r} points outside the incident folder {folder}")
    return resolved


# --------------------------------------------------------------------------- loading


def load_incident(path: str | Path) -> Incident:
    """Read and validate ``incident.toml`` (or the folder holding it).

    Raises :class:`ConfigError` naming the file and key for any problem: a missing or
    unknown key, a wrong type, an unknown timezone, a source path outside the folder.
    """
    path = Path(path)
    config_path = path / INCIDENT_FILE if path.is_dir() else path
    if not config_path.is_file():
        raise ConfigError(f"{config_path}: no such file (an incident folder needs an {INCIDENT_FILE})")
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{config_path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: invalid TOML: {exc}") from None
    folder = config_path.parent
    r = _Reader(config_path, raw)

    incident_id = r.get("id", str, required=True).strip()
    if not incident_id or any(c in incident_id for c in "/\\") or incident_id.startswith("."):
        raise r.fail("id", f"must be a plain folder-safe name, got {incident_id!r}")
    title = r.get("title", str, required=True).strip()
    tz_name = r.get("timezone", str, required=True)
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail("timezone", f"unknown IANA timezone {tz_name!r} (e.g. 'Europe/Brussels')") from None

    def _time(name: str) -> dt.datetime | None:
        r.used.add(name)
        if name not in raw:
            return None
        return parse_config_time(raw[name], tz, where=f"{config_path}: key '{name}'")

    onset = _time("onset")
    end = _time("end")
    if onset and end and end <= onset:
        raise r.fail("end", f"must be after onset ({onset.isoformat()})")

    description = r.get("description", str)
    affected = r.get("affected_customers", int)
    if affected is not None and affected <= 0:
        raise r.fail("affected_customers", f"must be a positive integer, got {affected}")
    simulated = bool(r.get("simulated", bool) or False)

    origin = None
    if (o := r.sub("origin")) is not None:
        lat = o.get("lat", float, required=True)
        lon = o.get("lon", float, required=True)
        if not (-90 <= lat <= 90) or not (-180 <= lon <= 180):
            raise o.fail("lat", f"({lat}, {lon}) is not a WGS84 coordinate")
        origin = Origin(name=o.get("name", str) or "origin", lat=lat, lon=lon)
        o.check_unknown()

    events = []
    raw_events = r.get("events", list) or []
    for i, ev in enumerate(raw_events):
        if not isinstance(ev, dict):
            raise r.fail(f"events[{i}]", "expected a table ([[events]])")
        e = _Reader(config_path, ev, f"events[{i}].")
        e.used.add("time")
        if "time" not in ev:
            raise e.fail("time", "is required but missing")
        t = parse_config_time(ev["time"], tz, where=f"{config_path}: key 'events[{i}].time'")
        events.append(
            Event(
                time=t,
                label=e.get("label", str, required=True),
                kind=e.choice("kind", EVENT_KINDS, "other"),  # type: ignore[arg-type]
                source=e.get("source", str),
                resolved=bool(e.get("resolved", bool) or False),
            )
        )
        e.check_unknown()

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
            noticing=bool(rp.get("noticing", bool) or False),
            profile_uncertainty=bool(rp.get("profile_uncertainty", bool) or False),
        )
        rp.check_unknown()

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
        if geography.boundaries and not geography.boundaries_key:
            raise g.fail("boundaries_key", "is required when 'boundaries' is given (the area id column)")
        if geography.exposure and not (geography.exposure_key and geography.exposure_column):
            raise g.fail("exposure_key", "'exposure_key' and 'exposure_column' are required with 'exposure'")
        g.check_unknown()

    raw_sources = r.get("sources", list, required=True)
    if not raw_sources:
        raise r.fail("sources", "at least one [[sources]] table is required")
    sources = tuple(_parse_source(config_path, folder, i, s) for i, s in enumerate(raw_sources))
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise r.fail("sources", f"source names must be unique, got {names}")
    r.check_unknown()

    return Incident(
        id=incident_id,
        title=title,
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
    )


def _parse_source(config_path: Path, folder: Path, i: int, raw: Any) -> Source:
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: key 'sources[{i}]': expected a table ([[sources]])")
    s = _Reader(config_path, raw, f"sources[{i}].")
    rel = s.get("path", str, required=True)
    path = _inside(folder, rel, f"{config_path}: key 'sources[{i}].path'")
    kind = s.choice("kind", SOURCE_KINDS, "down_reports")
    fmt = s.get("format", str)
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
    cov_regions = s.get("coverage_regions", list) or []
    if not all(isinstance(x, str) for x in cov_regions):
        raise s.fail("coverage_regions", "expected a list of region names")

    source = Source(
        path=path,
        rel_path=rel,
        kind=kind,  # type: ignore[arg-type]
        name=s.get("name", str) or path.stem,
        format=fmt,  # type: ignore[arg-type]
        columns=MappingProxyType(columns),
        defaults=MappingProxyType(defaults),
        encoding=encoding,
        delimiter=delimiter,
        time_format=s.get("time_format", str),
        timezone=tz_name,
        ambiguous=s.choice("ambiguous", ("earliest", "latest", "reject"), "earliest"),  # type: ignore[arg-type]
        sheet=s.get("sheet", str),
        coverage=s.get("coverage", str),
        coverage_regions=tuple(cov_regions),
        sampling=s.choice("sampling", ("spontaneous", "curated"), "spontaneous"),  # type: ignore[arg-type]
        dedupe=s.choice("dedupe", DEDUPE_POLICIES, DEFAULT_DEDUPE[kind]),  # type: ignore[arg-type]
    )
    s.check_unknown()
    return source


def find_incidents(data_dir: str | Path) -> list[Path]:
    """Incident folders (holding an ``incident.toml``) directly under ``data_dir``, sorted."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ConfigError(f"{data_dir}: not a folder")
    return sorted(p for p in data_dir.iterdir() if (p / INCIDENT_FILE).is_file())


def processed_dir(incident: Incident, root: Path | None = None) -> Path:
    """Where ingest writes this incident's canonical tables."""
    return (root or DATA_PROCESSED) / incident.id
