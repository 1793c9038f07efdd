"""Languages side by side: one page per language, linked, formatted by CLDR, figures in the reader's locale."""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from analysis.catalogues import CATALOGUES, SOURCE
from analysis.figure_text import translate_figure, translate_text
from analysis.htmlexport import plotly_locale_js
from analysis.languages import page_name
from analysis.params import ReportParams
from analysis.recovery import FAMILIES

from .conftest import DEFAULT_INCIDENT
from .render_fixtures import write_incident

#: English words that must not appear in the French or Dutch page's visible text (outside
#: quoted sources, names and the data's own English paraphrases, which these pages do not show).
SENTINELS = (
    "Executive summary",
    "Timeline",
    "Geography",
    "Data quality",
    "Methods",
    "Provenance",
    "Root cause",
    "Action items",
    "Lessons",
    "Open questions",
    "Evidence appendix",
    "still affected",
    "reports",
    "statements",
    "whole country",
    "Flanders",
    "Wallonia",
    "local time",
    "hours",
    "the",
    "and",
    "with",
    "which",
    "Onset",
    "Recovery",
    "Detection",
    "Coverage",
    "Overdispersion",
    "not tested",
    "Reference data",
    "municipalities",
    "Belgium",
    "area",
    "region",
    "rows",
    "window",
    "pooled",
    "own fit",
    "unknown",
    "Customer",
    "outage",
    # restoration records and customers-out series
    "customers",
    "restoration",
    "restorations",
    "records",
    "readings",
    "fitted",
    "peak",
    "still affected",
    "replicates",
    "known time",
)


class _Visible(HTMLParser):
    """Visible text of a page: no script or style, and no element marked lang='en'."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style") or ("lang", "en") in attrs or (self._skip and tag == self._skip[-1]):
            self._skip.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skip and tag == self._skip[-1]:
            self._skip.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return "\n".join(parser.parts)


#: Keys of a plotly figure whose strings a reader sees (titles, names, labels, hovers, annotations, buttons).
FIGURE_TEXT_KEYS = frozenset({"text", "name", "hovertext", "hovertemplate", "ticktext", "label", "title", "prefix"})


def figure_strings(html: str) -> list[str]:
    """Every string a reader may see in the page's plotly figures (read from their ``Plotly.newPlot`` JSON).

    Data arrays, frame names and ids are left out; markup inside a string is dropped.
    """
    decoder = json.JSONDecoder()
    out: list[str] = []

    def walk(node: object, key: str | None) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k not in ("frames", "geojson", "customdata", "meta"):
                    walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key in FIGURE_TEXT_KEYS:
            out.append(re.sub(r"<[^>]+>|%\{[^}]*\}", " ", node))

    for m in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', html):
        data, end = decoder.raw_decode(html, m.end())
        layout, _ = decoder.raw_decode(html, html.index("{", end))
        walk(data, None)
        walk(layout, None)
    return out


def _catalogue_sentinels(lang: str) -> frozenset[str]:
    """The English catalogue's short labels (one to three words) that ``lang``'s catalogue translates and never uses.

    Driven by the catalogues: a label added to en.toml is looked for on every other page.
    """
    english, other = CATALOGUES[SOURCE], CATALOGUES[lang]
    used = "\n".join([*other.words.values(), *other.phrases.values(), *(t for _, t in other.sentences)])
    # labels only: the figures' phrases hold place names (Brussels, Limburg) that data and sources also write
    pairs = [(english.words[k], other.words.get(k)) for k in english.words]
    # the Provenance section lists the run's parameters by their names (model, propensity…): identifiers, not words
    names = {f.name for f in dataclasses.fields(ReportParams)}
    # and the models by their registry names (candidate table, "weights: exponential 0,24"): identifiers too;
    # the Methods paragraph names them in words (family_<name>)
    names |= set(FAMILIES)
    return frozenset(
        en
        for en, words in pairs
        if en not in names
        and re.fullmatch(r"[A-Za-z][a-z]{2,}(?: [a-z]{2,}){0,2}", en)
        and words != en
        and not re.search(rf"(?<![\w-]){re.escape(en)}(?![\w-])", used, re.IGNORECASE)
    )


_SENTINELS_SEEN: dict[tuple[str, int, int], frozenset[str]] = {}


def catalogue_sentinels(lang: str) -> frozenset[str]:
    """:func:`_catalogue_sentinels`, computed once per pair of catalogues (a page has thousands of lines to check)."""
    key = (lang, id(CATALOGUES[SOURCE]), id(CATALOGUES[lang]))
    if key not in _SENTINELS_SEEN:
        _SENTINELS_SEEN[key] = _catalogue_sentinels(lang)
    return _SENTINELS_SEEN[key]


def english_words(text: str, lang: str | None = None) -> list[str]:
    """The sentinel words in ``text``: the fixed list, and with ``lang`` the catalogue's (:func:`catalogue_sentinels`)."""
    words = sorted(set(SENTINELS) | (catalogue_sentinels(lang) if lang else set()))
    # a word inside a path (data/raw/…) or an identifier is not prose
    return [w for w in words if re.search(rf"(?<![\w/-]){re.escape(w)}(?![\w/-])", text)]


