"""Down reports: a point time or a window, a count, a place, a status; ids made unique over the source.

A file read in batches builds each batch's reports with :func:`_report_work` and the ids once
for the whole source with :func:`_finish_reports`.
"""

from __future__ import annotations

import polars as pl

from analysis.catalogues.row_warnings import warning_expr
from analysis.config import Source
from analysis.errors import IngestError
from analysis.ingest.checks import Batches, DuplicateTally, _verdicts
from analysis.ingest.fields import (
    AREA_LEVELS,
    DATE_ONLY_NOTE,
    REPORT_COLUMNS,
    SERVICE_SYNONYMS,
    STATUS_SYNONYMS,
    _canonical,
    _column_for,
    _const,
    _coordinates,
    _has,
    _in_words,
    _join_notes,
    _label,
    _normalise,
    _normalise_noted,
    _number,
    _parse,
    _postal,
    _scrubbed,
    _series,
    _text,
    _text_expr,
    _times,
    _unique_ids,
    _url,
)
from analysis.limits import limit
from analysis.timeparse import ParsedTimes


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
    at, frm, until, time_label = _report_times(table, source, timezone, batches)
    frame = _report_window(at, frm, until)
    date_note = _series(
        frame, pl.when(pl.col("day_end").is_not_null() & (pl.col("until") == pl.col("day_end"))).then(pl.lit(DATE_ONLY_NOTE)), "n"
    )
    weight_raw = _text(table, source, "count")
    weight = _number(weight_raw)
    reason, rejects = _verdicts(
        table,
        source,
        [(frame["_why_time"], time_label), (_weight_reason(weight_raw, weight), _label(source, table, "count"))],
        tally,
        batches=batches,
        ids=("report_id",),
        timed_ids=("user_id", "device_id"),
        times=frame.select("start", "until"),
    )
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
    return _report_values(table, source, kept), rejects


def _report_times(
    table: pl.DataFrame, source: Source, timezone: str, batches: Batches | None
) -> tuple[ParsedTimes, ParsedTimes, ParsedTimes, str]:
    """The parsed ``reported_at``, ``reported_from``, ``reported_until`` and the label of the column the time is read from.

    Without a time column, ``date`` (and ``time``) joined stand for ``reported_at``.
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
    return at, frm, until, time_label


def _report_window(at: ParsedTimes, frm: ParsedTimes, until: ParsedTimes) -> pl.DataFrame:
    """Each report's ``start`` and ``until`` (null for a point time), ``day_end`` of a date alone, and ``_why_time``."""
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
    return frame.with_columns(pl.when(pl.col("until") == pl.col("start")).then(None).otherwise("until").alias("until"))


def _weight_reason(weight_raw: pl.Series, weight: pl.Series) -> pl.Series:
    """Why a row's ``count`` is unusable (null: usable or absent): a whole number from 1 to the limit."""
    return pl.select(
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


def _report_values(table: pl.DataFrame, source: Source, kept: pl.DataFrame) -> pl.DataFrame:
    """The kept rows' canonical values (place, status, service, area level, url...), free text scrubbed."""
    lat, lon, coord_issue = _coordinates(table, source)
    status, status_issue = _normalise_noted(_text(table, source, "status"), STATUS_SYNONYMS, "status")
    service, service_issue = _normalise_noted(_text(table, source, "service"), SERVICE_SYNONYMS, "service")
    area_level_raw = _text(table, source, "area_level")
    area_level = _normalise(area_level_raw, AREA_LEVELS)
    level_issue = pl.select(
        pl.when(area_level.is_not_null() & ~area_level.is_in(["municipality", "province", "region", "country"])).then(
            warning_expr("area_level_unknown", value=area_level_raw)
        )
    ).to_series()
    url, url_issue = _url(table, source)
    notes: tuple[pl.Series, ...] = (coord_issue, level_issue, status_issue, service_issue, url_issue)
    notes += tuple(kept[c] for c in ("date_note", "at_note", "frm_note", "until_note"))
    work = pl.DataFrame(
        {
            "_row": table["_row"],
            "_id": _text(table, source, "report_id"),
            "reported_at": kept["start"],
            "reported_until": kept["until"],
            "place_raw": pl.select(pl.coalesce(_text(table, source, "place"), _text(table, source, "area"))).to_series(),
            "postal_code": _postal(table, source),
            "lat": lat,
            "lon": lon,
            "service": service,
            "status": status.fill_null("down"),
            "text": _text(table, source, "text"),
            "url": url,
            **{c: _text(table, source, c) for c in ("outlet", "source_ref", "note")},
            "area_level": pl.select(pl.when(level_issue.is_null()).then(area_level)).to_series(),
            "region_hint": _text(table, source, "region_hint"),
            "weight": kept["weight"].fill_null(1).cast(pl.Int64, strict=False),
            "_issues": _join_notes(*notes),
        }
    )
    del table, kept, lat, lon, service, status, url, area_level
    # free text is scrubbed only for the rows kept (rejects' raw values are scrubbed apart)
    return _scrubbed(work, ("place_raw", "outlet", "source_ref", "region_hint"), ("text", "note"))


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
            pl.select(pl.when(repeated).then(warning_expr("id_repeated", value=local_id))).to_series(),
        ),
        pl.lit(source.name).alias("source"),
        pl.col("_row").alias("source_row"),
    )
    return _canonical(work, REPORT_COLUMNS)
