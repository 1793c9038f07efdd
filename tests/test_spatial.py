"""Per-area statistics on hand-made geometries with an explicit CRS, and on simulated national incidents."""

from __future__ import annotations

import datetime as dt
import math
import warnings

import geopandas as gpd
import numpy as np
import polars as pl
import pytest
from shapely.geometry import box

from analysis.errors import GeoError, ParameterError
from analysis.simulate import report_times
from analysis.spatial import (
    area_statements,
    area_table,
    assign_level,
    benjamini_hochberg,
    distance_effect,
    excess_table,
    hourly_area_counts,
    poisson_interval,
    report_scope,
    spatial_autocorrelation,
)
from analysis.spatial_recovery import compare_regions, coverage_caveats, equal_recovery_test, pooled_area_recovery

from .spatial_fixtures import END, ONSET, national_fit, simulate_reports

UTC = dt.UTC
X0, Y0 = 650_000.0, 665_000.0  # EPSG:3812 metres, inside Belgium (near Brussels)


def squares(keys: list[str], *, cols: int | None = None, size: float = 1000.0) -> gpd.GeoDataFrame:
    """Unit squares (1 km) on a grid, row by row, in EPSG:3812."""
    cols = cols or len(keys)
    geoms = [
        box(X0 + (i % cols) * size, Y0 - (i // cols) * size, X0 + (i % cols + 1) * size, Y0 - (i // cols - 1) * size)
        for i in range(len(keys))
    ]
    return gpd.GeoDataFrame({"key": keys, "name": [f"area {k}" for k in keys]}, geometry=geoms, crs="EPSG:3812")


def centre_lonlat(areas: gpd.GeoDataFrame, key: str) -> tuple[float, float]:
    p = areas.set_index("key").to_crs(4326).loc[key].geometry.centroid
    return p.x, p.y


def report_rows(rows: list[dict]) -> pl.DataFrame:
    """Canonical report rows with defaults for what a test does not care about."""
    base = {
        "reported_at": ONSET + dt.timedelta(minutes=30),
        "reported_until": None,
        "status": "down",
        "weight": 1,
        "area_level": "municipality",
        "nis_code": "21015",
        "municipality": "Schaerbeek",
        "province": None,
        "province_code": None,
        "region": "Brussels",
        "region_code": "04000",
        "lat": None,
        "lon": None,
        "place_raw": "x",
        "source": "s",
    }
    schema = {
        "reported_at": pl.Datetime("us", "UTC"),
        "reported_until": pl.Datetime("us", "UTC"),
        "status": pl.String,
        "weight": pl.Int64,
        "area_level": pl.String,
        "nis_code": pl.String,
        "municipality": pl.String,
        "province": pl.String,
        "province_code": pl.String,
        "region": pl.String,
        "region_code": pl.String,
        "lat": pl.Float64,
        "lon": pl.Float64,
        "place_raw": pl.String,
        "source": pl.String,
    }
    return pl.DataFrame([{**base, **r} for r in rows], schema=schema)


# --------------------------------------------------------------------------- intervals


def test_poisson_interval_matches_published_garwood_values():
    # exact 95% limits for a Poisson count (e.g. Ulm 1990, table of Garwood intervals)
    lo, hi = poisson_interval([0, 1, 10], level=0.95)
    assert lo == pytest.approx([0.0, 0.0253, 4.7954], abs=1e-3)
    assert hi == pytest.approx([3.6889, 5.5716, 18.3904], abs=1e-3)
    _, hi90 = poisson_interval([0], level=0.9)
    assert hi90[0] == pytest.approx(-math.log(0.05), abs=1e-6)  # P(X = 0 | μ) = 0.05


def test_excess_verdicts_follow_the_interval():
    t = excess_table([0, 30, 10, 3], [10.0, 10.0, 10.0, 0.0], level=0.9)
    assert t["verdict"].to_list() == ["fewer than expected", "more than expected", "as expected", None]
    assert t["ratio"][1] == pytest.approx(3.0)
    assert t["ratio"][3] is None  # no expectation, no ratio
    assert t["p_value"][2] == pytest.approx(1.0, abs=0.15)


def test_benjamini_hochberg_known_example():
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.005, np.nan])
    assert q[:4] == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert np.isnan(q[4])


