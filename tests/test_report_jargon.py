"""The body of the post-mortem page speaks plainly; the statistics' terms stay in Methods and its glossary.

Each language's page of the default incident is built section by section (figures through the
page's renderer, so their hovers and buttons are read in the reader's language). Everything
before Methods — the text and every string of its figures — must carry none of the terms a
chair of the review meeting would have to look up (QAIC, overdispersion, Pearson residuals,
LISA, empirical Bayes, …); Methods must still carry the measures the body leaves out, and the
map hovers must write their numbers as the language does.
"""

from __future__ import annotations

import dataclasses
import re

import plotly.graph_objects as go
import pytest

from analysis import sections
from analysis.htmlexport import OfflineRenderer
from analysis.sentences import localize, plain

from .test_languages import figure_strings, visible

#: Terms of the statistics, per language (the glossary's own words for them included).
JARGON = {
    "en": ("QAIC", "AIC", "overdispersion", "Pearson", "LISA", "empirical Bayes", "empirical-Bayes", "Moran", "Poisson",
           "false discovery rate", "X²/df", "Spearman", "ρ", "permutation", "permutations", "partial pooling", "q-value",
           "q-values"),
    "fr": ("QAIC", "AIC", "surdispersion", "Pearson", "LISA", "Bayes empirique", "bayésien empirique", "Moran", "Poisson",
           "fausses découvertes", "X²/ddl", "Spearman", "ρ", "permutation", "permutations", "mise en commun partielle",
           "valeur q", "valeurs q"),
    "nl": ("QAIC", "AIC", "overdispersie", "Pearson", "LISA", "empirische Bayes", "Moran", "Poisson",
           "false discovery rate", "valse ontdekkingen", "X²/df", "Spearman", "Spearmans", "ρ", "permutatie", "permutaties",
           "permutatietest", "permutatie-p", "gedeeltelijke pooling", "q-waarde", "q-waarden"),
}  # fmt: skip
BODY_END = "methods"  # the first section that may speak of methods
#: A table column headed by a statistic's bare letter (a "q" or "p" column) is jargon in any language.
BARE_HEADER = re.compile(r"<th[^>]*>\s*[qp](?!\w)", re.IGNORECASE)


def _jargon(text: str, lang: str) -> list[str]:
    return [w for w in JARGON[lang] if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text, re.IGNORECASE)]


def _page(a, lang: str) -> tuple[str, str]:
    """The page of ``a`` in ``lang`` as (body, methods and after): HTML with its figures drawn."""
    b = dataclasses.replace(a, params=dataclasses.replace(a.params, language=lang))
    renderer = OfflineRenderer(lang)
    body: list[str] = []
    rest: list[str] = []
    for s in sections.SECTIONS:
        into = rest if s.id == BODY_END or rest else body
        into += [renderer.to_mimebundle(p.to_plotly_json())["text/html"] if isinstance(p, go.Figure) else p for p in s.build(b)]
    return "\n".join(body), "\n".join(rest)


@pytest.mark.parametrize("lang", ["en", "fr", "nl"])
def test_the_body_has_no_jargon_and_methods_keeps_the_measures(default_analysis, lang: str) -> None:
    body, rest = _page(default_analysis, lang)
    text_hits = {line: _jargon(line, lang) for line in visible(body).splitlines() if _jargon(line, lang)}
    figure_hits = {s: _jargon(s, lang) for s in figure_strings(body) if _jargon(s, lang)}
    assert text_hits == {} and figure_hits == {}
    assert BARE_HEADER.findall(body) == []
    # the distance tests and the areas' excess: plain findings in the body, their statistics in Methods
    assert re.search(r"\d+ (incidents|incident|storingen)\b|\d+ op \d+ storingen", visible(body))
    for term in ("Spearman", "ρ", JARGON[lang][-2]):  # the test's name, its statistic, the q-value
        assert term in visible(rest), term
    # the measures left out of the body are in Methods, with the glossary that explains them
    verdict = default_analysis.fit.verdict
    assert plain(verdict) != verdict  # the default incident's statements are clumped: there is something to move
    assert localize(verdict, lang)[0] in visible(rest).replace("\n", " ")
    assert _jargon(visible(rest), lang)  # the terms themselves: Methods and the glossary
    # the body still says what the measure found, in plain words
    assert localize(plain(verdict), lang)[0] in visible(body).replace("\n", " ")


