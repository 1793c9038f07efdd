"""Score the resolver on a labelled set of place strings (``tests/data/geocode_cases.csv``).

The set says, for each case, the category (exact_fr, exonym, section, typo, postal,
coordinates, area, foreign, garbage, ...), the inputs (place, postal code, lat/lon, area
level) and the expected NIS code (empty for foreign and garbage strings) or the expected
method ("ambiguous" for a string naming two towns). The test suite and the benchmark
both print this score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from analysis.errors import GeoError
from analysis.geo.resolve import DEFAULT_FUZZY_THRESHOLD, resolve_places

__all__ = ["CaseScore", "load_cases", "score_cases"]

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
