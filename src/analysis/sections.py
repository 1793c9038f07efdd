"""Report sections as lists of displayable parts (HTML strings and plotly figures), and their registry.

:data:`SECTIONS` lists the sections of the post-mortem page in order: each one's id (the
builder's name here, and the call in its notebook cell), the i18n keys of the headings it
writes (with their anchors) and the function that builds it. The table of contents
(:func:`analysis.htmlexport.add_toc`) follows it, ``tests/test_sections_registry.py``
checks that ``notebooks/postmortem.ipynb`` has one cell per entry in the same order and
that every heading on a page is declared here. A notebook cell calls one section
function and :func:`show`; the post-mortem notebook and the exploratory one share these,
so the page and JupyterLab show the same things.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
import polars as pl

from analysis import figures, impact_report, methods_report, narrative, postmortem_report, quality_report, series_report
from analysis.evidence_appendix import references
from analysis.i18n import TEXT, cldr_locale, estimable, format_duration, format_percent, format_percents, format_time, text
from analysis.narrative import caption, esc, heading
from analysis.params import as_dict
from analysis.provenance import provenance
from analysis.sentences import localized_html, plain
from analysis.timeline import bin_reports, events_in, restorations_as_times

if TYPE_CHECKING:
    from analysis.pipeline import Analysis

Part = str | go.Figure

#: Fewer exactly timed reports than this and the time-rescaling KS test is not shown as a check:
#: on a handful of gaps it rejects almost nothing, and a pass would read as a validation.
MIN_KS_POINTS = 20


def show(parts: list[Part]) -> None:
    """Display each part: HTML strings as HTML, figures through the active renderer."""
    from IPython.display import HTML, display

    html_buffer: list[str] = []
    for part in parts:
        if isinstance(part, str):
            html_buffer.append(part)
            continue
        if html_buffer:
            display(HTML("\n".join(html_buffer)))
            html_buffer = []
        display(part)
    if html_buffer:
        display(HTML("\n".join(html_buffer)))


def header(a: Analysis) -> list[Part]:
    """Title, run line, coverage, the live banner (an as-of run), the post-mortem's status box and the trust note."""
    from analysis.nowcast_report import live_banner

    status = [postmortem_report.link_citations(p, _source_ids(a)) for p in postmortem_report.written_parts(a, "status")]
    return [narrative.header(a), *([b] if (b := live_banner(a)) else []), *status]


def _source_ids(a: Analysis) -> set[str]:
    """The ids of the sources key (configured references and the ids the rows cite)."""
    return {r.id for r in references(a.incident.postmortem, a.data.reports)} if a.data.reports is not None else set()


def communications(a: Analysis) -> list[Part]:
    """Communications review: at each announcement, the as-of estimate beside the retrospective one."""
    from analysis.nowcast_report import communications_section

    return list(communications_section(a))


def root_cause(a: Analysis) -> list[Part]:
    """Root cause as stated over time, trigger and contributing factors (from ``incident.toml``)."""
    return postmortem_report.written_parts(a, "cause")


def resolution(a: Analysis) -> list[Part]:
    """Resolution steps, apart from the announcements (from ``incident.toml``)."""
    return postmortem_report.written_parts(a, "resolution")


def followup(a: Analysis) -> list[Part]:
    """Action items, lessons and open questions (from ``incident.toml``)."""
    return postmortem_report.written_parts(a, "followup")


def summary(a: Analysis) -> list[Part]:
    """Executive summary with headline numbers; the sources it cites link to the sources key."""
    return [postmortem_report.link_citations(narrative.summary(a), _source_ids(a))]


def impact(a: Analysis) -> list[Part]:
    """Impact table and time metrics."""
    return [impact_report.impact(a)]


def detection(a: Analysis) -> list[Part]:
    """Detection: onset, first signal, first acknowledgement and the gaps between them (computed)."""
    return [impact_report.detection_html(a)] if a.metrics.get("detection") else []


def customer_impact(a: Analysis) -> list[Part]:
    """Impact in customer-hours when the number of affected customers is known (computed)."""
    return [impact_report.customer_impact_html(a)] if a.metrics.get("customer_impact") else []


