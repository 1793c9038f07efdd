"""Computed post-mortem sections: detection, customer-hours, and the incident's own service."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from analysis import sections
from analysis.config import load_incident
from analysis.errors import ConfigError
from analysis.facts import detection

from .conftest import DEFAULT_INCIDENT, analyze_fast
from .test_languages import english_words, visible

UTC = dt.UTC

# TV down reports through the evening, a TV report and two website reports after the 22:30 "resolved"
CSV = textwrap.dedent(
    """\
    time,town,service
    2018-01-08 20:05,Evere,tv
    2018-01-08 20:10,Gent,tv
    2018-01-08 20:20,Liège,tv
    2018-01-08 20:40,Namur,tv
    2018-01-08 21:10,Mons,tv
    2018-01-08 23:10,Uccle,tv
    2018-01-09 09:00,Ans,web
    2018-01-09 09:30,Hannut,web
    """
)
TOML = """\
id = "svc"
title = "Test"
timezone = "Europe/Brussels"
onset = "2018-01-08T20:00:00"
end = "2018-01-09T12:00:00"
{extra}
[[events]]
time = "2018-01-08T21:00:00"
label = "Operator: teams alerted"
kind = "announcement"
source = "S1"

[[events]]
time = "2018-01-08T22:30:00"
label = "Operator: resolved"
kind = "announcement"
resolved = true

