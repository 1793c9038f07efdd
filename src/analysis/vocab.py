"""The project's shared words: every closed set of values, defined once.

Config, ingest, fits and report all speak of source kinds, languages, area levels and so
on; each set is a ``Literal`` here so a value means the same in every module and a new
value is added in one place. ``typing.get_args`` lists the values for validation.
"""

from __future__ import annotations

from typing import Literal, get_args

# incident.toml
SourceKind = Literal["down_reports", "restorations", "online_fraction"]

EventKind = Literal["announcement", "action", "incident", "other"]
Ambiguous = Literal["earliest", "latest", "reject"]  # a local time that occurs twice (DST end)
Sampling = Literal["spontaneous", "curated"]
ExposureKind = Literal["customers", "population"]
Dedupe = Literal["identity", "exact", "none"]

# report parameters
Language = Literal["en", "fr", "nl"]
Propensity = Literal["auto", "default", "flat"]
Status = Literal["ok", "failed", "skipped"]  # outcome of one render

# geography
GeoMethod = Literal["exact", "alias", "section", "postal_code", "coordinates", "fuzzy", "area", "ambiguous", "unresolved"]
PlaceScope = Literal["province", "region", "country"]  # a place name that names an area, not a municipality
BoundaryLevel = Literal["municipality", "canton", "province", "region"]
AreaLevel = Literal["municipality", "canton", "province", "region", "user"]  # areas of the spatial analysis

# spatial analysis and recovery by group
ExpectedWithin = Literal["country", "region"]
RateAdjust = Literal["eb", "raw"]
Correction = Literal["fdr", "none"]
Pooling = Literal["auto", "shared_shape", "separate"]

# report figures
AreaLayerName = Literal["reports", "rate", "excess", "clusters"]
RecoveryLayerName = Literal["t90", "last_down"]
EventSource = Literal["config", "data", "fit"]

#: The values of the sets above that config validates against, as tuples.
SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
DEDUPE_POLICIES: tuple[str, ...] = get_args(Dedupe)
