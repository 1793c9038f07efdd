"""Row warnings (the ``issues`` ingest keeps on an accepted row) are worded in every catalogue."""

from __future__ import annotations

import string
from collections.abc import Callable
from pathlib import Path

import pytest

from analysis.catalogues import CATALOGUES, SOURCE
from analysis.catalogues.row_warnings import PREFIX, translate_warnings, warning_text
from analysis.config import load_incident
from analysis.ingest import ingest_incident
from analysis.sentences import localize

KEYS = sorted(k.removeprefix(PREFIX) for k in CATALOGUES[SOURCE].words if k.startswith(PREFIX))
OTHERS = [code for code in CATALOGUES if code != SOURCE]
# values as a file may hold them: quotes, a decimal point, a separator-like comma, a time zone
SAMPLE = {"value": "kap'ot (x)", "lat": "95.5", "lon": "4,3", "timezone": "Europe/Brussels"}


def _filled(template: str) -> str:
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return template.format(**{n: SAMPLE[n] for n in names})


def _english_pieces(language: str) -> list[str]:
    """The literal English wording of each warning that the language does not share."""
    pieces = []
    for key in KEYS:
        english, theirs = CATALOGUES[SOURCE].words[PREFIX + key], CATALOGUES[language].words[PREFIX + key]
        longest = max((literal for literal, _, _, _ in string.Formatter().parse(english)), key=len)
        if longest not in theirs:
            pieces.append(longest)
    return pieces


def test_there_are_row_warnings_and_other_languages() -> None:
    assert len(KEYS) >= 10
    assert OTHERS, "no language besides English to check"


@pytest.mark.parametrize("language", OTHERS)
@pytest.mark.parametrize("key", KEYS)
def test_each_warning_reads_in_the_language_with_its_values_as_written(key: str, language: str) -> None:
    english = _filled(CATALOGUES[SOURCE].words[PREFIX + key])
    expected = _filled(CATALOGUES[language].words[PREFIX + key])
    assert expected != english, f"{language}: {PREFIX}{key} is not translated"
    assert localize(english, language) == (expected, True)


@pytest.mark.parametrize("language", OTHERS)
def test_warnings_joined_on_one_row_are_each_translated(language: str) -> None:
    english = [_filled(CATALOGUES[SOURCE].words[PREFIX + k]) for k in KEYS]
    words = [_filled(CATALOGUES[language].words[PREFIX + k]) for k in KEYS]
    out, hit = translate_warnings("; ".join(english), CATALOGUES[language])
    assert hit
    assert out == "; ".join(words)


def test_english_and_unknown_text_pass_through() -> None:
    english = warning_text("area_level_unknown", value="street")
    assert english == "unknown area level 'street'"
    assert localize(english, SOURCE) == (english, True)
    assert translate_warnings("something else entirely", CATALOGUES[OTHERS[0]]) == ("something else entirely", False)
    # a value holding the separator is not split into notes: that warning stays English
    odd = warning_text("area_level_unknown", value="a; b")
    assert translate_warnings(odd, CATALOGUES[OTHERS[0]]) == (odd, False)
    # a warning inside other text is not a row's note: left alone
    assert translate_warnings(f"see {english} here", CATALOGUES[OTHERS[0]])[1] is False


def test_ingest_writes_the_english_warnings_every_page_translates(make_incident: Callable[..., Path]) -> None:
    content = (
        "time,town,lat,lon,status,service,url,level\n"
        "2018-01-08 20:05,Namur,95,4.4,kapot,radio,javascript:x,street\n"
        "2018-01-08 20:06,Liège,50.6,,down,tv,https://example.org/a,\n"
    )
    extra = (
        '[sources.columns]\nreported_at = "time"\nplace = "town"\nlat = "lat"\nlon = "lon"\n'
        'status = "status"\nservice = "service"\nurl = "url"\narea_level = "level"\n'
    )
    result = ingest_incident(load_incident(make_incident(content, source_extra=extra)), geocode=False)
    issues = result.reports.sort("source_row")["issues"].to_list()
    assert issues[0] == "; ".join(
        [
            warning_text("coordinates_out_of_range", lat="95", lon="4.4"),
            warning_text("area_level_unknown", value="street"),
            warning_text("status_unknown", value="kapot"),
            warning_text("service_unknown", value="radio"),
            warning_text("url_not_a_link"),
        ]
    )
    assert issues[1] == warning_text("latitude_alone", lat="50.6")
    for language in OTHERS:
        for issue in issues:
            out, hit = localize(issue, language)
            assert hit
            # no English wording survives: each note is in the language's own words
            assert not [piece for piece in _english_pieces(language) if piece in out], out
