"""Statistical machinery lives in the Methods appendix; the body keeps a plain sentence and a link.

The candidate-models table (AIC/QAIC, weights) and how the neighbourhood statistic was
computed (empirical-Bayes rates, contiguity, permutations) are read in Methods, in every
language; the recovery and geography sections point there.
"""

from __future__ import annotations

import dataclasses

import plotly.graph_objects as go
import pytest

from analysis import sections
from analysis.i18n import text


def _in(a, lang: str):
    return dataclasses.replace(a, params=dataclasses.replace(a.params, language=lang))


def _html(parts: list) -> str:
    return "\n".join(p.to_html(include_plotlyjs=False, full_html=False) if isinstance(p, go.Figure) else str(p) for p in parts)


@pytest.mark.parametrize("lang", ["en", "fr", "nl"])
def test_candidate_models_and_the_moran_method_are_in_methods_not_the_body(default_analysis, lang: str) -> None:
    a = _in(default_analysis, lang)
    body = _html(sections.recovery(a) + sections.geography(a))
    methods = _html(sections.methods(a))
    method_words = text(lang, "geo_moran_method")
    candidates = f">{text(lang, 'candidates')}</h3>"
    # the body: no table of candidates, no empirical-Bayes caption; a sentence linking to Methods
    assert candidates not in body and method_words not in body.replace("&#x27;", "'")
    assert body.count('href="#methods-candidates"') == 1 and body.count('href="#methods-neighbours"') == 1
    # Methods: both, under the anchors the body links to, with the candidate families as rows
    assert 'id="methods-candidates"' in methods and candidates in methods
    assert 'id="methods-neighbours"' in methods and method_words in methods.replace("&#x27;", "'")
    # the neighbourhood statistic itself (Moran's I, its p-value) is read in Methods too
    assert "Moran" not in body and "Moran" in methods
    for family in default_analysis.fit.candidates["family"].to_list():
        assert family in methods


@pytest.mark.parametrize(("lang", "header"), [("fr", "propension"), ("nl", "meldingsneiging")])
def test_the_sensitivity_table_speaks_the_reader_s_language(default_analysis, lang: str, header: str) -> None:
    a = _in(default_analysis, lang)
    assert a.fit.sensitivity is not None and a.fit.sensitivity.height
    html = _html(sections.diagnostics(a))
    assert f"<th>{header}</th>" in html
    for key in ("sens_h_propensity", "sens_h_model", "sens_default", "sens_flat"):
        if text(lang, key) != text("en", key):  # Dutch "model" is Dutch
            assert f">{text('en', key)}<" not in html, key
