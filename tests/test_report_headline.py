"""The headline cards of a model-led summary: brackets named as 90 % ranges, counts grouped as the language writes them."""

from __future__ import annotations

import dataclasses
import re

import pytest

from analysis.i18n import format_percent, labelled_range
from analysis.narrative import summary

LABEL = {"en": "range", "fr": "fourchette à", "nl": "-bereik"}


def _cards(html: str) -> list[tuple[str, str, list[str]]]:
    """(label, value, the small lines) of each card."""
    block = html.split('<div class="pm-kpis">', 1)[1]
    out = []
    for card in block.split('<div class="pm-kpi">')[1:]:
        label = card.split('<div class="l">', 1)[1].split("</div>", 1)[0]
        value = card.split('<div class="v">', 1)[1].split("</div>", 1)[0]
        small = re.findall(r'<div class="ci">(.*?)</div>', card)
        out.append((label, value, small))
    return out


@pytest.mark.parametrize("lang", ["en", "fr", "nl"])
def test_every_bracket_under_a_headline_is_labelled_as_a_range(spontaneous_analysis, lang: str) -> None:
    a = dataclasses.replace(spontaneous_analysis, params=dataclasses.replace(spontaneous_analysis.params, language=lang))
    cards = _cards(summary(a))
    brackets = [line for _, _, small in cards for line in small if "[" in line]
    assert len(brackets) >= 3  # t50, t90, t99 at least
    level = format_percent(a.params.level, 0, lang)
    assert all(level in line.split("[", 1)[0] and LABEL[lang] in line.split("[", 1)[0] for line in brackets), brackets


@pytest.mark.parametrize(("lang", "grouped"), [("en", "12,500"), ("fr", "12\xa0500"), ("nl", "12.500")])
def test_the_reports_card_groups_thousands(spontaneous_analysis, lang: str, grouped: str) -> None:
    metrics = {**spontaneous_analysis.metrics, "n_down_reports": 12500, "n_raw": 12600}
    a = dataclasses.replace(
        spontaneous_analysis, metrics=metrics, params=dataclasses.replace(spontaneous_analysis.params, language=lang)
    )
    label, value, _ = _cards(summary(a))[0]
    assert value == grouped, (label, value)


def test_labelled_range_leaves_notes_and_empty_alone() -> None:
    assert labelled_range("[83 min–1 hr 30 min]", 0.9) == "90% range [83 min–1 hr 30 min]"
    assert labelled_range("[1 h–2 h]", 0.9, "nl") == "90%-bereik [1 h–2 h]"
    assert labelled_range("", 0.9) == ""
    assert labelled_range("extrapolated: Tuesday 09:00", 0.9) == "extrapolated: Tuesday 09:00"
