"""Score the resolver on a labelled set of place strings (``tests/data/geocode_cases.csv``).

The set says, for each case, the category (exact_fr, exonym, section, typo, postal,
coordinates, area, foreign, garbage, ...), the inputs (place, postal code, lat/lon, area
level) and the expected NIS code (empty for foreign and garbage strings) or the expected
method ("ambiguous" for a string naming two towns). The test suite and the benchmark
both print this score.

:func:`score_sections` is the held-out check on names nobody here chose: every statistical
section (former municipality) in Statbel's sector list, by the name of its first sector,
resolved as a user's file would be and scored against the municipality holding it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from analysis.errors import GeoError
from analysis.geo.normalize import compact_key
from analysis.geo.reference import reference_municipalities, section_names
from analysis.geo.resolve import DEFAULT_FUZZY_THRESHOLD, resolve_places

__all__ = ["CaseScore", "load_cases", "score_cases", "score_sections", "statbel_sections"]

#: Categories whose strings must stay unresolved.
NOT_BELGIAN = ("foreign", "garbage")
_COLUMNS = ("category", "place", "postal_code", "lat", "lon", "area_level", "expected_nis", "expected_method", "note")


@dataclass(frozen=True)
class CaseScore:
    """Outcome of a labelled run.

    Attributes
    ----------
    belgian_accuracy : float
        Share of Belgian cases resolved to the expected code (or flagged ambiguous when expected).
    foreign_unresolved : float
        Share of foreign and garbage cases left without a municipality.
    n_belgian, n_foreign : int
        Number of cases of each kind.
    by_category : polars.DataFrame
        ``category``, ``n``, ``accuracy``.
    failures : polars.DataFrame
        The cases that were wrong, with what the resolver said.
    """

    belgian_accuracy: float
    foreign_unresolved: float
    n_belgian: int
    n_foreign: int
    by_category: pl.DataFrame
    failures: pl.DataFrame

    def summary(self) -> str:
        """One line for logs and test output."""
        return (
            f"geocoding: {self.belgian_accuracy:.1%} of {self.n_belgian} Belgian cases right, "
            f"{self.foreign_unresolved:.1%} of {self.n_foreign} foreign/garbage cases unresolved"
        )


def load_cases(path: str | Path) -> pl.DataFrame:
    """Read a labelled case file (CSV, UTF-8) with the columns of ``tests/data/geocode_cases.csv``."""
    path = Path(path)
    try:
        cases = pl.read_csv(path, infer_schema_length=0, encoding="utf8")
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise GeoError(f"{path}: cannot read the labelled cases ({exc})") from exc
    missing = [c for c in _COLUMNS if c not in cases.columns]
    if missing:
        raise GeoError(f"{path}: missing columns {', '.join(missing)}")
    return cases.with_columns(
        pl.col("lat").cast(pl.Float64, strict=False),
        pl.col("lon").cast(pl.Float64, strict=False),
        *(pl.col(c).fill_null("") for c in ("expected_nis", "expected_method")),
    )


def score_cases(cases: pl.DataFrame, *, fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD) -> CaseScore:
    """Resolve every case and compare with its label (see :func:`load_cases` for the columns)."""
    out = resolve_places(cases, place_col="place", fuzzy_threshold=fuzzy_threshold)
    foreign = pl.col("category").is_in(NOT_BELGIAN)
    right = (
        pl.when(foreign)
        .then(pl.col("nis_code").is_null())
        .when(pl.col("expected_method") == "ambiguous")
        .then(pl.col("geo_method") == "ambiguous")
        .otherwise(pl.col("nis_code") == pl.col("expected_nis"))
        .fill_null(False)
        .alias("right")
    )
    out = out.with_columns(right)
    bel = out.filter(~foreign)
    fgn = out.filter(foreign)
    by_cat = out.group_by("category").agg(pl.len().alias("n"), pl.col("right").mean().alias("accuracy")).sort("category")
    failures = out.filter(~pl.col("right")).select(
        "category",
        "place",
        "postal_code",
        "lat",
        "lon",
        "area_level",
        "expected_nis",
        "nis_code",
        "municipality",
        "geo_method",
        "geo_note",
    )
    return CaseScore(
        belgian_accuracy=float(bel["right"].mean()) if bel.height else float("nan"),
        foreign_unresolved=float(fgn["right"].mean()) if fgn.height else float("nan"),
        n_belgian=bel.height,
        n_foreign=fgn.height,
        by_category=by_cat,
        failures=failures,
    )


def statbel_sections() -> pl.DataFrame:
    """Every named Statbel section (:func:`~analysis.geo.reference.section_names`) with its group.

    Columns: ``section``, ``place`` (the name as listed), ``nis_code`` (the 2025 municipality
    holding it), ``group``: ``section`` (the name is this municipality's alone), ``shared``
    (sectors of several municipalities carry it: "Sint-Joris"), or ``municipality_name`` (it
    is also an official municipality name: the section of Merchtem called Hamme; the resolver
    gives the municipality).
    """
    official = {
        compact_key(n)
        for r in reference_municipalities().iter_rows(named=True)
        for n in (r["name_fr"], r["name_nl"], r["name_de"])
        if n
    }
    group = (
        pl.when(pl.col("key").is_in(list(official)))
        .then(pl.lit("municipality_name"))
        .when(pl.col("n_municipalities") > 1)
        .then(pl.lit("shared"))
        .otherwise(pl.lit("section"))
    )
    return section_names().select("section", pl.col("name").alias("place"), "nis_code", group.alias("group"))


def _typo(text: str, rng: np.random.Generator) -> str:
    """One slip of the keyboard: a letter dropped, doubled or swapped with the next (never the first letter)."""
    letters = [i for i, c in enumerate(text) if c.isalpha()][1:]
    i = int(letters[int(rng.integers(len(letters)))])
    op = int(rng.integers(3))
    if op == 1:
        return text[: i + 1] + text[i:]
    if op == 2 and i + 1 < len(text) and text[i + 1].isalpha() and text[i + 1] != text[i]:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + text[i + 1 :]


def score_sections(sections: pl.DataFrame | None = None, *, seed: int = 17) -> pl.DataFrame:
    """Resolve every section name as written, in lower case and with one typo; the share right per group.

    Returns ``group``, ``form`` (as_listed | lower_case | typo), ``n``, ``right``,
    ``unresolved`` (no municipality: unresolved or ambiguous), ``wrong`` (another
    municipality), as shares. The typos are drawn with ``seed``.
    """
    sec = statbel_sections() if sections is None else sections
    rng = np.random.default_rng(seed)
    forms = {
        "as_listed": sec["place"],
        "lower_case": sec["place"].str.to_lowercase(),
        "typo": pl.Series([_typo(p, rng) for p in sec["place"]], dtype=pl.String),
    }
    rows = []
    for form, written in forms.items():
        got = resolve_places(pl.DataFrame({"place_raw": written}))["nis_code"]
        out = sec.with_columns(got.alias("got"), pl.lit(form).alias("form"))
        rows.append(
            out.group_by("group", "form").agg(
                pl.len().alias("n"),
                (pl.col("got") == pl.col("nis_code")).fill_null(False).mean().alias("right"),
                pl.col("got").is_null().mean().alias("unresolved"),
                (pl.col("got") != pl.col("nis_code")).fill_null(False).mean().alias("wrong"),
            )
        )
    return pl.concat(rows).sort("group", "form")
