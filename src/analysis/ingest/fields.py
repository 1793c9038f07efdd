"""The values of a row: canonical columns, words, numbers, places and times, read from a raw table.

Shared by the three evidence kinds (:mod:`.reports`, :mod:`.restorations`, :mod:`.series`):
a canonical column is found by its ``[sources.columns]`` mapping, its own name, or a source
default; statuses, services and area levels are normalised to the canonical words (a word
no synonym knows is kept lower-cased, with a note); times are parsed into UTC by
:mod:`analysis.timeparse`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from analysis.catalogues.row_warnings import warning_expr, warning_text
from analysis.config import Source
from analysis.errors import IngestError
from analysis.privacy import scrub_column
from analysis.timeparse import UTC_DTYPE, ParsedTimes, parse_times

if TYPE_CHECKING:
    from analysis.ingest.checks import Batches


REPORT_COLUMNS: dict[str, pl.DataType] = {
    "report_id": pl.String(),
    "source": pl.String(),
    "source_row": pl.Int64(),
    "reported_at": UTC_DTYPE,
    "reported_until": UTC_DTYPE,
    "place_raw": pl.String(),
    "postal_code": pl.String(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "service": pl.String(),
    "status": pl.String(),
    "text": pl.String(),
    "url": pl.String(),
    "outlet": pl.String(),
    "source_ref": pl.String(),
    "note": pl.String(),
    "area_level": pl.String(),
    "region_hint": pl.String(),
    "weight": pl.Int64(),
    "issues": pl.String(),
}


# where a restoration record or a series reading is, and which service it is about
_PLACE_AND_SERVICE: dict[str, pl.DataType] = {
    "place_raw": pl.String(),
    "postal_code": pl.String(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "region_hint": pl.String(),
    "service": pl.String(),
}


RESTORATION_COLUMNS: dict[str, pl.DataType] = {
    "record_id": pl.String(),
    "source": pl.String(),
    "source_row": pl.Int64(),
    "customer_id": pl.String(),
    "observed_at": UTC_DTYPE,
    "restored": pl.Boolean(),
    "restored_after": UTC_DTYPE,
    "restored_before": UTC_DTYPE,
    "started_at": UTC_DTYPE,
    **_PLACE_AND_SERVICE,
    "text": pl.String(),
    "issues": pl.String(),
}


ONLINE_COLUMNS: dict[str, pl.DataType] = {
    "source": pl.String(),
    "source_row": pl.Int64(),
    "observed_at": UTC_DTYPE,
    "online_fraction": pl.Float64(),
    "online": pl.Float64(),
    "total": pl.Float64(),
    "out": pl.Float64(),
    "area": pl.String(),
    **_PLACE_AND_SERVICE,
    "issues": pl.String(),
}


GEO_COLUMNS = ("nis_code", "municipality", "province", "region", "geo_method", "geo_score")


STATUS_SYNONYMS: Mapping[str, str] = {
    **dict.fromkeys(
        [
            "down",
            "out",
            "outage",
            "panne",
            "en panne",
            "storing",
            "defect",
            "broken",
            "no service",
            "offline",
            "ko",
            "hs",
            "hors service",
            "still down",
            "toujours en panne",
            "geen tv",
            "plat",
            "dead",
            "failed",
            "failure",
            "unavailable",
        ],
        "down",
    ),
    **dict.fromkeys(["intermittent", "unstable", "instable", "onstabiel", "flapping", "on/off", "coupures"], "intermittent"),
    **dict.fromkeys(["partial", "partiel", "partieel", "degraded", "some channels", "gedeeltelijk"], "partial"),
    **dict.fromkeys(
        ["restored", "up", "ok", "back", "resolved", "fixed", "rétabli", "retabli", "hersteld", "online", "working"], "restored"
    ),
    **dict.fromkeys(["not_affected", "not affected", "unaffected", "no problem", "kept service", "pas de panne"], "not_affected"),
}


SERVICE_SYNONYMS: Mapping[str, str] = {
    **dict.fromkeys(["tv", "télé", "tele", "télévision", "television", "televisie", "decoder", "décodeur", "iptv"], "tv"),
    **dict.fromkeys(["internet", "web access", "broadband", "wifi", "wi-fi", "data"], "internet"),
    **dict.fromkeys(["sms", "text", "texto"], "sms"),
    **dict.fromkeys(["web", "website", "site", "site web", "app", "application", "mail", "e-mail", "email"], "web"),
    **dict.fromkeys(["calls", "call", "voice", "phone", "téléphone", "telefoon", "fixed line", "telephony"], "calls"),
    **dict.fromkeys(["mobile", "gsm", "4g", "5g"], "mobile"),
    **dict.fromkeys(["power", "electricity", "électricité", "stroom"], "power"),
}


AREA_LEVELS: Mapping[str, str] = {
    **dict.fromkeys(["municipality", "town", "city", "commune", "gemeente", "village", "place", "locality"], "municipality"),
    **dict.fromkeys(["province", "provincie"], "province"),
    **dict.fromkeys(["region", "région", "gewest"], "region"),
    **dict.fromkeys(["country", "national", "nationwide", "pays", "land", "belgium"], "country"),
}


TRUE_WORDS = frozenset({"true", "t", "1", "yes", "y", "oui", "ja", "restored", "up", "ok", "x"})


FALSE_WORDS = frozenset({"false", "f", "0", "no", "n", "non", "nee", "down", "out", ""})


DATE_ONLY_NOTE = warning_text("date_only")


def _const(name: str, value: Any, n: int, dtype: pl.DataType) -> pl.Series:
    """A column of ``n`` copies of ``value`` (built without a Python list)."""
    return pl.repeat(value, n, dtype=dtype, eager=True).alias(name)


def _series(frame: pl.DataFrame | None, expr: pl.Expr, name: str) -> pl.Series:
    return (frame if frame is not None else pl.DataFrame()).select(expr.alias(name)).to_series()


def _column_for(table: pl.DataFrame, source: Source, canonical: str) -> str | None:
    """The file column holding ``canonical``: the mapped one, else one named like it."""
    mapped = source.columns.get(canonical)
    names = [c for c in table.columns if c != "_row"]
    folded = {c.strip().lower(): c for c in reversed(names)}
    if mapped is not None:
        if mapped in names:
            return mapped
        if mapped.strip().lower() in folded:
            return folded[mapped.strip().lower()]
        shown = ", ".join(repr(n) for n in names[:30]) + (", ..." if len(names) > 30 else "")
        raise IngestError(
            f"{source.path}: column {mapped!r} (mapped to '{canonical}' in [sources.columns]) not found; the file has: {shown}"
        )
    return folded.get(canonical)


def _text_expr(table: pl.DataFrame, source: Source, canonical: str) -> pl.Expr:
    """A canonical text column as an expression: the file's (trimmed, blank as null), else the default."""
    name = _column_for(table, source, canonical)
    default = str(source.defaults[canonical]) if canonical in source.defaults else None
    if name is None:
        return pl.lit(default, pl.String).alias(canonical)
    e = pl.col(name).cast(pl.String).str.strip_chars().replace("", None)
    return (e if default is None else e.fill_null(default)).alias(canonical)


