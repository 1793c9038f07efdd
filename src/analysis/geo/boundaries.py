"""Polygons to draw and count on: municipalities, cantons, provinces, regions, or the user's own areas.

The committed file holds one polygon per (judicial canton × municipality) piece in
EPSG:3812 (Belgian Lambert 2008), an edge-matched coverage: cantons are exact NGI
boundaries (simplified at ~50 m), municipalities are *approximate* (each canton split
between its municipalities' seed points). Every level is a dissolve of those pieces, so
the levels nest exactly and no gap opens between neighbours.

A user boundary file (GeoPackage, GeoJSON, Shapefile, GeoParquet) and an exposure table
(customers or population per area) named in ``incident.toml`` replace the defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
import polars as pl

from analysis.errors import GeoError, ParameterError
from analysis.geo.reference import ATTRIBUTION, GEO_DATA, PROVINCE_NAMES, REGION_NAMES, reference_municipalities
from analysis.vocab import BoundaryLevel, ExposureKind

if TYPE_CHECKING:
    import geopandas as gpd

    from analysis.config import Geography

__all__ = [
    "METRIC_CRS",
    "AreaLayer",
    "BoundaryLevel",
    "area_layer",
    "assign_areas",
    "boundaries",
    "load_boundaries",
    "load_exposure",
    "to_plotly_geojson",
]

BOUNDARY_LEVELS: tuple[str, ...] = get_args(BoundaryLevel)
METRIC_CRS = "EPSG:3812"
WGS84 = "EPSG:4326"


@cache
def _pieces() -> gpd.GeoDataFrame:
    import geopandas as gpd

    path = GEO_DATA / "pieces.parquet"
    if not path.is_file():
        raise GeoError(f"{path}: reference polygons missing; rebuild with `python scripts/build_reference.py`")
    return gpd.read_parquet(path)


@cache
def _piece_index() -> tuple[Any, list[str], Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]]:
    """STRtree of the pieces (metric CRS), their municipality codes, and a WGS84 → metric transform."""
    import shapely
    from pyproj import Transformer

    pieces = _pieces()
    tree = shapely.STRtree(pieces.geometry.to_numpy())
    transformer = Transformer.from_crs(WGS84, METRIC_CRS, always_xy=True)

    def to_metric(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, y = transformer.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(x), np.asarray(y)

    return tree, pieces["nis_code"].to_list(), to_metric


@cache
def _dissolved(level: str) -> gpd.GeoDataFrame:
    import geopandas as gpd

    pieces = _pieces()
    munis = reference_municipalities()
    if level == "canton":
        g = pieces.dissolve(by="canton", method="coverage", as_index=False)[["canton", "canton_name", "geometry"]]
        g = g.rename(columns={"canton": "key", "canton_name": "name"})
    else:
        g = pieces.dissolve(by="nis_code", method="coverage", as_index=False)[["nis_code", "geometry"]]
        info = munis.select("nis_code", "name", "province_code", "region_code").to_pandas()
        g = g.merge(info, on="nis_code", how="left")
        if level == "municipality":
            g = g.rename(columns={"nis_code": "key"})[["key", "name", "province_code", "region_code", "geometry"]]
        elif level == "province":
            g = g[g["province_code"].notna()].dissolve(by="province_code", method="coverage", as_index=False)
            g = g.rename(columns={"province_code": "key"})
            g["name"] = g["key"].map(PROVINCE_NAMES)
            g = g[["key", "name", "region_code", "geometry"]]
        else:
            g = g.dissolve(by="region_code", method="coverage", as_index=False).rename(columns={"region_code": "key"})
            g["name"] = g["key"].map(REGION_NAMES)
            g = g[["key", "name", "geometry"]]
    return gpd.GeoDataFrame(g.sort_values("key").reset_index(drop=True), geometry="geometry", crs=METRIC_CRS)


def boundaries(level: BoundaryLevel, *, crs: str = WGS84) -> gpd.GeoDataFrame:
    """Polygons of one administrative level, as a GeoDataFrame with columns ``key``, ``name``, geometry.

    ``key`` is the NIS code (municipality), the canton id, the province code or the region
    code. Municipality polygons are approximate (``gdf.attrs["approximate"]`` is True and
    ``gdf.attrs["note"]`` says so for map captions); cantons, provinces and regions follow
    the NGI canton boundaries simplified at ~50 m. Metric work: ``crs="EPSG:3812"``.
    """
    if level not in BOUNDARY_LEVELS:
        raise ParameterError(f"level: expected one of {', '.join(BOUNDARY_LEVELS)}, got {level!r}")
    gdf = _dissolved(level).copy()
    if crs != METRIC_CRS:
        try:
            gdf = gdf.to_crs(crs)
        except Exception as exc:
            raise ParameterError(f"crs: cannot project to {crs!r} ({exc})") from exc
    gdf.attrs["level"] = level
    gdf.attrs["approximate"] = level == "municipality"
    gdf.attrs["source"] = ATTRIBUTION
    gdf.attrs["note"] = (
        "Municipality borders are approximate (derived from judicial cantons and GeoNames places)."
        if level == "municipality"
        else "Boundaries: NGI judicial cantons, simplified at about 50 m."
    )
    return gdf


def to_plotly_geojson(gdf: gpd.GeoDataFrame, *, id_col: str = "key") -> dict[str, Any]:
    """Build a GeoJSON FeatureCollection for plotly geo traces: WGS84, exterior rings clockwise.

    plotly's ``geo`` projection fills the *outside* of a counter-clockwise ring (the usual
    GeoJSON orientation), painting the whole frame; clockwise exteriors draw as expected.
    Each feature's ``id`` is the ``id_col`` value, for ``locations=`` in plotly.
    """
    import shapely

    if gdf.crs is None:
        raise GeoError("to_plotly_geojson: the GeoDataFrame has no CRS")
    if id_col not in gdf.columns:
        raise ParameterError(f"id_col: column {id_col!r} not in the GeoDataFrame (columns: {', '.join(map(str, gdf.columns))})")
    g = gdf.to_crs(WGS84) if gdf.crs.to_epsg() != 4326 else gdf
    geoms = shapely.orient_polygons(g.geometry.to_numpy(), exterior_cw=True)
    features = []
    props_cols = [c for c in g.columns if c not in (g.geometry.name,)]
    for i, geom in enumerate(geoms):
        row = g.iloc[i]
        props = {c: _jsonable(row[c]) for c in props_cols}
        features.append(
            {"type": "Feature", "id": _jsonable(row[id_col]), "properties": props, "geometry": shapely.geometry.mapping(geom)}
        )
    return {"type": "FeatureCollection", "features": features}


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if np.isnan(v) else float(v)
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    try:
        import pandas as pd

        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


# --------------------------------------------------------------------------- user overrides


def load_boundaries(path: str | Path, *, key: str, name: str | None = None, crs: str = WGS84) -> gpd.GeoDataFrame:
    """Read a user boundary file (GeoPackage, GeoJSON, Shapefile, GeoParquet) into ``key``, ``name``, geometry.

    The file must carry its CRS, the ``key`` column must be present, non-null and unique,
    and every geometry must be a (multi)polygon; invalid rings are repaired. Returned in
    ``crs`` (WGS84 by default) with ``attrs["approximate"] = False``.
    """
    import geopandas as gpd
    import shapely

    from analysis.config import check_boundary_file
    from analysis.errors import ConfigError

    path = Path(path)
    if not path.is_file():
        raise GeoError(f"{path}: boundary file not found")
    try:
        # plain formats only (never a VRT or another GDAL virtual source naming other files)
        check_boundary_file(path, path.parent, where=str(path))
    except ConfigError as exc:
        raise GeoError(str(exc)) from None
    try:
        gdf = gpd.read_parquet(path) if path.suffix.lower() in (".parquet", ".geoparquet") else gpd.read_file(path)
    except Exception as exc:
        # GDAL's message may quote the file's content: name the failure, not what it read
        raise GeoError(f"{path}: cannot read the boundary file ({type(exc).__name__}); check that it is a valid file") from None
    if gdf.crs is None:
        raise GeoError(f"{path}: the boundary file has no CRS; save it with one (e.g. EPSG:4326 or EPSG:3812)")
    if key not in gdf.columns:
        raise GeoError(f"{path}: key column '{key}' not found (columns: {', '.join(map(str, gdf.columns))})")
    if name is not None and name not in gdf.columns:
        raise GeoError(f"{path}: name column '{name}' not found (columns: {', '.join(map(str, gdf.columns))})")
    keys = gdf[key]
    if keys.isna().any():
        raise GeoError(f"{path}: key column '{key}' has empty values (row {int(np.flatnonzero(keys.isna())[0])})")
    keys = keys.astype(str)
    dup = keys[keys.duplicated()]
    if len(dup):
        raise GeoError(f"{path}: key column '{key}' repeats the value '{dup.iloc[0]}'")
    types = set(gdf.geometry.geom_type.dropna())
    if gdf.geometry.isna().any() or not types <= {"Polygon", "MultiPolygon"}:
        raise GeoError(f"{path}: every area needs a polygon geometry (found {', '.join(sorted(map(str, types))) or 'none'})")
    geoms = shapely.make_valid(gdf.geometry.to_numpy())
    out = gpd.GeoDataFrame(
        {"key": keys.to_numpy(), "name": (gdf[name].astype(str) if name else keys).to_numpy()},
        geometry=geoms,
        crs=gdf.crs,
    ).to_crs(crs)
    out.attrs.update(level="user", approximate=False, source=str(path), note=f"Boundaries: {path.name} (user supplied).")
    return out


def load_exposure(
    path: str | Path | None = None,
    *,
    key: str | None = None,
    column: str | None = None,
    kind: ExposureKind = "population",
    level: BoundaryLevel = "municipality",
) -> pl.DataFrame:
    """Exposure per area (customers or population): ``key``, ``exposure``, ``exposure_kind``, ``is_estimate``.

    Without ``path``: the reference population estimate (GeoNames raked to Statbel's
    1 Jan 2024 regional totals) summed to ``level`` (municipality, province or region) and
    flagged ``is_estimate``. With ``path``: a CSV, Parquet or Excel table whose ``key``
    column names the areas and ``column`` holds non-negative numbers.
    """
    if kind not in get_args(ExposureKind):
        raise ParameterError(f"kind: expected customers or population, got {kind!r}")
    schema = {"key": pl.String, "exposure": pl.Float64, "exposure_kind": pl.String, "is_estimate": pl.Boolean}
    if path is None:
        if kind != "population":
            raise ParameterError("kind: the built-in exposure is population; give a file for customers")
        m = reference_municipalities()
        by = {"municipality": "nis_code", "province": "province_code", "region": "region_code"}.get(level)
        if by is None:
            raise ParameterError(f"level: the built-in exposure exists for municipality, province, region; got {level!r}")
        out = m.filter(pl.col(by).is_not_null()).group_by(by).agg(pl.col("population").sum().cast(pl.Float64).alias("exposure"))
        return (
            out.rename({by: "key"})
            .with_columns(pl.lit("population").alias("exposure_kind"), pl.lit(True).alias("is_estimate"))
            .select(list(schema))
            .sort("key")
        )
    path = Path(path)
    if key is None or column is None:
        raise ParameterError("load_exposure: 'key' and 'column' are required with a file")
    if not path.is_file():
        raise GeoError(f"{path}: exposure file not found")
    try:
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            table = pl.read_parquet(path)
        elif suffix == ".xlsx":
            table = pl.read_excel(path)
        else:
            table = pl.read_csv(path, infer_schema_length=0)
    except Exception as exc:
        raise GeoError(f"{path}: cannot read the exposure table ({exc})") from exc
    for c in (key, column):
        if c not in table.columns:
            raise GeoError(f"{path}: column '{c}' not found (columns: {', '.join(table.columns)})")
    values = table.select(
        pl.col(key).cast(pl.String).alias("key"), pl.col(column).cast(pl.Float64, strict=False).alias("exposure")
    )
    bad = values.with_row_index("row").filter(
        pl.col("exposure").is_null() | (pl.col("exposure") < 0) | pl.col("exposure").is_nan() | pl.col("key").is_null()
    )
    if bad.height:
        r = bad.row(0, named=True)
        raw = table.row(int(r["row"]), named=True)
        raise GeoError(
            f"{path}: row {int(r['row']) + 2}: '{column}' must be a non-negative number and '{key}' set, "
            f"got {raw[column]!r} / {raw[key]!r}"
        )
    dup = values.filter(pl.col("key").is_duplicated())
    if dup.height:
        raise GeoError(f"{path}: key column '{key}' repeats the value '{dup['key'][0]}'")
    return values.with_columns(pl.lit(kind).alias("exposure_kind"), pl.lit(False).alias("is_estimate")).select(list(schema))


class AreaLayer:
    """The areas an analysis counts and draws on, with their exposure.

    Attributes
    ----------
    level : str
        ``municipality`` (default reference) or the user's level name.
    boundaries : geopandas.GeoDataFrame
        ``key``, ``name``, geometry (WGS84).
    exposure : polars.DataFrame
        ``key``, ``exposure``, ``exposure_kind``, ``is_estimate``.
    approximate : bool
        Whether the polygons are approximate (the default municipality polygons are).
    source : str
        Where the boundaries and exposure come from, for provenance.
    """

    def __init__(self, level: str, boundaries: gpd.GeoDataFrame, exposure: pl.DataFrame, approximate: bool, source: str) -> None:
        self.level = level
        self.boundaries = boundaries
        self.exposure = exposure
        self.approximate = approximate
        self.source = source

    def __repr__(self) -> str:
        return f"AreaLayer(level={self.level!r}, areas={len(self.boundaries)}, approximate={self.approximate})"


def area_layer(geography: Geography | None = None, *, level: BoundaryLevel = "municipality") -> AreaLayer:
    """Choose the areas and exposure of an incident: user files named in ``incident.toml``, else the reference.

    ``geography`` is ``Incident.geography``. A user boundary file without an exposure
    table gets no exposure (empty table): population cannot be guessed for foreign areas.
    An exposure table without a boundary file applies to the reference ``level``.
    """
    if geography is not None and geography.boundaries is not None:
        gdf = load_boundaries(geography.boundaries, key=geography.boundaries_key or "", name=geography.boundaries_name)
        if geography.exposure is not None:
            exp = load_exposure(
                geography.exposure, key=geography.exposure_key, column=geography.exposure_column, kind=geography.exposure_kind
            )
        else:
            exp = pl.DataFrame(
                schema={"key": pl.String, "exposure": pl.Float64, "exposure_kind": pl.String, "is_estimate": pl.Boolean}
            )
        missing = set(exp["key"]) - set(gdf["key"])
        if missing:
            raise GeoError(f"{geography.exposure}: exposure keys not in the boundary file: {', '.join(sorted(missing)[:5])}")
        return AreaLayer(geography.level, gdf, exp, False, f"{geography.boundaries.name} (user supplied)")
    gdf = boundaries(level)
    if geography is not None and geography.exposure is not None:
        exp = load_exposure(
            geography.exposure, key=geography.exposure_key, column=geography.exposure_column, kind=geography.exposure_kind
        )
        missing = set(exp["key"]) - set(gdf["key"])
        if missing:
            raise GeoError(f"{geography.exposure}: exposure keys that are not {level} codes: {', '.join(sorted(missing)[:5])}")
        source = f"{ATTRIBUTION} Exposure: {geography.exposure.name} (user supplied)."
    else:
        exp = load_exposure(level=level)
        source = ATTRIBUTION
    return AreaLayer(level, gdf, exp, level == "municipality", source)


def assign_areas(
    df: pl.DataFrame,
    areas: gpd.GeoDataFrame,
    *,
    lat_col: str = "lat",
    lon_col: str = "lon",
    out_col: str = "area_key",
) -> pl.DataFrame:
    """Add the key of the user area holding each report: its coordinates, else its municipality's seat point.

    ``df`` must already carry ``nis_code`` (see :func:`resolve_places`). Reports with
    neither coordinates nor a municipality, or outside every area, get null.
    """
    import shapely

    if "key" not in areas.columns or areas.crs is None:
        raise GeoError("assign_areas: the areas need a 'key' column and a CRS")
    if "nis_code" not in df.columns:
        raise GeoError("assign_areas: resolve the places first (no 'nis_code' column)")
    seats = reference_municipalities().select("nis_code", pl.col("lat").alias("__slat"), pl.col("lon").alias("__slon"))
    lat = df[lat_col].cast(pl.Float64, strict=False) if lat_col in df.columns else pl.Series([None] * df.height, dtype=pl.Float64)
    lon = df[lon_col].cast(pl.Float64, strict=False) if lon_col in df.columns else pl.Series([None] * df.height, dtype=pl.Float64)
    pts = (
        pl.DataFrame({"nis_code": df["nis_code"], "__lat": lat, "__lon": lon})
        .join(seats, on="nis_code", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("__lat").is_not_null() & pl.col("__lon").is_not_null())
            .then(pl.col("__lat"))
            .otherwise(pl.col("__slat"))
            .alias("y"),
            pl.when(pl.col("__lat").is_not_null() & pl.col("__lon").is_not_null())
            .then(pl.col("__lon"))
            .otherwise(pl.col("__slon"))
            .alias("x"),
        )
    )
    uniq = pts.select("x", "y").unique().drop_nulls()
    a = areas.to_crs(WGS84)
    tree = shapely.STRtree(a.geometry.to_numpy())
    found = np.full(uniq.height, -1)
    if uniq.height:
        pi, gi = tree.query(shapely.points(uniq["x"].to_numpy(), uniq["y"].to_numpy()), predicate="within")
        found[pi] = gi
    keys = a["key"].astype(str).to_numpy()
    uniq = uniq.with_columns(pl.Series(out_col, [keys[i] if i >= 0 else None for i in found], dtype=pl.String))
    joined = pts.select("x", "y").join(uniq, on=["x", "y"], how="left", nulls_equal=False, maintain_order="left")
    return df.with_columns(joined[out_col])
