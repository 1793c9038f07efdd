"""Parse report timestamps into UTC, with the daylight-saving rules stated and enforced.

Policy (documented in docs/architecture.md and tested):

* A timestamp with an offset or ``Z`` is an instant; it is converted to UTC as is.
* A naive timestamp is wall-clock time in the source's timezone (the incident's unless the
  source overrides it).
* A naive time inside the spring-forward gap (e.g. 02:30 on the last Sunday of March in
  Europe/Brussels) never happened on any clock: the row is rejected with that reason.
* A naive time inside the autumn overlap (02:00–02:59 on the last Sunday of October
  happens twice) is resolved by the source's ``ambiguous`` option: ``earliest`` (the
  first pass, summer time; the default), ``latest``, or ``reject``.

Formats are tried per column, not per row: the format that parses most values of the
column wins, then the others fill in what it missed. So a column of ``08/01/2018`` values
is read day-first (the Belgian convention) unless a value such as ``01/13/2018`` proves
it month-first. A source's ``time_format`` (strftime syntax) overrides detection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

UTC_DTYPE = pl.Datetime("us", "UTC")

# Formats with an explicit offset (instants). ``Z`` is rewritten to +00:00 first.
AWARE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%:z",
    "%Y-%m-%dT%H:%M%:z",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%:z",
    "%Y-%m-%d %H:%M%:z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S %z",
)
# Naive formats, in order of preference when two parse equally many values.
NAIVE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d/%m/%Y %Hh%M",
    "%d/%m/%y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
)
TIME_ONLY_FORMATS: tuple[str, ...] = ("%H:%M:%S", "%H:%M", "%Hh%M", "%Hh")

Ambiguous = Literal["earliest", "latest", "reject"]


@dataclass(frozen=True)
class ParsedTimes:
    """UTC times and, for every value that could not be used, the reason (else null)."""

    utc: pl.Series
    reason: pl.Series
    format: str | None


def _clean(values: pl.Series) -> pl.Series:
    s = values.cast(pl.String).str.strip_chars()
    s = s.str.replace(r"(?i)z$", "+00:00").str.replace(r"\s+", " ", literal=False)
    return pl.Series(values.name, s).replace("", None)


def _best_format(s: pl.Series, formats: tuple[str, ...], dtype: pl.DataType) -> list[str]:
    """Formats that parse at least one value, the most successful first (stable on ties)."""
    scored = []
    for i, fmt in enumerate(formats):
        n = s.str.strptime(dtype, fmt, strict=False, exact=True).null_count()
        parsed = len(s) - n
        if parsed:
            scored.append((-parsed, i, fmt))
    return [fmt for _, _, fmt in sorted(scored)]


def parse_times(
    values: pl.Series,
    *,
    timezone: str,
    time_format: str | None = None,
    ambiguous: Ambiguous = "earliest",
) -> ParsedTimes:
    """Parse strings (or datetimes) into UTC instants with a reason for each failure.

    Parameters
    ----------
    values
        Raw timestamps as text; datetime columns (from parquet) are accepted as they are:
        aware ones are converted, naive ones are read as wall-clock time in ``timezone``.
    timezone
        IANA zone of naive wall-clock values.
    time_format
        A strftime format that overrides detection (with ``%z`` for offsets).
    ambiguous
        What to do with a wall-clock time that happens twice (DST overlap).
    """
    name = values.name
    n = len(values)
    if values.dtype == pl.Datetime or isinstance(values.dtype, pl.Datetime):
        tzinfo = values.dtype.time_zone  # type: ignore[union-attr]
        if tzinfo is not None:
            utc = values.dt.convert_time_zone("UTC").cast(UTC_DTYPE)
            return ParsedTimes(utc.alias(name), _missing_reason(values, utc), None)
        naive = values.cast(pl.Datetime("us"))
        return _localize(naive, timezone=timezone, ambiguous=ambiguous, raw=values.cast(pl.String), fmt=None)
    if values.dtype == pl.Date:
        return _localize(
            values.cast(pl.Datetime("us")), timezone=timezone, ambiguous=ambiguous, raw=values.cast(pl.String), fmt=None
        )

    s = _clean(values)
    aware = pl.Series(name, [None] * n, dtype=UTC_DTYPE)
    naive = pl.Series(name, [None] * n, dtype=pl.Datetime("us"))
    chosen: str | None = None
    if time_format is not None:
        if "%z" in time_format or "%:z" in time_format or "%#z" in time_format:
            aware = s.str.strptime(UTC_DTYPE, time_format, strict=False).cast(UTC_DTYPE)
        else:
            naive = s.str.strptime(pl.Datetime("us"), time_format, strict=False)
        chosen = time_format
    else:
        for fmt in _best_format(s, AWARE_FORMATS, UTC_DTYPE):
            aware = aware.fill_null(s.str.strptime(UTC_DTYPE, fmt, strict=False, exact=True).dt.convert_time_zone("UTC"))
            chosen = chosen or fmt
        rest = s.set(aware.is_not_null(), None) if aware.null_count() < n else s
        naive_order = _best_format(rest, NAIVE_FORMATS, pl.Datetime("us"))
        for fmt in naive_order:
            naive = naive.fill_null(rest.str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True))
        if naive_order and chosen is None:
            chosen = naive_order[0]
    local = _localize(naive, timezone=timezone, ambiguous=ambiguous, raw=s, fmt=chosen)
    utc = aware.fill_null(local.utc)
    reason = (
        pl.DataFrame({"s": s, "a": aware, "r": local.reason})
        .select(
            pl.when(pl.col("s").is_null())
            .then(pl.lit("missing time"))
            .when(pl.col("a").is_not_null())
            .then(None)
            .otherwise(pl.col("r"))
        )
        .to_series()
        .alias(name)
    )
    return ParsedTimes(utc.alias(name), reason, chosen)


def _missing_reason(values: pl.Series, utc: pl.Series) -> pl.Series:
    return (
        pl.select(
            pl.when(values.is_null())
            .then(pl.lit("missing time"))
            .when(utc.is_null())
            .then(pl.lit("invalid time"))
            .otherwise(None)
        )
        .to_series()
        .alias(values.name)
    )


def _localize(naive: pl.Series, *, timezone: str, ambiguous: Ambiguous, raw: pl.Series, fmt: str | None) -> ParsedTimes:
    """Interpret naive wall-clock times in ``timezone``; reasons for gap/overlap/unparseable."""
    name = naive.name
    early = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    late = naive.dt.replace_time_zone(timezone, ambiguous="latest", non_existent="null")
    df = pl.DataFrame({"raw": raw, "naive": naive, "early": early, "late": late})
    is_gap = pl.col("naive").is_not_null() & pl.col("early").is_null()
    is_overlap = pl.col("early").is_not_null() & (pl.col("early") != pl.col("late"))
    chosen = pl.col("late") if ambiguous == "latest" else pl.col("early")
    if ambiguous == "reject":
        chosen = pl.when(is_overlap).then(None).otherwise(pl.col("early"))
    out = df.select(
        chosen.dt.convert_time_zone("UTC").cast(UTC_DTYPE).alias("utc"),
        pl.when(pl.col("raw").is_null())
        .then(pl.lit("missing time"))
        .when(pl.col("naive").is_null())
        .then(pl.format("unreadable time '{}'", pl.col("raw").str.slice(0, 40)))
        .when(is_gap)
        .then(pl.lit(f"time does not exist in {timezone} (clocks jumped forward: daylight-saving gap)"))
        .when(is_overlap & pl.lit(ambiguous == "reject"))
        .then(pl.lit(f"time happens twice in {timezone} (clocks went back) and the source's policy is to reject"))
        .otherwise(None)
        .alias("reason"),
    )
    return ParsedTimes(out["utc"].alias(name), out["reason"].alias(name), fmt)


def overlap_mask(naive: pl.Series, *, timezone: str) -> pl.Series:
    """True where a naive wall-clock time happens twice in ``timezone`` (DST overlap)."""
    early = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    late = naive.dt.replace_time_zone(timezone, ambiguous="latest", non_existent="null")
    return (early != late).fill_null(False)
