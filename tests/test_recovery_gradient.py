"""Closed-form gradients of the report likelihood: they equal the likelihood's own finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.recovery import make_family
from analysis.recovery.engine import Candidate, bootstrap
from analysis.recovery.evidence import ReportEvidence

EDGES = np.arange(0.0, 2405.0, 5.0)
NB = EDGES.size - 1
PROFILE = 1.0 + 0.5 * np.sin(np.arange(NB) / 50.0)
# windowed reports: two hour cells at the start and one long window in the tail
WIN = (np.array([100.0, 300.0, 1000.0]), np.array([160.0, 360.0, 1100.0]), np.array([3.0, 4.0, 2.0]))


def _family(name: str):
    fam = make_family(name)
    if fam.delay:
        fam.delay_upper = 2000.0
    return fam


def _evidence(seed: int = 1, **kw) -> ReportEvidence:
    """Poisson counts on 5-minute bins from a mixture with a delay, plus three windows."""
    empty = ReportEvidence(EDGES, PROFILE, np.zeros(NB), *WIN, np.full(3, 60.0))
    mu = 50.0 * empty.shape(_family("mixture+delay"), np.array([80.0, 2.0, 0.1, 900.0, 62.3]))
    counts = np.random.default_rng(seed).poisson(mu).astype(float)
    return ReportEvidence(EDGES, PROFILE, counts, *WIN, np.full(3, 60.0), **kw)


def _numeric(batch, fam, th: np.ndarray) -> np.ndarray:
    out = np.empty_like(th)
    for i in range(th.shape[1]):
        h = 1e-5 * np.maximum(1.0, np.abs(th[:, i]))
        e = np.zeros_like(th)
        e[:, i] = h
        out[:, i] = (batch.loglik(fam, th + e) - batch.loglik(fam, th - e)) / (2 * h)
    return out


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        # delays inside a bin (62.3, 11.1): the bin it splits is integrated in two pieces
        ("mixture+delay", [[80.0, 2.0, 0.1, 900.0, 62.3], [70.0, 1.5, 0.2, 500.0, 11.1], [95.0, 2.5, 0.05, 1200.0, 3.7]]),
        ("mixture", [[80.0, 2.0, 0.1, 900.0], [60.0, 0.8, 0.3, 400.0]]),
        ("weibull+delay", [[80.0, 2.0, 62.3], [120.0, 0.7, 31.9]]),
        ("weibull", [[80.0, 2.0]]),
        ("exponential+delay", [[120.0, 17.2]]),
        ("exponential", [[120.0]]),
    ],
)
def test_gradient_equals_central_differences(name: str, rows: list[list[float]]) -> None:
    fam = _family(name)
    th = np.asarray(rows)
    ev = _evidence()
    batch = ev.simulate_batch(fam, th[0], np.random.default_rng(3), th.shape[0])
    got = batch.loglik_grad(fam, th)
    assert got is not None
    ll, grad = got
    np.testing.assert_allclose(ll, batch.loglik(fam, th), rtol=1e-12)
    num = _numeric(batch, fam, th)
    # central differences of ℓ ~ 10⁴ carry ~1e-6 of rounding noise relative to the gradient's scale
    np.testing.assert_allclose(grad, num, rtol=1e-4, atol=1e-4 * np.abs(num).max())


def test_no_closed_form_falls_back_to_differences() -> None:
    ev = _evidence()
    fam = _family("lognormal")
    batch = ev.simulate_batch(fam, np.array([4.0, 1.0]), np.random.default_rng(0), 2)
    assert batch.loglik_grad(fam, np.array([[4.0, 1.0], [4.1, 0.9]])) is None
    surged = _evidence(surge=True)
    mix = _family("mixture")
    theta = np.array([80.0, 2.0, 0.1, 900.0, 1.0, 30.0])
    assert surged.simulate_batch(mix, theta, np.random.default_rng(0), 2).loglik_grad(mix, np.tile(theta, (2, 1))) is None


def test_bootstrap_with_the_gradient_matches_finite_differences(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same replicates refitted both ways land on the same optima (to the refit tolerance)."""
    from analysis.recovery import evidence

    ev = _evidence(seed=5)
    fam = _family("mixture+delay")
    theta = np.array([80.0, 2.0, 0.1, 900.0, 62.3])
    cand = Candidate("mixture+delay", fam, theta, float(ev.loglik(fam, theta)), 5, True)
    fast = bootstrap(ev, cand, n_boot=40, seed=11)
    monkeypatch.setattr(evidence.ReportBatch, "loglik_grad", lambda self, *a, **k: None)
    slow = bootstrap(ev, cand, n_boot=40, seed=11)
    assert fast.theta.shape == slow.theta.shape and fast.n_failed == slow.n_failed
    # each replicate's optimum agrees far inside the spread of the replicates
    spread = slow.theta.std(axis=0)
    assert np.all(np.abs(fast.theta - slow.theta).max(axis=0) < 0.05 * spread)
    # percentiles to 5e-3: a delay warm-started one bin earlier (the second start) settles to the
    # refit tolerance on a flat stretch between bin edges (0.3 % apart at its 5th percentile here)
    q = [5, 50, 95]
    np.testing.assert_allclose(np.percentile(fast.theta, q, axis=0), np.percentile(slow.theta, q, axis=0), rtol=5e-3)


