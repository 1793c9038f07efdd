"""Rows that share their parameters (a bootstrap's replicates at one start) compute S once, with the same values."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.recovery import make_family
from analysis.recovery.engine import Candidate, bootstrap
from analysis.recovery.evidence import ReportEvidence
from analysis.recovery.family_base import RecoveryFamily
from analysis.recovery.report_batch import shared_sf_vjp

NODES = np.linspace(0.0, 2400.0, 961)
CASES = {
    "mixture+delay": [80.0, 2.0, 0.1, 900.0, 62.3],
    "mixture": [80.0, 2.0, 0.1, 900.0],
    "weibull+delay": [80.0, 1.5, 30.0],
    "exponential": [90.0],
}


def _family(name: str) -> RecoveryFamily:
    fam = make_family(name)
    if fam.delay:
        fam.delay_upper = 2000.0
    return fam


@pytest.mark.parametrize("name", sorted(CASES))
def test_shared_rows_give_each_rows_own_values_bit_for_bit(name: str) -> None:
    fam = _family(name)
    th0 = np.asarray(CASES[name])
    th = np.vstack([np.tile(th0, (5, 1)), np.tile(1.1 * th0, (7, 1)), np.tile(th0, (3, 1))])
    v = np.random.default_rng(3).normal(size=(th.shape[0], NODES.size))
    s1, vjp1 = fam.sf_vjp(NODES, th)
    s2, vjp2 = shared_sf_vjp(fam, NODES, th)
    assert np.array_equal(s1, s2)
    assert np.array_equal(vjp1(v), vjp2(v))


def test_a_bootstraps_first_evaluation_computes_s_once_per_start(monkeypatch: pytest.MonkeyPatch) -> None:
    edges = np.arange(0.0, 2405.0, 5.0)
    profile = np.ones(edges.size - 1)
    fam = _family("mixture+delay")
    theta = np.asarray(CASES["mixture+delay"])
    no_windows = (np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    empty = ReportEvidence(edges, profile, np.zeros(edges.size - 1), *no_windows)
    counts = np.random.default_rng(5).poisson(40.0 * empty.shape(fam, theta)).astype(float)
    ev = ReportEvidence(edges, profile, counts, *no_windows)
    cand = Candidate("mixture+delay", fam, theta, float(ev.loglik(fam, theta)), 5, True)
    rows: list[int] = []
    original = RecoveryFamily.sf_vjp

    def counted(self: RecoveryFamily, t: np.ndarray, th: np.ndarray):  # type: ignore[no-untyped-def]
        rows.append(np.atleast_2d(th).shape[0])
        return original(self, t, th)

    monkeypatch.setattr(RecoveryFamily, "sf_vjp", counted)
    shared = bootstrap(ev, cand, n_boot=60, seed=2)
    n_shared = sum(rows)
    rows.clear()
    import analysis.recovery.report_batch as rb

    monkeypatch.setattr(rb, "shared_sf_vjp", lambda family, nodes, th: family.sf_vjp(nodes, th))
    alone = bootstrap(ev, cand, n_boot=60, seed=2)
    # fewer rows of S with derivatives, the same replicates to the last bit
    assert n_shared < sum(rows) - 60
    assert np.array_equal(shared.theta, alone.theta)


def test_repeated_rows_of_a_batch_likelihood_compute_their_bins_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A joint model's finite differences repeat each other group's rows: their bin integrals are computed once."""
    from analysis.recovery.report_batch import shared_shape

    edges = np.arange(0.0, 1205.0, 5.0)
    no_windows = (np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    ev = ReportEvidence(edges, np.ones(edges.size - 1), np.zeros(edges.size - 1), *no_windows)
    fam = _family("mixture+delay")
    th0 = np.asarray(CASES["mixture+delay"])
    th = np.vstack([th0, th0, 1.01 * th0, th0, th0, th0])  # one row moved, five the same
    direct = ev.shape(fam, th)
    rows: list[int] = []
    original = ReportEvidence.shape

    def counted(self: ReportEvidence, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        rows.append(np.atleast_2d(theta).shape[0])
        return original(self, family, theta)

    monkeypatch.setattr(ReportEvidence, "shape", counted)
    shared = shared_shape(ev, fam, th)
    assert rows == [2]
    assert np.array_equal(shared, direct)
    batch = ev.as_batch(th.shape[0])
    rows.clear()
    ll = batch.loglik(fam, th)
    assert rows == [2]
    assert np.array_equal(ll[[0, 1, 3, 4, 5]], np.full(5, ll[0]))
