"""The SECTIONS registry is the page's one list of sections: the notebook, the headings and the contents follow it."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from analysis import sections
from analysis.config import NOTEBOOKS
from analysis.htmlexport import add_toc
from analysis.i18n import TEXT, text
from analysis.sections import SECTIONS

CALL = re.compile(r"^sections\.show\(sections\.(\w+)\(a\)\)$")
H2 = re.compile(r'<h2 id="([^"]+)">(.*?)</h2>', re.S)


def _notebook_sections() -> list[str]:
    """The section each code cell of notebooks/postmortem.ipynb shows, read from the .ipynb (no kernel)."""
    nb = json.loads((NOTEBOOKS / "postmortem.ipynb").read_text(encoding="utf-8"))
    calls = []
    for cell in nb["cells"]:
        source = "".join(cell["source"]).strip()
        if cell["cell_type"] == "code" and "sections.show" in source:
            m = CALL.match(source)
            assert m, f"a section cell shows one section and nothing else: {source!r}"
            calls.append(m.group(1))
    return calls


def test_the_notebook_has_one_cell_per_section_in_registry_order() -> None:
    assert _notebook_sections() == [s.id for s in SECTIONS]


def test_every_entry_names_its_builder_and_words_in_every_language() -> None:
    ids = [s.id for s in SECTIONS]
    assert len(ids) == len(set(ids))
    anchors = sections.anchors()
    assert len(anchors) == len(set(anchors))
    for s in SECTIONS:
        assert getattr(sections, s.id) is s.build, s.id
        for _, key in s.headings:
            for lang in ("en", "fr", "nl"):
                assert key in TEXT[lang], f"{s.id}: heading {key!r} has no {lang} words"
    assert sections.section("timeline").anchor == "timeline"
    with pytest.raises(KeyError, match="known: header, summary"):
        sections.section("nope")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_heading_on_the_page_is_declared_by_its_section(default_analysis, lang: str) -> None:
    """Each builder writes the headings the registry declares for it, worded by the declared keys."""
    b = dataclasses.replace(default_analysis, params=dataclasses.replace(default_analysis.params, language=lang))
    seen = []
    for s in SECTIONS:
        html = "\n".join(p for p in s.build(b) if isinstance(p, str))
        declared = dict(s.headings)
        for anchor, words in H2.findall(html):
            assert anchor in declared, f"section {s.id} writes an undeclared heading {anchor!r}"
            allowed = {text(lang, key) for key in (declared[anchor], *s.variants)}
            assert words in allowed, (s.id, words, allowed)
            seen.append(anchor)
    # the default incident has every section (its communications review sets the statements beside each announcement)
    assert seen == list(sections.anchors())


def test_contents_follow_the_registry_not_the_page_order() -> None:
    page = "".join(
        f'<div class="jp-Cell"><h2 id="{a}">{a.title()}</h2></div>' for a in ("methods", "summary", "stray", "timeline")
    )
    nav = add_toc(page, title="Contents")
    assert re.findall(r'href="#([^"]+)"', nav) == ["summary", "timeline", "methods", "stray"]
    assert nav.index('<nav class="pm-toc"') < nav.index('<h2 id="methods">')
