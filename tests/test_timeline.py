from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from analysis.config import load_incident
from analysis.errors import ParameterError
from analysis.timeline import bin_reports, choose_bin_minutes, events_table
from analysis.timeparse import UTC_DTYPE

from .conftest import DEFAULT_INCIDENT

T0 = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)


def reports(rows: list[tuple[dt.datetime, dt.datetime | None, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"reported_at": [r[0] for r in rows], "reported_until": [r[1] for r in rows], "weight": [r[2] for r in rows]},
        schema={"reported_at": UTC_DTYPE, "reported_until": UTC_DTYPE, "weight": pl.Int64},
    )


def test_exact_reports_fall_in_their_bin_and_windows_spread() -> None:
    rows = [
        (T0 + dt.timedelta(minutes=5), None, 1),
        (T0 + dt.timedelta(minutes=65), None, 2),
        (T0, T0 + dt.timedelta(hours=2), 4),  # window over two one-hour bins
        (T0 + dt.timedelta(minutes=30), T0 + dt.timedelta(minutes=90), 1),  # half in each
    ]
    out = bin_reports(reports(rows), start=T0, end=T0 + dt.timedelta(hours=3), bin_minutes=60, timezone="Europe/Brussels")
    assert out["exact"].to_list() == [1.0, 2.0, 0.0]
    assert out["windowed"].to_list() == pytest.approx([2.5, 2.5, 0.0])
    assert out["total"].sum() == pytest.approx(8.0)
    assert out["local"][0] == dt.datetime(2018, 1, 8, 20, 0)


def test_reports_outside_the_span_are_not_counted() -> None:
    rows = [(T0 - dt.timedelta(hours=5), None, 1), (T0 + dt.timedelta(minutes=1), None, 1)]
    out = bin_reports(reports(rows), start=T0, end=T0 + dt.timedelta(hours=1), bin_minutes=30)
    assert out["exact"].sum() == 1


def test_bad_bins_are_parameter_errors() -> None:
    with pytest.raises(ParameterError):
        bin_reports(reports([]), start=T0, end=T0 + dt.timedelta(hours=1), bin_minutes=0)
    with pytest.raises(ParameterError):
        bin_reports(reports([]), start=T0, end=T0 - dt.timedelta(hours=1), bin_minutes=5)


def test_display_width_scales_with_span() -> None:
    assert choose_bin_minutes(T0, T0 + dt.timedelta(hours=3)) == 5
    assert choose_bin_minutes(T0, T0 + dt.timedelta(hours=48)) == 60


def test_events_table_combines_config_data_and_fit() -> None:
    inc = load_incident(DEFAULT_INCIDENT)
    rep = pl.DataFrame(
        {"reported_at": [T0, T0 + dt.timedelta(hours=30)], "reported_until": [None, None], "status": ["down", "down"]},
        schema={"reported_at": UTC_DTYPE, "reported_until": UTC_DTYPE, "status": pl.String},
    )
    table = events_table(inc, reports=rep, derived=[(T0 + dt.timedelta(hours=1), "t50", "fit")])
    assert table.height == len(inc.events) + 1 + 2 + 1
    assert table["time"].is_sorted()
    assert {"config", "data", "fit"} <= set(table["origin"].to_list())
    assert table.filter(pl.col("label") == "Last down report")["time"][0] == T0 + dt.timedelta(hours=30)
