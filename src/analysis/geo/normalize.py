"""String normalisation for place names: one key per way of writing a name.

People write the same place many ways: "Liège", "LIEGE", "Liége", "Braine-l'Alleud",
"braine l alleud", "St-Niklaas", "Sint Niklaas", "B-1348 Louvain-la-Neuve". The resolver
compares *keys*, never raw strings, so that all of these meet. The build script uses the
same functions, so the committed name index and the run-time lookups always agree.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "PLACEHOLDERS",
    "compact_key",
    "fold",
    "split_parts",
    "tokens",
]

#: Tokens that all mean "saint" in the names of Belgian places (fr, nl, de, abbreviations).
_SAINT = frozenset({"saint", "sainte", "saints", "st", "ste", "sts", "sint", "sankt", "skt"})

#: Characters that separate words: everything that is not a letter or a digit.
_NON_ALNUM = re.compile(r"[^0-9a-z]+")

#: Strings that mean "no place given" in the languages reports are written in.
PLACEHOLDERS = frozenset(
    {
        "",
        "na",
        "n a",
        "none",
        "null",
        "nil",
        "nan",
        "unknown",
        "inconnu",
        "inconnue",
        "onbekend",
        "unbekannt",
        "not specified",
        "non specifie",
        "niet opgegeven",
        "x",
        "xx",
        "xxx",
        "test",
        "tbd",
        "various",
        "divers",
        "diverse",
        "verschillende",
        "partout",
        "overal",
        "everywhere",
        "unspecified",
    }
)


def fold(text: str) -> str:
    """Lower-case, strip accents and ligatures, and turn every separator into one space.

    Apostrophes (' ’ `) and hyphens become spaces, so "Braine-l'Alleud" gives
    "braine l alleud". Letters outside Latin script are dropped (their names cannot be
    matched to the Latin-script reference anyway).
    """
    text = text.replace("ß", "ss").replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("Æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_ALNUM.sub(" ", stripped.lower()).strip()


def tokens(text: str) -> list[str]:
    """Folded words of ``text`` with every form of "saint" written ``st``."""
    return ["st" if t in _SAINT else t for t in fold(text).split()]


@lru_cache(maxsize=65536)
def compact_key(text: str) -> str:
    """Return the matching key of a name: folded words, "saint" unified, separators removed.

    "Sint-Niklaas", "St. Niklaas" and "SINT NIKLAAS" all give ``stniklaas``;
    "Braine-l'Alleud" and "braine l alleud" give ``brainelalleud``.
    """
    return "".join(tokens(text))


_SPLIT = re.compile(r"\s*(?:[,;/|()\[\]]|\s[-–—]\s|\s+\+\s+|\s&\s)\s*")


def split_parts(text: str) -> list[str]:
    """Split a place string on commas, slashes, brackets and spaced dashes into non-empty parts.

    "Jumet (Charleroi)" gives ["Jumet", "Charleroi"]; "Lille, France" gives ["Lille",
    "France"]. Hyphens inside names ("Braine-le-Château") are kept.
    """
    return [p.strip() for p in _SPLIT.split(text) if p and p.strip()]
