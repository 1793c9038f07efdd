"""Bounded parameters on the real line: the optimiser works on free values, families on bounded ones."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

__all__ = ["from_free", "to_free"]


def to_free(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map a bounded parameter to the real line (log, logit or identity)."""
    if math.isinf(lo) and math.isinf(hi):
        return x
    if math.isinf(hi):
        return np.log(np.maximum(x - lo, 1e-300))
    if math.isinf(lo):
        return -np.log(np.maximum(hi - x, 1e-300))
    z = np.clip((x - lo) / (hi - lo), 1e-15, 1 - 1e-15)
    return np.log(z) - np.log1p(-z)


def from_free(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Inverse of :func:`to_free`."""
    if math.isinf(lo) and math.isinf(hi):
        return u
    if math.isinf(hi):
        return lo + np.exp(u)
    if math.isinf(lo):
        return hi - np.exp(-u)
    return lo + (hi - lo) * special.expit(u)
