"""Offline maps: light clockwise GeoJSON embedded once per figure, layers switching only z, honest colouring."""

from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest
import shapely
from shapely.geometry import Polygon, box, shape

from analysis import maps
from analysis.errors import GeoError, ParameterError
from analysis.geo import boundaries

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
X0, Y0 = 650_000.0, 665_000.0


def grid(n: int = 4) -> gpd.GeoDataFrame:
    geoms = [
        box(X0 + (i % n) * 1000, Y0 + (i // n) * 1000, X0 + (i % n + 1) * 1000, Y0 + (i // n + 1) * 1000) for i in range(n * n)
    ]
    return gpd.GeoDataFrame(
        {"key": [f"a{i:02d}" for i in range(n * n)], "name": [f"Area <{i}>" for i in range(n * n)]},
        geometry=geoms,
        crs="EPSG:3812",
    )


def area_rows(keys: list[str]) -> pl.DataFrame:
    n = len(keys)
    rng = np.random.default_rng(0)
    counts = rng.poisson(3, n).astype(float)
    counts[0] = 0
    expected = np.full(n, counts.mean())
    counts[1] = 40  # a clear hot spot
    return pl.DataFrame(
        {
            "key": keys,
            "name": [f"Area <{i}>" for i in range(n)],
            "region": ["Wallonia"] * n,
            "n_reports": counts,
            "rate": counts / 1.0,
            "expected": expected,
            "ratio": counts / expected,
            "ratio_low": [0.0 if c == 0 else c / e * 0.5 for c, e in zip(counts, expected, strict=True)],
            "ratio_high": [c / e * 1.6 + 0.1 for c, e in zip(counts, expected, strict=True)],
            "verdict": ["more than expected" if c == 40 else "as expected" for c in counts],
            "last_down_minutes": np.linspace(60, 600, n),
        }
    )


def test_display_geojson_is_clockwise_rounded_and_light():
    g = grid()
    gj = maps.display_geojson(g, decimals=4)
    assert [f["id"] for f in gj["features"]] == g["key"].tolist()
    for f in gj["features"]:
        assert f["properties"] == {}
        ring = f["geometry"]["coordinates"][0]
        assert not shapely.LinearRing(ring).is_ccw  # plotly geo needs clockwise exteriors
        assert all(round(x, 4) == x for pt in ring for x in pt)
    # the drawn area is the square, not the rest of the globe
    assert shape(gj["features"][0]["geometry"]).area < 1e-3
    only = maps.display_geojson(g, keys=["a03", "a05"])
    assert [f["id"] for f in only["features"]] == ["a03", "a05"]


def test_display_geojson_of_belgium_stays_small_and_edge_matched():
    munis = boundaries("municipality")
    gj = maps.display_geojson(munis)
    size = len(json.dumps(gj, separators=(",", ":")))
    assert size < 500_000
    assert len(gj["features"]) == 565
    polys = [shape(f["geometry"]).buffer(0) for f in gj["features"]]
    total = shapely.union_all(polys)
    # simplification along shared edges leaves no gaps inside the country
    assert total.area == pytest.approx(sum(p.area for p in polys), rel=0.01)


def test_display_geojson_rejects_missing_crs_or_key():
    g = grid()
    with pytest.raises(GeoError, match="CRS"):
        maps.display_geojson(g.set_crs(None, allow_override=True))
    with pytest.raises(GeoError, match="key"):
        maps.display_geojson(g.rename(columns={"key": "id"}))


def test_area_map_embeds_the_geojson_once_and_switches_only_styles():
    g = grid()
    gj = maps.display_geojson(g)
    t = area_rows(g["key"].tolist())
    clusters = pl.DataFrame({"key": t["key"], "cluster": ["high-high"] + ["not significant"] * (t.height - 1)})
    fig = maps.area_map(
        t, gj, layers=("reports", "rate", "excess", "clusters"), clusters=clusters, base=gj, note=maps.APPROXIMATE_NOTE
    )
    assert isinstance(fig, go.Figure)
    assert all(tr.type == "choropleth" for tr in fig.data)  # geo subplot, no tile map
    # the view is the box around the drawn areas, and the page sizes the figure so they fill the column
    assert fig.layout.geo.visible is False and fig.layout.geo.fitbounds is False
    (lon0, lon1), (lat0, lat1) = fig.layout.geo.lonaxis.range, fig.layout.geo.lataxis.range
    assert (
        lon0 < lon1
        and lat0 < lat1
        and fig.layout.meta["map"]["aspect"] == pytest.approx(maps.mercator_aspect((lon0, lon1, lat0, lat1)), abs=1e-3)
    )
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["Reports", "Rate", "Observed vs expected", "Clusters"]
    for b in buttons:
        assert "geojson" not in b.args[0] and "locations" not in b.args[0]
        assert list(b.args[1]) == [1]  # the areas trace, above the grey base
    doc = fig.to_json()
    assert doc.count('"features"') == 2  # base layer and areas, nothing repeated per layer
    assert maps.APPROXIMATE_NOTE in [a.text for a in fig.layout.annotations]
    # hover text is escaped (names from data are never markup)
    assert "&lt;1&gt;" in fig.data[1].hovertext[1] and "<1>" not in fig.data[1].hovertext[1]
    # reports: areas without any stay grey (not drawn), the rest on a log scale
    z = fig.data[1].z
    assert z[0] is None and z[1] == pytest.approx(np.log10(40), abs=1e-4)


def test_excess_layer_colours_only_what_is_beyond_chance():
    g = grid()
    t = area_rows(g["key"].tolist())
    fig = maps.area_map(t, maps.display_geojson(g), layers=("excess",))
    z = np.array(fig.data[0].z, dtype=float)
    assert z[1] == pytest.approx(min(3.0, np.log2(t["ratio"][1])))  # the hot spot keeps its colour
    assert np.all(z[2:] == 0)  # "as expected" areas take the neutral colour
    assert fig.data[0].zmid == 0


def test_area_map_rejects_unknown_layers():
    g = grid()
    t = area_rows(g["key"].tolist())
    with pytest.raises(ParameterError, match="layer"):
        maps.area_map(t, maps.display_geojson(g), layers=("heat",))  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="clusters"):
        maps.area_map(t, maps.display_geojson(g), layers=("clusters",))


def test_recovery_map_colours_only_areas_that_speak_for_themselves():
    g = grid()
    t = area_rows(g["key"].tolist()).with_columns(
        pl.Series("t90_minutes", np.linspace(200, 500, 16)),
        pl.Series("t90_low", np.linspace(150, 400, 16)),
        pl.Series("t90_high", np.linspace(300, 700, 16)),
        pl.Series("data_weight", [0.9] * 4 + [0.0] * 12),
        pl.lit("basis").alias("basis"),
    )
    fig = maps.recovery_map(t, maps.display_geojson(g), onset=ONSET, timezone="Europe/Brussels")
    z = fig.data[0].z
    assert all(v is not None for v in z[:4]) and all(v is None for v in z[4:])
    assert z[0] == pytest.approx(200 / 60, abs=1e-3)  # hours after onset (rounded for weight)
    other = fig.layout.updatemenus[0].buttons[1].args[0]["z"][0]
    assert other[-1] == pytest.approx(10.0, abs=1e-3)  # last down report 600 min after onset
    hover = fig.data[0].hovertext[0]  # 19:00 UTC is 20:00 in Brussels; + 200 min, interval from + 150 min
    assert "Mon 23:20" in hover and "[Mon 22:30–Tue 01:00]" in hover


def test_timelapse_changes_only_z_between_frames():
    g = grid(3)
    gj = maps.display_geojson(g)
    hours = [ONSET + dt.timedelta(hours=h) for h in range(5)]
    hourly = pl.DataFrame(
        {"key": ["a00", "a01", "a01", "a04"], "hour": [hours[0], hours[0], hours[3], hours[4]], "reports": [2.0, 1.0, 0.5, 3.0]},
        schema={"key": pl.String, "hour": pl.Datetime("us", "UTC"), "reports": pl.Float64},
    )
    fig = maps.timelapse_map(hourly, gj, {"a00": "first", "a01": "second", "a04": "third"}, timezone="Europe/Brussels")
    assert len(fig.frames) == 5  # every hour, empty ones included
    assert fig.frames[0].name == "Mon 20:00"
    for f in fig.frames:
        assert set(f.data[0].to_plotly_json()) <= {"z", "type"}
        assert list(f.traces) == [0]
    assert list(fig.frames[3].data[0].z) == [0.0, 0.5, 0.0]
    assert [ft["id"] for ft in fig.data[0].geojson["features"]] == ["a00", "a01", "a04"]  # only drawn areas embedded
    assert len(fig.layout.sliders[0].steps) == 5


def test_statements_map_draws_named_areas_not_points():
    prov = boundaries("province")
    reg = boundaries("region")
    gdf = gpd.GeoDataFrame(
        pl.DataFrame({"key": ["10000", "02000"]}).to_pandas(),
        geometry=[prov.set_index("key").loc["10000"].geometry, reg.set_index("key").loc["02000"].geometry],
        crs=prov.crs,
    )
    s = pl.DataFrame(
        {
            "scope": ["province", "region", "country"],
            "area": ["Antwerp", "Flanders", "Belgium (whole country)"],
            "code": ["10000", "02000", "01000"],
            "status": ["down", "not_affected", "partial"],
            "statements": [1, 2, 5],
            "from_local": ["Mon 08 Jan 20:00"] * 3,
            "to_local": ["Tue 09 Jan 00:00"] * 3,
        }
    )
    fig = maps.statements_map(s, maps.display_geojson(gdf, tolerance_m=400))
    assert {tr.type for tr in fig.data} == {"choropleth"}
    # regions under provinces; the country-wide "partial" statement is evidence in Flanders too
    assert [tr.name for tr in fig.data] == ["region: reports; some kept service", "province: down"]
    assert "5 more statement" in fig.layout.legend.title.text
    calm = maps.statements_map(s.filter(pl.col("scope") != "country"), maps.display_geojson(gdf, tolerance_m=400))
    assert [tr.name for tr in calm.data] == ["region: not affected", "province: down"]


def _statements(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "scope": [r[0] for r in rows],
            "area": [r[1] for r in rows],
            "code": [r[1] for r in rows],
            "status": [r[2] for r in rows],
            "statements": [1] * len(rows),
            "from_local": ["Mon 08 Jan 20:00"] * len(rows),
            "to_local": ["Tue 09 Jan 00:00"] * len(rows),
        }
    )