# --------------------------------------------------------------------------- scope and counts


def test_scope_keeps_area_statements_as_areas():
    r = report_rows(
        [
            {},  # a municipality
            {
                "area_level": "province",
                "nis_code": "10000",
                "municipality": None,
                "province": "Antwerp",
                "province_code": "10000",
                "region": "Flanders",
                "region_code": "02000",
            },
            {"area_level": "region", "nis_code": "02000", "municipality": None, "region": "Flanders", "region_code": "02000"},
            {"area_level": "country", "nis_code": "01000", "municipality": None, "region": None, "region_code": None},
            {"area_level": None, "nis_code": None, "municipality": None, "region": None, "region_code": None},
        ]
    )
    assert report_scope(r)["scope"].to_list() == ["municipality", "province", "region", "country", "unplaced"]
    m = assign_level(r, level="municipality")
    assert m["area_key"].to_list() == ["21015", None, None, None, None]  # statements never become points
    p = assign_level(r, level="province")
    assert p["area_key"].to_list() == [None, "10000", None, None, None]  # Brussels has no province
    assert p["whole_area"].to_list() == [False, True, False, False, False]
    g = assign_level(r, level="region")
    assert g["area_key"].to_list() == ["04000", "02000", "02000", None, None]
    s = area_statements(r, tz="Europe/Brussels")
    assert s["scope"].to_list() == ["province", "region", "country"]
    assert s["area"].to_list() == ["Antwerp", "Flanders", "Belgium (whole country)"]


def test_area_table_counts_rates_timing_and_excess_on_hand_made_areas():
    areas = squares(["A", "B", "C"])
    lon = {k: centre_lonlat(areas, k) for k in "ABC"}
    t0 = ONSET + dt.timedelta(minutes=10)
    rows = [{"lon": lon["A"][0], "lat": lon["A"][1], "reported_at": t0 + dt.timedelta(minutes=i)} for i in range(8)]
    rows += [{"lon": lon["C"][0], "lat": lon["C"][1], "reported_at": ONSET + dt.timedelta(minutes=90), "weight": 10}]
    rows += [  # a window of two hours in C, counted once, its lag from the window's start
        {
            "lon": lon["C"][0],
            "lat": lon["C"][1],
            "reported_at": ONSET + dt.timedelta(minutes=60),
            "reported_until": ONSET + dt.timedelta(minutes=180),
        }
    ]
    rows += [{"lon": lon["B"][0], "lat": lon["B"][1], "status": "restored"}]  # not a down report
    rows += [
        {
            "area_level": "province",
            "nis_code": "20001",
            "municipality": None,
            "province_code": "20001",
            "province": "Flemish Brabant",
        }
    ]
    exposure = pl.DataFrame(
        {"key": ["A", "B", "C"], "exposure": [10_000.0, 20_000.0, 70_000.0], "exposure_kind": ["population"] * 3}
    )
    t = area_table(report_rows(rows), areas, level="user", onset=ONSET, exposure=exposure, ci_level=0.9)
    assert t["key"].to_list() == ["A", "B", "C"]
    assert t["n_reports"].to_list() == [8, 0, 11]
    assert t["n_windowed"].to_list() == [0, 0, 1]
    assert t["rate"].to_list() == pytest.approx([8.0, 0.0, 11 / 7])
    # expectation: the 19 located reports shared by population
    assert t["expected"].to_list() == pytest.approx([1.9, 3.8, 13.3])
    assert t["ratio"][0] == pytest.approx(8 / 1.9)
    assert t["verdict"].to_list() == ["more than expected", "fewer than expected", "as expected"]
    assert t["onset_lag_minutes"].to_list()[0] == pytest.approx(10.0)
    assert t["onset_lag_minutes"].to_list()[2] == pytest.approx(60.0)
    assert t["last_down_minutes"].to_list()[2] == pytest.approx(180.0)
    assert t["first_report"][0] == t0


