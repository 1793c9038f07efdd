"""Canonical input columns: what a ``[sources.columns]`` table may map, per source kind.

The names a user maps their file's columns to (DESIGN.md, "Contracts"); config validates a
mapping against them and ``configcheck`` suggests the nearest one for a misspelt name.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

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
            "started_at",
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
