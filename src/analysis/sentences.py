"""Sentences the statistics modules write in English, in the reader's language.

The estimators (:mod:`analysis.recovery`, :mod:`analysis.spatial`,
:mod:`analysis.spatial_recovery`) describe what they did in plain English sentences that
also go to ``metrics.json``. On another language's page :func:`localize` rewrites the known
sentence shapes — the catalogue's ``[[sentences]]`` (:mod:`analysis.catalogues`), an English
regular expression and its words in the language each — keeping numbers and names (region
names in the reader's language, the decimal mark of its locale), and a row's warnings (the
catalogue's ``row_warning_*`` words, :mod:`analysis.catalogues.row_warnings`); :func:`localized_html` marks
anything it does not know with ``lang="en"`` so browsers, screen readers and the
untranslated-word test see it for what it is.
"""

from __future__ import annotations

import re
from functools import cache

from analysis.catalogues import CATALOGUES, SOURCE, Catalogue
from analysis.catalogues.row_warnings import translate_warnings
from analysis.figure_text import area_name
from analysis.i18n import decimal_mark
from analysis.privacy import esc

_REGION = r"(Flanders|Wallonia|Brussels)"


@cache
def _compiled(words: Catalogue) -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(en), template) for en, template in words.sentences)


def localize(sentence: str | None, language: str) -> tuple[str, bool]:
    """``sentence`` in ``language`` where its shape is known: ``(text, translated)``.

    English passes through unchanged (``True``); a sentence no rule touches comes back as
    written with ``False``.
    """
    if not sentence or language == SOURCE:
        return sentence or "", True
    words = CATALOGUES.get(language)
    if words is None:
        return sentence, False
    # a row's warnings first, their values as written (no decimal comma in a coordinate as the file gave it)
    out, warned = translate_warnings(sentence, words)
    hit = False
    for pattern, template in _compiled(words):
        new = pattern.sub(template, out)
        if new != out:
            out, hit = new, True
    if hit:
        out = re.sub(_REGION, lambda m: area_name(m.group(1), language), out)
        out = re.sub(r"(?<=\d)\.(?=\d)", decimal_mark(language), out)  # French and Dutch write a decimal comma: 17,6
    return out, hit or warned


def localized_html(sentence: str | None, language: str) -> str:
    """:func:`localize`, escaped; marked ``lang="en"`` when it stays English on another language's page."""
    words, ok = localize(sentence, language)
    return esc(words) if ok else f'<span lang="en">{esc(words)}</span>'


__all__ = ["localize", "localized_html"]
