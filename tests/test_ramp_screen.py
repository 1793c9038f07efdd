"""Fewer fits where they cannot matter: the ramp half's candidates and the regions' replicates."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from analysis.recovery import fit_down_reports, make_family
from analysis.recovery import reports as reports_mod
from analysis.recovery.engine import Candidate, fit_candidates, start_sources
from analysis.recovery.families import candidates as all_candidate_names
from analysis.recovery.hypotheses import RAMP_SCREEN_DELTA, ramp_candidates
from analysis.recovery.reports import build_report_evidence
from analysis.simulate import report_times
from analysis.spatial_recovery import region_replicates

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
END = ONSET + dt.timedelta(hours=28)


def _cand(name: str, delta_aic: float, converged: bool = True) -> Candidate:
    """A fitted candidate whose AIC is ``delta_aic`` above 0 (parameters as the family has them)."""
    fam = make_family(name)
    k = fam.n_params
    return Candidate(name, fam, np.ones(k), -(delta_aic - 2 * k) / 2.0 if converged else -math.inf, k, converged)


def test_start_sources_follow_the_warm_starts():
    assert start_sources("weibull") == ()
    assert start_sources("lognormal+delay") == ("lognormal",)
    assert start_sources("mixture") == ("weibull",)
    assert set(start_sources("mixture+delay")) == {"mixture", "weibull+delay"}


def test_ramp_half_fits_the_candidates_near_the_best_and_their_start_sources():
    names = list(all_candidate_names())
    delta = dict.fromkeys(names, 500.0)
    delta |= {"mixture+delay": 0.0, "loglogistic+delay": RAMP_SCREEN_DELTA - 1, "lognormal+delay": RAMP_SCREEN_DELTA + 1}
    cands = [_cand(n, delta[n]) for n in names]
    kept = ramp_candidates(cands, 1.0)
    # near the best, and what they start from (each kept family then has the starts it has among all)
    assert set(kept) == {"mixture+delay", "mixture", "weibull+delay", "weibull", "loglogistic+delay", "loglogistic"}
    assert kept == [n for n in names if n in kept]  # the candidates' order is kept
    # the criterion is the one the weights use: QAIC when the reports are overdispersed
    assert "lognormal+delay" in ramp_candidates(cands, 2.0) and "gamma+delay" not in ramp_candidates(cands, 2.0)


def test_a_plain_family_without_its_delay_form_is_always_fitted_with_the_ramp():
    # the ramp can stand in for a delay the family lacks: its gain is not bounded by the others'
    cands = [_cand("exponential", 900.0), _cand("weibull", 300.0), _cand("weibull+delay", 0.0)]
    assert ramp_candidates(cands, 1.0) == ["exponential", "weibull", "weibull+delay"]
    cands = [_cand("exponential", 900.0), _cand("exponential+delay", 900.0), _cand("weibull+delay", 0.0), _cand("weibull", 300.0)]
    assert ramp_candidates(cands, 1.0) == ["weibull+delay", "weibull"]
    failed = [_cand("weibull", 0.0, converged=False), _cand("lognormal", 0.0, converged=False)]
    assert ramp_candidates(failed, 1.0) == ["weibull", "lognormal"]


def _minutes(seed: int = 3) -> np.ndarray:
    return report_times(
        family="weibull", params=[120.0, 2.0], rate_per_minute=30.0, horizon_minutes=28 * 60.0,
        onset_epoch_s=ONSET.timestamp(), rng=seed,
    )  # fmt: skip


def test_skipped_candidates_leave_the_others_exactly_as_fitted_among_all():
    ev, _ = build_report_evidence(_minutes(), horizon=28 * 60.0, onset_epoch=ONSET.timestamp(), noticing=True)
    names = ["exponential", "weibull", "lognormal", "weibull+delay", "lognormal+delay", "mixture", "mixture+delay"]
    every = {c.name: c for c in fit_candidates(ev, names, level=0.9)}
    skip = {"exponential", "lognormal", "lognormal+delay"}
    some = fit_candidates(ev, names, level=0.9, skip=skip)
    assert [c.name for c in some] == names  # each keeps its place
    for c in some:
        if c.name in skip:
            assert not c.converged and c.loglik == -math.inf
        else:
            assert c.converged and c.loglik == every[c.name].loglik
            np.testing.assert_array_equal(c.theta, every[c.name].theta)


def test_the_pooled_fit_is_the_same_with_the_ramp_half_screened(monkeypatch: pytest.MonkeyPatch):
    m = _minutes(5)
    kw = {"onset": ONSET, "end": END, "families": ["exponential", "exponential+delay", "weibull", "weibull+delay"]}
    kw |= {"n_boot": 24, "seed": 4, "noticing": "pooled"}
    seen: list[list[str]] = []

    def spy(cands, phi):
        seen.append(ramp_candidates(cands, phi))
        return seen[-1]

    monkeypatch.setattr(reports_mod, "ramp_candidates", spy)
    screened = fit_down_reports(m, **kw)
    assert seen and set(seen[0]) < set(kw["families"])  # the exponential families are left out
    monkeypatch.setattr(reports_mod, "ramp_candidates", lambda cands, phi: [c.name for c in cands])
    every = fit_down_reports(m, **kw)
    assert screened.identifiability["reporting_hypotheses"] == every.identifiability["reporting_hypotheses"]
    assert len(screened.draws) == len(every.draws)
    for a, b in zip(screened.draws, every.draws, strict=True):
        assert a.name == b.name and a.weight == pytest.approx(b.weight, rel=1e-12, abs=1e-15)
        np.testing.assert_array_equal(a.theta, b.theta)
    assert screened.t50.low == every.t50.low and screened.t90.high == every.t90.high


def test_each_region_has_half_the_national_replicates_and_at_least_20():
    assert [region_replicates(n) for n in (200, 100, 50, 41, 30, 20)] == [100, 50, 25, 20, 20, 20]
    assert region_replicates(10) == 10  # never more than the national fit's
