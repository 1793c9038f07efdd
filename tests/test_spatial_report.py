"""The Geography section and the metrics blocks, on the default incident and on a simulated national one."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
import pytest

from analysis.maps import APPROXIMATE_NOTE
from analysis.params import validate_params
from analysis.pipeline import analyze
from analysis.spatial_analysis import areas_metrics, equal_recovery_metrics, regions_metrics, spatial_analysis
from analysis.spatial_recovery import region_replicates
from analysis.spatial_report import geography_parts

from .conftest import DEFAULT_INCIDENT
from .spatial_fixtures import simulate_reports


@pytest.fixture(scope="module")
def default_analysis(tmp_path_factory: pytest.TempPathFactory):
    processed = tmp_path_factory.mktemp("processed")
    params = validate_params(incident_dir=str(DEFAULT_INCIDENT), n_boot=40, families="loglogistic", processed_dir=str(processed))
    return analyze(params)


def test_default_incident_is_reported_honestly(default_analysis):
    a = default_analysis
    s = spatial_analysis(a)
    assert spatial_analysis(a) is s  # computed once per analysis
    # press statements: a few dozen, no municipality gets a confident curve of its own
    assert s.pooled is not None
    assert (s.pooled.table["data_weight"] < 0.1).all()
    regions = regions_metrics(a)
    assert set(regions) == {"Flanders", "Wallonia", "Brussels"}
    for r in regions.values():
        assert {"n_reports", "t50_minutes", "t90_minutes", "t50_minutes_ci", "t90_minutes_ci"} <= set(r)
    assert regions["Wallonia"]["basis"] == "own fit"
    assert "pooled" in regions["Flanders"]["basis"] and "fewer than the 20" in regions["Flanders"]["basis"]
    assert "under-sampled" in regions["Flanders"]["coverage_caveat"]  # the newsroom covers Wallonia and Brussels
    assert regions["Wallonia"]["coverage_caveat"] is None
    # a region's own bootstrap has half the national replicates (at least 20): 20 of 40 here
    own = s.regions.regions["Wallonia"].fit
    assert own is not None and sum(d.theta.shape[0] for d in own.draws) + own.n_boot_failed == region_replicates(40) == 20
    eq = equal_recovery_metrics(a)
    assert {"test", "statistic", "p_value", "df"} <= set(eq)
    assert eq["performed"] is False and eq["p_value"] is None and "fewer than two regions" in eq["note"]
    areas = areas_metrics(a)
    assert areas["n_municipalities"] == a.down.filter(pl.col("municipality").is_not_null())["nis_code"].n_unique()
    assert areas["reports_by_scope"]["province"] >= 3  # "mainly the provinces of Antwerp, East and West Flanders"
    assert areas["expected_within"] == "region"
    assert -1 <= areas["morans_i"] <= 1 and 0 < areas["morans_i_p_value"] <= 1
    json.dumps({"regions": regions, "eq": eq, "areas": areas}, allow_nan=False)  # metrics.json-ready


def test_default_geography_section_says_what_the_data_allow(default_analysis):
    parts = geography_parts(default_analysis)
    html = "\n".join(p for p in parts if isinstance(p, str))
    figs = [p for p in parts if isinstance(p, go.Figure)]
    assert parts[0].startswith('<h2 id="geography">')
    assert "Not tested" in html and "fewer than two regions" in html
    assert "no detectable difference in pace" in html and "no municipality gets a confident curve" in html
    assert "Statements about whole areas" in html and "Antwerp" in html
    assert "under-sampled" in html
    assert "Distance from Evere" in html and "Neighbouring areas had similar report rates" in html
    assert "Moran" not in html and 'href="#methods-neighbours"' in html  # the statistic is in Methods
    from analysis.spatial_report import moran_methods

    assert "Moran&#x27;s I = " in moran_methods(default_analysis)
    assert len(figs) == 5  # areas, statements, recovery, time-lapse, regions
    for f in figs:
        assert not any(tr.type in ("choroplethmap", "scattermap", "choroplethmapbox", "scattermapbox") for tr in f.data)
    assert APPROXIMATE_NOTE in [note.text for note in figs[0].layout.annotations]
    sizes = [len(f.to_json()) for f in figs]
    assert max(sizes) < 1_000_000 and sum(sizes) < 2_000_000
    recovery = figs[2]
    assert not recovery.layout.updatemenus  # no area has its own t90: only the last-down layer is offered
    areas = [tr for tr in recovery.data if tr.type == "choropleth"]
    assert areas[-1].colorbar.title.text == "hours after onset, last down report"
    for fig in (figs[0], recovery, figs[3]):  # the origin the distances are measured from is marked on the maps (time-lapse too)
        (star,) = [tr for tr in fig.data if tr.type == "scattergeo" and tr.name == "origin"]
        assert "Evere" in star.text[0]
        (labels,) = [tr for tr in fig.data if tr.type == "scattergeo" and tr.name == "labels"]
        assert "Hainaut" in labels.text  # and the provinces are named


@pytest.mark.slow
def test_simulated_regional_slowdown_shows_in_the_report(tmp_path: Path):
    r = simulate_reports(2500, slow={"Wallonia": 1.6}, seed=21)
    local = r.select(
        pl.col("reported_at").dt.convert_time_zone("Europe/Brussels").dt.strftime("%Y-%m-%d %H:%M:%S").alias("time"),
        pl.col("municipality").alias("town"),
    )
    folder = tmp_path / "sim-regional"
    folder.mkdir()
    local.write_csv(folder / "reports.csv")
    (folder / "incident.toml").write_text(
        textwrap.dedent(
            """\
            id = "sim-regional"
            title = "Simulated national outage, Wallonia 1.6 times slower"
            timezone = "Europe/Brussels"
            onset = "2018-01-08T20:00:00"
            end = "2018-01-10T08:00:00"
            simulated = true
            [origin]
            name = "Evere"
            lat = 50.87
            lon = 4.40
            [[sources]]
            path = "reports.csv"
            kind = "down_reports"
            [sources.columns]
            reported_at = "time"
            place = "town"
            """
        ),
        encoding="utf-8",
    )
    params = validate_params(incident_dir=str(folder), n_boot=40, families="weibull", processed_dir=str(tmp_path / "p"))
    a = analyze(params)
    regions = regions_metrics(a)
    assert regions["Wallonia"]["t90_minutes_ci"][0] > regions["Flanders"]["t90_minutes_ci"][1]
    assert regions["Wallonia"]["t90_minutes"] / regions["Flanders"]["t90_minutes"] == pytest.approx(1.6, rel=0.2)
    eq = equal_recovery_metrics(a)
    assert eq["performed"] and eq["p_value"] < 1e-3
    s = spatial_analysis(a)
    assert s.pooled is not None and s.pooled.tau > 0
    parts = geography_parts(a)
    html = "\n".join(p for p in parts if isinstance(p, str))
    assert "the regions did not recover alike" in html
    # the map of when each area recovered: its first view is the pooled t90
    menus = [p.layout.updatemenus for p in parts if isinstance(p, go.Figure) and p.layout.updatemenus]
    assert any(m[0].buttons[0].label == "Area t90 (pooled)" for m in menus)


def test_user_areas_with_customers_and_no_origin(tmp_path: Path):
    import geopandas as gpd
    from shapely.geometry import box

    folder = tmp_path / "user-areas"
    folder.mkdir()
    centres = {"BXL": (649000, 666000), "NAM": (685000, 620000), "LGE": (735000, 648000), "ARD": (720000, 560000)}
    gpd.GeoDataFrame(
        {"zone": list(centres), "label": ["Brussels zone", "Namur zone", "Liège <zone>", "Ardennes"]},
        geometry=[box(x - 20000, y - 20000, x + 20000, y + 20000) for x, y in centres.values()],
        crs="EPSG:3812",
    ).to_file(folder / "zones.geojson", driver="GeoJSON")
    (folder / "customers.csv").write_text("zone,customers\nBXL,120000\nNAM,40000\nLGE,60000\nARD,5000\n", encoding="utf-8")
    towns = ["Bruxelles", "Namur", "Liège", "Uccle", "Anderlecht", "Jambes", "Seraing", "Herstal"]
    rows = ["time,town"] + [
        f"2018-01-08 {20 + m // 60}:{m % 60:02d},{towns[i % len(towns)]}" for i, m in enumerate(range(0, 240, 4))
    ]
    (folder / "r.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "incident.toml").write_text(
        textwrap.dedent(
            """\
            id = "user-areas"
            title = "User areas"
            timezone = "Europe/Brussels"
            onset = "2018-01-08T20:00:00"
            end = "2018-01-09T02:00:00"
            [geography]
            boundaries = "zones.geojson"
            boundaries_key = "zone"
            boundaries_name = "label"
            level = "zone"
            exposure = "customers.csv"
            exposure_key = "zone"
            exposure_column = "customers"
            exposure_kind = "customers"
            [[sources]]
            path = "r.csv"
            kind = "down_reports"
            [sources.columns]
            reported_at = "time"
            place = "town"
            """
        ),
        encoding="utf-8",
    )
    a = analyze(validate_params(incident_dir=str(folder), n_boot=20, families="exponential", processed_dir=str(tmp_path / "p")))
    s = spatial_analysis(a)
    assert s.level == "user" and not s.approximate
    assert s.rate_unit == "per 1,000 customers"
    counts = dict(zip(s.table["key"], s.table["n_reports"], strict=True))
    assert counts == {"ARD": 0, "BXL": 23, "LGE": 22, "NAM": 15}  # Bruxelles, Uccle, Anderlecht → BXL; Jambes → NAM
    assert s.moran is None and any("at least 10" in n for n in s.notes)
    assert s.distance == {}  # no origin in incident.toml
    parts = geography_parts(a)
    html = "\n".join(p for p in parts if isinstance(p, str))
    assert "Liège &lt;zone&gt;" in html and "<zone>" not in html
    area_map = next(p for p in parts if isinstance(p, go.Figure))
    assert APPROXIMATE_NOTE not in [note.text for note in area_map.layout.annotations]  # the user's own polygons


@pytest.mark.parametrize("lang", ["en", "fr", "nl"])
def test_the_map_caption_names_the_origin_only_when_there_is_one(lang: str) -> None:
    from types import SimpleNamespace

    from analysis.spatial_report import _map_caption

    s = SimpleNamespace(expected_within="country", rate_unit="per 10,000 inhabitants", moran=None)
    with_origin = _map_caption(s, lang, origin="Evere datacenter")  # type: ignore[arg-type]
    without = _map_caption(s, lang, origin="")  # type: ignore[arg-type]
    assert "Evere datacenter" in with_origin and with_origin.startswith(without)
    # no origin configured: no star is drawn, so no sentence about one (and no dash in its place)
    assert "—" not in without and len(with_origin) > len(without) + 20
