"""Scrub personal data (e-mail addresses, phone numbers, names) and markup from free text.

Reports pasted by the public carry signatures, phone numbers, "Maximilien from Perwez" and
sometimes HTML. None of it helps a post-mortem and none of it may reach processed data or
a report, so ingest scrubs every free-text field before anything is written. The scrubber
is deliberately greedy: a false positive costs a word of context, a false negative leaks a
person. Placeholders are ``[email]``, ``[phone]``, ``[name]``, ``[id]``.

What it does, in order: Unicode NFC normalisation; HTML entities decoded, ``<script>`` and
``<style>`` blocks and comments removed with their content, other tags removed; e-mail
addresses (also ``name (at) domain`` and ``name at domain dot be``); IBANs and Belgian
national numbers; phone numbers (8+ digits in groups; dates and times are kept); a
capitalised word after a title (``M.``, ``Mme``, ``Dhr.``...), after a self-introduction
(``je m'appelle``, ``groeten``...) or before ``de``/``uit``/``from`` + a capitalised
place; any capitalised word that is a common first name (package list).

:func:`scrub_text` does all of it (free text); :func:`scrub_place` skips the names (place
fields, where capitalised words are the content); :func:`scrub_contacts` removes only
contact data and ids and leaves markup to the caller's escaping (titles, labels).

Limits: names in capitals (``JAN PEETERS``), surnames standing alone, names written
lower case and spelled-out numbers are not found. Every regular expression has bounded
repetition, so a hostile 10 MB field costs linear time.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata

import polars as pl

from analysis.paths import PACKAGE_DATA

EMAIL = re.compile(r"[\w.+'-]{1,64}(?:@|\s?\(at\)\s?|\s?\[at\]\s?)[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}", re.UNICODE)
# "jan.peeters at example dot be": needs at least one spelled-out "dot" to tell it from prose.
EMAIL_SPELLED = re.compile(
    r"(?i)[\w.+'-]{1,64}\s{1,3}(?:at|\(at\))\s{1,3}[\w-]{1,63}(?:\s{1,3}(?:dot|\(dot\)|\[dot\])\s{1,3}[\w-]{1,63}){1,4}"
)
# A phone number: optional international prefix, then at least 8 digits in groups split by
# spaces, dots, slashes, dashes or brackets. Dates and date-times are recognised and kept
# (see _phone); repetition is bounded so scanning stays linear.
PHONE = re.compile(r"(?<![\w/])(?:\+|00)?\d[\d\s./()-]{6,24}\d(?![\w/])")
_IBAN_HINT = re.compile(r"[A-Z]{2}\d{2}")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")
NATIONAL_NUMBER = re.compile(r"\b\d{2}[.\s]?\d{2}[.\s]?\d{2}[-\s]?\d{3}[.\s]?\d{2}\b")
DATE_TIME = re.compile(
    r"^(?:(?P<y1>\d{4})[-./](?P<m1>\d{1,2})[-./](?P<d1>\d{1,2})|(?P<d2>\d{1,2})[-./](?P<m2>\d{1,2})[-./](?P<y2>\d{2}|\d{4}))"
    r"(?:[ T](?P<h>\d{1,2})(?:[.:h]\d{2}){0,2})?$"
)

NAME_WORD = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’]{1,40}(?:-[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’]{1,40})?"
TITLES = r"M\.|Mme|Mlle|Mr\.?|Mrs\.?|Ms\.?|Dr\.?|Dhr\.?|Mevr\.?|Monsieur|Madame|Mademoiselle|Mevrouw|Meneer|Herr|Frau"
# Titles and self-introductions are followed by a name in every language we see.
TITLED = re.compile(rf"\b(?:{TITLES})\s{{1,5}}{NAME_WORD}(?:\s{{1,5}}{NAME_WORD})?")
INTRO_WORDS = (
    r"je m'appelle|je m’appelle|mon nom est|my name is|this is|ik ben|ik heet|mijn naam is|ich bin|ich heiße"
    r"|sign[ée]|signed|groeten|regards|cordialement|bien à vous|met vriendelijke groeten|mvg|gr\.?"
)
INTRO = re.compile(rf"(?i:\b(?:{INTRO_WORDS})[,:]?\s{{1,5}})({NAME_WORD}(?:\s{{1,5}}{NAME_WORD})?)")
# "Maximilien, de Perwez", "Jan uit Gent", "Olivier d'Engis", "Tom from Ghent"
CONNECTORS = r"de|d'|d’|du|from|uit|van|aus"
NAME_FROM = re.compile(rf"\b({NAME_WORD}(?:\s{{1,5}}{NAME_WORD})?),?\s{{1,5}}(?:{CONNECTORS})\s{{0,5}}(?=[A-ZÀ-Þ])")
_KNOWN_NAME = re.compile(rf"(?<![\w-])({NAME_WORD})(\s{{1,5}}{NAME_WORD})?(?![\w-])")

TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]{0,30}(?:\s[^<>]{0,4000})?/?>")
ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]{2,10});")
_BLOCKS = (("<script", "</script"), ("<style", "</style"), ("<!--", "-->"))


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))


# A vectorised superset of everything above: a value that does not match it (and holds no
# first name) comes out of scrub_text unchanged, so only candidates pay for Python.
# (Python's \s also matches \x1c-\x1f, the Rust engine's does not: _WS spells both.)
_WS = r"[\s\x1c-\x1f]"
_PREFILTER = "|".join(
    [
        r"[<&@]",
        r"\((?i:at)\)|\[(?i:at)\]|(?i:dot)",
        rf"\d(?:\d|{_WS}|[./()-]){{6,}}\d",
        r"[A-Z]{2}\d{2}",
        rf"(?:{TITLES}){_WS}",
        rf"(?i:{_fold(INTRO_WORDS)})[,:]?{_WS}",
        rf"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’]+,?{_WS}+(?:{CONNECTORS}){_WS}*[A-ZÀ-Þ]",
    ]
)


# Characters that are NFC-stable and need no Unicode decomposition to be matched: Latin-1
# and common typographic marks. Accented Latin-1 letters fold to their base letter.
_NEEDS_UNICODE = r"[^\x00-\xff\u2018\u2019\u201a\u201c\u201d\u201e\u2013\u2014\u2026\u20ac\u0152\u0153\u2022]"
_LATIN1_PAIRS = [
    (c, b)
    for c in map(chr, range(0xC0, 0x100))
    if len(b := "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))) == 1 and b != c
]
_LATIN1_FOLD = ([c for c, _ in _LATIN1_PAIRS], [b for _, b in _LATIN1_PAIRS])


@functools.cache
def _first_names() -> frozenset[str]:
    """Common first names (lower case, accents removed), from the package data list."""
    path = PACKAGE_DATA / "first_names.txt"
    words = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(_fold(w) for w in words if w and not w.startswith("#"))


@functools.cache
def _name_needles() -> list[str]:
    """Capitalised, accent-free spellings of the first names (for the vectorised prefilter)."""
    return sorted({n[:1].upper() + n[1:] for n in _first_names()} | {n.split("-")[0].capitalize() for n in _first_names()})


def _plausible_date_time(text: str) -> bool:
    m = DATE_TIME.match(text)
    if m is None:
        return False
    year = int(m["y1"] or m["y2"])
    month = int(m["m1"] or m["m2"])
    day = int(m["d1"] or m["d2"])
    hour = int(m["h"]) if m["h"] else 0
    year_ok = year < 100 or 1900 <= year < 2200
    return year_ok and 1 <= month <= 12 and 1 <= day <= 31 and hour <= 23


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if digits < 8 or _plausible_date_time(text.strip()):
        return text  # "2018-01-08", "08/01/2018 20" (before ":15"): a time, not a phone
    return "[phone]"


_NEAR_NUMBER_BEFORE = re.compile(r"\d\s*$")
_NEAR_NUMBER_AFTER = re.compile(r"\s*\d")
_SAINT = re.compile(r"(?i:\b(?:saint|sainte|sint|st|ste)\.?[\s-]*)$")


def _known_name(match: re.Match[str]) -> str:
    first = match.group(1)
    names = _first_names()
    before = match.string[max(0, match.start() - 12) : match.start()]
    if _SAINT.search(before):
        return match.group(0)  # Saint-Ghislain, Sint-Martens: places, not people
    if _NEAR_NUMBER_BEFORE.search(before) or _NEAR_NUMBER_AFTER.match(match.string, match.end(1)):
        return match.group(0)  # "9 Jan", "Jan 9": a month, not Jan
    if _fold(first) in names or _fold(first.split("-")[0]) in names:
        return "[name]"
    return match.group(0)


def _gap(text: str, start: int, end: int) -> str:
    """What replaces ``text[start:end]``: a space if it would otherwise glue two words."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return " " if before.isalnum() and after.isalnum() else ""


