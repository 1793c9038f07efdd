"""Resolve the places reports name to today's municipalities, offline.

Order of evidence, strongest first (DESIGN.md, "Geography"):

1. coordinates: point in the (approximate) municipality polygons; points outside Belgium
   stay unresolved;
2. postal code, given alone or inside the text ("4000 Liège", "B-1348 …"); a code shared by
   several municipalities is settled by the name when there is one, else flagged ambiguous;
3. exact municipality name in French, Dutch or German (case, accents, hyphens, apostrophes,
   "St"/"Saint"/"Sint" normalised);
4. exonyms and alternate names of the municipality's seat (Luik, Nieuport, Antwerp, …);
5. sections and villages: first Statbel's statistical sectors (a name that belongs to one
   municipality only: Doel, Laeken, Zeebrugge), then GeoNames places (Leernes, Westende);
6. fuzzy matching (rapidfuzz) above a score threshold, refused when the string is closer to
   a town abroad (Rijsel, Maastricht, Aachen) than to any Belgian name.

Area-level rows ("Antwerp province", "Flanders", "Belgium") resolve to the area itself,
never to a town. Every result says how it was found (``geo_method``), how sure it is
(``geo_score``, 0–1) and, when unresolved or ambiguous, why (``geo_note``).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

import polars as pl

from analysis.errors import GeoError, ParameterError
from analysis.geo.normalize import PLACEHOLDERS, compact_key, fold, split_parts
from analysis.vocab import PlaceScope

__all__ = [
    "DEFAULT_FUZZY_THRESHOLD",
    "GEO_METHODS",
    "RESOLUTION_COLUMNS",
    "format_resolution",
    "geocode_table",
    "resolve_place",
    "resolve_places",
]
from analysis.geo.coords import _coords_frame, resolve_coordinates
from analysis.geo.index import _empty, _Index, _index
from analysis.geo.names import _area_lookup, _match_name, _resolve_area, _strip_area_words
from analysis.geo.words import (
    _BE_POSTAL,
    _COORDS_DOT,
    _FOREIGN_COUNTRIES,
    _FOREIGN_POSTAL,
    _INFORMAL_REGIONS,
    AREA_LEVELS,
    DEFAULT_FUZZY_THRESHOLD,
    GEO_METHODS,
    GEO_SLICE_ROWS,
    RESOLUTION_COLUMNS,
)

# --------------------------------------------------------------------------- one place


def _postal_in(text: str) -> tuple[str | None, str]:
    """Find the first Belgian postal code written in ``text`` (must exist); return it and the text without it."""
    idx = _index()
    for mt in _BE_POSTAL.finditer(text):
        code = mt.group(1)
        if code in idx.postal:
            rest = (text[: mt.start()] + " " + text[mt.end() :]).strip(" ,;-")
            return code, rest
    return None, text


def _clean_postal(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        value = int(value)
    s = str(value).strip().upper()
    s = re.sub(r"^(?:BE|B)\s?-?\s?", "", s)
    return s or None


def _resolve_text(
    place: str | None,
    postal: str | None,
    area_level: str | None,
    fuzzy_threshold: float,
) -> dict[str, Any]:
    """Resolve one (place, postal code, area level) key."""
    idx = _index()
    place = place.strip() if isinstance(place, str) else None
    level = area_level.strip().lower() if isinstance(area_level, str) and area_level.strip() else None
    if level in AREA_LEVELS:
        return _resolve_area(place, level, idx, fuzzy_threshold)

    text = place or ""
    if text and fold(text) in PLACEHOLDERS and not postal:
        return _empty("unresolved", f"'{text}' is a placeholder, not a place")

    # coordinates written as text: "50.85, 4.35"
    if text and (mt := _COORDS_DOT.match(text)):
        return resolve_coordinates(float(mt.group(1)), float(mt.group(2)))

    note_parts: list[str] = []
    code = _clean_postal(postal)
    if code is not None and code not in idx.postal:
        note_parts.append(f"postal code '{postal}' is not Belgian")
        code = None
    if code is None and text:
        if _FOREIGN_POSTAL.search(text):
            return _empty("unresolved", f"'{place}' carries a foreign postal code")
        code, text = _postal_in(text)

    within: set[str] | None = None
    if text:
        abroad, text, within = _narrow(text, place, idx, fuzzy_threshold)
        if abroad is not None:
            return abroad
    if code is not None:
        return _by_postal(code, text, note_parts, idx, fuzzy_threshold)

    if not text:
        return _empty("unresolved", "; ".join(note_parts) or "no place given")
    if compact_key(text) in _INFORMAL_REGIONS:
        return _empty("unresolved", f"'{text}' is a region, not a municipality")

    # an area named without area_level: "Flanders", "Provincie Limburg", "Belgium"
    if (area := _named_area(text, idx)) is not None:
        return area
    sub = _match_name(text, idx, allowed=within, fuzzy_threshold=fuzzy_threshold)
    if sub.match is not None:
        method = "fuzzy" if sub.note and sub.note.startswith("approximate") else sub.match.method
        method = "section" if method == "sector" else method
        notes = [*note_parts, *([sub.note] if sub.note else [])]
        return idx.muni_result(sub.match.nis, method, sub.score, "; ".join(notes) or None)
    if sub.candidates:
        return _empty("ambiguous", sub.note)
    key = compact_key(text)
    if key in idx.foreign:
        name, country = idx.foreign[key]
        return _empty("unresolved", f"'{text}' is a place abroad ({name}, {country})")
    return _empty("unresolved", sub.note or f"no Belgian place named '{text}'")


def _narrow(
    text: str, place: str | None, idx: _Index, fuzzy_threshold: float
) -> tuple[dict[str, Any] | None, str, set[str] | None]:
    """Country, province and region names in a place text: (abroad's result or None, the text left, the municipalities allowed).

    "Lille, France" is abroad; "Liège, Belgique" is not. A province or region named beside a
    town narrows the search: "Hasselt, Limburg".
    """
    within: set[str] | None = None
    parts = split_parts(text)
    kept: list[str] = []
    areas_named: list[tuple[str, tuple[str, str]]] = []
    for part in parts:
        if compact_key(part) in _FOREIGN_COUNTRIES:
            return _empty("unresolved", f"'{place}' is abroad ({part})"), text, None
        if len(parts) > 1 and _area_lookup(part, idx, "country"):
            continue
        area = (_area_lookup(part, idx, "province") or _area_lookup(part, idx, "region")) if len(parts) > 1 else None
        if area is not None and not areas_named:
            areas_named.append((part, area))
            continue
        kept.append(part)
    if areas_named and kept:
        code_ = areas_named[0][1][1]
        within = {n for n, r in idx.munis.items() if code_ in (r["province_code"], r["region_code"])}
        if _match_name(", ".join(kept), idx, allowed=within, fuzzy_threshold=fuzzy_threshold).match is None:
            # the area does not hold the town: read the string as written
            within = None
            kept = [p for p in parts if not _area_lookup(p, idx, "country")]
    elif areas_named:
        kept = [areas_named[0][0]]  # "Liège, Belgique": the area-like part is the place itself
    text = ", ".join(kept)
    return None, text, within


def _by_postal(code: str, text: str, note_parts: list[str], idx: _Index, fuzzy_threshold: float) -> dict[str, Any]:
    """A place with a Belgian postal code: the code's municipality, the name choosing among several."""
    nis_list = idx.postal[code]
    if not text or fold(text) in PLACEHOLDERS:
        if len(nis_list) == 1:
            return idx.muni_result(nis_list[0], "postal_code", 1.0, "; ".join(note_parts) or None)
        names = ", ".join(idx.munis[n]["name"] for n in nis_list)
        return _empty("ambiguous", f"postal code {code} is shared by {names}; no name to choose")
    sub = _match_name(text, idx, allowed=set(nis_list), fuzzy_threshold=fuzzy_threshold)
    if sub.match is not None:
        return idx.muni_result(sub.match.nis, "postal_code", 1.0, "; ".join(note_parts) or None)
    if len(nis_list) == 1:
        other = _match_name(text, idx, fuzzy_threshold=fuzzy_threshold)
        if other.match is not None and other.match.nis != nis_list[0]:
            note_parts.append(f"name '{text}' points to {idx.munis[other.match.nis]['name']}; postal code kept")
        return idx.muni_result(nis_list[0], "postal_code", 1.0 if other.match is None else 0.9, "; ".join(note_parts) or None)
    names = ", ".join(idx.munis[n]["name"] for n in nis_list)
    return _empty("ambiguous", f"postal code {code} is shared by {names}; '{text}' does not choose")


def _named_area(text: str, idx: _Index) -> dict[str, Any] | None:
    """A province, region or the country named as the place (not a town sharing its name), else None."""
    bare, marked = _strip_area_words(text, None)
    area_hit = _area_lookup(text, idx, None) or (_area_lookup(bare, idx, marked) if marked else None)
    if area_hit is not None:
        lvl, acode = area_hit
        muni_matches = idx.lookup(compact_key(text)) if not marked else []
        key = compact_key(text)
        inside = [
            m
            for m in muni_matches
            if m.method in ("exact", "alias")
            and (
                idx.munis[m.nis]["province_code"] == acode
                or idx.munis[m.nis]["region_code"] == acode
                or lvl == "country"
                or compact_key(idx.munis[m.nis]["name"]) == key
            )
        ]
        # "Namur", "Antwerpen", "Brussels": a town inside the area it shares a name with is the
        # town; so is a town written in its own official name ("Limbourg", in Liège province,
        # not the province of Limburg), while its name in another language ("Limburg") is the area
        if not inside:
            return idx.area_result(lvl, acode)
    return None


# --------------------------------------------------------------------------- public API


def resolve_place(
    place: str | None = None,
    *,
    postal_code: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    area_level: PlaceScope | None = None,
    fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD,
) -> dict[str, Any]:
    """Resolve one place to a municipality (or an area), with how and how sure.

    Parameters
    ----------
    place
        Free text as written in the report ("Luik", "B-1348 Louvain-la-Neuve", "Jumet").
    postal_code
        A Belgian postal code, if the source has a separate column.
    lat, lon
        WGS84 degrees; when both are given they decide (points outside Belgium stay unresolved).
    area_level
        ``"province"``, ``"region"`` or ``"country"`` when the report names an area, not a town.
    fuzzy_threshold
        Minimum rapidfuzz ratio (0–100) of an approximate match.

    Returns
    -------
    dict
        ``nis_code``, ``municipality``, ``province``, ``province_code``, ``region``,
        ``region_code``, ``geo_method``, ``geo_score`` (0–1 or None), ``geo_note``.
    """
    _check_threshold(fuzzy_threshold)
    if area_level is not None and area_level not in AREA_LEVELS:
        raise ParameterError(f"area_level: expected one of {', '.join(AREA_LEVELS)} or None, got {area_level!r}")
    if lat is not None and lon is not None and not (lat == 0 and lon == 0) and area_level is None:
        return resolve_coordinates(float(lat), float(lon))
    return dict(_resolve_text_cached(place, _clean_postal(postal_code), area_level, float(fuzzy_threshold)))


@lru_cache(maxsize=500_000)  # bounded: a long-lived kernel may see millions of distinct strings
def _resolve_text_cached(
    place: str | None, postal: str | None, area_level: str | None, threshold: float
) -> tuple[tuple[str, Any], ...]:
    return tuple(_resolve_text(place, postal, area_level, threshold).items())


def _check_threshold(fuzzy_threshold: float) -> None:
    if not (isinstance(fuzzy_threshold, (int, float)) and 0 < fuzzy_threshold <= 101):
        raise ParameterError(
            f"fuzzy_threshold: expected a rapidfuzz score in (0, 100] (101 disables fuzzy), got {fuzzy_threshold!r}"
        )


def resolve_places(
    df: pl.DataFrame,
    *,
    place_col: str = "place_raw",
    postal_col: str = "postal_code",
    lat_col: str = "lat",
    lon_col: str = "lon",
    area_level_col: str = "area_level",
    fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD,
    boundaries: Any = None,
) -> pl.DataFrame:
    """Add the resolved geography to a table of reports, one row out per row in.

    Each distinct (place, postal code, area level) is resolved once and each distinct
    coordinate pair is located once (vectorised), then joined back, so a million reports
    naming a few thousand places take about a second. Missing input columns count as
    all-null. Rows with an ``area_level`` of province, region or country resolve to that
    area (``geo_method`` "area"); other values of ``area_level`` are ignored.

    Parameters
    ----------
    df
        The reports. Not modified.
    place_col, postal_col, lat_col, lon_col, area_level_col
        Names of the input columns (any may be absent).
    fuzzy_threshold
        Minimum rapidfuzz ratio (0–100) of an approximate name match; 101 disables fuzzy matching.
    boundaries
        Optional user areas (GeoDataFrame with a ``key`` column, any CRS): adds ``area_key``,
        the area holding each report's coordinates, or else its municipality's seat.

    Returns
    -------
    polars.DataFrame
        ``df`` with ``nis_code``, ``municipality``, ``province``, ``province_code``, ``region``,
        ``region_code``, ``geo_method``, ``geo_score``, ``geo_note`` added (replaced if present).
    """
    if not isinstance(df, pl.DataFrame):
        raise ParameterError(f"resolve_places: expected a polars DataFrame, got {type(df).__name__}")
    _check_threshold(fuzzy_threshold)
    threshold = float(fuzzy_threshold)
    names = (place_col, postal_col, lat_col, lon_col, area_level_col)
    # a large table is resolved in slices of rows (distinct places are still resolved once:
    # the text cache is shared), so the working columns cost a slice, not the table
    parts = [_resolve_rows(df.slice(at, GEO_SLICE_ROWS), names, threshold) for at in range(0, max(df.height, 1), GEO_SLICE_ROWS)]
    geo = parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical")
    del parts
    result = df.with_columns(geo.get_columns())
    if boundaries is not None:
        from analysis.geo.boundaries import assign_areas

        result = assign_areas(result, boundaries, lat_col=lat_col, lon_col=lon_col)
    return result


def _resolve_rows(df: pl.DataFrame, names: tuple[str, str, str, str, str], threshold: float) -> pl.DataFrame:
    """The resolution columns (:data:`RESOLUTION_COLUMNS`) of each row of ``df``, in order."""
    place_col, postal_col, lat_col, lon_col, area_level_col = names

    def col(name: str, dtype: pl.DataType | type[pl.DataType]) -> pl.Expr:
        if name in df.columns:
            return (
                pl.col(name).cast(pl.String).str.strip_chars() if dtype == pl.String else pl.col(name).cast(dtype, strict=False)
            )
        return pl.repeat(None, pl.len(), dtype=dtype)  # full height even when no input column exists

    use = (
        pl.col("__lat").is_not_null()
        & pl.col("__lon").is_not_null()
        & ~((pl.col("__lat") == 0) & (pl.col("__lon") == 0))
        & ~pl.col("__level").is_in(list(AREA_LEVELS)).fill_null(False)
    )
    try:
        # one key per row: the text fields for a row resolved by name, the coordinates for
        # a row resolved by coordinates (the other half nulled), so one join brings every row back
        keys = (
            df.lazy()
            .select(
                col(place_col, pl.String).alias("__place"),
                (col(postal_col, pl.Int64).cast(pl.String) if _is_numeric(df, postal_col) else col(postal_col, pl.String)).alias(
                    "__postal"
                ),
                col(area_level_col, pl.String).str.to_lowercase().alias("__level"),
                col(lat_col, pl.Float64).alias("__lat"),
                col(lon_col, pl.Float64).alias("__lon"),
            )
            .select(
                use.alias("__use"),
                *(pl.when(~use).then(pl.col(c)).alias(c) for c in ("__place", "__postal", "__level")),
                *(pl.when(use).then(pl.col(c)).alias(c) for c in ("__lat", "__lon")),
            )
            .collect()
        )
    except pl.exceptions.PolarsError as exc:
        raise GeoError(f"resolve_places: cannot read the location columns: {exc}") from exc
    key_cols = ["__use", "__place", "__postal", "__level", "__lat", "__lon"]
    # the join back runs on one 64-bit hash of the key instead of six columns (a tenth of the
    # memory on a large table), unless two distinct keys happen to share a hash
    keys = keys.with_columns(pl.struct(key_cols).hash(seed=0).alias("__key"))
    distinct = keys.unique(subset=key_cols)
    if distinct["__key"].n_unique() == distinct.height:
        keys, join_on = keys.select("__key"), ["__key"]
    else:
        join_on = key_cols
    text_keys = distinct.filter(~pl.col("__use"))
    text_rows = [
        _resolve_text_cached(p, _clean_postal(pc), lv, threshold)
        for p, pc, lv in text_keys.select("__place", "__postal", "__level").iter_rows()
    ]
    coord_keys = distinct.filter(pl.col("__use"))
    resolved = pl.concat(
        [
            text_keys.hstack(_rows_frame([dict(r) for r in text_rows])),
            coord_keys.hstack(
                _coords_frame(coord_keys["__lat"].to_numpy(), coord_keys["__lon"].to_numpy())
                if coord_keys.height
                else pl.DataFrame(schema=RESOLUTION_COLUMNS)
            ),
        ],
        how="vertical",
    )
    return (
        keys.lazy()
        .join(resolved.lazy(), on=join_on, how="left", nulls_equal=True, maintain_order="left")
        .select(list(RESOLUTION_COLUMNS))
        .collect()
    )


def _is_numeric(df: pl.DataFrame, name: str) -> bool:
    return name in df.columns and df.schema[name].is_numeric()


def _rows_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=RESOLUTION_COLUMNS, orient="row") if rows else pl.DataFrame(schema=RESOLUTION_COLUMNS)


