"""The Data quality section: sources, rows kept and rejected, duplicates, places not found, windows, coverage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import polars as pl

from analysis import series_report
from analysis.figure_text import area_name
from analysis.i18n import TEXT, format_number, text
from analysis.narrative import heading, table
from analysis.privacy import esc
from analysis.sentences import localize

if TYPE_CHECKING:
    from analysis.pipeline import Analysis


def rejects_by_reason(rejects: pl.DataFrame, *, by: Sequence[str] = ("reason",)) -> pl.DataFrame:
    """Rejected rows counted per reason, most frequent first, with the first five row numbers.

    Reasons that differ only by the row they point to ("duplicate of row 84") count as one,
    and so do reasons that differ only by the value they quote ("unreadable time 'n/a'"): a
    column of garbage is one problem, shown with its first value and how many others there are.
    """
    quoted = r"'[^']*'"
    keyed = rejects.with_columns(
        pl.col("reason").str.replace(r"duplicate of row \d+", "duplicate of an earlier row")
    ).with_columns(pl.col("reason").alias("_said"), pl.col("reason").str.replace_all(quoted, "'…'").alias("reason"))
    counted = (
        keyed.sort("row")
        .group_by(*by)
        .agg(
            pl.len().alias("rows"),
            pl.col("row").head(5).cast(pl.String).str.join(", ").alias("first rows"),
            pl.col("_said").first().alias("_said"),
            pl.col("_said").n_unique().alias("_n"),
        )
        .sort("rows", *by, descending=[True] + [False] * len(by))
    )
    said = (
        pl.when(pl.col("_n") == 2)
        .then(pl.format("{} (and 1 other value)", "_said"))
        .when(pl.col("_n") > 2)
        .then(pl.format("{} (and {} other values)", "_said", pl.col("_n") - 1))
        .otherwise("_said")
    )
    return counted.with_columns(said.alias("reason")).drop("_said", "_n")


def duplicates_sentence(counts: Any, lang: str) -> str:
    """How many rows of a source are identical to an earlier one, what became of them, and the policy.

    Always said, whatever the policy: under the default (identity) identical rows are kept
    as separate reports, and a reader must be able to see how many there were.
    """
    values = {
        "source": counts.source,
        "identical": counts.n_identical,
        "kept": counts.n_identical_kept,
        "rejected": counts.n_duplicates,
        "policy": counts.dedupe,
    }
    if counts.n_identical == 0:
        return text(lang, "dup_no_identical", **values)
    return text(lang, f"dup_{counts.dedupe}", **values)


def data_quality(a: Analysis) -> str:
    """Sources, counts, rejects by reason, unresolved places, windows, coverage notes."""
    lang, data = a.params.language, a.data
    parts = [heading("data-quality", text(lang, "data_quality")), *_sources_parts(a)]
    if series_report.is_series(a) and data.reports.height == 0:
        # a series has readings, not reports: no places to resolve, no windows
        parts += _kept_with_warning(data.online, lang, "dq_h_readings")
        return "\n".join(parts)
    # the windows are counted among the reports the timeline and the fit read (the page's one
    # definition of a report); the rows kept with a warning are every row's
    counted = a.down if hasattr(a, "down") else data.reports
    parts += [*_places_parts(data.reports, lang), *_windows_parts(counted, data.reports, lang), *_coverage_parts(a)]
    return "\n".join(parts)


def _sources_parts(a: Analysis) -> list[str]:
    """The sources table, the rows balance, the series' readings, duplicates and rejects by reason."""
    lang, data = a.params.language, a.data
    rows = [
        (
            s.source,
            text(lang, f"kind_{s.kind}") if f"kind_{s.kind}" in TEXT["en"] else s.kind,
            s.path,
            s.n_raw,
            s.n_accepted,
            s.n_rejected,
            s.encoding or "",
            repr(s.delimiter) if s.delimiter else "",
        )
        for s in data.sources
    ]
    headers = ["source", "kind", "file", "rows", "kept", "rejected", "encoding", "delimiter"]
    parts = [f"<h3>{esc(text(lang, 'sources'))}</h3>", table([text(lang, f"dq_h_{h}") for h in headers], rows)]
    parts.append(f"<p>{esc(text(lang, 'dq_rows_balance', raw=data.n_raw, kept=data.n_reports, rejected=data.n_rejected))}</p>")
    if series_report.is_series(a):
        parts.append(series_report.quality_html(a, table))
    parts.append(f"<h3>{esc(text(lang, 'duplicates'))}</h3>")
    parts.extend(f"<p>{esc(duplicates_sentence(s, lang))}</p>" for s in data.sources)
    parts.append(f"<h3>{esc(text(lang, 'rejects_by_reason'))}</h3>")
    if data.rejects.height:
        by = rejects_by_reason(data.rejects, by=("source", "reason"))
        parts.append(table([text(lang, f"dq_h_{h}") for h in ("source", "reason", "rows", "first_rows")], by.rows()))
    else:
        parts.append(f"<p>{esc(text(lang, 'rejects_none'))}</p>")
    return parts


