"""The pipeline's recovery step: what it passes from the incident to the fitter, and the report's model choice."""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import SimpleNamespace

import polars as pl
import pytest

from analysis import fitting, pipeline, recovery
from analysis.config import DATA_RAW, Reporting, load_incident
from analysis.params import validate_params

UTC = pl.Datetime("us", "UTC")


@pytest.fixture(scope="module")
def incident():
    return load_incident(DATA_RAW / "proximus-2018-01-08")


def _data(sources: list[str]) -> SimpleNamespace:
    t0 = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
    n = len(sources)
    reports = pl.DataFrame(
        {
            "reported_at": pl.Series([t0 + dt.timedelta(minutes=10 * i) for i in range(n)], dtype=UTC),
            "reported_until": pl.Series([None] * n, dtype=UTC),
            "status": ["down"] * n,
            "weight": [1] * n,
            "source": sources,
        }
    )
    return SimpleNamespace(restorations=pl.DataFrame(), online=pl.DataFrame(), reports=reports)


def _captured(monkeypatch) -> dict:
    seen: dict = {}

    def fake(times, **kwargs):
        seen.update(kwargs)
        return "fit"

    monkeypatch.setattr(recovery, "fit_down_reports", fake)
    return seen


def test_surge_and_curated_sampling_reach_the_fit(incident, monkeypatch):
    seen = _captured(monkeypatch)
    inc = dataclasses.replace(incident, reporting=Reporting(surge=True))
    params = validate_params(incident_dir=str(incident.folder))
    fit, kind = fitting.fit_recovery(inc, _data(["press"] * 5), params, end=dt.datetime(2018, 1, 10, tzinfo=dt.UTC))
    assert (fit, kind) == ("fit", "down_reports")
    assert seen["surge"] is True
    assert seen["sampling"] == "curated"  # every down report comes from the curated press source


def test_reports_from_a_spontaneous_source_are_not_treated_as_statements(incident, monkeypatch):
    seen = _captured(monkeypatch)
    params = validate_params(incident_dir=str(incident.folder))
    fitting.fit_recovery(incident, _data(["press", "press", "webform"]), params, end=dt.datetime(2018, 1, 10, tzinfo=dt.UTC))
    assert seen["surge"] is False
    assert seen["sampling"] == "spontaneous"


def test_the_model_parameter_switches_the_reported_family(tmp_path):
    params = validate_params(
        incident_dir=str(DATA_RAW / "proximus-2018-01-08"),
        processed_dir=str(tmp_path),
        families="exponential,lognormal",
        model="exponential",
        n_boot=20,
    )
    a = pipeline.analyze(params)
    assert a.fit is not None and a.fit_error is None
    assert a.fit.model == "exponential"
    # a model named by the user is reported with intervals conditional on it
    assert "conditional on this model" in a.fit.interval_method
    assert a.metrics["recovery"]["model"] == "exponential"


def test_windowed_reports_reach_the_fit_as_one_row_per_distinct_window(incident, monkeypatch):
    seen: dict = {}

    def fake(times, **kwargs):
        seen["times"] = times
        seen.update(kwargs)
        return "fit"

    monkeypatch.setattr(recovery, "fit_down_reports", fake)
    t0 = dt.datetime(2018, 1, 8, 20, 0, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    at = [t0, t0, t0 + hour, t0, t0 + 2 * hour]
    until = [t0 + hour, t0 + hour, t0 + 2 * hour, t0 + hour, None]
    reports = pl.DataFrame(
        {
            "reported_at": pl.Series(at, dtype=UTC),
            "reported_until": pl.Series(until, dtype=UTC),
            "status": ["down"] * 5,
            "weight": [3, 1, 2, 4, 5],
            "source": ["webform"] * 5,
        }
    )
    data = SimpleNamespace(restorations=pl.DataFrame(), online=pl.DataFrame(), reports=reports)
    params = validate_params(incident_dir=str(incident.folder))
    fitting.fit_recovery(incident, data, params, end=dt.datetime(2018, 1, 10, tzinfo=dt.UTC))
    win = seen["windows"].sort("start")
    assert win.columns == ["start", "end", "count"]
    assert win["start"].to_list() == [t0, t0 + hour]
    assert win["end"].to_list() == [t0 + hour, t0 + 2 * hour]
    assert win["count"].to_list() == [8, 2]  # the weights of the identical windows summed
    assert len(seen["times"]) == 5  # exactly timed reports repeated by their weight


def test_after_declaration_counts_certain_and_possible_reports() -> None:
    from analysis.facts import after_declaration

    utc = pl.Datetime("us", "UTC")
    t = [dt.datetime(2018, 1, 8, h, tzinfo=dt.UTC) for h in (20, 21, 22, 23)]
    declared = dt.datetime(2018, 1, 8, 21, 30, tzinfo=dt.UTC)
    down = pl.DataFrame(
        {
            "reported_at": [t[0], t[1], t[2], t[3], t[3]],
            "reported_until": [None, t[2], None, None, None],  # the window 21:00–22:00 straddles 21:30
            "weight": [1, 2, 1, 3, 1],
            "municipality": ["Evere", "Gent", "Gent", None, "Liège"],
            "nis_code": ["21006", "44021", "44021", None, "62063"],
        },
        schema_overrides={"reported_at": utc, "reported_until": utc},
    )
    got = after_declaration(down, declared)
    assert got["reports_after"] == 5 and got["reports_possibly_after"] == 2
    assert got["municipalities_after"] == 2  # Gent and Liège; the unplaced report counts only as a report
    assert got["last_report_hours_after"] == 1.5
    empty = after_declaration(down.clear(), declared)
    assert empty["reports_after"] == 0 and empty["reports_possibly_after"] == 0 and empty["last_report_hours_after"] is None


def test_geocoding_beside_the_fit_gives_the_tables_ingest_gives(tmp_path):
    """The analysis geocodes while it fits: its tables must be exactly those of a plain ingest.

    A simulated incident with every kind of place: names, villages, postal codes, GPS
    coordinates, typos, reports without a place.
    """
    from polars.testing import assert_frame_equal

    from analysis.ingest import ingest_incident
    from analysis.simulate import write_scenario

    folder = write_scenario("proximus-2018", tmp_path / "sim", n_reports=1500, seed=3, report_truth=False)
    inc = load_incident(folder)
    whole = ingest_incident(inc)
    beside = pipeline.geocoded(ingest_incident(inc, geocode=False))
    assert whole.reports["nis_code"].is_not_null().sum() > 1000  # the places were resolved
    assert_frame_equal(beside.reports, whole.reports)
    assert_frame_equal(beside.restorations, whole.restorations)
    assert_frame_equal(beside.rejects, whole.rejects)


def test_the_analysis_fits_on_the_same_reports_whether_or_not_they_are_geocoded(incident):
    """The fit started before geocoding reads only what geocoding does not change: the same curve."""
    from analysis.ingest import ingest_incident

    params = validate_params(incident_dir=str(incident.folder), output_dir="", n_boot=20)
    plain = ingest_incident(incident, geocode=False)
    a = pipeline._fit_stage(params, incident, plain)
    b = pipeline._fit_stage(params, incident, pipeline.geocoded(plain))
    assert a.fit is not None and a.end == b.end
    assert a.fit.model == b.fit.model
    assert a.fit.t50.value == b.fit.t50.value and a.fit.t90.low == b.fit.t90.low
