"""Sources → canonical tables (reports, restorations, online series) + rejects, losing nothing.

For each source the file is read as text (:mod:`analysis.sources`), the columns named in
``[sources.columns]`` (or present under their canonical name) are mapped, times are parsed
into UTC (:mod:`analysis.timeparse`), free text is scrubbed of personal data
(:mod:`analysis.privacy`), and every row that cannot become a record goes to the rejects
table with its source, row, the file column at fault (when there is one), its raw values
(scrubbed too) and a reason a person understands. Kept rows carry remarks in ``issues``
(coordinates ignored, an unknown status, an ambiguous clock time...).

Invariant, checked before anything is returned: for every source,
``raw rows = accepted rows + rejected rows``. A source whose ``path`` is a glob or a folder
is read file by file by :mod:`analysis.ingest.partitions`, with the result of one file holding all
the rows; every reject names its ``file``.

Row checks, first match wins: an empty row; a field longer than
:data:`MAX_FIELD_CHARS` (usually a quote that swallowed the rest of a file); a duplicate,
by the source's ``dedupe`` policy; then the kind's own checks (times, counts, values).

Duplicates: identical rows are separate reports by default — two customers of one town
reporting in the same minute write identical rows, and rejecting them would thin out the
densest periods of the recovery curve. Under ``dedupe = "identity"`` (the default for
reports and restorations) a row is a duplicate only by identity: a ``report_id`` already
seen in the source ("duplicate of row N (same report_id)", N the first row with that id,
whatever its content), or a ``user_id``/``device_id`` (a restoration's ``customer_id``)
already seen with the same parsed time (a double post; the same user later is a new
report). ``dedupe = "exact"`` (the default for online series) rejects a row identical in
every raw field to an earlier one as "duplicate of row N", and keeps rows that share a
``report_id`` but differ (the later id gets a ``#2`` suffix and an ``issues`` note);
``dedupe = "none"`` rejects nothing as a duplicate (repeated ids are made unique the same
way). Whatever the policy, each source counts its rows identical to an earlier row, how
many were kept and how many rows were rejected as duplicates (:class:`SourceCounts`). See
docs/data-quality.md for every policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from analysis.config import Source
from analysis.errors import IngestError
from analysis.limits import limit
from analysis.privacy import scrub_column, scrub_label, scrub_labels, scrub_text
from analysis.sources import (
    RAW_FIELD_CHARS,
    REJECT_SCHEMA,
    CsvStream,
    RawTable,
    open_csv_stream,
    read_source,
)
from analysis.timeparse import UTC_DTYPE, ParsedTimes, column_month_first, parse_times

MAX_FIELD_CHARS = 100_000
BATCH_ROWS = 2_000_000  # rows per batch of a large CSV file (see ingest_incident)

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
RESTORATION_COLUMNS: dict[str, pl.DataType] = {
    "record_id": pl.String(),
    "source": pl.String(),
    "source_row": pl.Int64(),
    "customer_id": pl.String(),
    "observed_at": UTC_DTYPE,
    "restored": pl.Boolean(),
    "restored_after": UTC_DTYPE,
    "restored_before": UTC_DTYPE,
    "place_raw": pl.String(),
    "postal_code": pl.String(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "region_hint": pl.String(),
    "service": pl.String(),
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
    "place_raw": pl.String(),
    "postal_code": pl.String(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "region_hint": pl.String(),
    "service": pl.String(),
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
DATE_ONLY_NOTE = "no time of day: the whole local day is the window"


@dataclass(frozen=True)
class SourceCounts:
    """How many rows a source had, kept and rejected, and how it was read."""

    source: str
    kind: str
    path: str
    n_raw: int
    n_accepted: int
    n_rejected: int
    encoding: str | None = None
    delimiter: str | None = None
    time_format: str | None = None
    # duplicates (docs/data-quality.md): the policy applied (the source's ``dedupe``), how
    # many rows are identical in every raw field to an earlier row of the source (empty rows
    # aside), how many of those were kept, and how many rows were rejected as duplicates
    dedupe: str = "identity"
    n_identical: int = 0
    n_identical_kept: int = 0
    n_duplicates: int = 0


@dataclass(frozen=True)
class IngestResult:
    """Canonical tables of one incident and the accounting that reconciles them."""

    reports: pl.DataFrame
    rejects: pl.DataFrame
    restorations: pl.DataFrame
    online: pl.DataFrame
    sources: tuple[SourceCounts, ...] = field(default=())

    @property
    def n_raw(self) -> int:
        """Rows in all source files."""
        return sum(s.n_raw for s in self.sources)

    @property
    def n_rejected(self) -> int:
        """Rows that could not be used (each with a reason in ``rejects``)."""
        return self.rejects.height

    @property
    def n_reports(self) -> int:
        """Accepted rows of every kind (down reports, restoration records, online points)."""
        return self.reports.height + self.restorations.height + self.online.height

    def counts_table(self) -> pl.DataFrame:
        """Per-source accounting, one row per source."""
        return pl.DataFrame([s.__dict__ for s in self.sources]) if self.sources else pl.DataFrame()


# --------------------------------------------------------------------------- helpers


def _const(name: str, value: object, n: int, dtype: pl.DataType) -> pl.Series:
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
            pl.format(f"{label} '{{}}' not recognised (kept as written)", "r")
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
        .then(pl.format("coordinates ({}, {}) unreadable, ignored", "lr", "nr"))
        .when(half & pl.col("lon").is_null())
        .then(pl.format("latitude {} given without a longitude, ignored", "lr"))
        .when(half)
        .then(pl.format("longitude {} given without a latitude, ignored", "nr"))
        .when(out_of_range.fill_null(False))
        .then(pl.format("coordinates ({}, {}) out of range, ignored", "lr", "nr"))
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
        pl.when(pl.col("u").is_not_null() & ~pl.col("ok")).then(pl.lit("url is not an http(s) link, dropped")),
        "note",
    )
    return scrub_column(url, names=False), note


_SEEN_SCHEMA = {"_h1": pl.UInt64, "_h2": pl.UInt64, "_first": pl.Int64}


@dataclass
class Batches:
    """What the batches of one file share, so that reading it in batches changes no result.

    ``month_first``: each time column's day/month order, voted by the whole column;
    ``seen``: per repeat check (``"row"`` for whole rows, ``"report_id"``, ``"user_id"``...),
    a 128-bit fingerprint of every distinct key of the earlier batches with the first row
    holding it (a row repeating one of them repeats that row).
    """

    month_first: dict[str, bool]
    seen: dict[str, pl.DataFrame] = field(default_factory=dict)


@dataclass
class DuplicateTally:
    """Duplicate accounting of one source, summed over its batches (see :class:`SourceCounts`).

    ``identical``: rows identical in every raw field to an earlier row of the source (empty
    rows aside); ``identical_kept``: those kept as reports; ``duplicates``: rows rejected as
    duplicates under the source's ``dedupe`` policy.
    """

    identical: int = 0
    identical_kept: int = 0
    duplicates: int = 0

    def add(self, identical: pl.Series, empty: pl.Series, duplicate: pl.Series, reason: pl.Series) -> None:
        """Count one table's rows.

        ``identical`` is each row's first identical row (or null), ``empty`` and
        ``duplicate`` its empty-row and duplicate reasons, ``reason`` its final reason (null:
        kept).
        """
        frame = pl.DataFrame({"i": identical, "e": empty, "d": duplicate, "r": reason})
        counts = frame.select(
            (pl.col("i").is_not_null() & pl.col("e").is_null()).sum().alias("identical"),
            (pl.col("i").is_not_null() & pl.col("r").is_null()).sum().alias("kept"),
            (pl.col("d").is_not_null() & (pl.col("r") == pl.col("d"))).sum().alias("duplicates"),
        ).row(0)
        self.identical += int(counts[0])
        self.identical_kept += int(counts[1])
        self.duplicates += int(counts[2])


def _repeated_hashes(hashes: pl.Series, valid: pl.Series | None) -> pl.Series | None:
    """Rows whose hash occurs more than once (among the ``valid`` rows); None when none does.

    Sorting the hashes and comparing neighbours is several times faster than a hash table
    over millions of rows (``is_duplicated``); the rows are then marked by a lookup in the
    few repeated values.
    """
    live = hashes if valid is None else hashes.filter(valid)
    ordered = live.sort()
    twice = ordered.filter(ordered == ordered.shift(1))
    if twice.is_empty():
        return None
    screen = hashes.is_in(twice.unique())
    return screen if valid is None else screen & valid


def _earlier(
    keys: pl.DataFrame,
    rows: pl.Series,
    *,
    valid: pl.Series | None = None,
    batches: Batches | None = None,
    check: str = "row",
) -> pl.Series:
    """For each row, the first earlier row with the same ``keys`` (null when it is the first).

    Rows with distinct hashes are distinct; rows sharing one are compared exactly, so clean
    data pays for one hash and a screen. Rows where ``valid`` is false (a missing id) repeat
    nothing and are repeated by nothing. With ``batches`` (a file read in batches), rows also
    repeat rows of earlier batches: those are found by fingerprint (two independent 64-bit
    hashes of the keys) in ``batches.seen[check]``, which this table's first rows then join.
    """
    n = keys.height
    first = _const("_first", None, n, pl.Int64())
    if n == 0:
        return first
    keys = keys.rename({c: f"k{j}" for j, c in enumerate(keys.columns)})  # clear of the names below
    cols = keys.columns
    rows = rows.cast(pl.Int64).alias("_row")
    h1 = key_hash(keys, 7)
    # the screen looks at hashes only: the key columns are copied for the flagged rows alone
    screen = _repeated_hashes(h1, valid)
    if screen is not None:
        idx = screen.arg_true()
        flagged = keys[idx].with_columns(idx.cast(pl.Int64).alias("_i"), rows.gather(idx))
        found = flagged.select("_i", "_row", pl.col("_row").min().over(cols).alias("_f")).filter(pl.col("_row") != pl.col("_f"))
        first = first.scatter(found["_i"], found["_f"])
    if batches is None:
        return first
    seen = batches.seen.get(check, pl.DataFrame(schema=_SEEN_SCHEMA))
    prints = pl.DataFrame({"_h1": h1, "_h2": key_hash(keys, 11), "_at": rows})
    live = prints if valid is None else prints.filter(valid)
    # an inner join builds on the smaller side (the batch), not on every key seen so far;
    # the second hash must agree too (a 128-bit fingerprint)
    hits = (
        live.join(seen, on="_h1", how="inner", suffix="_seen").filter(pl.col("_h2") == pl.col("_h2_seen")).select("_at", "_first")
    )
    if hits.height:
        earlier = prints.select("_at").join(hits, on="_at", how="left", maintain_order="left")["_first"]
        first = pl.select(pl.coalesce(earlier, first)).to_series().alias("_first")
    # keys that repeat nothing are the first of their kind: later batches compare with them
    fresh = prints.filter(first.is_null() if valid is None else first.is_null() & valid)
    batches.seen[check] = pl.concat([seen, fresh.select("_h1", "_h2", pl.col("_at").alias("_first"))], rechunk=False)
    return first


def key_hash(keys: pl.DataFrame, seed: int) -> pl.Series:
    """One 64-bit hash per row of ``keys`` (the repeat checks fingerprint a key with seeds 7 and 11)."""
    return keys.select(pl.struct(keys.columns).hash(seed=seed)).to_series().alias("_h1" if seed == 7 else "_h2")


def _row_checks(table: pl.DataFrame, batches: Batches | None = None) -> dict[str, pl.Series]:
    """Reasons shared by every kind (empty row, oversized field) and each row's identical twin.

    ``_identical`` is the first earlier row identical in every raw field (null when none):
    counted for every source, a reason only under ``dedupe = "exact"`` (see
    :func:`_duplicate_reasons`). Each check first runs a cheap vectorised screen over the
    whole table and then the exact test on the few rows it flags, so clean data pays for a
    few passes only.
    """
    cols = [c for c in table.columns if c != "_row"]
    n = table.height

    def none() -> pl.Series:  # a fresh column each time: Series.scatter works in place
        return _const("x", None, n, pl.String())

    out = {
        "_why_empty": none(),
        "_why_size": none(),
        "_why_size_col": none(),
        "_identical": _const("_identical", None, n, pl.Int64()),
    }
    if n == 0:
        return out
    if not cols:
        return out | {"_why_empty": _const("e", "empty row", n, pl.String())}
    text = {c: pl.col(c).cast(pl.String) for c in cols}

    def blank(c: str) -> pl.Expr:
        return text[c].is_null() | text[c].str.contains(r"^\s*$")

    screen = table.select(blank(cols[0])).to_series()
    if screen.any():
        idx = screen.arg_true()
        full = table[idx].select(pl.all_horizontal([blank(c) for c in cols])).to_series()
        out["_why_empty"] = none().scatter(idx.filter(full), "empty row")

    screen = table.select(pl.any_horizontal([text[c].str.len_bytes() > MAX_FIELD_CHARS for c in cols])).to_series()
    if screen.any():
        idx = screen.arg_true()
        sub = table[idx]
        col = pl.coalesce([pl.when(text[c].str.len_chars() > MAX_FIELD_CHARS).then(pl.lit(c)) for c in cols])
        length = pl.max_horizontal([text[c].str.len_chars() for c in cols])
        found = sub.select(
            pl.when(col.is_not_null())
            .then(
                pl.format(
                    f"field '{{}}' is {{}} characters long (limit {MAX_FIELD_CHARS}): a quote that never closes?", col, length
                )
            )
            .alias("r"),
            col.alias("c"),
        )
        out["_why_size"] = none().scatter(idx, found["r"])
        out["_why_size_col"] = none().scatter(idx, found["c"])

    out["_identical"] = _earlier(table.select(cols), table["_row"], batches=batches, check="row")
    return out


def _duplicate_reasons(
    table: pl.DataFrame,
    source: Source,
    identical: pl.Series,
    *,
    ids: tuple[str, ...] = (),
    timed_ids: tuple[str, ...] = (),
    times: pl.DataFrame | None = None,
    batches: Batches | None = None,
) -> tuple[pl.Series, pl.Series]:
    """Each row's duplicate reason under the source's ``dedupe`` policy, and the column it concerns.

    ``exact``: a row identical to an earlier one is a "duplicate of row N". ``identity``:
    identical rows are separate reports (two customers of one town write the same row in the
    same minute); a row is a duplicate only when it repeats an id of the file: one of
    ``ids`` (``report_id``: the same report, whatever its content), or one of ``timed_ids``
    (a user, device or customer id) together with the same ``times`` (the same person at
    the same time is a double post; later, a new report). ``none``: no row is a duplicate.
    """
    n = table.height
    none = _const("r", None, n, pl.String())
    if source.dedupe == "none" or n == 0:
        return none, none
    if source.dedupe == "exact":
        if identical.null_count() == n:
            return none, none
        reason = pl.select(pl.format("duplicate of row {}", identical)).to_series()
        return reason, none
    reasons: list[tuple[pl.Series, pl.Series | str | None]] = []
    for canonical in (*ids, *timed_ids):
        name = _column_for(table, source, canonical)
        if name is None:
            continue  # a default value is no identity: only the file's column counts
        value = table.select(pl.col(name).cast(pl.String).str.strip_chars().replace("", None).alias("id"))
        valid = value["id"].is_not_null()
        what = f"same {canonical}"
        if canonical in timed_ids and times is not None:
            value = value.hstack(times)
            # without a readable time a row is rejected for its time, not as a double post
            valid = valid & times.select(pl.any_horizontal(pl.all().is_not_null())).to_series()
            what += " and time"
        first = _earlier(value, table["_row"], valid=valid, batches=batches, check=canonical)
        if first.null_count() == n:
            continue  # nothing repeated (the usual case): no column of reasons to build
        reasons.append((pl.select(pl.format(f"duplicate of row {{}} ({what})", first)).to_series(), name))
    if not reasons:
        return none, none
    return _first(reasons)


def _raw_json(table: pl.DataFrame) -> pl.Series:
    """The raw values of every row as one JSON object string, scrubbed and trimmed (for rejects)."""
    cols = [c for c in table.columns if c != "_row"]
    if not cols or table.height == 0:
        return _const("raw", "{}", table.height, pl.String())
    fields = {}
    for c in cols:
        s = table[c].cast(pl.String)
        s = _series(
            pl.DataFrame({"s": s}),
            pl.when(pl.col("s").str.len_chars() > RAW_FIELD_CHARS)
            .then(pl.col("s").str.slice(0, RAW_FIELD_CHARS) + "…")
            .otherwise("s"),
            c,
        )
        # header names are data too: scrubbed like every label (made unique again if that merges two)
        key, k = scrub_label(c) or c, 2
        while key in fields:
            key, k = f"{scrub_label(c)}_{k}", k + 1
        fields[key] = scrub_column(s).alias(key)
    return pl.DataFrame(fields).select(pl.struct(pl.all()).struct.json_encode().alias("raw")).to_series()


def _scrub_raw(raw: str | None) -> str | None:
    """Scrub a reader reject's raw text: JSON values one by one, else the text itself."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        # an invalid JSON line: undo the common escapes so names and numbers are visible
        text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), raw)
        return scrub_text(text.replace("\\n", "\n").replace("\\t", "\t").replace('\\"', '"'))
    return json.dumps(_scrub_value(value), ensure_ascii=False)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, list):
        return [_scrub_value(v) for v in value]
    if isinstance(value, dict):
        return {scrub_label(k): _scrub_value(v) for k, v in value.items()}
    return value