def test_area_table_without_exposure_has_no_rates():
    areas = squares(["A", "B", "C"])
    lon, lat = centre_lonlat(areas, "B")
    t = area_table(report_rows([{"lon": lon, "lat": lat}]), areas, level="user", onset=ONSET)
    assert t["n_reports"].to_list() == [0, 1, 0]
    assert t["rate"].null_count() == 3 and t["verdict"].null_count() == 3


def test_area_table_rejects_unknown_options_and_missing_crs():
    areas = squares(["A", "B", "C"])
    r = report_rows([{}])
    with pytest.raises(ParameterError, match="level"):
        area_table(r, areas, level="county", onset=ONSET)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="expected_within"):
        area_table(r, areas, level="user", onset=ONSET, expected_within="province")  # type: ignore[arg-type]
    with pytest.raises(GeoError, match="CRS"):
        area_table(r, areas.set_crs(None, allow_override=True), level="user", onset=ONSET)
    with pytest.raises(GeoError, match="municipality"):
        report_scope(r.drop("municipality"))


def test_hourly_counts_spread_windows_over_their_hours():
    r = report_rows(
        [
            {"reported_at": dt.datetime(2018, 1, 8, 19, 10, tzinfo=UTC)},
            {
                "reported_at": dt.datetime(2018, 1, 8, 19, 30, tzinfo=UTC),
                "reported_until": dt.datetime(2018, 1, 8, 21, 30, tzinfo=UTC),
                "weight": 2,
            },
        ]
    )
    h = hourly_area_counts(assign_level(r, level="municipality"))
    got = dict(zip([t.hour for t in h["hour"]], h["reports"], strict=True))
    assert got == pytest.approx({19: 1 + 0.5, 20: 1.0, 21: 0.5})
    assert h["reports"].sum() == pytest.approx(3.0)  # nothing created or lost


# --------------------------------------------------------------------------- spatial autocorrelation


def test_morans_i_on_a_strip_matches_hand_computed_values():
    strip = squares(list("abcdef"))
    pop = np.full(6, 1000.0)
    # alternating rates: every neighbour differs → I = −1 exactly (row-standardised rook/queen on a strip)
    alt = spatial_autocorrelation(strip, counts=[10, 0, 10, 0, 10, 0], exposure=pop, seed=1)
    assert alt.statistic == pytest.approx(-1.0)
    assert alt.expected == pytest.approx(-1 / 5)
    # two blocks: Σ z_i·(Wz)_i = 1.0 and Σ z² = 1.5 by hand → I = 2/3; equal exposure makes EB rates affine in the rates
    for adjust in ("eb", "raw"):
        blocks = spatial_autocorrelation(strip, counts=[10, 10, 10, 0, 0, 0], exposure=pop, seed=1, adjust=adjust)
        assert blocks.statistic == pytest.approx(2 / 3)
    assert blocks.p_value < 0.2 and alt.p_value < 0.2


def test_morans_i_permutations_are_reproducible_and_leave_numpy_state_alone():
    strip = squares(list("abcdefgh"))
    counts, pop = [5, 7, 6, 1, 0, 2, 9, 8], np.full(8, 500.0)
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    a = spatial_autocorrelation(strip, counts=counts, exposure=pop, seed=7)
    after = np.random.random()
    b = spatial_autocorrelation(strip, counts=counts, exposure=pop, seed=7)
    assert a.p_value == b.p_value and a.lisa["p_value"].to_list() == b.lisa["p_value"].to_list()
    assert before == after


