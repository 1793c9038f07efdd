import math

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analysis.errors import GeoError, ParameterError
from analysis.geo import (
    GEO_METHODS,
    REGION_NAMES,
    RESOLUTION_COLUMNS,
    format_resolution,
    geocode_table,
    resolve_place,
    resolve_places,
)

LIEGE, NAMUR, CHARLEROI, BRUSSELS, IXELLES, OLLN, ANTWERPEN = "62063", "92094", "52011", "21004", "21009", "25121", "11002"


@pytest.mark.parametrize(
    ("place", "nis", "method"),
    [
        ("Liège", LIEGE, "exact"),
        ("Luik", LIEGE, "exact"),
        ("LIEGE", LIEGE, "exact"),
        ("Lüttich", LIEGE, "alias"),
        ("Antwerp", ANTWERPEN, "alias"),
        ("Jumet", CHARLEROI, "section"),
        ("Louvain-la-Neuve", OLLN, "alias"),
        ("Bruxeles", BRUSSELS, "fuzzy"),
    ],
)
def test_resolve_place_methods(place, nis, method):
    res = resolve_place(place)
    assert (res["nis_code"], res["geo_method"]) == (nis, method)
    assert 0 < res["geo_score"] <= 1


def test_result_carries_province_and_region_labels():
    res = resolve_place("Gent")
    assert res["municipality"] == "Gent"
    assert (res["province"], res["province_code"]) == ("East Flanders", "40000")
    assert (res["region"], res["region_code"]) == ("Flanders", "02000")


def test_brussels_municipalities_have_no_province_and_a_bilingual_name():
    res = resolve_place("Ixelles")
    assert res["nis_code"] == IXELLES
    assert res["province"] is None
    assert res["province_code"] is None
    assert res["region"] == REGION_NAMES["04000"] == "Brussels"
    assert res["municipality"] == "Ixelles / Elsene"


def test_german_speaking_municipality_is_named_in_german():
    assert resolve_place("La Calamine")["municipality"] == "Kelmis"


def test_postal_code_alone_and_in_text():
    assert resolve_place(postal_code="4000")["nis_code"] == LIEGE
    assert resolve_place(postal_code=4000)["geo_method"] == "postal_code"
    assert resolve_place("B-1348 Louvain-la-Neuve")["nis_code"] == OLLN
    assert resolve_place("Rue de Fer 12, 5000 Namur")["nis_code"] == NAMUR


def test_shared_postal_code_is_settled_by_the_name_or_flagged():
    assert resolve_place("Ixelles", postal_code="1050")["nis_code"] == IXELLES
    assert resolve_place("Bruxelles", postal_code="1050")["nis_code"] == BRUSSELS
    res = resolve_place(postal_code="1050")
    assert res["geo_method"] == "ambiguous"
    assert res["nis_code"] is None
    assert "1050" in res["geo_note"]


def test_postal_code_conflicting_with_the_name_keeps_the_code_and_says_so():
    res = resolve_place("Namur", postal_code="4000")
    assert res["nis_code"] == LIEGE
    assert res["geo_score"] < 1
    assert "Namur" in res["geo_note"]


def test_unknown_postal_code_falls_back_to_the_name():
    res = resolve_place("Namur", postal_code="0001")
    assert res["nis_code"] == NAMUR
    assert "not Belgian" in res["geo_note"]


@pytest.mark.parametrize(
    "place",
    [
        "Rijsel",
        "Paris",
        "Maastricht",
        "Aachen",
        "Lille, France",
        "59000 Lille",
        "6211 AB Maastricht",
        "D-52062 Aachen",
        "Maastrict",
    ],
)
def test_foreign_places_stay_unresolved(place):
    res = resolve_place(place)
    assert res["nis_code"] is None
    assert res["geo_method"] == "unresolved"
    assert res["geo_note"]


def test_lille_alone_is_the_belgian_municipality():
    assert resolve_place("Lille")["nis_code"] == "13019"


@pytest.mark.parametrize("place", ["", "   ", "n/a", "???", "asdfgh", "panne", "TV ne marche plus", None])
def test_garbage_stays_unresolved(place):
    res = resolve_place(place)
    assert res["nis_code"] is None
    assert res["geo_method"] == "unresolved"


def test_two_towns_in_one_string_are_ambiguous_not_guessed():
    res = resolve_place("Modave Libramont")
    assert res["geo_method"] == "ambiguous"
    assert res["nis_code"] is None
    assert "Modave" in res["geo_note"]
    assert "Libramont" in res["geo_note"]


