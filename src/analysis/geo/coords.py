"""Coordinates to municipalities: points in the (approximate) polygons, refusing points outside Belgium."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import polars as pl

from analysis.geo.reference import (
    reference_municipalities,
)
from analysis.geo.words import RESOLUTION_COLUMNS

# --------------------------------------------------------------------------- coordinates


_NEAR_BORDER_M = 100.0
#: (south, west, north, east) in degrees: a box around Belgium with a margin of a few km.
_BELGIUM_BBOX = (49.45, 2.50, 51.55, 6.45)


def resolve_coordinates(lat: float, lon: float) -> dict[str, Any]:
    """Municipality holding a WGS84 point; unresolved outside Belgium (see :func:`_coords_frame`)."""
    return _coords_frame(np.array([lat], dtype=float), np.array([lon], dtype=float)).row(0, named=True)


@cache
def _muni_frame() -> pl.DataFrame:
    m = reference_municipalities()
    return m.select(
        "nis_code",
        pl.col("name").alias("municipality"),
        "province",
        "province_code",
        "region",
        "region_code",
    )


def _point_municipalities(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each point's municipality code (None outside), whether its coordinates are valid, and whether they were swapped."""
    import shapely

    from analysis.geo.boundaries import _piece_index

    tree, piece_nis, to_metric = _piece_index()
    n = len(lat)
    piece_nis_arr = np.array(piece_nis, dtype=object)
    found = np.full(n, -1)
    swapped = np.zeros(n, dtype=bool)
    valid = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)

    def locate(la: np.ndarray, lo: np.ndarray) -> np.ndarray:
        x, y = to_metric(lo, la)
        pts = shapely.points(x, y)
        out = np.full(len(la), -1)
        pi, gi = tree.query(pts, predicate="within")
        out[pi] = gi
        miss = np.flatnonzero(out < 0)
        if len(miss):
            mi, gi2 = tree.query_nearest(pts[miss], max_distance=_NEAR_BORDER_M, all_matches=False)
            out[miss[mi]] = gi2
        return out

    def near_belgium(la: np.ndarray, lo: np.ndarray) -> np.ndarray:
        s, w, n_, e = _BELGIUM_BBOX
        return (la >= s) & (la <= n_) & (lo >= w) & (lo <= e)

    ok = np.flatnonzero(valid & near_belgium(lat, lon))
    if len(ok):
        found[ok] = locate(lat[ok], lon[ok])
    # a swapped pair is only worth a look when it lands near Belgium
    miss = np.flatnonzero(valid & (found < 0))
    miss = miss[near_belgium(lon[miss], lat[miss])]
    if len(miss):
        again = locate(lon[miss], lat[miss])
        found[miss] = again
        swapped[miss[again >= 0]] = True
    nis = np.asarray(np.where(found >= 0, piece_nis_arr[np.maximum(found, 0)], None), dtype=object)
    return nis, valid, swapped


def _coords_frame(lat: np.ndarray, lon: np.ndarray) -> pl.DataFrame:
    """Point-in-polygon for many points at once, as a frame of resolution columns (one row per point).

    Points within 100 m outside the simplified national outline still count (the outline
    is simplified at ~50 m); a point that only falls in Belgium with latitude and longitude
    swapped is resolved with a note; anything else outside is unresolved.
    """
    nis, valid, swapped = _point_municipalities(lat, lon)
    frame = pl.DataFrame(
        {
            "nis_code": pl.Series(nis.tolist(), dtype=pl.String),
            "__lat": lat,
            "__lon": lon,
            "__valid": valid,
            "__swapped": swapped,
        }
    )
    out = frame.join(_muni_frame(), on="nis_code", how="left", maintain_order="left")
    resolved = pl.col("nis_code").is_not_null()
    out = out.with_columns(
        pl.when(resolved).then(pl.lit("coordinates")).otherwise(pl.lit("unresolved")).alias("geo_method"),
        pl.when(~resolved)
        .then(None)
        .when(pl.col("__swapped"))
        .then(pl.lit(0.9))
        .otherwise(pl.lit(1.0))
        .cast(pl.Float64)
        .alias("geo_score"),
        pl.when(~pl.col("__valid"))
        .then(pl.lit("coordinates are not valid WGS84 degrees"))
        .when(~resolved)
        .then(
            pl.format(
                "coordinates ({}, {}) are outside Belgium",
                pl.col("__lat").round(5).cast(pl.String),
                pl.col("__lon").round(5).cast(pl.String),
            )
        )
        .when(pl.col("__swapped"))
        .then(pl.lit("latitude and longitude were swapped"))
        .otherwise(None)
        .alias("geo_note"),
    )
    return out.select([pl.col(c).cast(t) for c, t in RESOLUTION_COLUMNS.items()])
