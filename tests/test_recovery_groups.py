"""Stratified recovery fits: partial pooling and the likelihood-ratio test of equal recovery."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from analysis.errors import FitError, ParameterError
from analysis.recovery import fit_by_group
from analysis.simulate import report_times

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
END = ONSET + dt.timedelta(hours=28)


def _reports(spec, seed):
    rng = np.random.default_rng(seed)
    times, labels = [], []
    for label, lam, rate in spec:
        m = report_times(
            family="weibull",
            params={"lambda": lam, "rho": 1.4},
            rate_per_minute=rate,
            horizon_minutes=28 * 60.0,
            onset_epoch_s=ONSET.timestamp(),
            rng=rng,
        )
        times.append(m)
        labels += [label] * m.size
    return np.concatenate(times), np.asarray(labels)


def test_regions_that_recover_differently_are_told_apart():
    t, g = _reports([("Brussels", 60, 3.0), ("Flanders", 60, 5.0), ("Wallonia", 150, 2.0)], seed=5)
    fit = fit_by_group(t, g, onset=ONSET, end=END, families=["weibull"], n_boot=60)
    assert fit.pooling == "separate"  # every group has plenty of reports
    assert fit.test["p_value"] < 0.001
    assert fit.test["df"] == 4  # two parameters per extra group
    table = fit.table
    assert table["group"].to_list() == ["Brussels", "Flanders", "Wallonia"]
    wal = fit.groups["Wallonia"].t50
    bru = fit.groups["Brussels"].t50
    assert wal.low > bru.high
    assert fit.n_reports["Flanders"] == pytest.approx(float((g == "Flanders").sum()))
    metrics = fit.to_metrics()
    assert set(metrics) == {"Brussels", "Flanders", "Wallonia"}
    assert {"n_reports", "t50_minutes", "t50_minutes_ci", "t90_minutes"} <= set(metrics["Wallonia"])


def test_regions_that_recover_alike_are_not_told_apart():
    t, g = _reports([("A", 90, 2.5), ("B", 90, 2.5), ("C", 90, 2.5)], seed=12)
    fit = fit_by_group(t, g, onset=ONSET, end=END, families=["weibull"], pooling="separate", n_boot=0)
    assert fit.test["p_value"] > 0.05
    models = fit.models
    assert models["model"].to_list() == ["equal", "shared_shape", "separate"]
    ll = models["log_likelihood"].to_list()
    assert ll[0] <= ll[1] + 1e-6 <= ll[2] + 2e-6  # nested models


def test_thin_groups_share_the_shape():
    t, g = _reports([("big", 80, 5.0), ("thin", 160, 0.12)], seed=3)
    assert 5 < (g == "thin").sum() < 30
    fit = fit_by_group(t, g, onset=ONSET, end=END, families=["weibull"], n_boot=40)
    assert fit.pooling == "shared_shape"
    big, thin = (fit.groups[k].summary for k in ("big", "thin"))
    rho = lambda s: s.filter(pl.col("parameter") == "rho_")["estimate"][0]  # noqa: E731
    assert rho(big) == pytest.approx(rho(thin))
    assert fit.test["df"] == 1
    assert fit.groups["thin"].t50.value > fit.groups["big"].t50.value


def test_groups_with_too_few_reports_are_skipped_and_named():
    t, g = _reports([("A", 90, 2.0), ("B", 90, 2.0)], seed=1)
    t = np.concatenate([t, [30.0, 40.0]])
    g = np.concatenate([g, ["tiny", "tiny"]])
    fit = fit_by_group(t, g, onset=ONSET, end=END, families=["weibull"], n_boot=0)
    assert "tiny" in fit.skipped
    assert "tiny" not in fit.groups


def test_group_errors():
    t, g = _reports([("A", 90, 2.0)], seed=1)
    with pytest.raises(FitError, match="2 or more"):
        fit_by_group(t, g, onset=ONSET, end=END, families=["weibull"], n_boot=0)
    with pytest.raises(ParameterError, match="pooling"):
        fit_by_group(t, g, onset=ONSET, end=END, pooling="partial", n_boot=0)
    with pytest.raises(ParameterError, match="labels"):
        fit_by_group(t, g[:-1], onset=ONSET, end=END, families=["weibull"], n_boot=0)


def test_separate_model_is_each_group_at_its_own_maximum():
    # one curve per group: the joint likelihood is a sum of independent terms, fitted group by
    # group; no group may end below what its reports give on their own (a delay makes the
    # likelihood multimodal: here group B has two optima)
    from analysis.recovery import fit_down_reports

    t, g = _reports([("A", 60, 3.0), ("B", 120, 2.0), ("C", 90, 1.0)], seed=21)
    for family in ("weibull", "weibull+delay"):
        fit = fit_by_group(t, g, onset=ONSET, end=END, families=[family], pooling="separate", n_boot=0)
        alone = {
            k: fit_down_reports(
                t[g == k], onset=ONSET, end=END, families=[family], n_boot=0, dispersion="poisson", noticing=False
            )
            for k in ("A", "B", "C")
        }
        ll = dict(zip(fit.models["model"], fit.models["log_likelihood"], strict=True))
        for k, f in alone.items():
            assert fit.groups[k].log_likelihood >= f.log_likelihood - 1e-6
        assert ll["separate"] == pytest.approx(sum(f.log_likelihood for f in alone.values()), abs=1e-4)
        assert ll["separate"] >= ll["shared_shape"] - 1e-6 >= ll["equal"] - 2e-6


def test_dispersion_of_the_test_is_measured_around_the_groups_own_curves():
    # Poisson reports, groups alike: the interaction φ is about 1
    t, g = _reports([("A", 90, 20.0), ("B", 90, 20.0), ("C", 90, 20.0)], seed=31)
    fit = fit_by_group(t, g, onset=ONSET, end=END, families=["weibull"], pooling="separate", n_boot=0)
    assert 0.6 < fit.test["dispersion_interaction"] < 1.5 and fit.test["dispersion_df"] >= 20
    # one group twice as slow: the pooled curve misfits, the groups' own curves do not
    t, g = _reports([("A", 90, 20.0), ("B", 90, 20.0), ("C", 180, 10.0)], seed=33)
    fit = fit_by_group(t, g, onset=ONSET, end=END, families=["weibull"], pooling="separate", n_boot=0)
    assert fit.test["dispersion_interaction"] < 1.5 < fit.pooled.dispersion and fit.test["p_value"] < 1e-6
    assert fit.test["reference"] in ("F", "chi2") and fit.failed == []


def test_a_shared_delay_leaves_it_out_of_the_comparison():
    t, g = _reports([("A", 90, 3.0), ("B", 120, 3.0)], seed=33)
    fit = fit_by_group(t, g, onset=ONSET, end=END, families=["weibull+delay"], pooling="separate", n_boot=0, share_delay=True)
    assert fit.test["df"] == 2  # λ and ρ per extra group; the delay is common
    th = {k: f.theta for k, f in fit.groups.items()}
    assert th["A"][2] == pytest.approx(th["B"][2])
    assert th["A"][0] != pytest.approx(th["B"][0])


def test_the_fit_options_are_one_object_shared_by_both_fitters():
    from analysis.recovery import ReportOptions, fit_down_reports

    t, g = _reports([("Brussels", 60, 3.0), ("Wallonia", 150, 2.0)], seed=7)
    opts = ReportOptions(families=["weibull"], n_boot=0, level=0.8)
    by_object = fit_by_group(t, g, onset=ONSET, end=END, pooling="separate", options=opts)
    by_keyword = fit_by_group(t, g, onset=ONSET, end=END, pooling="separate", families=["weibull"], n_boot=0, level=0.8)
    assert by_object.test["statistic"] == by_keyword.test["statistic"]
    assert by_object.groups["Wallonia"].t50.value == by_keyword.groups["Wallonia"].t50.value
    assert by_object.pooled.level == 0.8
    # a keyword overrides the object
    assert fit_down_reports(t, onset=ONSET, end=END, options=opts, level=0.5).level == 0.5
    # a misspelt option, or one that does not apply to a fit by group, is one error naming it
    with pytest.raises(ParameterError, match=r"unknown option.*levl"):
        fit_down_reports(t, onset=ONSET, end=END, options=opts, levl=0.5)
    with pytest.raises(ParameterError, match=r"fit_by_group: unknown option.*noticing"):
        fit_by_group(t, g, onset=ONSET, end=END, options=opts, noticing=True)
    with pytest.raises(ParameterError, match=r"fit_by_group: option.*dispersion do not apply"):
        fit_by_group(t, g, onset=ONSET, end=END, options=ReportOptions(dispersion="poisson"))
    with pytest.raises(ParameterError, match="level must be in"):
        ReportOptions(level=1.5)
