"""The default incident folder (data/raw/proximus-2018-01-08): its config loads and its data keeps its invariants."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import pytest

from analysis.config import DATA_RAW, load_incident
from analysis.timeparse import localize

FOLDER = DATA_RAW / "proximus-2018-01-08"
STATUSES = {"down", "intermittent", "partial", "restored", "not_affected"}
SERVICES = {"tv", "internet", "sms", "web", "calls"}
AREA_LEVELS = {"municipality", "province", "region", "country"}
# Area names used for region-level statements; they must never be filed as towns.
AREA_NAMES = {
    "Belgium",
    "Flanders",
    "Wallonia",
    "Brussels-Capital Region",
    "Antwerp province",
    "East Flanders",
    "West Flanders",
    "Flemish Brabant",
}
# People named in the source articles; the paraphrased text must not carry them.
PERSON_NAMES = (
    "Maximilien",
    "Jean-Louis",
    "Denis",
    "Harmony",
    "Olivier",
    "Franky",
    "Christophe",
    "Bernard",
    "Ghislain",
    "Thierry",
    "Isa",
    "Fenaux",
    "Margot",
    "Malderen",
    "Leroy",
    "Croo",
)


@pytest.fixture(scope="module")
def incident():
    return load_incident(FOLDER)


@pytest.fixture(scope="module")
def rows(incident) -> list[dict[str, str]]:
    source = incident.sources[0]
    with source.path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _time(incident, value: str) -> dt.datetime:
    fmt = incident.sources[0].time_format
    return localize(dt.datetime.strptime(value, fmt), incident.tz, where="press_reports.csv")


def _source_ids_in_readme() -> set[str]:
    text = (FOLDER / "README.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\|\s*(S\d+)\s*\|", text, flags=re.MULTILINE))


def test_config_loads_with_the_documented_frame(incident):
    assert incident.id == FOLDER.name
    assert incident.timezone == "Europe/Brussels"
    assert incident.onset == dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
    assert incident.end is not None
    assert incident.end > incident.onset
    assert incident.origin is not None
    assert incident.origin.lat == pytest.approx(50.87, abs=0.02)
    assert incident.origin.lon == pytest.approx(4.40, abs=0.02)
    assert [s.name for s in incident.sources] == ["press"]


def test_every_mapped_column_exists_in_the_file(incident, rows):
    header = set(rows[0])
    missing = set(incident.sources[0].columns.values()) - header
    assert not missing


def test_every_event_cites_sources_listed_in_the_readme(incident):
    known = _source_ids_in_readme()
    assert {f"S{i}" for i in range(1, 20)} <= known
    for event in incident.events:
        assert event.source, event.label
        cited = {s.strip() for s in event.source.split(",")}
        assert cited <= known, (event.label, cited - known)


def test_announcements_include_the_resolution_claims(incident):
    local = [e.time.astimezone(incident.tz).strftime("%d %H:%M") for e in incident.announcements]
    assert "08 22:30" in local
    assert "09 12:00" in local


def test_rows_have_unique_ids_and_a_cited_source(rows):
    ids = [r["report_id"] for r in rows]
    assert len(ids) == len(set(ids))
    known = _source_ids_in_readme()
    url_by_source: dict[str, str] = {}
    for r in rows:
        assert r["source_ref"] in known, r["report_id"]
        assert r["outlet"].strip(), r["report_id"]
        assert r["url"].startswith(("http://", "https://")), r["report_id"]
        # one source ID, one article
        assert url_by_source.setdefault(r["source_ref"], r["url"]) == r["url"], r["report_id"]


def test_each_row_has_either_a_time_or_a_well_ordered_window(incident, rows):
    for r in rows:
        has_time = bool(r["reported_at"])
        has_window = bool(r["reported_from"]) or bool(r["reported_until"])
        assert has_time != has_window, f"{r['report_id']}: give a time or a window, not both or neither"
        if has_time:
            start = end = _time(incident, r["reported_at"])
        else:
            assert r["reported_from"], r["report_id"]
            assert r["reported_until"], r["report_id"]
            start, end = _time(incident, r["reported_from"]), _time(incident, r["reported_until"])
            assert start < end, r["report_id"]
        assert incident.onset <= start, r["report_id"]
        assert end <= incident.end, r["report_id"]


def test_services_statuses_and_area_levels_come_from_the_allowed_sets(rows):
    for r in rows:
        assert r["service"] in SERVICES, r["report_id"]
        assert r["status"] in STATUSES, r["report_id"]
        if r["place"]:
            assert r["area_level"] in AREA_LEVELS, r["report_id"]
        else:
            # an unnamed place is said to be unnamed, and has no level
            assert r["area_level"] == "", r["report_id"]
            assert "place not given" in r["note"], r["report_id"]


def test_region_level_statements_are_area_rows_not_towns(rows):
    for r in rows:
        if r["place"] in AREA_NAMES:
            assert r["area_level"] in {"province", "region", "country"}, r["report_id"]
        if r["area_level"] in {"province", "region", "country"}:
            assert r["place"] in AREA_NAMES, r["report_id"]
    levels = {r["area_level"] for r in rows}
    assert {"province", "region", "country", "municipality"} <= levels


def test_a_place_reported_twice_keeps_both_statements(rows):
    engis = sorted((r["status"], r["reported_from"]) for r in rows if r["place"] == "Engis")
    assert [s for s, _ in engis] == ["down", "intermittent"]


def test_run_together_town_names_are_split_with_a_note(rows):
    for town in ("Modave", "Libramont"):
        (row,) = [r for r in rows if r["place"] == town]
        assert "two towns" in row["note"]
    assert not [r for r in rows if r["place"] == "Modave Libramont"]


def test_text_carries_no_personal_names(rows):
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, PERSON_NAMES)) + r")\b")
    for r in rows:
        assert not pattern.search(r["text"]), r["report_id"]


def test_readme_states_the_observation_end_it_uses(incident):
    readme = (Path(incident.folder) / "README.md").read_text(encoding="utf-8")
    local_end = incident.end.astimezone(incident.tz).strftime("%Y-%m-%d %H:%M")
    assert local_end in readme


def test_ingest_keeps_every_row_and_leaves_the_text_untouched(incident, rows):
    ingest = pytest.importorskip("analysis.ingest")
    result = ingest.ingest_incident(incident, geocode=False)
    assert result.rejects.height == 0
    assert result.reports.height == len(rows)
    # the text is written without personal data, so the scrubber has nothing to remove
    by_id = {f"press:{r['report_id']}": r for r in rows}
    for rec in result.reports.iter_rows(named=True):
        raw = by_id[rec["report_id"]]
        assert rec["text"] == raw["text"], rec["report_id"]
        assert rec["note"] == (raw["note"] or None), rec["report_id"]


def test_summary_tiles_lead_with_the_statements_not_the_model(default_analysis):
    # the press statements are curated: no tile may present a model reading as a restoration time
    from analysis.narrative import summary

    assert default_analysis.curated
    html = summary(default_analysis)
    tiles = html.split('<div class="pm-kpis">', 1)[1].split("</div></div></div>", 1)[0]
    labels = [chunk.split("</div>", 1)[0] for chunk in tiles.split('<div class="l">')[1:]]
    assert not any("restored" in label.lower() or "outage" in label.lower() for label in labels), labels
    assert "Half restored" not in html and "still without service." not in html
    after = default_analysis.metrics["declared_resolved"]["reports_after"]
    assert after == 29  # TV statements only ([postmortem] service = "tv")
    assert labels[1] == "Statements after “resolved”" and f'<div class="v">{after}</div>' in tiles


def test_summary_states_the_2018_facts_with_their_sources(default_analysis):
    # onset ~20:00, Evere, the March restatement, restoration from 21:15, "resolved" ~22:30, reports into Tuesday
    from analysis.sections import summary

    html = summary(default_analysis)[0]
    paragraph = html.split("<p>", 1)[1].split("</p>", 1)[0]
    for fact, sources in (
        ("went down across Belgium", ("S1", "S3", "S5")),
        ("Evere (Brussels)", ("S1", "S2")),
        ("human error during an intervention", ("S16", "S17")),
        ("from 21:15", ("S1", "S5", "S7", "S11")),
        ("around 22:30", ("S2",)),
        ("through Tuesday", ("S2",)),
    ):
        after = paragraph.split(fact, 1)[1].split(")", 1)[0]
        assert all(f'<a href="#source-{s}">{s}</a>' in after for s in sources), (fact, after)
    # each cited id has its row in the sources key
    from analysis.evidence_appendix import sources_key

    key = sources_key(default_analysis)
    assert all(f'id="source-{s}"' in key for s in ("S1", "S2", "S3", "S5", "S7", "S11", "S16", "S17"))


def test_citations_link_only_lists_of_known_sources():
    from analysis.postmortem_report import link_citations

    html = "in Evere (Brussels) (S1, S2); later (S1, S99) and (S3)"
    out = link_citations(html, {"S1", "S2", "S3"})
    assert out == (
        'in Evere (Brussels) (<a href="#source-S1">S1</a>, <a href="#source-S2">S2</a>); later (S1, S99) and '
        '(<a href="#source-S3">S3</a>)'
    )


def test_status_box_links_its_sources(default_analysis):
    from analysis.sections import header

    status = next(p for p in header(default_analysis) if 'class="pm-status"' in p)
    for sid in ("S5", "S8", "S7", "S10", "S11", "S16", "S17"):
        assert f'<a href="#source-{sid}">{sid}</a>' in status, sid
    assert "(S5, S8)" not in status  # no citation left as plain text
