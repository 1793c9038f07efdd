"""The report's words, one catalogue per language: ``<code>.toml`` in this folder.

A catalogue holds everything a page says in its language: the labels and sentences by key
(``[words]``), the English phrases of the figures and maps with their translation
(``[phrases]``, ``[[figure_sentences]]``), plotly's modebar words (``[plotly]``), the
sentence shapes the statistics write in English (``[[sentences]]``), the language's name in
itself and its CLDR locale (dates, numbers and units come from Babel). English (``en.toml``) is
the source: every other catalogue has exactly its keys, phrases and shapes
(:func:`problems`, run on every catalogue by ``tests/test_catalogues.py``).

The catalogues are found in this folder when the package is imported (English first, the
others by code); :func:`languages` lists them. A catalogue is read with :func:`read_catalogue`,
which names the file and the key of anything malformed.

A **word pack** (``packs/<name>.toml``) holds the words of one job — a report section, say —
in every language at once: a ``[<code>]`` table of ``key = words`` per language. Its words join
each language's ``[words]`` (:func:`add_pack`), so a new section brings its words in one file
and a new language still needs only its own catalogue (which may hold a pack's keys itself
when the pack has no table for it). A key in both a pack and a catalogue is an error naming both.
"""

from __future__ import annotations

import dataclasses
import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

#: The language every other catalogue translates.
SOURCE = "en"
FOLDER = Path(__file__).resolve().parent
#: Word packs: one job's words in every language (``[<code>]`` tables).
PACKS = FOLDER / "packs"

_TOP = {"code", "name", "locale", "unit_locale", "words", "phrases", "figure_sentences", "plotly", "sentences"}


@dataclass(frozen=True, eq=False)
class Catalogue:
    """One language's words (a ``<code>.toml`` read by :func:`read_catalogue`)."""

    code: str  # the language code: the page's ``lang``, its file name (postmortem.<code>.html), the parameter
    name: str  # the language's name in itself ("Français"), shown in the links between the pages
    locale: str  # CLDR locale of dates, numbers and units ("fr_BE")
    words: Mapping[str, str]  # every label and sentence of the page, by key
    phrases: Mapping[str, str]  # English phrase of a figure or map -> its words here
    figure_sentences: tuple[tuple[str, str], ...]  # (English shape, words here) of figure labels with numbers
    plotly: Mapping[str, str]  # plotly's English modebar word -> its words here
    sentences: tuple[tuple[str, str], ...]  # (English shape, words here) of the statistics' sentences, in order
    unit_locale: str = ""  # CLDR locale of unit names when not ``locale`` (English: "en" gives "2 hr")

    @property
    def units_locale(self) -> str:
        """The CLDR locale of duration units."""
        return self.unit_locale or self.locale


def _fail(where: str, key: str, problem: str) -> ValueError:
    return ValueError(f"{where}: {key}: {problem}")


def _table(doc: dict[str, Any], key: str, where: str) -> dict[str, str]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise _fail(where, key, "expected a table")
    for k, v in value.items():
        if not isinstance(v, str):
            raise _fail(where, f"{key}.{k}", f"expected a string, got {type(v).__name__}")
    return dict(value)


def _shapes(doc: dict[str, Any], key: str, where: str, *, source: bool) -> tuple[tuple[str, str], ...]:
    """``[[key]]`` entries: ``en`` (an English regular expression) and, but in English, ``text``."""
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise _fail(where, key, "expected an array of tables ([[" + key + "]])")
    out = []
    for i, entry in enumerate(value, start=1):
        at = f"{key}[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("en"), str):
            raise _fail(where, at, "expected a table with an 'en' string")
        unknown = set(entry) - {"en", "text"}
        if unknown:
            raise _fail(where, at, f"unknown key(s) {', '.join(sorted(unknown))}")
        try:
            pattern = re.compile(entry["en"])
        except re.error as exc:
            raise _fail(where, f"{at}.en", f"not a regular expression ({exc})") from None
        text = entry.get("text", "" if source else None)
        if not isinstance(text, str):
            raise _fail(where, f"{at}.text", "expected a string")
        try:  # a group beyond the shape's, or a bad escape, is an error here rather than on a page
            if not source:
                empty = re.compile("()" * pattern.groups).fullmatch("")
                assert empty is not None
                empty.expand(text)
        except (re.error, IndexError) as exc:
            raise _fail(where, f"{at}.text", f"not a replacement for its shape ({exc})") from None
        out.append((entry["en"], text))
    return tuple(out)