def timeline(a: Analysis) -> list[Part]:
    """Report-rate figure with events, and the events table."""
    lang = a.params.language
    binned, unit, series, key = a.binned, "reports", None, "caption_timeline"
    if a.evidence == "restorations":
        binned = bin_reports(
            restorations_as_times(a.data.restorations),
            start=a.span[0],
            end=a.span[1],
            bin_minutes=a.display_bin_minutes,
            timezone=a.incident.timezone,
        )
        unit, key = "restorations", "caption_timeline_restorations"
    elif a.evidence == "online_fraction" and getattr(a.fit, "data_quality", None) is not None:
        # every reading of the series, build-up included, as a share of the peak
        readings = a.fit.data_quality.filter(pl.col("out").is_not_null() & ~pl.col("flag").is_in(["dropout", "flapping"]))
        series = readings.select("observed_at", (pl.col("out") / a.fit.peak_out).alias("share"))
        key = "caption_timeline_series" if a.down.height == 0 else key
    fig = figures.timeline_figure(
        binned,
        events_in(a.events, lang),
        timezone=a.incident.timezone,
        bin_minutes=a.display_bin_minutes,
        span=a.span,
        unit=unit,
        series=series,
    )
    return [heading("timeline", text(lang, "timeline")), fig, caption(text(lang, key)), narrative.events_html(a)]


def recovery(a: Analysis) -> list[Part]:
    """The fitted curve with its band and announcements, and the candidate families."""
    lang = a.params.language
    curated = getattr(a, "curated", False)
    # curated statements: the same curve, titled and labelled as what it is (the timing of statements)
    parts: list[Part] = [heading("recovery", text(lang, "recovery_curated" if curated else "recovery"))]
    if a.fit is None:
        parts.append(f'<div class="pm-callout">{esc(narrative.no_fit_text(a, lang))}</div>')
        return parts
    if series_report.is_series(a):
        parts += [
            series_report.series_figure(a),
            caption(text(lang, "caption_series", level=format_percent(a.params.level, 0, lang))),
        ]
        if getattr(a.fit, "verdict", ""):
            parts.append(f'<div class="pm-trust">{localized_html(plain(a.fit.verdict), lang)}</div>')
        parts.append(candidates_pointer(lang))
        return parts + diagnostics(a)
    if curated:
        parts.append(f"<p>{esc(text(lang, 'recovery_curated_intro'))}</p>")

    fig = figures.recovery_figure(
        a.fit,
        timezone=a.incident.timezone,
        events=events_in(a.events, lang) if curated else _with_share_still_affected(a, events_in(a.events, lang)),
        level=a.params.level,
        y_title=text(lang, "axis_statements_model") if curated else None,
    )
    key = "caption_recovery_curated" if curated else "caption_recovery"
    parts += [fig, caption(text(lang, key, level=format_percent(a.params.level, 0, lang)))]
    if getattr(a.fit, "verdict", ""):
        parts.append(f'<div class="pm-trust">{localized_html(plain(a.fit.verdict), lang)}</div>')
    parts.append(candidates_pointer(lang))
    parts += diagnostics(a)
    # the share "still affected" at each announcement is a restoration reading curated statements cannot give
    ann = [] if curated else a.metrics.get("announcements") or []
    if ann:
        parts.append(f"<h3>{esc(text(lang, 'announcements_vs'))}</h3>")
        parts.append(
            narrative.table(
                [text(lang, "time"), text(lang, "announcement"), text(lang, "still_affected"), text(lang, "interval")],
                [
                    (
                        format_time(dt.datetime.fromisoformat(x["time"]), a.incident.timezone, lang),
                        narrative.scrub_contacts(_announcement_label(a, x)),
                        *_percent_cells(x["still_affected"], x["still_affected_ci"], lang),
                    )
                    for x in ann
                ],
            )
        )
    return parts


def candidates_pointer(lang: str) -> str:
    """The body's plain sentence for the candidate models, linking to their table in Methods."""
    return (
        f'<p class="pm-meta">{esc(text(lang, "candidates_in_methods"))} '
        f'<a href="#methods-candidates">{esc(text(lang, "methods"))}</a>.</p>'
    )


def candidates_methods(a: Analysis) -> str:
    """The candidate models compared (Methods): family, parameters, AIC or QAIC, weights, t50/t90."""
    lang, fit = a.params.language, a.fit
    if fit is None or getattr(fit, "candidates", None) is None or not fit.candidates.height:
        return ""
    rows = narrative.table(*candidates_table(fit.candidates, lang, horizon=fit.horizon_minutes))
    return f'<h3 id="methods-candidates">{esc(text(lang, "candidates"))}</h3>{rows}'