def _drop_blocks(text: str) -> str:
    """Remove ``<script>``/``<style>`` elements and comments with their content (linear scan)."""
    for opener, closer in _BLOCKS:
        low = text.lower()
        if opener not in low:
            continue
        parts, pos = [], 0
        while (start := low.find(opener, pos)) != -1:
            parts.append(text[pos:start])
            end = low.find(closer, start + len(opener))
            if end == -1:
                pos = len(text)  # never closed: everything after it is the block
                break
            gt = low.find(">", end)
            pos = len(text) if gt == -1 else gt + 1
            parts.append(_gap(text, start, pos))
        parts.append(text[pos:])
        text = "".join(parts)
    return text


def strip_markup(text: str) -> str:
    """Decode HTML entities and remove tags, scripts, styles and comments from ``text``.

    Text without markup comes back unchanged. A removed tag leaves a space only where it
    separated two words (``line<br>next``). The report escapes every string anyway; this
    keeps pasted HTML from becoming content (and ``&lt;script&gt;`` from becoming a script
    once decoded).
    """
    if "<" not in text and "&" not in text:
        return text
    out = ENTITY.sub(lambda m: html.unescape(m.group(0)), text) if "&" in text else text
    if "<" in out:
        out = _drop_blocks(out)
        out = TAG.sub(lambda m: _gap(m.string, m.start(), m.end()), out).strip()
    return out