def parse_catalogue(source_text: str, where: str) -> Catalogue:
    """A catalogue from TOML text; ``where`` (a file name) starts every error message."""
    try:
        doc = tomllib.loads(source_text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{where}: not TOML ({exc})") from None
    unknown = set(doc) - _TOP
    if unknown:
        raise _fail(where, ", ".join(sorted(unknown)), f"unknown key(s); a catalogue holds {', '.join(sorted(_TOP))}")
    for key in ("code", "name", "locale"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise _fail(where, key, "required, a non-empty string")
    is_source = doc["code"] == SOURCE
    return Catalogue(
        code=doc["code"],
        name=doc["name"],
        locale=doc["locale"],
        unit_locale=str(doc.get("unit_locale", "")),
        words=MappingProxyType(_table(doc, "words", where)),
        phrases=MappingProxyType(_table(doc, "phrases", where)),
        figure_sentences=_shapes(doc, "figure_sentences", where, source=is_source),
        plotly=MappingProxyType(_table(doc, "plotly", where)),
        sentences=_shapes(doc, "sentences", where, source=is_source),
    )


def read_catalogue(path: Path) -> Catalogue:
    """The catalogue in ``path`` (its file name must be its code: ``fr.toml`` holds ``code = "fr"``)."""
    found = parse_catalogue(path.read_text(encoding="utf-8"), path.name)
    if found.code != path.stem:
        raise _fail(path.name, "code", f"{found.code!r}, but the file is named for {path.stem!r}")
    return found


def _fields(template: str) -> set[str]:
    """The ``{placeholders}`` of a label (``str.format`` fields)."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError:
        return {"<not a format string>"}


def problems(found: Catalogue, source: Catalogue) -> list[str]:
    """What ``found`` lacks or has beyond the English ``source``, each naming its key ([] when it matches)."""
    out = []
    pairs = (
        ("words", found.words, source.words),
        ("phrases", found.phrases, source.phrases),
        ("plotly", found.plotly, source.plotly),
    )
    for table, mine, theirs in pairs:
        out += [f"{found.code}: {table}.{k}: missing (English: {theirs[k]!r})" for k in theirs if k not in mine]
        out += [f"{found.code}: {table}.{k}: not a key of the English catalogue" for k in mine if k not in theirs]
    for key in found.words.keys() & source.words.keys():
        if _fields(found.words[key]) != _fields(source.words[key]):
            out.append(
                f"{found.code}: words.{key}: placeholders {sorted(_fields(found.words[key]))}, "
                f"English has {sorted(_fields(source.words[key]))}"
            )
    for table in ("figure_sentences", "sentences"):
        mine_s = [en for en, _ in getattr(found, table)]
        theirs_s = [en for en, _ in getattr(source, table)]
        if mine_s != theirs_s:
            extra = [en for en in mine_s if en not in theirs_s]
            missing = [en for en in theirs_s if en not in mine_s]
            what = f"missing {missing[0]!r}" if missing else f"not English {extra[0]!r}" if extra else "not in the English order"
            out.append(f"{found.code}: {table}: {what}")
    return out


def read_pack(path: Path) -> dict[str, dict[str, str]]:
    """The words of a pack file by language code (``[fr]`` → its ``key = words``); errors name the file and key."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"packs/{path.name}: not TOML ({exc})") from None
    return {code: _table(doc, code, f"packs/{path.name}") for code in doc}


def add_pack(catalogues: Mapping[str, Catalogue], pack: Mapping[str, Mapping[str, str]], where: str) -> dict[str, Catalogue]:
    """``catalogues`` with a pack's words joined to each language's ``[words]``.

    A language the pack has no catalogue for, or a key a catalogue already holds, is an error
    naming the pack (``where``) and the key: one word, one place.
    """
    out = dict(catalogues)
    for code, words in pack.items():
        if code not in out:
            raise _fail(where, code, f"no catalogue {code}.toml for these words (languages: {', '.join(out)})")
        clash = sorted(words.keys() & out[code].words.keys())
        if clash:
            raise _fail(where, f"{code}.{clash[0]}", f"already in {code}.toml or an earlier pack")
        out[code] = dataclasses.replace(out[code], words=MappingProxyType({**out[code].words, **words}))
    return out


def join_packs(found: Mapping[str, Catalogue], *, strict: bool = True) -> dict[str, Catalogue]:
    """``found`` with the words of every pack in :data:`PACKS` joined (``strict``: a pack's language must be in ``found``)."""
    out = dict(found)
    for path in sorted(PACKS.glob("*.toml")):
        pack = read_pack(path)
        out = add_pack(out, pack if strict else {c: w for c, w in pack.items() if c in out}, f"packs/{path.name}")
    return out


def _discover() -> dict[str, Catalogue]:
    found = {p.stem: read_catalogue(p) for p in sorted(FOLDER.glob("*.toml"))}
    if SOURCE not in found:
        raise ValueError(f"{FOLDER}: no {SOURCE}.toml, the catalogue every other one translates")
    return join_packs({SOURCE: found.pop(SOURCE), **found})


#: Every language of the report, by code: English first, then the others by code.
CATALOGUES: dict[str, Catalogue] = _discover()


def languages() -> tuple[str, ...]:
    """The report's languages, in the order pages are listed (English, then by code)."""
    return tuple(CATALOGUES)


def catalogue(code: str) -> Catalogue:
    """The catalogue of ``code``; English for a language without one."""
    return CATALOGUES.get(code) or CATALOGUES[SOURCE]


__all__ = [
    "CATALOGUES",
    "PACKS",
    "SOURCE",
    "Catalogue",
    "add_pack",
    "catalogue",
    "join_packs",
    "languages",
    "parse_catalogue",
    "problems",
    "read_catalogue",
    "read_pack",
]
