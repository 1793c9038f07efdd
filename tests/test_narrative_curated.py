"""Curated statements lead with what they show; spontaneous reports keep headlining the model.

Both analyses read the same 68 press statements (56 TV down statements counted); only the source's ``sampling`` differs
(fixtures in conftest.py), so every difference below comes from that declaration.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import plotly.graph_objects as go
import pytest

from analysis import impact_report, narrative, sections
from analysis.i18n import text
from analysis.metrics import missing_keys


def _html(parts: list) -> str:
    return "\n".join(p.to_html(include_plotlyjs=False) if isinstance(p, go.Figure) else str(p) for p in parts)


def _in(a, lang: str):
    """The same analysis, shown in another language."""
    return dataclasses.replace(a, params=dataclasses.replace(a.params, language=lang))


def test_the_pipeline_knows_the_evidence_is_curated(default_analysis, spontaneous_analysis) -> None:
    assert default_analysis.curated and default_analysis.metrics["evidence_sampling"] == "curated"
    assert not spontaneous_analysis.curated and spontaneous_analysis.metrics["evidence_sampling"] == "spontaneous"
    assert spontaneous_analysis.metrics["curated_summary"] is None


def test_metrics_add_the_curated_facts_and_keep_every_contract_key(default_analysis) -> None:
    mt = default_analysis.metrics
    assert missing_keys(mt) == []
    assert mt["recovery"]["t50_minutes"] is not None  # the model block stays for schedulers
    facts = mt["curated_summary"]
    assert facts["n_statements"] == 56  # TV statements of service out: web 5, SMS 2, internet 1 are not counted
    assert facts["declared_resolved"] == "2018-01-08T22:30:00+01:00"
    assert (
        facts["statements_after_declaration"] == mt["declared_resolved"]["reports_after"] == 29
    )  # TV only: the website/SMS/internet trouble is another service
    assert facts["municipalities_after_declaration"] == 22
    assert facts["last_timed_statement"] == {"time": "2018-01-09T21:00:00+01:00", "place": None}
    assert facts["last_dated_statement"] == {
        "from": "2018-01-10T00:00:00+01:00",
        "until": "2018-01-10T21:17:00+01:00",
        "place": "Belgium",
    }
    claims = facts["operator_statements"]
    assert len(claims) == len(default_analysis.incident.announcements)
    assert [c["resolved"] for c in claims].count(True) == 1


def test_curated_summary_tiles_show_statement_facts_not_model_numbers(default_analysis) -> None:
    html = narrative.summary(default_analysis)
    for model_words in ("Half restored", "90% restored", "Mean outage", "still without service."):
        assert model_words not in html
    assert "Statements after “resolved”" in html and '<div class="v">29</div>' in html
    assert "from 22 municipalities" in html
    assert "Tuesday 9 January 2018, 21:00 CET" in html  # last timed statement
    assert "Wednesday 10 January 00:00–21:17 CET" in html  # last statement known by date only
    assert "Declared resolved (operator)" in html and "22:30 CET" in html
    assert "not measurements" in html  # the operator's claims are labelled as claims
    assert "Operator says the outage is fully over" in html


def test_spontaneous_summary_keeps_the_model_headline(spontaneous_analysis) -> None:
    html = narrative.summary(spontaneous_analysis)
    for model_words in ("Half restored (t50)", "90% restored (t90)", "Mean outage per affected customer", "Declared resolved at"):
        assert model_words in html
    assert "Statements after" not in html and "What the statements show" not in html


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("fr", ["Mentions après « résolu »", "Ce que montrent les mentions", "mardi 9 janvier 2018 à 21:00 CET"]),
        ("nl", ["Uitspraken na 'opgelost'", "Wat de uitspraken tonen", "dinsdag 9 januari 2018 om 21:00 CET"]),
    ],
)
def test_the_curated_summary_is_translated(default_analysis, lang: str, words: list[str]) -> None:
    html = narrative.summary(_in(default_analysis, lang))
    for w in words:
        assert w in html.replace("&#x27;", "'")


def test_data_in_the_curated_summary_is_escaped(default_analysis) -> None:
    a = dataclasses.replace(default_analysis, metrics=dict(default_analysis.metrics))
    facts = dict(a.metrics["curated_summary"])
    facts["operator_statements"] = [{"time": "2018-01-08T22:30:00+01:00", "label": "<script>x</script>", "source": "<u>"}]
    facts["last_timed_statement"] = {"time": "2018-01-09T21:00:00+01:00", "place": "<img src=x>"}
    a.metrics["curated_summary"] = facts
    html = narrative.summary(a)
    assert "<script>" not in html and "<img" not in html and "<u>" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x&gt;" in html and "&lt;u&gt;" in html


def test_curated_recovery_section_describes_the_timing_of_statements(default_analysis) -> None:
    html = _html(sections.recovery(default_analysis))
    assert "Exploratory: timing of statements" in html
    assert "rate of statements, % of the rate at onset (model)" in html
    assert "It is not the share of customers restored" in html
    assert "Announcements against the estimate" not in html
    assert "still affected" not in html  # no share of customers at the announcements


def test_spontaneous_recovery_section_is_the_recovery_curve(spontaneous_analysis) -> None:
    html = _html(sections.recovery(spontaneous_analysis))
    assert ">Recovery</h2>" in html and "Exploratory" not in html
    assert "affected customers still without service (%)" in html
    assert "Announcements against the estimate" in html


def test_the_missed_tuesday_morning_burst_is_said_in_the_diagnostics_and_the_trust_box(default_analysis) -> None:
    [burst] = [m for m in default_analysis.misfits if m.sign > 0]
    sentence = narrative.misfit_sentence(default_analysis, burst)
    assert "The model misses a burst of statements on Tuesday 9 January 06:00–12:00 CET" in sentence
    assert burst.observed > 2 * burst.expected
    assert sentence in _html(sections.recovery(default_analysis))
    assert any(sentence in note for note in narrative.trust_notes(default_analysis))
    assert default_analysis.metrics["misfits"][0]["start"] == "2018-01-09T06:00:00+01:00"


def test_a_goodness_of_fit_test_on_six_timed_reports_is_not_shown_as_a_check(default_analysis) -> None:
    html = _html(sections.recovery(default_analysis))
    assert "Too few exactly timed reports for a goodness-of-fit test (6)." in html
    assert "Time-rescaling check" not in html


@pytest.mark.parametrize(("lang", "word"), [("en", "unknown"), ("fr", "inconnu"), ("nl", "onbekend")])
def test_time_to_detect_is_unknown_when_the_onset_was_configured(default_analysis, lang: str, word: str) -> None:
    assert default_analysis.metrics["onset_source"] == "config"
    html = impact_report.impact(_in(default_analysis, lang))
    [row] = [r for r in html.split("</tr>") if text(lang, "m_detect") in r.replace("&#x27;", "'")]
    assert row.endswith(f"<td>{word}</td>")
    assert "Monday" in row or "lundi" in row or "maandag" in row  # the first report's time is still shown


def test_time_to_detect_is_a_duration_when_the_onset_was_estimated() -> None:
    onset = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
    first = onset + dt.timedelta(minutes=12)
    assert impact_report.time_to_detect({"onset_source": "estimated"}, first, onset, "en") == "12 min"
    assert impact_report.time_to_detect({"onset_source": "config"}, first, onset, "fr") == "inconnu"
    assert impact_report.time_to_detect({"onset_source": None}, first, onset, "nl") == "onbekend"


def test_curated_impact_table_has_no_model_milestones_and_splits_the_last_statements(
    default_analysis, spontaneous_analysis
) -> None:
    curated = impact_report.impact(default_analysis)
    assert "Time to 50% restored" not in curated and "Mean outage" not in curated
    assert "Time to last statement with an exact time" in curated and "(end of window)" in curated
    spontaneous = impact_report.impact(spontaneous_analysis)
    assert "Time to 50% restored" in spontaneous and "Time to last report" in spontaneous


def test_curated_timeline_has_no_model_restoration_events(default_analysis, spontaneous_analysis) -> None:
    assert "fit" not in default_analysis.events["kind"].to_list()
    assert "fit" in spontaneous_analysis.events["kind"].to_list()
