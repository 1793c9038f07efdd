"""How far published kinds of diurnal activity lie from the default clock profile, per daily harmonic.

The bootstrap draws each crowd-report data set under g·exp(δ), δ(h) = Σ_{j=1,2} a_j cos(2πjh/24) +
b_j sin(2πjh/24), a_j, b_j ~ N(0, 0.25²) (``PROFILE_HARMONIC_SD``). This script puts a number on
"how wrong can the default profile be": it writes a few kinds of activity whose daily shape is
described in published work as 24 hourly weights, takes log(shape / default) on the same
harmonics by least squares (plus a constant, which the fit absorbs in its rate), and prints each
shape's coefficients and the root mean square of each harmonic's coefficients over the shapes.

The shapes are stylised from the sources' descriptions and figures (where the day's minimum and
maxima lie, how deep the night is), not digitised data; they say how large the departures are
between kinds of activity, not what any one population does:

* ``social``: posting on social media, lowest at 04:00–06:00, rising through the morning to a
  late-evening maximum (hourly tweet volume, Golder & Macy 2011, Science 333:1878).
* ``callcentre``: calls to a service centre, a mid-morning and a mid-afternoon peak with a
  lunch dip, low in the evening (weekday arrivals by time of day, Brown et al. 2005, JASA
  100:36).
* ``athome``: people at home and awake, before work and in the evening, fewer during working
  hours (time-use surveys, e.g. the American Time Use Survey's activity by hour of day).

The independent generator's profile (``benchmarks.independent.SLEEP_PROFILE``) is printed for
comparison and not used in the root mean square.

It also prints how heavy-tailed the shapes' departures are: each harmonic's pair (a_j, b_j) of
each shape read as a draw of a bivariate Student t of scale 0.25 (the bootstrap's spread), and
the degrees of freedom of greatest likelihood (``t_degrees_of_freedom``), beside the
log-likelihood of the normal of that spread.

Run: ``.venv/bin/python benchmarks/profile_prior.py``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import gammaln

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analysis.recovery.clock_profile import profile_basis
from analysis.recovery.propensity import DEFAULT_PROPENSITY
from benchmarks import independent as ind

SHAPES: dict[str, tuple[float, ...]] = {
    "social": (
        0.45, 0.28, 0.16, 0.10, 0.08, 0.10, 0.20, 0.40, 0.60, 0.70, 0.75, 0.78,
        0.80, 0.80, 0.80, 0.82, 0.85, 0.90, 0.95, 1.00, 1.00, 1.00, 0.90, 0.70,
    ),
    "callcentre": (
        0.08, 0.05, 0.04, 0.03, 0.03, 0.05, 0.15, 0.45, 0.80, 0.95, 1.00, 0.95,
        0.80, 0.75, 0.80, 0.85, 0.80, 0.70, 0.55, 0.45, 0.40, 0.35, 0.25, 0.15,
    ),
    "athome": (
        0.35, 0.15, 0.06, 0.04, 0.04, 0.08, 0.35, 0.75, 0.80, 0.55, 0.45, 0.45,
        0.50, 0.45, 0.45, 0.50, 0.60, 0.75, 0.90, 1.00, 1.00, 0.95, 0.80, 0.55,
    ),
}  # fmt: skip


def harmonic_coefficients(profile: Sequence[float], reference: Sequence[float] = DEFAULT_PROPENSITY) -> np.ndarray:
    """a_1, b_1, a_2, b_2 of log(profile / reference) over the 24 hours (least squares with a constant)."""
    p, r = np.asarray(profile, dtype=float), np.asarray(reference, dtype=float)
    if p.shape != (24,) or r.shape != (24,):
        raise ValueError("expected 24 hourly weights")
    ratio = np.log(p) - np.log(r)
    design = np.vstack([np.ones(24), profile_basis(np.arange(24) + 0.5)]).T
    return np.linalg.lstsq(design, ratio, rcond=None)[0][1:]


def harmonic_rms(coefs: np.ndarray) -> tuple[float, float]:
    """Root mean square of the first (a_1, b_1) and of the second (a_2, b_2) harmonic's coefficients over rows."""
    c = np.atleast_2d(np.asarray(coefs, dtype=float))
    return float(np.sqrt(np.mean(c[:, :2] ** 2))), float(np.sqrt(np.mean(c[:, 2:] ** 2)))


def pair_loglik(coefs: np.ndarray, scale: float, df: float | None) -> float:
    """Log-likelihood of every harmonic's pair (a_j, b_j) in ``coefs`` under a bivariate t (``df``) or normal (None)."""
    c = np.atleast_2d(np.asarray(coefs, dtype=float))
    r2 = np.concatenate([(c[:, 2 * j : 2 * j + 2] ** 2).sum(axis=1) for j in range(c.shape[1] // 2)]) / scale**2
    if df is None:
        return float(np.sum(-np.log(2.0 * np.pi * scale**2) - r2 / 2.0))
    norm = gammaln((df + 2.0) / 2.0) - gammaln(df / 2.0) - np.log(df * np.pi * scale**2)
    return float(np.sum(norm - (df + 2.0) / 2.0 * np.log1p(r2 / df)))


def t_degrees_of_freedom(coefs: np.ndarray, scale: float) -> float:
    """Degrees of freedom (0.5–1000) of greatest likelihood for the harmonics' pairs as bivariate t of ``scale``."""
    res = minimize_scalar(
        lambda x: -pair_loglik(coefs, scale, float(np.exp(x))), bounds=(np.log(0.5), np.log(1000.0)), method="bounded"
    )
    return float(np.exp(res.x))


def main() -> None:
    """Print each shape's coefficients, the generator's, and the root mean square per harmonic."""
    rows = {name: harmonic_coefficients(shape) for name, shape in SHAPES.items()}
    out: dict[str, object] = {name: [round(float(x), 3) for x in c] for name, c in rows.items()}
    first, second = harmonic_rms(np.array(list(rows.values())))
    out["rms_first_harmonic"], out["rms_second_harmonic"] = round(first, 3), round(second, 3)
    coefs = np.array(list(rows.values()))
    out["t_df_at_scale_0.25"] = round(t_degrees_of_freedom(coefs, 0.25), 2)
    out["loglik_t3_at_scale_0.25"] = round(pair_loglik(coefs, 0.25, 3.0), 2)
    out["loglik_normal_0.25"] = round(pair_loglik(coefs, 0.25, None), 2)
    out["generator_not_used"] = [round(float(x), 3) for x in harmonic_coefficients(ind.SLEEP_PROFILE)]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