def _rejects(
    table: pl.DataFrame,
    source: Source,
    reason: pl.Series,
    column: pl.Series,
) -> pl.DataFrame:
    """Rejects for the rows with a reason (raw JSON built for those rows only)."""
    mask = reason.is_not_null()
    bad = table.filter(mask)
    return pl.DataFrame(
        {
            "source": _const("source", source.name, bad.height, pl.String()),
            "row": bad["_row"].cast(pl.Int64),
            "column": column.filter(mask).cast(pl.String),
            "reason": reason.filter(mask),
            "raw": _raw_json(bad),
        },
        schema=REJECT_SCHEMA,
    )


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


# --------------------------------------------------------------------------- times


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


def _report_time_text(table: pl.DataFrame | pl.LazyFrame, source: Source) -> dict[str, pl.Expr]:
    """The raw text each report time is parsed from, as expressions (keyed like the parsed series).

    One definition for the row-by-row parse and for the whole-column vote of a file read
    in batches: a file column, a source default, or the ``date`` and ``time`` columns joined.
    """
    names = [c for c in table.collect_schema().names() if c != "_row"]
    probe = table if isinstance(table, pl.DataFrame) else pl.DataFrame(schema=dict.fromkeys(names, pl.String))
    out: dict[str, pl.Expr] = {}
    for canonical in ("reported_at", "reported_from", "reported_until"):
        name = _column_for(probe, source, canonical)
        if name is not None:
            out[canonical] = pl.col(name).cast(pl.String)
        elif canonical in source.defaults:
            out[canonical] = pl.lit(str(source.defaults[canonical]), pl.String)
    if not ({"reported_at", "reported_from"} & set(out)) and _has(probe, source, "date"):
        date, clock = _text_expr(probe, source, "date"), _text_expr(probe, source, "time")
        out["reported_at"] = pl.concat_str([date, clock], separator=" ", ignore_nulls=True)
    return out