def test_islands_are_joined_to_their_nearest_area_without_warnings():
    areas = squares(list("abcdef"))
    far = gpd.GeoDataFrame(
        {"key": ["z"], "name": ["island"]}, geometry=[box(X0 + 20_000, Y0, X0 + 21_000, Y0 + 1000)], crs="EPSG:3812"
    )
    both = gpd.GeoDataFrame(
        pl.concat([pl.from_pandas(areas.drop(columns="geometry")), pl.from_pandas(far.drop(columns="geometry"))]).to_pandas(),
        geometry=[*areas.geometry, *far.geometry],
        crs="EPSG:3812",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = spatial_autocorrelation(both, counts=[3, 2, 3, 0, 1, 0, 4], exposure=np.full(7, 100.0), seed=0)
    assert m.n_areas == 7
    assert any("without a contiguous neighbour" in n for n in m.notes)


def test_lisa_finds_a_hot_corner_and_fdr_keeps_noise_quiet():
    keys = [f"k{i:02d}" for i in range(49)]
    grid = squares(keys, cols=7)
    rng = np.random.default_rng(0)
    pop = np.full(49, 10_000.0)
    counts = rng.poisson(5, 49).astype(float)
    hot = [0, 1, 2, 7, 8, 9, 14, 15, 16]  # a 3×3 block in the corner
    counts[hot] = rng.poisson(40, len(hot))
    m = spatial_autocorrelation(grid, counts=counts, exposure=pop, seed=3)
    assert m.statistic > 0.3 and m.p_value < 0.01
    lisa = dict(zip(m.lisa["key"], m.lisa["cluster"], strict=True))
    assert lisa["k08"] == "high-high"  # the block's centre
    assert all(lisa[keys[i]] in ("high-high", "not significant") for i in hot)
    noise = spatial_autocorrelation(grid, counts=rng.poisson(5, 49), exposure=pop, seed=3)
    assert set(noise.lisa["cluster"]) <= {"not significant", "high-high", "low-low"}
    assert (noise.lisa["cluster"] != "not significant").sum() <= 2


def test_spatial_autocorrelation_rejects_bad_input():
    strip = squares(list("abcd"))
    with pytest.raises(ParameterError, match="adjust"):
        spatial_autocorrelation(strip, counts=[1, 2, 3, 4], exposure=[1, 1, 1, 1], adjust="smooth")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="one value per area"):
        spatial_autocorrelation(strip, counts=[1, 2], exposure=[1, 1])
    with pytest.raises(ParameterError, match="permutations"):
        spatial_autocorrelation(strip, counts=[1, 2, 3, 4], exposure=[1, 1, 1, 1], permutations=5)


# --------------------------------------------------------------------------- distance


def test_distance_effect_detects_a_spreading_fault_and_not_a_central_one():
    rng = np.random.default_rng(4)
    d = rng.uniform(0, 150, 60)
    words = {"higher": "first reported later", "lower": "first reported earlier"}
    spreading = distance_effect(
        d, 2.0 * d + rng.normal(0, 20, 60), outcome="onset lag", origin="the datacenter", unit="municipalities", **words
    )
    assert spreading.p_value < 0.001 and spreading.rho > 0.5
    assert spreading.slope_per_10km == pytest.approx(20, rel=0.15)  # 2 min/km = 20 min per 10 km
    assert spreading.slope_low < spreading.slope_per_10km < spreading.slope_high
    assert spreading.verdict.startswith("Municipalities farther from the datacenter first reported later")
    central = distance_effect(d, rng.normal(30, 20, 60), outcome="onset lag", origin="the datacenter", unit="municipalities")
    assert central.p_value > 0.05
    assert central.verdict.startswith("No distance effect")
    few = distance_effect(d[:4], d[:4], outcome="recovery")
    assert math.isnan(few.p_value) and "not tested" in few.verdict
    with pytest.raises(ParameterError, match="length"):
        distance_effect([1, 2, 3], [1, 2], outcome="recovery")