def test_name_inside_a_longer_text():
    res = resolve_place("panne à Jumet ce soir")
    assert res["nis_code"] == CHARLEROI
    assert res["geo_score"] < 0.93


def test_coordinates_inside_outside_and_swapped():
    assert resolve_place(lat=50.8467, lon=4.3524)["nis_code"] == BRUSSELS
    lille_fr = resolve_place(lat=50.6366, lon=3.0635)
    assert lille_fr["nis_code"] is None
    assert "outside Belgium" in lille_fr["geo_note"]
    swapped = resolve_place(lat=4.3524, lon=50.8467)
    assert swapped["nis_code"] == BRUSSELS
    assert swapped["geo_score"] < 1
    assert "swapped" in swapped["geo_note"]
    assert resolve_place("Namur", lat=50.6245, lon=5.5668)["nis_code"] == LIEGE


def test_coordinates_written_as_text():
    assert resolve_place("50.8467, 4.3524")["geo_method"] == "coordinates"


@pytest.mark.parametrize(
    ("place", "level", "code", "province", "region"),
    [
        ("Antwerp province", "province", "10000", "Antwerp", "Flanders"),
        ("Provincie Antwerpen", "province", "10000", "Antwerp", "Flanders"),
        ("Antwerpen", "province", "10000", "Antwerp", "Flanders"),
        ("Flanders", "region", "02000", None, "Flanders"),
        ("Vlaanderen", "region", "02000", None, "Flanders"),
        ("Brussels", "region", "04000", None, "Brussels"),
        ("Belgium", "country", "01000", None, None),
        ("Gent", "province", "40000", "East Flanders", "Flanders"),
    ],
)
def test_area_rows_resolve_to_the_area_never_a_town(place, level, code, province, region):
    res = resolve_place(place, area_level=level)
    assert res["geo_method"] == "area"
    assert res["municipality"] is None
    assert (res["nis_code"], res["province"], res["region"]) == (code, province, region)


def test_brussels_as_a_province_is_the_region():
    res = resolve_place("Brussels", area_level="province")
    assert (res["nis_code"], res["region"], res["province"]) == ("04000", "Brussels", None)


def test_area_names_without_area_level():
    assert resolve_place("Flanders")["geo_method"] == "area"
    assert resolve_place("Provincie Limburg")["nis_code"] == "70000"
    # a town inside the area it shares a name with stays the town
    assert resolve_place("Namur")["nis_code"] == NAMUR
    assert resolve_place("Brussels")["nis_code"] == BRUSSELS
    # a town written in its own official name is the town, even where a province shares the name
    limbourg = resolve_place("Limbourg")
    assert (limbourg["nis_code"], limbourg["province"], limbourg["region"]) == ("63046", "Liège", "Wallonia")
    # ... and its name in another language that is the province's own name is the province
    assert resolve_place("Limburg")["nis_code"] == "70000"
    assert resolve_place("province de Limbourg")["nis_code"] == "70000"


def test_unknown_options_are_rejected():
    with pytest.raises(ParameterError, match="area_level"):
        resolve_place("Gent", area_level="canton")
    with pytest.raises(ParameterError, match="fuzzy_threshold"):
        resolve_place("Gent", fuzzy_threshold=0)


def test_fuzzy_can_be_switched_off():
    assert resolve_place("Bruxeles", fuzzy_threshold=101)["nis_code"] is None


# --------------------------------------------------------------------------- tables


def _reports() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "report_id": ["a", "b", "c", "d", "e", "f", "g"],
            "place_raw": ["Liège", "Jumet", None, "Flanders", "Paris", "Liège", None],
            "postal_code": [None, None, "5000", None, None, None, None],
            "lat": [None, None, None, None, None, None, 50.8467],
            "lon": [None, None, None, None, None, None, 4.3524],
            "area_level": [None, None, None, "region", None, None, None],
        }
    )


def test_resolve_places_adds_columns_row_for_row():
    df = _reports()
    out = resolve_places(df)
    assert out.height == df.height
    assert out.columns == df.columns + list(RESOLUTION_COLUMNS)
    assert dict(out.select(list(RESOLUTION_COLUMNS)).schema) == RESOLUTION_COLUMNS
    assert_frame_equal(out.select(df.columns), df)
    assert out["nis_code"].to_list() == [LIEGE, CHARLEROI, NAMUR, "02000", None, LIEGE, BRUSSELS]
    assert out["geo_method"].to_list() == ["exact", "section", "postal_code", "area", "unresolved", "exact", "coordinates"]
    assert set(out["geo_method"]) <= set(GEO_METHODS)


