from __future__ import annotations

import datetime as dt
import string

import pytest

from analysis.i18n import TEXT, format_duration, format_number, format_percent, format_percents, format_time, text


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_every_label_is_translated_with_the_same_placeholders(language: str) -> None:
    assert set(TEXT[language]) == set(TEXT["en"])
    for key, english in TEXT["en"].items():
        fields = {f for _, f, _, _ in string.Formatter().parse(english) if f}
        translated = {f for _, f, _, _ in string.Formatter().parse(TEXT[language][key]) if f}
        assert fields == translated, key


def test_dates_are_local_and_localised() -> None:
    t = dt.datetime(2018, 1, 8, 21, 30, tzinfo=dt.UTC)
    assert format_time(t, "Europe/Brussels", "en") == "Monday 8 January 2018, 22:30 CET"
    assert format_time(t, "Europe/Brussels", "fr") == "lundi 8 janvier 2018 à 22:30 CET"
    assert format_time(t, "Europe/Brussels", "nl") == "maandag 8 januari 2018 om 22:30 CET"
    summer = dt.datetime(2018, 7, 8, 20, 0, tzinfo=dt.UTC)
    assert format_time(summer, "Europe/Brussels", "en", with_day=False) == "22:00 CEST"


def test_durations_and_percentages() -> None:
    assert format_duration(45) == "45 min"

    # unit names from CLDR (Babel), not hand-written rules
    def d(minutes: float, lang: str = "en") -> str:
        return format_duration(minutes, lang).replace("\xa0", " ")  # a number and its unit never part

    assert d(125) == "2 hr 5 min"
    assert d(125, "fr") == "2 h 5 min"
    assert d(125, "nl") == "2 uur 5 min"
    assert d(120, "nl") == "2 uur"
    assert d(60 * 50, "fr") == "2 j 2 h"
    assert d(60 * 50, "nl") == "2 dagen 2 uur"
    assert format_duration(float("nan")) == "—"
    assert format_percent(0.374) == "37%"
    assert format_percent(0.9, 0, "fr") == "90\xa0%"  # French puts a space before %, one style per page
    assert format_percent(0.9, 0, "nl") == "90%"
    assert text("fr", "summary") == "Résumé"
    assert text("xx", "summary") == "Executive summary"


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (190.3, "190"),
        (0.00523, "0.0052"),
        (12345.0, "12,000"),
        (1.0, "1.0"),
        (53.2, "53"),
        (0.0, "0"),
        (float("nan"), "—"),
        (None, "—"),
    ],
)
def test_format_number_never_uses_scientific_notation(x: float | None, expected: str) -> None:
    assert format_number(x) == expected


def test_numbers_use_the_reader_decimal_comma() -> None:
    assert format_number(0.092, 2, "fr") == "0,092"
    assert format_number(0.092, 2, "nl") == "0,092"
    assert format_number(12345.0, 2, "nl") == "12.000"
    assert format_percents(0.0912, 0.0884, 0.0941, "nl") == ("9,1%", "8,8%", "9,4%")


def test_percent_intervals_get_decimals_only_when_the_bounds_would_look_equal() -> None:
    assert format_percents(0.761, 0.2251, 1.0) == ("76%", "23%", "100%")
    assert format_percents(0.0912, 0.0884, 0.0941) == ("9.1%", "8.8%", "9.4%")
    assert format_percents(0.5, 0.5, 0.5) == ("50%", "50%", "50%")
    assert format_percents(0.3, None, None) == ("30%", "—", "—")


def test_periods_name_the_day_once_or_both_days() -> None:
    from analysis.i18n import format_period

    start = dt.datetime(2018, 1, 9, 5, 0, tzinfo=dt.UTC)
    assert format_period(start, start + dt.timedelta(hours=6), "Europe/Brussels") == "Tuesday 9 January 06:00–12:00 CET"
    # an end at midnight closes the day it ends, it does not open the next one
    assert format_period(start + dt.timedelta(hours=15), start + dt.timedelta(hours=18), "Europe/Brussels", "fr") == (
        "mardi 9 janvier 21:00–00:00 CET"
    )
    assert format_period(start + dt.timedelta(hours=16), start + dt.timedelta(hours=22), "Europe/Brussels", "nl") == (
        "dinsdag 9 januari 22:00 tot woensdag 10 januari 04:00 CET"
    )


def test_a_period_across_a_clock_change_names_both_zones() -> None:
    from analysis.i18n import format_period

    # 30 March 2025: 02:00 CET became 03:00 CEST; 23:30-01:00 UTC is 90 minutes, not 2 h 30
    start = dt.datetime(2025, 3, 29, 23, 30, tzinfo=dt.UTC)
    assert format_period(start, start + dt.timedelta(minutes=90), "Europe/Brussels") == "Sunday 30 March 00:30 CET–03:00 CEST"
    # autumn: the same local hour twice, told apart by its zone
    start = dt.datetime(2025, 10, 26, 0, 30, tzinfo=dt.UTC)
    assert format_period(start, start + dt.timedelta(hours=1), "Europe/Brussels") == "Sunday 26 October 02:30 CEST–02:30 CET"
    start = dt.datetime(2025, 3, 29, 20, 0, tzinfo=dt.UTC)
    assert format_period(start, start + dt.timedelta(hours=6), "Europe/Brussels") == (
        "Saturday 29 March 21:00 CET to Sunday 30 March 04:00 CEST"
    )
    assert format_period(start, start + dt.timedelta(hours=2), "Europe/Brussels") == "Saturday 29 March 21:00–23:00 CET"


def test_every_reading_flag_of_a_series_is_named_in_each_language() -> None:
    from analysis.i18n import TEXT
    from analysis.recovery.outage_screen import DEFECTS, USED
    from analysis.series_report import flag_name

    for flag in {*DEFECTS, *USED, "before_onset", "after_end"}:
        names = {lang: flag_name(flag, lang) for lang in ("en", "fr", "nl")}
        assert all(f"flag_{flag}" in TEXT[lang] for lang in names), flag
        assert names["fr"] != names["en"] and names["nl"] != names["en"], names  # said in the report's language
