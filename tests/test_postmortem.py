"""The written post-mortem in incident.toml: validated, optional, shown as sections in every language."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from analysis.config import load_incident
from analysis.errors import ConfigError
from analysis.postmortem_report import cause_section, followup_section, resolution_section, status_box

from .conftest import DEFAULT_INCIDENT

CSV = "time,town\n2018-01-08 20:05,Evere\n"
HEAD = """\
id = "pm"
title = "Test"
timezone = "Europe/Brussels"
{body}
[[sources]]
path = "reports.csv"
[sources.columns]
reported_at = "time"
place = "town"
"""


def _folder(tmp_path: Path, body: str) -> Path:
    (tmp_path / "reports.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "incident.toml").write_text(HEAD.format(body=textwrap.dedent(body)), encoding="utf-8")
    return tmp_path


def test_postmortem_is_optional(tmp_path: Path) -> None:
    pm = load_incident(_folder(tmp_path, "")).postmortem
    assert pm.empty
    assert status_box(pm, "en") == "" and cause_section(pm, "Europe/Brussels", "en") == ""


def test_cause_dated_by_day_keeps_no_clock_time(tmp_path: Path) -> None:
    body = """
    [[events]]
    time = 2018-03-02
    label = "Cause restated"
    [postmortem]
    [[postmortem.root_causes]]
    date = "2018-01-08T22:00"
    statement = "Power failure"
    source = "S1"
    [[postmortem.root_causes]]
    date = 2018-03-02
    statement = { en = "Human error", fr = "Erreur humaine", nl = "Menselijke fout" }
    source = "S16"
    """
    inc = load_incident(_folder(tmp_path, body))
    (event,) = inc.events
    assert event.date_only
    causes = inc.postmortem.root_causes
    assert [c.when.date_only for c in causes] == [False, True]
    assert causes[0].when.time == dt.datetime(2018, 1, 8, 21, 0, tzinfo=dt.UTC)
    # no explicit current: the latest statement is the retained one
    assert inc.postmortem.current_cause is causes[1]
    html = cause_section(inc.postmortem, inc.timezone, "fr")
    assert "vendredi 2 mars 2018</td>" in html  # the day, no hour
    assert "lundi 8 janvier 2018 à 22:00" in html
    assert "Erreur humaine" in html and "Human error" not in html
    # a language without its translation falls back to English
    assert "Power failure" in cause_section(inc.postmortem, inc.timezone, "nl")


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        ("[postmortem]\nstatus = 'done'", "postmortem.status", "expected one of draft, in_review, final"),
        ("[postmortem]\nowner = ['x']", "postmortem.owner", "unknown key"),
        (
            "[[postmortem.root_causes]]\nstatement = 'x'\nsource = 'S1'",
            "postmortem.root_causes[0].date",
            "is required but missing",
        ),
        (
            "[[postmortem.root_causes]]\ndate = 2018-01-08\nstatement = 'x'",
            "postmortem.root_causes[0].source",
            "is required but missing",
        ),
        (
            "[[postmortem.root_causes]]\ndate = 'yesterday'\nstatement = 'x'\nsource = 'S1'",
            "postmortem.root_causes[0].date",
            "not an ISO 8601 date or time",
        ),
        (
            "[[postmortem.action_items]]\naction = 'x'\nowner = 'y'\npriority = 'urgent'",
            "postmortem.action_items[0].priority",
            "expected one of high, medium, low",
        ),
        ("[postmortem]\ntrigger = { de = 'x' }", "postmortem.trigger.de", "unknown language"),
        ("[postmortem.lessons]\nwent_well = 'x'", "postmortem.lessons.went_well", "expected a list"),
        ("[postmortem.lessons]\nwent_badly = ['x']", "postmortem.lessons.went_badly", "unknown key"),
        ("[postmortem]\ncontributing_factors = ['']", "postmortem.contributing_factors[0]", "must not be empty"),
    ],
)
def test_bad_postmortem_names_file_and_key(tmp_path: Path, body: str, key: str, words: str) -> None:
    folder = _folder(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        load_incident(folder)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(folder / "incident.toml"))
    assert f"key '{key}'" in message and words in message


def test_cli_validate_reports_the_bad_key(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "[[postmortem.action_items]]\naction = 'x'\nowner = 'y'\nstatus = 'closed'")
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "validate", str(folder)], check=False, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0
    assert "incident.toml" in proc.stderr and "postmortem.action_items[0].status" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_default_incident_states_both_causes_with_sources() -> None:
    inc = load_incident(DEFAULT_INCIDENT)
    pm = inc.postmortem
    assert pm.status and pm.severity and pm.owners
    jan, march = pm.root_causes
    assert "Evere" in jan.statement["en"] and "power failure" in jan.statement["en"].lower()
    assert not jan.when.date_only and jan.source
    assert "human error" in march.statement["en"].lower()
    assert march.when.date_only and march.when.time.date() == dt.date(2018, 3, 2)
    assert set(march.source.replace(" ", "").split(",")) == {"S16", "S17"}
    assert pm.current_cause is march
    # the facts the issue names: backup power, the migration, unplugged decoders, support channels
    factors = " ".join(f.text["en"] for f in pm.contributing_factors).lower()
    for fact in ("backup power", "platform", "decoders", "0800", "website"):
        assert fact in factors
    assert all(f.source for f in pm.contributing_factors)
    assert pm.resolution and all(s.source for s in pm.resolution)
    assert {x.status for x in pm.action_items} >= {"open", "done"} and all(x.owner for x in pm.action_items)
    assert all(pm.lessons[k] for k in ("went_well", "went_wrong", "got_lucky"))
    assert pm.open_questions
    # the March restatement is a dated event, no longer placed at an invented 12:00
    (restated,) = [e for e in inc.events if "human error" in e.label.lower()]
    assert restated.date_only
    # every text of the written post-mortem exists in the three languages
    texts = [c.statement for c in pm.root_causes] + [f.text for f in pm.contributing_factors]
    texts += [s.step for s in pm.resolution] + [x.action for x in pm.action_items] + [q.text for q in pm.open_questions]
    texts += [i.text for k in pm.lessons for i in pm.lessons[k]] + list(pm.owners)
    assert all(set(t) == {"en", "fr", "nl"} for t in texts)


def test_default_incident_sections_cite_sources_in_each_language() -> None:
    inc = load_incident(DEFAULT_INCIDENT)
    pm, tz = inc.postmortem, inc.timezone
    for lang, cause, actions in (
        ("en", "Root cause", "Action items"),
        ("fr", "Cause", "Actions à mener"),
        ("nl", "Oorzaak", "Actiepunten"),
    ):
        html = cause_section(pm, tz, lang) + resolution_section(pm, tz, lang) + followup_section(pm, tz, lang)
        assert cause in html and actions in html
        for anchor in ("root-cause", "resolution", "action-items", "lessons", "open-questions"):
            assert f'id="{anchor}"' in html
        assert '<a href="#source-S16">S16</a>' in html
        assert "<script" not in html


def test_configured_text_is_escaped_and_scrubbed(tmp_path: Path) -> None:
    body = """
    [postmortem]
    owners = ["<script>alert(1)</script> call +32 470 12 34 56 or ops@example.com"]
    """
    pm = load_incident(_folder(tmp_path, body)).postmortem
    html = status_box(pm, "en")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "ops@example.com" not in html and "470 12 34 56" not in html


# --------------------------------------------------------------------------- evidence appendix


def test_link_only_for_http_addresses() -> None:
    from analysis.evidence_appendix import link

    assert link("https://example.org/a?b=1").startswith('<a href="https://example.org/a?b=1"')
    for bad in ("javascript:alert(1)", "data:text/html,<b>x</b>", 'https://x.org/"onmouseover=alert(1)'):
        out = link(bad)
        assert "<a " not in out and "<b>" not in out


def test_evidence_appendix_lists_every_statement_with_its_source(default_analysis) -> None:
    from analysis.evidence_appendix import appendix, report_counts

    a = default_analysis
    html = appendix(a)[0]
    table = html.split('<table class="pm-evidence">', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") - 1 == a.data.reports.height == 68  # header row + one per statement
    for place in ("Perwez", "Durbuy", "Messancy", "Dilbeek", "Wanze"):
        assert place in table
    assert table.count('rel="noopener noreferrer"') == 68  # every statement carries its article's URL
    # the sources key: every id of README's table, anchored, with outlet and URL
    key = html.split('id="sources-key"', 1)[1]
    for n in range(1, 20):
        assert f'<tr id="source-S{n}"><td>S{n}</td>' in key
    assert '<a href="http://www.lalibre.be/economie/' in key
    # every citation on the written sections and the appendix resolves to a row of the key
    from analysis.postmortem_report import cause_section, followup_section, resolution_section

    pm, tz = a.incident.postmortem, a.incident.timezone
    written = cause_section(pm, tz, "en") + resolution_section(pm, tz, "en") + followup_section(pm, tz, "en") + html
    import re

    cited = set(re.findall(r'href="#(source-[^"]+)"', written))
    anchors = set(re.findall(r'<tr id="(source-[^"]+)"', key))
    assert cited and cited <= anchors
    # conflicting accounts side by side: S10 ('finally over') and S13 (still without service) in one row
    conflicts = html.split('id="conflicts"', 1)[1]
    row = next(r for r in conflicts.split("<tr>") if "Wednesday" in r)
    assert "#source-S10" in row and "#source-S13" in row
    # one definition of a report: the appendix, the summary tile and the index count the same rows
    counts = report_counts(a.data.reports, a.services)
    assert counts == {
        "statements": a.metrics["n_reports"],
        "reports": a.metrics["n_down_reports"],
        "other_service": 9,
        "other": 3,
    }
    assert f"{counts['reports']} report service out" in html and "9 more concern another service" in html
    from analysis.batch_index import report_count
    from analysis.narrative import summary

    assert report_count(a.metrics) == counts["reports"] == 56
    assert f'<div class="l">Reports of service out</div><div class="v">{counts["reports"]}</div>' in summary(a)


@pytest.mark.parametrize("lang", ["fr", "nl"])
def test_evidence_appendix_in_french_and_dutch_has_no_english_paraphrase(default_analysis, lang: str) -> None:
    import dataclasses

    from analysis.evidence_appendix import appendix

    a = default_analysis
    b = dataclasses.replace(a, params=dataclasses.replace(a.params, language=lang))
    html = appendix(b)[0]
    assert "reported down" not in html and "Statement (paraphrase)" not in html
    assert {"fr": "Clé des sources", "nl": "Bronnenlijst"}[lang] in html
    assert {"fr": "en panne", "nl": "uitgevallen"}[lang] in html


def test_event_labels_in_three_languages(tmp_path: Path) -> None:
    from analysis.timeline import events_in, events_table

    inc = load_incident(DEFAULT_INCIDENT)
    assert all(set(e.labels) == {"en", "fr", "nl"} for e in inc.events)
    table = events_in(events_table(inc), "nl")
    assert "Proximus TV valt kort na 20 uur uit op het hele netwerk; eerste klachten" in table["label"].to_list()
    for body, key, words in (
        ("[[events]]\ntime = 2018-01-08\nlabel = { fr = 'x' }", "events[0].label.en", "is required"),
        ("[[events]]\ntime = 2018-01-08\nlabel = { en = 'x', de = 'y' }", "events[0].label.de", "unknown language"),
        ("[[events]]\ntime = 2018-01-08", "events[0].label", "is required but missing"),
    ):
        (sub := tmp_path / key.replace(".", "_")).mkdir()
        folder = _folder(sub, body)
        with pytest.raises(ConfigError) as err:
            load_incident(folder)
        assert f"key '{key}'" in str(err.value) and words in str(err.value)


def test_free_text_of_spontaneous_reports_stays_off_the_page(spontaneous_analysis) -> None:
    from analysis.evidence_appendix import MAX_ROWS, appendix

    html = appendix(spontaneous_analysis)[0]
    assert "Statement (paraphrase)" not in html  # people's own words are not published, only newsrooms' statements
    rows = html.split('<table class="pm-evidence">', 1)[1].split("</table>", 1)[0].count("<tr>") - 1
    assert rows == min(spontaneous_analysis.data.reports.height, MAX_ROWS)