def _unusable(reason: pl.Series) -> pl.Series:
    """A time reason that is not plain absence."""
    return _series(pl.DataFrame({"r": reason}), pl.when(pl.col("r") != "missing time").then("r"), "r")


# --------------------------------------------------------------------------- per kind


def _verdicts(
    table: pl.DataFrame,
    source: Source,
    kind_checks: list[tuple[pl.Series, pl.Series | str | None]],
    tally: DuplicateTally | None,
    *,
    batches: Batches | None = None,
    **duplicate_keys: Any,
) -> tuple[pl.Series, pl.DataFrame]:
    """Every row's reject reason (null: kept) and the rejects table: the checks all kinds share, then the kind's.

    First match wins: an empty row, an oversized field, a duplicate under the source's
    ``dedupe`` policy (``duplicate_keys`` go to :func:`_duplicate_reasons`), then
    ``kind_checks`` in order (``(reason, column)`` pairs). The tally counts identical rows,
    empty rows and duplicates for the data-quality section.
    """
    checks = _row_checks(table, batches)
    dup_why, dup_column = _duplicate_reasons(table, source, checks["_identical"], batches=batches, **duplicate_keys)
    reason, column = _first(
        [(checks["_why_empty"], None), (checks["_why_size"], checks["_why_size_col"]), (dup_why, dup_column), *kind_checks]
    )
    if tally is not None:
        tally.add(checks["_identical"], checks["_why_empty"], dup_why, reason)
    return reason, _rejects(table, source, reason, column)