def _announcement_label(a: Analysis, x: dict[str, Any]) -> str:
    """An announcement of ``metrics.json`` (English label) as incident.toml words it in the reader's language."""
    when = dt.datetime.fromisoformat(x["time"])
    for e in a.incident.announcements:
        if e.time == when and e.label == x["label"]:
            return e.label_in(a.params.language)
    return x["label"]


def _with_share_still_affected(a: Analysis, events: pl.DataFrame) -> pl.DataFrame:
    """Announcement labels followed by the estimated share still affected then ('… — 76 % [23 %–100 %] encore touchés')."""
    lang, labels = a.params.language, []
    for row in events.iter_rows(named=True):
        label = row["label"]
        if row["kind"] == "announcement" and not row.get("date_only") and a.fit is not None:
            est = a.fit.still_affected(row["time"])
            v, lo, hi = format_percents(est.value, est.low, est.high, lang)
            label = f"{label} — {v} [{lo}–{hi}] {text(lang, 'still_affected')}"
        labels.append(label)
    return events.with_columns(pl.Series("label", labels, dtype=pl.String))


def _percent_cells(value: float | None, ci: list[float] | None, lang: str = "en") -> tuple[str, str]:
    """A share and its interval as two table cells ('76%', '[23%–100%]'); '—' when missing."""
    low, high = ci if ci else (None, None)
    v, lo, hi = format_percents(value, low, high, lang)
    return v, f"[{lo}–{hi}]" if ci else "—"


#: Candidate-table columns and their headers (statistical notation is the same in every language).
_CANDIDATE_COLUMNS: tuple[tuple[str, str | None], ...] = (
    ("family", None),
    ("n_params", None),
    ("log_likelihood", "log L"),
    ("aic", "AIC"),
    ("qaic", "QAIC"),
    ("delta_qaic", "ΔQAIC"),
    ("akaike_weight", None),
    ("t50_minutes", "t50 (min)"),
    ("t90_minutes", "t90 (min)"),
)


def _decimal(v: float, pattern: str, lang: str) -> str:
    """A number with fixed decimals in the page's language (0.237, 0,237), no grouping."""
    from babel.numbers import format_decimal

    return format_decimal(v, format=pattern, locale=cldr_locale(lang))


def candidates_table(cand: pl.DataFrame, lang: str, *, horizon: float = math.inf) -> tuple[list[str], list[list[str]]]:
    """Headers and text rows of the candidate families: numbers rounded, gaps as '—'.

    A family whose optimiser did not converge says so instead of showing estimates it
    does not have; a duration past ``horizon`` (minutes observed after onset) is shown as
    beyond the observation window, not as an extrapolated number.
    """
    cols = [(c, label) for c, label in _CANDIDATE_COLUMNS if c in cand.columns]
    headers = [label or text(lang, c) for c, label in cols]
    converged = cand["converged"].to_list() if "converged" in cand.columns else [True] * cand.height
    rows: list[list[str]] = []
    for record, ok in zip(cand.select([c for c, _ in cols]).iter_rows(named=True), converged, strict=True):
        row = []
        for c, _ in cols:
            v = record[c]
            if c in ("t50_minutes", "t90_minutes", "akaike_weight") and not ok:
                row.append(text(lang, "not_converged") if c != "akaike_weight" else "—")
            elif v is None or (isinstance(v, float) and not math.isfinite(v)):
                row.append("—")
            elif c in ("t50_minutes", "t90_minutes") and isinstance(v, float) and v > horizon:
                row.append(f"> {horizon:.0f} ({text(lang, 'beyond_window')})")
            elif c in ("t50_minutes", "t90_minutes") and isinstance(v, float) and not estimable(v):
                row.append(text(lang, "not_estimable"))
            elif c == "akaike_weight":
                row.append(_decimal(v, "0.000", lang))
            elif isinstance(v, float):
                row.append(_decimal(v, "0.0", lang))
            else:
                row.append(str(v))
        rows.append(row)
    return headers, rows


