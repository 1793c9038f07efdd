"""Parse report timestamps into UTC, with the daylight-saving rules stated and enforced.

Policy (documented in docs/data-quality.md and tested):

* A timestamp with an offset (``+01:00``, ``+0100``, ``+01``), ``Z``/``UTC``/``GMT`` or
  ``CET``/``CEST`` is an instant; it is converted to UTC as is.
* A naive timestamp is wall-clock time in the source's timezone (the incident's unless the
  source overrides it).
* A naive time inside the spring-forward gap (e.g. 02:30 on the last Sunday of March in
  Europe/Brussels) never happened on any clock: the row is rejected with that reason.
* A naive time inside the autumn overlap (02:00–02:59 on the last Sunday of October
  happens twice) is resolved by the source's ``ambiguous`` option: ``earliest`` (the
  first pass, summer time; the default), ``latest``, or ``reject``. A kept ambiguous time
  carries a note saying which pass was taken.
* A value with a date and no time of day (``2018-01-09``) is the window from that local
  midnight to the next (``until``); the caller decides whether it may be a window.
* A 10-digit number (decimals allowed) is Unix time in seconds, a 13-digit one in
  milliseconds (an instant, as exported by most monitoring systems), when it falls
  between 2001 and 2099.
* Years outside 1900–2099 are unreadable: they are typos, a two-digit year read as a
  four-digit one, or beyond the timezone tables (which stop daylight saving in 2100).

Formats are chosen per column, not per row. Day-first and month-first readings of
``08/01/2018`` are told apart by the values that prove one of them (a first number above
12 proves day-first, a second number above 12 month-first); the reading with more proof
wins, ties (and no proof) go to day-first, the Belgian convention, and values that
contradict the winner are rejected rather than read the other way. Every other format is
unambiguous; the one that read most values is reported. A source's ``time_format``
(strftime syntax) overrides detection. Work is done once per distinct value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from analysis.catalogues.row_warnings import warning_text
from analysis.errors import ConfigError, quote
from analysis.vocab import Ambiguous

UTC_DTYPE = pl.Datetime("us", "UTC")
MIN_YEAR, MAX_YEAR = 1900, 2099
SAMPLE = 2000

# Formats with an explicit offset (instants); offsets are normalised to ``+HH:MM`` first.
AWARE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%:z",
    "%Y-%m-%dT%H:%M%:z",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%:z",
    "%Y-%m-%d %H:%M%:z",
    "%d/%m/%Y %H:%M:%S%:z",
    "%d/%m/%Y %H:%M%:z",
)
# Naive formats. Each value can be read by at most one of them once the day/month order is
# fixed and implausible years are refused, so their order only decides speed.
NAIVE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
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
    "%d/%m/%y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%y %H:%M",
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%m/%d/%Y",
)
TIME_ONLY_FORMATS: tuple[str, ...] = ("%H:%M:%S", "%H:%M", "%Hh%M", "%Hh")


_TIME = r"(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)"
_DAY_MONTH = r"^(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}(?:$|[ T])"


@dataclass(frozen=True)
class ParsedTimes:
    """Parsed times, aligned with the input.

    Attributes
    ----------
    utc
        The instant in UTC, null where the value could not be used.
    reason
        Why a value could not be used (null where it could).
    format
        The format that read most values (``None`` if none did).
    note
        A remark on a kept value (e.g. an ambiguous wall-clock time and the pass taken).
    until
        For values with a date and no time of day: the end of that local day, in UTC.
    """

    utc: pl.Series
    reason: pl.Series
    format: str | None
    note: pl.Series | None = None  # always set by parse_times; optional for callers building one
    until: pl.Series | None = None


def _where(s: pl.Series, mask: pl.Series, fn: object) -> pl.Series:
    """Apply ``fn`` (a Series → Series function) only to the values where ``mask`` holds."""
    idx = mask.fill_null(False).arg_true()
    if idx.len() == 0:
        return s
    return s.scatter(idx, fn(s.gather(idx)))  # type: ignore[operator]


def _clean(values: pl.Series) -> pl.Series:
    """Trim, collapse blanks, and write every offset as ``+HH:MM`` (``Z``/UTC/GMT as +00:00)."""
    s = values.cast(pl.String).str.strip_chars()
    s = _where(s, s.str.contains(r"\s\s|[^ \S]"), lambda x: x.str.replace_all(r"\s+", " "))

    def offsets(x: pl.Series) -> pl.Series:
        x = x.str.replace(_TIME + r" ?(?i:z|utc|gmt)$", "${1}+00:00")
        x = x.str.replace(_TIME + r" ?(?i:cest)$", "${1}+02:00")
        x = x.str.replace(_TIME + r" ?(?i:cet)$", "${1}+01:00")
        x = x.str.replace(_TIME + r" ?([+-])(\d{2}):?(\d{2})$", "${1}${2}${3}:${4}")
        return x.str.replace(_TIME + r" ?([+-])(\d{2})$", "${1}${2}${3}:00")

    s = _where(s, s.str.contains(r"(?:[+-]\d{2}:?\d{2}|[+-]\d{2}|(?i:z|utc|gmt|cet|cest))$"), offsets)
    return s.replace("", None).alias(values.name)


def _epoch(s: pl.Series, aware: pl.Series) -> pl.Series:
    """Fill ``aware`` where ``s`` is Unix time: 10 digits (seconds, decimals allowed) or 13 (milliseconds).

    Only values nothing else read, and only instants between 2001 and 2099: a 10-digit
    number is read as seconds since 1970 (an export's epoch column), not as a date.
    """
    digits = s.str.extract(r"^(\d{10}(?:\.\d+)?|\d{13})$")
    if digits.null_count() == len(s):
        return aware
    number = digits.cast(pl.Float64, strict=False)
    seconds = pl.select(pl.when(digits.str.len_chars() == 13).then(number / 1000).otherwise(number)).to_series()
    instant = (seconds * 1_000_000).round().cast(pl.Int64).cast(UTC_DTYPE)
    instant = pl.select(pl.when(instant.dt.year().is_between(2001, MAX_YEAR)).then(instant)).to_series()
    return aware.fill_null(instant).alias(aware.name)


def _plausible(parsed: pl.Series) -> pl.Series:
    year = parsed.dt.year()
    return pl.select(pl.when(year.is_between(MIN_YEAR, MAX_YEAR)).then(parsed)).to_series().alias(parsed.name)


def _month_first(s: pl.Series) -> bool:
    """Whether the proving values of ``s`` favour month-first over day-first."""
    day_first_proof, month_first_proof = day_month_votes(s, cleaned=True)
    return month_first_proof > day_first_proof


def column_month_first(values: pl.Series, counts: pl.Series) -> bool:
    """The day/month order :func:`parse_times` chooses for a column, from its distinct values and their counts.

    For a column given as counts (a file read in batches, tallied in one pass): the same
    rule as a whole read, which votes over every value when at most one value in two
    repeats and over the distinct values otherwise (see ``_votes_over_every_value``).
    """
    n = int(counts.sum())
    day, month = day_month_votes(values, counts if _votes_over_every_value(len(values), n) else None)
    return month > day


def _votes_over_every_value(n_distinct: int, n: int) -> bool:
    """Whether a column of ``n`` values, ``n_distinct`` of them distinct, is parsed (and votes) value by value."""
    return n_distinct > n // 2


def day_month_votes(values: pl.Series, counts: pl.Series | None = None, *, cleaned: bool = False) -> tuple[int, int]:
    """Values that prove day-first (13/01/2018) and month-first (01/13/2018) order.

    ``counts``: how often each value occurs (distinct values of a large column, counted
    elsewhere); the votes are then weighted by it. A column read in batches decides its
    order from the votes of the whole column, exactly as when it is read at once.
    """
    s = values if cleaned else _clean(values)
    parts = s.str.extract_groups(_DAY_MONTH)
    first = parts.struct.field("1").cast(pl.Int32, strict=False)
    second = parts.struct.field("2").cast(pl.Int32, strict=False)
    w = counts.cast(pl.Int64) if counts is not None else pl.repeat(1, len(s), dtype=pl.Int64, eager=True)
    frame = pl.DataFrame({"a": first, "b": second, "w": w})
    out = frame.select(
        pl.col("w").filter((pl.col("a") > 12) & (pl.col("b") <= 12)).sum().alias("day"),
        pl.col("w").filter((pl.col("b") > 12) & (pl.col("a") <= 12)).sum().alias("month"),
    )
    return int(out["day"][0] or 0), int(out["month"][0] or 0)


def _fill(s: pl.Series, formats: tuple[str, ...], dtype: pl.DataType) -> tuple[pl.Series, pl.Series]:
    """Parse ``s`` with each format in turn on the values still unread.

    Formats are tried in the order of their success on a sample (so a column costs about
    one parse), then the rest for whatever remains. Returns the parsed values and, for
    each value, the index (into ``formats``) of the format that read it.
    """
    n = len(s)
    out = pl.repeat(None, n, dtype=dtype, eager=True).alias(s.name)
    used = pl.repeat(None, n, dtype=pl.Int32, eager=True).alias("fmt")
    todo = s.is_not_null()
    idx = todo.arg_true()
    step = max(1, idx.len() // SAMPLE)
    sample = s.gather(idx.gather_every(step).head(SAMPLE))
    hits = [sample.str.strptime(dtype, f, strict=False, exact=True).null_count() for f in formats]  # type: ignore[arg-type]
    order = sorted(range(len(formats)), key=lambda i: hits[i])
    for i in order:
        idx = todo.arg_true()
        if idx.len() == 0:
            break
        parsed = _plausible(s.gather(idx).str.strptime(dtype, formats[i], strict=False, exact=True))  # type: ignore[arg-type]
        hit = parsed.is_not_null()
        if not hit.any():
            continue
        where = idx.filter(hit)
        out = out.scatter(where, parsed.filter(hit))
        used = used.scatter(where, i)
        todo = todo.scatter(where, False)
    return out, used


def parse_times(
    values: pl.Series,
    *,
    timezone: str,
    time_format: str | None = None,
    ambiguous: Ambiguous = "earliest",
    month_first: bool | None = None,
) -> ParsedTimes:
    """Parse strings (or datetimes) into UTC instants with a reason for each failure.

    Parameters
    ----------
    values
        Raw timestamps as text; datetime columns (from parquet) are accepted as they are:
        aware ones are converted, naive ones are read as wall-clock time in ``timezone``;
        date columns are day windows.
    timezone
        IANA zone of naive wall-clock values.
    time_format
        A strftime format that overrides detection (with ``%z`` for offsets).
    ambiguous
        What to do with a wall-clock time that happens twice (DST overlap).
    month_first
        The column's day/month order when it was decided elsewhere (a file read in
        batches: the whole column votes, see :func:`day_month_votes`); detected from
        ``values`` when None.

    Returns
    -------
    ParsedTimes
        Series aligned with ``values`` (see the module docstring for the policy).
    """
    if ambiguous not in ("earliest", "latest", "reject"):
        raise ValueError(f"ambiguous must be earliest, latest or reject, got {ambiguous!r}")
    name = values.name
    if isinstance(values.dtype, pl.Datetime) or values.dtype == pl.Date:
        return _parse_typed(values, timezone=timezone, ambiguous=ambiguous)
    # one pass per distinct value, joined back: timestamps repeat a lot in big files
    text = values.cast(pl.String)
    uniq = text.unique(maintain_order=False)
    if _votes_over_every_value(uniq.len(), len(text)):
        result = _parse_distinct(text, timezone=timezone, time_format=time_format, ambiguous=ambiguous, month_first=month_first)
        joined = result.frame
    else:
        result = _parse_distinct(uniq, timezone=timezone, time_format=time_format, ambiguous=ambiguous, month_first=month_first)
        frame = pl.DataFrame({"raw": text})
        joined = frame.join(result.frame, on="raw", how="left", nulls_equal=True, maintain_order="left")
    return ParsedTimes(
        joined["utc"].alias(name),
        joined["reason"].alias(name),
        result.format,
        joined["note"].alias(name),
        joined["until"].alias(name),
    )


def _parse_typed(values: pl.Series, *, timezone: str, ambiguous: Ambiguous) -> ParsedTimes:
    """Datetime or date values (parquet) in UTC: aware ones converted, naive ones local wall-clock, dates day windows."""
    name = values.name
    # typed times (parquet) obey the same 1900–2099 rule as text: year 1 or 9999 is a typo
    year = values.dt.year()
    outside = (year.is_not_null() & ~year.is_between(MIN_YEAR, MAX_YEAR)).fill_null(False)
    if outside.any():
        inside = _parse_typed(values.set(outside, None), timezone=timezone, ambiguous=ambiguous)
        why = pl.select(
            pl.when(outside)
            .then(pl.format("year {} outside {}–{}", year, pl.lit(MIN_YEAR), pl.lit(MAX_YEAR)))
            .otherwise(inside.reason)
        ).to_series()
        return ParsedTimes(inside.utc, why.alias(name), inside.format, inside.note, inside.until)
    if isinstance(values.dtype, pl.Datetime):
        if values.dtype.time_zone is not None:
            utc = values.dt.convert_time_zone("UTC").cast(UTC_DTYPE)
            return ParsedTimes(
                utc.alias(name),
                _missing_reason(values, utc),
                None,
                _nulls(name, len(values), pl.String()),
                _nulls(name, len(values), UTC_DTYPE),
            )
        naive = values.cast(pl.Datetime("us"))
        local = _localize(naive, timezone=timezone, ambiguous=ambiguous, raw=values.cast(pl.String), fmt=None)
        return ParsedTimes(local.utc, local.reason, None, local.note, _nulls(name, len(values), UTC_DTYPE))
    # a date column: each value the window of that local day
    day = values.cast(pl.Datetime("us"))
    parsed = _localize(day, timezone=timezone, ambiguous=ambiguous, raw=values.cast(pl.String), fmt=None)
    end = _localize(day.dt.offset_by("1d"), timezone=timezone, ambiguous="earliest", raw=values.cast(pl.String), fmt=None)
    return ParsedTimes(parsed.utc, parsed.reason, None, parsed.note, end.utc)


@dataclass(frozen=True)
class _Distinct:
    frame: pl.DataFrame  # raw, utc, reason, note, until
    format: str | None


def _parse_distinct(
    raw: pl.Series, *, timezone: str, time_format: str | None, ambiguous: Ambiguous, month_first: bool | None = None
) -> _Distinct:
    n = len(raw)
    s = _clean(raw.alias("s"))
    aware = pl.repeat(None, n, dtype=UTC_DTYPE, eager=True).alias("a")
    naive = pl.repeat(None, n, dtype=pl.Datetime("us"), eager=True).alias("n")
    date_only = pl.repeat(False, n, dtype=pl.Boolean, eager=True).alias("d")
    order_note: str | None = None
    if time_format is not None:
        dtype = UTC_DTYPE if _has_offset(time_format) else pl.Datetime("us")
        try:
            parsed = _plausible(s.str.strptime(dtype, time_format, strict=False))
        except pl.exceptions.PolarsError as exc:
            raise ValueError(f"time_format {time_format!r} is not usable: {str(exc).strip().splitlines()[0]}") from None
        if _has_offset(time_format):
            aware = parsed.dt.convert_time_zone("UTC").cast(UTC_DTYPE)
        else:
            naive = parsed
            if not any(tok in time_format for tok in ("%H", "%I", "%k", "%l", "%T", "%R", "%c")):
                date_only = parsed.is_not_null()
        chosen: str | None = time_format
    else:
        month_first = _month_first(s) if month_first is None else month_first
        other = "%d" if month_first else "%m"
        order_note = "month-first" if month_first else "day-first"
        offset = s.str.contains(r"[+-]\d{2}:\d{2}$").fill_null(False)
        aware_formats = tuple(f for f in AWARE_FORMATS if not f.startswith(other))
        naive_formats = tuple(f for f in NAIVE_FORMATS if not f.startswith(other))
        a, a_used = _fill(s.set(~offset, None), aware_formats, UTC_DTYPE)
        aware = a.dt.convert_time_zone("UTC").cast(UTC_DTYPE)
        aware = _epoch(s, aware)
        naive, n_used = _fill(s.set(aware.is_not_null(), None), naive_formats, pl.Datetime("us"))
        counts = [(int((a_used == i).sum()), f) for i, f in enumerate(aware_formats)]
        counts += [(int((n_used == i).sum()), f) for i, f in enumerate(naive_formats)]
        best = max(counts, key=lambda c: c[0])
        chosen = best[1] if best[0] else None
        date_idx = [i for i, f in enumerate(naive_formats) if "%H" not in f and "%I" not in f]
        date_only = n_used.is_in(date_idx).fill_null(False)
    local = _localize(naive.alias("n"), timezone=timezone, ambiguous=ambiguous, raw=s, fmt=chosen)
    day_end = _localize(
        pl.select(pl.when(date_only).then(naive.dt.offset_by("1d"))).to_series().alias("n"),
        timezone=timezone,
        ambiguous="earliest",
        raw=s,
        fmt=chosen,
    )
    frame = pl.DataFrame(
        {"raw": raw, "s": s, "a": aware, "lu": local.utc, "lr": local.reason, "ln": local.note, "d": date_only, "de": day_end.utc}
    )
    reason = pl.when(pl.col("s").is_null()).then(pl.lit("missing time")).when(pl.col("a").is_not_null()).then(None)
    if order_note is not None:
        # a d/m/y value impossible in the column's order says so, rather than just "unreadable"
        reason = reason.when(
            pl.col("lr").str.starts_with("unreadable") & _contradicts(pl.col("s"), day_first=order_note == "day-first")
        ).then(pl.format("{} (this column reads dates {})", "lr", pl.lit(order_note)))
    frame = frame.select(
        "raw",
        pl.coalesce("a", "lu").alias("utc"),
        reason.otherwise("lr").alias("reason"),
        pl.when(pl.col("a").is_null()).then("ln").alias("note"),
        pl.when(pl.col("d")).then("de").alias("until"),
    )
    return _Distinct(frame, chosen)


def _contradicts(s: pl.Expr, *, day_first: bool) -> pl.Expr:
    """True where a d/m/y-shaped value is impossible in the column's day/month order."""
    parts = s.str.extract_groups(_DAY_MONTH)
    first = parts.struct.field("1").cast(pl.Int32, strict=False)
    second = parts.struct.field("2").cast(pl.Int32, strict=False)
    return ((second > 12) & (first <= 12)) if day_first else ((first > 12) & (second <= 12))


