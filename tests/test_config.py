from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from analysis.config import find_incidents, load_incident
from analysis.errors import ConfigError

from .conftest import DEFAULT_INCIDENT

GOOD = """\
id = "x"
title = "T"
timezone = "Europe/Brussels"
onset = "2018-01-08T20:00:00"
end = 2018-01-09T12:00:00+01:00
[origin]
name = "dc"
lat = 50.87
lon = 4.40
[reporting]
hourly_propensity = [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2]
[[events]]
time = "2018-01-08T22:30:00"
label = "resolved"
kind = "announcement"
resolved = true
[[sources]]
path = "r.csv"
kind = "down_reports"
delimiter = "tab"
encoding = "cp1252"
time_format = "%d/%m/%Y %H:%M"
[sources.columns]
reported_at = "when"
place = "town"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "incident.toml").write_text(text, encoding="utf-8")
    (tmp_path / "r.csv").write_text("when\ttown\n", encoding="utf-8")
    return tmp_path


def test_full_config_is_parsed_into_typed_objects(tmp_path: Path) -> None:
    inc = load_incident(write(tmp_path, GOOD))
    assert inc.onset == dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
    assert inc.end == dt.datetime(2018, 1, 9, 11, 0, tzinfo=dt.UTC)
    assert inc.origin is not None and inc.origin.lat == pytest.approx(50.87)
    assert inc.reporting.hourly_propensity is not None and inc.reporting.hourly_propensity[23] == 2.0
    source = inc.sources[0]
    assert source.delimiter == "\t" and source.encoding == "cp1252" and source.format == "csv"
    assert source.columns["reported_at"] == "when"
    assert inc.declared_resolved is not None and inc.declared_resolved.time.hour == 21
    with pytest.raises(AttributeError):
        inc.id = "y"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('timezone = "Europe/Brussels"', 'timezone = "Europe/Bruxelles"'), "key 'timezone'"),
        (('title = "T"\n', ""), "key 'title': is required"),
        (('kind = "down_reports"', 'kind = "tweets"'), "key 'sources[0].kind'"),
        (('path = "r.csv"', 'path = "../outside.csv"'), "outside the incident folder"),
        (('path = "r.csv"', 'path = "/etc/passwd"'), "is absolute"),
        (("lat = 50.87", "lat = 95.0"), "key 'origin.lat'"),
        (("hourly_propensity = [1,", "hourly_propensity = [-1,"), "key 'reporting.hourly_propensity'"),
        (('label = "resolved"', 'label = "resolved"\ncolour = "red"'), "key 'events[0].colour': unknown key"),
        (('reported_at = "when"', 'reported_at = "when"\nwhen = "x"'), "key 'sources[0].columns.when'"),
        (('onset = "2018-01-08T20:00:00"', 'onset = "2018-03-25T02:30:00"'), "does not exist"),
        (('onset = "2018-01-08T20:00:00"', 'onset = "2018-10-28T02:30:00"'), "happens twice"),
        (("end = 2018-01-09T12:00:00+01:00", "end = 2018-01-07T12:00:00+01:00"), "key 'end': must be after onset"),
        (('delimiter = "tab"', 'delimiter = ";;"'), "key 'sources[0].delimiter'"),
        (('encoding = "cp1252"', 'encoding = "klingon"'), "unknown encoding"),
        (
            ('encoding = "cp1252"', 'encoding = "cp1252"\ndedupe = "rows"'),
            "key 'sources[0].dedupe': expected one of identity, exact, none; got 'rows'",
        ),
        (('encoding = "cp1252"', 'encoding = "cp1252"\ndedupe = true'), "key 'sources[0].dedupe'"),
        (('place = "town"', 'place = "town"\ncustomer_id = "who"'), "key 'sources[0].columns.customer_id'"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    with pytest.raises(ConfigError) as err:
        load_incident(write(tmp_path, text))
    assert str(tmp_path / "incident.toml") in str(err.value)
    assert message in str(err.value)


def test_dedupe_policy_and_identity_columns(tmp_path: Path) -> None:
    # identity by default for reports; a user or device column can be mapped
    assert load_incident(write(tmp_path, GOOD)).sources[0].dedupe == "identity"
    text = GOOD.replace('place = "town"', 'place = "town"\nuser_id = "who"\ndevice_id = "box"')
    for policy in ("identity", "exact", "none"):
        source = load_incident(write(tmp_path, text.replace('encoding = "cp1252"', f'dedupe = "{policy}"'))).sources[0]
        assert source.dedupe == policy
        assert (source.columns["user_id"], source.columns["device_id"]) == ("who", "box")
    # an online series defaults to the exact rule (a point written twice is one measurement)
    online = GOOD.replace('kind = "down_reports"', 'kind = "online_fraction"').replace(
        'reported_at = "when"\nplace = "town"', 'observed_at = "when"'
    )
    assert load_incident(write(tmp_path, online)).sources[0].dedupe == "exact"
    restorations = online.replace('kind = "online_fraction"', 'kind = "restorations"')
    assert load_incident(write(tmp_path, restorations)).sources[0].dedupe == "identity"


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_incident(tmp_path)
    (tmp_path / "incident.toml").write_text("id = [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_incident(tmp_path)


def test_symlink_escaping_the_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n", encoding="utf-8")
    folder = tmp_path / "inc"
    folder.mkdir()
    (folder / "link.csv").symlink_to(outside)
    (folder / "incident.toml").write_text(GOOD.replace("r.csv", "link.csv"), encoding="utf-8")
    with pytest.raises(ConfigError, match="outside the incident folder"):
        load_incident(folder)


def test_default_incident_loads_and_is_found() -> None:
    inc = load_incident(DEFAULT_INCIDENT)
    assert inc.id == "proximus-2018-01-08"
    assert inc.timezone == "Europe/Brussels"
    assert inc.onset is not None and inc.local(inc.onset).hour == 20
    assert DEFAULT_INCIDENT in find_incidents(DEFAULT_INCIDENT.parent)


def test_an_incident_given_as_dot_is_named_by_its_real_folder(
    make_incident, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = make_incident("time,town\n2018-01-08 20:05,Liège\n", incident_id="dot-incident")
    monkeypatch.chdir(folder)
    with caplog.at_level("WARNING"):
        incident = load_incident(".")
    assert incident.id == "dot-incident" and incident.folder.name == "dot-incident"
    assert not [r for r in caplog.records if "differs from its folder name" in r.getMessage()]
    # a real difference is still said, with the folder's real name
    monkeypatch.chdir(folder.parent)
    renamed = folder.rename(folder.parent / "other-name")
    monkeypatch.chdir(renamed)
    with caplog.at_level("WARNING"):
        load_incident(".")
    assert any("folder name 'other-name'" in r.getMessage() for r in caplog.records)
