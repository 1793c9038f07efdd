"""Customers-out series through the product: `postmortem fit` on incident folders written as the README says.

Real EAGLE-I series (Hurricane Beryl in Harris County, Hurricane Ian in Volusia and
Charlotte) are checked against the facts computed from the data (../shared/data/real/README.md):
the crossing the data show, no crossing claimed where the data contradict it, every listed
feed loss flagged and nothing else dropped, local times with the incident's offset, no
Belgian geography in a US report. Also: a run with nothing usable exits non-zero.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from analysis.metrics import unusable
from tests.real_data import BERYL, CHARLOTTE, VOLUSIA, eaglei_incident, postmortem, real_file

UTC = dt.UTC
FAST = ["-p", "n_boot=60"]


def _t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


def _fit(folder: Path) -> dict:
    proc = postmortem("fit", str(folder), *FAST, "-p", f"processed_dir={folder.parent / 'processed'}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def volusia(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = eaglei_incident(
        tmp_path_factory.mktemp("volusia") / "volusia", VOLUSIA, incident_id="ian-volusia", timezone="America/New_York"
    )
    return _fit(folder)


@pytest.fixture(scope="module")
def charlotte(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = eaglei_incident(
        tmp_path_factory.mktemp("charlotte") / "charlotte", CHARLOTTE, incident_id="ian-charlotte", timezone="America/New_York"
    )
    return _fit(folder)


@pytest.fixture(scope="module")
def beryl(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = eaglei_incident(
        tmp_path_factory.mktemp("beryl") / "beryl",
        BERYL,
        incident_id="beryl-harris",
        timezone="America/Chicago",
        onset="2024-07-08T09:15:00",  # 14:15 UTC, in the incident's local time (CDT)
        end="2024-07-12T18:45:00",
    )
    return _fit(folder)


def test_volusia_half_restored_where_the_data_cross_for_good(volusia: dict) -> None:
    rec = volusia["recovery"]
    onset, truth = dt.datetime(2022, 9, 29, 0, 15, tzinfo=UTC), dt.datetime(2022, 10, 1, 13, 15, tzinfo=UTC)
    elapsed = (truth - onset).total_seconds()
    assert rec["t50"] is not None and not rec["t50_extrapolated"]
    assert abs((_t(rec["t50"]) - truth).total_seconds()) <= 0.10 * elapsed, rec["t50"]
    low, high = (_t(x) for x in rec["t50_ci"])
    assert low <= _t(rec["t50"]) <= high
    # the estimated onset is the first sustained rise, near the data's (09-29 00:15 UTC)
    assert volusia["onset_source"] == "estimated"
    assert abs((_t(volusia["onset"]) - onset).total_seconds()) <= 2 * 3600
    # local times carry the incident's offset (EDT), not Brussels'
    assert rec["t50"].endswith("-04:00") and volusia["onset"].endswith("-04:00")
    # 10 % of the peak is not reached in the window: never claimed inside it
    end = _t(volusia["end"])
    assert rec["t90"] is None or (rec["t90_extrapolated"] and _t(rec["t90"]) > end)


def test_charlotte_half_restored_not_claimed_inside_the_window(charlotte: dict) -> None:
    rec, end = charlotte["recovery"], _t(charlotte["end"])
    assert rec["model"] is not None, charlotte["recovery_error"]
    assert rec["t50"] is None or (rec["t50_extrapolated"] and _t(rec["t50"]) > end)
    assert rec["t50_minutes_ci"] is None or rec["t50_minutes_ci"][0] is None or _t(rec["t50_ci"][0]) > end - dt.timedelta(hours=6)


def test_beryl_below_half_for_good_near_the_data(beryl: dict) -> None:
    rec = beryl["recovery"]
    onset, truth = dt.datetime(2024, 7, 8, 14, 15, tzinfo=UTC), dt.datetime(2024, 7, 11, 21, 45, tzinfo=UTC)
    assert beryl["onset_source"] == "config" and _t(beryl["onset"]) == onset
    assert abs((_t(rec["t50"]) - truth).total_seconds()) <= 0.10 * (truth - onset).total_seconds(), rec["t50"]
    assert rec["t90"] is None or rec["t90_extrapolated"]
    assert rec["t50"].endswith("-05:00")  # CDT


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "volusia",
            {("2022-10-01T13:45:00", "2022-10-01T14:00:00")},
        ),
        (
            "beryl",
            {
                ("2024-07-09T15:30:00", "2024-07-09T16:00:00"),
                ("2024-07-10T00:45:00", "2024-07-10T01:45:00"),
                ("2024-07-10T03:00:00", "2024-07-10T03:30:00"),
                ("2024-07-10T05:30:00", "2024-07-10T05:30:00"),
            },
        ),
        (
            "charlotte",
            {
                ("2022-09-29T09:15:00", "2022-09-29T10:45:00"),
                ("2022-10-01T13:45:00", "2022-10-01T14:00:00"),
                ("2022-09-28T21:00:00", "2022-09-28T21:00:00"),
            },
        ),
    ],
)
def test_every_listed_feed_loss_flagged_and_nothing_else_dropped(
    case: str, expected: set, request: pytest.FixtureRequest
) -> None:
    doc = request.getfixturevalue(case)
    left = doc["series_readings_left_out"]
    onset = _t(doc["onset"])
    dropped = [_t(r["time"]) for r in left if r["flag"] not in ("missing", "flapping")]
    windows = [
        (dt.datetime.fromisoformat(a).replace(tzinfo=UTC), dt.datetime.fromisoformat(b).replace(tzinfo=UTC)) for a, b in expected
    ]
    for a, b in windows:
        assert any(a <= t <= b for t in dropped), f"feed loss {a}–{b} not flagged"
    # nothing after the onset is dropped outside the listed feed losses
    stray = [t for t in dropped if t >= onset and not any(a <= t <= b for a, b in windows)]
    assert stray == [], stray
    counts = doc["recovery"]["readings"]
    assert sum(counts.values()) >= 500


def test_volusia_missing_runs_and_flapping_are_flagged(volusia: dict) -> None:
    counts = volusia["recovery"]["readings"]
    assert counts.get("missing", 0) >= 18  # the night of 09-28 has no rows for 18 runs
    flapping = [_t(r["time"]) for r in volusia["series_readings_left_out"] if r["flag"] == "flapping"]
    assert flapping and all(
        dt.datetime(2022, 9, 29, 19, 45, tzinfo=UTC) <= t <= dt.datetime(2022, 9, 29, 23, 0, tzinfo=UTC) for t in flapping
    )


def test_a_us_series_gets_no_belgian_geography(beryl: dict) -> None:
    assert beryl["evidence"] == "online_fraction"
    assert beryl["regions"] == {}
    assert beryl["areas"]["n_municipalities"] == 0
    assert beryl["regions_equal_recovery"]["performed"] is False


def test_headline_numbers_lie_inside_their_intervals(beryl: dict, volusia: dict) -> None:
    for doc in (beryl, volusia):
        rec = doc["recovery"]
        for key in ("t50", "t90", "t99"):
            v, ci = rec[f"{key}_minutes"], rec[f"{key}_minutes_ci"]
            if v is not None and ci is not None and None not in ci:
                assert ci[0] <= v <= ci[1], (key, v, ci)
        if rec.get("customer_hours") is not None:
            low, high = rec["customer_hours_ci"]
            assert low <= rec["customer_hours"] <= high


# --------------------------------------------------------------------------- nothing usable


def test_unusable_names_why() -> None:
    ok = {"n_raw": 3, "n_rejected": 1, "recovery": {"model": "weibull"}}
    assert unusable(ok) is None
    assert "no rows" in unusable({"n_raw": 0, "n_rejected": 0})
    assert "every one of the 3 rows was rejected" in unusable({"n_raw": 3, "n_rejected": 3, "recovery": {}})
    assert "no recovery curve: too few" in unusable(
        {"n_raw": 3, "n_rejected": 0, "recovery": {"model": None}, "recovery_error": "too few"}
    )


def test_every_row_rejected_fails_fit_and_validate_with_one_line(make_incident, tmp_path: Path) -> None:
    folder = make_incident(
        "time,town\nnot a time,Namur\nnever,Liège\n", source_extra='[sources.columns]\nreported_at = "time"\nplace = "town"\n'
    )
    fit = postmortem("fit", str(folder), "-p", f"processed_dir={tmp_path / 'processed'}")
    assert fit.returncode == 1
    doc = json.loads(fit.stdout)  # what can be written is written
    assert doc["n_raw"] == 2 and doc["n_rejected"] == 2
    lines = [x for x in fit.stderr.splitlines() if x.startswith("postmortem: error:")]
    assert len(lines) == 1 and "rejected" in lines[0]
    val = postmortem("validate", str(folder))
    assert val.returncode == 1 and "all 2 rows rejected" in val.stderr


# --------------------------------------------------------------------------- other input shapes


@pytest.mark.slow  # a full simulated or rendered run; the plain suite keeps its lighter siblings
def test_several_counties_in_one_file_give_one_curve_each_and_their_total(tmp_path: Path) -> None:
    folder = tmp_path / "ian-two"
    folder.mkdir()
    frames = [pl.read_csv(real_file(name)) for name in (VOLUSIA, CHARLOTTE)]
    pl.concat(frames).write_csv(folder / "outages.csv")
    (folder / "incident.toml").write_text(
        'id = "ian-two"\ntitle = "Ian, two counties"\ntimezone = "America/New_York"\n'
        '[[sources]]\npath = "outages.csv"\nkind = "online_fraction"\ntimezone = "UTC"\n'
        '[sources.columns]\nobserved_at = "run_start_time"\nout = "customers_out"\narea = "county"\n',
        encoding="utf-8",
    )
    doc = _fit(folder)
    areas = doc["series_areas"]
    assert set(areas) == {"Volusia", "Charlotte"}
    end = _t(doc["end"])
    assert areas["Charlotte"]["t50"] is None or (areas["Charlotte"]["t50_extrapolated"] and _t(areas["Charlotte"]["t50"]) > end)
    truth = dt.datetime(2022, 10, 1, 13, 15, tzinfo=UTC)
    assert (
        abs((_t(areas["Volusia"]["t50"]) - truth).total_seconds())
        <= 0.10 * (truth - _t(areas["Volusia"]["onset"])).total_seconds()
    )
    # the total is fitted to the sum of clean readings: a feed loss in one county is not a dip of the total
    rec = doc["recovery"]
    assert rec["model"] is not None and "dropout" not in rec["readings"] and rec["peak"]["out"] > 224_435


def test_out_with_a_total_below_the_peak_is_kept_with_a_warning(tmp_path: Path) -> None:
    folder = eaglei_incident(tmp_path / "beryl-total", BERYL, incident_id="beryl-total", timezone="America/Chicago")
    toml = (folder / "incident.toml").read_text(encoding="utf-8")
    (folder / "incident.toml").write_text(toml + 'total = "total_customers"\n', encoding="utf-8")
    doc = _fit(folder)
    rec = doc["recovery"]
    assert doc["n_rejected"] == 0 and rec["model"] is not None
    assert rec["readings"]["above_total"] > 0  # EAGLE-I's total is below the real peak: kept, counted
    assert rec["peak"]["share_of_total"] > 1.0


def test_a_share_online_gives_the_same_answer_as_the_count(tmp_path: Path, charlotte: dict) -> None:
    folder = tmp_path / "charlotte-share"
    folder.mkdir()
    mcc = 129_889  # EAGLE-I modelled customers of Charlotte County (12015), above its peak
    pl.read_csv(real_file(CHARLOTTE)).with_columns((1 - pl.col("customers_out") / mcc).alias("share_online")).write_csv(
        folder / "series.csv"
    )
    (folder / "incident.toml").write_text(
        'id = "charlotte-share"\ntitle = "Charlotte, share online"\ntimezone = "America/New_York"\n'
        '[[sources]]\npath = "series.csv"\nkind = "online_fraction"\ntimezone = "UTC"\n'
        '[sources.columns]\nobserved_at = "run_start_time"\nonline_fraction = "share_online"\n',
        encoding="utf-8",
    )
    doc = _fit(folder)
    assert doc["recovery"]["t50_extrapolated"] is True
    assert doc["onset"] == charlotte["onset"]
    assert doc["recovery"]["readings"] == charlotte["recovery"]["readings"]


def test_onset_at_the_peak_keeps_the_crossing_and_its_interval(tmp_path: Path) -> None:
    folder = eaglei_incident(
        tmp_path / "volusia-peak", VOLUSIA, incident_id="volusia-peak", timezone="UTC", onset="2022-09-29T19:00:00"
    )
    rec = _fit(folder)["recovery"]
    truth = dt.datetime(2022, 10, 1, 13, 15, tzinfo=UTC)
    low, high = (_t(x) for x in rec["t50_ci"])
    assert low <= _t(rec["t50"]) <= high
    assert (
        abs((_t(rec["t50"]) - truth).total_seconds()) <= 0.10 * (truth - dt.datetime(2022, 9, 29, 19, tzinfo=UTC)).total_seconds()
    )


def test_render_of_nothing_usable_writes_the_report_and_exits_1(make_incident, tmp_path: Path) -> None:
    folder = make_incident(
        "time,town\nnot a time,Namur\nnever,Liège\n", source_extra='[sources.columns]\nreported_at = "time"\nplace = "town"\n'
    )
    out = tmp_path / "reports"
    proc = postmortem("render", str(folder), "--out", str(out), "-p", "n_boot=20", "-p", f"processed_dir={tmp_path / 'p'}")
    assert proc.returncode == 1
    assert (out / "test-incident" / "postmortem.html").is_file()  # what can be written is written
    manifest = json.loads((out / "test-incident" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "unusable" and "rejected" in manifest["problem"]
    errors = [x for x in proc.stderr.splitlines() if x.startswith("postmortem: error:")]
    assert len(errors) == 1 and "rejected" in errors[0]
