"""Every problem of an ``incident.toml`` at once, with "did you mean" for misspelt keys.

:func:`config_problems` checks the parsed TOML against a declarative description of the
file (keys, types, required keys, allowed values, timezones, canonical column names) and
returns one message per problem, each naming the key. :func:`analysis.config.load_incident`
raises them together before its own, stricter checks (times, ranges, paths), so a user fixes
a config in one pass. Suggestions come from :func:`difflib.get_close_matches`.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analysis.schema import CANONICAL_INPUTS
from analysis.vocab import DEDUPE_POLICIES, EVENT_KINDS, SOURCE_KINDS

_TIME = "time"
_ZONE = "timezone"
Spec = Mapping[str, Any]  # key -> type, tuple of allowed strings (or a function giving it), _TIME, _ZONE, or a nested spec


def source_formats() -> tuple[str, ...]:
    """The formats a source may declare: the names in the FORMATS registry (open to new formats)."""
    from analysis.sources import FORMATS

    return FORMATS.names()


ORIGIN: Spec = {"name": (str, dict), "lat": (int, float), "lon": (int, float)}
# a label is a string or a table of translations (label.en, label.fr, label.nl: checked by load_incident)
EVENT: Spec = {"time": _TIME, "label": (str, dict), "kind": EVENT_KINDS, "source": str, "resolved": bool}
REPORTING: Spec = {
    "hourly_propensity": list,
    "surge": bool,
    "noticing": (bool, str),  # true, false or "pooled" (checked by load_incident)
    "profile_uncertainty": bool,
    "profile": str,  # "assumed", "estimated", "shared" or "quiet" (checked by load_incident)
    "delay_minutes": (int, float),
}
GEOGRAPHY: Spec = {
    "boundaries": str,
    "boundaries_key": str,
    "boundaries_name": str,
    "level": str,
    "exposure": str,
    "exposure_key": str,
    "exposure_column": str,
    "exposure_kind": ("customers", "population"),
}
SOURCE: Spec = {
    "path": str,
    "kind": SOURCE_KINDS,
    "format": source_formats,
    "name": str,
    "columns": dict,
    "defaults": dict,
    "encoding": str,
    "delimiter": str,
    "time_format": str,
    "timezone": _ZONE,
    "ambiguous": ("earliest", "latest", "reject"),
    "sheet": str,
    "coverage": (str, dict),
    "coverage_regions": list,
    "sampling": ("spontaneous", "curated"),
    "dedupe": DEDUPE_POLICIES,
}
TOP: Spec = {
    "id": str,
    "title": (str, dict),
    "timezone": _ZONE,
    "onset": _TIME,
    "end": _TIME,
    "description": (str, dict),
    "affected_customers": int,
    "simulated": bool,
    "origin": ORIGIN,
    "events": [EVENT],
    "reporting": REPORTING,
    "nowcast": {"history": str, "skill": str},
    "geography": GEOGRAPHY,
    "sources": [SOURCE],
    "postmortem": dict,  # the written post-mortem, checked key by key by analysis.postmortem
}
REQUIRED: Mapping[int, tuple[str, ...]] = {
    id(TOP): ("id", "title", "timezone", "sources"),
    id(ORIGIN): ("lat", "lon"),
    id(EVENT): ("time", "label"),
    id(SOURCE): ("path",),
}
_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true/false", dict: "a table", list: "a list"}


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def config_problems(raw: Mapping[str, Any]) -> list[str]:
    """One message per problem in a parsed ``incident.toml``, each starting with ``key '...'``."""
    problems: list[str] = []
    _check_table(raw, TOP, "", problems)
    for i, source in enumerate(raw.get("sources") or [] if isinstance(raw.get("sources"), list) else []):
        if not isinstance(source, dict):
            continue
        kind = source.get("kind", "down_reports")
        allowed = CANONICAL_INPUTS.get(kind) if isinstance(kind, str) else None
        if allowed is None:
            continue
        for part in ("columns", "defaults"):
            table = source.get(part)
            if isinstance(table, dict):
                for name in table:
                    if name not in allowed:
                        problems.append(
                            f"key 'sources[{i}].{part}.{name}': not a canonical column for kind '{kind}'"
                            f"{suggest(name, allowed) or ' (allowed: ' + ', '.join(allowed) + ')'}"
                        )
    return problems


def _check_table(table: Mapping[str, Any], spec: Spec, prefix: str, problems: list[str]) -> None:
    for name in REQUIRED.get(id(spec), ()):
        if name not in table:
            problems.append(f"key '{prefix}{name}': is required but missing")
    for name, value in table.items():
        key = f"{prefix}{name}"
        if name not in spec:
            problems.append(f"key '{key}': unknown key{suggest(name, spec) or ' (check the spelling; see docs/architecture.md)'}")
            continue
        _check_value(value, spec[name], key, problems)


def _check_value(value: Any, kind: Any, key: str, problems: list[str]) -> None:
    if callable(kind) and not isinstance(kind, type):
        kind = kind()  # allowed values read when checked (a registry)
    if isinstance(kind, dict):
        if not isinstance(value, dict):
            problems.append(f"key '{key}': expected a table, got {type(value).__name__}")
        else:
            _check_table(value, kind, f"{key}.", problems)
    elif isinstance(kind, list):
        if not isinstance(value, list):
            problems.append(f"key '{key}': expected a list of tables ([[{key}]]), got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                problems.append(f"key '{key}[{i}]': expected a table ([[{key}]])")
            else:
                _check_table(item, kind[0], f"{key}[{i}].", problems)
    elif isinstance(kind, tuple) and all(isinstance(k, str) for k in kind):
        if not isinstance(value, str) or value not in kind:
            hint = suggest(value, kind) if isinstance(value, str) else ""
            problems.append(f"key '{key}': expected one of {', '.join(kind)}; got {value!r}{hint}")
    elif kind == _ZONE:
        if not isinstance(value, str):
            problems.append(f"key '{key}': expected a string, got {type(value).__name__} {value!r}")
            return
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"key '{key}': unknown IANA timezone {value!r} (e.g. 'Europe/Brussels')")
    elif kind == _TIME:
        if isinstance(value, str):
            try:
                dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                problems.append(f"key '{key}': not an ISO 8601 time: {value!r}")
        elif not isinstance(value, (dt.datetime, dt.date)):
            problems.append(f"key '{key}': expected a time, got {type(value).__name__} {value!r}")
    else:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            problems.append(f"key '{key}': expected {' or '.join(_NAMES[k] for k in kinds)}, got a boolean")
        elif not isinstance(value, kinds):
            problems.append(
                f"key '{key}': expected {' or '.join(_NAMES[k] for k in kinds)}, got {type(value).__name__} {value!r}"
            )
