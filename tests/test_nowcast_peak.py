"""The live nowcast early in a storm and on vague report fits: a peak that may be ahead, a crossing the readings deny."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from analysis.config import PROJECT_ROOT, load_incident
from analysis.ingest import ingest_incident
from analysis.nowcast import DurationPrior, eta_forecasts, peak_may_be_ahead, progress_eta
from analysis.recovery import Estimate

ONSET = dt.datetime(2024, 6, 1, 0, 0, tzinfo=dt.UTC)


def series_incident(folder: Path, counts: list[float], *, step_minutes: int = 15) -> Path:
    """An incident folder with a customers-out series, one reading every ``step_minutes`` from the onset."""
    folder.mkdir(parents=True)
    lines = ["run_start_time,customers_out"]
    for i, c in enumerate(counts):
        lines.append(f"{(ONSET + dt.timedelta(minutes=step_minutes * i)).strftime('%Y-%m-%d %H:%M:%S')},{round(c)}")
    (folder / "outages.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "incident.toml").write_text(
        f'id = "{folder.name}"\ntitle = "constructed storm"\ntimezone = "UTC"\nonset = "2024-06-01T00:00:00+00:00"\n'
        '[[sources]]\npath = "outages.csv"\nkind = "online_fraction"\ntimezone = "UTC"\n'
        '[sources.columns]\nobserved_at = "run_start_time"\nout = "customers_out"\n',
        encoding="utf-8",
    )
    return folder


def postmortem(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``postmortem ARGS -p n_boot=30`` as a user runs it, with processed tables under ``tmp_path``; must succeed."""
    cmd = [sys.executable, "-m", "analysis", *args, "-p", "n_boot=30", "-p", f"processed_dir={tmp_path / 'p'}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc


def nowcast_line(folder: Path, as_of: str, tmp_path: Path) -> dict:
    return json.loads(postmortem(tmp_path, "nowcast", str(folder), "--as-of", as_of).stdout)


def first_fall(peak: float = 40_000.0) -> list[float]:
    """A count that climbs for 5 h and then falls for 2 h to 70 % of its peak: a first fall, not yet the recovery."""
    rng = np.random.default_rng(3)
    up = [peak * (i / 20) ** 1.5 for i in range(1, 21)]
    down = [peak * (1 - 0.3 * i / 8) for i in range(1, 9)]
    return [c * rng.uniform(0.98, 1.02) for c in up + down]


def steady_recovery(peak: float = 40_000.0) -> list[float]:
    """A count that climbs for 5 h and then falls steadily for 12 h to 15 % of its peak."""
    rng = np.random.default_rng(4)
    up = [peak * (i / 20) ** 1.5 for i in range(1, 21)]
    down = [peak * math.exp(-math.log(1 / 0.15) * i / 48) for i in range(1, 49)]
    return [c * rng.uniform(0.98, 1.02) for c in up + down]


def test_a_count_still_near_its_peak_gives_an_eta_interval_around_the_prior(tmp_path: Path) -> None:
    folder = series_incident(tmp_path / "storm", first_fall())
    as_of = "2024-06-01T07:00:00+00:00"  # 2 h into the first fall: the running maximum is that recent
    doc = nowcast_line(folder, as_of, tmp_path)
    assert doc["peak_may_be_ahead"] is not None and "3 h" in doc["peak_may_be_ahead"]
    prior_median = ONSET + dt.timedelta(minutes=DurationPrior.for_event("online_fraction", 40_000).median(0.9))
    low, high = (dt.datetime.fromisoformat(t) for t in doc["eta_t90_ci"])
    assert dt.datetime.fromisoformat(as_of) <= low < prior_median < high
    assert doc["reached_at"] == {"t50": None, "t90": None}


def test_peak_may_be_ahead_names_each_rule_and_stays_quiet_in_a_clear_recovery(tmp_path: Path) -> None:
    climbing = ingest_incident(load_incident(series_incident(tmp_path / "up", first_fall()[:20])))
    assert "running maximum" in peak_may_be_ahead(climbing, ONSET + dt.timedelta(hours=5))  # type: ignore[operator]
    fall = ingest_incident(load_incident(series_incident(tmp_path / "fall", first_fall())))
    assert "last 3 h" in peak_may_be_ahead(fall, ONSET + dt.timedelta(hours=7))  # type: ignore[operator]
    # a second band: down to 55 % of the peak, then up again by a fifth of the peak
    second = first_fall() + [40_000 * s for s in (0.6, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.7, 0.72, 0.74, 0.74)]
    rose = ingest_incident(load_incident(series_incident(tmp_path / "second", second)))
    assert peak_may_be_ahead(rose, ONSET + dt.timedelta(minutes=15 * (len(second) - 1))) == "the count rose in the last 3 h"
    # a flat plateau well below the peak: the trend is not clearly down
    flat = first_fall() + [40_000 * 0.6] * 24
    plateau = ingest_incident(load_incident(series_incident(tmp_path / "flat", flat)))
    reason = peak_may_be_ahead(plateau, ONSET + dt.timedelta(minutes=15 * (len(flat) - 1)))
    assert reason == "the trend of the last 3 h is not clearly down"
    # a steady fall to 15 % of the peak: the recovery has clearly begun
    steady = ingest_incident(load_incident(series_incident(tmp_path / "steady", steady_recovery())))
    assert peak_may_be_ahead(steady, ONSET + dt.timedelta(hours=17)) is None


def test_a_clear_recovery_keeps_its_narrow_forecast(tmp_path: Path) -> None:
    folder = series_incident(tmp_path / "storm", steady_recovery())
    doc = nowcast_line(folder, "2024-06-01T15:00:00+00:00", tmp_path)
    assert doc["peak_may_be_ahead"] is None
    low = dt.datetime.fromisoformat(doc["eta_t90_ci"][0])
    prior_median = ONSET + dt.timedelta(minutes=DurationPrior.for_event("online_fraction", 40_000).median(0.9))
    # the steady fall says the 90 % line is hours away, well before the prior's 29 h after the onset
    assert dt.datetime(2024, 6, 1, 15, tzinfo=dt.UTC) <= low < dt.datetime.fromisoformat(doc["eta_t90"]) < prior_median


def test_a_fitted_crossing_the_last_hour_of_readings_denies_is_not_reached(tmp_path: Path) -> None:
    data = ingest_incident(load_incident(series_incident(tmp_path / "drop", [*first_fall()[:24], 10.0, 10.0])))
    elapsed = 25 * 15.0
    # a curve that read the feed's drop-out as the recovery: its crossing lies just before now
    fit = SimpleNamespace(
        onset=ONSET,
        peak_out=40_000.0,
        crossing=lambda p: SimpleNamespace(reached=True, minutes=Estimate(elapsed - 10, elapsed - 12, elapsed - 8)),
    )
    f = eta_forecasts(fit, evidence="online_fraction", data=data, elapsed=elapsed, level=0.9)["t90"]
    assert not f.reached and f.interval(0.9)[0] >= elapsed
    assert f.median > elapsed + 120  # the prior and the rules, not a crossing ten minutes ago


def test_reports_extrapolate_the_recovery_only_when_the_share_out_is_known() -> None:
    def fit(low: float, high: float) -> SimpleNamespace:
        return SimpleNamespace(
            onset=ONSET,
            quantile=lambda p: Estimate(300.0, 150.0, 1e12),
            still_affected=lambda t: Estimate(0.6, low, high),
        )

    empty = SimpleNamespace(reports=pl.DataFrame(), restorations=pl.DataFrame(), online=pl.DataFrame())
    common = {"evidence": "down_reports", "data": empty, "elapsed": 140.0, "level": 0.9}
    vague = eta_forecasts(fit(0.0, 1.0), **common)["t90"]  # type: ignore[arg-type]
    known = eta_forecasts(fit(0.55, 0.65), **common)["t90"]  # type: ignore[arg-type]
    # a share out of 0.6 [0–1] says nothing: the log-linear decline from it (631 min) is left out
    assert progress_eta(0.6, 140.0, 140.0, 0.9) == pytest.approx(631.1, abs=0.5)
    assert known.median > vague.median + 20


def test_the_live_page_says_the_count_may_not_have_peaked(tmp_path: Path) -> None:
    folder = series_incident(tmp_path / "storm", first_fall())
    postmortem(
        tmp_path, "render", str(folder), "--out", str(tmp_path / "out"), "--no-progress", "--as-of", "2024-06-01T07:00:00+00:00"
    )
    page = (tmp_path / "out" / "storm" / "postmortem.html").read_text(encoding="utf-8")
    banner = page[page.index('class="pm-live"') :].split("</div></div>")[0]
    assert "The count may not have peaked yet" in banner
    metrics = json.loads((tmp_path / "out" / "storm" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["nowcast"]["peak_may_be_ahead"] == "the running maximum was set in the last 3 h"