def _has_offset(fmt: str) -> bool:
    return "%z" in fmt or "%:z" in fmt or "%#z" in fmt


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
        pl.when(is_overlap & pl.lit(ambiguous != "reject"))
        .then(pl.lit(warning_text("time_twice_first" if ambiguous == "earliest" else "time_twice_second", timezone=timezone)))
        .alias("note"),
    )
    return ParsedTimes(
        out["utc"].alias(name), out["reason"].alias(name), fmt, out["note"].alias(name), _nulls(name, len(out), UTC_DTYPE)
    )


def _nulls(name: str, n: int, dtype: pl.DataType) -> pl.Series:
    return pl.repeat(None, n, dtype=dtype, eager=True).alias(name)


# Times written by a person in incident.toml (one value at a time, not a column)


def parse_config_time(value: Any, tz: ZoneInfo, *, where: str) -> dt.datetime:
    """Parse a config time (TOML datetime or ISO string) into an aware UTC datetime.

    Naive times are local to the incident's timezone. A local time that does not exist
    (spring-forward gap) or exists twice (autumn overlap) is an error here: a config is
    written by a person who can say which one they mean by adding an offset.
    """
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, dt.date):
        t = dt.datetime.combine(value, dt.time())
    elif isinstance(value, str):
        try:
            t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{where}: not an ISO 8601 time: {quote(value)}") from None
    else:
        raise ConfigError(f"{where}: expected a time, got {type(value).__name__} {quote(value)}")
    if not 1900 <= t.year <= 2099:
        raise ConfigError(f"{where}: year {t.year} is outside 1900–2099 (a typo?)")
    if t.tzinfo is None:
        t = localize(t, tz, where=where)
    return t.astimezone(dt.UTC)


def localize(t: dt.datetime, tz: ZoneInfo, *, where: str) -> dt.datetime:
    """Attach ``tz`` to a naive time, refusing DST-gap and DST-overlap times."""
    early = t.replace(tzinfo=tz, fold=0)
    late = t.replace(tzinfo=tz, fold=1)
    if early.utcoffset() != late.utcoffset():
        # either a gap (time does not exist) or an overlap (time exists twice)
        roundtrip = early.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
        if roundtrip != t:
            raise ConfigError(f"{where}: {t.isoformat()} does not exist in {tz.key} (clocks jump forward); add an offset")
        raise ConfigError(f"{where}: {t.isoformat()} happens twice in {tz.key} (clocks go back); add an offset")
    return early
