"""Survival families: published reference values, invariants shared by every family, nonparametric curves."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lifelines import (
    ExponentialFitter as LLExponential,
)
from lifelines import (
    KaplanMeierFitter,
)
from lifelines import (
    LogLogisticFitter as LLLogLogistic,
)
from lifelines import (
    LogNormalFitter as LLLogNormal,
)
from lifelines import (
    WeibullFitter as LLWeibull,
)
from lifelines.datasets import load_waltons

from analysis.errors import FitError, ParameterError
from analysis.recovery import CANDIDATES, FAMILIES, CensoredData, kaplan_meier, make_family, turnbull

# ---------------------------------------------------------------- published reference values
# ../shared/reference-values.md: lifelines docs/tests, reliability docs, ReliaSoft via lifelines' tests

RELIABILITY_30 = [
    58,
    75,
    36,
    52,
    63,
    65,
    22,
    17,
    28,
    64,
    23,
    40,
    73,
    45,
    52,
    36,
    52,
    60,
    13,
    55,
    82,
    55,
    34,
    57,
    23,
    42,
    66,
    35,
    34,
    25,
]
RELIABILITY_50 = [
    92, 44, 94, 56, 54, 24, 96, 3, 27, 37, 61, 23, 70, 101, 21, 47, 4, 34, 10, 88, 37, 86, 62, 70, 21,
    13, 47, 21, 57, 36, 43, 83, 42, 16, 20, 44, 43, 50, 35, 51, 35, 49, 60, 22, 34, 41, 53, 27, 44, 49,
]  # fmt: skip


@pytest.fixture(scope="module")
def waltons():
    df = load_waltons()
    return df["T"].to_numpy(), df["E"].to_numpy().astype(bool)


def test_weibull_on_waltons_reproduces_lifelines_published_values(waltons):
    t, e = waltons
    f = make_family("weibull").fit(t, e)
    assert round(f.rho_, 4) == 3.4505
    assert round(f.lambda_, 3) == 55.733
    assert round(f.log_likelihood_, 3) == -672.062
    assert round(f.AIC_, 3) == 1348.124


def test_lognormal_on_waltons_reproduces_published_values(waltons):
    f = make_family("lognormal").fit(*waltons)
    assert round(f.mu_, 4) == 3.8288
    assert round(f.sigma_, 4) == 0.5124
    assert round(f.log_likelihood_, 3) == -716.146


def test_loglogistic_on_waltons_reproduces_published_values(waltons):
    f = make_family("loglogistic").fit(*waltons)
    assert round(f.alpha_, 3) == 50.323
    assert round(f.beta_, 4) == 4.0286
    assert round(f.log_likelihood_, 3) == -701.823


def test_exponential_on_waltons_reproduces_published_values(waltons):
    f = make_family("exponential").fit(*waltons)
    assert round(f.lambda_, 3) == 51.840
    assert round(f.log_likelihood_, 3) == -771.913


def test_weibull_reliability_fit_weibull_2p_example():
    f = make_family("weibull").fit(RELIABILITY_30)
    assert round(f.lambda_, 3) == 51.858
    assert round(f.rho_, 5) == 2.80086
    assert round(f.log_likelihood_, 3) == -129.063
    assert round(f.AICc_, 3) == 262.570
    assert round(f.BIC_, 3) == 264.928


def test_weibull_reliability_fit_everything_example():
    f = make_family("weibull").fit(RELIABILITY_50)
    assert round(f.lambda_, 3) == 51.191
    assert round(f.rho_, 5) == 1.92376
    assert round(f.log_likelihood_, 3) == -228.338


def test_weibull_interval_censored_reliasoft_case():
    lower = [0.1, 30, 60, 90, 120, 150, 180, 210, 240]
    upper = [30, 60, 90, 120, 150, 180, 210, 240, math.inf]
    weights = [2, 5, 1, 9, 6, 6, 5, 2, 2645]
    f = make_family("weibull").fit_interval_censoring(lower, upper, weights=weights)
    assert round(f.lambda_, 1) == 8270.9
    assert round(f.rho_, 4) == 1.2157


def test_weibull_interval_censored_lifelines_test_case():
    lower = [0.1, 30.1, 60.1, 90.1, 120.1, 150.1, 180.1, 210.1]
    upper = [30, 60, 90, 120, 150, 180, 210, math.inf]
    weights = [15, 17, 19, 26, 19, 43, 20, 15356]
    f = make_family("weibull").fit_interval_censoring(lower, upper, weights=weights)
    assert f.lambda_ == pytest.approx(7649, rel=1e-3)
    assert f.rho_ == pytest.approx(1.2728, rel=1e-3)


@pytest.mark.parametrize(
    ("ours", "theirs", "pairs"),
    [
        ("weibull", LLWeibull, (("lambda_", "lambda_"), ("rho_", "rho_"))),
        ("lognormal", LLLogNormal, (("mu_", "mu_"), ("sigma_", "sigma_"))),
        ("loglogistic", LLLogLogistic, (("alpha_", "alpha_"), ("beta_", "beta_"))),
        ("exponential", LLExponential, (("lambda_", "lambda_"),)),
    ],
)
def test_second_opinion_lifelines_agrees_on_a_censored_sample(ours, theirs, pairs):
    rng = np.random.default_rng(7)
    t = rng.weibull(1.5, 400) * 80
    e = t < 120
    t = np.minimum(t, 120)
    mine = make_family(ours).fit(t, e)
    ref = theirs().fit(t, e)
    for a, b in pairs:
        assert getattr(mine, a) == pytest.approx(getattr(ref, b), rel=2e-4)
    assert mine.log_likelihood_ == pytest.approx(ref.log_likelihood_, rel=1e-6)


# ---------------------------------------------------------------- invariants over every family

THETAS = {
    "exponential": [60.0],
    "weibull": [60.0, 1.4],
    "lognormal": [4.0, 0.7],
    "loglogistic": [50.0, 2.5],
    "gamma": [30.0, 2.2],
    "mixture": [40.0, 1.8, 0.2, 600.0],
}


@pytest.fixture(params=CANDIDATES)
def family_theta(request):
    name = request.param
    base = name.split("+")[0]
    theta = list(THETAS[base]) + ([15.0] if name.endswith("+delay") else [])
    return make_family(name), np.asarray(theta)


def test_every_family_starts_at_one_and_decreases(family_theta):
    f, th = family_theta
    t = np.linspace(0, 3000, 3001)
    s = f.sf(t, th)
    assert s[0] == 1.0
    assert np.all(np.diff(s) <= 1e-15)
    assert s[-1] < 0.05


def test_every_family_quantile_inverts_survival(family_theta):
    f, th = family_theta
    for p in (0.1, 0.5, 0.9, 0.99):
        q = float(f.quantile(p, th))
        assert float(f.sf(np.array([q]), th)[0]) == pytest.approx(1 - p, abs=1e-7)


def test_every_family_density_is_minus_the_derivative_of_survival(family_theta):
    f, th = family_theta
    t = np.array([25.0, 70.0, 200.0])
    h = 1e-4
    numeric = (f.sf(t - h, th) - f.sf(t + h, th)) / (2 * h)
    assert np.exp(f.log_pdf(t, th)) == pytest.approx(numeric, rel=1e-5)


def test_every_family_mean_is_the_integral_of_survival(family_theta):
    f, th = family_theta
    t = np.concatenate([np.linspace(0, 50, 5001), np.geomspace(50.01, 1e6, 200001)])
    integral = np.trapezoid(f.sf(t, th), t)
    assert float(f.mean(th)) == pytest.approx(integral, rel=1e-4)


def test_every_family_vectorises_over_replicates(family_theta):
    f, th = family_theta
    reps = np.vstack([th, th * 1.1])
    t = np.array([10.0, 100.0])
    s = f.sf(t, reps)
    assert s.shape == (2, 2)
    assert s[0] == pytest.approx(f.sf(t, th))
    assert f.quantile(0.5, reps).reshape(-1)[1] == pytest.approx(float(f.quantile(0.5, reps[1])))


def test_every_family_direct_survival_equals_exp_of_log_survival(family_theta):
    # S is computed directly for the report likelihoods and as log S for the censored ones:
    # both must be the same curve, before and after the delay, for one or many parameter rows
    f, th = family_theta
    t = np.concatenate([[0.0, 1e-3, 14.999, 15.0, 15.001], np.geomspace(0.01, 3e4, 400)])
    reps = np.vstack([th, th * 0.7, th * 1.3])
    for theta, times in ((th, t), (reps, t), (reps, t[None, :]), (th, np.float64(90.0))):
        direct = f.sf(times, theta)
        via_log = np.exp(f.log_sf(times, theta))
        assert np.shape(direct) == np.shape(via_log)
        np.testing.assert_allclose(direct, via_log, rtol=1e-12, atol=1e-300)
    assert np.all(f.sf(np.array([0.0, -5.0]), th) == 1.0)


def test_direct_survival_is_zero_below_the_floor_and_exact_above():
    from analysis.recovery.families import _EXP_FLOOR, _exp

    x = np.array([-1e6, -800.0, -745.5, _EXP_FLOOR - 1e-9, _EXP_FLOOR, -300.0, -1.0, 0.0, 2.0, np.nan, -np.inf])
    out = _exp(x)
    assert np.all(out[:4] == 0.0)
    np.testing.assert_array_equal(out[4:9], np.exp(x[4:9]))
    assert np.isnan(out[9]) and out[10] == 0.0
    y = x.copy()
    assert _exp(y, inplace=True) is y  # the temporary is reused
    np.testing.assert_array_equal(y, out)
    # a Weibull far in its tail: S underflows to exactly 0 rather than a subnormal number
    assert float(make_family("weibull").sf(np.array([1e5]), np.array([10.0, 3.0]))[0]) == 0.0


def test_aic_is_two_k_minus_two_loglik_for_every_family(family_theta):
    f, th = family_theta
    rng = np.random.default_rng(3)
    t = np.asarray(f.quantile(rng.random(300), th), dtype=float).reshape(-1)
    fitted = type(f)(delay=f.delay).fit(t)
    assert pytest.approx(2 * fitted.n_params - 2 * fitted.log_likelihood_) == fitted.AIC_
    assert fitted.converged_


def test_delay_shifts_the_curve():
    f = make_family("weibull+delay")
    g = make_family("weibull")
    t = np.array([5.0, 20.0, 80.0])
    assert f.sf(t, np.array([60, 1.4, 15.0])) == pytest.approx(np.where(t < 15, 1.0, g.sf(t - 15, np.array([60, 1.4]))))


def test_summary_is_a_polars_frame_with_intervals(waltons):
    f = make_family("weibull").fit(*waltons)
    s = f.summary
    assert s.columns == ["parameter", "estimate", "se", "low", "high"]
    assert s["parameter"].to_list() == ["lambda_", "rho_"]
    assert all(lo < est < hi for lo, est, hi in s.select("low", "estimate", "high").iter_rows())


def test_unknown_family_and_unfitted_use_are_refused():
    with pytest.raises(ParameterError, match="unknown recovery family"):
        make_family("weibull+lag")
    with pytest.raises(FitError, match="not fitted"):
        _ = make_family("weibull").summary
    with pytest.raises(FitError, match="no restoration observed"):
        make_family("weibull").fit([10, 20, 30], [False, False, False])


def test_families_registry_lists_every_documented_family():
    assert set(FAMILIES) == {"exponential", "weibull", "lognormal", "loglogistic", "gamma", "mixture"}
    for cls in FAMILIES.values():
        assert "S(t)" in (cls.__doc__ or "")


# ---------------------------------------------------------------- nonparametric curves


def test_kaplan_meier_matches_lifelines(waltons):
    t, e = waltons
    km = kaplan_meier(CensoredData.build(exact=t[e], right=t[~e]), level=0.9)
    ref = KaplanMeierFitter(alpha=0.1).fit(t, e)
    expected = ref.survival_function_.iloc[1:, 0].to_numpy()
    ci = ref.confidence_interval_.iloc[1:].to_numpy()
    assert km["survival"].to_numpy() == pytest.approx(expected, abs=1e-12)
    assert km["low"].to_numpy() == pytest.approx(ci[:, 0], abs=1e-9)
    assert km["high"].to_numpy() == pytest.approx(ci[:, 1], abs=1e-9)


def test_turnbull_equals_kaplan_meier_without_interval_censoring(waltons):
    t, e = waltons
    data = CensoredData.build(exact=t[e], right=t[~e])
    tb = turnbull(data)
    points = tb.filter(tb["start"] == tb["end"])
    assert points["survival"].to_numpy() == pytest.approx(kaplan_meier(data)["survival"].to_numpy(), abs=1e-7)


def test_turnbull_small_interval_example_by_hand():
    # (0,3], (2,4], (1,6], (5,inf): innermost intervals (2,3] and (5,6];
    # self-consistency p1 = (1 + 1 + p1) / 4  =>  p1 = 2/3
    tb = turnbull(CensoredData.build(lower=[0, 2, 1, 5], upper=[3, 4, 6, math.inf]))
    assert tb["start"].to_list() == [2.0, 5.0]
    assert tb["end"].to_list() == [3.0, 6.0]
    assert tb["mass"].to_numpy() == pytest.approx([2 / 3, 1 / 3], abs=1e-6)