def test_distance_within_regions_separates_a_slow_far_region_from_distance():
    rng = np.random.default_rng(5)
    near = rng.uniform(0, 60, 40)
    far = rng.uniform(60, 150, 40)
    d = np.concatenate([near, far])
    region = np.array(["near"] * 40 + ["far"] * 40)
    pace = np.concatenate([rng.normal(0.0, 0.1, 40), rng.normal(0.4, 0.1, 40)])  # the far region is slower throughout
    overall = distance_effect(d, pace, outcome="recovery pace", slope_unit=None)
    within = distance_effect(d, pace, outcome="recovery pace", slope_unit=None, strata=region)
    assert overall.p_value < 0.001 and overall.rho > 0.5
    assert within.p_value > 0.05 and within.stratified
    assert "within regions" in within.verdict and math.isnan(within.slope_per_10km)
    # a real distance gradient survives stratification
    graded = distance_effect(d, pace + 0.01 * d, outcome="recovery pace", slope_unit=None, strata=region)
    assert graded.p_value < 0.001


# --------------------------------------------------------------------------- pooled recovery per area


@pytest.fixture(scope="module")
def pooled_case():
    """20 areas of 250 reports with paces φ ~ logN(0, 0.25), one area of 3000 reports at φ = 1.5, one of 3 late reports."""
    rng = np.random.default_rng(11)
    onset_s = ONSET.timestamp()
    horizon = (END - ONSET).total_seconds() / 60
    frames = []
    phis = np.exp(rng.normal(0, 0.25, 20))

    def area(key: str, phi: float, rate: float) -> pl.DataFrame:
        t = report_times(
            family="weibull",
            params={"lambda": 150 * phi, "rho": 1.3},
            rate_per_minute=rate,
            horizon_minutes=horizon,
            onset_epoch_s=onset_s,
            rng=rng,
        )
        at = [ONSET + dt.timedelta(minutes=float(x)) for x in t]
        return pl.DataFrame(
            {"area_key": [key] * len(at), "reported_at": at},
            schema={"area_key": pl.String, "reported_at": pl.Datetime("us", "UTC")},
        )

    for i, phi in enumerate(phis):
        frames.append(area(f"m{i:02d}", float(phi), 250 / (150 * phi * 0.75)))
    frames.append(area("thick", 1.5, 3000 / (150 * 1.5 * 0.75)))
    late = [ONSET + dt.timedelta(minutes=m) for m in (700, 760, 820)]
    frames.append(
        pl.DataFrame(
            {"area_key": ["thin"] * 3, "reported_at": late},
            schema={"area_key": pl.String, "reported_at": pl.Datetime("us", "UTC")},
        )
    )
    reports = pl.concat(frames).with_columns(
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("reported_until"), pl.lit(1).alias("weight")
    )
    national = national_fit(reports.with_columns(pl.lit("down").alias("status")), n_boot=40)
    return reports, national, dict(zip([f"m{i:02d}" for i in range(20)], phis, strict=True))


def test_pooling_shrinks_thin_areas_and_leaves_thick_ones_alone(pooled_case):
    reports, national, _ = pooled_case
    p = pooled_area_recovery(reports, national)
    rows = {r["key"]: r for r in p.table.to_dicts()}
    thin, thick = rows["thin"], rows["thick"]
    assert p.tau > 0.05
    # the thin area's own data say "much slower", with an interval too wide to trust
    assert thin["scale_own"] > 2.0 and thin["scale_own_high"] / thin["scale_own_low"] > 5
    assert abs(math.log(thin["scale"])) < 0.5 * abs(math.log(thin["scale_own"]))  # pulled toward the national curve
    assert thin["data_weight"] < 0.5 and thin["basis"] != "mostly its own reports"
    assert thick["data_weight"] > 0.9 and thick["basis"] == "mostly its own reports"
    assert thick["scale"] == pytest.approx(thick["scale_own"], rel=0.03)
    # its t90 is the Weibull(150·1.5, 1.3) one: 1.5 · 150 · ln(10)^(1/1.3)
    assert thick["t90_minutes"] == pytest.approx(1.5 * 150 * math.log(10) ** (1 / 1.3), rel=0.08)
    width = {k: rows[k]["t90_high"] / rows[k]["t90_low"] for k in ("thin", "thick")}
    assert width["thin"] > 1.5 * width["thick"]