@pytest.mark.parametrize(
    ("rows", "reported", "expected"),
    [
        # only "some kept service" and nothing else anywhere: the statement is all there is
        ([("region", "R", "not_affected")], [], "not_affected"),
        # reports placed in the area: never "not affected", whatever a source says of a minority
        ([("region", "R", "not_affected")], ["R"], "mixed"),
        ([("province", "P", "restored")], ["P"], "mixed"),
        # a down statement about the whole country is evidence in every area
        ([("province", "P", "not_affected"), ("country", "BE", "down")], [], "mixed"),
        ([("province", "P", "not_affected"), ("country", "BE", "not_affected")], [], "not_affected"),
        # a down statement about the area itself wins over the minority statement
        ([("province", "P", "not_affected"), ("province", "P", "down")], [], "down"),
        ([("province", "P", "partial")], ["P"], "partial"),
    ],
)
def test_an_area_with_reports_is_never_painted_not_affected(rows, reported, expected) -> None:
    painted = maps.painted_status(_statements(rows), reported)
    (status,) = painted.filter(pl.col("scope") != "country")["status"].to_list()
    assert status == expected


def test_region_curves_small_multiples_with_bands():
    m = np.linspace(0, 600, 50)
    s = np.exp(-m / 120)
    curves = [
        {"region": r, "minutes": m, "s": s**k, "low": s ** (k * 1.2), "high": s ** (k * 0.8), "label": "own fit"}
        for r, k in (("Flanders", 1.0), ("Wallonia", 0.6), ("Brussels", 1.0))
    ]
    curves[2]["low"] = np.full(50, np.nan)  # no band when unknown
    fig = maps.region_curves(curves, onset=ONSET, timezone="Europe/Brussels", national={"minutes": m, "s": s})
    xs = {tr.xaxis for tr in fig.data}
    assert xs == {"x", "x2", "x3"}
    bands = [tr for tr in fig.data if tr.fill == "toself"]
    assert len(bands) == 2
    assert fig.data[0].y[0] == pytest.approx(100)
    with pytest.raises(ParameterError):
        maps.region_curves([], onset=ONSET, timezone="Europe/Brussels")


