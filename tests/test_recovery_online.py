"""Recovery fits from an online-fraction series: real EAGLE-I data (Hurricane Beryl) and simulations."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis.errors import FitError, ParameterError
from analysis.recovery import fit_online_fraction, make_family, screen_series
from analysis.simulate import online_fraction_series

HARRIS_MCC = 1_827_686  # EAGLE-I modelled customers for FIPS 48201 (see docs/recovery.md, real data)
BERYL_FILE = "eaglei_outages_2024_harris_beryl.csv"


def _beryl_path() -> Path | None:
    """The EAGLE-I Beryl file, which stays outside the repository (third-party data, CC BY 4.0).

    Looked for in ``$POSTMORTEM_REAL_DATA``, then in the workspace's shared data folder.
    """
    here = Path(__file__).resolve().parents[1]
    folders = [os.environ.get("POSTMORTEM_REAL_DATA"), here.parent / "shared" / "data" / "real", "/work/shared/data/real"]
    for folder in folders:
        if folder and (Path(folder) / BERYL_FILE).is_file():
            return Path(folder) / BERYL_FILE
    return None


PEAK = dt.datetime(2024, 7, 8, 19, 15, tzinfo=dt.UTC)  # 1,660,703 out: start of the usable restoration
UTC = pl.Datetime("us", "UTC")


@pytest.fixture(scope="module")
def beryl():
    path = _beryl_path()
    if path is None:
        pytest.skip(f"{BERYL_FILE} (EAGLE-I, CC BY 4.0) is not in this workspace; set POSTMORTEM_REAL_DATA to its folder")
    # from 8 July 00:00 UTC (the storm's day) on; the days before hold no outage
    df = (
        pl.read_csv(path)
        .filter(pl.col("run_start_time") >= "2024-07-08 00:00:00")
        .select(
            pl.col("run_start_time").str.to_datetime("%Y-%m-%d %H:%M:%S", time_zone="UTC").alias("observed_at"),
            pl.col("customers_out").alias("out"),
        )
    )
    fit = fit_online_fraction(
        df,
        onset=PEAK,
        total=HARRIS_MCC,
        timezone="America/Chicago",
        families=["weibull", "weibull+delay", "lognormal", "mixture"],
        n_boot=60,
    )
    return df, fit


def test_beryl_dropouts_are_flagged_and_left_out(beryl):
    df, fit = beryl
    q = fit.data_quality
    assert q.height == df.height  # every reading is listed, none silently lost
    dropped = q.filter(pl.col("flag") == "dropout")["observed_at"].dt.strftime("%m-%d %H:%M").to_list()
    assert dropped == [
        "07-09 15:30", "07-09 16:00",
        "07-10 00:45", "07-10 01:00", "07-10 01:15", "07-10 01:30", "07-10 01:45",
        "07-10 03:00", "07-10 03:30", "07-10 05:30",
    ]  # fmt: skip
    assert not q.filter(pl.col("flag") == "dropout")["used"].any()
    assert q.filter(pl.col("observed_at") < PEAK)["flag"].unique().to_list() == ["before_onset"]
    assert any("10 reading(s) flagged dropout" in n for n in fit.notes)


def test_beryl_curve_matches_the_observed_restoration(beryl):
    _, fit = beryl
    summary = dict(zip(fit.summary["parameter"], fit.summary["estimate"], strict=True))
    assert summary["affected_share_"] == pytest.approx(1_660_703 / HARRIS_MCC, abs=0.03)  # 0.909 at the peak
    # out/peak at 12-hour snapshots from the data's README (hours after the 19:15 peak)
    snapshots = {4.75: 0.903, 16.75: 0.819, 28.75: 0.663, 40.75: 0.622, 52.75: 0.569, 64.75: 0.519, 76.75: 0.471, 88.75: 0.436}
    s = fit.survival(np.array(list(snapshots)) * 60)
    assert s == pytest.approx(list(snapshots.values()), abs=0.06)


def test_beryl_t50_is_near_the_observed_crossing_and_t90_is_flagged_as_extrapolated(beryl):
    _, fit = beryl
    t50_h = fit.t50.scaled(1 / 60)
    assert 60 < t50_h.value < 85  # observed crossing 72.0 h (sustained 74.5 h)
    assert t50_h.low < 74.5
    assert t50_h.high > 72.0
    assert fit.extrapolated(0.9)  # the window ends at 59.7% restored
    m = fit.to_metrics()
    assert m["t90_extrapolated"] is True
    assert m["t50_extrapolated"] is False
    assert m["t50"].endswith("-05:00")  # shown in the incident timezone (CDT)


def test_simulated_series_recovers_t50_t90_and_flags_planted_defects():
    theta = [1500.0, 1.2]
    s = online_fraction_series(
        family="weibull",
        params=theta,
        horizon_minutes=72 * 60.0,
        before_minutes=120.0,
        affected_share=0.4,
        noise_sd=0.005,
        noise_minutes=60.0,
        n_dropouts=4,
        stale_runs=1,
        stale_length=12,
        rng=21,
    )
    onset = dt.datetime(2021, 2, 15, 6, 0, tzinfo=dt.UTC)
    df = pl.DataFrame(
        {
            "observed_at": pl.Series([onset + dt.timedelta(minutes=float(m)) for m in s.minutes], dtype=UTC),
            "online_fraction": 1 - s.out_share,
        }
    )
    fit = fit_online_fraction(df, onset=None, families=["weibull"], n_boot=60)
    assert fit.onset_source == "estimated"
    assert abs((fit.onset - onset).total_seconds()) <= 30 * 60
    flags = fit.data_quality["flag"].to_numpy()
    visible = (s.defect == "dropout") & (s.truth > 0.1 * s.truth.max())  # near zero a glitch looks like restoration
    assert visible.sum() >= 1
    assert set(np.nonzero(visible)[0]) <= set(np.nonzero(flags == "dropout")[0])
    planted_stale = np.nonzero(s.defect == "stale")[0]
    assert (flags[planted_stale] == "stale").mean() > 0.8
    f = make_family("weibull")
    for p in (0.5, 0.9):
        truth = float(f.quantile(p, np.asarray(theta)))
        # onset estimated within a reading or two: compare on the clock
        est = fit.quantile(p).value + (fit.onset - onset).total_seconds() / 60
        assert abs(est - truth) / truth < 0.10


def test_screen_series_rules():
    minutes = np.arange(0, 40 * 15, 15.0)
    v = np.linspace(1.0, 0.6, minutes.size)
    v[10] = 0.001  # dropout
    v[20:30] = v[20]  # frozen feed for 2.5 h
    v[35] = np.nan
    flags = screen_series(minutes, v, horizon=float(minutes[-1]))
    assert flags[10] == "dropout"
    assert list(flags[21:30]) == ["stale"] * 9
    assert flags[20] in ("ok", "flat")
    assert flags[35] == "missing"
    # a genuine lasting drop is not a dropout
    w = np.where(minutes < 300, 1.0, 0.3) - minutes * 1e-4
    assert "dropout" not in screen_series(minutes, w, horizon=float(minutes[-1])).tolist()


def test_online_errors_name_the_problem():
    t = pl.Series([dt.datetime(2024, 1, 1, h, tzinfo=dt.UTC) for h in range(6)], dtype=UTC)
    with pytest.raises(ParameterError, match="online_fraction"):
        fit_online_fraction(pl.DataFrame({"observed_at": t, "online_fraction": [0.5, 2.0, 0.5, 0.5, 0.5, 0.5]}), onset=None)
    with pytest.raises(ParameterError, match="need"):
        fit_online_fraction(pl.DataFrame({"observed_at": t, "value": [1.0] * 6}), onset=None)
    with pytest.raises(FitError, match="at least 5"):
        fit_online_fraction(pl.DataFrame({"observed_at": t[:3], "out": [1.0, 2.0, 3.0]}), onset=None)
