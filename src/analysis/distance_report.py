"""Distance from the origin, in two registers: plain words in Geography, the statistic in Methods.

The body says what the test found ("areas near Evere did not report the outage earlier than
areas far from it") and how often chance alone gives a link at least that strong, in
incidents out of ten; the rank correlation, its permutation p-value and the test's name are
written in the Methods appendix (:func:`distance_methods`), where the glossary explains them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from analysis.i18n import format_number, text
from analysis.narrative import caption, esc
from analysis.sentences import localized_html
from analysis.spatial.distance import MIN_AREAS

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from analysis.spatial import DistanceTest
    from analysis.spatial_analysis import SpatialAnalysis

#: Below this p-value a link with distance is called a finding (as in the tests themselves).
ALPHA = 0.05
#: The outcomes tested, with the heading of each in the catalogues.
OUTCOMES = (("onset", "geo_onset"), ("recovery", "geo_recovery"))


def chance_words(p: float, lang: str) -> str:
    """How often chance alone gives a link at least this strong, in incidents: 'in about 6 incidents in 10'.

    A p-value as a frequency a review meeting reads without a lesson in statistics: tenths
    down to 1 in 10, then '1 in N', and 'fewer than 1 in 1,000' below that.
    """
    if p >= 0.095:
        k = min(10, round(p * 10))
        return text(lang, "geo_odds_one" if k == 1 else "geo_odds", k=k, m=10)
    if p > 0.001:
        return text(lang, "geo_odds_one", m=format_number(round(1 / p), 2, lang))
    return text(lang, "geo_odds_rare", m=format_number(1000, 1, lang))


def direction(t: DistanceTest, key: str) -> str:
    """Which way the outcome goes with distance: 'none' unless the test found a link."""
    if not (math.isfinite(t.p_value) and t.p_value < ALPHA):
        return "none"
    return ("later" if t.rho > 0 else "earlier") if key == "onset" else ("slower" if t.rho > 0 else "faster")


def finding_words(t: DistanceTest, key: str, origin: tuple[str, str], lang: str) -> str:
    """What one distance test found, in plain words: the direction (or none) and its chance frequency.

    ``origin`` is the origin's name as the tests wrote it and in the reader's language. A test
    that could not be run says why: too few areas with a value, or values that do not vary.
    """
    name = origin[1]
    if not math.isfinite(t.p_value):
        if t.n < MIN_AREAS:
            return esc(text(lang, "geo_dist_untested_few", origin=name, n=t.n, m=MIN_AREAS))
        return esc(text(lang, "geo_dist_untested_flat", origin=name))
    where = text(lang, "geo_dist_where") if t.stratified else ""
    finding = text(lang, f"geo_dist_{key}_{direction(t, key)}", origin=name, where=where)
    return esc(text(lang, "geo_dist_chance", finding=finding, odds=chance_words(t.p_value, lang)))


def distance_parts(s: SpatialAnalysis, origin: tuple[str, str], heading: str, lang: str) -> list[str | go.Figure]:
    """The Geography body's 'Distance from …': per outcome, the plain finding over all areas and within regions.

    ``origin``: the origin's name as the tests wrote it, and in the reader's language.
    """
    if not s.distance:
        return []
    parts: list[str | go.Figure] = [f"<h3>{esc(heading)}</h3>"]
    items = []
    for key, label in OUTCOMES:
        overall, within = s.distance.get(key), s.distance.get(f"{key}_within_regions")
        if overall is None:
            continue
        html = finding_words(overall, key, origin, lang)
        if within is not None:
            if math.isfinite(overall.p_value) and overall.p_value < ALPHA and within.p_value >= ALPHA:
                html += " " + esc(text(lang, "geo_within_none"))
            elif math.isfinite(within.p_value) and direction(within, key) == direction(overall, key):
                html += " " + esc(text(lang, "geo_dist_within_same", odds=chance_words(within.p_value, lang)))
            else:
                html += " " + finding_words(within, key, origin, lang)
        items.append(f"<li><b>{esc(text(lang, label))}.</b> {html}</li>")
    parts.append("<ul>" + "".join(items) + "</ul>")
    parts.append(caption(text(lang, "geo_distance_caption")))
    parts.append(
        f"<p class='pm-caption'>{esc(text(lang, 'geo_distance_in_methods'))} "
        f'<a href="#methods-distance">{esc(text(lang, "methods"))}</a>.</p>'
    )
    return parts


def distance_methods(s: SpatialAnalysis | None, origin_en: str, origin: str, heading: str, lang: str) -> str:
    """Methods' 'Distance from …': the test's name and every measure behind the body's plain sentences ("" if none)."""
    if s is None or not s.distance:
        return ""
    items = []
    for key, label in OUTCOMES:
        tests = [t for t in (s.distance.get(key), s.distance.get(f"{key}_within_regions")) if t is not None]
        verdicts = [t.verdict.replace(origin_en, origin) if origin_en else t.verdict for t in tests]
        if verdicts:
            items.append(f"<li><b>{esc(text(lang, label))}.</b> " + " ".join(localized_html(v, lang) for v in verdicts) + "</li>")
    how = text(lang, "geo_distance_method")
    return f'<h3 id="methods-distance">{esc(heading)}</h3><ul>{"".join(items)}</ul><p>{esc(how)}</p>'


__all__ = ["chance_words", "direction", "distance_methods", "distance_parts", "finding_words"]
