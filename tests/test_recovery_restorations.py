"""Recovery fits from per-customer restoration records."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from analysis.errors import FitError, ParameterError
from analysis.recovery import fit_restorations, make_family, restoration_data
from analysis.simulate import restoration_records, restoration_times

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
UTC = pl.Datetime("us", "UTC")


def _frame(rec, *, as_datetimes: bool = True) -> pl.DataFrame:
    k = rec.kind

    def col(x):
        if not as_datetimes:
            return pl.Series(np.where(np.isfinite(x), x, np.nan)).fill_nan(None)
        return pl.Series([ONSET + dt.timedelta(minutes=float(v)) if np.isfinite(v) else None for v in x], dtype=UTC)

    return pl.DataFrame(
        {
            "observed_at": col(np.where(k != "interval", rec.lower, np.nan)),
            "restored": k == "exact",
            "restored_after": col(np.where(k == "interval", rec.lower, np.nan)),
            "restored_before": col(np.where(k == "interval", rec.upper, np.nan)),
        }
    )


@pytest.mark.parametrize(
    ("family", "theta"),
    [("lognormal", [math.log(90), 0.8]), ("weibull", [120.0, 1.5]), ("gamma", [40.0, 2.5]), ("loglogistic", [80.0, 3.0])],
)
def test_t50_t90_recovered_within_10_percent_with_all_censoring_kinds(family, theta):
    t = restoration_times(1500, family=family, params=theta, rng=5)
    rec = restoration_records(t, censor_at=400.0, inspection_minutes=30, interval_fraction=0.3, rng=6)
    assert set(rec.kind) == {"exact", "right", "interval"}
    fit = fit_restorations(_frame(rec), onset=ONSET, families=[family], n_boot=50)
    f = make_family(family)
    for p in (0.5, 0.9):
        truth = float(f.quantile(p, np.asarray(theta)))
        assert abs(fit.quantile(p).value - truth) / truth < 0.10
    assert fit.nonparametric["method"][0] == "turnbull"
    assert "case-resampling bootstrap" in fit.interval_method


def test_right_censored_records_get_kaplan_meier_beside_the_fit():
    t = restoration_times(400, family="weibull", params=[100.0, 1.3], rng=1)
    rec = restoration_records(t, censor_at=150.0, rng=2)
    fit = fit_restorations(_frame(rec, as_datetimes=False), onset=ONSET, families=["weibull", "lognormal"], n_boot=50)
    km = fit.nonparametric
    assert km["method"][0] == "kaplan-meier"
    assert km.height == int((rec.kind == "exact").sum())
    diag = fit.diagnostics.observed_vs_fitted
    assert np.max(np.abs(diag["residual"].to_numpy())) < 0.08
    assert fit.end == ONSET + dt.timedelta(minutes=150.0)
    assert fit.to_metrics()["t90_extrapolated"] == (fit.t90.value > 150.0)


def test_count_column_weights_records():
    df = pl.DataFrame({"observed_at": [30.0, 60.0, 90.0, 200.0], "restored": [True, True, True, False], "count": [10, 20, 10, 5]})
    expanded = pl.DataFrame(
        {"observed_at": [30.0] * 10 + [60.0] * 20 + [90.0] * 10 + [200.0] * 5, "restored": [True] * 40 + [False] * 5}
    )
    a = fit_restorations(df, onset=ONSET, families=["weibull"], n_boot=0)
    b = fit_restorations(expanded, onset=ONSET, families=["weibull"], n_boot=0)
    assert a.log_likelihood == pytest.approx(b.log_likelihood)
    assert a.t50.value == pytest.approx(b.t50.value, rel=1e-6)


def test_restoration_data_sorts_records_by_kind():
    df = pl.DataFrame(
        {
            "observed_at": [10.0, 20.0, None, None],
            "restored": [True, False, None, None],
            "restored_after": [None, None, 5.0, 40.0],
            "restored_before": [None, None, 15.0, None],
        }
    )
    d = restoration_data(df, onset=ONSET)
    assert d.exact.tolist() == [10.0]
    assert sorted(d.right.tolist()) == [20.0, 40.0]  # an open-ended interval is right-censored
    assert d.lower.tolist() == [5.0]
    assert d.upper.tolist() == [15.0]


def test_restorations_errors_name_the_problem():
    with pytest.raises(ParameterError, match="restored"):
        fit_restorations(pl.DataFrame({"observed_at": [1.0, 2.0, 3.0]}), onset=ONSET, n_boot=0)
    with pytest.raises(ParameterError, match="row 1"):
        restoration_data(pl.DataFrame({"restored_after": [1.0, 9.0], "restored_before": [5.0, 3.0]}), onset=ONSET)
    with pytest.raises(ParameterError, match="onset"):
        fit_restorations(pl.DataFrame({"observed_at": [1.0], "restored": [True]}), onset=None, n_boot=0)
    with pytest.raises(FitError, match="at least 3"):
        fit_restorations(pl.DataFrame({"observed_at": [1.0, 2.0], "restored": [True, True]}), onset=ONSET, n_boot=0)
    with pytest.raises(FitError, match="no customer"):
        fit_restorations(pl.DataFrame({"observed_at": [1.0, 2.0, 3.0], "restored": [False] * 3}), onset=ONSET, n_boot=0)
