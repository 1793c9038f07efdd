"""One count of reports across the page: every section and metrics.json count the same reports.

A *report* is a statement that service was out (down, intermittent, partial) about the
incident's own service (``[postmortem] service``; a row naming no service counts). The default
incident declares ``service = "tv"``: Tuesday's website, SMS and internet statements are listed
in the evidence appendix and counted nowhere. The page is built section by section as the
notebook builds it, then read as a reader reads it (its visible text and its figures' text);
every count found there is compared with the others and with metrics.json, not with numbers
copied from an earlier output.
"""

from __future__ import annotations

import dataclasses
import re

import plotly.graph_objects as go
import polars as pl
import pytest

from analysis import sections
from analysis.batch_index import report_count

from .test_languages import visible


def _page(a) -> str:
    """The whole page's HTML (figures as their JSON, without plotly.js)."""
    parts = sections.build_all(a)
    return "\n".join(p.to_html(include_plotlyjs=False, full_html=False) if isinstance(p, go.Figure) else str(p) for p in parts)


def _one(pattern: str, text: str) -> int:
    """The single count ``pattern`` captures in ``text`` (every occurrence must agree)."""
    found = {int(x) for x in re.findall(pattern, text)}
    assert len(found) == 1, (pattern, found)
    return found.pop()


@pytest.fixture(scope="module")
def page(default_analysis) -> tuple[str, str]:
    html = _page(default_analysis)
    return html, re.sub(r"\s+", " ", visible(html))


def test_every_count_of_reports_on_the_page_agrees_with_metrics(default_analysis, page) -> None:
    a, (html, text) = default_analysis, page
    mt = a.metrics
    n = mt["n_down_reports"]
    # metrics.json: one number everywhere it counts reports, and which services it covers
    assert mt["service_filter"]["n_down_reports"] == mt["curated_summary"]["n_statements"] == report_count(mt) == n
    assert sum(mt["areas"]["reports_by_scope"].values()) == n
    assert mt["service_filter"]["services"] == mt["service_filter"]["services_counted"] == ["tv"]
    assert n + sum(mt["service_filter"]["other_services"].values()) == mt["service_filter"]["n_down_reports_all_services"]
    # the page: the summary tile, the trust box, the impact table, the geography, the appendix
    assert _one(r"Reports of service out (\d+)", text) == n
    assert _one(r"Limited data: (\d+) down reports", text) == n
    assert _one(r"of (\d+) reports are known only within a time window", text) == n
    assert _one(r"Reports \(down / all rows\) (\d+) / \d+", text) == n
    assert _one(r"Of (\d+) down reports", text) == n
    assert _one(r"statements: (\d+) report service out", text) == n
    # the data-quality section's windows and regions count the same reports
    assert _one(r"\b\d+ of (\d+) reports carry a window", text) == n
    # the geography's scopes add up to the count, the map's legend says the same country count
    placed = _one(r"Of \d+ down reports, (\d+) name a place", text)
    country = _one(r"(\d+) speak of the whole country", text)
    unplaced = _one(r"(\d+) could not be placed", text)
    areas = _one(r"(\d+) are statements about a whole province or region", text)
    assert placed + areas + country + unplaced == n
    assert _one(r"(\d+) more statement\(s\) concern the whole country", html) == country
    # after the declaration: the summary, the communications review and metrics agree
    after = mt["declared_resolved"]["reports_after"]
    assert after == mt["curated_summary"]["statements_after_declaration"]
    assert _one(r"Statements after “resolved” (\d+)", text) == after


def test_the_counted_reports_are_the_incident_service_and_the_rest_is_listed(default_analysis, page) -> None:
    a, (_, text) = default_analysis, page
    reports = a.data.reports
    other = reports.filter(pl.col("service").is_not_null() & ~pl.col("service").is_in(list(a.services)))
    assert other.height > 0  # the default incident has website/SMS/internet statements
    # listed in the appendix, counted nowhere: the appendix says how many
    assert _one(r"(\d+) more concern another service than the incident's", text) == other.height
    # the fit, the timeline and the geography read the TV reports only
    assert a.down.filter(pl.col("service").is_not_null() & ~pl.col("service").is_in(list(a.services))).height == 0
    assert a.binned["total"].sum() == pytest.approx(a.down["weight"].sum(), rel=1e-6)


def test_without_a_service_filter_every_down_report_counts(default_analysis) -> None:
    # the same incident without [postmortem] service: the counts are every down report, as before the filter
    pm = dataclasses.replace(default_analysis.incident.postmortem, service=())
    b = dataclasses.replace(default_analysis, incident=dataclasses.replace(default_analysis.incident, postmortem=pm))
    every = b.data.reports.filter(pl.col("status").is_in(["down", "intermittent", "partial"])).height
    assert b.down.height == every > default_analysis.down.height
    assert b.other_services == {}
