from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from analysis.figures import observed_fitted_figure, plain, rescaling_figure, residual_figure, timeline_figure
from analysis.timeparse import UTC_DTYPE

T0 = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)


def events(rows: list[tuple[dt.datetime, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "time": [r[0] for r in rows],
            "label": [r[1] for r in rows],
            "kind": [r[2] for r in rows],
            "origin": ["config"] * len(rows),
        },
        schema={"time": UTC_DTYPE, "label": pl.String, "kind": pl.String, "origin": pl.String},
    )


def test_timeline_marks_only_events_inside_the_span() -> None:
    binned = pl.DataFrame({"local": [dt.datetime(2018, 1, 8, 20)], "exact": [3.0], "windowed": [1.0]})
    ev = events([(T0, "start <b>", "incident"), (T0 + dt.timedelta(days=50), "root cause", "other")])
    fig = timeline_figure(binned, ev, timezone="Europe/Brussels", bin_minutes=60, span=(T0, T0 + dt.timedelta(hours=5)))
    markers = [t for t in fig.data if t.type == "scatter" and t.x[0] is not None]
    assert len(markers) == 1
    assert [t.name for t in fig.data if t.type == "scatter" and t.x[0] is None] == ["event: incident"]  # the legend
    assert "&lt;b&gt;" in markers[0].hovertext  # markup from data is shown, not interpreted
    assert [t.name for t in fig.data if t.type == "bar"] == [
        "reports with a known time",
        "known only within a window (spread evenly)",
    ]


def test_plain_removes_contacts_and_markup() -> None:
    assert plain("call 0470 12 34 56 <i>now</i>") == "call [phone] &lt;i&gt;now&lt;/i&gt;"


def test_diagnostic_figures() -> None:
    start = pl.datetime_range(T0, T0 + dt.timedelta(hours=3), interval="5m", eager=True, time_zone="UTC")
    table = pl.DataFrame(
        {
            "bin_start": start,
            "observed": np.ones(len(start)),
            "observed_windowed": np.zeros(len(start)),
            "fitted": np.ones(len(start)),
        }
    )
    fig = observed_fitted_figure(table, timezone="Europe/Brussels", bin_minutes=60)
    assert sum(fig.data[0].y) == len(start)
    fig = rescaling_figure(np.linspace(0.05, 0.95, 10), band=0.2, statistic=0.05, pvalue=0.9)
    assert len(fig.data) == 3


def test_residual_figure_rebins_report_counts_to_pearson_residuals() -> None:
    from types import SimpleNamespace

    onset = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
    starts = [onset + dt.timedelta(minutes=5 * i) for i in range(24)]  # two hours of 5-minute bins
    fitted = [1.0] * 24  # 12 expected per hour
    observed = [1.0] * 12 + [2.0] * 12  # the second hour: 24 observed, 12 expected
    table = pl.DataFrame({"bin_start": starts, "observed": observed, "observed_windowed": [0.0] * 24, "fitted": fitted})
    fig = residual_figure(SimpleNamespace(observed_vs_fitted=table, residuals=None), onset=onset, timezone="Europe/Brussels")
    ys = list(fig.data[0].y)
    assert ys == pytest.approx([0.0, 12 / 12**0.5])
    assert fig.data[0].x[0] == dt.datetime(2018, 1, 8, 20, 0)  # local time
    # the body's axis says what the dots are; "Pearson residual" lives in the glossary
    assert fig.data[0].name == "observed − fitted, in standard deviations, per 60 min"
    # the axis title one clause per line (on one line it ran off the 300-px figure), in every language
    assert fig.layout.yaxis.title.text == "observed − fitted,<br>in standard deviations,<br>per 60 min"
    from analysis.figure_text import translate_figure

    axis = {lang: translate_figure(fig.to_plotly_json(), lang)["layout"]["yaxis"]["title"]["text"] for lang in ("fr", "nl")}
    assert axis == {
        "fr": "observé − ajusté,<br>en écarts-types,<br>par 60 min",
        "nl": "waargenomen − aangepast,<br>in standaardafwijkingen,<br>per 60 min",
    }


def test_residual_figure_uses_the_fit_residuals_for_direct_evidence() -> None:
    from types import SimpleNamespace

    onset = dt.datetime(2024, 7, 8, 12, 0, tzinfo=dt.UTC)
    res = pl.DataFrame({"minutes": [0.0, 30.0, 60.0], "residual": [0.5, -1.0, 2.5]})
    series = pl.DataFrame({"observed_at": [onset], "minutes": [0.0], "observed": [1.0], "fitted": [1.0]})
    fig = residual_figure(SimpleNamespace(observed_vs_fitted=series, residuals=res), onset=onset, timezone="UTC")
    assert list(fig.data[0].y) == [0.5, -1.0, 2.5]  # standardised innovations, shown as they are
    assert fig.data[0].x[1] == dt.datetime(2024, 7, 8, 12, 30)
    curve = pl.DataFrame({"minutes": [0.0], "observed": [1.0], "fitted": [1.0]})  # restorations: two curves
    fig = residual_figure(SimpleNamespace(observed_vs_fitted=curve, residuals=res), onset=onset, timezone="UTC")
    assert list(fig.data[0].y) == [50.0, -100.0, 250.0]  # in points of %, not on a ±2 scale
    assert "points of %" in fig.layout.yaxis.title.text