def test_pooled_scales_track_the_true_paces(pooled_case):
    reports, national, truth = pooled_case
    p = pooled_area_recovery(reports, national)
    t = p.table.filter(pl.col("key").is_in(list(truth)))
    est = np.log(t["scale"].to_numpy()) - np.log(national.t90.value / (150 * (-math.log(0.1)) ** (1 / 1.3)))
    true = np.log(np.array([truth[k] for k in t["key"]]))
    assert np.corrcoef(est, true)[0, 1] > 0.8
    covered = (t["scale_low"].to_numpy() <= t["scale_high"].to_numpy()).all()
    assert covered


def test_tau_zero_gives_every_area_the_national_curve(pooled_case):
    reports, national, _ = pooled_case
    p = pooled_area_recovery(reports, national, tau=0.0)
    assert p.table["scale"].to_list() == pytest.approx([1.0] * p.table.height)
    assert p.table["t90_minutes"].to_list() == pytest.approx([national.t90.value] * p.table.height)
    assert (p.table["data_weight"] == 0).all()
    with pytest.raises(ParameterError, match="tau"):
        pooled_area_recovery(reports, national, tau=-1.0)


# --------------------------------------------------------------------------- regions


def test_coverage_caveat_names_the_regions_a_source_leaves_out():
    c = coverage_caveats({"newsroom": ["Wallonia", "Brussels"], "national": []}, counts={"Flanders": {"newsroom": 3}})
    assert set(c) == {"Flanders"}
    assert "newsroom" in c["Flanders"] and "3 of its reports" in c["Flanders"]
    # regions named in the source's own language, or by code, mean the same
    assert coverage_caveats({"krant": ["Vlaanderen", "04000"]}).keys() == {"Wallonia"}
    assert coverage_caveats({"journal": ["Wallonie", "Bruxelles-Capitale"]}).keys() == {"Flanders"}
    with pytest.raises(ParameterError, match="Atlantis"):
        coverage_caveats({"x": ["Atlantis"]})


def test_slower_region_shows_a_slower_t90_and_a_significant_test():
    r = simulate_reports(3000, slow={"Wallonia": 1.6}, seed=5)
    nat = national_fit(r, n_boot=40)
    rc = compare_regions(r, nat, n_boot=40, seed=2)
    t90 = {k: v.t90 for k, v in rc.regions.items()}
    assert t90["Wallonia"].low > t90["Flanders"].high
    assert t90["Wallonia"].value / t90["Flanders"].value == pytest.approx(1.6, rel=0.15)
    assert all(v.basis == "own fit" for v in rc.regions.values())
    assert rc.test.performed and rc.test.df == 4 and rc.test.p_value < 1e-4
    m = rc.regions["Wallonia"].to_metrics()
    assert {"n_reports_fitted", "t50_minutes", "t90_minutes", "t50_minutes_ci", "t90_minutes_ci"} <= set(m)
    assert m["t90_minutes_ci"][0] < m["t90_minutes"] < m["t90_minutes_ci"][1]


