"""Timeline markers: events close in time share one numbered marker, and a legend names the shapes."""

from __future__ import annotations

import datetime as dt
import itertools

import polars as pl

from analysis.figures import timeline_figure
from analysis.timeline import events_table

from .conftest import DEFAULT_INCIDENT


def test_close_events_share_a_marker_and_the_legend_names_kinds() -> None:
    from analysis.config import load_incident

    inc = load_incident(DEFAULT_INCIDENT)
    events = events_table(inc)
    span = (inc.onset, inc.end)
    binned = pl.DataFrame(
        {"local": [dt.datetime(2018, 1, 8, 20)], "exact": [1.0], "windowed": [0.0]},
    )
    fig = timeline_figure(binned, events, timezone=inc.timezone, bin_minutes=60, span=span)
    markers = [t for t in fig.data if t.yaxis == "y2" and t.x[0] is not None]
    labels = [t.text[0] for t in markers]
    # the three 20:00 facts (operator's onset event, the configured onset) and the two at 22:00 print once each
    assert labels[0].startswith("1–")
    assert len(labels) == len(set(labels))
    numbers = []
    for label in labels:
        for part in label.split(", "):  # '14, 16–18': runs compressed
            if "–" in part:
                a, b = part.split("–")
                numbers += list(range(int(a), int(b) + 1))
            else:
                numbers.append(int(part))
    drawn = [
        i for i, r in enumerate(events.iter_rows(named=True), start=1) if span[0] <= r["time"] <= span[1] and not r["date_only"]
    ]
    assert sorted(numbers) == drawn  # every drawn event keeps its table number, none twice
    # markers never closer than 2 % of the axis: no two labels print over each other
    xs = sorted(t.x[0] for t in markers)
    width = (span[1] - span[0]).total_seconds()
    assert all((b - a).total_seconds() > 0.02 * width for a, b in itertools.pairwise(xs))
    legend = {t.name for t in fig.data if t.showlegend is not False and t.name and t.name.startswith("event: ")}
    assert {"event: announcement", "event: incident", "event: action"} <= legend
    # the dated-only events (minister's bill, March restatement) are not drawn
    assert all("human error" not in (t.hovertext or "") for t in markers)
