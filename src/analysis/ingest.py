"""Sources → canonical tables (reports, restorations, online series) + rejects, losing nothing.

For each source the file is read as text (:mod:`analysis.readers`), the columns named in
``[sources.columns]`` (or present under their canonical name) are mapped, times are parsed
into UTC (:mod:`analysis.timeparse`), free text is scrubbed of personal data
(:mod:`analysis.privacy`), and every row that cannot become a record goes to the rejects
table with its source, row, raw values and a reason a person understands.

Invariant, checked before anything is returned: for every source,
``raw rows = accepted rows + rejected rows``.

Duplicate policy: a row identical in every raw field to an earlier row of the same source
is rejected as "duplicate of row N". Rows that share a ``report_id`` but differ in content
are both kept (the later one's id gets a ``#2`` suffix and an ``issues`` note).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analysis.config import Incident, Source, processed_dir
from analysis.errors import IngestError
from analysis.privacy import scrub_column
from analysis.readers import REJECT_SCHEMA, RawTable, empty_rejects, read_source
from analysis.timeparse import UTC_DTYPE, parse_times

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


def _column_for(table: pl.DataFrame, source: Source, canonical: str) -> str | None:
    """The file column holding ``canonical``: the mapped one, else one named like it."""
    mapped = source.columns.get(canonical)
    names = [c for c in table.columns if c != "_row"]
    if mapped is not None:
        if mapped in names:
            return mapped
        folded = {c.strip().lower(): c for c in names}
        if mapped.strip().lower() in folded:
            return folded[mapped.strip().lower()]
        raise IngestError(
            f"{source.path}: column '{mapped}' (mapped to '{canonical}' in [sources.columns]) not found; "
            f"the file has: {', '.join(names[:30])}"
        )
    folded = {c.strip().lower(): c for c in names}
    return folded.get(canonical)


def _text(table: pl.DataFrame, source: Source, canonical: str) -> pl.Series:
    """A canonical text column: the file's, else the source's default, else nulls."""
    name = _column_for(table, source, canonical)
    if name is not None:
        s = table[name].cast(pl.String).str.strip_chars()
        s = s.replace("", None)
        if canonical in source.defaults:
            s = s.fill_null(str(source.defaults[canonical]))
        return s.alias(canonical)
    if canonical in source.defaults:
        return pl.Series(canonical, [str(source.defaults[canonical])] * table.height, dtype=pl.String)
    return pl.Series(canonical, [None] * table.height, dtype=pl.String)


def _has(table: pl.DataFrame, source: Source, canonical: str) -> bool:
    return _column_for(table, source, canonical) is not None or canonical in source.defaults


def _number(s: pl.Series) -> pl.Series:
    """Parse numbers written with a decimal point or a decimal comma."""
    if s.dtype.is_numeric():
        return s.cast(pl.Float64)
    return s.str.replace_all(r"\s", "").str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)


def _normalise(s: pl.Series, synonyms: Mapping[str, str]) -> pl.Series:
    low = s.str.strip_chars().str.to_lowercase()
    uniques = list(low.drop_nulls().unique().to_list())
    mapping = {u: synonyms.get(u, synonyms.get(u.replace("_", " "), u)) for u in uniques}
    return low.replace_strict(mapping, default=None, return_dtype=pl.String) if mapping else low


def _raw_json(table: pl.DataFrame) -> pl.Series:
    """The raw values of every row as one JSON object string (for rejects)."""
    cols = [c for c in table.columns if c != "_row"]
    if not cols:
        return pl.Series("raw", ["{}"] * table.height, dtype=pl.String)
    return table.select(pl.struct([pl.col(c).cast(pl.String) for c in cols]).struct.json_encode().alias("raw")).to_series()


def _join_issues(*parts: pl.Series) -> pl.Series:
    frame = pl.DataFrame({f"p{i}": p for i, p in enumerate(parts)})
    return frame.select(pl.concat_str(pl.all(), separator="; ", ignore_nulls=True).replace("", None).alias("issues")).to_series()


def _first_reason(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Add ``_reason``/``_reason_col``: the first non-null reason among ``columns``."""
    exprs = [pl.col(c) for c in columns]
    col_exprs = [pl.when(pl.col(c).is_not_null()).then(pl.lit(c.removeprefix("_why_"))) for c in columns]
    return frame.with_columns(pl.coalesce(exprs).alias("_reason"), pl.coalesce(col_exprs).alias("_reason_col"))