def _text(table: pl.DataFrame, source: Source, canonical: str) -> pl.Series:
    """A canonical text column: the file's, else the source's default, else nulls."""
    if _column_for(table, source, canonical) is not None:
        return table.select(_text_expr(table, source, canonical)).to_series()
    if canonical in source.defaults:
        return _const(canonical, str(source.defaults[canonical]), table.height, pl.String())
    return _const(canonical, None, table.height, pl.String())


def _has(table: pl.DataFrame, source: Source, canonical: str) -> bool:
    return _column_for(table, source, canonical) is not None or canonical in source.defaults


def _label(source: Source, table: pl.DataFrame, canonical: str) -> str:
    """The file's name for a canonical column (for rejects' ``column``)."""
    return _column_for(table, source, canonical) or canonical


def _number(s: pl.Series) -> pl.Series:
    """Parse numbers written with a decimal point or a decimal comma (``50,85``)."""
    if s.dtype.is_numeric():
        return s.cast(pl.Float64)
    cleaned = s.cast(pl.String)
    if cleaned.str.contains(r"\s").any():
        cleaned = cleaned.str.replace_all(r"\s", "")
    if cleaned.str.contains(",", literal=True).any():
        # one comma and no point: a decimal comma; anything else keeps its points
        comma_decimal = cleaned.str.contains(r"^[+-]?\d*,\d+$")
        cleaned = _series(
            pl.DataFrame({"c": cleaned, "d": comma_decimal}),
            pl.when("d").then(pl.col("c").str.replace(",", ".", literal=True)).otherwise("c"),
            s.name,
        )
    return cleaned.cast(pl.Float64, strict=False).alias(s.name)


def _normalise(s: pl.Series, synonyms: Mapping[str, str]) -> pl.Series:
    """Values mapped to their canonical word (lower-cased and trimmed when not a known synonym).

    Each distinct raw value is normalised once: a status column of ten million rows holds
    a handful of words.
    """
    uniques = s.drop_nulls().unique()
    if uniques.is_empty():
        return s.str.strip_chars().str.to_lowercase()
    lows = uniques.str.strip_chars().str.to_lowercase()
    mapping = {
        raw: synonyms.get(low, synonyms.get(low.replace("_", " "), low))
        for raw, low in zip(uniques.to_list(), lows.to_list(), strict=True)
    }
    return s.replace_strict(mapping, default=None, return_dtype=pl.String)


