"""The communications review of an incident whose evidence is curated statements: no curve, counts after each announcement."""

import dataclasses
import html
import re

import pytest

from analysis import sections
from analysis.facts import after_declaration


def _text(parts: list) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", "\n".join(p for p in parts if isinstance(p, str)))))


def test_each_announcement_is_set_beside_the_statements_after_it(default_analysis) -> None:
    a = default_analysis
    page = _text(sections.communications(a))
    assert "Communications review" in page
    assert "%" not in page  # no share still out from a curve that measures when statements were made
    announcements = a.incident.announcements
    assert len(announcements) >= 4
    for e in announcements:
        assert e.label in page
    # the row of the 22:30 "resolved" declaration carries the same count as the after-declaration fact
    resolved = next(e for e in announcements if "22:30" in e.label)
    after = after_declaration(a.service_down, resolved.time)
    assert after["reports_after"] > 0
    row = page[page.index(resolved.label) :]
    cell = (
        f"{after['reports_after']} (+{after['reports_possibly_after']})"
        if after["reports_possibly_after"]
        else str(after["reports_after"])
    )
    assert row.split(resolved.label, 1)[1].strip().startswith(cell), row[:200]


@pytest.mark.parametrize(("lang", "title"), [("fr", "Revue des communications"), ("nl", "communicatie")])
def test_the_review_is_in_the_readers_language(default_analysis, lang: str, title: str) -> None:
    b = dataclasses.replace(default_analysis, params=dataclasses.replace(default_analysis.params, language=lang))
    page = _text(sections.communications(b))
    assert title.lower() in page.lower()
    assert "Statements after" not in page and "Last statement" not in page
