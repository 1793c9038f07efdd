"""The page of an incident whose every row was rejected says so, and invents nothing."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from analysis.narrative import header, trust_notes

from .conftest import analyze_fast


@pytest.mark.parametrize("lang", ["en", "fr", "nl"])
def test_an_incident_with_every_row_rejected_shows_no_time_window_and_no_intervals(
    make_incident: Callable[..., Path], tmp_path: Path, lang: str
) -> None:
    content = "time,town\n" + "".join(f"not a time {i},Gent\n" for i in range(5))
    folder = make_incident(content, source_extra='[sources.columns]\nreported_at = "time"\nplace = "town"\n')
    a = analyze_fast(folder, tmp_path / "processed", language=lang)
    assert a.fit is None and a.metrics["n_rejected"] == 5
    coverage = re.findall(r"<p>(.*?)</p>", header(a), flags=re.S)[0]
    # no records: no window of observation to state (it used to be 'now' to 'now + 2 days')
    assert not re.search(r"\d\d:\d\d", coverage) and "5" in coverage
    notes = trust_notes(a)
    # no intervals are shown, so none is called wide; the no-fit sentence ends as a sentence
    assert len(notes) == 2 and all(n.rstrip().endswith(".") for n in notes)


@pytest.mark.parametrize("lang", ["en", "fr", "nl"])
def test_restoration_records_without_down_reports_are_not_called_down_reports_on_the_geography(
    make_incident: Callable[..., Path], tmp_path: Path, lang: str
) -> None:
    from analysis.i18n import text
    from analysis.spatial_report import geography_parts

    content = "cust,at,town\n" + "".join(f"c{i},2018-01-08 {20 + i // 30}:{i % 30 * 2:02d},Gent\n" for i in range(60))
    extra = '[sources.columns]\ncustomer_id = "cust"\nobserved_at = "at"\nplace = "town"\n[sources.defaults]\nrestored = true\n'
    folder = make_incident(content, kind="restorations", source_extra=extra, extra='onset = "2018-01-08T19:50:00"\n')
    a = analyze_fast(folder, tmp_path / "processed", language=lang)
    assert a.evidence == "restorations" and a.down.height == 0
    words = html.unescape("".join(str(p) for p in geography_parts(a)))
    assert text(lang, "no_geography", n=0) not in words  # "none of the 0 down reports"
    assert "60" in words
