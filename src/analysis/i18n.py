"""Report language: labels, sentences and dates in the reader's language.

The words are the language's catalogue (:mod:`analysis.catalogues`, one ``<code>.toml`` per
language); a key missing in a catalogue falls back to English so a new label never breaks a
report. Dates, numbers and units are formatted here from the catalogue's CLDR locale (no
locale of the machine is used: a scheduler's locale must not change a report).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from analysis.catalogues import CATALOGUES, SOURCE, catalogue


class _Words(Mapping[str, Mapping[str, str]]):
    """Every label of every language, ``TEXT[language][key]``: a view of the catalogues' words."""

    def __getitem__(self, language: str) -> Mapping[str, str]:
        return CATALOGUES[language].words

    def __iter__(self) -> Iterator[str]:
        return iter(CATALOGUES)

    def __len__(self) -> int:
        return len(CATALOGUES)


#: Every label in every language (the catalogues' ``[words]``).
TEXT: Mapping[str, Mapping[str, str]] = _Words()


def text(language: str, key: str, **values: Any) -> str:
    """The label ``key`` in ``language`` (English if missing), formatted with ``values``."""
    template = catalogue(language).words.get(key) or CATALOGUES[SOURCE].words[key]
    return template.format(**values) if values else template


def cldr_locale(language: str) -> str:
    """The CLDR locale of a report language, from its catalogue (Belgian French and Dutch: the incidents are Belgian)."""
    return catalogue(language).locale


def decimal_mark(language: str) -> str:
    """The language's decimal separator (CLDR): '.' in English, ',' in French and Dutch."""
    if language == SOURCE:
        return "."
    from babel.numbers import get_decimal_symbol

    return str(get_decimal_symbol(cldr_locale(language)))


def format_time(t: dt.datetime | None, tz: str, language: str = "en", *, with_day: bool = True) -> str:
    """A UTC time as local wall-clock text: 'Monday 8 January 2018, 20:00 CET' (day and month names from CLDR)."""
    if t is None:
        return "—"
    local = t.astimezone(ZoneInfo(tz))
    clock = f"{local:%H:%M}"
    abbrev = local.tzname() or ""
    if not with_day:
        return f"{clock} {abbrev}".strip()
    return f"{_day(local, language, year=True)}{text(language, 'date_time_join')}{clock} {abbrev}".strip()


def _day(local: dt.datetime, language: str, *, year: bool) -> str:
    from babel.dates import format_datetime

    return format_datetime(local, "EEEE d MMMM y" if year else "EEEE d MMMM", tzinfo=local.tzinfo, locale=cldr_locale(language))


def format_date(t: dt.datetime | None, tz: str, language: str = "en") -> str:
    """The local day of a UTC time, without a clock time: 'Friday 2 March 2018'."""
    if t is None:
        return "—"
    return _day(t.astimezone(ZoneInfo(tz)), language, year=True)


def format_period(start: dt.datetime, end: dt.datetime, tz: str, language: str = "en") -> str:
    """A stretch of time as local text: 'Tuesday 9 January 06:00–12:00 CET', or two dates when it spans days.

    Across a clock change each end carries its own zone ('00:30 CET–03:00 CEST').

    The end is exclusive (a bin ending at midnight stays on its day), and the year is left
    out: a period is read next to the incident's own dates.
    """
    zone = ZoneInfo(tz)
    a, b = start.astimezone(zone), end.astimezone(zone)
    last = (end - dt.timedelta(microseconds=1)).astimezone(zone)
    # across a clock change each end names its own zone ("00:30 CET–03:00 CEST" is 90 minutes)
    zone_a = f" {a.tzname()}" if a.tzname() != b.tzname() and a.tzname() else ""
    if last.date() == a.date():
        return f"{_day(a, language, year=False)} {a:%H:%M}{zone_a}–{b:%H:%M} {b.tzname() or ''}".strip()
    to = text(language, "period_to")
    return f"{_day(a, language, year=False)} {a:%H:%M}{zone_a} {to} {_day(b, language, year=False)} {b:%H:%M} {b.tzname() or ''}".strip()


def _unit(value: int, unit: str, language: str) -> str:
    from babel.units import format_unit

    # a catalogue may name another locale for units: plain "en" gives what people write ("2 hr", "45 min")
    return format_unit(value, f"duration-{unit}", length="short", locale=catalogue(language).units_locale).replace(
        "\u202f", "\xa0"
    )


def longest_duration() -> float:
    """Minutes beyond which no duration is shown: the span limit (``POSTMORTEM_MAX_SPAN_DAYS``)."""
    from analysis.limits import limit

    return limit("MAX_SPAN_DAYS") * 1440


