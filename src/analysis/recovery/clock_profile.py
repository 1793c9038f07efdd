"""The clock profile estimated with S: a penalised harmonic correction of the assumed propensity.

The reporting propensity g (people's hourly readiness to report) is assumed; where it is wrong
the fit reads the error as restoration (docs/recovery.md, "Why `rounded5` misses low"). With
``profile = "estimated"`` the intensity becomes λ(t) = A·g(h)·exp(δ(h))·S(t) with

    δ(h) = Σ_{j=1,2} a_j cos(2πjh/24) + b_j sin(2πjh/24),

the two daily harmonics whose coefficients the bootstrap's profile spread draws from
N(0, s²) (``PROFILE_HARMONIC_SD``). The coefficients are fitted jointly with S by maximum
penalised likelihood, the penalty being that same Gaussian, −Σ c²/(2s²): where the counts
identify a distortion (a restoration long enough to see the day's pattern against S's
shape), it is estimated; where they cannot (a short incident), the penalty keeps δ near 0,
i.e. the assumed profile, and the bootstrap's spread still applies.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from analysis.recovery.evidence import ReportEvidence
    from analysis.recovery.result import RecoveryFit

PROFILE_NAMES = ("profile_cos1_", "profile_sin1_", "profile_cos2_", "profile_sin2_")
# the coefficients' bounds: far beyond what the penalty lets them reach (8 spreads of 0.25)
PROFILE_BOUND = 2.0


def profile_basis(hours: np.ndarray, harmonics: int = 2) -> np.ndarray:
    """The harmonics at each bin's local hour, ``(2·harmonics, n_bins)``: cos and sin of 1, 2, … cycles a day."""
    w = 2.0 * np.pi * np.asarray(hours, dtype=float) / 24.0
    return np.stack([f(j * w) for j in range(1, harmonics + 1) for f in (np.cos, np.sin)])


def profile_factor(basis: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """exp(δ) per parameter row and bin (``coef``: ``(B, 4)``, result ``(B, n_bins)``)."""
    return np.exp(np.asarray(coef, dtype=float) @ basis)


def profile_penalty(coef: np.ndarray, sd: float) -> np.ndarray:
    """The Gaussian log-prior of the coefficients up to a constant, per row: −Σ c²/(2 sd²)."""
    c = np.atleast_2d(np.asarray(coef, dtype=float))
    return -0.5 * np.sum(c * c, axis=1) / sd**2


def profile_metrics(theta: np.ndarray, start: int, sd: float) -> dict[str, object]:
    """metrics.json's ``identifiability.clock_profile``: the fitted coefficients and what they do to the profile."""
    coef = np.asarray(theta, dtype=float)[start : start + len(PROFILE_NAMES)]
    delta = coef @ profile_basis(np.arange(24) + 0.5)
    return {
        "profile": "estimated",
        "prior_sd": float(sd),
        "coefficients": {n.rstrip("_"): round(float(c), 4) for n, c in zip(PROFILE_NAMES, coef, strict=True)},
        "hourly_factor": [round(float(x), 3) for x in np.exp(delta)],
    }


def with_profile_metrics(fit: RecoveryFit, ev: ReportEvidence, prior_sd: float) -> RecoveryFit:
    """Add ``identifiability.clock_profile`` (the reported model's fitted profile) when ``ev`` estimated it."""
    if not ev.fits_profile:
        return fit
    info = {**profile_metrics(fit.theta, ev.profile_start(fit.family), prior_sd), "penalty_sd": round(ev.profile_prior, 5)}
    return replace(fit, identifiability={**fit.identifiability, "clock_profile": info})