def _places_parts(reports: pl.DataFrame, lang: str) -> list[str]:
    """Places not found (as written, with why), and reports without any place."""
    parts = [f"<h3>{esc(text(lang, 'unresolved_places'))}</h3>"]
    unresolved = reports.filter(
        (pl.col("geo_method").is_null() | pl.col("geo_method").is_in(["unresolved", "ambiguous"]))
        & pl.col("place_raw").is_not_null()
    )
    if unresolved.height:
        cols = ["place_raw"] + (["geo_note"] if "geo_note" in unresolved.columns else [])
        by = (
            unresolved.group_by(cols)
            .agg(pl.len().alias("reports"))
            .sort(["reports", *cols], descending=[True] + [False] * len(cols), nulls_last=True)
            .head(50)
        )
        headers = [
            text(lang, "dq_h_place_written"),
            *([text(lang, "dq_h_why")] if len(cols) > 1 else []),
            text(lang, "dq_h_reports"),
        ]
        parts.append(table(headers, by.rows()))
    else:
        parts.append(f"<p>{esc(text(lang, 'unresolved_none'))}</p>")
    no_place = reports.filter(pl.col("place_raw").is_null() & pl.col("lat").is_null() & pl.col("postal_code").is_null()).height
    if no_place:
        parts.append(f"<p>{esc(text(lang, 'dq_no_place', n=no_place))}</p>")
    return parts


def _windows_parts(counted: pl.DataFrame, reports: pl.DataFrame, lang: str) -> list[str]:
    """Counted reports known only within a window (how many, how wide), and rows kept with a warning."""
    windowed = counted.filter(pl.col("reported_until").is_not_null())
    parts = [f"<h3>{esc(text(lang, 'windows'))}</h3>"]
    if windowed.height:
        spans = windowed.select(((pl.col("reported_until") - pl.col("reported_at")).dt.total_minutes() / 60).alias("h"))["h"]
        words = text(
            lang,
            "dq_windows",
            n=windowed.height,
            total=counted.height,
            median=format_number(cast(float, spans.median()), 2, lang),
            widest=format_number(cast(float, spans.max()), 3, lang),
        )
        parts.append(f"<p>{esc(words)}</p>")
    else:
        parts.append(f"<p>{esc(text(lang, 'dq_all_timed'))}</p>")
    return [*parts, *_kept_with_warning(reports, lang, "dq_h_reports")]


def _kept_with_warning(rows: pl.DataFrame, lang: str, count_key: str) -> list[str]:
    """The rows kept with a warning, by warning (the 20 most frequent), each in the page's language where its shape is known."""
    warned = rows.filter(pl.col("issues").is_not_null())
    if not warned.height:
        return []
    by = warned.group_by("issues").agg(pl.len().alias("n")).sort("n", descending=True).head(20)
    lines = [(localize(issue, lang)[0], n) for issue, n in by.rows()]
    return [
        f"<h3>{esc(text(lang, 'dq_kept_warning'))}</h3>",
        table([text(lang, "dq_h_warning"), text(lang, count_key)], lines),
    ]


def _coverage_parts(a: Analysis) -> list[str]:
    """Each source's stated coverage and the down reports per region (a source covering part of the country)."""
    lang = a.params.language
    cov = [
        (
            s.name,
            s.coverage_in(lang) if hasattr(s, "coverage_in") else s.coverage,
            ", ".join(area_name(r, lang) for r in s.coverage_regions),
        )
        for s in a.incident.sources
        if s.coverage
    ]
    if not cov:
        return []
    parts = [f"<h3>{esc(text(lang, 'coverage'))}</h3>"]
    parts.append(table([text(lang, f"dq_h_{h}") for h in ("source", "coverage", "regions_covered")], cov))
    by_region = (
        a.down.group_by("region")
        .agg(pl.len().alias("reports"))
        .sort(["reports", "region"], descending=[True, False], nulls_last=True)
    )
    if by_region.height:
        rows = [(area_name(r, lang) if r else text(lang, "dq_no_region"), n) for r, n in by_region.rows()]
        parts.append(table([text(lang, "dq_h_region"), text(lang, "dq_h_down_reports")], rows))
    return parts
