"""``[[sources]]``: each source's file (inside the incident folder), kind, format (from the FORMATS registry), columns and options."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analysis.config.model import DEFAULT_DEDUPE, Source
from analysis.config.reader import _inside, _label, _Reader, event_labels
from analysis.errors import ConfigError, quote
from analysis.schema import CANONICAL_INPUTS
from analysis.sources import FORMATS, folder_format
from analysis.vocab import (
    DEDUPE_POLICIES,
    SOURCE_KINDS,
)


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


def _parse_source(config_path: Path, folder: Path, i: int, raw: Any) -> Source:
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: key 'sources[{i}]': expected a table ([[sources]])")
    s = _Reader(config_path, raw, f"sources[{i}].")
    rel = s.get("path", str, required=True)
    path = _inside(folder, rel, f"{config_path}: key 'sources[{i}].path'")
    kind = s.choice("kind", SOURCE_KINDS, "down_reports")
    fmt = _source_format(s, path, rel)

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
        format=fmt,
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


def _source_format(s: _Reader, path: Path, rel: str) -> str:
    """A source's format (a name in :data:`analysis.sources.FORMATS`): declared, else by file name, else by first bytes."""
    fmt: str | None = s.get("format", str)
    if fmt is not None:
        if fmt not in FORMATS:
            raise s.fail("format", f"expected one of {FORMATS.known()}; got {fmt!r}")
        return fmt
    if path.is_dir():
        found = folder_format(path)
        if found is None:
            raise s.fail("path", f"folder {rel!r} holds no file of one known format; set 'format' ({FORMATS.known()})")
        return found
    detected = FORMATS.detect(path)
    if detected is None:
        raise s.fail(
            "path", f"cannot tell the format of {rel!r} from its name or its first bytes; set 'format' ({FORMATS.known()})"
        )
    return detected.name