def _duplicate_reasons(table: pl.DataFrame) -> pl.Series:
    """For each row: ``duplicate of row N`` if an earlier row has identical raw values, else null."""
    cols = [c for c in table.columns if c != "_row"]
    if not cols or table.height == 0:
        return pl.Series("dup", [None] * table.height, dtype=pl.String)
    keyed = table.select("_row", pl.struct([pl.col(c) for c in cols]).hash(seed=7).alias("_h"))
    first = keyed.group_by("_h").agg(pl.col("_row").min().alias("_first"))
    joined = keyed.join(first, on="_h", how="left", maintain_order="left")
    return joined.select(
        pl.when(pl.col("_row") != pl.col("_first")).then(pl.format("duplicate of row {}", pl.col("_first"))).alias("dup")
    ).to_series()


def _geo_columns_missing(df: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in GEO_COLUMNS if c not in df.columns]
    return df.with_columns([pl.lit(None, dtype=pl.Float64 if c == "geo_score" else pl.String).alias(c) for c in missing])


# --------------------------------------------------------------------------- per kind


def _times(table: pl.DataFrame, source: Source, canonical: str, timezone: str) -> tuple[pl.Series, pl.Series, bool]:
    """Parsed UTC times for a canonical time column, failure reasons, and whether it exists."""
    name = _column_for(table, source, canonical)
    if name is None and canonical not in source.defaults:
        return (
            pl.Series(canonical, [None] * table.height, dtype=UTC_DTYPE),
            pl.Series(canonical, [None] * table.height, dtype=pl.String),
            False,
        )
    raw = table[name] if name is not None else _text(table, source, canonical)
    parsed = parse_times(raw, timezone=source.timezone or timezone, time_format=source.time_format, ambiguous=source.ambiguous)
    return parsed.utc.alias(canonical), parsed.reason.alias(canonical), True


