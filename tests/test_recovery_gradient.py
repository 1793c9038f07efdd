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
    q = [5, 50, 95]
    np.testing.assert_allclose(np.percentile(fast.theta, q, axis=0), np.percentile(slow.theta, q, axis=0), rtol=2e-3)
