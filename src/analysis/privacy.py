"""Scrub personal data (e-mail addresses, phone numbers, names) from free text.

Reports pasted by the public carry signatures, phone numbers and "Maximilien from Perwez".
None of it helps a post-mortem and none of it may reach processed data or a report, so
ingest scrubs every free-text field before anything is written. The scrubber is
deliberately greedy: a false positive costs a word of context, a false negative leaks a
person. Placeholders are ``[email]``, ``[phone]``, ``[name]``, ``[id]``.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import polars as pl

from analysis.config import PACKAGE_DATA

EMAIL = re.compile(r"[\w.+'-]+(?:@|\s?\(at\)\s?|\s?\[at\]\s?)[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# A phone number: optional international prefix, then at least 8 digits in groups split by
# spaces, dots, slashes or dashes. Dates (2018-01-08) and times (20:00) have fewer digits
# per run or colons and are left alone by the digit count and the separator set.
PHONE = re.compile(
    r"(?<![\w/])(?:\+|00)?\d[\d\s./()-]{6,}\d(?![\w/])",
)
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")
NATIONAL_NUMBER = re.compile(r"\b\d{2}[.\s]?\d{2}[.\s]?\d{2}[-\s]?\d{3}[.\s]?\d{2}\b")
DATE_LIKE = re.compile(r"^\d{1,4}[-./]\d{1,2}[-./]\d{1,4}$")

NAME_WORD = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’]+(?:-[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’]+)?"
# Titles and self-introductions are followed by a name in every language we see.
TITLED = re.compile(
    r"\b(?:M\.|Mme|Mlle|Mr\.?|Mrs\.?|Ms\.?|Dr\.?|Dhr\.?|Mevr\.?|Monsieur|Madame|Mademoiselle|Mevrouw|Meneer|Herr|Frau)"
    rf"\s+{NAME_WORD}(?:\s+{NAME_WORD})?"
)
INTRO = re.compile(
    r"(?i:\b(?:je m'appelle|je m’appelle|mon nom est|my name is|this is|ik ben|ik heet|mijn naam is|ich bin|ich heiße"
    r"|sign[ée]|signed|groeten|regards|cordialement|bien à vous|met vriendelijke groeten|mvg|gr\.?)[,:]?\s+)"
    rf"({NAME_WORD}(?:\s+{NAME_WORD})?)"
)
# "Maximilien, de Perwez", "Jan uit Gent", "Olivier d'Engis", "Tom from Ghent"
NAME_FROM = re.compile(rf"\b({NAME_WORD}(?:\s+{NAME_WORD})?),?\s+(?:de|d'|d’|du|from|uit|van|aus)\s*(?=[A-ZÀ-Þ])")


@functools.cache
def _first_names() -> frozenset[str]:
    """Common first names (lower case, accents removed), from the package data list."""
    path = PACKAGE_DATA / "first_names.txt"
    words = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(_fold(w) for w in words if w and not w.startswith("#"))


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if digits < 8 or DATE_LIKE.match(text.strip()):
        return text
    return "[phone]"


_KNOWN_NAME = re.compile(rf"(?<![\w-])({NAME_WORD})(\s+{NAME_WORD})?(?![\w-])")


_NEAR_NUMBER_BEFORE = re.compile(r"\d\s*$")
_NEAR_NUMBER_AFTER = re.compile(r"\s*\d")
_SAINT = re.compile(r"(?i:\b(?:saint|sainte|sint|st|ste)\.?[\s-]*)$")


def _known_name(match: re.Match[str]) -> str:
    first = match.group(1)
    names = _first_names()
    if _SAINT.search(match.string[: match.start()]):
        return match.group(0)  # Saint-Ghislain, Sint-Martens: places, not people
    if _NEAR_NUMBER_BEFORE.search(match.string[: match.start()]) or _NEAR_NUMBER_AFTER.match(match.string[match.end(1) :]):
        return match.group(0)  # "9 Jan", "Jan 9": a month, not Jan
    if _fold(first) in names or _fold(first.split("-")[0]) in names:
        return "[name]"
    return match.group(0)


def scrub_text(text: str | None) -> str | None:
    """Replace e-mails, phone numbers, bank/national ids and personal names in ``text``.

    ``None`` stays ``None``. The result never contains an e-mail address or a run of 8+
    digits that could be a phone number.
    """
    if text is None:
        return None
    out = EMAIL.sub("[email]", text)
    out = IBAN.sub("[id]", out)
    out = NATIONAL_NUMBER.sub("[id]", out)
    out = PHONE.sub(_phone, out)
    out = TITLED.sub("[name]", out)
    out = INTRO.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + "[name]", out)
    out = NAME_FROM.sub(lambda m: "[name]" + m.group(0)[m.end(1) - m.start(0) :], out)
    return _KNOWN_NAME.sub(_known_name, out)


def scrub_contacts(text: str | None) -> str | None:
    """Remove only e-mails, phone numbers and ids.

    For fields such as place names, where capitalised words are the content and must survive.
    """
    if text is None:
        return None
    out = EMAIL.sub("[email]", text)
    out = IBAN.sub("[id]", out)
    out = NATIONAL_NUMBER.sub("[id]", out)
    return PHONE.sub(_phone, out)


def scrub_column(series: pl.Series, *, names: bool = True) -> pl.Series:
    """Scrub a string column, each distinct value once (cheap on repetitive data)."""
    fn = scrub_text if names else scrub_contacts
    uniques = series.drop_nulls().unique()
    mapping = {v: fn(v) for v in uniques.to_list()}
    return series.replace_strict(mapping, default=None, return_dtype=pl.String) if mapping else series
