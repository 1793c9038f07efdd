"""Every report section works whatever the evidence: down reports, restorations, or a measured series.

Incidents without down reports (a utility's restoration log, an outage-map series from
another country) must give a readable report: no crash, no empty Belgian map, the time
axis running to the last observation.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest

from analysis import sections
from analysis.fitting import observation_end
from analysis.narrative import esc
from analysis.params import validate_params
from analysis.pipeline import analyze
from analysis.quality_report import duplicates_sentence
from analysis.simulate import online_fraction_series
from analysis.timeline import bin_reports, restorations_as_times

ONSET = dt.datetime(2024, 7, 8, 6, 0)  # local (America/Chicago) in the files below

TOML = """\
id = "{id}"
title = "Storm outage"
timezone = "America/Chicago"
onset = "2024-07-08T06:00:00"

[[events]]
time = "2024-07-09T12:00:00"
label = "Utility: most customers restored"
kind = "announcement"
resolved = true

[[sources]]
path = "{path}"
kind = "{kind}"
{columns}
"""


def _series_incident(root: Path) -> Path:
    s = online_fraction_series(
        family="weibull", params={"lambda_": 1500.0, "rho_": 1.3}, horizon_minutes=4 * 24 * 60, step_minutes=30, rng=4
    )
    folder = root / "storm-series"
    folder.mkdir(parents=True)
    times = [ONSET + dt.timedelta(minutes=float(m)) for m in s.minutes]
    pl.DataFrame({"when": [f"{t:%Y-%m-%d %H:%M}" for t in times], "customers_out": np.round(s.out_share * 250_000)}).write_csv(
        folder / "series.csv"
    )
    columns = '[sources.columns]\nobserved_at = "when"\nout = "customers_out"\n[sources.defaults]\ntotal = 250000'
    (folder / "incident.toml").write_text(
        TOML.format(id="storm-series", path="series.csv", kind="online_fraction", columns=columns)
    )
    return folder


def _restorations_incident(root: Path) -> Path:
    rng = np.random.default_rng(7)
    minutes = rng.weibull(1.2, 400) * 900
    folder = root / "storm-log"
    folder.mkdir(parents=True)
    rows = []
    for i, m in enumerate(minutes):
        t = ONSET + dt.timedelta(minutes=float(m))
        if m > 3 * 24 * 60:  # still out when the log was exported
            rows.append((f"c{i}", "2024-07-11 06:00", "false"))
        else:
            rows.append((f"c{i}", f"{t:%Y-%m-%d %H:%M}", "true"))
    pl.DataFrame(rows, schema=["customer", "seen", "back"], orient="row").write_csv(folder / "log.csv")
    columns = '[sources.columns]\ncustomer_id = "customer"\nobserved_at = "seen"\nrestored = "back"'
    (folder / "incident.toml").write_text(TOML.format(id="storm-log", path="log.csv", kind="restorations", columns=columns))
    return folder


@pytest.fixture(scope="module", params=["online_fraction", "restorations"])
def analysis(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp(request.param)
    folder = _series_incident(root) if request.param == "online_fraction" else _restorations_incident(root)
    params = validate_params(
        incident_dir=str(folder), output_dir=str(root / "out"), processed_dir=str(root / "processed"), n_boot=40
    )
    return analyze(params)


def _html(parts: list) -> str:
    return "\n".join(p.to_html(include_plotlyjs=False) if isinstance(p, go.Figure) else str(p) for p in parts)


def test_the_fit_uses_the_direct_evidence_and_runs_to_its_last_observation(analysis) -> None:
    assert analysis.evidence in ("online_fraction", "restorations")
    assert analysis.fit is not None, analysis.fit_error
    last = analysis.data.online["observed_at"].max() if analysis.evidence == "online_fraction" else None
    if last is not None:
        assert analysis.span[1] > last
    assert analysis.span[1] - analysis.span[0] > dt.timedelta(days=2)  # not the 48 h default of report-less incidents


def test_every_section_renders(analysis) -> None:
    html = _html(sections.build_all(analysis))  # every section of the registry
    assert "nan" not in html.replace("nanos", "").lower().split("<script")[0]
    assert "0 down statements" not in html  # no report-count warnings for direct measurements
    assert "direct measurements" in html
    assert "No map" in html  # no located reports: no empty map of Belgium
    # a series speaks of readings; restoration records of observations
    assert ("Readings used" in html) if analysis.evidence == "online_fraction" else ("Observations" in html)
    # every source's identical rows and duplicate policy are said, whatever the kind
    expected_policy = {"online_fraction": "exact", "restorations": "identity"}[analysis.evidence]
    for source in analysis.data.sources:
        assert source.dedupe == expected_policy
        assert esc(duplicates_sentence(source, "en")) in html
    # the methods describe the model actually fitted, not the report-rate model
    assert "Down reports do not observe S directly" not in html
    assert ("infinite-server queue" in html) if analysis.evidence == "online_fraction" else ("interval-censored" in html)


def test_timeline_shows_the_evidence(analysis) -> None:
    fig = next(p for p in sections.timeline(analysis) if isinstance(p, go.Figure))
    values = [v for trace in fig.data if trace.y is not None for v in trace.y if v is not None]
    assert values and max(values) > 0  # the restorations or the measured series, not an empty chart


def test_restorations_as_times_keeps_only_records_that_say_when() -> None:
    utc = dt.UTC
    t = [dt.datetime(2024, 7, 8, h, tzinfo=utc) for h in (8, 9, 10, 11)]
    records = pl.DataFrame(
        {
            "observed_at": [t[0], t[1], None, None],
            "restored": [True, False, None, None],
            "restored_after": [None, None, t[1], t[2]],
            "restored_before": [None, None, t[3], None],
            "count": [3, 1, 2, 5],
        },
        schema_overrides={c: pl.Datetime("us", "UTC") for c in ("observed_at", "restored_after", "restored_before")},
    )
    times = restorations_as_times(records)
    assert times.rows() == [(t[0], None, 3.0), (t[1], t[3], 2.0)]
    binned = bin_reports(times, start=t[0], end=t[3] + dt.timedelta(hours=1), bin_minutes=60)
    assert binned["total"].sum() == pytest.approx(5.0)


def test_observation_end_counts_every_kind_of_evidence(analysis) -> None:
    empty = analysis.data.reports.clear()
    end = observation_end(analysis.incident, empty, restorations=analysis.data.restorations, online=analysis.data.online)
    frame = analysis.data.online if analysis.evidence == "online_fraction" else analysis.data.restorations
    assert end == frame["observed_at"].max() + dt.timedelta(minutes=1)
