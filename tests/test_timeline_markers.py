"""Timeline markers: events close in time share one numbered marker, and a legend names the shapes."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import polars as pl

from analysis.figures import timeline_figure, wall_clock
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


def _markers(fig) -> list[tuple[str, str]]:
    """(number label, hover) of each event marker drawn on a figure."""
    return [(tr.text[0], tr.hovertext) for tr in fig.data if tr.type == "scatter" and tr.yaxis == "y2" and tr.text]


def _numbers(label: str) -> set[int]:
    out: set[int] = set()
    for part in label.split(", "):
        lo, _, hi = part.partition("–")
        out |= set(range(int(lo), int(hi or lo) + 1))
    return out


def test_recovery_figure_draws_every_event_of_the_incident_numbered_as_in_the_timeline(default_analysis) -> None:
    """Every timed event inside the curve's window has its timeline number: the 21:15 restoration start, each announcement."""
    from analysis import sections
    from analysis.timeline import events_in

    (fig, *_) = [p for p in sections.recovery(default_analysis) if not isinstance(p, str)]
    markers = _markers(fig)
    drawn = set().union(*(_numbers(label) for label, _ in markers))
    lo, hi = (dt.datetime.fromisoformat(str(x)) for x in fig.layout.xaxis.range)
    events = events_in(default_analysis.events, "en")
    tz = default_analysis.incident.timezone
    rows = list(enumerate(events.iter_rows(named=True), start=1))
    inside = {i for i, row in rows if not row.get("date_only") and lo <= wall_clock(row["time"], tz) <= hi}
    announcements = [i for i, row in rows if row["kind"] == "announcement"]
    assert len([i for i in announcements if i in inside]) >= 5  # not only the "resolved" one
    assert drawn == inside
    hovers = "\n".join(h for _, h in markers)
    assert "Gradual nationwide restoration starts" in hovers and "21:15" in hovers
    assert "outage 'resolved'" in hovers
    # no marker number is printed twice: close events share one marker
    labels = [label for label, _ in markers]
    assert len(labels) == len(set(labels))


def test_recovery_figure_gives_each_announcement_its_share_still_affected(spontaneous_analysis) -> None:
    from analysis import sections

    (fig, *_) = [p for p in sections.recovery(spontaneous_analysis) if not isinstance(p, str)]
    hovers = [h for _, h in _markers(fig) if "outage 'resolved'" in h]
    assert hovers and re.search(r"outage 'resolved'[^<]*— \d+% \[\d+%–\d+%\] still affected", hovers[0])