def test_figure_labels_translated_but_not_data_or_frame_names() -> None:
    fig = {
        "data": [{"name": "reports with a known time", "x": ["reports"], "hovertemplate": "%{y:.0f} reports<extra></extra>"}],
        "layout": {
            "xaxis": {"title": {"text": "local time (Europe/Brussels)"}},
            "sliders": [{"steps": [{"args": [["Mon 20:00"]], "label": "Mon 20:00"}]}],
        },
        "frames": [{"name": "Mon 20:00", "data": [{"name": "Flanders"}]}],
    }
    fr = translate_figure(fig, "fr")
    assert fr["data"][0]["name"] == "signalements à l'heure connue"
    assert fr["data"][0]["x"] == ["reports"]  # data untouched
    assert fr["data"][0]["hovertemplate"] == "%{y:.0f} signalements<extra></extra>"  # placeholders kept
    assert fr["layout"]["xaxis"]["title"]["text"] == "heure locale (Europe/Brussels)"
    step = fr["layout"]["sliders"][0]["steps"][0]
    assert step["label"] == "lun. 20:00" and step["args"] == [["Mon 20:00"]]
    assert fr["frames"][0]["name"] == "Mon 20:00" and fr["frames"][0]["data"][0]["name"] == "Flandre"
    assert translate_figure(fig, "en") is fig
    # a configured event label is never half-translated; its date is
    label = "6. Mon 08 Jan 22:00 — Cause given: power failure; reports said 1h30"
    assert translate_text(label, "nl") == "6. ma 08 jan 22:00 — Cause given: power failure; reports said 1h30"


@pytest.mark.parametrize(("lang", "decimal", "day"), [("fr", ",", "lundi"), ("nl", ",", "maandag")])
def test_plotly_locale_is_inlined_from_cldr(lang: str, decimal: str, day: str) -> None:
    js = plotly_locale_js(lang)
    spec = json.loads(js.split("Plotly.register(", 1)[1].rsplit(");", 1)[0])
    assert spec["name"] == lang and spec["format"]["decimal"] == decimal
    assert day in spec["format"]["days"] and spec["format"]["days"][0] != day  # plotly weeks start on Sunday
    assert "http" not in js
    assert plotly_locale_js("en") == ""


