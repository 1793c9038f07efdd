"""The bootstrap's second start: next to the estimate, warm, giving the intervals of the default start at less cost."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.recovery import engine, make_family
from analysis.recovery.engine import Candidate, bootstrap, fit_candidate
from analysis.recovery.evidence import ReportEvidence

EDGES = np.arange(0.0, 2405.0, 5.0)
NB = EDGES.size - 1
PROFILE = 1.0 + 0.5 * np.sin(np.arange(NB) / 50.0)
TRUE = np.array([80.0, 2.0, 0.1, 900.0, 62.3])
NO_WINDOWS = (np.empty(0), np.empty(0), np.empty(0), np.empty(0))


def _evidence(seed: int, scale: float = 3000.0, **kw) -> ReportEvidence:
    """Poisson counts (about ``scale`` reports) on 5-minute bins from a mixture with a delay."""
    fam = make_family("mixture+delay")
    fam.delay_upper = 2000.0
    empty = ReportEvidence(EDGES, PROFILE, np.zeros(NB), *NO_WINDOWS)
    mu = scale * empty.shape(fam, TRUE) / empty.shape(fam, TRUE).sum()
    return ReportEvidence(EDGES, PROFILE, np.random.default_rng(seed).poisson(mu).astype(float), *NO_WINDOWS, **kw)


def _fitted(ev: ReportEvidence) -> Candidate:
    cand = fit_candidate(ev, "mixture+delay", level=0.9)
    assert cand.converged
    return cand


def test_the_second_start_is_the_estimate_with_its_delay_one_bin_earlier_refitted_warm() -> None:
    fam = make_family("mixture+delay")
    fam.delay_upper = 2000.0
    start, warm = engine._second_start(fam, _evidence(1), TRUE)
    assert warm
    np.testing.assert_array_equal(start[:4], TRUE[:4])
    assert start[4] == pytest.approx(57.3)  # 62.3 lies in the bin [60, 65): one width earlier
    # another family with a delay keeps the default start, cold
    wd = make_family("weibull+delay")
    wd.delay_upper = 2000.0
    start, warm = engine._second_start(wd, _evidence(1), np.array([80.0, 2.0, 62.3]))
    assert not warm
    np.testing.assert_array_equal(start, engine._starts(wd, _evidence(1), {})[0])
    # nuisance parameters of their own (a noticing ramp, a surge factor) keep the default start, cold
    for ev, extra in ((_evidence(1, noticing=True), [0.05]), (_evidence(1, surge=True), [1.0, 30.0])):
        start, warm = engine._second_start(fam, ev, np.concatenate([TRUE, extra]))
        assert not warm
        np.testing.assert_array_equal(start, engine._starts(fam, ev, {})[0])


def test_the_default_start_is_tried_on_every_replicate_when_it_wins_on_the_pilot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Few reports (a loosely pinned delay): the default start finds better optima, so every replicate gets it, as before."""
    ev = _evidence(4, scale=250.0)
    cand = _fitted(ev)
    k = cand.family.n_params
    batch = ev.simulate_batch(cand.family, cand.theta, np.random.default_rng(2), 60)
    new = bootstrap(ev, cand, n_boot=60, seed=2)
    gain = engine.PILOT_GAIN
    monkeypatch.setattr(engine, "PILOT_GAIN", np.inf)  # the pilot never calls for the default start
    warm_only = bootstrap(ev, cand, n_boot=60, seed=2)
    monkeypatch.setattr(engine, "_second_start", lambda fam, e, th: (engine._starts(fam, e, {})[0], False))
    old = bootstrap(ev, cand, n_boot=60, seed=2)
    ll_old = batch.loglik(cand.family, old.theta[:, :k])
    # these data need the default start: without it some replicates stop at worse optima ...
    assert (ll_old - batch.loglik(cand.family, warm_only.theta[:, :k])).max() > gain
    # ... and with the pilot none does
    assert (ll_old - batch.loglik(cand.family, new.theta[:, :k])).max() < 1e-6


def test_the_warm_second_start_finds_the_optima_of_the_default_start_with_fewer_evaluations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replicates refitted from the estimate and the second start against the former scheme (the default start, cold).

    Every replicate's optimum is as likely as the former one (to 0.01 log-likelihood units),
    the percentile ends of t50 and t90 agree within their Monte-Carlo error (a replicate on a
    flat ridge may settle elsewhere on it), and the refits evaluate the likelihood of far fewer
    replicate rows.
    """
    from analysis.recovery.report_batch import ReportBatch

    ev = _evidence(3)
    cand = _fitted(ev)
    rows = {"n": 0}
    plain = ReportBatch.loglik
    plain_grad = ReportBatch.loglik_grad

    def counted(self, family, theta, rows_=None):
        rows["n"] += np.atleast_2d(theta).shape[0]
        return plain(self, family, theta, rows_)

    def counted_grad(self, family, theta, rows_=None):
        rows["n"] += np.atleast_2d(theta).shape[0]
        return plain_grad(self, family, theta, rows_)

    monkeypatch.setattr(ReportBatch, "loglik", counted)
    monkeypatch.setattr(ReportBatch, "loglik_grad", counted_grad)
    new = bootstrap(ev, cand, n_boot=100, seed=5)
    n_new = rows["n"]
    rows["n"] = 0
    monkeypatch.setattr(engine, "_second_start", lambda fam, e, th: (engine._starts(fam, e, {})[0], False))
    old = bootstrap(ev, cand, n_boot=100, seed=5)
    n_old = rows["n"]
    assert new.n_failed == old.n_failed == 0
    assert n_new < 0.6 * n_old, (n_new, n_old)
    k = cand.family.n_params
    # the same replicates (same seed): each refit's log-likelihood on its own data set
    batch = ev.simulate_batch(cand.family, cand.theta, np.random.default_rng(5), 100)
    gap = plain(batch, cand.family, old.theta[:, :k]) - plain(batch, cand.family, new.theta[:, :k])
    assert gap.max() < 0.01, gap.max()
    for p in (0.5, 0.9):
        a = np.array([cand.family.quantile(p, t[:k]) for t in new.theta])
        b = np.array([cand.family.quantile(p, t[:k]) for t in old.theta])
        ends_new, ends_old = np.percentile(a, [5, 95]), np.percentile(b, [5, 95])
        # Monte-Carlo error of a 100-replicate percentile end: the spread of the ends over resampled replicates
        rng = np.random.default_rng(0)
        se = np.std([np.percentile(b[rng.integers(0, b.size, b.size)], [5, 95]) for _ in range(300)], axis=0)
        assert np.all(np.abs(ends_new - ends_old) <= se), (p, ends_new, ends_old, se)