def test_resolve_places_matches_resolve_place_for_every_row():
    df = _reports()
    out = resolve_places(df)
    for row in out.iter_rows(named=True):
        single = resolve_place(
            row["place_raw"], postal_code=row["postal_code"], lat=row["lat"], lon=row["lon"], area_level=row["area_level"]
        )
        assert {k: row[k] for k in RESOLUTION_COLUMNS} == single


def test_missing_input_columns_count_as_null():
    out = resolve_places(pl.DataFrame({"place_raw": ["Namur", "Rijsel"]}))
    assert out["nis_code"].to_list() == [NAMUR, None]
    empty = resolve_places(pl.DataFrame({"x": [1, 2]}))
    assert empty["geo_method"].to_list() == ["unresolved", "unresolved"]


def test_empty_table():
    out = resolve_places(pl.DataFrame(schema={"place_raw": pl.String}))
    assert out.height == 0
    assert "nis_code" in out.columns


def test_numeric_postal_codes_and_string_coordinates():
    df = pl.DataFrame({"postal_code": [4000, 1050], "lat": ["", "x"], "lon": [None, None]})
    out = resolve_places(df)
    assert out["nis_code"].to_list() == [LIEGE, None]
    assert out["geo_method"].to_list() == ["postal_code", "ambiguous"]


def test_resolving_twice_replaces_the_columns():
    once = resolve_places(_reports())
    twice = resolve_places(once)
    assert_frame_equal(once, twice)


def test_null_island_is_treated_as_missing_coordinates():
    out = resolve_places(pl.DataFrame({"place_raw": ["Namur"], "lat": [0.0], "lon": [0.0]}))
    assert out["nis_code"][0] == NAMUR


def test_resolve_places_rejects_non_frames():
    with pytest.raises(ParameterError):
        resolve_places({"place_raw": ["Namur"]})  # type: ignore[arg-type]


def test_geocode_table_and_its_errors():
    df = pl.DataFrame({"place": ["Luik", "Aachen"], "postal_code": [None, None]})
    out = geocode_table(df)
    assert out["nis_code"].to_list() == [LIEGE, None]
    assert out.columns[:2] == ["place", "postal_code"]
    with pytest.raises(GeoError, match="place, postal_code, lat, lon"):
        geocode_table(pl.DataFrame({"town": ["Namur"]}))


def test_format_resolution_is_one_readable_line():
    line = format_resolution(resolve_place("Luik"), place="Luik")
    assert "\n" not in line
    assert "Liège" in line
    assert "62063" in line
    assert "exact" in line
    assert format_resolution(resolve_place("Paris")).startswith("unresolved")
    assert "area" in format_resolution(resolve_place("Flanders", area_level="region"))


@pytest.mark.slow
def test_a_million_reports_resolve_in_seconds():
    import time

    import numpy as np

    from analysis.geo import reference_municipalities

    m = reference_municipalities()
    names = m["name_fr"].to_list() + m["name_nl"].to_list() + [n.upper() for n in m["name"].to_list()]
    rng = np.random.default_rng(8)
    df = pl.DataFrame({"place_raw": rng.choice(names, 1_000_000)})
    resolve_places(df.head(100))  # load the reference once
    t0 = time.perf_counter()
    out = resolve_places(df)
    elapsed = time.perf_counter() - t0
    print(f"\n1,000,000 reports, {df['place_raw'].n_unique()} distinct places: {elapsed:.2f} s")
    assert out["nis_code"].null_count() == 0
    assert elapsed < 10  # about a second on a laptop; generous for a busy CI machine
    assert not math.isnan(elapsed)


def test_short_forms_of_compound_names():
    res = resolve_place("Molenbeek")
    assert res["nis_code"] == "21012"  # not the village of Bekkevoort
    assert "short form" in res["geo_note"]
    assert resolve_place("Woluwe")["geo_method"] == "ambiguous"


def test_a_province_beside_the_town_narrows_the_search():
    assert resolve_place("Hasselt, Limburg")["nis_code"] == "71072"
    assert resolve_place("Berchem, Antwerpen")["nis_code"] == ANTWERPEN
    assert resolve_place("Liège, Belgique")["nis_code"] == LIEGE
    assert resolve_place("Hasselt, Namur")["geo_method"] == "ambiguous"


def test_informal_regions_are_not_towns():
    res = resolve_place("Brabant")
    assert res["nis_code"] is None
    assert "region" in res["geo_note"]