@pytest.fixture(scope="module")
def three_pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small fixture incident rendered in every language (one analysis, three notebook runs)."""
    from analysis.report import render

    root = tmp_path_factory.mktemp("languages")
    folder = write_incident(root / "data", "tiny")
    result = render(
        folder, out_root=root / "out", overrides={"processed_dir": str(root / "proc"), "n_boot": 20}, languages=("en", "fr", "nl")
    )
    return result.out_dir


@pytest.mark.slow
def test_languages_coexist_and_link_to_each_other(three_pages: Path) -> None:
    names = sorted(p.name for p in three_pages.iterdir())
    assert names == sorted(
        ["manifest.json", "metrics.json", "postmortem.ipynb", "postmortem.html", "postmortem.fr.html", "postmortem.nl.html"]
    )
    manifest = json.loads((three_pages / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["pages"] == {"en": "postmortem.html", "fr": "postmortem.fr.html", "nl": "postmortem.nl.html"}
    for lang in ("en", "fr", "nl"):
        page = (three_pages / page_name(lang)).read_text(encoding="utf-8")
        assert f'<html lang="{lang}"' in page or f'lang="{lang}"' in page.split(">", 2)[1]
        nav = page.split('<nav class="pm-langs"', 1)[1].split("</nav>", 1)[0]
        for other in {"en", "fr", "nl"} - {lang}:
            assert f'href="{page_name(other)}"' in nav
        assert 'aria-current="page"' in nav
        if lang != "en":
            assert "Plotly.register(" in page and f'"locale": "{lang}"' in page
    fr = visible((three_pages / "postmortem.fr.html").read_text(encoding="utf-8"))
    assert "Résumé" in fr and "Executive summary" not in fr


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["fr", "nl"])
def test_default_report_sections_have_no_untranslated_words(lang: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every section of the default incident's page in fr/nl: no sentinel English word, nothing left marked English."""
    import dataclasses

    from analysis import sections

    from .conftest import analyze_fast

    a = analyze_fast(DEFAULT_INCIDENT, tmp_path_factory.mktemp("proc"))
    b = dataclasses.replace(a, params=dataclasses.replace(a.params, language=lang))
    html = "\n".join(p for p in sections.build_all(b) if isinstance(p, str))
    text = visible(html)
    assert english_words(text, lang) == [], [line for line in text.splitlines() if english_words(line, lang)][:20]
    # nothing is left in English under a lang="en" mark either: every sentence of the default report is translated
    assert re.findall(r'<[^>]*\blang="en"[^>]*>[^<]{0,80}', html) == []


def test_origin_marker_on_maps() -> None:
    import plotly.graph_objects as go

    from analysis.config import load_incident
    from analysis.maps import add_origin

    origin = load_incident(DEFAULT_INCIDENT).origin
    fig = add_origin(go.Figure(), origin)
    (star,) = fig.data
    assert star.type == "scattergeo" and star.marker.symbol == "star"
    assert (star.lat[0], star.lon[0]) == (origin.lat, origin.lon) and "Evere" in star.text[0]
    assert add_origin(go.Figure(), None).data == ()
    fr = translate_figure(fig.to_plotly_json(), "fr")
    assert fr["data"][0]["hovertext"].endswith("(origine)")


@pytest.mark.parametrize("lang", ["en", "fr", "nl"])
def test_methods_glossary_explains_the_jargon(lang: str) -> None:
    from analysis.sections import GLOSSARY, glossary

    html = glossary(lang)
    assert html.count("<dt>") == len(GLOSSARY) == html.count("<dd>")
    for term in ("QAIC", "LISA", "t50"):
        assert term in html
    if lang != "en":
        assert english_words(visible(html), lang) == []


@pytest.mark.parametrize("lang", ["fr", "nl"])
def test_estimator_sentences_in_the_readers_language(lang: str) -> None:
    from analysis.sentences import localize, localized_html

    sentences = (
        "The 14 distinct statements come in groups of identical time or window (one article naming many places), so they "
        "carry less information than their number suggests (overdispersion 17.6); intervals widened and models compared "
        "allowing for it. The data do not single out one model (weights: exponential 0.24, loglogistic 0.12). Intervals are averaged "
        "over them. The data cannot separate a delay (15.6 h under gamma+delay) from a slow decline from the onset: "
        "delays from 0 to 21.5 h fit about as well.",
        "source 'press' covers Brussels, Wallonia only (9 of its reports come from it): Flanders is under-sampled, so its "
        "counts and rates are not comparable with the covered regions",
        "not performed: fewer than two regions have the 20 reports needed for a curve of their own (Flanders 9 reports, "
        "Wallonia 32 reports, Brussels 4 reports; 20 needed per region)",
    )
    for sentence in sentences:
        words, ok = localize(sentence, lang)
        assert ok and english_words(words, lang) == [], words
    assert {"fr": "Flandre", "nl": "Vlaanderen"}[lang] in localize(sentences[1], lang)[0]
    assert "17,6" in localize(sentences[0], lang)[0] and "17.6" not in localize(sentences[0], lang)[0]
    # a sentence no rule knows stays as written and is marked English for browsers and screen readers
    assert localized_html("Something new & unknown", lang) == '<span lang="en">Something new &amp; unknown</span>'
