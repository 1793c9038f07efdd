"""The row checks every evidence kind shares, once: empty rows, oversized fields, duplicates, rejects.

:func:`_verdicts` is the skeleton each kind runs: first match wins, an empty row; a field
longer than :data:`MAX_FIELD_CHARS`; a duplicate by the source's ``dedupe`` policy; then the
kind's own checks, given as ``(reason, column)`` pairs. Rows rejected carry their raw values
as JSON, scrubbed of personal data. :class:`Batches` carries what earlier batches of a file
hold, so a file read in batches finds the same duplicates as one read whole.

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
many were kept and how many rows were rejected as duplicates (:class:`.canonical.SourceCounts`). See
docs/data-quality.md for every policy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from analysis.config import Source
from analysis.ingest.fields import _column_for, _const, _first, _series
from analysis.privacy import scrub_column, scrub_label, scrub_text
from analysis.sources import RAW_FIELD_CHARS, REJECT_SCHEMA

MAX_FIELD_CHARS = 100_000


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
    screen = hashes.is_in(twice.unique().implode())
    return screen if valid is None else screen & valid


def _earlier(
    keys: pl.DataFrame,
    rows: pl.Series,
    *,
    valid: pl.Series | None = None,
    claims: pl.Series | None = None,
    batches: Batches | None = None,
    check: str = "row",
) -> pl.Series:
    """For each row, the first earlier row with the same ``keys`` (null when it is the first).

    Rows with distinct hashes are distinct; rows sharing one are compared exactly, so clean
    data pays for one hash and a screen. Rows where ``valid`` is false (a missing id) repeat
    nothing and are repeated by nothing. Rows where ``claims`` is false (rows rejected for
    another reason) may repeat an earlier row but are never the row others repeat: a blank
    line carrying only an id does not turn the real report with that id into a duplicate.
    With ``batches`` (a file read in batches), rows also
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
        claim = pl.lit(True) if claims is None else pl.Series("_c", claims.gather(idx))
        flagged = keys[idx].with_columns(idx.cast(pl.Int64).alias("_i"), rows.gather(idx), claim.alias("_c"))
        first_claim = pl.when(pl.col("_c")).then(pl.col("_row")).min().over(cols).alias("_f")
        found = flagged.select("_i", "_row", first_claim).filter(pl.col("_row") > pl.col("_f"))
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
    new = first.is_null() if valid is None else first.is_null() & valid
    fresh = prints.filter(new if claims is None else new & claims)
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
    usable: pl.Series | None = None,
) -> tuple[pl.Series, pl.Series]:
    """Each row's duplicate reason under the source's ``dedupe`` policy, and the column it concerns.

    ``exact``: a row identical to an earlier one is a "duplicate of row N". ``identity``:
    identical rows are separate reports (two customers of one town write the same row in the
    same minute); a row is a duplicate only when it repeats an id of the file: one of
    ``ids`` (``report_id``: the same report, whatever its content), or one of ``timed_ids``
    (a user, device or customer id) together with the same ``times`` (the same person at
    the same time is a double post; later, a new report). ``none``: no row is a duplicate.
    Under ``identity`` only ``usable`` rows (not rejected for another reason) hold an id
    that later rows can repeat.
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
        first = _earlier(value, table["_row"], valid=valid, claims=usable, batches=batches, check=canonical)
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
    other, _ = _first([(checks["_why_empty"], None), (checks["_why_size"], None), *kind_checks])
    dup_why, dup_column = _duplicate_reasons(
        table, source, checks["_identical"], batches=batches, usable=other.is_null(), **duplicate_keys
    )
    reason, column = _first(
        [(checks["_why_empty"], None), (checks["_why_size"], checks["_why_size_col"]), (dup_why, dup_column), *kind_checks]
    )
    if tally is not None:
        tally.add(checks["_identical"], checks["_why_empty"], dup_why, reason)
    return reason, _rejects(table, source, reason, column)
