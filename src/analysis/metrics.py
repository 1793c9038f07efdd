"""The ``metrics.json`` document (contract in DESIGN.md: add keys, never rename or drop).

All times are ISO 8601 with the incident's UTC offset at that instant; durations are also
given as minutes after onset. Every estimate carries its interval as ``[low, high]`` at
the run's level. Values that cannot be estimated are ``null``, never invented.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from analysis.config import Incident

SCHEMA_VERSION = 1
RECOVERY_KEYS = (
    "model",
    "level",
    "t50",
    "t90",
    "t99",
    "t50_minutes",
    "t90_minutes",
    "t99_minutes",
    "t50_ci",
    "t90_ci",
    "t99_ci",
    "t50_minutes_ci",
    "t90_minutes_ci",
    "t99_minutes_ci",
    "mean_outage_minutes",
    "mean_outage_minutes_ci",
    "tail_fraction",
    "tail_fraction_ci",
    "aic",
)
TOP_KEYS = (
    "incident_id",
    "n_raw",
    "n_reports",
    "n_rejected",
    "n_unresolved_place",
    "onset",
    "onset_source",
    "recovery",
    "announcements",
    "regions",
    "areas",
)


def unusable(doc: dict[str, Any]) -> str | None:
    """Why a run gave nothing usable, in one line, or ``None``: a scheduler must be alerted, not told "ok".

    Nothing usable means no row in any source, every row rejected, or no recovery curve.
    The report and metrics.json are still written (they say why); the exit code says it too.
    """
    n_raw = int(doc.get("n_raw") or 0)
    if n_raw == 0:
        return "no rows in any source"
    if n_raw - int(doc.get("n_rejected") or 0) <= 0:
        return f"every one of the {n_raw} rows was rejected (see the rejects in the report's data quality)"
    if (doc.get("recovery") or {}).get("model") is None:
        return f"no recovery curve: {doc.get('recovery_error') or 'nothing to fit'}"
    return None


def iso(t: dt.datetime | None, tz: str) -> str | None:
    """ISO 8601 in ``tz`` with its offset, to the second (``None`` stays ``None``)."""
    if t is None:
        return None
    return t.astimezone(ZoneInfo(tz)).replace(microsecond=0).isoformat()


def clean_number(x: Any, digits: int = 4) -> float | None:
    """A finite float rounded for humans, else ``None`` (JSON has no NaN)."""
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return round(f, digits) if math.isfinite(f) else None


def interval(low: Any, high: Any, digits: int = 4) -> list[float | None] | None:
    """``[low, high]`` with non-finite bounds as ``null``; ``None`` if both are unknown."""
    lo, hi = clean_number(low, digits), clean_number(high, digits)
    return None if lo is None and hi is None else [lo, hi]


def empty_recovery(level: float) -> dict[str, Any]:
    """The recovery block when no curve could be fitted: every key present, all ``null``."""
    block: dict[str, Any] = dict.fromkeys(RECOVERY_KEYS)
    block["level"] = level
    return block


def recovery_block(fit: Any, incident: Incident, *, level: float) -> dict[str, Any]:
    """The contract's ``recovery`` block from a fitted recovery model."""
    if fit is None:
        return empty_recovery(level)
    block = empty_recovery(level)
    block.update(fit.to_metrics())
    onset = fit.onset
    for q in ("t50", "t90", "t99"):
        est = getattr(fit, q)
        block[f"{q}_minutes"] = clean_number(est.value, 1)
        block[f"{q}_minutes_ci"] = interval(est.low, est.high, 1)
        block[q] = _offset_time(onset, est.value, incident.timezone)
        block[f"{q}_ci"] = (
            None
            if block[f"{q}_minutes_ci"] is None
            else [_offset_time(onset, est.low, incident.timezone), _offset_time(onset, est.high, incident.timezone)]
        )
    block["level"] = level
    return block


MAX_MINUTES = 60 * 24 * 365 * 50  # beyond this a "time" is a model extrapolation, not a date


def offset(onset: dt.datetime, minutes: float | None) -> dt.datetime | None:
    """``onset + minutes`` as a time, or ``None`` when not finite or absurdly far away."""
    if minutes is None or not math.isfinite(minutes) or abs(minutes) > MAX_MINUTES:
        return None
    return onset + dt.timedelta(minutes=float(minutes))


def _offset_time(onset: dt.datetime, minutes: float, tz: str) -> str | None:
    return iso(offset(onset, minutes), tz)


