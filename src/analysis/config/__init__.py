"""Incident configuration (``incident.toml``) as frozen, typed objects, and the project's paths.

Every path the project uses is defined in :mod:`.model`, so a notebook, the CLI and the tests
agree on where raw data, processed tables and reports live. ``load_incident`` validates the
whole file at once and names the file and the key in every error, so a user fixes a config
in one pass instead of discovering its problems one kernel start at a time. The parts:
:mod:`.model` (the frozen objects, the paths), :mod:`.load` (``load_incident``), :mod:`.reader` (the file, typed access to
its tables, safe paths), :mod:`.sections` (origin, events, reporting, geography, onset and
end), :mod:`.source` (``[[sources]]``, the format from :data:`analysis.sources.FORMATS`).
"""

from __future__ import annotations

from pathlib import Path

from analysis.config.load import load_incident
from analysis.config.model import (
    BOUNDARY_FORMATS,
    DATA_PROCESSED,
    DATA_RAW,
    DEFAULT_DEDUPE,
    INCIDENT_FILE,
    INCIDENT_ID,
    MAX_PATH_CHARS,
    NOTEBOOKS,
    PROJECT_ROOT,
    REPORTS,
    REQUIRED_INPUTS,
    RESERVED_IDS,
    SHAPEFILE_PARTS,
    Event,
    Geography,
    Incident,
    Origin,
    Reporting,
    Source,
)
from analysis.config.reader import check_boundary_file, event_labels
from analysis.errors import ConfigError

__all__ = [
    "BOUNDARY_FORMATS",
    "DATA_PROCESSED",
    "DATA_RAW",
    "DEFAULT_DEDUPE",
    "INCIDENT_FILE",
    "INCIDENT_ID",
    "MAX_PATH_CHARS",
    "NOTEBOOKS",
    "PROJECT_ROOT",
    "REPORTS",
    "REQUIRED_INPUTS",
    "RESERVED_IDS",
    "SHAPEFILE_PARTS",
    "Event",
    "Geography",
    "Incident",
    "Origin",
    "Reporting",
    "Source",
    "check_boundary_file",
    "event_labels",
    "find_incidents",
    "load_incident",
    "processed_dir",
]


def find_incidents(data_dir: str | Path) -> list[Path]:
    """Incident folders (holding an ``incident.toml``) directly under ``data_dir``, sorted."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ConfigError(f"{data_dir}: not a folder")
    return sorted(p for p in data_dir.iterdir() if (p / INCIDENT_FILE).is_file())


def processed_dir(incident: Incident, root: Path | None = None) -> Path:
    """Where ingest writes this incident's canonical tables."""
    return (root or DATA_PROCESSED) / incident.id
