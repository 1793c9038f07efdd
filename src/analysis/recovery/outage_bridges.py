"""Customer-hours from a customers-out series where the readings say little: holes in them, and the tail after them.

Bridges across holes: the area they add to customer-hours, and its spread.

The readings' integral must cross each hole in the used readings (a feed loss, flapping,
missing runs, dropped dips). A straight chord between the readings on each side under-fills
a top or a bend the count went through inside the hole (on simulated storms with many feed
defects the chords left customer-hours 0.6 % low in mean, up to 3.4 % in one storm). Three
competing bridges, none known to be right:

* the straight chord;
* the model's curve across the hole, moved to meet the readings at its edges (a straight
  correction from one edge to the other), which follows a top or a bend the model saw;
* the readings on each side continued into the hole (straight lines through four readings,
  up to where they meet: a tent over a top or a bend, a trough under a dip).

The hole's area is their mean and its variance the spread between them (their sample
variance): where they agree (a straight stretch) the bridge adds nothing uncertain; where
they disagree the truth may lie anywhere among them.

The tail after the window: the customers still out at its end (the readings' level there),
cleared as the model clears them (:func:`tail_scale`) and as the readings' own last decline
continued clears them (:func:`end_decay`); the two tails averaged, their spread as the
variance (:func:`blend_tails`), as for the bridges.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analysis.recovery.outage_crossing import _hac_ols

#: a hole: consecutive used readings more than this many cadence steps apart
HOLE_STEPS = 1.5
#: the readings' last decline is measured from their last value above this many times the end level
DECAY_FOLD = math.e


@dataclass(frozen=True)
class Bridges:
    """The holes' bridged area beyond the straight chords (``shift``) and its variance (shares of the peak × minutes)."""

    shift: float
    variance: float
    holes: int


def hole_indices(t: np.ndarray, step: float) -> np.ndarray:
    """Indices ``i`` such that ``t[i] → t[i + 1]`` is a hole (more than ``HOLE_STEPS`` cadence steps)."""
    return np.nonzero(np.diff(t) > HOLE_STEPS * step)[0]


def hole_areas(t: np.ndarray, y: np.ndarray, i: int, model: np.ndarray, u: np.ndarray) -> list[float]:
    """The competing bridges' areas over hole ``i``: straight chord first, then the model's curve, then the continuations.

    ``u`` the minutes across the hole (``t[i]`` to ``t[i + 1]``), ``model`` the model's curve
    there (shares of the peak). The continuations need four readings on each side.
    """
    chord = np.interp(u, [t[i], t[i + 1]], [y[i], y[i + 1]])
    edge = np.interp(u, [t[i], t[i + 1]], [y[i] - model[0], y[i + 1] - model[-1]])
    areas = [float(np.trapezoid(chord, u)), float(np.trapezoid(np.clip(model + edge, 0.0, None), u))]
    if i >= 3 and i + 4 < t.size:
        left = np.polyval(np.polyfit(t[i - 3 : i + 1], y[i - 3 : i + 1], 1), u)
        right = np.polyval(np.polyfit(t[i + 1 : i + 5], y[i + 1 : i + 5], 1), u)
        cont = np.minimum(left, right) if left[-1] > right[-1] else np.maximum(left, right)
        areas.append(float(np.trapezoid(np.clip(cont, 0.0, 1.5), u)))
    return areas


def bridges(t: np.ndarray, y: np.ndarray, step: float, survival: Callable[[np.ndarray], np.ndarray]) -> Bridges:
    """Sum over the holes of (mean competing bridge − straight chord) and of the bridges' sample variance.

    ``t`` minutes, ``y`` shares of the peak (the used readings), ``step`` the cadence,
    ``survival`` the model's curve (share of the peak) at minutes. The straight chords are
    what the trapezoid integral of the readings already holds, so ``shift`` is what the
    bridges add to it.
    """
    holes = hole_indices(t, step)
    if holes.size == 0:
        return Bridges(0.0, 0.0, 0)
    grids = [np.linspace(t[i], t[i + 1], max(int((t[i + 1] - t[i]) / step) + 1, 3)) for i in holes]
    curves = np.split(survival(np.concatenate(grids)), np.cumsum([g.size for g in grids])[:-1])
    shift, variance = 0.0, 0.0
    for i, u, model in zip(holes, grids, curves, strict=True):
        areas = np.array(hole_areas(t, y, int(i), model, u))
        shift += float(areas.mean() - areas[0])
        variance += float(areas.var(ddof=1))
    return Bridges(shift, variance, int(holes.size))