def format_duration(minutes: float | None, language: str = "en") -> str:
    """Minutes as people read them, with CLDR unit names: '45 min', '2 h 5 min', '2 days 3 h' (en dash when missing).

    A duration beyond the span limit (a model extrapolating to centuries) is shown as
    '> 366 days', never as its number.
    """
    if minutes is None or not math.isfinite(minutes):
        return "—"
    most = longest_duration()
    if minutes > most:
        return f"> {format_duration(most, language)}"
    m = round(minutes)
    if m < 90:
        return _unit(m, "minute", language)
    h, mm = divmod(m, 60)
    if h < 48:
        return f"{_unit(h, 'hour', language)} {_unit(mm, 'minute', language)}" if mm else _unit(h, "hour", language)
    d, hh = divmod(h, 24)
    return f"{_unit(d, 'day', language)} {_unit(hh, 'hour', language)}" if hh else _unit(d, "day", language)


def estimable(value: float | None, low: float | None = None, high: float | None = None) -> bool:
    """Whether a duration estimate can be shown: finite, within the span limit and inside its own interval."""
    if value is None or not math.isfinite(value) or value > longest_duration():
        return False
    slack = 1e-6 * max(1.0, abs(value))
    if low is not None and math.isfinite(low) and value < low - slack:
        return False
    return not (high is not None and math.isfinite(high) and value > high + slack)


def format_estimate(value: float | None, low: float | None, high: float | None, language: str = "en") -> str:
    """'2 h 5 min [1 h 40 min–3 h]'; 'not estimable' when :func:`estimable` says no.

    An interval end beyond the span limit reads '> 366 days'.
    """
    if not estimable(value, low, high):
        return text(language, "not_estimable")
    return f"{format_duration(value, language)} [{format_duration(low, language)}–{format_duration(high, language)}]"


def format_percent(x: float | None, digits: int = 0, language: str = "en") -> str:
    """A fraction as a percentage in the language's convention ('37%', '37 %'); non-finite: an en dash."""
    if x is None or not math.isfinite(x):
        return "—"
    if language == "en":
        return f"{100 * x:.{digits}f}%"
    from babel import Locale
    from babel.numbers import format_percent as babel_percent

    loc = cldr_locale(language)
    pattern = Locale.parse(loc).percent_formats[None].pattern
    if digits:
        pattern = pattern.replace("0", "0." + "0" * digits, 1) if "0" in pattern else pattern
    return babel_percent(x, format=pattern, locale=loc)


def format_percents(value: float | None, low: float | None, high: float | None, language: str = "en") -> tuple[str, str, str]:
    """An estimate and its interval as percentages, with just enough decimals to tell the bounds apart.

    '9% [9%–9%]' hides a real interval: it becomes '9.1% [8.8%–9.4%]' (at most two decimals).
    """
    digits = 0
    if all(x is not None and math.isfinite(x) for x in (low, high)) and low != high:
        while digits < 2 and format_percent(low, digits) == format_percent(high, digits):
            digits += 1
    return (
        format_percent(value, digits, language),
        format_percent(low, digits, language),
        format_percent(high, digits, language),
    )


def labelled_range(bracket: str, level: float, language: str = "en") -> str:
    """A headline's bracket named for what it is: '90% range [83 min–1 hr 30 min]' (empty stays empty).

    A bare bracket under a number reads as a minimum and a maximum; the label (and the
    glossary's "90 % range") says it is the range the true value lies in about 90 % of the time;
    anything that is not a bracket (a note) is returned as it is.
    """
    if not bracket.startswith("["):  # no bracket (a note such as "extrapolated: …") stays as written
        return bracket
    return text(language, "kpi_range", level=format_percent(level, 0, language), ci=bracket)


def format_count(x: float | None, language: str = "en") -> str:
    """A whole number with the language's grouping (CLDR): '12,500', '12 500', '12.500'; an en dash when missing."""
    if x is None or not math.isfinite(x):
        return "—"
    from babel.numbers import format_decimal

    return format_decimal(round(x), locale=cldr_locale(language)).replace("\u202f", "\xa0")


def format_number(x: float | None, digits: int = 2, language: str = "en") -> str:
    """A number to ``digits`` significant figures without scientific notation: 190, 0.0052, 12,000 (0,0052 in fr/nl).

    Missing or non-finite values are an en dash.
    """
    if x is None or not math.isfinite(x):
        return "—"
    v = float(f"{x:.{digits}g}")
    if abs(v) >= 10 ** (digits - 1):
        out = f"{v:,.0f}"
    else:
        decimals = max(digits - 1 - math.floor(math.log10(abs(v))), 0) if v else 0
        out = f"{v:.{decimals}f}"
    if language == "en":
        return out
    from babel.numbers import get_decimal_symbol, get_group_symbol

    loc = cldr_locale(language)
    return out.replace(",", "\0").replace(".", get_decimal_symbol(loc)).replace("\0", get_group_symbol(loc))
