import geopandas as gpd
import numpy as np
import polars as pl
import pytest
import shapely
from shapely.geometry import box

from analysis.config import Geography
from analysis.errors import GeoError, ParameterError
from analysis.geo import area_layer, assign_areas, boundaries, load_boundaries, load_exposure, resolve_places, to_plotly_geojson

# Official areas (km², Statbel): independent checks of the polygons
BELGIUM_KM2 = 30_689
PROVINCE_KM2 = {"80000": 4_459, "10000": 2_876, "30000": 3_197}


@pytest.mark.parametrize(("level", "n"), [("municipality", 565), ("canton", 162), ("province", 10), ("region", 3)])
def test_levels_have_every_area_with_a_crs(level, n):
    gdf = boundaries(level)
    assert len(gdf) == n
    assert gdf["key"].is_unique
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf.columns[:2]) == ["key", "name"]
    assert gdf.geometry.is_valid.all()
    assert gdf.attrs["approximate"] is (level == "municipality")
    assert gdf.attrs["note"]


def test_municipalities_tile_belgium_without_gaps_or_overlaps():
    gdf = boundaries("municipality", crs="EPSG:3812")
    geoms = gdf.geometry.to_numpy()
    assert shapely.coverage_is_valid(geoms)
    total_km2 = gdf.area.sum() / 1e6
    assert total_km2 == pytest.approx(BELGIUM_KM2, rel=0.005)
    regions = boundaries("region", crs="EPSG:3812")
    assert regions.area.sum() / 1e6 == pytest.approx(total_km2, rel=1e-6)


def test_province_areas_match_official_figures():
    prov = boundaries("province", crs="EPSG:3812").set_index("key")
    for code, km2 in PROVINCE_KM2.items():
        assert prov.loc[code].geometry.area / 1e6 == pytest.approx(km2, rel=0.02), code


def test_each_seat_point_lies_in_its_own_municipality_polygon():
    from analysis.geo import reference_municipalities

    m = reference_municipalities()
    gdf = boundaries("municipality")
    pts = gpd.GeoDataFrame({"nis": m["nis_code"].to_list()}, geometry=gpd.points_from_xy(m["lon"], m["lat"]), crs=4326)
    hit = gpd.sjoin(pts, gdf, predicate="within", how="left")
    share = float((hit["key"] == hit["nis"]).mean())
    assert share > 0.99


def test_unknown_level_or_crs_rejected():
    with pytest.raises(ParameterError, match="level"):
        boundaries("commune")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="crs"):
        boundaries("region", crs="EPSG:999999")


def _is_clockwise(ring: np.ndarray) -> bool:
    x, y = ring[:, 0], ring[:, 1]
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]))) > 0


def test_plotly_geojson_is_wgs84_with_clockwise_exteriors():
    gj = to_plotly_geojson(boundaries("province", crs="EPSG:3812"))
    assert len(gj["features"]) == 10
    for f in gj["features"]:
        polys = [f["geometry"]["coordinates"]] if f["geometry"]["type"] == "Polygon" else f["geometry"]["coordinates"]
        for poly in polys:
            ext = np.asarray(poly[0])
            assert _is_clockwise(ext)
            assert (ext[:, 0] > 2).all()
            assert (ext[:, 0] < 7).all()


def test_largest_polygon_does_not_cover_the_frame():
    gj = to_plotly_geojson(boundaries("municipality"))
    largest = max((shapely.geometry.shape(f["geometry"]) for f in gj["features"]), key=lambda g: g.area)
    frame = box(2.5, 49.4, 6.5, 51.6)
    # plotly fills what a ring encloses on the sphere; a clockwise exterior encloses the polygon itself
    assert largest.area < 0.05 * frame.area
    assert frame.contains(largest)
    ring = np.asarray(shapely.get_coordinates(largest.exterior if largest.geom_type == "Polygon" else largest.geoms[0].exterior))
    assert _is_clockwise(ring)


def test_plotly_geojson_needs_a_crs_and_the_id_column():
    g = boundaries("region")
    with pytest.raises(ParameterError, match="id_col"):
        to_plotly_geojson(g, id_col="nope")
    with pytest.raises(GeoError, match="CRS"):
        to_plotly_geojson(gpd.GeoDataFrame({"key": ["a"]}, geometry=[box(0, 0, 1, 1)]))


# --------------------------------------------------------------------------- user overrides


def _user_areas(tmp_path, *, crs="EPSG:4326", key="zone"):
    # two boxes splitting Belgium at 4.5° E
    gdf = gpd.GeoDataFrame(
        {key: ["west", "east"], "label": ["West", "East"]},
        geometry=[box(2.4, 49.4, 4.5, 51.6), box(4.5, 49.4, 6.5, 51.6)],
        crs=crs,
    )
    path = tmp_path / "zones.geojson"
    gdf.to_file(path, driver="GeoJSON")
    return path