def diagnostics(a: Analysis) -> list[Part]:
    """Observed vs fitted counts, time-rescaling, and the sensitivity to the propensity profile."""
    lang, fit = a.params.language, a.fit
    parts: list[Part] = []
    diag = getattr(fit, "diagnostics", None)
    if diag is not None and diag.observed_vs_fitted.height:
        parts.append(f"<h3>{esc(text(lang, 'diagnostics'))}</h3>")
        parts.append(
            figures.observed_fitted_figure(
                diag.observed_vs_fitted,
                timezone=a.incident.timezone,
                bin_minutes=a.display_bin_minutes,
                onset=getattr(fit, "onset", None),
            )
        )
        counts = "bin_start" in diag.observed_vs_fitted.columns
        parts.append(caption(text(lang, "caption_observed_fitted" if counts else "caption_curve_fitted")))
        parts.append(
            figures.residual_figure(diag, onset=fit.onset, timezone=a.incident.timezone, bin_minutes=a.display_bin_minutes)
        )
        parts.append(caption(text(lang, "caption_residuals")))
        for misfit in getattr(a, "misfits", []):
            parts.append(f'<div class="pm-callout">{esc(narrative.misfit_sentence(a, misfit))}</div>')
        if 0 < len(diag.rescaled_times) < MIN_KS_POINTS:
            parts.append(f'<p class="pm-meta">{esc(text(lang, "ks_too_few", n=len(diag.rescaled_times)))}</p>')
        elif len(diag.rescaled_times):  # the formal test (time-rescaling, KS band) is Methods' business
            parts.append(f'<p class="pm-meta">{esc(text(lang, "rescaling_pointer"))}</p>')
    sens = getattr(fit, "sensitivity", None)
    if sens is not None and sens.height:
        parts.append(f"<h3>{esc(text(lang, 'sensitivity'))}</h3>")
        rows = [
            (
                text(lang, f"sens_{r['propensity']}") if f"sens_{r['propensity']}" in TEXT["en"] else r["propensity"],
                r["model"],
                *(format_duration(r[c], lang) for c in ("t50_minutes", "t90_minutes", "t99_minutes")),
            )
            for r in sens.iter_rows(named=True)
        ]
        parts.append(narrative.table([text(lang, "sens_h_propensity"), text(lang, "sens_h_model"), "t50", "t90", "t99"], rows))
        parts.append(caption(text(lang, "caption_sensitivity")))
    return parts


def geography(a: Analysis) -> list[Part]:
    """Where it hit, where it lasted, whether place mattered (see :mod:`analysis.spatial_report`)."""
    from analysis.spatial_report import geography_parts

    if not getattr(a, "has_geography", True) and series_report.is_series(a):
        lang = a.params.language
        return [heading("geography", text(lang, "geography")), f"<p>{esc(text(lang, 's_no_geography_unplaced'))}</p>"]
    return geography_parts(a)


def data_quality(a: Analysis) -> list[Part]:
    """Sources, rejects, unresolved places, windows, coverage."""
    return [quality_report.data_quality(a)]


def evidence(a: Analysis) -> list[Part]:
    """Evidence appendix: every statement with its source, the sources key, conflicting accounts."""
    from analysis.evidence_appendix import appendix

    return appendix(a)


#: Terms the glossary explains, in the order shown.
GLOSSARY = (
    "t50", "range", "overdispersion", "qaic", "pearson", "lisa", "eb", "fdr", "spearman", "permutation", "pooling", "curated",
)  # fmt: skip


#: Terms that concern areas: explained only when the report speaks of places.
SPATIAL_TERMS = ("lisa", "eb", "fdr", "spearman", "permutation", "pooling")


def glossary_terms(a: Analysis) -> tuple[str, ...]:
    """The glossary terms that apply to this analysis.

    A customers-out series has no report clumps (overdispersion), no Pearson residuals (its
    residuals are standardised noise innovations), no curated statements,
    and its t50 is the count falling below half its peak; terms about areas appear only
    when some place in the data resolves.
    """
    terms = GLOSSARY
    if series_report.is_series(a):
        terms = tuple("t50_series" if t == "t50" else t for t in terms if t not in ("overdispersion", "pearson", "curated"))
    if not getattr(a, "has_geography", True):
        terms = tuple(t for t in terms if t not in SPATIAL_TERMS)
    return terms


def glossary(lang: str, terms: tuple[str, ...] = GLOSSARY) -> str:
    """The Methods glossary: each statistical term in plain words, in the reader's language."""
    items = []
    for key in terms:
        term, meaning = text(lang, f"gl_{key}").split("|", 1)
        items.append(f"<dt>{esc(term)}</dt><dd>{esc(meaning)}</dd>")
    return f'<h3 id="glossary">{esc(text(lang, "gl_title"))}</h3><dl class="pm-glossary">{"".join(items)}</dl>'