def _contacts(out: str) -> str:
    low = out.lower()
    # each pattern runs only when its cheap necessary condition holds
    if "@" in out or "(at)" in low or "[at]" in low:
        out = EMAIL.sub("[email]", out)
    if "dot" in low:
        out = EMAIL_SPELLED.sub("[email]", out)
    if _IBAN_HINT.search(out):
        out = IBAN.sub("[id]", out)
    if sum(ch.isdigit() for ch in out) >= 8:
        out = NATIONAL_NUMBER.sub("[id]", out)
        out = PHONE.sub(_phone, out)
    return out


def scrub_contacts(text: str | None) -> str | None:
    """Remove only e-mails, phone numbers and ids (text is NFC-normalised, markup kept).

    For short labels that are escaped where they are shown (titles, event labels).
    """
    if text is None:
        return None
    return _contacts(unicodedata.normalize("NFC", text))


def scrub_place(text: str | None) -> str | None:
    """Remove markup, e-mails, phone numbers and ids, keeping every other word.

    For fields such as place names, where capitalised words are the content and must survive.
    """
    if text is None:
        return None
    return _contacts(strip_markup(unicodedata.normalize("NFC", text)))


def scrub_text(text: str | None) -> str | None:
    """Replace markup, e-mails, phone numbers, bank/national ids and personal names in ``text``.

    ``None`` stays ``None``. The result is NFC-normalised and never contains an e-mail
    address or a run of 8+ digits that could be a phone number (dates and times excepted).
    """
    out = scrub_place(text)
    if out is None:
        return None
    out = TITLED.sub("[name]", out)
    out = INTRO.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + "[name]", out)
    out = NAME_FROM.sub(lambda m: "[name]" + m.group(0)[m.end(1) - m.start(0) :], out)
    return _KNOWN_NAME.sub(_known_name, out)