def test_load_boundaries_reads_a_user_file(tmp_path):
    gdf = load_boundaries(_user_areas(tmp_path), key="zone", name="label")
    assert list(gdf["key"]) == ["west", "east"]
    assert list(gdf["name"]) == ["West", "East"]
    assert gdf.crs.to_epsg() == 4326
    assert gdf.attrs["approximate"] is False


def test_load_boundaries_errors_name_the_problem(tmp_path):
    path = _user_areas(tmp_path)
    with pytest.raises(GeoError, match="key column 'id' not found"):
        load_boundaries(path, key="id")
    with pytest.raises(GeoError, match="not found"):
        load_boundaries(tmp_path / "nothing.gpkg", key="zone")
    dup = gpd.GeoDataFrame({"zone": ["a", "a"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326)
    dup.to_file(tmp_path / "dup.gpkg", driver="GPKG")
    with pytest.raises(GeoError, match="repeats"):
        load_boundaries(tmp_path / "dup.gpkg", key="zone")
    pts = gpd.GeoDataFrame({"zone": ["a"]}, geometry=gpd.points_from_xy([4.0], [50.0]), crs=4326)
    pts.to_file(tmp_path / "pts.geojson", driver="GeoJSON")
    with pytest.raises(GeoError, match="polygon"):
        load_boundaries(tmp_path / "pts.geojson", key="zone")


def test_load_boundaries_reads_geoparquet_in_another_crs(tmp_path):
    gdf = gpd.read_file(_user_areas(tmp_path)).to_crs(3812)
    gdf.to_parquet(tmp_path / "zones.parquet")
    out = load_boundaries(tmp_path / "zones.parquet", key="zone")
    assert out.crs.to_epsg() == 4326
    assert out.total_bounds[0] == pytest.approx(2.4, abs=1e-6)


def test_default_exposure_is_the_population_estimate():
    exp = load_exposure()
    assert exp.height == 565
    assert exp["exposure"].sum() == pytest.approx(11_763_650)
    assert exp["is_estimate"].all()
    assert set(exp["exposure_kind"]) == {"population"}
    assert load_exposure(level="region").sort("key")["exposure"].to_list() == [6_821_770, 3_692_283, 1_249_597]


def test_user_exposure_table_and_its_errors(tmp_path):
    (tmp_path / "cust.csv").write_text("zone,customers\nwest,1200\neast,800\n", encoding="utf-8")
    exp = load_exposure(tmp_path / "cust.csv", key="zone", column="customers", kind="customers")
    assert exp.sort("key").to_dicts() == [
        {"key": "east", "exposure": 800.0, "exposure_kind": "customers", "is_estimate": False},
        {"key": "west", "exposure": 1200.0, "exposure_kind": "customers", "is_estimate": False},
    ]
    (tmp_path / "bad.csv").write_text("zone,customers\nwest,lots\n", encoding="utf-8")
    with pytest.raises(GeoError, match="row 2"):
        load_exposure(tmp_path / "bad.csv", key="zone", column="customers")
    with pytest.raises(GeoError, match="column 'clients'"):
        load_exposure(tmp_path / "cust.csv", key="zone", column="clients")
    with pytest.raises(ParameterError):
        load_exposure(kind="customers")


def test_area_layer_applies_incident_geography(tmp_path):
    path = _user_areas(tmp_path)
    (tmp_path / "cust.csv").write_text("zone,customers\nwest,1200\neast,800\n", encoding="utf-8")
    geo = Geography(
        boundaries=path,
        boundaries_key="zone",
        level="zone",
        exposure=tmp_path / "cust.csv",
        exposure_key="zone",
        exposure_column="customers",
        exposure_kind="customers",
    )
    layer = area_layer(geo)
    assert layer.level == "zone"
    assert not layer.approximate
    assert set(layer.boundaries["key"]) == {"west", "east"}
    assert layer.exposure["exposure"].sum() == 2000
    default = area_layer()
    assert default.approximate
    assert len(default.boundaries) == 565


def test_assign_areas_uses_coordinates_else_the_municipality_seat(tmp_path):
    zones = load_boundaries(_user_areas(tmp_path), key="zone")
    df = pl.DataFrame(
        {"place_raw": ["Liège", "Bruges", "Liège", None], "lat": [None, None, 50.85, None], "lon": [None, None, 3.0, None]}
    )
    out = resolve_places(df, boundaries=zones)
    # the third report's coordinates (near Ieper) win over its text
    assert out["area_key"].to_list() == ["east", "west", "west", None]
    with pytest.raises(GeoError, match="nis_code"):
        assign_areas(df, zones)
