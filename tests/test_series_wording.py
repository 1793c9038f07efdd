"""A customers-out series report speaks of readings and customers out, not of reports or Belgium.

The glossary keeps only the terms that apply to a series, t50 is read as the count falling
below a share of its peak, the Detection section names no statements, and the no-map
sentence names no Belgian geography when no place in the data resolves there.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from analysis import sections
from analysis.i18n import text
from analysis.impact_report import detection_html
from analysis.params import validate_params
from analysis.pipeline import Analysis, analyze
from tests.conftest import analyze_fast
from tests.test_evidence_reports import _html, _series_incident

LANGS = ("en", "fr", "nl")


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    root = tmp_path_factory.mktemp("series-wording")
    folder = _series_incident(root)
    params = validate_params(
        incident_dir=str(folder), output_dir=str(root / "out"), processed_dir=str(root / "processed"), n_boot=20
    )
    a = analyze(params)
    assert a.evidence == "online_fraction" and not a.has_geography
    return a


def _in(a: Analysis, lang: str) -> Analysis:
    return dataclasses.replace(a, params=dataclasses.replace(a.params, language=lang))


def _term(lang: str, key: str) -> str:
    return text(lang, f"gl_{key}").split("|", 1)[0]


@pytest.mark.parametrize("lang", LANGS)
def test_series_glossary_explains_only_what_a_series_uses(series: Analysis, lang: str) -> None:
    html = sections.glossary(lang, sections.glossary_terms(_in(series, lang)))
    for key in ("overdispersion", "pearson", "lisa", "curated", "eb", "pooling"):
        assert f"<dt>{_term(lang, key)}</dt>" not in html.replace("&#x27;", "'"), key
    meaning = text(lang, "gl_t50_series").split("|", 1)[1]
    assert meaning in html.replace("&#x27;", "'")
    assert text(lang, "gl_t50").split("|", 1)[1] not in html.replace("&#x27;", "'")
    # the down-report glossary keeps every term
    full = sections.glossary(lang).replace("&#x27;", "'")
    for key in ("overdispersion", "lisa", "curated"):
        assert f"<dt>{_term(lang, key)}</dt>" in full


def test_series_t50_is_read_against_the_peak() -> None:
    assert "below 50 % of the peak" in text("en", "gl_t50_series")
    assert "half of affected customers" not in text("en", "gl_t50_series")


@pytest.mark.parametrize("lang", LANGS)
def test_series_detection_names_no_statements(series: Analysis, lang: str) -> None:
    html = detection_html(_in(series, lang)).replace("&#x27;", "'")
    assert text(lang, "det_first_signal") not in html
    assert text(lang, "det_intro") not in html
    assert text(lang, "det_first_signal_series") in html
    assert text(lang, "det_intro_series") in html


@pytest.mark.parametrize("lang", LANGS)
def test_series_without_places_has_no_belgian_text(series: Analysis, lang: str) -> None:
    html = _html(sections.geography(_in(series, lang)))
    assert "belg" not in html.lower()
    assert text(lang, "s_no_geography_unplaced").replace("'", "&#x27;") in html


def test_whole_series_page_has_no_report_wording(series: Analysis) -> None:
    html = _html(sections.build_all(series))
    body = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    for phrase in ("earliest statement", "Belgium", "of affected customers had service again", "Overdispersion"):
        assert phrase not in body, phrase
    assert "below 50 % of the peak" in html


@pytest.mark.parametrize("lang", LANGS)
def test_geography_parts_of_a_series_names_no_belgian_geography(series: Analysis, lang: str) -> None:
    from analysis.spatial_report import geography_parts

    words = html.unescape(_html(geography_parts(_in(series, lang))))
    assert "belg" not in words.lower()
    assert text(lang, "s_no_geography_unplaced") in words


@pytest.mark.parametrize("lang", LANGS)
def test_down_reports_with_no_resolvable_place_name_no_belgian_geography(
    make_incident: Callable[..., Path], tmp_path: Path, lang: str
) -> None:
    from analysis.spatial_report import geography_parts

    content = "time,town\n" + "".join(f"2018-01-08 20:{i:02d},Qwrtzplk Vxjb\n" for i in range(0, 40, 2))
    folder = make_incident(content, source_extra='[sources.columns]\nreported_at = "time"\nplace = "town"\n')
    a = analyze_fast(folder, tmp_path / "processed", language=lang)
    assert a.down.height == 20 and not a.has_geography
    words = html.unescape(_html(geography_parts(a)))
    assert "belg" not in words.lower()
    assert text(lang, "no_geography_unplaced", n=20) in words