def _report_frame(table: pl.DataFrame, source: Source, timezone: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical down reports from one source, and the rows rejected with reasons."""
    at, at_why, has_at = _times(table, source, "reported_at", timezone)
    frm, frm_why, has_from = _times(table, source, "reported_from", timezone)
    until, until_why, _has_until = _times(table, source, "reported_until", timezone)
    if not (has_at or has_from) and _has(table, source, "date"):
        date = _text(table, source, "date")
        clock = _text(table, source, "time")
        combined = pl.select(pl.concat_str([date, clock], separator=" ", ignore_nulls=True)).to_series().alias("reported_at")
        parsed = parse_times(
            combined, timezone=source.timezone or timezone, time_format=source.time_format, ambiguous=source.ambiguous
        )
        at, at_why, has_at = parsed.utc.alias("reported_at"), parsed.reason, True
    if not (has_at or has_from):
        raise IngestError(
            f"{source.path}: no time column: map 'reported_at' (or 'reported_from'/'reported_until', or 'date' and 'time') "
            f"in [sources.columns]; the file has: {', '.join(c for c in table.columns if c != '_row')}"
        )
    frame = pl.DataFrame({"at": at, "frm": frm, "until": until, "at_why": at_why, "frm_why": frm_why, "until_why": until_why})
    frame = frame.with_columns(
        # a point time wins; a window is [reported_from or reported_at, reported_until]
        pl.when(pl.col("until").is_not_null()).then(pl.coalesce("frm", "at")).otherwise(pl.coalesce("at", "frm")).alias("start"),
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
        pl.when(pl.col("until").is_not_null() & (pl.col("until") == pl.col("start")))
        .then(None)
        .otherwise(pl.col("until"))
        .alias("until"),
    )

    weight_raw = _text(table, source, "count")
    weight = _number(weight_raw)
    weight_why = pl.select(
        pl.when(weight_raw.is_not_null() & (weight.is_null() | (weight < 1) | (weight != weight.floor()))).then(
            pl.format("count must be a positive whole number, got '{}'", weight_raw)
        )
    ).to_series()

    lat_raw, lon_raw = _text(table, source, "lat"), _text(table, source, "lon")
    lat, lon = _number(lat_raw), _number(lon_raw)
    bad_coord = (lat.is_not_null() & ((lat < -90) | (lat > 90))) | (lon.is_not_null() & ((lon < -180) | (lon > 180)))
    coord_issue = pl.select(
        pl.when(bad_coord)
        .then(pl.format("coordinates ({}, {}) out of range, ignored", lat_raw, lon_raw))
        .when((lat_raw.is_not_null() & lat.is_null()) | (lon_raw.is_not_null() & lon.is_null()))
        .then(pl.format("coordinates ({}, {}) unreadable, ignored", lat_raw, lon_raw))
    ).to_series()
    keep_coord = ~bad_coord.fill_null(False) & lat.is_not_null() & lon.is_not_null()
    lat = pl.select(pl.when(keep_coord).then(lat)).to_series()
    lon = pl.select(pl.when(keep_coord).then(lon)).to_series()

    status_raw = _text(table, source, "status")
    status = _normalise(status_raw, STATUS_SYNONYMS).fill_null("down")
    service = _normalise(_text(table, source, "service"), SERVICE_SYNONYMS)
    area_level_raw = _text(table, source, "area_level")
    area_level = _normalise(area_level_raw, AREA_LEVELS)
    level_issue = pl.select(
        pl.when(area_level.is_not_null() & ~area_level.is_in(["municipality", "province", "region", "country"])).then(
            pl.format("unknown area level '{}'", area_level_raw)
        )
    ).to_series()
    area_level = pl.select(pl.when(level_issue.is_null()).then(area_level)).to_series()
    place = _text(table, source, "place")
    area = _text(table, source, "area")
    place = pl.select(pl.coalesce(place, area)).to_series()

    ids_raw = _text(table, source, "report_id")
    dup = _duplicate_reasons(table)

    work = pl.DataFrame(
        {
            "_row": table["_row"],
            "_id": ids_raw,
            "reported_at": frame["start"],
            "reported_until": frame["until"],
            "place_raw": scrub_column(place, names=False),
            "postal_code": _text(table, source, "postal_code").str.extract(r"(\d{4})"),
            "lat": lat,
            "lon": lon,
            "service": service,
            "status": status,
            "text": scrub_column(_text(table, source, "text")),
            "url": _text(table, source, "url"),
            "outlet": _text(table, source, "outlet"),
            "source_ref": _text(table, source, "source_ref"),
            "note": scrub_column(_text(table, source, "note")),
            "area_level": area_level,
            "region_hint": _text(table, source, "region_hint"),
            "weight": weight.fill_null(1).cast(pl.Int64, strict=False),
            "_issue_coord": coord_issue,
            "_issue_level": level_issue,
            "_why_dup": dup,
            "_why_time": frame["_why_time"],
            "_why_count": weight_why,
        }
    )
    work = _first_reason(work, ["_why_dup", "_why_time", "_why_count"])
    raw = _raw_json(table)
    rejected = work.with_columns(raw).filter(pl.col("_reason").is_not_null())
    rejects = rejected.select(
        pl.lit(source.name).alias("source"),
        pl.col("_row").alias("row"),
        pl.col("_reason_col").replace({"time": _time_column_label(source), "dup": None, "count": "count"}).alias("column"),
        pl.col("_reason").alias("reason"),
        pl.col("raw"),
    )
    ok = work.filter(pl.col("_reason").is_null())
    # ids: the file's when given (made unique), else source:row
    ok = ok.with_columns(pl.coalesce(pl.col("_id"), pl.col("_row").cast(pl.String)).alias("_id"))
    ok = ok.with_columns(pl.int_range(pl.len()).over("_id").alias("_dupid"))
    ok = ok.with_columns(
        pl.when(pl.col("_dupid") > 0)
        .then(pl.format("{}:{}#{}", pl.lit(source.name), pl.col("_id"), pl.col("_dupid") + 1))
        .otherwise(pl.format("{}:{}", pl.lit(source.name), pl.col("_id")))
        .alias("report_id"),
        pl.when(pl.col("_dupid") > 0).then(pl.format("report_id '{}' repeated (row differs)", pl.col("_id"))).alias("_issue_id"),
    )
    ok = ok.with_columns(
        pl.concat_str(["_issue_coord", "_issue_level", "_issue_id"], separator="; ", ignore_nulls=True)
        .replace("", None)
        .alias("issues"),
        pl.lit(source.name).alias("source"),
        pl.col("_row").alias("source_row"),
    )
    reports = ok.select([pl.col(c).cast(t) for c, t in REPORT_COLUMNS.items()])
    return reports, rejects.cast(REJECT_SCHEMA)  # type: ignore[arg-type]


def _time_column_label(source: Source) -> str:
    for c in ("reported_at", "reported_from", "date"):
        if c in source.columns:
            return source.columns[c]
    return "reported_at"


def _restoration_frame(table: pl.DataFrame, source: Source, timezone: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical restoration records (right/interval-censored) and rejects."""
    obs, obs_why, has_obs = _times(table, source, "observed_at", timezone)
    after, after_why, has_after = _times(table, source, "restored_after", timezone)
    before, before_why, has_before = _times(table, source, "restored_before", timezone)
    if not (has_obs or has_after or has_before):
        raise IngestError(
            f"{source.path}: restorations need 'observed_at' (with 'restored') or 'restored_after'/'restored_before'"
        )
    restored_raw = _text(table, source, "restored")
    low = restored_raw.str.strip_chars().str.to_lowercase()
    restored = pl.select(
        pl.when(low.is_in(list(TRUE_WORDS))).then(True).when(low.is_in(list(FALSE_WORDS))).then(False)
    ).to_series()
    frame = pl.DataFrame(
        {
            "obs": obs,
            "after": after,
            "before": before,
            "ow": obs_why,
            "aw": after_why,
            "bw": before_why,
            "r": restored,
            "rr": restored_raw,
        }
    )
    why = frame.select(
        pl.when(pl.col("obs").is_null() & pl.col("after").is_null() & pl.col("before").is_null())
        .then(pl.coalesce(pl.when(pl.col("ow") != "missing time").then("ow"), pl.lit("missing time")))
        .when(pl.col("obs").is_not_null() & pl.col("before").is_null() & pl.col("r").is_null() & pl.col("rr").is_not_null())
        .then(pl.format("restored must be true or false, got '{}'", pl.col("rr")))
        .when(pl.col("after").is_not_null() & pl.col("before").is_not_null() & (pl.col("before") < pl.col("after")))
        .then(pl.lit("restoration window ends before it starts"))
        .when(pl.col("bw").is_not_null() & (pl.col("bw") != "missing time"))
        .then(pl.format("restored_before: {}", pl.col("bw")))
        .when(pl.col("aw").is_not_null() & (pl.col("aw") != "missing time"))
        .then(pl.format("restored_after: {}", pl.col("aw")))
        .alias("w")
    ).to_series()
    lat, lon = _number(_text(table, source, "lat")), _number(_text(table, source, "lon"))
    ok_coord = lat.is_between(-90, 90) & lon.is_between(-180, 180)
    work = pl.DataFrame(
        {
            "_row": table["_row"],
            "customer_id": _text(table, source, "customer_id"),
            "observed_at": obs,
            # a restoration time observed exactly: restored=True at observed_at; default when no flag: restored
            "restored": pl.select(pl.coalesce(restored, pl.when(obs.is_not_null()).then(True))).to_series(),
            "restored_after": after,
            "restored_before": before,
            "place_raw": scrub_column(_text(table, source, "place"), names=False),
            "postal_code": _text(table, source, "postal_code").str.extract(r"(\d{4})"),
            "lat": pl.select(pl.when(ok_coord).then(lat)).to_series(),
            "lon": pl.select(pl.when(ok_coord).then(lon)).to_series(),
            "region_hint": _text(table, source, "region_hint"),
            "service": _normalise(_text(table, source, "service"), SERVICE_SYNONYMS),
            "text": scrub_column(_text(table, source, "text")),
            "_why_dup": _duplicate_reasons(table),
            "_why_time": why,
        }
    )
    work = _first_reason(work, ["_why_dup", "_why_time"])
    rejects = (
        work.with_columns(_raw_json(table))
        .filter(pl.col("_reason").is_not_null())
        .select(
            pl.lit(source.name).alias("source"),
            pl.col("_row").alias("row"),
            pl.lit(None, pl.String).alias("column"),
            pl.col("_reason").alias("reason"),
            "raw",
        )
    )
    ok = work.filter(pl.col("_reason").is_null()).with_columns(
        pl.format("{}:{}", pl.lit(source.name), pl.coalesce("customer_id", pl.col("_row").cast(pl.String))).alias("record_id"),
        pl.lit(source.name).alias("source"),
        pl.col("_row").alias("source_row"),
        pl.lit(None, pl.String).alias("issues"),
    )
    ok = ok.with_columns(
        pl.when(pl.int_range(pl.len()).over("record_id") > 0)
        .then(pl.format("{}#{}", "record_id", pl.int_range(pl.len()).over("record_id") + 1))
        .otherwise("record_id")
        .alias("record_id")
    )
    return ok.select([pl.col(c).cast(t) for c, t in RESTORATION_COLUMNS.items()]), rejects.cast(REJECT_SCHEMA)  # type: ignore[arg-type]


def _online_frame(table: pl.DataFrame, source: Source, timezone: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical online-fraction series and rejects (bad values are rejected, not clipped)."""
    obs, obs_why, has_obs = _times(table, source, "observed_at", timezone)
    if not has_obs:
        raise IngestError(f"{source.path}: an online_fraction source needs an 'observed_at' column")
    frac_raw, online_raw, total_raw, out_raw = (_text(table, source, c) for c in ("online_fraction", "online", "total", "out"))
    if frac_raw.is_null().all() and online_raw.is_null().all() and out_raw.is_null().all():
        raise IngestError(f"{source.path}: an online_fraction source needs 'online_fraction', 'online' (with 'total') or 'out'")
    frac, online, total, out = (_number(s) for s in (frac_raw, online_raw, total_raw, out_raw))
    frame = pl.DataFrame(
        {"f": frac, "on": online, "tot": total, "out": out, "fr": frac_raw, "onr": online_raw, "outr": out_raw, "ow": obs_why}
    )
    why = frame.select(
        pl.when(pl.col("ow").is_not_null())
        .then("ow")
        .when(pl.col("fr").is_not_null() & pl.col("f").is_null())
        .then(pl.format("online_fraction unreadable: '{}'", "fr"))
        .when(pl.col("f").is_not_null() & ~pl.col("f").is_between(0, 1))
        .then(pl.format("online_fraction {} is outside 0–1", "f"))
        .when(pl.col("onr").is_not_null() & pl.col("on").is_null())
        .then(pl.format("online count unreadable: '{}'", "onr"))
        .when(pl.col("outr").is_not_null() & pl.col("out").is_null())
        .then(pl.format("out count unreadable: '{}'", "outr"))
        .when((pl.col("on") < 0) | (pl.col("out") < 0) | (pl.col("tot") <= 0))
        .then(pl.lit("negative count or non-positive total"))
        .when(pl.col("f").is_null() & pl.col("on").is_null() & pl.col("out").is_null())
        .then(pl.lit("no value (online_fraction, online or out) in this row"))
        .alias("w")
    ).to_series()
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
    work = pl.DataFrame(
        {
            "_row": table["_row"],
            "observed_at": obs,
            "online_fraction": derived["online_fraction"],
            "online": online,
            "total": total,
            "out": out,
            "area": _text(table, source, "area"),
            "place_raw": _text(table, source, "place"),
            "postal_code": _text(table, source, "postal_code").str.extract(r"(\d{4})"),
            "lat": _number(_text(table, source, "lat")),
            "lon": _number(_text(table, source, "lon")),
            "region_hint": _text(table, source, "region_hint"),
            "service": _normalise(_text(table, source, "service"), SERVICE_SYNONYMS),
            "issues": derived["issues"],
            "_why_dup": _duplicate_reasons(table),
            "_why_time": why,
        }
    )
    work = _first_reason(work, ["_why_dup", "_why_time"])
    rejects = (
        work.with_columns(_raw_json(table))
        .filter(pl.col("_reason").is_not_null())
        .select(
            pl.lit(source.name).alias("source"),
            pl.col("_row").alias("row"),
            pl.lit(None, pl.String).alias("column"),
            pl.col("_reason").alias("reason"),
            "raw",
        )
    )
    ok = work.filter(pl.col("_reason").is_null()).with_columns(
        pl.lit(source.name).alias("source"), pl.col("_row").alias("source_row")
    )
    return ok.select([pl.col(c).cast(t) for c, t in ONLINE_COLUMNS.items()]), rejects.cast(REJECT_SCHEMA)  # type: ignore[arg-type]


_BUILDERS: Mapping[str, Callable[[pl.DataFrame, Source, str], tuple[pl.DataFrame, pl.DataFrame]]] = {
    "down_reports": _report_frame,
    "restorations": _restoration_frame,
    "online_fraction": _online_frame,
}


def canonicalize(raw: RawTable, source: Source, *, timezone: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Turn a raw table into canonical records and rejects (reader rejects included)."""
    records, rejects = _BUILDERS[source.kind](raw.table, source, timezone)
    rejects = pl.concat([raw.rejects.cast(REJECT_SCHEMA), rejects], how="vertical").sort("row")  # type: ignore[arg-type]
    # the raw values are processed data too: no personal data may be written with them
    rejects = rejects.with_columns(scrub_column(rejects["raw"]).alias("raw"))
    if records.height + rejects.height != raw.n_raw:
        raise AssertionError(f"{source.path}: {raw.n_raw} rows in, {records.height} kept + {rejects.height} rejected")
    return records, rejects


def ingest_incident(incident: Incident, *, geocode: bool = True) -> IngestResult:
    """Read every source of ``incident`` into canonical tables, with rejects and counts.

    Parameters
    ----------
    incident
        A validated incident (see :func:`analysis.config.load_incident`).
    geocode
        Resolve places to municipalities (adds the geography columns). Without it the
        geography columns are present but empty.
    """
    reports, restorations, online, rejects, counts = [], [], [], [], []
    for source in incident.sources:
        raw = read_source(source)
        records, rej = canonicalize(raw, source, timezone=incident.timezone)
        {"down_reports": reports, "restorations": restorations, "online_fraction": online}[source.kind].append(records)
        rejects.append(rej)
        counts.append(
            SourceCounts(
                source=source.name,
                kind=source.kind,
                path=source.rel_path,
                n_raw=raw.n_raw,
                n_accepted=records.height,
                n_rejected=rej.height,
                encoding=raw.encoding,
                delimiter=raw.delimiter,
                time_format=source.time_format,
            )
        )
    result_reports = _concat(reports, REPORT_COLUMNS)
    result_rest = _concat(restorations, RESTORATION_COLUMNS)
    result_online = _concat(online, ONLINE_COLUMNS)
    if geocode:
        result_reports = _geocode(result_reports)
        result_rest = _geocode(result_rest)
    else:
        result_reports = _geo_columns_missing(result_reports)
        result_rest = _geo_columns_missing(result_rest)
    return IngestResult(
        reports=result_reports.sort("reported_at", "report_id"),
        rejects=pl.concat(rejects) if rejects else empty_rejects(),
        restorations=result_rest,
        online=result_online.sort("observed_at"),
        sources=tuple(counts),
    )


def _concat(frames: list[pl.DataFrame], schema: Mapping[str, Any]) -> pl.DataFrame:
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=dict(schema))


def _geocode(df: pl.DataFrame) -> pl.DataFrame:
    from analysis.geo import resolve_places

    return resolve_places(df)


def write_processed(result: IngestResult, folder: Path) -> dict[str, Path]:
    """Write the canonical tables and the accounting (``ingest.json``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "reports": folder / "reports.parquet",
        "rejects": folder / "rejects.parquet",
        "restorations": folder / "restorations.parquet",
        "online": folder / "online.parquet",
        "ingest": folder / "ingest.json",
    }
    result.reports.write_parquet(paths["reports"])
    result.rejects.write_parquet(paths["rejects"])
    result.restorations.write_parquet(paths["restorations"])
    result.online.write_parquet(paths["online"])
    summary = {
        "n_raw": result.n_raw,
        "n_reports": result.n_reports,
        "n_rejected": result.n_rejected,
        "sources": [s.__dict__ for s in result.sources],
    }
    paths["ingest"].write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return paths


def ingest_to_processed(
    incident: Incident, *, root: Path | None = None, geocode: bool = True
) -> tuple[IngestResult, dict[str, Path]]:
    """Ingest ``incident`` and write its processed tables under ``root/<id>/``."""
    result = ingest_incident(incident, geocode=geocode)
    return result, write_processed(result, processed_dir(incident, root))