#: Characters a label (a title, an event label, a source name, a value named in a note) keeps.
LABEL_CHARS = 200


def scrub_label(text: str | None, limit: int = LABEL_CHARS) -> str | None:
    """The one scrubbing every user- or data-supplied label goes through before any output.

    Titles, event labels and sources, source names, coverage text, values and header names
    quoted in notes and reject reasons, error messages: e-mails, phone numbers and ids
    removed (:func:`scrub_contacts`), control characters (newlines, terminal escapes) made
    spaces, and at most ``limit`` characters kept (then ``…``). Markup is left to the
    escaping of the page that shows it.
    """
    if text is None:
        return None
    out = "".join(c if c.isprintable() else " " for c in str(text)[: limit * 4])
    out = _contacts(unicodedata.normalize("NFC", out))
    return out if len(out) <= limit else out[:limit] + "…"


def scrub_labels(series: pl.Series, limit: int = LABEL_CHARS) -> pl.Series:
    """:func:`scrub_label` of every value of a string column (each distinct value once)."""
    s = series.cast(pl.String)
    uniq = s.drop_nulls().unique()
    if uniq.is_empty():
        return s.alias(series.name)
    # only values scrub_label could change go through Python: a necessary condition of each step
    u = pl.col("u")
    maybe = (
        u.str.contains(r"[\p{C}\p{Zl}\p{Zp}]|[\p{Zs}&&[^ ]]")
        | (u.str.len_chars() > limit)
        | u.str.contains(r"(?i)@|\(at\)|\[at\]|dot")
        | u.str.contains(r"[A-Z]{2}\d{2}")
        | (u.str.count_matches(r"\d") >= 8)
        | (u != u.str.normalize("NFC"))
    )
    candidates = pl.DataFrame({"u": uniq}).filter(maybe)["u"].to_list()
    mapping = {c: v for c in candidates if (v := scrub_label(c, limit)) != c}
    return (s.replace(mapping) if mapping else s).alias(series.name)


def scrub_column(series: pl.Series, *, names: bool = True) -> pl.Series:
    """Scrub a string column: :func:`scrub_text` (or, without names, :func:`scrub_place`) of every value.

    Vectorised: each distinct value is considered once; a regular-expression prefilter over
    the accent-folded text (a superset of what the scrubber can change) picks the
    candidates, and only those go through Python. The others are only NFC-normalised, as
    :func:`scrub_text` would return them.
    """
    fn = scrub_text if names else scrub_place
    s = series.cast(pl.String)
    uniq = s.drop_nulls().unique()
    if uniq.len() == 0:
        return s.alias(series.name)
    # Latin-1 text (with the usual typographic extras) is already NFC and folds by a simple
    # letter table; anything else takes the full Unicode normalisations.
    exotic = uniq.str.contains(_NEEDS_UNICODE)
    simple = uniq.filter(~exotic)
    other = uniq.filter(exotic)
    frame = pl.concat(
        [
            pl.DataFrame({"u": simple, "nfc": simple, "fold": simple.str.replace_many(*_LATIN1_FOLD)}),
            pl.DataFrame(
                {
                    "u": other,
                    "nfc": other.str.normalize("NFC"),
                    "fold": other.str.normalize("NFKD").str.replace_all(r"\p{M}", ""),
                }
            ),
        ]
    )
    candidate = pl.col("fold").str.contains(_PREFILTER)
    if names:
        candidate = candidate | pl.col("fold").str.contains_any(_name_needles())
    frame = frame.with_columns(candidate.alias("c"))
    mapping = {u: fn(u) for u in frame.filter("c")["u"].to_list()}
    mapping.update(frame.filter(~pl.col("c") & (pl.col("u") != pl.col("nfc"))).select("u", "nfc").iter_rows())
    return (s.replace(mapping) if mapping else s).alias(series.name)


def esc(value: object) -> str:
    """Escape any value for HTML text or attributes (``None`` → empty)."""
    return "" if value is None else html.escape(str(value), quote=True)
