from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from analysis.timeparse import parse_times

UTC = dt.UTC


def parse(values: list[str | None], **kw: object) -> tuple[list[dt.datetime | None], list[str | None]]:
    r = parse_times(pl.Series("t", values), timezone=kw.pop("timezone", "Europe/Brussels"), **kw)  # type: ignore[arg-type]
    return r.utc.to_list(), r.reason.to_list()


def test_naive_times_are_local_and_stored_in_utc() -> None:
    utc, why = parse(["2018-01-08 20:00", "2018-07-08 20:00"])
    assert utc == [dt.datetime(2018, 1, 8, 19, tzinfo=UTC), dt.datetime(2018, 7, 8, 18, tzinfo=UTC)]
    assert why == [None, None]


def test_offsets_and_z_are_instants() -> None:
    utc, _ = parse(["2018-01-08T20:00:00+01:00", "2018-01-08T19:00:00Z", "2018-01-08T22:00:00+03:00"])
    assert utc == [dt.datetime(2018, 1, 8, 19, tzinfo=UTC)] * 3


def test_mixed_offset_and_naive_in_one_column() -> None:
    utc, why = parse(["2018-01-08T20:00:00+01:00", "2018-01-08 20:00:00"])
    assert utc[0] == utc[1] == dt.datetime(2018, 1, 8, 19, tzinfo=UTC)
    assert why == [None, None]


def test_spring_forward_gap_is_rejected_with_reason() -> None:
    utc, why = parse(["2018-03-25 01:59", "2018-03-25 02:30", "2018-03-25 03:00"])
    assert utc[0] == dt.datetime(2018, 3, 25, 0, 59, tzinfo=UTC)
    assert utc[1] is None and why[1] is not None and "does not exist" in why[1]
    assert utc[2] == dt.datetime(2018, 3, 25, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("earliest", dt.datetime(2018, 10, 28, 0, 30, tzinfo=UTC)),
        ("latest", dt.datetime(2018, 10, 28, 1, 30, tzinfo=UTC)),
        ("reject", None),
    ],
)
def test_autumn_overlap_follows_the_policy(policy: str, expected: dt.datetime | None) -> None:
    utc, why = parse(["2018-10-28 02:30"], ambiguous=policy)
    assert utc == [expected]
    assert (why[0] is not None) == (policy == "reject")


def test_day_first_is_the_default_and_month_first_is_detected() -> None:
    utc, _ = parse(["08/01/2018 20:15", "09/01/2018 06:40"])
    assert [t.day for t in utc if t] == [8, 9]
    utc, _ = parse(["01/13/2018 10:00", "01/08/2018 10:00"])
    assert [(t.month, t.day) for t in utc if t] == [(1, 13), (1, 8)]


def test_explicit_format_and_unreadable_and_missing() -> None:
    utc, why = parse(["2018.01.08 20h15", "nonsense", None, "  "], time_format="%Y.%m.%d %Hh%M")
    assert utc[0] == dt.datetime(2018, 1, 8, 19, 15, tzinfo=UTC)
    assert utc[1:] == [None, None, None]
    assert why[1] is not None and "unreadable" in why[1] and "nonsense" in why[1]
    assert why[2] == why[3] == "missing time"


def test_datetime_columns_pass_through() -> None:
    aware = pl.Series("t", [dt.datetime(2018, 1, 8, 20, tzinfo=dt.timezone(dt.timedelta(hours=1)))])
    r = parse_times(aware, timezone="Europe/Brussels")
    assert r.utc.to_list() == [dt.datetime(2018, 1, 8, 19, tzinfo=UTC)]
    naive = pl.Series("t", [dt.datetime(2018, 1, 8, 20)])
    assert parse_times(naive, timezone="Europe/Brussels").utc.to_list() == [dt.datetime(2018, 1, 8, 19, tzinfo=UTC)]
