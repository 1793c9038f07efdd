"""The Methods and Provenance sections: the model in plain words and formulas per kind of evidence, the run's record.

The Methods text is in every catalogue for each kind of evidence (``method_text_<kind>``: down
reports, restoration records, a customers-out series), the candidate families listed from the
registry (:func:`family_names`); the estimators' own sentences (the
interval method) go through :func:`analysis.sentences.localized_html`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from analysis import series_report
from analysis.catalogues import CATALOGUES, SOURCE, catalogue
from analysis.i18n import TEXT, format_percent, format_time, text
from analysis.narrative import heading, table
from analysis.privacy import esc
from analysis.recovery import FAMILIES
from analysis.sentences import localized_html, plain

if TYPE_CHECKING:
    from analysis.pipeline import Analysis


def family_names(lang: str) -> str:
    """Every registered recovery family in the reader's words (``family_<name>``; else English; else its name)."""
    return ", ".join(
        catalogue(lang).words.get(f"family_{name}") or CATALOGUES[SOURCE].words.get(f"family_{name}") or name for name in FAMILIES
    )


def methods(a: Analysis) -> str:
    """Plain-language methods and assumptions, with the formulas."""
    lang = a.params.language
    fit = a.fit
    method = f"<p>{esc(text(lang, 'methods_series'))}</p>" if series_report.is_series(a) else None
    if method is None:  # the model in words and formulas, per kind of evidence (HTML of the catalogues)
        key = f"method_text_{a.evidence}"
        method = text(lang, key if key in TEXT["en"] else "method_text_down_reports", families=family_names(lang))
    parts = [heading("methods", text(lang, "methods")), method]
    tz = a.incident.timezone
    when = dt.datetime.fromisoformat
    onset = a.metrics.get("onset")
    source = a.metrics.get("onset_source")
    items = [
        text(lang, "mt_evidence", what=text(lang, f"kind_{a.evidence}") if f"kind_{a.evidence}" in TEXT["en"] else a.evidence),
        text(
            lang,
            "mt_onset",
            onset=format_time(when(onset), tz, lang) if onset else "—",
            source=text(lang, "mt_onset_config" if source == "config" else "mt_onset_estimated") if source else "—",
            tz=tz,
        ),
        text(lang, "mt_end", end=format_time(when(a.metrics["end"]), tz, lang) if a.metrics.get("end") else "—"),
    ]
    interval = localized_html(fit.interval_method, lang) if fit is not None else "—"
    lis = [f"<li>{esc(x)}</li>" for x in items]
    lis.append(
        "<li>"
        + esc(text(lang, "mt_intervals", method="\x00", level=format_percent(a.params.level, 0, lang))).replace("\x00", interval)
        + "</li>"
    )
    verdict = getattr(fit, "verdict", "") if fit is not None else ""
    if verdict and plain(verdict) != verdict:  # the measures the body leaves out (overdispersion, the models' weights)
        lis.append(
            "<li>" + esc(text(lang, "mt_verdict", verdict="\x00")).replace("\x00", localized_html(verdict, lang)) + "</li>"
        )
    if getattr(a, "has_geography", True):
        lis.append(f"<li>{esc(text(lang, 'mt_places'))}</li>")
    lis.append(f"<li>{esc(text(lang, 'mt_scrub'))}</li>")
    parts.append("<ul>" + "".join(lis) + "</ul>")
    return "\n".join(parts)


def provenance_html(a: Analysis, record: dict[str, Any]) -> str:
    """Run id, code version, input hashes, parameters, package versions."""
    lang = a.params.language
    cv = record["code_version"]
    parts = [heading("provenance", text(lang, "provenance"))]
    parts.append(
        table(
            ["", ""],
            [
                (text(lang, "run"), record.get("run_id") or "interactive"),
                (text(lang, "code_version"), cv.get("label")),
                (text(lang, "pv_incident"), record["incident_id"]),
            ],
        )
    )
    parts.append(f"<h3>{esc(text(lang, 'inputs'))}</h3>")
    inputs = [(i["path"], i.get("bytes"), i.get("sha256")) for i in record["inputs"]]
    parts.append(table([text(lang, "pv_h_file"), text(lang, "pv_h_bytes"), "sha256"], inputs))
    parts.append(f"<h3>{esc(text(lang, 'parameters'))}</h3>")
    parts.append(table([text(lang, "pv_h_name"), text(lang, "pv_h_value")], sorted(record["parameters"].items())))
    parts.append(f"<h3>{esc(text(lang, 'packages'))}</h3>")
    packages = sorted((k, v or "—") for k, v in record["packages"].items())
    parts.append(table([text(lang, "pv_h_package"), text(lang, "pv_h_version")], packages))
    if getattr(a, "has_geography", True):
        parts.append(f'<p class="pm-meta">{esc(text(lang, "pv_reference"))}</p>')
    return "\n".join(parts)
