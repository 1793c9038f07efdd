"""The words of the report: one catalogue file per language, each with exactly the English keys.

A language is its ``src/analysis/catalogues/<code>.toml`` (and its code in ``vocab.Language``
for the type checker): the last test adds German from a catalogue file written at test time
and builds the page in it, touching no other file.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import get_args

import plotly.graph_objects as go
import pytest

from analysis import sections
from analysis.catalogues import (
    CATALOGUES,
    FOLDER,
    PACKS,
    SOURCE,
    Catalogue,
    join_packs,
    languages,
    parse_catalogue,
    problems,
    read_catalogue,
    read_pack,
)
from analysis.errors import ParameterError
from analysis.vocab import Language

from .conftest import DEFAULT_INCIDENT, analyze_fast


def test_the_languages_are_the_catalogue_files_and_the_language_type() -> None:
    assert languages() == ("en", "fr", "nl")  # English first, the page order
    assert sorted(p.stem for p in FOLDER.glob("*.toml")) == sorted(languages())
    assert get_args(Language) == languages()  # the one line beside a new catalogue


@pytest.mark.parametrize("code", sorted(CATALOGUES))
def test_every_catalogue_has_exactly_the_english_keys(code: str) -> None:
    found = CATALOGUES[code]
    assert problems(found, CATALOGUES[SOURCE]) == []
    assert found.code == code and found.name and found.locale
    assert len(found.words) > 400 and len(found.phrases) > 90 and len(found.sentences) > 40


def test_a_missing_extra_or_misshapen_entry_is_named() -> None:
    text = (FOLDER / "fr.toml").read_text(encoding="utf-8")
    broken = text.replace('\nsummary = "Résumé"\n', '\nsummarry = "Résumé"\n')
    broken = broken.replace("{n_reports} enregistrements", "{n_report} enregistrements")
    broken = broken.replace('\nBelgium = "Belgique"\n', "\n")
    first_shape = re.search(r"\[\[sentences\]\]\nen = .*\ntext = .*\n", broken)
    assert first_shape is not None
    broken = broken.replace(first_shape.group(0), "", 1)
    found = problems(join_packs({"fr": parse_catalogue(broken, "fr.toml")}, strict=False)["fr"], CATALOGUES[SOURCE])
    assert "fr: words.summary: missing (English: 'Executive summary')" in found
    assert "fr: words.summarry: not a key of the English catalogue" in found
    assert "fr: phrases.Belgium: missing (English: 'Belgium')" in found
    assert any(f.startswith("fr: words.coverage_line: placeholders") and "'n_report'" in f for f in found)
    assert any(f.startswith("fr: sentences: missing ") and "covers (.+?) only" in f for f in found)
    assert len(found) == 5


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        (
            "fr.toml",
            'code = "fr"\nname = "Français"\nlocale = "fr_BE"\n[words]\nsummary = 3\n',
            "fr.toml: words.summary: expected a string, got int",
        ),
        ("fr.toml", 'code = "fr"\nname = "Français"\n', "fr.toml: locale: required, a non-empty string"),
        ("fr.toml", 'code = "fr"\nname = "F"\nlocale = "fr_BE"\ncolour = "blue"\n', "fr.toml: colour: unknown key(s)"),
        (
            "fr.toml",
            'code = "fr"\nname = "F"\nlocale = "fr_BE"\n[[sentences]]\nen = "("\ntext = "x"\n',
            "fr.toml: sentences[1].en: not a regular expression",
        ),
        (
            "fr.toml",
            'code = "fr"\nname = "F"\nlocale = "fr_BE"\n[[sentences]]\nen = \'(a)\'\ntext = \'\\2\'\n',
            "fr.toml: sentences[1].text: not a replacement",
        ),
        (
            "fr.toml",
            'code = "fr"\nname = "F"\nlocale = "fr_BE"\n[[sentences]]\nen = "a"\n',
            "fr.toml: sentences[1].text: expected a string",
        ),
        ("de.toml", 'code = "fr"\nname = "F"\nlocale = "fr_BE"\n', "de.toml: code: 'fr', but the file is named for 'de'"),
        ("fr.toml", 'code = "fr"\nname = \n', "fr.toml: not TOML"),
    ],
)
def test_a_malformed_catalogue_is_one_line_naming_its_file_and_key(tmp_path: Path, name: str, body: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        read_catalogue(path)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- a language from its catalogue alone

GERMAN = {
    "summary": "Zusammenfassung",
    "timeline": "Zeitverlauf",
    "geography": "Geografie",
    "date_time_join": " um ",
}
GERMAN_TITLE = "Proximus-TV-Störung vom 8. Januar 2018 (Belgien)"


def _german_catalogue() -> str:
    """de.toml as a translator starts it: en.toml with the code, name and locale changed and a few words translated."""
    text = (FOLDER / "en.toml").read_text(encoding="utf-8")
    text = text.replace('code = "en"', 'code = "de"').replace('name = "English"', 'name = "Deutsch"')
    text = text.replace('locale = "en_GB"', 'locale = "de_DE"')
    text = re.sub(r"^unit_locale = .*\n", "", text, flags=re.M)
    for key, words in GERMAN.items():
        text, n = re.subn(rf"^{key} = .*$", f'{key} = "{words}"', text, count=1, flags=re.M)
        assert n == 1, key
    text = text.replace('\nBelgium = "Belgium"\n', '\nBelgium = "Belgien"\n')
    for path in sorted(PACKS.glob("*.toml")):  # the word packs' keys, which the parity check lists as missing
        extra = "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in read_pack(path)[SOURCE].items())
        text = text.replace("\n[words]\n", "\n[words]\n" + extra, 1)
    # a shape of the statistics' sentences not yet translated is still a decision: here a marker
    return re.sub(r"^(\[\[(?:figure_)?sentences\]\]\nen = .*)$", r'\1\ntext = "[de]"', text, flags=re.M)


@pytest.fixture
def german(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Catalogue:
    """German, read from a de.toml in a temporary folder and added for the test only."""
    path = tmp_path / "de.toml"
    path.write_text(_german_catalogue(), encoding="utf-8")
    found = read_catalogue(path)
    assert problems(found, CATALOGUES[SOURCE]) == []
    monkeypatch.setitem(CATALOGUES, "de", found)
    return found


def test_a_language_without_a_catalogue_is_refused(tmp_path: Path) -> None:
    from analysis.params import validate_params

    with pytest.raises(ParameterError, match="parameter 'language': expected one of en, fr, nl, got 'de'"):
        validate_params(incident_dir=str(DEFAULT_INCIDENT), processed_dir=str(tmp_path), language="de")


def test_a_language_is_added_by_its_catalogue_alone(german: Catalogue, tmp_path: Path) -> None:
    """German from its catalogue: parameters, incident.toml, page names and links, every section, dates, numbers, figures."""
    from analysis.figure_text import translate_text
    from analysis.htmlexport import OfflineRenderer, plotly_config, plotly_locale_js
    from analysis.i18n import format_count, format_number
    from analysis.languages import language_links, page_name
    from analysis.report import _languages

    from .test_languages import catalogue_sentinels, english_words, visible

    assert languages() == ("en", "fr", "nl", "de")
    assert _languages("en", ("en", "de")) == ("en", "de")  # what `postmortem render` accepts
    assert page_name("de") == "postmortem.de.html"
    links = language_links("en", ["en", "de"])
    assert 'href="postmortem.de.html" hreflang="de" lang="de">Deutsch</a>' in links

    folder = tmp_path / "incident"
    shutil.copytree(DEFAULT_INCIDENT, folder)
    toml = folder / "incident.toml"
    body = toml.read_text(encoding="utf-8")
    assert "\ntitle.nl = " in body
    toml.write_text(body.replace("\ntitle.nl = ", f'\ntitle.de = "{GERMAN_TITLE}"\ntitle.nl = ', 1), encoding="utf-8")
    a = analyze_fast(folder, tmp_path / "processed", language="de")  # validate_params accepts "de"
    assert a.params.language == "de"

    renderer = OfflineRenderer("de")
    parts = sections.build_all(a)
    figures = [p for p in parts if isinstance(p, go.Figure)]
    assert len(figures) > 3
    html = "\n".join(renderer.to_mimebundle(p.to_plotly_json())["text/html"] if isinstance(p, go.Figure) else p for p in parts)
    assert f"<h1>{GERMAN_TITLE}</h1>" in html  # the analyst's own title in German (incident.toml)
    for words in ("Zusammenfassung", "Zeitverlauf", "Geografie"):
        assert f">{words}</h2>" in html
    assert "Montag 8 Januar 2018 um 20:00 CET" in html  # CLDR day and month names, the catalogue's joining word
    assert "Executive summary" in catalogue_sentinels("de") and "Executive summary" not in visible(html)
    assert english_words(visible(html), "de") == english_words(visible(html))  # no translated label left in English

    # numbers, units and plotly's locale follow the catalogue's CLDR locale; figures use its phrases
    assert format_count(12500, "de") == "12.500" and format_number(0.0052, 2, "de") == "0,0052"
    assert plotly_config("de")["locale"] == "de"
    script = plotly_locale_js("de")
    assert '"name": "de"' in script and '"Montag"' in script and '"decimal": ","' in script
    assert translate_text("Belgium", "de") == "Belgien"
