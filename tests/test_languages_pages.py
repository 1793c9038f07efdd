"""Whole pages in French and Dutch for every kind of evidence: no English left, figures included.

The default incident (down reports and curated statements), a restoration log and a
customers-out series are rendered in fr and nl; the visible text of the page and every
string of its figures (titles, axes, legends, hovers, buttons) must carry none of the
sentinel English words, and nothing may be left marked ``lang="en"`` but the link to the
English page. The fixture incidents carry their own title and event label in each
language, as an analyst would write them.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import plotly.graph_objects as go
import pytest

from analysis import sections
from analysis.htmlexport import OfflineRenderer
from analysis.languages import page_name

from .conftest import DEFAULT_INCIDENT, analyze_fast
from .test_evidence_reports import _restorations_incident, _series_incident
from .test_languages import english_words, figure_strings, visible

WORDS = {
    "fr": ('"Panne après la tempête"', '"Fournisseur : la plupart des clients rétablis"'),
    "nl": ('"Storing na de storm"', '"Netbeheerder: de meeste klanten hersteld"'),
}


def _in_every_language(folder: Path) -> Path:
    """The incident's title and event label written in en, fr and nl (as incident.toml allows)."""
    toml = folder / "incident.toml"
    body = toml.read_text(encoding="utf-8")
    body = body.replace('title = "Storm outage"', 'title.en = "Storm outage"\n' + "\n".join(
        f"title.{lang} = {words[0]}" for lang, words in WORDS.items()))  # fmt: skip
    body = body.replace('label = "Utility: most customers restored"', 'label.en = "Utility: most customers restored"\n' + "\n".join(
        f"label.{lang} = {words[1]}" for lang, words in WORDS.items()))  # fmt: skip
    toml.write_text(body, encoding="utf-8")
    return folder


def _leftovers(html: str, figures: list[str], lang: str) -> list[str]:
    """What is still English: sentinel words in the text or the figures, and anything marked lang="en"."""
    # the fixed sentinel list and the catalogue's labels (a row warning, a reading's flag in a hover among them)
    problems = [f"text: {line}: {english_words(line, lang)}" for line in visible(html).splitlines() if english_words(line, lang)]
    problems += [f"figure: {s}: {english_words(s, lang)}" for s in figures if english_words(s, lang)]
    marked = re.findall(r'<(\w+)[^>]*\blang="en"[^>]*>(.*?)</\1>', html, re.S)
    problems += [f'marked lang="en": {inner[:120]}' for _, inner in marked if inner.strip() != "English"]
    return problems


@pytest.fixture(scope="module", params=["restorations", "online_fraction"])
def analysis(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp(request.param)
    make = _restorations_incident if request.param == "restorations" else _series_incident
    return analyze_fast(_in_every_language(make(root / "data")), root / "processed")


@pytest.mark.parametrize("lang", ["fr", "nl"])
def test_every_section_of_a_restorations_or_series_report_is_translated(analysis, lang: str) -> None:
    """In-process: every section of SECTIONS, figures drawn through the page's renderer.

    The English page is built first, as a render does: what is computed once and shared
    across languages (the communications review) is then in English and must still be
    shown in the reader's language.
    """
    sections.build_all(analysis)
    b = dataclasses.replace(analysis, params=dataclasses.replace(analysis.params, language=lang))
    renderer = OfflineRenderer(lang)
    html = "\n".join(
        renderer.to_mimebundle(p.to_plotly_json())["text/html"] if isinstance(p, go.Figure) else p for p in sections.build_all(b)
    )
    assert _leftovers(html, figure_strings(html), lang) == []
    if analysis.evidence == "online_fraction":  # readings kept with a warning, and the flags of those left out
        assert {"fr": "nombre supérieur au total", "nl": "aantal boven het totaal"}[lang] in html
        assert "count exceeds total" not in html and "dropout" not in figure_strings(html)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["down_reports", "restorations", "online_fraction"])
def test_rendered_pages_in_french_and_dutch_have_no_english(kind: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """`postmortem render` of each kind of evidence; the fr and nl pages as written to disk."""
    from analysis.report import render

    root = tmp_path_factory.mktemp(kind)
    folder = {
        "down_reports": lambda: DEFAULT_INCIDENT,
        "restorations": lambda: _in_every_language(_restorations_incident(root / "data")),
        "online_fraction": lambda: _in_every_language(_series_incident(root / "data")),
    }[kind]()
    result = render(
        folder,
        out_root=root / "out",
        overrides={"processed_dir": str(root / "proc"), "n_boot": 20},
        languages=("en", "fr", "nl"),
    )
    for lang in ("fr", "nl"):
        html = (result.out_dir / page_name(lang)).read_text(encoding="utf-8")
        assert len(figure_strings(html)) > 20  # the figures were read
        assert _leftovers(html, figure_strings(html), lang) == [], lang
