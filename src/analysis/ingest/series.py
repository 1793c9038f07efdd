"""Online / customers-out series: a fraction online, or counts online or out of a total, per time (and area)."""

from __future__ import annotations

import polars as pl

from analysis.config import Source
from analysis.errors import IngestError
from analysis.ingest.checks import DuplicateTally, _verdicts
from analysis.ingest.fields import (
    ONLINE_COLUMNS,
    _canonical,
    _join_notes,
    _label,
    _number,
    _scrubbed,
    _text,
    _times,
    _where_and_what,
)


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
    frac = _fraction(frac_raw)
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
    why = _series_reasons(
        frame, {k: _label(source, table, k) for k in ("observed_at", "online_fraction", "online", "total", "out")}
    )
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
    where, notes = _where_and_what(table, source)
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
            **where,
            "issues": _join_notes(derived["issues"], *notes, obs.note),
        }
    ).filter(why_reason.is_null())
    work = _scrubbed(work, ("area", "place_raw", "region_hint"))
    work = work.with_columns(pl.lit(source.name).alias("source"), pl.col("_row").alias("source_row"))
    return _canonical(work, ONLINE_COLUMNS), rejects


def _fraction(frac_raw: pl.Series) -> pl.Series:
    """``online_fraction`` as a number: ``0.95``, and ``95%`` or ``95 %`` as the same fraction."""
    # "95%" and "95 %" are fractions too
    percent = frac_raw.str.contains(r"%\s*$").fill_null(False)
    frac = _number(frac_raw.str.replace(r"\s*%\s*$", ""))
    if percent.any():
        # divided per distinct value in Python: polars' division by 100 is off by an ulp (95% → 0.9500000000000001)
        pct = frac.filter(percent)
        mapping = {v: v / 100 for v in pct.drop_nulls().unique().to_list()}
        frac = frac.scatter(percent.arg_true(), pct.replace_strict(mapping, default=None, return_dtype=pl.Float64))
    return frac


def _series_reasons(frame: pl.DataFrame, labels: dict[str, str]) -> pl.DataFrame:
    """Why each reading is unusable (``r``, null: usable) and the file column at fault (``c``), first match wins."""

    def reason(text: pl.Expr, column: str) -> pl.Expr:
        return pl.struct(text.alias("r"), pl.lit(column).alias("c"))

    return frame.select(
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
