"""The batched optimiser's starting points: with a closed-form gradient their values come with it (S once, not twice)."""

from __future__ import annotations

import numpy as np

from analysis.recovery._optim import JointSpace, maximize_batch
from analysis.recovery.families import make_family

CENTRE = np.array([[50.0, 1.5], [80.0, 0.8], [120.0, 2.5]])  # each row's own optimum (Weibull scale, shape)


def _loglik(theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A smooth concave log-likelihood per row, maximal at that row's CENTRE (on the log scale)."""
    d = np.log(theta) - np.log(CENTRE[rows])
    return -0.5 * np.sum(d * d * np.array([40.0, 10.0]), axis=1)


def _loglik_grad(theta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.log(theta) - np.log(CENTRE[rows])
    return _loglik(theta, rows), -(d * np.array([40.0, 10.0])) / theta


def test_start_values_come_with_the_gradient() -> None:
    space = JointSpace(make_family("weibull"), ())
    starts = np.array([[30.0, 1.0], [100.0, 1.0], [90.0, 1.2]])
    plain_points: list[np.ndarray] = []

    def counted(theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
        plain_points.append(np.array(theta))
        return _loglik(theta, rows)

    th, ll = maximize_batch(counted, space, starts, loglik_grad=_loglik_grad, maxiter=200, gtol=1e-8, ftol=0.0)
    seen = np.vstack(plain_points) if plain_points else np.empty((0, 2))
    # no plain evaluation at a start: the first pass evaluated value and gradient together
    assert not any(np.allclose(row, s, rtol=0, atol=1e-12) for row in seen for s in starts)
    np.testing.assert_allclose(th, CENTRE, rtol=1e-4)
    np.testing.assert_allclose(ll, 0.0, atol=1e-6)
    # without a closed form the start values are plain evaluations, and the optima the same
    plain_points.clear()
    th2, _ = maximize_batch(counted, space, starts, maxiter=200, gtol=1e-8, ftol=0.0)
    assert any(np.allclose(row, s, rtol=0, atol=1e-12) for row in np.vstack(plain_points) for s in starts)
    np.testing.assert_allclose(th2, CENTRE, rtol=1e-4)