def _normalise_noted(s: pl.Series, synonyms: Mapping[str, str], label: str) -> tuple[pl.Series, pl.Series]:
    """Normalised values, and a note where a value is not a known one (it is kept lower-cased)."""
    norm = _normalise(s, synonyms)
    known = set(synonyms.values())
    note = _series(
        pl.DataFrame({"n": norm, "r": s}),
        pl.when(pl.col("n").is_not_null() & ~pl.col("n").is_in(list(known))).then(
            warning_expr(f"{label}_unknown", value=pl.col("r"))
        ),
        "note",
    )
    return norm, note


def _postal(table: pl.DataFrame, source: Source) -> pl.Series:
    """A Belgian postal code: the first run of exactly four digits (``B-1000``, ``1000 Brussel``)."""
    raw = _text(table, source, "postal_code")
    return raw.str.extract(r"(?:^|\D)(\d{4})(?:\D|$)", 1).alias("postal_code")


def _coordinates(table: pl.DataFrame, source: Source) -> tuple[pl.Series, pl.Series, pl.Series]:
    """WGS84 latitude/longitude, and a note where coordinates were given but not usable.

    Out-of-range, unreadable or half-given coordinates are dropped (the row is kept: its
    place or postal code may still locate it) with the reason in the note.
    """
    lat_raw, lon_raw = _text(table, source, "lat"), _text(table, source, "lon")
    lat, lon = _number(lat_raw), _number(lon_raw)
    frame = pl.DataFrame({"lat": lat, "lon": lon, "lr": lat_raw, "nr": lon_raw})
    unreadable = (pl.col("lr").is_not_null() & pl.col("lat").is_null()) | (pl.col("nr").is_not_null() & pl.col("lon").is_null())
    out_of_range = ~pl.col("lat").is_between(-90, 90) | ~pl.col("lon").is_between(-180, 180)
    half = pl.col("lat").is_null() ^ pl.col("lon").is_null()
    out = frame.select(
        pl.when(unreadable)
        .then(warning_expr("coordinates_unreadable", lat=pl.col("lr"), lon=pl.col("nr")))
        .when(half & pl.col("lon").is_null())
        .then(warning_expr("latitude_alone", lat=pl.col("lr")))
        .when(half)
        .then(warning_expr("longitude_alone", lon=pl.col("nr")))
        .when(out_of_range.fill_null(False))
        .then(warning_expr("coordinates_out_of_range", lat=pl.col("lr"), lon=pl.col("nr")))
        .alias("note"),
    ).with_columns(frame)
    keep = out["note"].is_null() & out["lat"].is_not_null() & out["lon"].is_not_null()
    lat = _series(out, pl.when(keep).then("lat"), "lat")
    lon = _series(out, pl.when(keep).then("lon"), "lon")
    return lat, lon, out["note"]


def _url(table: pl.DataFrame, source: Source) -> tuple[pl.Series, pl.Series]:
    """Web links: only ``http(s)://`` ones are kept (never ``javascript:`` or ``data:``)."""
    raw = _text(table, source, "url")
    ok = raw.str.contains(r"(?i)^https?://[^\s<>\"']+$")
    url = _series(pl.DataFrame({"u": raw, "ok": ok}), pl.when("ok").then("u"), "url")
    note = _series(
        pl.DataFrame({"u": raw, "ok": ok}),
        pl.when(pl.col("u").is_not_null() & ~pl.col("ok")).then(warning_expr("url_not_a_link")),
        "note",
    )
    return scrub_column(url, names=False), note


def _first(pairs: list[tuple[pl.Series, pl.Series | str | None]]) -> tuple[pl.Series, pl.Series]:
    """The first non-null reason of each row, and the file column that reason concerns."""
    n = len(pairs[0][0])
    frame = pl.DataFrame(
        {f"r{i}": r.cast(pl.String) for i, (r, _) in enumerate(pairs)}
        | {
            f"c{i}": c.cast(pl.String) if isinstance(c, pl.Series) else _const(f"c{i}", c, n, pl.String())
            for i, (_, c) in enumerate(pairs)
        }
    )
    reason = pl.coalesce([pl.col(f"r{i}") for i in range(len(pairs))])
    # the column of the first reason (a reason without a column must not borrow a later one's)
    column = pl.lit(None, pl.String)
    for i in reversed(range(len(pairs))):
        column = pl.when(pl.col(f"r{i}").is_not_null()).then(pl.col(f"c{i}")).otherwise(column)
    out = frame.select(reason.alias("reason"), column.alias("column"))
    return out["reason"], out["column"]