def _report_frame(
    table: pl.DataFrame, source: Source, timezone: str, tally: DuplicateTally | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical down reports from one source, and the rows rejected with reasons."""
    work, rejects = _report_work(table, source, timezone, tally=tally)
    return _finish_reports(work, source), rejects


def _report_work(
    table: pl.DataFrame, source: Source, timezone: str, batches: Batches | None = None, tally: DuplicateTally | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Down reports of a table before their ids are made (ids need the whole source), and rejects.

    ``batches`` carries what earlier batches of the same file hold (time orders, rows and
    ids seen); ``tally`` adds this table's duplicate accounting.
    """
    at, has_at = _times(table, source, "reported_at", timezone, batches)
    frm, has_from = _times(table, source, "reported_from", timezone, batches)
    until, _has_until = _times(table, source, "reported_until", timezone, batches)
    time_label = _label(source, table, "reported_at") if has_at else _label(source, table, "reported_from")
    if not (has_at or has_from) and _has(table, source, "date"):
        # with_columns, not select: a date given only as a source default still spans every row
        combined = table.with_columns(_report_time_text(table, source)["reported_at"].alias("__time"))["__time"]
        combined = combined.alias("reported_at")
        at, has_at = _parse(combined, source, timezone, _label(source, table, "date"), batches), True
        time_label = _label(source, table, "date")
    if not (has_at or has_from):
        raise IngestError(
            f"{source.path}: no time column: map 'reported_at' (or 'reported_from'/'reported_until', or 'date' and 'time') "
            f"in [sources.columns]; the file has: {', '.join(c for c in table.columns if c != '_row')}"
        )
    frame = pl.DataFrame(
        {
            "at": at.utc,
            "frm": frm.utc,
            # "until Tuesday" includes Tuesday: a date-only end is the end of that day
            "until": pl.select(pl.coalesce(until.until, until.utc)).to_series(),
            "at_end": at.until,
            "frm_end": frm.until,
            "at_why": at.reason,
            "frm_why": frm.reason,
            "until_why": until.reason,
        }
    )
    frame = frame.with_columns(
        # a point time wins; a window is [reported_from or reported_at, reported_until]
        pl.when(pl.col("until").is_not_null()).then(pl.coalesce("frm", "at")).otherwise(pl.coalesce("at", "frm")).alias("start"),
        pl.when(pl.col("until").is_not_null())
        .then(None)
        .when(pl.col("at").is_not_null())
        .then("at_end")
        .otherwise("frm_end")
        .alias("day_end"),
    ).with_columns(
        pl.when(pl.col("start").is_null() & pl.col("until").is_null())
        .then(
            pl.when(pl.col("at_why").is_not_null() & (pl.col("at_why") != "missing time"))
            .then(pl.col("at_why"))
            .when(pl.col("frm_why").is_not_null() & (pl.col("frm_why") != "missing time"))
            .then(pl.col("frm_why"))
            .otherwise(pl.lit("missing time"))
        )
        .when(pl.col("start").is_null())
        .then(pl.lit("time window has an end but no start"))
        .when(pl.col("until_why").is_not_null() & (pl.col("until_why") != "missing time"))
        .then(pl.format("window end: {}", pl.col("until_why")))
        .when(pl.col("until").is_not_null() & (pl.col("until") < pl.col("start")))
        .then(pl.lit("time window ends before it starts"))
        .alias("_why_time"),
        pl.coalesce("until", "day_end").alias("until"),
    )
    frame = frame.with_columns(pl.when(pl.col("until") == pl.col("start")).then(None).otherwise("until").alias("until"))
    date_note = _series(
        frame, pl.when(pl.col("day_end").is_not_null() & (pl.col("until") == pl.col("day_end"))).then(pl.lit(DATE_ONLY_NOTE)), "n"
    )

    weight_raw = _text(table, source, "count")
    weight = _number(weight_raw)
    weight_why = pl.select(
        pl.when(
            weight_raw.is_not_null()
            & (weight.is_null() | (weight < 1) | (weight != weight.floor()) | (weight > limit("MAX_REPORTS")))
        ).then(
            pl.format(
                "count must be a positive whole number up to {} (POSTMORTEM_MAX_REPORTS), got '{}'",
                pl.lit(_in_words(limit("MAX_REPORTS"))),
                weight_raw.str.slice(0, 50),
            )
        )
    ).to_series()

    reason, rejects = _verdicts(
        table,
        source,
        [(frame["_why_time"], time_label), (weight_why, _label(source, table, "count"))],
        tally,
        batches=batches,
        ids=("report_id",),
        timed_ids=("user_id", "device_id"),
        times=frame.select("start", "until"),
    )
    del weight_why
    # everything below is row by row: it is built for the kept rows only (the raw table and
    # the parsed times are filtered once, not twenty derived columns)
    kept = pl.DataFrame(
        {
            "start": frame["start"],
            "until": frame["until"],
            "weight": weight,
            "date_note": date_note,
            **{
                name: t.note if t.note is not None else _const(name, None, table.height, pl.String())
                for name, t in (("at_note", at), ("frm_note", frm), ("until_note", until))
            },
        }
    )
    del frame, weight, date_note, at, frm, until
    if reason.null_count() < reason.len():
        ok = reason.is_null()
        table, kept = table.filter(ok), kept.filter(ok)
    del reason

    lat, lon, coord_issue = _coordinates(table, source)
    status, status_issue = _normalise_noted(_text(table, source, "status"), STATUS_SYNONYMS, "status")
    status = status.fill_null("down")
    service, service_issue = _normalise_noted(_text(table, source, "service"), SERVICE_SYNONYMS, "service")
    area_level_raw = _text(table, source, "area_level")
    area_level = _normalise(area_level_raw, AREA_LEVELS)
    level_issue = pl.select(
        pl.when(area_level.is_not_null() & ~area_level.is_in(["municipality", "province", "region", "country"])).then(
            pl.format("unknown area level '{}'", area_level_raw)
        )
    ).to_series()
    area_level = pl.select(pl.when(level_issue.is_null()).then(area_level)).to_series()
    place = pl.select(pl.coalesce(_text(table, source, "place"), _text(table, source, "area"))).to_series()
    url, url_issue = _url(table, source)

    work = pl.DataFrame(
        {
            "_row": table["_row"],
            "_id": _text(table, source, "report_id"),
            "reported_at": kept["start"],
            "reported_until": kept["until"],
            "place_raw": place,
            "postal_code": _postal(table, source),
            "lat": lat,
            "lon": lon,
            "service": service,
            "status": status,
            "text": _text(table, source, "text"),
            "url": url,
            "outlet": _text(table, source, "outlet"),
            "source_ref": _text(table, source, "source_ref"),
            "note": _text(table, source, "note"),
            "area_level": area_level,
            "region_hint": _text(table, source, "region_hint"),
            "weight": kept["weight"].fill_null(1).cast(pl.Int64, strict=False),
            "_issues": _join_notes(
                coord_issue,
                level_issue,
                status_issue,
                service_issue,
                url_issue,
                kept["date_note"],
                kept["at_note"],
                kept["frm_note"],
                kept["until_note"],
            ),
        }
    )
    del table, kept, place, lat, lon, service, status, url, area_level
    # free text is scrubbed only for the rows kept (rejects' raw values are scrubbed apart)
    work = work.with_columns(
        scrub_column(work["place_raw"], names=False),
        scrub_column(work["text"]),
        scrub_column(work["note"]),
        scrub_column(work["outlet"], names=False),
        scrub_column(work["source_ref"], names=False),
        scrub_column(work["region_hint"], names=False),
    )
    return work, rejects


def _finish_reports(work: pl.DataFrame, source: Source) -> pl.DataFrame:
    """Ids (the file's, made unique, else the row number) and the canonical columns, for a whole source."""
    local_id = work.select(pl.coalesce(pl.col("_id"), pl.col("_row").cast(pl.String))).to_series()
    # row numbers are unique: only ids from the file can repeat
    unique = work["_id"].null_count() == work.height or local_id.n_unique() == local_id.len()
    repeated = _const("r", value=False, n=local_id.len(), dtype=pl.Boolean()) if unique else local_id.is_first_distinct().not_()
    ids = pl.select(pl.format("{}:{}", pl.lit(source.name), local_id)).to_series().alias("report_id")
    if not unique:
        ids = _unique_ids(ids)
    work = work.with_columns(
        ids,
        _join_notes(
            work["_issues"],
            pl.select(pl.when(repeated).then(pl.format("report_id '{}' repeated (row differs)", local_id))).to_series(),
        ),
        pl.lit(source.name).alias("source"),
        pl.col("_row").alias("source_row"),
    )
    return work.select([pl.col(c).cast(t) for c, t in REPORT_COLUMNS.items()])


def _restoration_frame(
    table: pl.DataFrame, source: Source, timezone: str, tally: DuplicateTally | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical restoration records (right/interval-censored) and rejects."""
    obs, has_obs = _times(table, source, "observed_at", timezone)
    after, has_after = _times(table, source, "restored_after", timezone)
    before, has_before = _times(table, source, "restored_before", timezone)
    if not (has_obs or has_after or has_before):
        raise IngestError(
            f"{source.path}: restorations need 'observed_at' (with 'restored') or 'restored_after'/'restored_before'"
        )
    restored_raw = _text(table, source, "restored")
    low = restored_raw.str.strip_chars().str.to_lowercase()
    restored = pl.select(
        pl.when(low.is_in(list(TRUE_WORDS))).then(True).when(low.is_in(list(FALSE_WORDS))).then(False)
    ).to_series()
    before_utc = pl.select(pl.coalesce(before.until, before.utc)).to_series()  # "restored before Tuesday" ends with Tuesday
    frame = pl.DataFrame(
        {
            "obs": obs.utc,
            "after": after.utc,
            "before": before_utc,
            "ow": _unusable(obs.reason),
            "aw": _unusable(after.reason),
            "bw": _unusable(before.reason),
            "r": restored,
            "rr": restored_raw,
        }
    )
    labels = {k: _label(source, table, k) for k in ("observed_at", "restored_after", "restored_before", "restored")}
    why = frame.select(
        pl.when(pl.col("obs").is_null() & pl.col("after").is_null() & pl.col("before").is_null())
        .then(
            pl.struct(pl.coalesce("ow", "aw", "bw", pl.lit("missing time")).alias("r"), pl.lit(labels["observed_at"]).alias("c"))
        )
        .when(pl.col("ow").is_not_null())
        .then(pl.struct(pl.format("observed_at: {}", "ow").alias("r"), pl.lit(labels["observed_at"]).alias("c")))
        .when(pl.col("obs").is_not_null() & pl.col("before").is_null() & pl.col("r").is_null() & pl.col("rr").is_not_null())
        .then(
            pl.struct(
                pl.format("restored must be true or false, got '{}'", "rr").alias("r"), pl.lit(labels["restored"]).alias("c")
            )
        )
        .when(pl.col("after").is_not_null() & pl.col("before").is_not_null() & (pl.col("before") < pl.col("after")))
        .then(
            pl.struct(pl.lit("restoration window ends before it starts").alias("r"), pl.lit(labels["restored_before"]).alias("c"))
        )
        .when(pl.col("bw").is_not_null())
        .then(pl.struct(pl.format("restored_before: {}", "bw").alias("r"), pl.lit(labels["restored_before"]).alias("c")))
        .when(pl.col("aw").is_not_null())
        .then(pl.struct(pl.format("restored_after: {}", "aw").alias("r"), pl.lit(labels["restored_after"]).alias("c")))
        .alias("w")
    ).unnest("w")
    lat, lon, coord_issue = _coordinates(table, source)
    service, service_issue = _normalise_noted(_text(table, source, "service"), SERVICE_SYNONYMS, "service")
    obs_date_note = pl.select(
        pl.when(obs.until.is_not_null()).then(pl.lit("observed_at has no time of day: read as local midnight"))
    ).to_series()
    reason, rejects = _verdicts(
        table,
        source,
        [(why["r"], why["c"])],
        tally,
        timed_ids=("customer_id",),
        times=pl.DataFrame({"o": obs.utc, "a": after.utc, "b": before_utc}),
    )
    work = pl.DataFrame(
        {
            "_row": table["_row"],
            "customer_id": _text(table, source, "customer_id"),
            "observed_at": obs.utc,
            # a restoration time observed exactly: restored=True at observed_at; default when no flag: restored
            "restored": pl.select(pl.coalesce(restored, pl.when(obs.utc.is_not_null()).then(True))).to_series(),
            "restored_after": after.utc,
            "restored_before": before_utc,
            "place_raw": _text(table, source, "place"),
            "postal_code": _postal(table, source),
            "lat": lat,
            "lon": lon,
            "region_hint": _text(table, source, "region_hint"),
            "service": service,
            "text": _text(table, source, "text"),
            "issues": _join_notes(coord_issue, service_issue, obs_date_note, obs.note, after.note, before.note),
        }
    ).filter(reason.is_null())
    work = work.with_columns(
        scrub_column(work["customer_id"], names=False),
        scrub_column(work["place_raw"], names=False),
        scrub_column(work["region_hint"], names=False),
        scrub_column(work["text"]),
    )
    local_id = work.select(pl.coalesce("customer_id", pl.col("_row").cast(pl.String))).to_series()
    ids = _unique_ids(pl.select(pl.format("{}:{}", pl.lit(source.name), local_id)).to_series().alias("record_id"))
    work = work.with_columns(ids, pl.lit(source.name).alias("source"), pl.col("_row").alias("source_row"))
    return work.select([pl.col(c).cast(t) for c, t in RESTORATION_COLUMNS.items()]), rejects


def _online_frame(
    table: pl.DataFrame, source: Source, timezone: str, tally: DuplicateTally | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical online-fraction series and rejects (bad values are rejected, not clipped)."""
    obs, has_obs = _times(table, source, "observed_at", timezone)
    if not has_obs:
        raise IngestError(f"{source.path}: an online_fraction source needs an 'observed_at' column")
    frac_raw, online_raw, total_raw, out_raw = (_text(table, source, c) for c in ("online_fraction", "online", "total", "out"))
    if frac_raw.is_null().all() and online_raw.is_null().all() and out_raw.is_null().all() and table.height:
        raise IngestError(f"{source.path}: an online_fraction source needs 'online_fraction', 'online' (with 'total') or 'out'")
    # "95%" and "95 %" are fractions too
    percent = frac_raw.str.contains(r"%\s*$").fill_null(False)
    frac = _number(frac_raw.str.replace(r"\s*%\s*$", ""))
    if percent.any():
        # divided per distinct value in Python: polars' division by 100 is off by an ulp (95% → 0.9500000000000001)
        pct = frac.filter(percent)
        mapping = {v: v / 100 for v in pct.drop_nulls().unique().to_list()}
        frac = frac.scatter(percent.arg_true(), pct.replace_strict(mapping, default=None, return_dtype=pl.Float64))
    online, total, out = (_number(s) for s in (online_raw, total_raw, out_raw))
    frame = pl.DataFrame(
        {
            "f": frac,
            "on": online,
            "tot": total,
            "out": out,
            "fr": frac_raw,
            "onr": online_raw,
            "totr": total_raw,
            "outr": out_raw,
            "ow": obs.reason,
        }
    )
    labels = {k: _label(source, table, k) for k in ("observed_at", "online_fraction", "online", "total", "out")}

    def reason(text: pl.Expr, column: str) -> pl.Expr:
        return pl.struct(text.alias("r"), pl.lit(column).alias("c"))

    why = frame.select(
        pl.when(pl.col("ow").is_not_null())
        .then(reason(pl.col("ow"), labels["observed_at"]))
        .when(pl.col("fr").is_not_null() & pl.col("f").is_null())
        .then(reason(pl.format("online_fraction unreadable: '{}'", "fr"), labels["online_fraction"]))
        .when(pl.col("f").is_not_null() & ~pl.col("f").is_between(0, 1))
        .then(reason(pl.format("online_fraction {} is outside 0–1", "fr"), labels["online_fraction"]))
        .when(pl.col("onr").is_not_null() & pl.col("on").is_null())
        .then(reason(pl.format("online count unreadable: '{}'", "onr"), labels["online"]))
        .when(pl.col("outr").is_not_null() & pl.col("out").is_null())
        .then(reason(pl.format("out count unreadable: '{}'", "outr"), labels["out"]))
        .when(pl.col("totr").is_not_null() & pl.col("tot").is_null())
        .then(reason(pl.format("total unreadable: '{}'", "totr"), labels["total"]))
        .when(
            (pl.col("on") < 0)
            | (pl.col("out") < 0)
            | (pl.col("tot") <= 0)
            | ~pl.all_horizontal(pl.col("on", "out", "tot").is_finite().fill_null(True))
        )
        .then(reason(pl.lit("negative or infinite count, or non-positive total"), labels["total"]))
        .when(pl.col("f").is_null() & pl.col("on").is_not_null() & pl.col("tot").is_null())
        .then(reason(pl.lit("online count given without a total"), labels["total"]))
        .when(pl.col("f").is_null() & pl.col("on").is_null() & pl.col("out").is_null())
        .then(reason(pl.lit("no value (online_fraction, online or out) in this row"), labels["online_fraction"]))
        .alias("w")
    ).unnest("w")
    derived = frame.select(
        pl.coalesce(
            "f",
            pl.when(pl.col("tot") > 0).then(pl.col("on") / pl.col("tot")),
            pl.when(pl.col("tot") > 0).then(1 - pl.col("out") / pl.col("tot")),
        ).alias("online_fraction"),
        pl.when((pl.col("on") > pl.col("tot")) | (pl.col("out") > pl.col("tot")))
        .then(pl.lit("count exceeds total (total may be stale)"))
        .alias("issues"),
    )
    lat, lon, coord_issue = _coordinates(table, source)
    service, service_issue = _normalise_noted(_text(table, source, "service"), SERVICE_SYNONYMS, "service")
    why_reason, rejects = _verdicts(table, source, [(why["r"], why["c"])], tally)
    work = pl.DataFrame(
        {
            "_row": table["_row"],
            "observed_at": obs.utc,
            "online_fraction": derived["online_fraction"],
            "online": online,
            "total": total,
            "out": out,
            "area": _text(table, source, "area"),
            "place_raw": _text(table, source, "place"),
            "postal_code": _postal(table, source),
            "lat": lat,
            "lon": lon,
            "region_hint": _text(table, source, "region_hint"),
            "service": service,
            "issues": _join_notes(derived["issues"], coord_issue, service_issue, obs.note),
        }
    ).filter(why_reason.is_null())
    work = work.with_columns(
        scrub_column(work["area"], names=False),
        scrub_column(work["place_raw"], names=False),
        scrub_column(work["region_hint"], names=False),
        pl.lit(source.name).alias("source"),
        pl.col("_row").alias("source_row"),
    )
    return work.select([pl.col(c).cast(t) for c, t in ONLINE_COLUMNS.items()]), rejects


_BUILDERS: Mapping[str, Callable[[pl.DataFrame, Source, str, DuplicateTally | None], tuple[pl.DataFrame, pl.DataFrame]]] = {
    "down_reports": _report_frame,
    "restorations": _restoration_frame,
    "online_fraction": _online_frame,
}


def canonicalize(
    raw: RawTable, source: Source, *, timezone: str, tally: DuplicateTally | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Turn a raw table into canonical records and rejects (reader rejects included).

    ``tally``, when given, receives the source's duplicate accounting (identical rows, how
    many were kept, how many rejected as duplicates).

    Raises
    ------
    IngestError
        A mapped column is absent, no time column exists, or ``time_format`` is unusable.
    """
    records, rejects = _BUILDERS[source.kind](raw.table, source, timezone, tally)
    # the reader's rejects carry raw text that was never split into fields: scrub it here
    reader_rejects = raw.rejects.cast(REJECT_SCHEMA)  # type: ignore[arg-type]
    if reader_rejects.height:
        reader_rejects = reader_rejects.with_columns(
            pl.Series("raw", [_scrub_raw(r) for r in reader_rejects["raw"].to_list()], dtype=pl.String)
        )
    rejects = pl.concat([reader_rejects, rejects], how="vertical")
    records, rejects = bounded(records, rejects, source)
    if records.height + rejects.height != raw.n_raw:
        raise AssertionError(f"{source.path}: {raw.n_raw} rows in, {records.height} kept + {rejects.height} rejected")
    return records, rejects


def _in_words(n: float) -> str:
    """A large limit in words (``20 million``): digit runs in a reason would be scrubbed as phone numbers."""
    return f"{n / 1e6:g} million" if n >= 1e6 else f"{n:g}"


#: The time column a source's rows are placed by, per kind (the others are checked as well).
_MAIN_TIME = {"down_reports": "reported_at", "restorations": "observed_at", "online_fraction": "observed_at"}


def bounded(records: pl.DataFrame, rejects: pl.DataFrame, source: Source) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hold a source's kept rows to the documented limits (docs/security.md); rejects sorted by row.

    * A row with a time more than ``POSTMORTEM_MAX_SPAN_DAYS`` from the median time of its
      source is rejected as an outlier, when fewer than half the rows are (one report dated
      2081 among 2018 ones is a typo; kept, it would stretch the analysed span to 63 years).
    * Reports whose ``count`` adds up to more than ``POSTMORTEM_MAX_REPORTS`` are refused:
      every report is a unit of work, whatever number a cell says.

    Raises
    ------
    IngestError
        The counts of the source add up to more than the limit.
    """
    times = [c for c, t in records.schema.items() if t == UTC_DTYPE]
    main = _MAIN_TIME[source.kind]
    if records.height and times:
        anchor = pl.coalesce([pl.col(main), *[pl.col(c) for c in times if c != main]]) if main in times else pl.col(times[0])
        median = records.select(anchor.to_physical().median()).item()
        if median is not None:
            span_us = int(limit("MAX_SPAN_DAYS") * 86400 * 1_000_000)
            far = pl.any_horizontal([(pl.col(c).to_physical() - int(median)).abs() > span_us for c in times]).fill_null(False)
            flagged = records.with_columns(far.alias("_far")).filter("_far")
            if flagged.height and 2 * flagged.height < records.height:  # outliers only when most rows agree
                center = pl.lit(int(median)).cast(pl.Datetime("us", "UTC")).dt.strftime("%Y-%m-%d")
                first_far = pl.coalesce(
                    [pl.when((pl.col(c).to_physical() - int(median)).abs() > span_us).then(pl.col(c)) for c in times]
                )
                days = ((first_far.to_physical() - int(median)).abs() // 86_400_000_000).cast(pl.Int64)
                extra = flagged.select(
                    pl.lit(source.name).alias("source"),
                    pl.col("source_row").cast(pl.Int64).alias("row"),
                    pl.lit(source.columns.get(main, main)).alias("column"),
                    pl.format(
                        "time {} is {} days from the median time of this source ({}): an outlier (a typo?); "
                        "limit POSTMORTEM_MAX_SPAN_DAYS = {}",
                        first_far.dt.strftime("%Y-%m-%d %H:%M"),
                        days,
                        center,
                        pl.lit(f"{limit('MAX_SPAN_DAYS'):g}"),
                    ).alias("reason"),
                    pl.format('{{"time": "{}"}}', first_far.dt.strftime("%Y-%m-%dT%H:%M:%SZ")).alias("raw"),
                ).cast(REJECT_SCHEMA)  # type: ignore[arg-type]
                records = records.filter(~far)
                rejects = pl.concat([rejects, extra], how="vertical")
    # values quoted in notes and reasons (an unknown service, an unreadable time, a header
    # name) and the words kept as written go through the same scrubbing as every label
    records = records.with_columns(
        scrub_labels(records[c], 1000 if c == "issues" else 200)
        for c in ("service", "status", "area_level", "issues")
        if c in records.columns
    )
    rejects = rejects.with_columns(scrub_labels(rejects["reason"], 300), scrub_labels(rejects["column"]))
    if "weight" in records.columns and records.height:
        total = int(records["weight"].fill_null(1).sum())
        if total > (most := int(limit("MAX_REPORTS"))):
            raise IngestError(
                f"{source.path}: the counts of source '{source.name}' add up to {total:,} reports, more than "
                f"{most:,} (limit POSTMORTEM_MAX_REPORTS; see docs/security.md)"
            )
    return records, rejects.sort("row")


@dataclass(frozen=True)
class SourceRead:
    """One source read into canonical records, with its rejects and how it was read."""

    records: pl.DataFrame
    rejects: pl.DataFrame
    n_raw: int
    encoding: str | None
    delimiter: str | None
    tally: DuplicateTally


def _read_whole(source: Source, timezone: str) -> SourceRead:
    raw = read_source(source)
    tally = DuplicateTally()
    records, rejects = canonicalize(raw, source, timezone=timezone, tally=tally)
    return SourceRead(compact_constants(records), rejects, raw.n_raw, raw.encoding, raw.delimiter, tally)


def _column_votes(stream: CsvStream, source: Source) -> dict[str, bool]:
    """Each report time column's day/month order, voted by the whole column as one read would."""
    if source.time_format is not None:
        return {}  # a given format decides the order
    exprs = _report_time_text(stream.lazy, source)
    tallies = pl.collect_all(
        [stream.lazy.group_by(e.alias("v")).agg(pl.len().alias("n")) for e in exprs.values()], engine="streaming"
    )
    return {key: column_month_first(c["v"], c["n"]) for key, c in zip(exprs, tallies, strict=True)}


def _read_batched(source: Source, timezone: str, *, batch_rows: int, min_bytes: int) -> SourceRead | None:
    """Down reports of a large CSV file read ``batch_rows`` at a time; None when it must be read whole.

    The result is the same as reading the file at once (the time columns' day/month order is
    voted by the whole column; rows and ids repeating those of earlier batches are found), but memory
    holds one batch of raw text and its intermediate columns instead of the whole file's.
    """
    stream = open_csv_stream(source, min_bytes=min_bytes)
    if stream is None:
        return None
    works: list[pl.DataFrame] = []
    rejects: list[pl.DataFrame] = []
    n_raw = 0
    tally = DuplicateTally()
    try:
        batches = Batches(_column_votes(stream, source))
        for table in stream.batches(batch_rows):
            work, rej = _report_work(table, source, timezone, batches, tally)
            works.append(compact_constants(work))
            rejects.append(rej)
            n_raw += table.height
    except pl.exceptions.ComputeError:
        return None  # a row the fast reader cannot split, or bytes that are not UTF-8: read whole
    del batches
    if not works:
        return None  # no rows: the whole-file reader says what the file holds
    records = compact_constants(_finish_reports(pl.concat(works, how="vertical", rechunk=False), source))
    del works
    records, rejected = bounded(records, pl.concat(rejects, how="vertical"), source)
    if records.height + rejected.height != n_raw:
        raise AssertionError(f"{source.path}: {n_raw} rows in, {records.height} kept + {rejected.height} rejected")
    return SourceRead(records, rejected, n_raw, stream.encoding, stream.delimiter, tally)


def with_file(rejects: pl.DataFrame, name: str) -> pl.DataFrame:
    """Rejects with their ``file`` (relative to the incident folder), when they do not name it yet."""
    if "file" in rejects.columns:
        return rejects
    return rejects.with_columns(pl.lit(name, pl.String).alias("file"))


def compact_constants(df: pl.DataFrame) -> pl.DataFrame:
    """The same table with each column holding a single value (or only nulls) stored once.

    A text column costs 16 bytes a row even when every row is null (an unused optional
    column: url, outlet, note...); stored as one value it costs nothing, and filters,
    sorts, joins and parquet files see the same column.
    """
    same = []
    for name, dtype in df.schema.items():
        s = df.get_column(name)
        if s.len() < 2:
            continue
        nulls = s.null_count()
        if nulls == s.len():
            same.append(pl.lit(None, dtype).alias(name))
        elif nulls == 0 and (dtype == pl.String or dtype.is_numeric() or dtype.is_temporal()) and bool((s == s[0]).all()):
            same.append(pl.lit(s[0], dtype).alias(name))
    return df.with_columns(same) if same else df


def sort_columnwise(df: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """``df.sort(by)`` (stable), one column at a time: memory grows by one column, not by the table.

    A sort builds the sorted copy of every column before the unsorted table can go; here
    the order is computed once and each column is replaced by its sorted copy in turn,
    the unsorted one freed as soon as nothing else holds it.
    """
    if df.height < 2:
        return df
    order = df.select(pl.arg_sort_by(by, maintain_order=True)).to_series()
    if bool((order.diff().drop_nulls() == 1).all()):
        return df  # already in order: nothing to copy
    names = df.columns
    done: list[pl.Series] = []
    rest = df
    del df
    for name in names:
        column = rest.get_column(name)
        # a column of one value is the same in any order (and stays stored once)
        done.append(column if column.null_count() == column.len() else column.gather(order))
        rest = rest.drop(name)
    return pl.DataFrame(done)
