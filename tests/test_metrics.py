from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest

from analysis.metrics import (
    RECOVERY_KEYS,
    TOP_KEYS,
    clean_number,
    empty_recovery,
    interval,
    iso,
    missing_keys,
    offset,
    write_metrics,
)
from tests.contract import RECOVERY, TOP, contract_gaps


def test_times_carry_the_incident_offset() -> None:
    winter = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
    summer = dt.datetime(2018, 7, 8, 19, 0, tzinfo=dt.UTC)
    assert iso(winter, "Europe/Brussels") == "2018-01-08T20:00:00+01:00"
    assert iso(summer, "Europe/Brussels") == "2018-07-08T21:00:00+02:00"
    assert iso(None, "Europe/Brussels") is None


def test_numbers_are_json_safe() -> None:
    assert clean_number(float("nan")) is None
    assert clean_number(math.inf) is None
    assert clean_number(1.23456789) == 1.2346
    assert interval(1, float("nan")) == [1.0, None]
    assert interval(None, None) is None


def test_offsets_refuse_absurd_extrapolations() -> None:
    onset = dt.datetime(2018, 1, 8, 19, tzinfo=dt.UTC)
    assert offset(onset, 90) == onset + dt.timedelta(minutes=90)
    assert offset(onset, 1e12) is None
    assert offset(onset, float("inf")) is None


def test_empty_recovery_has_every_contract_key(tmp_path: Path) -> None:
    doc = dict.fromkeys(TOP_KEYS)
    doc |= {
        "recovery": empty_recovery(0.9),
        "announcements": [{"time": None, "label": "x", "still_affected": None, "still_affected_ci": None}],
        "areas": {"n_municipalities": 0},
    }
    assert missing_keys(doc) == []
    assert contract_gaps(doc) == []  # DESIGN.md's keys, spelled out in tests/contract.py
    assert set(RECOVERY_KEYS) <= set(doc["recovery"])
    path = write_metrics(doc, tmp_path / "m" / "metrics.json")
    assert json.loads(path.read_text(encoding="utf-8"))["recovery"]["level"] == 0.9
    del doc["recovery"]["t90_ci"]
    assert missing_keys(doc) == ["recovery.t90_ci"]
    assert contract_gaps(doc) == ["recovery.t90_ci"]
    with pytest.raises(ValueError, match="Out of range float"):
        write_metrics({"x": float("nan")}, tmp_path / "bad.json")


def test_the_code_writes_at_least_the_contract_keys() -> None:
    # the code's own key lists may grow (keys are added freely) but never lose a contract key
    assert set(TOP) <= set(TOP_KEYS)
    assert set(RECOVERY) <= set(RECOVERY_KEYS)
