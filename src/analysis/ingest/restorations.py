"""Restoration records: one customer's restoration observed at a time, or known within a window (censored)."""

from __future__ import annotations

import polars as pl

from analysis.catalogues.row_warnings import warning_text
from analysis.config import Source
from analysis.errors import IngestError
from analysis.ingest.checks import DuplicateTally, _verdicts
from analysis.ingest.fields import (
    FALSE_WORDS,
    RESTORATION_COLUMNS,
    TRUE_WORDS,
    _canonical,
    _const,
    _join_notes,
    _label,
    _scrubbed,
    _text,
    _times,
    _unique_ids,
    _unusable,
    _where_and_what,
)


def _restoration_frame(
    table: pl.DataFrame, source: Source, timezone: str, tally: DuplicateTally | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical restoration records (right/interval-censored) and rejects."""
    obs, has_obs = _times(table, source, "observed_at", timezone)
    after, has_after = _times(table, source, "restored_after", timezone)
    before, has_before = _times(table, source, "restored_before", timezone)
    start, has_start = _times(table, source, "started_at", timezone)
    if not (has_obs or has_after or has_before or has_start):
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
            "start": start.utc,
            "sw": _unusable(start.reason),
            "r": restored,
            "rr": restored_raw,
        }
    )
    why = _restoration_reasons(
        frame,
        {k: _label(source, table, k) for k in ("observed_at", "restored_after", "restored_before", "restored", "started_at")},
    )
    where, notes = _where_and_what(table, source)
    dated = obs.until.is_not_null() if obs.until is not None else _const("d", value=False, n=table.height, dtype=pl.Boolean())
    obs_date_note = pl.select(pl.when(dated).then(pl.lit(warning_text("observed_date_only")))).to_series()
    reason, rejects = _verdicts(
        table,
        source,
        [(why["r"], why["c"])],
        tally,
        timed_ids=("customer_id",),
        times=pl.DataFrame({"o": obs.utc, "a": after.utc, "b": before_utc, "s": start.utc}),
    )
    # a start with no end at all: still out when the source was exported (closed at the end of
    # observation by :func:`analysis.ingest.incident.close_open_records`)
    still_out = pl.select(start.utc.is_not_null() & obs.utc.is_null() & after.utc.is_null() & before_utc.is_null()).to_series()
    open_note = pl.select(pl.when(still_out).then(pl.lit(warning_text("still_out")))).to_series()
    work = pl.DataFrame(
        {
            "_row": table["_row"],
            "customer_id": _text(table, source, "customer_id"),
            "observed_at": obs.utc,
            # a restoration time observed exactly: restored=True at observed_at; default when no flag: restored
            "restored": pl.select(
                pl.when(still_out).then(False).otherwise(pl.coalesce(restored, pl.when(obs.utc.is_not_null()).then(True)))
            ).to_series(),
            "restored_after": after.utc,
            "restored_before": before_utc,
            "started_at": start.utc,
            **where,
            "text": _text(table, source, "text"),
            "issues": _join_notes(*notes, obs_date_note, obs.note, after.note, before.note, start.note, open_note),
        }
    ).filter(reason.is_null())
    work = _scrubbed(work, ("customer_id", "place_raw", "region_hint"), ("text",))
    local_id = work.select(pl.coalesce("customer_id", pl.col("_row").cast(pl.String))).to_series()
    ids = _unique_ids(pl.select(pl.format("{}:{}", pl.lit(source.name), local_id)).to_series().alias("record_id"))
    work = work.with_columns(ids, pl.lit(source.name).alias("source"), pl.col("_row").alias("source_row"))
    return _canonical(work, RESTORATION_COLUMNS), rejects


def _restoration_reasons(frame: pl.DataFrame, labels: dict[str, str]) -> pl.DataFrame:
    """Why each record is unusable (``r``, null: usable) and the file column at fault (``c``), first match wins."""
    return frame.select(
        pl.when(pl.col("obs").is_null() & pl.col("after").is_null() & pl.col("before").is_null() & pl.col("start").is_null())
        .then(
            pl.struct(
                pl.coalesce("ow", "aw", "bw", "sw", pl.lit("missing time")).alias("r"), pl.lit(labels["observed_at"]).alias("c")
            )
        )
        .when(pl.col("sw").is_not_null())
        .then(pl.struct(pl.format("started_at: {}", "sw").alias("r"), pl.lit(labels["started_at"]).alias("c")))
        .when(pl.coalesce("before", "obs") < pl.col("start"))
        .then(pl.struct(pl.lit("outage ends before it starts").alias("r"), pl.lit(labels["started_at"]).alias("c")))
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


def own_start_counts(records: pl.DataFrame) -> tuple[int, int]:
    """Restoration records measured from their own outage start (``started_at``), and those still open at export."""
    if "started_at" not in records.columns or not records.height:
        return 0, 0
    n_open = records["issues"].str.contains(warning_text("still_out"), literal=True).sum()
    return int(records["started_at"].is_not_null().sum()), int(n_open)
