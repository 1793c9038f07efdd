"""Row warnings: the notes ingest keeps on a row it accepts (the ``issues`` column), worded in the catalogues.

Each warning is a ``[words]`` key starting ``row_warning_``, with ``{placeholders}`` for what
the row holds (a value as written, a time zone). Ingest writes the English text (the
canonical tables are English: a contract), built from the English template; a page in
another language finds each English warning by its template's shape and writes it with its
own template, the values as written. So a warning is worded once per language, and a
catalogue that changes a warning's placeholders fails the catalogue tests like any label.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable

import polars as pl

from analysis.catalogues import CATALOGUES, SOURCE, Catalogue

PREFIX = "row_warning_"
#: Notes of one row are joined with this; a warning is found between two of them.
SEPARATOR = "; "
# a value of a warning: never across a separator, so one warning's pattern cannot swallow the next note
_VALUE = f"(?:(?!{SEPARATOR}).)+?"


def _template(key: str, catalogue: Catalogue | None = None) -> str:
    return (catalogue or CATALOGUES[SOURCE]).words[PREFIX + key]


def _parts(template: str) -> list[tuple[str, str | None]]:
    """(literal text, placeholder or None) pairs of a template."""
    return [(literal, name) for literal, name, _, _ in string.Formatter().parse(template)]


def warning_text(key: str, **values: str) -> str:
    """The English warning ``key`` with its ``values`` (as ingest writes it)."""
    return _template(key).format(**values)


def warning_expr(key: str, **values: pl.Expr | pl.Series | str) -> pl.Expr:
    """The English warning ``key`` as a polars expression: each placeholder filled from a column (or a string)."""
    literal_parts, columns = [], []
    for literal, name in _parts(_template(key)):
        literal_parts.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is not None:
            literal_parts.append("{}")
            value = values[name]
            columns.append(pl.lit(value) if isinstance(value, str) else value)
    return pl.format("".join(literal_parts), *columns) if columns else pl.lit("".join(literal_parts))


def _shape(template: str) -> re.Pattern[str]:
    """The English template as a pattern: placeholders as named groups, one note of a row (between separators)."""
    pattern = "".join(re.escape(literal) + (f"(?P<{name}>{_VALUE})" if name else "") for literal, name in _parts(template))
    return re.compile(f"(?:^|(?<={SEPARATOR})){pattern}(?={SEPARATOR}|$)")


@functools.cache
def _rules(catalogue: Catalogue) -> tuple[tuple[re.Pattern[str], str], ...]:
    english = CATALOGUES[SOURCE].words
    return tuple(
        (_shape(template), catalogue.words[key])
        for key, template in english.items()
        if key.startswith(PREFIX) and key in catalogue.words
    )


def _filler(template: str) -> Callable[[re.Match[str]], str]:
    """A replacement writing ``template`` with the groups a warning's shape found."""
    return lambda match: template.format(**match.groupdict())


def translate_warnings(issues: str, catalogue: Catalogue) -> tuple[str, bool]:
    """``issues`` (English row warnings joined by ``; ``) with each known warning in ``catalogue``'s words.

    Returns the text and whether any warning was found; the values keep their writing.
    """
    out, hit = issues, False
    for pattern, template in _rules(catalogue):
        new = pattern.sub(_filler(template), out)
        if new != out:
            out, hit = new, True
    return out, hit


__all__ = ["PREFIX", "translate_warnings", "warning_expr", "warning_text"]