def test_the_optimiser_takes_its_finite_differences_in_one_batch() -> None:
    """With ``loglik_many`` the point fit reaches the optimum it reaches alone, with far fewer single evaluations.

    The optimiser's gradients are finite differences; given the batch form of the likelihood
    it evaluates their k + 1 (forward) or 2k (central) points in one call, with the same
    steps, so the optimum is the same to the optimiser's tolerance.
    """
    from analysis.recovery._optim import JointSpace, maximize
    from analysis.recovery.engine import batch_loglik

    ev = _evidence(seed=7)
    fam = _family("mixture+delay")
    space = JointSpace(fam)
    start = [np.array([90.0, 1.5, 0.15, 1000.0, 40.0])]
    calls = {"single": 0, "batch": 0}

    def single(th: np.ndarray) -> float:
        calls["single"] += 1
        return ev.loglik(fam, th)

    alone = maximize(single, space, start)
    n_alone = calls["single"]
    many = batch_loglik(ev, fam, 10)
    assert many is not None

    def batched(th: np.ndarray) -> np.ndarray:
        calls["batch"] += 1
        return many(th)

    calls["single"] = 0
    both = maximize(single, space, start, loglik_many=batched)
    assert alone.converged and both.converged
    assert both.loglik == pytest.approx(alone.loglik, abs=1e-6)
    np.testing.assert_allclose(both.theta, alone.theta, rtol=1e-4)
    # the gradients' points went to the batch: single evaluations are only the line searches'
    assert calls["batch"] > 0
    assert calls["single"] < n_alone / 3


def test_a_batch_of_rows_is_each_rows_own_likelihood() -> None:
    """``batch_loglik`` returns, row by row, what ``loglik`` returns (what the optimiser relies on)."""
    from analysis.recovery.engine import batch_loglik

    ev = _evidence(seed=2)
    for name, rows in [
        ("mixture+delay", [[80.0, 2.0, 0.1, 900.0, 62.3], [70.0, 1.5, 0.2, 500.0, 11.1]]),
        ("weibull", [[80.0, 2.0]]),
    ]:
        fam = _family(name)
        th = np.asarray(rows)
        many = batch_loglik(ev, fam, 4)
        assert many is not None
        np.testing.assert_allclose(many(th), [ev.loglik(fam, r) for r in th], rtol=1e-13)


