"""The metrics.json contract as DESIGN.md states it, spelled out here on purpose.

Tests compare what the code writes with these lists rather than with the constants the code
itself uses, so renaming or dropping a key in the code fails a test.
"""

from __future__ import annotations

from typing import Any

TOP = (
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
RECOVERY = (
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
    "tail_fraction",
    "aic",
)
ANNOUNCEMENT = ("time", "label", "still_affected", "still_affected_ci")
REGION = ("n_reports", "t50_minutes", "t90_minutes")
AREAS = ("n_municipalities",)


def contract_gaps(doc: dict[str, Any]) -> list[str]:
    """Every contract key missing from a metrics document, as dotted paths."""
    gaps = [key for key in TOP if key not in doc]
    gaps += [f"recovery.{key}" for key in RECOVERY if key not in (doc.get("recovery") or {})]
    for i, item in enumerate(doc.get("announcements") or []):
        gaps += [f"announcements[{i}].{key}" for key in ANNOUNCEMENT if key not in item]
    for name, region in (doc.get("regions") or {}).items():
        if isinstance(region, dict):
            gaps += [f"regions.{name}.{key}" for key in REGION if key not in region]
    gaps += [f"areas.{key}" for key in AREAS if key not in (doc.get("areas") or {})]
    return gaps