@pytest.mark.parametrize("lang", ["fr", "nl"])
def test_map_hovers_write_numbers_as_the_language_does(default_analysis, lang: str) -> None:
    body, _ = _page(default_analysis, lang)
    hovers = [s for s in figure_strings(body) if ("attendu" if lang == "fr" else "verwacht") in s]
    assert hovers  # the observed-vs-expected hovers were read
    assert not [h for h in hovers if re.search(r"\d[eE][+-]\d", h)]  # no 4.4e+02
    # no English decimal point (a Dutch thousands dot is followed by exactly three digits: 10.000)
    assert not [h for h in hovers if re.search(r"\d\.(?!\d{3}(?!\d))\d", h)]
    assert any(re.search(r"\d,\d", h) for h in hovers)  # the decimal comma


@pytest.mark.parametrize(
    ("sentence", "body"),
    [
        (
            "The 13 distinct statements come in groups of identical time or window (one article naming many places), so they "
            "carry less information than their number suggests (overdispersion 14.7); intervals widened and models compared "
            "allowing for it. The data do not single out one model (weights: exponential 0.26, loglogistic 0.12). Intervals "
            "are averaged over them. The data cannot separate a delay (15.3 h under gamma+delay) from a slow decline from the "
            "onset: delays from 0 to 21.5 h fit about as well.",
            "The 13 distinct statements come in groups of identical time or window (one article naming many places), so they "
            "carry less information than their number suggests; intervals widened and models compared allowing for it. The "
            "data do not single out one model: intervals are averaged over the candidates. The data cannot separate a delay "
            "(15.3 h) from a slow decline from the onset: delays from 0 to 21.5 h fit about as well.",
        ),
        (
            "Reports vary more than a Poisson process around the fitted curve (overdispersion 3.2, Pearson X²/df on 14 df); "
            "intervals widened and models compared allowing for it.",
            "Reports vary more around the fitted curve than independent reports would; intervals widened and models compared "
            "allowing for it.",
        ),
        ("No overdispersion detected (Pearson X²/df 0.91 on 12 df). Restoration started after a delay of 20 min [5 min–40 min].",
         "Restoration started after a delay of 20 min [5 min–40 min]."),
        ("Too few reports to check for overdispersion; intervals assume Poisson variation.", ""),
        ("Relapses after the peak are kept in the fit and shown.", "Relapses after the peak are kept in the fit and shown."),
    ],
)  # fmt: skip
def test_plain_keeps_the_finding_and_drops_the_measure(sentence: str, body: str) -> None:
    assert plain(sentence) == body
    for lang in ("fr", "nl"):
        words, ok = localize(body, lang)
        assert ok or not body, (lang, words)
        assert _jargon(words, lang) == []


@pytest.mark.parametrize("lang", ["en", "fr", "nl"])
def test_a_model_led_body_has_no_jargon(spontaneous_analysis, lang: str) -> None:
    """The same statements as spontaneous reports: headline numbers from the model, brackets under them, no QAIC."""
    body, rest = _page(spontaneous_analysis, lang)
    text_hits = {line: _jargon(line, lang) for line in visible(body).splitlines() if _jargon(line, lang)}
    figure_hits = {s: _jargon(s, lang) for s in figure_strings(body) if _jargon(s, lang)}
    assert text_hits == {} and figure_hits == {}
    assert "QAIC" in visible(rest)  # how the intervals were computed: Methods


def test_the_formal_fit_test_is_in_methods_not_the_body(tmp_path) -> None:
    """Enough exactly timed reports for the time-rescaling test: its figure (KS band) in Methods, a plain pointer in the body."""
    import datetime as dt
    import math

    from .conftest import analyze_fast
    from .render_fixtures import write_incident

    start = dt.datetime(2018, 1, 8, 20, 0)
    towns = ("Evere", "Gent", "Liège", "Namur", "Brugge")
    times = [start + dt.timedelta(minutes=-60 * math.log(1 - (i + 0.5) / 60)) for i in range(60)]
    csv = "time,town\n" + "".join(f"{t:%Y-%m-%d %H:%M:%S},{towns[i % 5]}\n" for i, t in enumerate(times))
    a = analyze_fast(write_incident(tmp_path, "exact", csv=csv), tmp_path / "proc")
    assert len(a.fit.diagnostics.rescaled_times) >= sections.MIN_KS_POINTS

    def titles(parts: list) -> list[str]:
        return [str(p.layout.title.text) for p in parts if isinstance(p, go.Figure)]

    body, methods = sections.recovery(a), sections.methods(a)
    assert not any("Time-rescaling" in t for t in titles(body))
    assert any("Time-rescaling" in t for t in titles(methods))
    assert any("A formal test" in p for p in body if isinstance(p, str))