def tail_scale(ends: np.ndarray, level: float, log_sd: float) -> np.ndarray:
    """Per replicate, the factor on the model's tail after the window: the readings' level at the end over the model's there.

    How many customers are still out at the window's end is measured by the readings
    (``level``, share of the peak); the model (its curves' values ``ends`` there) says how fast
    they clear. A model of one storm's shape over two storms continues the first storm's
    tail under the second (2–7 % of the peak still out where the readings show 0.4 %, its
    tail then 10–15 % of the customer-hours), so a tail whose curve ends clearly above the
    readings — beyond twice the feed's noise there (``log_sd``, on the log scale) — is
    scaled down to them. Within the noise it stands (scaling each replicate down to a noisy
    level, never up, would bias every tail low). Never up: a curve nearly at zero at the
    end has only its far component left, and scaled up to the readings it put one
    simulated storm's customer-hours at 442 times the truth.
    """
    ratio = level / np.maximum(ends, 1e-12)
    clear = (ends > 1e-9) & (ratio < np.exp(-2.0 * max(log_sd, 0.0)))
    return np.where(clear, ratio, 1.0)


@dataclass(frozen=True)
class Decay:
    """A log-linear fit to the readings' last decline: log level at the end, slope per minute, their covariance."""

    log_level: float
    slope: float
    cov: np.ndarray
    n: int


def end_decay(t: np.ndarray, y: np.ndarray, since: float, level: float, lag: int) -> Decay | None:
    """The readings' decline over their last fall by ``DECAY_FOLD`` to ``level`` (share of the peak), on the log scale.

    ``t``, ``y`` the used readings, taken from ``since`` (the peak) on. The stretch runs from the last reading
    above ``DECAY_FOLD`` × ``level`` to the end: as long as the readings took to fall by that
    factor, so a slow storm's stretch is long and a fast one's short. Least squares on
    log(readings) with a Newey–West covariance (``lag`` readings: the feed's noise is
    autocorrelated). None when the readings have not fallen by that factor since the peak
    (more than a third of the peak still out), with fewer than eight fresh readings in the
    stretch, or without a clear decline (the slope within two standard errors of zero):
    flat readings give no clearing rate.
    """
    t, y = t[t >= since], y[t >= since]
    fresh = np.concatenate([[True], y[1:] != y[:-1]]) & (y > 0) if y.size else np.zeros(0, bool)
    t, y = t[fresh], y[fresh]
    if y.size < 8 or level <= 0:
        return None
    above = np.nonzero(y > DECAY_FOLD * level)[0]
    if above.size == 0 or y.size - above[-1] < 8:
        return None  # not yet fallen by e since the peak, or too few readings since: no clearing rate
    u, z = t[above[-1] :] - t[-1], np.log(y[above[-1] :])
    beta, cov = _hac_ols(np.column_stack([np.ones(u.size), u]), z, lag)
    if not (beta[1] < 0 and beta[1] ** 2 > 4.0 * cov[1, 1]):
        return None
    return Decay(float(beta[0]), float(beta[1]), cov, int(u.size))


def decay_tails(decay: Decay, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of ∫ exp(a + b·u) du from the end = exp(a)/(−b) (share of the peak × minutes).

    The level a and log(−b) drawn normal (delta method for the slope: its draws stay negative).
    """
    b = decay.slope
    jac = np.diag([1.0, 1.0 / b])
    draws = rng.multivariate_normal([decay.log_level, math.log(-b)], jac @ decay.cov @ jac.T, n, method="eigh")
    return np.exp(draws[:, 0] - draws[:, 1])


def blend_tails(model: np.ndarray, decay: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per replicate, the two tails' mean with their spread as variance: lognormal draws of that mean and SD.

    ``model`` the model's tail scaled to the readings' level (:func:`tail_scale`), ``decay`` the
    readings' last decline continued (:func:`decay_tails`), neither known to be right: a model
    of one storm's shape over two clears the last customers as slowly as the first storm's
    tail; the readings' decline there holds routine outages that keep arriving. Where they
    agree the tail adds nothing uncertain; the lognormal keeps a draw positive and, its
    relative SD at most √2, never far above both.
    """
    mean = 0.5 * (model + decay)
    # (relative SD)² = 2·((model − decay)/(model + decay))², at most 2; nothing where both are zero
    # (an infinite model tail, a family of infinite mean, stays infinite)
    ok = np.isfinite(model) & ((model + decay) > 0)
    rel = np.divide(model - decay, model + decay, out=np.zeros(mean.size), where=ok)
    s2 = np.log1p(2.0 * rel * rel)
    return mean * np.exp(np.sqrt(s2) * rng.standard_normal(mean.size) - 0.5 * s2)
