"""Where the outage hit and whether place mattered: per-area statistics, no plotting.

Every function here is a pure function of tables (polars) and polygons (GeoDataFrames with
a CRS). Times are UTC; durations are minutes after the national onset. Metric work
(distances, neighbours) is done in EPSG:3812 (Belgian Lambert 2008).

One module per job:

- :mod:`~analysis.spatial.areas`: which area a report belongs to (its *scope*), the per-area
  table (counts, rates, timing, excess), area statements and hourly counts; the down reports
  merged into cells (:func:`~analysis.spatial.areas.down_cells`) that every table reads in one pass;
- :mod:`~analysis.spatial.autocorrelation`: Moran's I and local clusters of report rates;
- :mod:`~analysis.spatial.distance`: an area outcome against distance from the origin.
"""

from __future__ import annotations

from analysis.spatial.areas import (
    AREA_LEVELS,
    SCOPES,
    AreaLevel,
    FrameT,
    area_cells,
    area_statements,
    area_table,
    assign_level,
    benjamini_hochberg,
    down_cells,
    excess_table,
    hourly_area_counts,
    merge_rows,
    poisson_interval,
    report_scope,
    weighted_median,
)
from analysis.spatial.autocorrelation import MoranResult, area_points, contiguity_weights, preload, spatial_autocorrelation
from analysis.spatial.distance import DistanceTest, distance_effect

__all__ = [
    "AREA_LEVELS",
    "SCOPES",
    "AreaLevel",
    "DistanceTest",
    "FrameT",
    "MoranResult",
    "area_cells",
    "area_points",
    "area_statements",
    "area_table",
    "assign_level",
    "benjamini_hochberg",
    "contiguity_weights",
    "distance_effect",
    "down_cells",
    "excess_table",
    "hourly_area_counts",
    "merge_rows",
    "poisson_interval",
    "preload",
    "report_scope",
    "spatial_autocorrelation",
    "weighted_median",
]
