"""The index as a triage view: date, evidence kind, data-quality flag, durations, a link per language."""

from __future__ import annotations

import json
from pathlib import Path

from analysis.batch_index import BatchSummary, write_index
from analysis.report import RenderResult
from analysis.triage import evidence_kind, headline, incident_date, language_pages, quality_flag

PRESS = {
    "evidence": "down_reports",
    "evidence_sampling": "curated",
    "onset": "2018-01-08T20:00:00+01:00",
    "n_raw": 68,
    "n_reports": 68,
    "n_down_reports": 64,
    "n_rejected": 0,
    "n_unresolved_place": 5,
    "recovery": {"t50_minutes": 751.5, "t50_minutes_ci": [126.1, 1435.7], "t90_minutes": 994.1},
    "misfits": [{"start": "x"}],
    "curated_summary": {"statements_after_declaration": 34},
}


def test_triage_facts_of_the_press_incident() -> None:
    assert incident_date(PRESS) == "2018-01-08"
    assert "curated" in evidence_kind(PRESS)
    level, reasons = quality_flag(PRESS)
    assert level == "caution"  # a green 'ok' beside a report that disclaims its curve is what this replaces
    assert any("does not measure restoration" in r for r in reasons)
    assert "5 places not found" in reasons
    assert headline(PRESS, "t50").replace("\xa0", " ") == "12 hr 32 min [2 hr 6 min–23 hr 56 min]"
    assert quality_flag({"recovery_error": "too few reports"})[0] == "poor"
    assert quality_flag({"evidence": "down_reports", "n_raw": 10, "n_rejected": 0})[0] == "good"


def test_language_pages_only_for_files_that_exist_and_safe_names() -> None:
    manifest = {"pages": {"en": "postmortem.html", "fr": "postmortem.fr.html", "nl": "../../etc/passwd"}}
    files = {"postmortem.html", "postmortem.fr.html", "metrics.json"}
    assert language_pages(manifest, files) == [("en", "English", "postmortem.html"), ("fr", "Français", "postmortem.fr.html")]


def test_index_row_is_a_triage_view(tmp_path: Path) -> None:
    final = tmp_path / "press-1"
    final.mkdir()
    for name in ("postmortem.html", "postmortem.fr.html", "postmortem.nl.html", "metrics.json"):
        (final / name).write_text("{}", encoding="utf-8")
    manifest = {
        "status": "ok",
        "run_id": "r1",
        "finished": "2024-05-01T10:00:00+00:00",
        "pages": {"en": "postmortem.html", "fr": "postmortem.fr.html", "nl": "postmortem.nl.html"},
    }
    (final / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (final / "metrics.json").write_text(json.dumps(PRESS), encoding="utf-8")
    summary = BatchSummary(run_id="run-1")
    summary.results.append(RenderResult("press-1", "ok", final, metrics=PRESS, title="Press"))
    page = write_index(summary, tmp_path).read_text(encoding="utf-8")
    row = page.split("<tr id='press-1'>", 1)[1].split("</tr>", 1)[0]
    assert "2018-01-08" in row and "curated" in row
    assert "<span class='q q-caution'>caution</span>" in row
    assert "<td class='num'>64</td>" in row  # one definition of a report: the summary's count
    for lang, name in (("en", "English"), ("fr", "Français"), ("nl", "Nederlands")):
        page_name = "postmortem.html" if lang == "en" else f"postmortem.{lang}.html"
        assert f"<a href='press-1/{page_name}' hreflang='{lang}' lang='{lang}'>{name}</a>" in row