[[sources]]
path = "reports.csv"
[sources.columns]
reported_at = "time"
place = "town"
service = "service"
"""


def _incident(tmp_path: Path, extra: str = "") -> Path:
    folder = tmp_path / "svc"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reports.csv").write_text(CSV, encoding="utf-8")
    (folder / "incident.toml").write_text(TOML.format(extra=textwrap.dedent(extra)), encoding="utf-8")
    return folder


def _fit_cli(folder: Path, tmp_path: Path) -> dict:
    """``postmortem fit`` as a user runs it; returns the metrics.json it prints."""
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "fit", str(folder), "-p", "n_boot=20", "-p", f"processed_dir={tmp_path / 'proc'}"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.slow
def test_service_filter_counts_only_the_incident_service(tmp_path: Path) -> None:
    everything = _fit_cli(_incident(tmp_path / "all"), tmp_path)
    tv = _fit_cli(_incident(tmp_path / "tv", '[postmortem]\nservice = "tv"\n'), tmp_path)
    # without the filter the website trouble of the next morning counts as reports after "resolved"
    assert everything["declared_resolved"]["reports_after"] == 3
    assert everything["service_filter"] == {
        "services": [],
        "services_counted": ["tv", "web"],
        "n_down_reports": 8,
        "n_down_reports_unnamed_service": 0,
        "other_services": {},
        "n_down_reports_all_services": 8,
    }
    assert tv["declared_resolved"]["reports_after"] == 1
    assert tv["service_filter"] == {
        "services": ["tv"],
        "services_counted": ["tv"],
        "n_down_reports": 6,
        "n_down_reports_unnamed_service": 0,
        "other_services": {"web": 2},
        "n_down_reports_all_services": 8,
    }
    # one definition of a report: the fit, the timeline and the headline count read the TV reports only
    assert tv["n_down_reports"] == 6 and everything["n_down_reports"] == 8
    # the first signal is the first TV report either way; the acknowledgement is the first announcement
    assert tv["detection"]["first_signal"] == "2018-01-08T20:05:00+01:00"
    assert tv["detection"]["first_acknowledgement"] == "2018-01-08T21:00:00+01:00"
    assert tv["detection"]["time_to_acknowledge_minutes"] == [55.0, 55.0]


def test_service_filter_in_the_impact_table(tmp_path: Path) -> None:
    a = analyze_fast(_incident(tmp_path, '[postmortem]\nservice = ["TV"]\n'), tmp_path / "proc")
    for lang, own, other in (("en", "TV", "website 2"), ("fr", "TV", "site web 2"), ("nl", "tv", "website 2")):
        b = dataclasses.replace(a, params=dataclasses.replace(a.params, language=lang))
        page = visible("\n".join(sections.impact(b)))
        rows = dict(zip(page.splitlines()[2::2], page.splitlines()[3::2], strict=False))
        assert rows[{"en": "Service", "fr": "Service", "nl": "Dienst"}[lang]].lower() == own.lower()
        assert other in page
        assert "6 / 8" in page  # six TV reports of eight rows


@pytest.mark.parametrize(("value", "key"), [("3", "postmortem.service"), ('["tv", ""]', "postmortem.service[1]")])
def test_bad_service_names_the_key(tmp_path: Path, value: str, key: str) -> None:
    folder = _incident(tmp_path, f"[postmortem]\nservice = {value}\n")
    with pytest.raises(ConfigError) as err:
        load_incident(folder)
    assert f"key '{key}'" in str(err.value) and str(folder / "incident.toml") in str(err.value)


def test_default_incident_counts_tv_only_after_the_declaration(default_analysis) -> None:
    mt = default_analysis.metrics
    assert mt["service_filter"]["services"] == ["tv"]
    # Tuesday's separate instability: website 5, SMS 2, internet 1 — listed, not counted
    assert mt["service_filter"]["other_services"] == {"web": 5, "sms": 2, "internet": 1}
    assert mt["declared_resolved"]["reports_after"] == mt["curated_summary"]["statements_after_declaration"] == 29
    sf = mt["service_filter"]
    assert sf["n_down_reports"] == mt["n_down_reports"] == mt["curated_summary"]["n_statements"] == 56
    assert sf["n_down_reports"] + sum(sf["other_services"].values()) == sf["n_down_reports_all_services"] == 64
    assert sf["services_counted"] == ["tv"]


def test_detection_unknown_when_onset_is_configured(default_analysis) -> None:
    d = default_analysis.metrics["detection"]
    assert d["onset_source"] == "config" and d["time_to_detect_minutes"] is None
    # "shortly after 20:00" is a window: the first signal is known within 20:00–20:30
    assert (d["first_signal"], d["first_signal_until"]) == ("2018-01-08T20:00:00+01:00", "2018-01-08T20:30:00+01:00")
    assert d["first_acknowledgement"] == "2018-01-08T21:00:00+01:00" and d["first_acknowledgement_source"] == "S1"
    assert d["time_to_acknowledge_minutes"] == [30.0, 60.0] and d["acknowledged_after_onset_minutes"] == 60.0
    for lang, unknown in (("en", "unknown"), ("fr", "inconnu"), ("nl", "onbekend")):
        b = dataclasses.replace(default_analysis, params=dataclasses.replace(default_analysis.params, language=lang))
        page = visible("\n".join(sections.detection(b)))
        assert unknown in page and "21:00" in page and "20:00–20:30" in page
        if lang != "en":
            assert english_words(page) == [], page


def test_detection_measured_when_onset_is_estimated() -> None:
    onset = dt.datetime(2018, 1, 8, 19, 40, tzinfo=UTC)
    down = pl.DataFrame(
        {
            "reported_at": [dt.datetime(2018, 1, 8, 19, 52, tzinfo=UTC), dt.datetime(2018, 1, 8, 20, 30, tzinfo=UTC)],
            "reported_until": [None, None],
        },
        schema_overrides={"reported_until": pl.Datetime("us", "UTC")},
    )
    ack = SimpleNamespace(time=dt.datetime(2018, 1, 8, 20, 22, tzinfo=UTC), label="Ack", source=None)
    a = SimpleNamespace(
        incident=SimpleNamespace(timezone="Europe/Brussels", onset=None, announcements=(ack,)),
        fit=SimpleNamespace(onset=onset),
        service_down=down,
    )
    d = detection(a)
    assert d["onset_source"] == "estimated"
    assert d["time_to_detect_minutes"] == 12.0 and d["time_to_acknowledge_minutes"] == [30.0, 30.0]
    a.incident.announcements = ()
    assert detection(a)["first_acknowledgement"] is None and detection(a)["time_to_acknowledge_minutes"] is None


def test_customer_hours_when_the_affected_count_is_known(tmp_path: Path) -> None:
    folder = tmp_path / "proximus"
    shutil.copytree(DEFAULT_INCIDENT, folder)
    toml = (folder / "incident.toml").read_text(encoding="utf-8")
    (folder / "incident.toml").write_text(
        toml.replace('timezone = "Europe/Brussels"', 'timezone = "Europe/Brussels"\naffected_customers = 20000', 1)
    )
    a = analyze_fast(folder, tmp_path / "proc")
    c = a.metrics["customer_impact"]
    # curated statements measure no durations: 20,000 customers × 2 h 30 min from onset to the declared resolution
    assert (c["affected_customers"], c["basis"], c["customer_hours"]) == (20000, "operator_timeline", 50000)
    for lang, number in (("en", "50,000"), ("fr", "50\xa0000"), ("nl", "50.000")):
        b = dataclasses.replace(a, params=dataclasses.replace(a.params, language=lang))
        assert number in "\n".join(sections.customer_impact(b))


def test_customer_hours_from_the_model(spontaneous_analysis) -> None:
    a = spontaneous_analysis
    assert a.metrics["customer_impact"]["reason"] == "affected_unknown"
    inc = dataclasses.replace(a.incident, affected_customers=1000)
    from analysis.facts import customer_impact

    c = customer_impact(dataclasses.replace(a, incident=inc))
    est = a.fit.mean_outage_minutes
    assert c["basis"] == "model"
    assert c["customer_hours"] == pytest.approx(1000 * est.value / 60, abs=1)
    low, high = c["customer_hours_ci"]
    assert low <= c["customer_hours"] <= high