def test_region_fits_side_by_side_give_the_same_results_as_one_after_the_other(monkeypatch):
    from analysis import spatial_recovery

    r = simulate_reports(1500, slow={"Brussels": 1.3}, seed=8)
    nat = national_fit(r, n_boot=20)
    monkeypatch.setattr(spatial_recovery, "_workers", lambda: 2)
    both = compare_regions(r, nat, n_boot=20, seed=3)
    monkeypatch.setattr(spatial_recovery, "_workers", lambda: 1)
    one = compare_regions(r, nat, n_boot=20, seed=3)
    assert both.regions.keys() == one.regions.keys()
    for k in one.regions:
        assert both.regions[k].to_metrics() == one.regions[k].to_metrics()
    assert both.test.to_metrics() == one.test.to_metrics() and one.test.performed


def test_equal_regions_are_not_called_different():
    r = simulate_reports(3000, seed=6)
    nat = national_fit(r, n_boot=20)
    groups = {g: r.filter(pl.col("region") == g) for g in ("Flanders", "Wallonia", "Brussels")}
    t = equal_recovery_test(groups, nat, seed=1)
    assert t.p_value > 0.05
    assert t.loglik_separate >= t.loglik_shared


def test_thin_regions_get_the_pooled_estimate_and_no_test():
    r = simulate_reports(3000, seed=7)
    keep = pl.col("region") == "Flanders"
    thin = pl.concat([r.filter(keep), r.filter(~keep).head(12)])  # Wallonia and Brussels left with a few reports
    nat = national_fit(thin, n_boot=20)
    rc = compare_regions(thin, nat, n_boot=20, min_reports=20, coverage={"news": ["Flanders"]})
    assert not rc.test.performed and "fewer than two regions" in rc.test.note
    assert rc.regions["Flanders"].basis == "own fit"
    for g in ("Wallonia", "Brussels"):
        assert rc.regions[g].fit is None
        assert "pooled" in rc.regions[g].basis or "no reports" in rc.regions[g].basis
        assert rc.regions[g].coverage_note is not None
    with pytest.raises(ParameterError, match="min_reports"):
        compare_regions(thin, nat, min_reports=1)


@pytest.mark.slow
def test_national_incident_of_100k_reports():
    r = simulate_reports(100_000, slow={"Wallonia": 1.5}, seed=8)
    assert r.height > 90_000
    nat = national_fit(r, n_boot=30)
    munis = assign_level(r, level="municipality")
    p = pooled_area_recovery(munis, nat)
    scale = p.table.join(r.select(pl.col("nis_code").alias("key"), "region").unique(), on="key")
    by = {g: float(s) for g, s in scale.group_by("region").agg(pl.col("scale").median()).iter_rows()}
    assert by["Wallonia"] > 1.2 * by["Flanders"]
    assert (p.table["data_weight"] > 0.5).mean() > 0.5  # most municipalities have enough reports to speak
    rc = compare_regions(r, nat, pooled=None, n_boot=30, seed=1)
    assert rc.test.p_value < 1e-10
    assert rc.regions["Wallonia"].t90.value / rc.regions["Flanders"].t90.value == pytest.approx(1.5, rel=0.08)


def test_weighted_median_equals_the_median_of_the_repeated_values() -> None:
    from analysis.spatial import weighted_median

    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(1, 25))
        values = [None if rng.random() < 0.15 else round(float(rng.normal()), 1) for _ in range(n)]
        df = pl.DataFrame({"g": rng.integers(0, 3, n), "t": pl.Series(values, dtype=pl.Float64), "w": rng.integers(1, 5, n)})
        got = dict(df.group_by("g").agg(weighted_median("t", "w")).iter_rows())
        for g, part in df.partition_by("g", as_dict=True).items():
            kept = part.filter(pl.col("t").is_not_null())
            want = float(np.median(np.repeat(kept["t"].to_numpy(), kept["w"].to_numpy()))) if kept.height else None
            assert (got[g[0]] is None and want is None) or got[g[0]] == pytest.approx(want, abs=1e-12)
    empty = pl.DataFrame(schema={"g": pl.Int64, "t": pl.Float64, "w": pl.Int64})
    assert empty.group_by("g").agg(weighted_median("t", "w")).height == 0