def _join_notes(*notes: pl.Series | None) -> pl.Series:
    parts = [n for n in notes if n is not None]
    frame = pl.DataFrame({f"p{i}": p.cast(pl.String) for i, p in enumerate(parts)})
    return frame.select(pl.concat_str(pl.all(), separator="; ", ignore_nulls=True).replace("", None).alias("issues")).to_series()


def _unique_ids(ids: pl.Series) -> pl.Series:
    """Make ids unique by suffixing ``#2``, ``#3``... to later repeats (vectorised; rare loop)."""
    if ids.n_unique() == ids.len():
        return ids
    rank = ids.to_frame("id").select(pl.int_range(pl.len()).over("id").alias("k"))["k"]
    out = _series(
        pl.DataFrame({"id": ids, "k": rank}),
        pl.when(pl.col("k") > 0).then(pl.format("{}#{}", "id", pl.col("k") + 1)).otherwise("id"),
        ids.name,
    )
    if out.n_unique() == out.len():
        return out
    seen: set[str] = set()
    values = []
    for base in out.to_list():  # a suffixed id collided with a given one ("a#2" in the file): rare
        v, k = base, 2
        while v in seen:
            v, k = f"{base}#{k}", k + 1
        seen.add(v)
        values.append(v)
    return pl.Series(ids.name, values, dtype=pl.String)


def _geo_columns_missing(df: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in GEO_COLUMNS if c not in df.columns]
    return df.with_columns([pl.lit(None, dtype=pl.Float64 if c == "geo_score" else pl.String).alias(c) for c in missing])


def _parse(raw: pl.Series, source: Source, timezone: str, label: str, batches: Batches | None = None) -> ParsedTimes:
    order = batches.month_first.get(raw.name) if batches is not None else None
    try:
        return parse_times(
            raw,
            timezone=source.timezone or timezone,
            time_format=source.time_format,
            ambiguous=source.ambiguous,
            month_first=order,
        )
    except ValueError as exc:
        raise IngestError(f"{source.path}: column {label!r}: {exc}") from None


def _times(
    table: pl.DataFrame, source: Source, canonical: str, timezone: str, batches: Batches | None = None
) -> tuple[ParsedTimes, bool]:
    """Parsed UTC times for a canonical time column, and whether the column exists."""
    name = _column_for(table, source, canonical)
    if name is None and canonical not in source.defaults:
        null = _const(canonical, None, table.height, UTC_DTYPE)
        none = _const(canonical, None, table.height, pl.String())
        return ParsedTimes(null, none, None, none, null), False
    raw = (table[name] if name is not None else _text(table, source, canonical)).alias(canonical)
    return _parse(raw, source, timezone, name or canonical, batches), True


def _unusable(reason: pl.Series) -> pl.Series:
    """A time reason that is not plain absence."""
    return _series(pl.DataFrame({"r": reason}), pl.when(pl.col("r") != "missing time").then("r"), "r")


def _in_words(n: float) -> str:
    """A large limit in words (``20 million``): digit runs in a reason would be scrubbed as phone numbers."""
    return f"{n / 1e6:g} million" if n >= 1e6 else f"{n:g}"


def _where_and_what(table: pl.DataFrame, source: Source) -> tuple[dict[str, pl.Series], list[pl.Series]]:
    """The columns restorations and series share (place, postal code, coordinates, region hint, service) and their notes."""
    lat, lon, coord_issue = _coordinates(table, source)
    service, service_issue = _normalise_noted(_text(table, source, "service"), SERVICE_SYNONYMS, "service")
    columns = {
        "place_raw": _text(table, source, "place"),
        "postal_code": _postal(table, source),
        "lat": lat,
        "lon": lon,
        "region_hint": _text(table, source, "region_hint"),
        "service": service,
    }
    return columns, [coord_issue, service_issue]


def _scrubbed(work: pl.DataFrame, labels: tuple[str, ...], texts: tuple[str, ...] = ()) -> pl.DataFrame:
    """Kept rows' free text scrubbed of personal data: ``labels`` keep place names, ``texts`` lose personal names too."""
    return work.with_columns(*(scrub_column(work[c], names=False) for c in labels), *(scrub_column(work[c]) for c in texts))


def _canonical(work: pl.DataFrame, columns: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """The canonical columns of a kind, in their order and types."""
    return work.select([pl.col(c).cast(t) for c, t in columns.items()])
