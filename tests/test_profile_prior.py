"""benchmarks/profile_prior.py reads a profile's departure from the default on the bootstrap's harmonics."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks.profile_prior import SHAPES, harmonic_coefficients, harmonic_rms

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