def test_plotly_polygons_of_a_hand_made_square_keep_its_corners():
    square = gpd.GeoDataFrame({"key": ["s"]}, geometry=[Polygon([(0, 0), (0, 1), (1, 1), (1, 0)])], crs="EPSG:4326")
    gj = maps.display_geojson(square, tolerance_m=0, decimals=3)
    ring = gj["features"][0]["geometry"]["coordinates"][0]
    assert sorted({tuple(p) for p in ring}) == [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)]


def test_the_page_sizes_a_map_from_its_aspect_so_it_fills_the_column():
    """On the page a map has no fixed height: CSS gives it column width ÷ aspect plus its fixed rows."""
    from analysis.htmlexport import OfflineRenderer

    prov = boundaries("province")
    gj = maps.display_geojson(prov, tolerance_m=400)
    t = pl.DataFrame({"key": prov["key"].tolist(), "name": prov["key"].tolist(), "last_down_minutes": [60.0] * len(prov)})
    fig = maps.recovery_map(
        t, gj, onset=dt.datetime(2018, 1, 8, 19, tzinfo=dt.UTC), timezone="Europe/Brussels", layers=("last_down",)
    )
    sizing = fig.layout.meta["map"]
    assert 1.0 < sizing["aspect"] < 1.6  # Belgium under Mercator is wider than tall
    assert fig.layout.height == round(maps.PAGE_WIDTH / sizing["aspect"]) + sizing["fixed_px"]  # JupyterLab: a fixed height
    assert fig.data[-1].colorbar.orientation == "h"  # the colour scale lies under the map, not beside it
    div = OfflineRenderer("en").to_mimebundle(fig.to_plotly_json())["text/html"]
    assert div.startswith('<div class="pm-map" style="container-type: inline-size">')
    assert f"height:calc({100 / sizing['aspect']:.2f}cqw + {sizing['fixed_px']}px); width:100%;" in div
    assert '"height":' not in div.split("Plotly.newPlot", 1)[1]  # the layout's own height is dropped on the page
    chart = go.Figure(go.Scatter(x=[1, 2], y=[1, 2]))
    assert "pm-map" not in OfflineRenderer("en").to_mimebundle(chart.to_plotly_json())["text/html"]