def test_a_step_taken_costs_one_pass_over_s(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the closed-form gradient, the point tried along each search direction comes with its gradient.

    A replicate's plain likelihood is then evaluated only when a step is cut back (the line
    search's second try and later; its start comes with its gradient too), not at every point its gradient is
    taken at too (before, plain evaluations outnumbered gradients), and the refits reach the
    optima they reached before (same replicates, same starts).
    """
    from analysis.recovery import evidence

    ev = _evidence(seed=5)
    fam = _family("mixture+delay")
    theta = np.array([80.0, 2.0, 0.1, 900.0, 62.3])
    cand = Candidate("mixture+delay", fam, theta, float(ev.loglik(fam, theta)), 5, True)
    rows = {"plain": 0, "grad": 0}  # parameter rows evaluated
    plain, with_grad = evidence.ReportBatch.loglik, evidence.ReportBatch.loglik_grad

    def counted_plain(self, family, theta, which=None):
        rows["plain"] += np.atleast_2d(theta).shape[0]
        return plain(self, family, theta, which)

    def counted_grad(self, family, theta, which=None):
        rows["grad"] += np.atleast_2d(theta).shape[0]
        return with_grad(self, family, theta, which)

    monkeypatch.setattr(evidence.ReportBatch, "loglik", counted_plain)
    monkeypatch.setattr(evidence.ReportBatch, "loglik_grad", counted_grad)
    fast = bootstrap(ev, cand, n_boot=40, seed=11)
    assert rows["grad"] > 1000
    assert rows["plain"] < 0.6 * rows["grad"]
    monkeypatch.setattr(evidence.ReportBatch, "loglik_grad", lambda self, *a, **k: None)
    slow = bootstrap(ev, cand, n_boot=40, seed=11)
    spread = slow.theta.std(axis=0)
    assert fast.n_failed == slow.n_failed
    assert np.all(np.abs(fast.theta - slow.theta).max(axis=0) < 0.05 * spread)


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        # noticing shares inside (0.05, 0.3) and one whose median reaches the 30-minute cap (1.0)
        ("mixture+delay", [[80.0, 2.0, 0.1, 900.0, 62.3, 0.05], [70.0, 1.5, 0.2, 500.0, 11.1, 0.3]]),
        ("weibull+delay", [[80.0, 2.0, 62.3, 0.1], [120.0, 0.7, 31.9, 1.0]]),
        ("weibull", [[80.0, 2.0, 0.2]]),
        ("exponential", [[120.0, 0.02]]),
    ],
)
def test_gradient_with_a_noticing_ramp_equals_central_differences(name: str, rows: list[list[float]]) -> None:
    """The noticing factor's derivative (through its median, which moves with S) is the likelihood's own."""
    fam = _family(name)
    th = np.asarray(rows)
    ev = _evidence(noticing=True)
    batch = ev.simulate_batch(fam, th[0], np.random.default_rng(3), th.shape[0])
    got = batch.loglik_grad(fam, th)
    assert got is not None
    ll, grad = got
    np.testing.assert_allclose(ll, batch.loglik(fam, th), rtol=1e-12)
    assert np.abs(grad[:, -1]).max() > 1.0  # the ramp matters to these data
    num = _numeric(batch, fam, th)
    np.testing.assert_allclose(grad, num, rtol=1e-4, atol=1e-4 * np.abs(num).max())


def test_bootstrap_with_a_ramp_and_the_gradient_matches_finite_differences(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a noticing ramp too, the refits with the closed-form gradient land where the finite-difference ones do."""
    from analysis.recovery import evidence

    ev = _evidence(seed=5, noticing=True)
    fam = _family("mixture+delay")
    theta = np.array([80.0, 2.0, 0.1, 900.0, 62.3, 0.05])
    cand = Candidate("mixture+delay", fam, theta, float(ev.loglik(fam, theta)), 6, True)
    fast = bootstrap(ev, cand, n_boot=40, seed=11)
    monkeypatch.setattr(evidence.ReportBatch, "loglik_grad", lambda self, *a, **k: None)
    slow = bootstrap(ev, cand, n_boot=40, seed=11)
    assert fast.theta.shape == slow.theta.shape and fast.n_failed == slow.n_failed
    q = [5, 50, 95]
    spread = slow.theta.std(axis=0)
    assert np.all(np.abs(np.percentile(fast.theta, q, axis=0) - np.percentile(slow.theta, q, axis=0)) < 0.05 * spread)


def test_ramp_candidates_start_from_the_fits_without_a_ramp() -> None:
    """Each family's fit with a noticing ramp is at least as likely as its fit without one, at the smallest share.

    The ramp model at its smallest noticing share is (nearly) the model without a ramp, so that
    optimum is a start of the fit with the ramp; from the default starts alone a delay family
    could stop far below it (gamma+delay here: 20,439 against 22,063).
    """
    from analysis.recovery.engine import fit_candidates
    from analysis.recovery.evidence import NOTICE_BOUNDS
    from analysis.recovery.families import resolve_candidates

    names = resolve_candidates("all")
    plain = fit_candidates(_evidence(seed=4), names, level=0.9)
    ramp_ev = _evidence(seed=4, noticing=True)
    warm = {c.name: np.append(c.theta, NOTICE_BOUNDS[0]) for c in plain if c.converged}
    ramp = fit_candidates(ramp_ev, names, level=0.9, warm=warm)
    for c in ramp:
        assert c.converged, c.name
        assert c.loglik >= ramp_ev.loglik(c.family, warm[c.name]) - 1e-6, c.name
