"""Figure and map labels in the reader's language.

The figure builders (:mod:`analysis.figures`, :mod:`analysis.maps`) write their labels in
English; when a figure is shown on another language's page, :func:`translate_figure` replaces
the known phrases in every label, legend, hover text, annotation and button of the figure
(never in its data). The phrases and their translations are the catalogues' ``[phrases]`` and
``[[figure_sentences]]`` (:mod:`analysis.catalogues`; region and province names are the
official ones in each language); weekday and month abbreviations written by Python come from
CLDR (Babel), like plotly's own axis dates (:func:`analysis.htmlexport.plotly_locale_js`).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from analysis.catalogues import CATALOGUES, SOURCE, Catalogue


def _translated(language: str) -> Catalogue | None:
    """The catalogue a figure is translated with (None: English, or a language without one)."""
    return None if language == SOURCE else CATALOGUES.get(language)


@cache
def _rules(words: Catalogue) -> list[tuple[re.Pattern[str], str]]:
    """The catalogue's figure sentences, then its phrases, longest first (one phrase may hold another)."""
    rules = [(re.compile(en), text) for en, text in words.figure_sentences]
    for en in sorted(words.phrases, key=len, reverse=True):
        rules.append((re.compile(rf"(?<![\w/-]){re.escape(en)}(?![\w-])"), words.phrases[en].replace("\\", r"\\")))
    return rules


@cache
def _day_names(language: str) -> dict[str, str]:
    from babel import Locale

    from analysis.i18n import cldr_locale

    loc = Locale.parse(cldr_locale(language))
    days = dict(
        zip(
            ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
            (loc.days["format"]["abbreviated"][i] for i in range(7)),
            strict=True,
        )
    )
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return days | {m: loc.months["format"]["abbreviated"][i + 1] for i, m in enumerate(months)}


_DAY = re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b(?= ?\d)")
_PLOTLY_FORMAT = re.compile(r"%\{[^}]*\}|%[a-zA-Z]|<[^>]+>")


#: An event marker's hover: '3. Mon 08 Jan 21:15 — <label written in incident.toml>'.
_EVENT = re.compile(r"^(\d+\. [^—]*— )(.*)$", re.S)
CODE_LABELS = (
    "Onset (configured)",
    "Onset (estimated)",
    "First down report",
    "Last down report",
    "Half of affected customers back (t50)",
    "90% back (t90)",
    "Out below 50% of the peak (t50)",
    "Out below 10% of the peak (t90)",
)


#: Region, province and country names (their translations are phrases of the catalogues).
AREAS = (
    "Brussels-Capital Region",
    "Antwerp province",
    "Flemish Brabant",
    "Walloon Brabant",
    "East Flanders",
    "West Flanders",
    "Flanders",
    "Wallonia",
    "Brussels",
    "Antwerp",
    "Limburg",
    "Hainaut",
    "Luxembourg",
    "Liège",
    "Namur",
    "Belgium",
)


def area_name(name: str | None, language: str) -> str:
    """A region, province or country name in ``language`` (official names); others unchanged."""
    words = _translated(language)
    if not name or words is None or name not in AREAS:
        return name or ""
    return words.phrases.get(name, name)


def translate_text(value: str, language: str) -> str:
    """``value`` with its known English phrases in ``language`` (plotly placeholders and markup kept).

    An event's label is the analyst's text from ``incident.toml``: only the date before it is
    translated, never words inside it (a half-translated sentence reads worse than English).
    """
    if _translated(language) is None or not value:
        return value
    if "<br>" in value and _EVENT.match(value):  # several markers at one place: one event per line
        return "<br>".join(translate_text(line, language) for line in value.split("<br>"))
    event = _EVENT.match(value)
    if event and event.group(2) not in CODE_LABELS:
        return _translate(event.group(1), language) + event.group(2)
    return _translate(value, language)


def _translate(
    value: str, language: str
) -> str:  # keep plotly placeholders (%{y:.0f}, %a) and tags out of reach of the phrase rules
    kept: list[str] = []

    def hold(m: re.Match[str]) -> str:
        kept.append(m.group(0))
        return f"\x00{len(kept) - 1}\x00"

    out = _PLOTLY_FORMAT.sub(hold, value)
    names = _day_names(language)
    out = _DAY.sub(lambda m: names[m.group(1)], out)
    words = _translated(language)
    for pattern, repl in _rules(words) if words is not None else ():
        out = pattern.sub(repl, out)
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], out)


#: Keys of a figure whose strings are labels (the rest is data, ids, colours, settings).
_TEXT_KEYS = {"name", "text", "title", "hovertext", "hovertemplate", "label", "legendgrouptitle", "ticktext", "prefix"}
_SKIP_KEYS = {"geojson", "locations", "customdata", "ids", "x", "y", "z", "lat", "lon", "featureidkey", "meta", "uid"}


def translate_figure(fig: dict[str, Any], language: str) -> dict[str, Any]:
    """A figure dict with every label translated; data arrays are left alone. English: unchanged."""
    if _translated(language) is None:
        return fig

    def walk(o: Any, key: str = "") -> Any:
        if key == "frames" and isinstance(o, list):  # frame names are what the slider's steps point at
            return [{k: (v if k == "name" else walk(v, k)) for k, v in f.items()} if isinstance(f, dict) else f for f in o]
        if key == "args" and isinstance(o, list):  # a button's or step's arguments: frame names stay, restyles are walked
            return [walk(v, "restyle") if isinstance(v, dict) else v for v in o]
        if isinstance(o, dict):
            return {k: (v if k in _SKIP_KEYS else walk(v, k)) for k, v in o.items()}
        if isinstance(o, list):
            return [walk(v, key) for v in o]
        if isinstance(o, tuple):
            return tuple(walk(v, key) for v in o)
        if isinstance(o, str) and key in _TEXT_KEYS:
            return translate_text(o, language)
        return o

    return walk(fig)
