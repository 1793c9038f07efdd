"""Interval coverage by simulation: 90% intervals must cover the truth 82–96% of the time.

Each test draws ≥ 100 incidents from known parameters with the library's own generator,
fits the generating family with its bootstrap intervals, and counts how often the interval
for t50 and t90 contains the truth. Slow by design (CI runs them).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from analysis.recovery import fit_down_reports, fit_online_fraction, fit_restorations, make_family
from analysis.simulate import online_fraction_series, report_times, restoration_records, restoration_times

pytestmark = pytest.mark.slow

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
END = ONSET + dt.timedelta(hours=28)
REPS = 100
N_BOOT = 100
BAND = (0.82, 0.96)


def _coverage(fits, family: str, theta: list[float]) -> dict[float, float]:
    f = make_family(family)
    out = {}
    for p in (0.5, 0.9):
        truth = float(f.quantile(p, np.asarray(theta)))
        hits = [fit.quantile(p).low <= truth <= fit.quantile(p).high for fit in fits]
        out[p] = float(np.mean(hits))
    print(f"\n{family}: coverage {out} over {len(fits)} replications")
    return out


@pytest.mark.parametrize(("family", "theta"), [("weibull", [90.0, 1.3]), ("weibull+delay", [90.0, 1.3, 20.0])])
def test_down_reports_interval_coverage(family, theta):
    fits = []
    for r in range(REPS):
        m = report_times(
            family=family,
            params=theta,
            rate_per_minute=2.0,
            horizon_minutes=28 * 60.0,
            onset_epoch_s=ONSET.timestamp(),
            rng=1000 + r,
        )
        fits.append(fit_down_reports(m, onset=ONSET, end=END, families=[family], n_boot=N_BOOT, seed=r))
    for p, c in _coverage(fits, family, theta).items():
        assert BAND[0] <= c <= BAND[1], (p, c)


def test_restorations_interval_coverage():
    theta = [math.log(90.0), 0.8]
    fits = []
    for r in range(REPS):
        rng = np.random.default_rng(2000 + r)
        t = restoration_times(300, family="lognormal", params=theta, rng=rng)
        rec = restoration_records(t, censor_at=240.0, inspection_minutes=30.0, interval_fraction=0.3, rng=rng)
        k = rec.kind
        df = pl.DataFrame(
            {
                "observed_at": np.where(k != "interval", rec.lower, np.nan),
                "restored": k == "exact",
                "restored_after": np.where(k == "interval", rec.lower, np.nan),
                "restored_before": np.where(k == "interval", rec.upper, np.nan),
            }
        ).fill_nan(None)
        fits.append(fit_restorations(df, onset=ONSET, families=["lognormal"], n_boot=N_BOOT, seed=r))
    for p, c in _coverage(fits, "lognormal", theta).items():
        assert BAND[0] <= c <= BAND[1], (p, c)


def test_online_fraction_interval_coverage():
    theta = [1000.0, 1.2]
    fits = []
    for r in range(REPS):
        s = online_fraction_series(
            family="weibull",
            params=theta,
            horizon_minutes=48 * 60.0,
            step_minutes=15.0,
            affected_share=0.4,
            noise_sd=0.005,
            noise_minutes=60.0,
            rng=3000 + r,
        )
        obs = pl.Series([ONSET + dt.timedelta(minutes=float(x)) for x in s.minutes], dtype=pl.Datetime("us", "UTC"))
        df = pl.DataFrame({"observed_at": obs, "online_fraction": 1 - s.out_share})
        fits.append(fit_online_fraction(df, onset=ONSET, families=["weibull"], n_boot=N_BOOT, seed=r))
    for p, c in _coverage(fits, "weibull", theta).items():
        assert BAND[0] <= c <= BAND[1], (p, c)
