"""The ETA from the share already restored: the restoration-time distribution conditioned on the progress seen.

If the times to restoration (minutes after the onset) are log-normal with log-scale spread
σ (the *shape* of the recovery), the share restored by the elapsed time T, q = F(T), pins
the distribution's location, and the time to p restored follows:

    log t_p = log T + σ · (z_p − z_q),    z = Φ⁻¹

(t50 = t90 / e^{1.2816 σ}). The shape is what a past incident's t90 / t50 says,
σ_i = log(t90_i / t50_i) / z_0.9: its mean and scatter over the past incidents of the same
evidence kind (``[nowcast] history``; at least :data:`MIN_SHAPE_EVENTS` with both
crossings), or, without a history, the assumed prior's t90 = 3 × t50 (σ = 0.857) with a
spread of :data:`ASSUMED_SHAPE_SD`. The spread of the ETA grows with how far it
extrapolates, |z_p − z_q|, and with how uncertain the share restored is: early (q small)
it is wide, near the crossing it is narrow — unlike a duration prior's spread, which is
the same at every stage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from analysis.nowcast_history import PastEvent, usable

#: z of 0.9 restored: log(t90 / t50) = Z90 · σ for a log-normal restoration time.
Z90 = NormalDist().inv_cdf(0.9)
#: The assumed shape: the assumed duration prior's t90 = 3 × t50.
ASSUMED_SHAPE = math.log(3.0) / Z90
#: Its assumed spread (t90 / t50 between 1.9 and 4.7 at one standard deviation); set, not fitted.
ASSUMED_SHAPE_SD = 0.35
#: Past incidents (of the kind, with both t50 and t90) needed before the shape is learned.
MIN_SHAPE_EVENTS = 3
#: Pseudo-events of the assumed shape spread pooled into the learned scatter (two events that agree by chance do not make it sharp).
SHAPE_PSEUDO_EVENTS = 1.0
#: Shares restored outside this range say too little (nothing restored yet) or the crossing is at hand.
MIN_RESTORED = 0.02
#: Standard error of a series' share of its peak now (the median of the last hour's readings).
SERIES_SHARE_SD = 0.03
#: The least log-scale spread of the ETA from the shape: the log-normal is a shape, not the truth.
SHAPE_SIGMA_FLOOR = 0.1


@dataclass(frozen=True)
class RecoveryShape:
    """The log-scale spread σ of the restoration times (mean and its uncertainty), and how many past incidents it came from."""

    sigma: float = ASSUMED_SHAPE
    sigma_sd: float = ASSUMED_SHAPE_SD
    n_events: int = 0


def learn_shape(history: Sequence[PastEvent] | None, evidence: str, *, exclude: str | None = None) -> RecoveryShape:
    """The recovery shape of the past incidents of this evidence kind (the assumed one with fewer than :data:`MIN_SHAPE_EVENTS`).

    Each incident with both crossings gives σ_i = log(t90 / t50) / z_0.9; the shape is
    their mean, its uncertainty their scatter pooled with :data:`SHAPE_PSEUDO_EVENTS` of
    the assumed spread, plus the uncertainty of the mean.
    """
    past = usable(history or (), evidence, exclude=exclude)
    sigmas = [
        math.log(e.t90_minutes / e.t50_minutes) / Z90
        for e in past
        if math.isfinite(e.t50_minutes) and math.isfinite(e.t90_minutes) and e.t90_minutes > e.t50_minutes > 0
    ]
    n = len(sigmas)
    if n < MIN_SHAPE_EVENTS:
        return RecoveryShape()
    mean = sum(sigmas) / n
    scatter = sum((s - mean) ** 2 for s in sigmas)
    var = (SHAPE_PSEUDO_EVENTS * ASSUMED_SHAPE_SD**2 + scatter) / (SHAPE_PSEUDO_EVENTS + n - 1)
    return RecoveryShape(mean, math.sqrt(var * (1 + 1 / n)), n)


def shape_eta(restored: float, restored_sd: float, elapsed: float, p: float, shape: RecoveryShape) -> tuple[float, float] | None:
    """The log ETA of p restored (log minutes after onset) and its log-scale spread, from the share restored by ``elapsed``.

    ``restored``: the share restored so far (1 − share still out), ``restored_sd`` its
    standard error. None when it is outside [:data:`MIN_RESTORED`, ``p``) (nothing to
    extrapolate from, or the crossing is already at hand) or unknown.
    """
    if not (math.isfinite(restored) and MIN_RESTORED <= restored < p and elapsed > 0):
        return None
    nd = NormalDist()
    zq, zp = nd.inv_cdf(restored), nd.inv_cdf(p)
    mu = math.log(elapsed) + shape.sigma * (zp - zq)
    from_shape = shape.sigma_sd * (zp - zq)
    from_share = shape.sigma * max(restored_sd, 0.0) / nd.pdf(zq)
    return mu, math.sqrt(from_shape**2 + from_share**2 + SHAPE_SIGMA_FLOOR**2)
