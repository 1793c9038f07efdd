"""The clock profile learned from the reports of the quiet days before the onset.

A crowd-report feed carries background reports before an incident: the same population's
small outages, reported through the same habits. Their rate by local hour is the
population's reporting propensity g times a rate that does not depend on the clock, so the
days before the onset measure g where the incident's own counts cannot (there S and the
clock bend the counts alike: docs/recovery.md, "Why `rounded5` misses low").

The estimate corrects the assumed profile by the same two daily harmonics that the
bootstrap's profile spread draws, g·exp(δ), δ(h) = Σ_{j=1,2} a_j cos(2πjh/24) + b_j sin(2πjh/24),
fitted by maximum penalised Poisson likelihood on 15-minute cells of the quiet window with the
spread's Gaussian N(0, s²) as the prior: the posterior mode is the correction. The bootstrap
draws the profile's error from N(0, Σ + t²·I): Σ the estimate's covariance (Laplace), t
(``QUIET_TRANSFER_SD``, the assumed profile's 0.25) what the quiet days cannot measure — how
far the incident's reporters lie from the background's, and the profile's shape beyond two
harmonics (docs/recovery.md: with Σ alone `rounded5`'s t90 still missed, the learned profile
being 0.3–0.4 off at the hours it restores). Background reports come in clumps (one customer
calls back), so the likelihood is a quasi-likelihood: it counts 1/φ, φ the Pearson dispersion
of the hourly counts around the fit (at least 1).

The window runs from the first report (collection began no later) to ``QUIET_GUARD_MINUTES``
before the onset (early reports of the incident itself), at most ``QUIET_MAX_DAYS``; each cell
is exposed for its own 15 minutes, so a part day weighs its hours as it should. It is used
only when it spans at least a day (every clock hour seen) and holds at least
``MIN_QUIET_REPORTS`` reports: with n
reports spread over the day a coefficient's standard error is about √(2/n), 0.10 at 200, less
than half the prior spread of 0.25, so the estimate tells more than the prior; with fewer the
fit keeps the assumed profile and its spread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.recovery.clock_profile import profile_basis
from analysis.recovery.evidence import PROFILE_HARMONIC_SD
from analysis.recovery.propensity import local_hours

MIN_QUIET_REPORTS = 200
# the prior spread of each learned coefficient (cos and sin of one, then two cycles a day): the
# bootstrap's profile spread, so that without quiet reports the learned profile is the assumed one
QUIET_PRIOR_SD = (PROFILE_HARMONIC_SD,) * 4
# how far the incident's reporters' profile may lie from the quiet days' reporters' (per
# coefficient): the quiet days do not measure it (nor the profile's shape beyond two harmonics),
# so it stays the assumed profile's spread, added to the estimate's own covariance
QUIET_TRANSFER_SD = PROFILE_HARMONIC_SD
QUIET_GUARD_MINUTES = 60.0
QUIET_MAX_DAYS = 14
CELL_MINUTES = 15.0


@dataclass(frozen=True)
class QuietProfile:
    """The correction of the assumed profile learned from the quiet days: mode, covariance and what it rests on."""

    coef: np.ndarray  # (4,) posterior mode of the harmonics' coefficients
    cov: np.ndarray  # (4, 4) their posterior covariance (quasi-likelihood, Laplace)
    n_reports: int
    days: float
    phi: float
    prior_sd: tuple[float, ...]

    def propensity(self, assumed: np.ndarray) -> np.ndarray:
        """The 24 hourly weights g·exp(δ) (maximum 1): the assumed profile corrected at each hour's middle."""
        g = np.asarray(assumed, dtype=float) * np.exp(self.coef @ profile_basis(np.arange(24) + 0.5, self.coef.size // 2))
        return g / g.max()

    def spread(self, transfer_sd: float = QUIET_TRANSFER_SD) -> np.ndarray:
        """The covariance the bootstrap draws the profile's error from: the estimate's own plus ``transfer_sd``² on each coefficient."""
        return self.cov + transfer_sd**2 * np.eye(self.cov.shape[0])

    def sd(self, transfer_sd: float = QUIET_TRANSFER_SD) -> float:
        """One number for that spread, comparable with the assumed profile's 0.25: the root mean of its variances."""
        return float(math.sqrt(np.mean(np.diag(self.spread(transfer_sd)))))

    def chol(self, transfer_sd: float = QUIET_TRANSFER_SD) -> np.ndarray:
        """A lower-triangular factor of :meth:`spread` (the bootstrap draws coefficients as L·z)."""
        return np.linalg.cholesky(self.spread(transfer_sd))

    def metrics(self, assumed: np.ndarray) -> dict[str, object]:
        """metrics.json's ``identifiability.clock_profile`` for a profile learned from the quiet days."""
        return {
            "profile": "quiet",
            "prior_sd": list(self.prior_sd),
            "quiet_reports": self.n_reports,
            "quiet_days": round(self.days, 2),
            "dispersion": round(self.phi, 3),
            "coefficients": {
                f"profile_{f}{j // 2 + 1}": round(float(c), 4)
                for j, (f, c) in enumerate(zip(("cos", "sin") * 8, self.coef, strict=False))
            },
            "coefficient_sd": [round(float(x), 4) for x in np.sqrt(np.diag(self.cov))],
            "transfer_sd": QUIET_TRANSFER_SD,
            "hourly_propensity": [round(float(x), 4) for x in self.propensity(assumed)],
        }


def quiet_window(epoch_s: np.ndarray, onset_s: float) -> tuple[float, float, float]:
    """(start, end) in epoch seconds and the length in days of the quiet window (0 without reports before it).

    It begins at the first 15-minute cell boundary after the first report (collection began
    no later, so every cell in it was observed) and ends ``QUIET_GUARD_MINUTES`` before the
    onset, at most ``QUIET_MAX_DAYS`` long.
    """
    cell = CELL_MINUTES * 60.0
    end = onset_s - QUIET_GUARD_MINUTES * 60.0
    before = np.asarray(epoch_s, dtype=float)
    before = before[before < end]
    if before.size == 0:
        return end, end, 0.0
    n_cells = min(int((end - float(before.min())) // cell), int(QUIET_MAX_DAYS * 86400.0 / cell))
    return end - n_cells * cell, end, n_cells * cell / 86400.0


def quiet_profile(
    epoch_s: np.ndarray, onset_s: float, *, timezone: str, assumed: np.ndarray, prior_sd: Sequence[float] = QUIET_PRIOR_SD
) -> QuietProfile | None:
    """The profile correction learned from the reports before the onset, or None without enough of them.

    ``epoch_s``: every exactly-timed report (UTC seconds), the incident's too (only the quiet
    window's are used); ``assumed``: the 24 hourly weights being corrected; ``prior_sd``: the
    spread of each coefficient without this evidence (cos and sin of 1, 2, … cycles a day; its
    length sets the number of harmonics).
    """
    start, end, days = quiet_window(epoch_s, onset_s)
    t = np.asarray(epoch_s, dtype=float)
    t = t[(t >= start) & (t < end)]
    if days < 1 or t.size < MIN_QUIET_REPORTS:
        return None
    n_cells = round((end - start) / (CELL_MINUTES * 60.0))
    counts = np.bincount(((t - start) // (CELL_MINUTES * 60.0)).astype(int), minlength=n_cells)[:n_cells].astype(float)
    hour = np.minimum(np.floor(local_hours(start + (np.arange(n_cells) + 0.5) * CELL_MINUTES * 60.0, timezone)), 23)
    log_g = np.log(np.asarray(assumed, dtype=float)[hour.astype(int)])
    # the harmonics at each clock hour's middle, as the corrected profile is used (24 hourly weights)
    x = np.vstack([np.ones(n_cells), profile_basis(hour + 0.5, len(prior_sd) // 2)]).T  # the level, then the harmonics
    beta, _ = _penalised_poisson(counts, x, log_g, prior_sd, phi=1.0)
    phi = _hourly_dispersion(counts, np.exp(x @ beta + log_g), n_per_hour=int(60.0 / CELL_MINUTES))
    beta, cov = _penalised_poisson(counts, x, log_g, prior_sd, phi=phi)
    return QuietProfile(beta[1:], cov[1:, 1:], int(t.size), float(days), phi, tuple(float(x) for x in prior_sd))


def _penalised_poisson(
    counts: np.ndarray, x: np.ndarray, offset: np.ndarray, prior_sd: Sequence[float], *, phi: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mode and covariance of ℓ/φ − Σc²/(2s²) for log μ = x·β + offset (β₀, the level, unpenalised); Newton steps."""
    k = x.shape[1]
    prec = np.concatenate([[0.0], 1.0 / np.asarray(prior_sd, dtype=float) ** 2])
    beta = np.zeros(k)
    beta[0] = math.log(max(counts.sum(), 1.0) / np.exp(offset).sum())
    hess = np.eye(k)
    for _ in range(50):
        mu = np.exp(x @ beta + offset)
        grad = x.T @ (counts - mu) / phi - prec * beta
        hess = (x.T * mu) @ x / phi + np.diag(prec)
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    mu = np.exp(x @ beta + offset)
    hess = (x.T * mu) @ x / phi + np.diag(prec)
    return beta, np.linalg.inv(hess)


def _hourly_dispersion(counts: np.ndarray, mu: np.ndarray, *, n_per_hour: int) -> float:
    """Pearson X²/df of the counts summed by hour of the window (clumps of calls show there), at least 1."""
    m = counts.size // n_per_hour * n_per_hour
    c = counts[:m].reshape(-1, n_per_hour).sum(axis=1)
    e = mu[:m].reshape(-1, n_per_hour).sum(axis=1)
    df = c.size - 5
    if df < 1:
        return 1.0
    return max(1.0, float(np.sum((c - e) ** 2 / np.maximum(e, 1e-12)) / df))


def learned_profile(
    epoch_s: np.ndarray, onset_s: float, *, timezone: str, assumed: np.ndarray
) -> tuple[QuietProfile | None, str]:
    """:func:`quiet_profile` and the note the fit reports: what the profile was learned from, or why not."""
    q = quiet_profile(epoch_s, onset_s, timezone=timezone, assumed=assumed)
    if q is not None:
        sds = ", ".join(f"{x:.2f}" for x in np.sqrt(np.diag(q.cov)))
        return q, (
            f"clock profile learned from {q.n_reports} reports of the {q.days:.1f} days before the onset "
            f"(harmonic corrections {', '.join(f'{c:+.2f}' for c in q.coef)}, sd {sds}; overdispersion {q.phi:.1f})"
        )
    start, end, days = quiet_window(epoch_s, onset_s)
    t = np.asarray(epoch_s, dtype=float)
    n = int(((t >= start) & (t < end)).sum())
    return None, (
        f"clock profile assumed: {n} report(s) over {days:.1f} days before the onset, where at least "
        f"{MIN_QUIET_REPORTS} over at least a day would let the profile be learned from them"
    )