def geocode_table(df: pl.DataFrame, *, fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD) -> pl.DataFrame:
    """``postmortem geocode --csv``: resolve a table with any of ``place``, ``postal_code``, ``lat``, ``lon``.

    Returns the table row for row with the resolution columns added. A table with none of
    the four columns is an error (nothing to resolve).
    """
    known = {"place", "postal_code", "lat", "lon", "area_level"}
    if not known & set(df.columns):
        raise GeoError(
            f"geocode: the table needs at least one of the columns place, postal_code, lat, lon; it has {', '.join(df.columns)}"
        )
    return resolve_places(df, place_col="place", fuzzy_threshold=fuzzy_threshold)


def format_resolution(res: dict[str, Any], *, place: str | None = None) -> str:
    """One line describing a resolution, for the command line."""
    head = f"{place!r} → " if place is not None else ""
    method = res.get("geo_method")
    score = res.get("geo_score")
    how = f"[{method}{f' {score:.2f}' if isinstance(score, float) else ''}]"
    note = f" ({res['geo_note']})" if res.get("geo_note") else ""
    if method in ("unresolved", "ambiguous"):
        return f"{head}{method}{note}"
    if res.get("municipality"):
        where = ", ".join(x for x in (res.get("province"), res.get("region")) if x)
        return f"{head}{res['municipality']} (NIS {res['nis_code']}; {where}) {how}{note}"
    label = res.get("province") or res.get("region") or "Belgium"
    return f"{head}{label} (area {res['nis_code']}) {how}{note}"
