"""Honest intervals: overdispersion, QAIC, model-averaged bootstrap, delay identifiability, capping, with_model."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from analysis.errors import FitError, ParameterError
from analysis.recovery import Estimate, fit_down_reports, make_family
from analysis.recovery.dispersion import clump_index
from analysis.recovery.engine import fit_candidate
from analysis.recovery.reports import build_report_evidence
from analysis.recovery.result import weighted_quantiles
from analysis.recovery.uncertainty import allocate, model_weights
from analysis.simulate import clumped_reports, coarsen, report_times

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)  # 20:00 in Brussels
HOURS = 28
END = ONSET + dt.timedelta(hours=HOURS)
HORIZON = HOURS * 60.0


def _weibull_reports(rate: float, seed: int) -> np.ndarray:
    return report_times(
        family="weibull",
        params=[90.0, 1.3],
        rate_per_minute=rate,
        horizon_minutes=HORIZON,
        onset_epoch_s=ONSET.timestamp(),
        rng=seed,
    )


def _press_like_statements() -> tuple[np.ndarray, pl.DataFrame]:
    """A Monday-evening article naming 21 places, a Tuesday-morning one naming 25, a few single statements."""
    windows = pl.DataFrame(
        {
            "start": [0.0] * 7 + [0.0] * 21 + [600.0] * 25 + [960.0],
            "end": [30.0] * 7 + [240.0] * 21 + [960.0] * 25 + [1500.0],
        }
    )
    exact = np.array([120.0, 417.0, 640.0, 840.0, 930.0, 1269.0])
    return exact, windows


# ---------------------------------------------------------------- dispersion


def test_poisson_reports_show_no_overdispersion_and_bursts_do():
    plain = fit_down_reports(_weibull_reports(3.0, 1), onset=ONSET, end=END, families=["weibull"], n_boot=0)
    disp = plain.identifiability["dispersion"]
    assert disp["pearson_df"] >= 5
    assert disp["pearson"] < 1.6
    c = clumped_reports(
        family="weibull",
        params=[90.0, 1.3],
        rate_per_minute=3.0,
        horizon_minutes=HORIZON,
        mean_clump=5.0,
        onset_epoch_s=ONSET.timestamp(),
        rng=1,
    )
    bursts = fit_down_reports(c.exact, onset=ONSET, end=END, families=["weibull"], n_boot=0)
    assert bursts.dispersion > 3.0  # geometric clumps of mean 5: φ = 9 in cells that hold whole clumps
    assert bursts.identifiability["dispersion"]["source"] == "pearson"
    assert "overdispersion" in bursts.verdict.lower()


def test_identical_statements_are_clumps_only_when_curated():
    exact, windows = _press_like_statements()
    curated = fit_down_reports(
        exact, onset=ONSET, end=END, windows=windows, families=["exponential"], n_boot=0, sampling="curated"
    )
    spont = fit_down_reports(exact, onset=ONSET, end=END, windows=windows, families=["exponential"], n_boot=0)
    sizes = np.array([7, 21, 25, 1] + [1] * exact.size, dtype=float)
    expected = float(np.sum(sizes**2) / np.sum(sizes))
    info = curated.identifiability["dispersion"]
    assert info["source"] == "clumps"
    assert info["clump_index"] == pytest.approx(expected, rel=1e-3)
    assert info["n_groups"] == sizes.size
    assert curated.dispersion == pytest.approx(expected, rel=1e-3)
    assert spont.identifiability["dispersion"]["clump_index"] is None
    assert spont.dispersion < curated.dispersion


def test_clump_index_counts_groups_of_identical_records():
    ev, _ = build_report_evidence(
        np.array([10.0, 10.0, 10.0, 50.0]),
        horizon=HORIZON,
        onset_epoch=ONSET.timestamp(),
        win_start=np.array([0.0, 0.0, 300.0]),
        win_end=np.array([60.0, 60.0, 420.0]),
    )
    index, groups = clump_index(ev)
    k = np.array([3, 1, 2, 1], dtype=float)
    assert groups == 4
    assert index == pytest.approx(np.sum(k**2) / np.sum(k))


def test_overdispersion_ranks_models_by_qaic_and_spreads_the_weights():
    exact, windows = _press_like_statements()
    fams = ["exponential", "weibull", "weibull+delay"]
    poisson = fit_down_reports(exact, onset=ONSET, end=END, windows=windows, families=fams, n_boot=0, dispersion="poisson")
    curated = fit_down_reports(exact, onset=ONSET, end=END, windows=windows, families=fams, n_boot=0, sampling="curated")
    phi = curated.dispersion
    cand = curated.candidates
    qaic = -2 * cand["log_likelihood"] / phi + 2 * cand["n_params"]
    assert np.allclose(cand["qaic"].to_numpy(), qaic.to_numpy())
    assert cand["delta_qaic"].min() == 0.0
    w = np.exp(-0.5 * cand["delta_qaic"].to_numpy())
    assert np.allclose(cand["akaike_weight"].to_numpy(), w / w.sum())
    assert curated.model == cand["family"][0]
    # the weight of the best model shrinks once the variance is admitted
    assert cand["akaike_weight"].max() < poisson.candidates["akaike_weight"].max()


# ---------------------------------------------------------------- windows in the bootstrap


def test_windowed_reports_are_resimulated_without_bias():
    # wide windows around early reports: clipping a window's start at the onset and then
    # adding its width made the bootstrap's windows later than the data's, so every refit
    # moved t50 later and the interval missed the estimate
    rng = np.random.default_rng(3)
    t = _weibull_reports(20.0, 3)
    exact, a, b = coarsen(t, fraction=0.5, widths=[120.0, 240.0], horizon_minutes=HORIZON, rng=rng)
    windows = pl.DataFrame({"start": a, "end": b})
    fit = fit_down_reports(exact, onset=ONSET, end=END, windows=windows, families=["weibull"], n_boot=200, seed=1)
    t50 = fit.t50
    assert t50.low < t50.value < t50.high
    reps = fit.family.quantile(0.5, fit.theta_boot[:, :2])
    assert abs(float(np.median(reps)) - t50.value) < 0.25 * (t50.high - t50.low)


def test_identical_windows_are_one_row_and_ends_snap_to_bins():
    start = np.r_[np.full(3000, 600.0), np.full(2000, 361.0)]
    end = np.r_[np.full(3000, 960.0), np.full(2000, 419.0)]
    ev, notes = build_report_evidence(
        np.array([5.0, 20.0]), horizon=HORIZON, onset_epoch=ONSET.timestamp(), win_start=start, win_end=end
    )
    assert ev.win_w.size == 2
    assert sorted(ev.win_w.tolist()) == [2000.0, 3000.0]
    assert set(np.round(ev.win_a, 6)) == {360.0, 600.0}  # 361 rounds to the 5-minute edge
    assert any("rounded" in n for n in notes)
    assert ev.n_obs == 5002


# ---------------------------------------------------------------- model averaging


def test_model_averaged_draws_follow_the_weights():
    m = _weibull_reports(1.5, 5)
    fams = ["exponential", "weibull", "lognormal"]
    fit = fit_down_reports(m, onset=ONSET, end=END, families=fams, n_boot=100, seed=2)
    w = dict(zip(fit.candidates["family"], fit.candidates["akaike_weight"], strict=True))
    assert sum(d.weight for d in fit.draws) == pytest.approx(1.0)
    for d in fit.draws:
        assert d.weight == pytest.approx(w[d.name] / sum(w[x.name] for x in fit.draws))
    assert sum(d.theta.shape[0] for d in fit.draws) <= 100
    if len(fit.draws) > 1:
        assert fit.interval_method.startswith("model-averaged")
    own = next(d for d in fit.draws if d.name == fit.model)
    assert own.theta.shape[0] == fit.theta_boot.shape[0]


def test_allocate_shares_replicates_by_weight_and_drops_negligible_models():
    n = allocate(np.array([0.6, 0.3, 0.095, 0.005]), 200)
    assert n.sum() == 200
    assert n[3] == 0
    assert n[0] > n[1] > n[2] > 0


def test_model_weights_are_qaic_weights():
    exact, windows = _press_like_statements()
    ev, _ = build_report_evidence(
        exact,
        horizon=HORIZON,
        onset_epoch=ONSET.timestamp(),
        win_start=windows["start"].to_numpy(),
        win_end=windows["end"].to_numpy(),
    )
    cands = [fit_candidate(ev, n, level=0.9) for n in ("exponential", "weibull")]
    for phi in (1.0, 4.0):
        q = np.array([-2 * c.loglik / phi + 2 * c.n_params for c in cands])
        w = np.exp(-0.5 * (q - q.min()))
        assert np.allclose(model_weights(cands, phi), w / w.sum())


def test_weighted_quantiles_match_the_sample_quantile_and_follow_the_weights():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(4001, 1))
    q = weighted_quantiles(v, np.ones(4001), [0.05, 0.5, 0.95])[:, 0]
    assert np.allclose(q, np.quantile(v[:, 0], [0.05, 0.5, 0.95]), atol=0.01)
    two = np.array([[0.0], [10.0]])
    low_heavy = weighted_quantiles(two, np.array([0.9, 0.1]), [0.5])[0, 0]
    assert low_heavy < 5.0


# ---------------------------------------------------------------- with_model


def test_with_model_reports_another_candidate_with_its_own_intervals():
    m = _weibull_reports(1.5, 7)
    fit = fit_down_reports(m, onset=ONSET, end=END, families=["exponential", "weibull"], n_boot=60, seed=3)
    other = "exponential" if fit.model != "exponential" else "weibull"
    alt = fit.with_model(other)
    assert alt.model == other
    row = fit.candidates.filter(pl.col("family") == other).row(0, named=True)

    def q50(fam, th):
        return fam.quantile(0.5, th)

    assert alt.point(q50) == pytest.approx(row["t50_minutes"])  # the candidate's own maximum-likelihood t50
    assert alt.log_likelihood == pytest.approx(row["log_likelihood"])
    assert "conditional on this model" in alt.interval_method
    assert [d.name for d in alt.draws] == [other]
    assert alt.t50.low < alt.t50.value < alt.t50.high
    assert alt.candidates.equals(fit.candidates)
    assert alt.with_model(fit.model).point(q50) == pytest.approx(fit.point(q50))
    with pytest.raises(ParameterError, match="not among the fitted candidates"):
        fit.with_model("gamma")


def test_with_model_refuses_a_candidate_that_did_not_converge():
    m = _weibull_reports(1.5, 7)
    fit = fit_down_reports(m, onset=ONSET, end=END, families=["exponential", "weibull"], n_boot=0)
    broken = fit.candidates.with_columns(
        pl.when(pl.col("family") == "weibull").then(False).otherwise(pl.col("converged")).alias("converged")
    )
    from dataclasses import replace

    with pytest.raises(FitError, match="did not converge"):
        replace(fit, candidates=broken).with_model("weibull")


# ---------------------------------------------------------------- extrapolation and verdict


def test_bounds_beyond_the_end_of_observation_are_flagged():
    # a slow recovery: most customers still out when observation ends
    m = report_times(
        family="exponential",
        params=[3000.0],
        rate_per_minute=0.3,
        horizon_minutes=HORIZON,
        onset_epoch_s=ONSET.timestamp(),
        rng=11,
    )
    fit = fit_down_reports(m, onset=ONSET, end=END, families=["exponential"], n_boot=60, seed=1)
    t99 = fit.t99
    assert t99.value > HORIZON  # the estimate itself is an extrapolation ...
    assert t99.high > HORIZON and t99.high_beyond  # ... and its upper end is flagged, not cut
    assert t99.low <= t99.value <= t99.high
    metrics = fit.to_metrics()
    assert metrics["t99_extrapolated"] and metrics["t99_upper_extrapolated"]
    assert metrics["mean_outage_minutes_extrapolated"]
    for key in ("t50", "t90", "t99", "mean_outage"):
        lo, hi = metrics[f"{key}_minutes_ci"]
        assert lo <= metrics[f"{key}_minutes"] and (hi is None or metrics[f"{key}_minutes"] <= hi), key
    assert fit.customer_hours_lost(100).high_beyond


def test_estimate_flags_ends_beyond_the_observation_and_reads_them_as_open():
    e = Estimate(50.0, 40.0, 3e14).capped(100.0)
    assert (e.low, e.high, e.high_beyond, e.low_beyond) == (40.0, 3e14, True, False)
    assert e.covers(5000.0) and not e.covers(30.0)
    assert not Estimate(50.0, 40.0, 60.0).covers(70.0)
    assert Estimate(1.0, 0.5, 2.0).capped(math.inf) == Estimate(1.0, 0.5, 2.0)
    assert e.scaled(2.0).high_beyond


def test_press_like_statements_get_a_verdict_on_overdispersion_models_and_the_delay():
    exact, windows = _press_like_statements()
    fit = fit_down_reports(
        exact,
        onset=ONSET,
        end=END,
        windows=windows,
        families=["exponential", "weibull", "weibull+delay"],
        n_boot=60,
        seed=0,
        sampling="curated",
    )
    v = fit.verdict
    assert "come in groups" in v and "(overdispersion " in v  # the plain finding first, the term after it
    assert "do not single out one model" in v
    delay = fit.identifiability["delay"]
    assert delay is not None and delay["model"] == "weibull+delay"
    assert not delay["identified"]
    assert delay["delay_minutes_ci"][0] == 0.0  # no delay fits about as well
    assert "cannot separate a delay" in v
    # with overdispersion and model uncertainty the t50 interval spans hours, not minutes
    assert fit.t50.high - fit.t50.low > 120.0
    m = fit.to_metrics()
    assert m["verdict"] == v and m["dispersion"] == pytest.approx(fit.dispersion)


def test_a_supported_delay_is_reported_as_identified():
    m = report_times(
        family="weibull",
        params=[60.0, 1.5],
        delay=120.0,
        rate_per_minute=10.0,
        horizon_minutes=HORIZON,
        onset_epoch_s=ONSET.timestamp(),
        rng=2,
    )
    fit = fit_down_reports(m, onset=ONSET, end=END, families=["weibull", "weibull+delay"], n_boot=40)
    assert fit.model == "weibull+delay"
    delay = fit.identifiability["delay"]
    assert delay["identified"]
    lo, hi = delay["delay_minutes_ci"]
    assert lo <= 120.0 <= hi + 5.0
    assert "Restoration started after a delay" in fit.verdict


def test_new_options_are_validated():
    m = np.arange(5.0, 100.0, 5.0)
    for opt, bad in (("sampling", "random"), ("dispersion", "quasi"), ("model_uncertainty", "bayes")):
        with pytest.raises(ParameterError, match=opt):
            fit_down_reports(m, onset=ONSET, end=END, families=["exponential"], n_boot=0, **{opt: bad})


def test_family_quantile_helper_is_used_consistently():
    # the reported t50 is the chosen family's at the maximum-likelihood estimate
    m = _weibull_reports(2.0, 9)
    fit = fit_down_reports(m, onset=ONSET, end=END, families=["weibull"], n_boot=0)
    assert fit.t50.value == pytest.approx(float(make_family("weibull").quantile(0.5, fit.theta[:2])))
