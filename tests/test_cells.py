"""Cells of down reports (analysis.ingest.cells): additive over partitions, and the outlier limit from time counts."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from analysis.ingest.cells import CELL_SCHEMA, add_cells, anchor_counts, median_of_counts, report_cells

UTC = dt.UTC


def reports(n: int, *, seed: int = 1) -> pl.DataFrame:
    """Down and up reports with repeated times, windows, services, weights and unresolved places."""
    import numpy as np

    rng = np.random.default_rng(seed)
    start = dt.datetime(2018, 1, 8, 19, tzinfo=UTC)
    at = [start + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 30, n)]
    windowed = rng.random(n) < 0.3
    return pl.DataFrame(
        {
            "source": rng.choice(["a", "b"], n),
            "service": pl.Series(rng.choice(["TV", "internet", ""], n)).replace("", None),
            "status": rng.choice(["down", "up", "partial"], n),
            "reported_at": at,
            "reported_until": [t + dt.timedelta(hours=1) if w else None for t, w in zip(at, windowed, strict=True)],
            "geo_method": pl.Series(rng.choice(["exact", "unresolved", ""], n)).replace("", None),
            "weight": pl.Series(rng.choice([1, 2, 0], n)).replace(0, None),
        },
        schema_overrides={"reported_at": pl.Datetime("us", "UTC"), "reported_until": pl.Datetime("us", "UTC")},
    )


def test_cells_of_partitions_add_up_to_the_cells_of_the_whole() -> None:
    whole = reports(2000)
    parts = [whole[:700], whole[700:1500], whole[1500:]]
    merged = add_cells([report_cells(p) for p in parts])
    assert merged.schema == pl.Schema(CELL_SCHEMA)
    assert merged.equals(add_cells([report_cells(whole)]))
    assert merged.height < whole.height
    # rows and weights are kept: what the row counts and the weighted counts read
    assert merged["rows"].sum() == whole.height
    assert merged["weight"].sum() == whole["weight"].fill_null(1).sum()
    unresolved = whole.select((pl.col("geo_method").is_null() | (pl.col("geo_method") == "unresolved")).sum()).item()
    assert merged.filter("unresolved")["rows"].sum() == unresolved


def test_cells_taken_away_leave_the_rest() -> None:
    whole = reports(500, seed=2)
    minus = report_cells(whole[:100]).with_columns(pl.col("weight") * -1, pl.col("rows") * -1)
    assert add_cells([report_cells(whole), minus]).equals(add_cells([report_cells(whole[100:])]))


@pytest.mark.parametrize("n", [1, 2, 7, 10, 501])
def test_median_from_partition_counts_is_the_median_of_the_rows(n: int) -> None:
    whole = reports(n, seed=n).with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0).then(None).otherwise(pl.col("reported_at")).alias("reported_at")
    )
    expected = whole.select(pl.coalesce("reported_at", "reported_until").to_physical().median()).item()
    cut = n // 2
    got = median_of_counts([anchor_counts(whole[:cut], "down_reports"), anchor_counts(whole[cut:], "down_reports")])
    assert got == expected


def test_no_times_no_median() -> None:
    assert median_of_counts([]) is None
    assert median_of_counts([anchor_counts(reports(0), "down_reports")]) is None