def announcements_block(fit: Any, incident: Incident) -> list[dict[str, Any]]:
    """Share of affected customers still without service at each announcement."""
    out = []
    for event in incident.announcements:
        entry: dict[str, Any] = {
            "time": iso(event.time, incident.timezone),
            "label": event.label,
            "still_affected": None,
            "still_affected_ci": None,
        }
        if fit is not None:
            est = fit.still_affected(event.time)
            entry["still_affected"] = clean_number(est.value)
            entry["still_affected_ci"] = interval(est.low, est.high)
            entry["minutes_after_onset"] = clean_number((event.time - fit.onset).total_seconds() / 60, 1)
        out.append(entry)
    return out


def write_metrics(metrics: dict[str, Any], path: Path) -> Path:
    """Write ``metrics.json`` (UTF-8, stable key order, no NaN)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    return path


def missing_keys(metrics: dict[str, Any]) -> list[str]:
    """Contract keys absent from a metrics document (empty when it conforms)."""
    missing = [k for k in TOP_KEYS if k not in metrics]
    rec = metrics.get("recovery") or {}
    missing += [f"recovery.{k}" for k in RECOVERY_KEYS if k not in rec]
    for i, a in enumerate(metrics.get("announcements") or []):
        missing += [f"announcements[{i}].{k}" for k in ("time", "label", "still_affected", "still_affected_ci") if k not in a]
    return missing


def _comparable(x: Any) -> float | None:
    """A number, or an ISO 8601 time as seconds since the epoch; ``None`` for anything else."""
    if isinstance(x, bool):
        return None
    if isinstance(x, int | float):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, str):
        try:
            return dt.datetime.fromisoformat(x).timestamp()
        except ValueError:
            return None
    return None


def interval_violations(doc: Any, path: str = "") -> list[str]:
    """Every estimate in a metrics document that lies outside its own interval (empty when none does).

    An estimate is a key ``x`` with a sibling ``x_ci = [low, high]``; it must satisfy
    low ≤ x ≤ high, a ``null`` end meaning unbounded. Numbers and ISO 8601 times are both
    checked. Walks nested blocks (``recovery``, ``announcements``, ``regions`` …).
    """
    found: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            ci = doc.get(f"{key}_ci")
            x = _comparable(value)
            if isinstance(ci, list) and len(ci) == 2 and x is not None:
                lo, hi = _comparable(ci[0]), _comparable(ci[1])
                if (lo is not None and x < lo) or (hi is not None and x > hi):
                    found.append(f"{path}{key} = {value} outside {ci}")
            found += interval_violations(value, f"{path}{key}.")
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            found += interval_violations(item, f"{path}[{i}].")
    return found


def flag_implausible(doc: dict[str, Any], max_minutes: float) -> list[str]:
    """Drop durations beyond ``max_minutes`` from the recovery blocks of ``doc``, in place; say which.

    Degenerate data (every report at one instant, evenly spaced reports) can make a model
    extrapolate to centuries. An estimate beyond the limit (``POSTMORTEM_MAX_SPAN_DAYS``) is
    not one the data support: it becomes ``null`` (with its time); an interval end beyond the
    limit is kept and flagged. A note names each.
    Walks ``recovery``, ``regions`` and ``series_areas``.
    """
    notes: list[str] = []

    def fix(block: Any, path: str) -> None:
        if not isinstance(block, dict):
            return
        for q in ("t50", "t90", "t99", "mean_outage"):
            value = block.get(f"{q}_minutes")
            ci = block.get(f"{q}_minutes_ci")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > max_minutes:
                notes.append(
                    f"{path}{q}_minutes: {value:.0f} min is beyond {max_minutes:.0f} min; not an estimate the data support"
                )
                block[f"{q}_minutes"] = None
                if q in block:
                    block[q] = None
            if isinstance(ci, list) and len(ci) == 2:
                for end in (0, 1):
                    v = ci[end]
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and v > max_minutes:
                        notes.append(
                            f"{path}{q}_minutes_ci: end {v:.0f} min is beyond {max_minutes:.0f} min; the data barely bound it"
                        )

    fix(doc.get("recovery"), "recovery.")
    for group in ("regions", "series_areas"):
        blocks = doc.get(group)
        if isinstance(blocks, dict):
            for name, block in blocks.items():
                fix(block, f"{group}.{name}.")
                if isinstance(block, dict):
                    fix(block.get("recovery"), f"{group}.{name}.recovery.")
    return list(dict.fromkeys(notes))  # a region's block and its recovery may hold the same numbers
