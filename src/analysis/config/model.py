"""The incident as frozen, typed objects (``Incident``, ``Source``, ``Event``...), and the project's paths.

Every path the project uses is defined here, so a notebook, the CLI and the tests agree on
where raw data, processed tables and reports live.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from zoneinfo import ZoneInfo

from analysis.paths import notebooks_dir, project_root
from analysis.postmortem import PostMortem
from analysis.vocab import (
    Ambiguous,
    Dedupe,
    EventKind,
    ExposureKind,
    Sampling,
    SourceKind,
)

log = logging.getLogger("analysis.config")


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


# which rows of a source are duplicates (docs/data-quality.md, "Duplicates"): identity, the
# default, only a repeated report id or the same user/device at the same time; exact, any row
# identical to an earlier one (feeds known to double-post); none, no row
#: A source's ``dedupe`` when its ``[[sources]]`` table does not set one.
DEFAULT_DEDUPE: Mapping[str, str] = MappingProxyType(
    {"down_reports": "identity", "restorations": "identity", "online_fraction": "exact"}
)


REQUIRED_INPUTS: Mapping[str, tuple[tuple[str, ...], ...]] = MappingProxyType(
    {
        # each inner tuple: at least one of these must be mapped
        "down_reports": (("reported_at", "reported_from", "date"),),
        "restorations": (("observed_at", "restored_after", "restored_before", "started_at"),),
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
    format: str  # a name in analysis.sources.FORMATS
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
    # "estimated": the clock profile's two daily harmonics are fitted with S, penalised by the
    # profile spread (analysis.recovery.clock_profile); "shared": the stated hourly_propensity
    # is an estimate from other incidents (postmortem profile), the spread kept around it;
    # "quiet" (the default; with a stated hourly_propensity and no `profile`: "assumed"): the
    # default profile corrected from the reports before the onset, when there are enough, else
    # assumed (analysis.recovery.quiet_profile); "assumed": the profile as given (a stated one is known)
    profile: Literal["assumed", "estimated", "shared", "quiet"] = "quiet"
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
    #: ``[nowcast] history``: a CSV of past incidents the nowcast's duration prior is learned from
    nowcast_history: Path | None = None
    #: ``[nowcast] skill``: a CSV of the ETA pieces' errors on replayed past incidents (their spreads are scaled by them)
    nowcast_skill: Path | None = None
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
