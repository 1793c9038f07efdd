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


#: Technical asides the estimators put after their plain findings (the term, the statistic, the
#: candidates' weights, the model's name). The page's body shows the finding without them; the
#: full sentence stands in Methods, whose glossary explains the terms.
_ASIDES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r" \(overdispersion [\d.]+\)"), ""),
    (
        re.compile(
            r"([Rr])eports vary more than a Poisson process around the fitted curve \(overdispersion [\d.]+, Pearson X²/df on \d+ df\)"
        ),
        r"\1eports vary more around the fitted curve than independent reports would",
    ),
    (re.compile(r" \(weights: [^)]*\)\. Intervals are averaged over them\."), ": intervals are averaged over the candidates."),
    (
        re.compile(r" \(weights: [^)]*\)\. Intervals are conditional on the reported model\."),
        ": intervals assume the model drawn.",
    ),
    (re.compile(r"(?:(?<=\. )|^)No overdispersion detected \([^)]*\)\.\s*"), ""),
    (re.compile(r"(?:(?<=\. )|^)Too few reports to check for overdispersion; intervals assume Poisson variation\.\s*"), ""),
    (re.compile(r"(a delay \([^)]*?) under [^)]+\)"), r"\1)"),
)


def plain(sentence: str | None) -> str:
    """``sentence`` without the estimators' technical asides (see :data:`_ASIDES`), for the body of the page.

    The finding stays ("the statements come in groups … so they carry less information");
    the measure behind it ("overdispersion 14.7", the models' weights) is for Methods.
    """
    out = sentence or ""
    for pattern, repl in _ASIDES:
        out = pattern.sub(repl, out)
    return out.strip()


def localized_html(sentence: str | None, language: str) -> str:
    """:func:`localize`, escaped; marked ``lang="en"`` when it stays English on another language's page."""
    words, ok = localize(sentence, language)
    return esc(words) if ok else f'<span lang="en">{esc(words)}</span>'


__all__ = ["localize", "localized_html", "plain"]
