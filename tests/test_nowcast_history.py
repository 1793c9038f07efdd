"""The duration prior learned from past incidents: the history file, empirical Bayes, leave-one-out, the CLI line."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.config import PROJECT_ROOT, load_incident
from analysis.errors import ConfigError
from analysis.ingest import ingest_incident
from analysis.nowcast import DurationPrior, EtaForecast, eta_forecasts
from analysis.nowcast_eta import model_average
from analysis.nowcast_history import CONFORMAL_MIN, MIN_EVENTS, PastEvent, conformal_scale, read_history
from analysis.recovery.result import Estimate

SMALL = PROJECT_ROOT / "tests" / "data" / "incidents" / "small-fixture"
FAST = ("-p", "n_boot=20", "-p", "families=exponential,weibull")
HEADER = "incident_id,evidence,size,t50_minutes,t90_minutes\n"


def write(tmp_path: Path, body: str, name: str = "past.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def series_events(t90_factor: float, n: int, *, spread: float = 0.1, seed: int = 0) -> list[PastEvent]:
    """Past series events whose t90 is ``t90_factor`` × the assumed median for their size (log-normal scatter)."""
    rng = np.random.default_rng(seed)
    events = []
    for i in range(n):
        size = float(rng.choice([5_000, 40_000, 300_000]))
        t90 = DurationPrior.for_event("online_fraction", size).median(0.9) * t90_factor * math.exp(spread * rng.standard_normal())
        events.append(PastEvent(f"past-{i}", "online_fraction", size, t90 / 4, t90))
    return events


# --------------------------------------------------------------------------- the history file


def test_read_history_reads_rows_and_blank_crossings(tmp_path: Path) -> None:
    path = write(tmp_path, "a,online_fraction,12000,300,900\nb,down_reports,450,,480\n")
    a, b = read_history(path)
    assert (a.incident_id, a.evidence, a.size, a.t50_minutes, a.t90_minutes) == ("a", "online_fraction", 12000.0, 300.0, 900.0)
    assert math.isnan(b.t50_minutes) and b.minutes(0.9) == 480.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("a,online_fraction,12000,300,900\nb,tweets,10,1,2\n", r"past\.csv: row 3, column 'evidence': expected one of"),
        ("a,online_fraction,many,300,900\n", r"row 2, column 'size': not a number: 'many'"),
        ("a,online_fraction,-4,300,900\n", r"row 2, column 'size': expected a finite number > 0"),
        ("a,online_fraction,100,900,300\n", r"row 2, column 't50_minutes': 900 is after t90_minutes 300"),
        ("a,online_fraction,100,,\n", r"row 2: neither t50_minutes nor t90_minutes"),
        ("a,online_fraction,100,1,2\na,down_reports,5,1,2\n", r"row 3, column 'incident_id': 'a' appears twice"),
        ("a,online_fraction,100,1,900000\n", r"row 2, column 't90_minutes': 900000 minutes is over a year"),
        ("", r"has no rows"),
    ],
)
def test_bad_history_names_the_file_row_and_column(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        read_history(write(tmp_path, body))


def test_history_without_a_column_names_it(tmp_path: Path) -> None:
    path = tmp_path / "past.csv"
    path.write_text("incident_id,evidence,t90_minutes\na,online_fraction,100\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"past\.csv: the nowcast history lacks column\(s\) size, t50_minutes"):
        read_history(path)


# --------------------------------------------------------------------------- empirical Bayes


def test_learned_prior_moves_to_the_past_events_and_narrows() -> None:
    """Eight past storms all 3 times slower than assumed: the learned median is close to 3×, the spread far below 1.2."""
    history = series_events(3.0, 8)
    assumed = DurationPrior.for_event("online_fraction", 40_000)
    learned = DurationPrior.for_event("online_fraction", 40_000, history)
    ratio = learned.median(0.9) / assumed.median(0.9)
    assert 2.4 < ratio < 3.3  # shrunk a little towards the assumed median, not all the way
    assert learned.spread(0.9) < 0.6 < assumed.spread(0.9) == 1.2
    assert learned.median(0.5) / assumed.median(0.5) == pytest.approx(ratio * 3 / 4, rel=0.2)  # t50 = t90/4 in the past
    assert learned.source == "learned from past incidents (t50: 8, t90: 8)"
    # the size scaling is kept: a ten times larger event gets 10^0.25 the median
    big = DurationPrior.for_event("online_fraction", 400_000, history)
    assert big.median(0.9) / learned.median(0.9) == pytest.approx(10**0.25)


def test_few_or_scattered_past_events_leave_the_prior_close_to_the_assumed_one() -> None:
    assumed = DurationPrior.for_event("online_fraction", 40_000)
    few = DurationPrior.for_event("online_fraction", 40_000, series_events(3.0, MIN_EVENTS - 1))
    assert few == assumed and few.source == "assumed"
    other_kind = [PastEvent(f"r{i}", "down_reports", 100, 60, 120) for i in range(10)]
    assert DurationPrior.for_event("online_fraction", 40_000, other_kind) == assumed
    scattered = DurationPrior.for_event("online_fraction", 40_000, series_events(3.0, 4, spread=2.5, seed=3))
    assert scattered.spread(0.9) > 1.2  # four events scattered over decades: no sharper than assumed
    assert abs(math.log(scattered.median(0.9) / assumed.median(0.9))) < abs(math.log(3.0)) + 1.0


def test_the_forecast_never_sees_its_own_incident_in_the_history() -> None:
    """Leave one out: whatever the history says about the incident being forecast, its forecast is the same."""
    data = ingest_incident(load_incident(SMALL))
    others = [PastEvent(f"past-{i}", "down_reports", 500, 40.0 + 9 * i, 120.0 + 20 * i) for i in range(6)]
    forecasts = []
    for own_t90 in (60.0, 6_000.0, 100_000.0):
        history = [*others, PastEvent("small-fixture", "down_reports", 500, own_t90 / 3, own_t90)]
        f = eta_forecasts(
            None, evidence="down_reports", data=data, elapsed=45.0, level=0.9, history=history, exclude="small-fixture"
        )
        forecasts.append(f["t90"].quantile([0.05, 0.5, 0.95]))
    assert np.array_equal(forecasts[0], forecasts[1]) and np.array_equal(forecasts[0], forecasts[2])
    # and without exclusion the own row would have moved it: the test can fail
    leaky = eta_forecasts(
        None,
        evidence="down_reports",
        data=data,
        elapsed=45.0,
        level=0.9,
        history=[*others, PastEvent("small-fixture", "down_reports", 500, 3e4, 1e5)],
    )
    assert not np.allclose(leaky["t90"].quantile([0.05, 0.5, 0.95]), forecasts[0])


def test_backtest_history_counts_a_delayed_replay_as_the_same_incident(tmp_path: Path) -> None:
    """``benchmarks/nowcast.py``: an incident and its delayed-arrival replay are one incident, left out together."""
    sys.path.insert(0, str(PROJECT_ROOT))
    from benchmarks import nowcast as backtest

    cases = backtest.crowd_cases(tmp_path, 1, delayed=True)
    assert {c.incident for c in cases if c.group == "crowd+delay"} == {c.incident for c in cases if c.group == "crowd"}
    history = backtest.history_of(cases)
    assert len(history) == len({c.incident for c in cases}) == len(backtest.CROWD)
    assert all(e.evidence == "down_reports" and 0 < e.t50_minutes < e.t90_minutes for e in history)


@pytest.mark.parametrize("seed", range(6))
def test_learned_forecasts_are_ordered_and_after_now(seed: int) -> None:
    """Any history: the quantiles rise with the level, the intervals nest, and everything lies after the issue time."""
    rng = np.random.default_rng(seed)
    history = series_events(
        float(np.exp(rng.normal(0, 1))), int(rng.integers(3, 12)), spread=float(rng.uniform(0.05, 2)), seed=seed
    )
    data = ingest_incident(load_incident(SMALL))
    elapsed = float(rng.uniform(10, 3000))
    for f in eta_forecasts(None, evidence="online_fraction", data=data, elapsed=elapsed, level=0.9, history=history).values():
        q = f.quantile([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
        assert np.all(np.diff(q) >= 0) and q[0] >= elapsed
        i50, i80, i90 = (f.interval(lv) for lv in (0.5, 0.8, 0.9))
        assert i90[0] <= i80[0] <= i50[0] <= i50[1] <= i80[1] <= i90[1]


# --------------------------------------------------------------------------- the config key and the CLI line


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600, check=False
    )


def with_history(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "small-fixture"
    shutil.copytree(SMALL, folder)
    write(folder, body)
    toml = (folder / "incident.toml").read_text(encoding="utf-8")
    (folder / "incident.toml").write_text(
        toml.replace("[origin]", '[nowcast]\nhistory = "past.csv"\n\n[origin]'), encoding="utf-8"
    )
    return folder


def test_nowcast_line_uses_the_history_of_the_config(tmp_path: Path) -> None:
    """Six past report incidents restored within 2–4 h: the t90 interval moves from the 8 h assumed prior towards them."""
    rows = "".join(f"past-{i},down_reports,{300 + i},{40 + 5 * i},{120 + 25 * i}\n" for i in range(6))
    folder = with_history(tmp_path, rows + "small-fixture,down_reports,400,9000,30000\n")  # its own row: left out
    assert load_incident(folder).nowcast_history == (folder / "past.csv").resolve()
    args = ("--as-of", "2018-01-08T20:30:00", *FAST, "-p", f"processed_dir={tmp_path}")
    learned = json.loads(run("nowcast", str(folder), *args).stdout)
    assumed = json.loads(run("nowcast", str(SMALL), *args).stdout)
    assert learned["prior"] == "learned from past incidents (t50: 6, t90: 6)" and assumed["prior"] == "assumed"
    assert set(assumed) <= set(learned)  # keys only added
    hi_learned, hi_assumed = (dt_of(d["eta_t90_ci"][1]) for d in (learned, assumed))
    assert hi_learned < hi_assumed


def dt_of(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def test_bad_history_row_stops_the_nowcast_with_one_line(tmp_path: Path) -> None:
    folder = with_history(tmp_path, "a,down_reports,300,40,120\nb,down_reports,300,forty,120\n")
    proc = run("nowcast", str(folder), "--as-of", "2018-01-08T20:30:00", *FAST, "-p", f"processed_dir={tmp_path}")
    assert proc.returncode != 0 and proc.stdout == ""
    assert "past.csv: row 3, column 't50_minutes': not a number: 'forty'" in proc.stderr


def test_history_outside_the_incident_folder_is_refused(tmp_path: Path) -> None:
    folder = with_history(tmp_path, "a,down_reports,300,40,120\n")
    toml = (folder / "incident.toml").read_text(encoding="utf-8").replace('history = "past.csv"', 'history = "../past.csv"')
    (folder / "incident.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"nowcast\.history"):
        load_incident(folder)


# --------------------------------------------------------------------------- averaging over which evidence to trust


def test_a_piece_of_evidence_at_odds_with_the_rest_loses_its_pull() -> None:
    """Prior and fitted crossing agree near 600 min; an extrapolation says 12 000: the forecast stays near 600.

    The precision combination alone would put the median at about 840; consistent pieces
    are still combined (the forecast narrower than the prior alone).
    """
    prior = (math.log(600.0), 0.4)
    fit, wild = (math.log(660.0), 0.35), (math.log(12_000.0), 0.8)
    x, w = model_average([fit, wild], prior, 60.0, 4000)
    f = EtaForecast(0.9, x, w)
    pieces = [prior, fit, wild]
    precision = sum(1 / s**2 for _, s in pieces)
    product = math.exp(sum(m / s**2 for m, s in pieces) / precision)
    assert product > 800 and 560 < f.median < 720
    x1, w1 = model_average([fit], prior, 60.0, 4000)
    agree = EtaForecast(0.9, x1, w1)
    lo, hi = agree.interval(0.9)
    assert 560 < agree.median < 700 and math.log(hi / lo) < 2 * 1.645 * 0.4  # narrower than the prior's own interval


def test_not_yet_moves_weight_off_the_models_that_expected_the_end_by_now() -> None:
    """At 400 min a fitted crossing says 100, an extrapolation 900, the assumed prior 400: the forecast follows 900.

    The precision combination of the three would put the crossing at about 150 min, before
    now, and its truncation at "not yet" would say "any minute"; trusting the fit makes
    "not reached yet" unlikely, so that model loses its weight.
    """
    x, w = model_average([(math.log(100.0), 0.35), (math.log(900.0), 0.8)], (math.log(400.0), 1.2), 400.0, 4000)
    f = EtaForecast(0.9, x, w)
    assert f.quantile(0.05)[0] >= 400.0 and 650 < f.median < 1100


class _ReportFit:
    """A fit of reports as the forecast reads it: quantiles, the share still out, the onset."""

    onset = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)

    def __init__(self, t90: Estimate) -> None:
        self.t90 = t90

    def quantile(self, p: float) -> Estimate:
        return self.t90 if p >= 0.9 else Estimate(self.t90.value / 3, self.t90.low / 3, self.t90.high / 3)

    def still_affected(self, t: dt.datetime) -> Estimate:
        return Estimate(0.2, 0.0, 1.0)


def test_a_report_fit_crossing_just_behind_us_is_not_taken_as_reached() -> None:
    """Fitted t90 100 min [60–400] at 120 min: not reached (its interval lies ahead); [60–110]: reached."""
    data = ingest_incident(load_incident(SMALL))
    ahead = eta_forecasts(_ReportFit(Estimate(100.0, 60.0, 400.0)), evidence="down_reports", data=data, elapsed=120.0, level=0.9)
    assert not ahead["t90"].reached and ahead["t90"].quantile(0.05)[0] >= 120.0
    behind = eta_forecasts(_ReportFit(Estimate(100.0, 60.0, 110.0)), evidence="down_reports", data=data, elapsed=120.0, level=0.9)
    assert behind["t90"].reached and behind["t90"].reached_minutes == 100.0


# --------------------------------------------------------------------------- split-conformal calibration of the spread


def test_conformal_needs_enough_past_events() -> None:
    assert conformal_scale([0.1, -0.2, 0.3, 0.0, 0.2, -0.1, 0.05, 0.15], 1.2) is None  # 8 < CONFORMAL_MIN
    assert CONFORMAL_MIN == 9 and conformal_scale([0.1, -0.2, 0.3, 0.0, 0.2, -0.1, 0.05, 0.15, -0.3], 1.2) is not None


@pytest.mark.parametrize("scatter", [0.2, 0.8])
def test_conformal_spread_covers_new_events_at_the_stated_rate(scatter: float) -> None:
    """Histories of 19 events, log durations normal around a shifted median: the calibrated 90 % interval covers
    a new event 86–96 % of the time (split-conformal promises at least 90 %, at most 90 % + 1/20)."""
    rng = np.random.default_rng(7)
    hits, trials = 0, 600
    assumed = DurationPrior.for_event("down_reports", 100)
    for _ in range(trials):
        history = [
            PastEvent(
                f"p{i}", "down_reports", 100, math.nan, assumed.median(0.9) * math.exp(0.7 + scatter * rng.standard_normal())
            )
            for i in range(19)
        ]
        prior = DurationPrior.for_event("down_reports", 100, history)
        new = math.log(assumed.median(0.9)) + 0.7 + scatter * rng.standard_normal()
        half = 1.6449 * prior.spread(0.9)
        hits += abs(new - math.log(prior.median(0.9))) <= half
    assert 0.86 <= hits / trials <= 0.96