def methods(a: Analysis) -> list[Part]:
    """Methods and assumptions: the model, the formal fit check, the candidate models, the spatial statistics, a glossary."""
    from analysis.spatial_report import distance_methods, excess_methods, moran_methods

    extra = [p for p in (candidates_methods(a), distance_methods(a), excess_methods(a), moran_methods(a)) if p]
    return [methods_report.methods(a), *fit_check_methods(a), *extra, glossary(a.params.language, glossary_terms(a))]


def fit_check_methods(a: Analysis) -> list[Part]:
    """The time-rescaling test of a report fit (figure, caption) and how windowed reports enter the checks."""
    lang, diag = a.params.language, getattr(a.fit, "diagnostics", None)
    if diag is None or not diag.observed_vs_fitted.height:
        return []
    parts: list[Part] = []
    if len(diag.rescaled_times) >= MIN_KS_POINTS:
        parts += [
            f"<p>{esc(text(lang, 'rescaling_intro'))}</p>",
            figures.rescaling_figure(diag.rescaled_times, band=diag.ks_band, statistic=diag.ks_statistic, pvalue=diag.ks_pvalue),
            caption(text(lang, "caption_rescaling")),
        ]
    if diag.note:
        parts.append(f'<p class="pm-meta">{localized_html(diag.note, lang)}</p>')
    return parts


def provenance_section(a: Analysis) -> list[Part]:
    """Run id, code version, input hashes, parameters, packages."""
    return [methods_report.provenance_html(a, provenance(a.incident, as_dict(a.params)))]


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Section:
    """One section of the post-mortem page.

    Attributes
    ----------
    id
        The builder's name in this module; the notebook's cell for it calls ``sections.<id>(a)``.
    title
        The i18n key of its heading (:func:`analysis.i18n.text`); empty for the header, which has none.
    build
        ``build(a)`` returns the section's parts (an empty list when the incident has nothing for it).
    anchor
        The ``id`` of its heading on the page (the table of contents links to it).
    more
        Further ``(anchor, title key)`` headings the section writes (follow-up: lessons, open questions).
    variants
        Other title keys its heading may carry (the recovery of curated statements is "Exploratory: …").
    """

    id: str
    title: str
    build: Callable[[Analysis], list[Part]]
    anchor: str = ""
    more: tuple[tuple[str, str], ...] = ()
    variants: tuple[str, ...] = ()

    @property
    def headings(self) -> tuple[tuple[str, str], ...]:
        """Every ``(anchor, title key)`` heading the section may write, in page order."""
        return ((self.anchor, self.title), *self.more) if self.anchor else self.more


#: The post-mortem page, in order. Adding a section: its builder and entry here, its cell in
#: notebooks/postmortem.ipynb, its words in a word pack (catalogues/packs/) or the catalogues (docs/architecture.md).
SECTIONS: tuple[Section, ...] = (
    Section("header", "", header),
    Section("summary", "summary", summary, "summary"),
    Section("impact", "impact", impact, "impact"),
    Section("customer_impact", "ci_title", customer_impact, "customer-impact"),
    Section("detection", "det_title", detection, "detection"),
    Section("root_cause", "pm_root_cause", root_cause, "root-cause"),
    Section("timeline", "timeline", timeline, "timeline"),
    Section("resolution", "pm_resolution", resolution, "resolution"),
    Section("recovery", "recovery", recovery, "recovery", variants=("recovery_curated",)),
    Section("communications", "comm_title", communications, "communications"),
    Section("geography", "geography", geography, "geography"),
    Section(
        "followup", "pm_actions", followup, "action-items", more=(("lessons", "pm_lessons"), ("open-questions", "pm_questions"))
    ),
    Section("data_quality", "data_quality", data_quality, "data-quality"),
    Section("evidence", "ev_title", evidence, "evidence"),
    Section("methods", "methods", methods, "methods"),
    Section("provenance_section", "provenance", provenance_section, "provenance"),
)


def section(section_id: str) -> Section:
    """The registry entry ``section_id`` (a KeyError naming the known ids otherwise)."""
    for s in SECTIONS:
        if s.id == section_id:
            return s
    raise KeyError(f"no section {section_id!r}; known: {', '.join(s.id for s in SECTIONS)}")


def anchors() -> list[str]:
    """The heading anchors of every section, in page order (the table of contents' order)."""
    return [anchor for s in SECTIONS for anchor, _ in s.headings]


def build_all(a: Analysis) -> list[Part]:
    """Every section of ``a`` in page order, as one list of parts (what the notebook shows cell by cell)."""
    return [part for s in SECTIONS for part in s.build(a)]
