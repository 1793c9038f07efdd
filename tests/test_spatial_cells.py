"""The down reports merged into cells give every area table, hourly count and regional result the reports give."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analysis.geo import boundaries, load_exposure
from analysis.spatial import area_cells, area_table, assign_level, down_cells, hourly_area_counts, report_scope
from analysis.spatial_recovery import compare_regions, pooled_area_recovery

from .spatial_fixtures import ONSET, national_fit, simulate_reports


def _statement(level: str, code: str, name: str, region: str, region_code: str, minute: int, status: str) -> dict:
    province = (name, code) if level == "province" else (None, None)
    return {
        "report_id": f"st-{level}-{minute}-{status}",
        "source": "press",
        "reported_at": ONSET + dt.timedelta(minutes=minute),
        "reported_until": None,
        "place_raw": name,
        "status": status,
        "weight": 3,
        "area_level": level,
        "nis_code": code,
        "municipality": None,
        "province": province[0],
        "province_code": province[1],
        "region": region,
        "region_code": region_code,
        "geo_method": "exact",
        "lat": None,
        "lon": None,
    }


@pytest.fixture(scope="module")
def reports() -> pl.DataFrame:
    """Reports with repeated times (to ten minutes), windows, weights, other statuses and area statements."""
    r = simulate_reports(4000, slow={"Wallonia": 1.4}, seed=11, window_share=0.1)
    rng = np.random.default_rng(3)
    r = r.with_columns(
        pl.col("reported_at").dt.truncate("10m"),
        pl.Series("weight", rng.choice([1, 1, 1, 2, 5], r.height), dtype=pl.Int64),
        pl.Series("status", rng.choice(["down"] * 8 + ["intermittent", "restored"], r.height)),
        pl.Series("source", rng.choice(["tracker"] * 9 + ["press"], r.height)),
    )
    extra = [
        _statement("province", "10000", "Antwerp", "Flanders", "02000", 40, "down"),
        _statement("province", "10000", "Antwerp", "Flanders", "02000", 40, "down"),
        _statement("province", "50000", "Hainaut", "Wallonia", "03000", 70, "partial"),
        _statement("region", "03000", "Wallonia", "Wallonia", "03000", 90, "down"),
        _statement("country", "01000", "Belgium", None, None, 30, "down"),
    ]
    return pl.concat([r, pl.DataFrame(extra, schema=r.schema)])


def test_cells_merge_reports_and_keep_every_weight(reports):
    cells = down_cells(reports)
    down = reports.filter(pl.col("status").is_in(["down", "intermittent", "partial"]))
    assert cells.height < down.height / 2  # times to ten minutes: many reports per cell
    assert cells["weight"].sum() == down["weight"].sum()
    by_scope = dict(cells.group_by("scope").agg(pl.col("weight").sum()).iter_rows())
    assert by_scope == {"municipality": by_scope["municipality"], "province": 9, "region": 3, "country": 3}
    placed = area_cells(reports)
    assert placed["weight"].sum() == by_scope["municipality"]
    assert placed.height < cells.height * 10 and placed["area_key"].null_count() == 0


@pytest.mark.parametrize("level", ["province", "region"])
def test_province_and_region_tables_from_the_cells_equal_those_from_the_reports(reports, level):
    areas, exposure = boundaries(level), load_exposure(level=level)
    kw = {"level": level, "onset": ONSET, "exposure": exposure, "ci_level": 0.9}
    want = area_table(reports, areas, **kw)
    assert want["n_reports"].sum() > 0 and want["n_whole_area"].sum() > 0
    assert_frame_equal(area_table(down_cells(reports), areas, **kw), want)


def test_municipality_table_and_hourly_counts_from_the_area_cells_equal_those_from_the_reports(reports):
    areas, exposure = boundaries("municipality"), load_exposure(level="municipality")
    kw = {"level": "municipality", "onset": ONSET, "exposure": exposure, "ci_level": 0.9, "expected_within": "region"}
    placed = area_cells(reports)
    want = area_table(reports, areas, **kw)
    assert want["median_report_minutes"].drop_nulls().len() > 100
    assert_frame_equal(area_table(placed, areas, **kw), want)
    hourly = hourly_area_counts(assign_level(reports, level="municipality"))
    # a window's share of an hour is computed for the cell's summed weight: equal to rounding
    assert_frame_equal(hourly_area_counts(placed), hourly, check_exact=False, rel_tol=1e-12)


def test_scope_already_given_is_kept(reports):
    cells = down_cells(reports)
    assert report_scope(cells.drop("region_code"))["scope"].to_list() == cells["scope"].to_list()


@pytest.mark.slow
def test_regions_and_pooled_areas_from_the_cells_equal_those_from_the_reports(reports):
    down = reports.filter(pl.col("status") != "restored")
    nat = national_fit(down.with_columns(pl.col("weight").fill_null(1)), n_boot=20)
    want = compare_regions(reports, nat, n_boot=20, seed=4)
    got = compare_regions(down_cells(reports), nat, n_boot=20, seed=4)
    assert want.test.performed
    assert got.test.to_metrics() == want.test.to_metrics()
    for name, result in want.regions.items():
        assert got.regions[name].to_metrics() == result.to_metrics()
    pooled = pooled_area_recovery(assign_level(reports.filter(pl.col("status") != "restored"), level="municipality"), nat)
    merged = pooled_area_recovery(area_cells(reports), nat)
    assert_frame_equal(merged.table, pooled.table, check_exact=False, rel_tol=1e-9)
