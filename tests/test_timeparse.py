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
    assert utc[1] is None
    assert why[1] is not None
    assert "does not exist" in why[1]
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
    assert why[1] is not None
    assert "unreadable" in why[1]
    assert "nonsense" in why[1]
    assert why[2] == why[3] == "missing time"


def test_datetime_columns_pass_through() -> None:
    aware = pl.Series("t", [dt.datetime(2018, 1, 8, 20, tzinfo=dt.timezone(dt.timedelta(hours=1)))])
    r = parse_times(aware, timezone="Europe/Brussels")
    assert r.utc.to_list() == [dt.datetime(2018, 1, 8, 19, tzinfo=UTC)]
    naive = pl.Series("t", [dt.datetime(2018, 1, 8, 20)])
    assert parse_times(naive, timezone="Europe/Brussels").utc.to_list() == [dt.datetime(2018, 1, 8, 19, tzinfo=UTC)]


def test_a_date_without_time_is_the_whole_local_day() -> None:
    r = parse_times(pl.Series("t", ["2018-01-09", "2018-01-09 10:00"]), timezone="Europe/Brussels")
    assert r.utc.to_list() == [dt.datetime(2018, 1, 8, 23, tzinfo=UTC), dt.datetime(2018, 1, 9, 9, tzinfo=UTC)]
    assert r.until is not None
    assert r.until.to_list() == [dt.datetime(2018, 1, 9, 23, tzinfo=UTC), None]


def test_offsets_in_every_common_spelling() -> None:
    values = [
        "2018-01-08 20:05 +01:00",
        "2018-01-08 20:05+0100",
        "2018-01-08T20:05+01",
        "2018-01-08 19:05 UTC",
        "2018-01-08 19:05 GMT",
        "2018-01-08 19:05z",
    ]
    utc, why = parse(values)
    assert utc == [dt.datetime(2018, 1, 8, 19, 5, tzinfo=UTC)] * len(values)
    assert why == [None] * len(values)


def test_implausible_years_are_unreadable_and_two_digit_years_are_this_century() -> None:
    utc, why = parse(["08/01/18 20:15", "0018-01-08 20:15", "2218-01-08 20:15"])
    assert utc[0] == dt.datetime(2018, 1, 8, 19, 15, tzinfo=UTC)
    assert utc[1:] == [None, None]
    assert all(w is not None and "unreadable" in w for w in why[1:])


def test_a_value_contradicting_the_columns_day_month_order_is_rejected_not_flipped() -> None:
    utc, why = parse(["13/01/2018 10:00", "14/01/2018 10:00", "01/15/2018 10:00", "05/01/2018 10:00"])
    assert [t.day if t else None for t in utc] == [13, 14, None, 5]
    assert why[2] is not None
    assert "reads dates day-first" in why[2]


def test_an_ambiguous_time_kept_carries_a_note() -> None:
    r = parse_times(pl.Series("t", ["2018-10-28 02:30", "2018-10-28 04:30"]), timezone="Europe/Brussels")
    assert r.note is not None
    assert r.note[0] is not None
    assert "first pass" in r.note[0]
    assert r.note[1] is None


def test_an_unusable_time_format_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="time_format '%Y %H' is not usable"):
        parse(["2018 20"], time_format="%Y %H")


def test_repeated_values_are_parsed_once_and_align_with_the_input() -> None:
    base = ["2018-01-08 20:05", None, "nonsense", "2018-03-25 02:30", "08/01/2018 21:00"]
    values = base * 2000
    r = parse_times(pl.Series("t", values), timezone="Europe/Brussels")
    single = parse_times(pl.Series("t", base), timezone="Europe/Brussels")
    assert r.utc.to_list() == single.utc.to_list() * 2000
    assert r.reason.to_list() == single.reason.to_list() * 2000


def test_unix_time_in_seconds_and_milliseconds_is_an_instant() -> None:
    values = pl.Series("t", ["1515438000", "1515438000250", "1515438000.5", "2018-01-08 20:00", "9999999999", "0123456789"])
    r = parse_times(values, timezone="Europe/Brussels")
    utc = dt.UTC
    assert r.utc.to_list()[:4] == [
        dt.datetime(2018, 1, 8, 19, 0, tzinfo=utc),
        dt.datetime(2018, 1, 8, 19, 0, 0, 250000, tzinfo=utc),
        dt.datetime(2018, 1, 8, 19, 0, 0, 500000, tzinfo=utc),
        dt.datetime(2018, 1, 8, 19, 0, tzinfo=utc),  # wall-clock 20:00 CET, the same instant
    ]
    # out of the plausible range (year 2286; 1973): unreadable, never a silent date
    assert r.utc.to_list()[4:] == [None, None]
    assert all(x.startswith("unreadable time") for x in r.reason.to_list()[4:])


def test_integer_columns_of_unix_time_are_read_too() -> None:
    r = parse_times(pl.Series("t", [1515438000, 1515441600]), timezone="UTC")
    assert r.utc.to_list() == [dt.datetime(2018, 1, 8, 19, tzinfo=dt.UTC), dt.datetime(2018, 1, 8, 20, tzinfo=dt.UTC)]


@pytest.mark.parametrize(
    "values",
    [
        # mostly distinct: every value votes (two month-first proofs beat one day-first)
        ["01/02/2018 10:00", "01/13/2018 10:00", "01/14/2018 10:00", "13/01/2018 10:00"],
        # mostly repeated: each distinct value votes once (the repeated day-first proof is one vote)
        ["01/02/2018 10:00"] + ["13/01/2018 10:00"] * 6 + ["01/13/2018 10:00", "01/14/2018 10:00"],
    ],
)
def test_the_order_from_counts_is_the_order_of_a_whole_read(values: list[str]) -> None:
    from analysis.timeparse import column_month_first

    whole = parse_times(pl.Series("t", values), timezone="UTC")
    counts = pl.Series("t", values).value_counts()
    month_first = column_month_first(counts["t"], counts["count"])
    first = whole.utc[0]
    assert (first.month, first.day) == ((1, 2) if month_first else (2, 1))
