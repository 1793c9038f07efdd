"""benchmarks/profile_prior.py reads a profile's departure from the default on the bootstrap's harmonics."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks.profile_prior import SHAPES, harmonic_coefficients, harmonic_rms, pair_loglik, t_degrees_of_freedom
from scipy.stats import multivariate_normal, multivariate_t

from analysis.recovery.clock_profile import profile_basis
from analysis.recovery.propensity import DEFAULT_PROPENSITY


def test_a_known_distortion_is_read_back_and_the_level_ignored() -> None:
    coef = np.array([0.3, -0.2, 0.1, -0.5])
    shaped = np.asarray(DEFAULT_PROPENSITY) * np.exp(coef @ profile_basis(np.arange(24) + 0.5)) * 0.37
    assert np.allclose(harmonic_coefficients(shaped), coef, atol=1e-9)
    assert np.allclose(harmonic_coefficients(DEFAULT_PROPENSITY), 0.0, atol=1e-12)


def test_rms_per_harmonic() -> None:
    first, second = harmonic_rms(np.array([[0.3, 0.4, 0.0, 0.0], [0.0, 0.0, 0.6, 0.8]]))
    assert first == pytest.approx(np.sqrt((0.09 + 0.16) / 4)) and second == pytest.approx(np.sqrt(1.0 / 4))


def test_shapes_are_whole_days_and_a_wrong_length_is_refused() -> None:
    assert all(len(s) == 24 and min(s) > 0 for s in SHAPES.values())
    with pytest.raises(ValueError, match="24"):
        harmonic_coefficients([1.0] * 23)


def _pairs(rng: np.random.Generator, n: int, scale: float, df: float | None) -> np.ndarray:
    """n rows of two harmonics' pairs, each pair normal of ``scale`` or bivariate t with ``df``."""
    z = rng.normal(0.0, scale, size=(n, 4))
    if df is None:
        return z
    return z * np.repeat(np.sqrt(df / rng.chisquare(df, size=(n, 2))), 2, axis=1)


def test_degrees_of_freedom_are_read_back_from_t_pairs_and_normal_pairs_give_many() -> None:
    rng = np.random.default_rng(3)
    assert t_degrees_of_freedom(_pairs(rng, 4000, 0.25, 3.0), 0.25) == pytest.approx(3.0, rel=0.2)
    assert t_degrees_of_freedom(_pairs(rng, 4000, 0.25, None), 0.25) > 30.0


def test_the_pair_densities_are_scipys_and_the_t_tends_to_the_normal() -> None:
    x = np.array([[0.1, -0.2, 0.3, 0.05]])
    t3 = multivariate_t(loc=[0.0, 0.0], shape=0.25**2 * np.eye(2), df=3.0)
    normal = multivariate_normal(mean=[0.0, 0.0], cov=0.25**2 * np.eye(2))
    assert pair_loglik(x, 0.25, 3.0) == pytest.approx(t3.logpdf([0.1, -0.2]) + t3.logpdf([0.3, 0.05]), rel=1e-12)
    assert pair_loglik(x, 0.25, None) == pytest.approx(normal.logpdf([0.1, -0.2]) + normal.logpdf([0.3, 0.05]), rel=1e-12)
    assert pair_loglik(x, 0.25, 1e6) == pytest.approx(pair_loglik(x, 0.25, None), abs=1e-4)
