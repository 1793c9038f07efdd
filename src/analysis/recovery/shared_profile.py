"""One clock profile estimated across several incidents of the same population (a cross-incident prior).

Within one incident the clock profile and S bend the counts alike (docs/recovery.md,
"Reporting hypotheses the counts cannot separate"); across incidents that began at different
hours of the day they do not: S runs on the time since each onset, the profile on the clock.
:func:`estimate_shared_profile` fits each incident's own S (its candidates chosen by QAIC) and
one shared correction of the assumed profile, g·exp(δ) with the two daily harmonics of
:mod:`analysis.recovery.clock_profile`, by penalised quasi-likelihood: Σ_i ℓ_i/φ_i − Σ c²/(2s²),
each incident's family chosen under the current profile, then every curve and the shared
coefficients maximised together. The result is a
24-hour profile to state in ``[reporting] hourly_propensity`` of the next incident.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import optimize

from analysis.errors import ParameterError
from analysis.recovery._optim import JointSpace
from analysis.recovery.clock_profile import PROFILE_NAMES, profile_basis, profile_factor, profile_penalty
from analysis.recovery.dispersion import estimate_dispersion
from analysis.recovery.engine import choose, fit_candidates
from analysis.recovery.evidence import PROFILE_HARMONIC_SD
from analysis.recovery.families import resolve_candidates
from analysis.recovery.propensity import check_propensity, check_timezone
from analysis.recovery.report_input import report_clock


def _joint_step(held: list[Any], coef: np.ndarray, prior_sd: float) -> np.ndarray:
    """Maximise Σ_i ℓ_i/φ_i + log prior over every incident's curve and the shared coefficients at once.

    (Alternating between the curves and the coefficients converges slowly: each curve bends to
    absorb part of the profile's error.) Returns the coefficients.
    """
    spaces = [JointSpace(fam) for _, fam, _, _ in held]
    parts = [np.asarray(sp.to_free(theta), dtype=float) for sp, (_, _, theta, _) in zip(spaces, held, strict=True)]
    cuts = np.cumsum([0, *[p.size for p in parts]])
    u0 = np.concatenate([*parts, coef])

    def nll(u: np.ndarray) -> float:
        c = u[cuts[-1] :]
        total = float(profile_penalty(c, prior_sd)[0])
        for i, (free, fam, _, phi) in enumerate(held):
            theta = spaces[i].from_free(u[cuts[i] : cuts[i + 1]])
            total += free.loglik(fam, np.concatenate([theta, c])) / phi
        return -total if np.isfinite(total) else 1e300

    res = optimize.minimize(nll, u0, method="L-BFGS-B")
    return np.asarray(res.x[cuts[-1] :], dtype=float)


@dataclass(frozen=True)
class SharedProfile:
    """The profile estimated across incidents: 24 hourly weights (peak 1), the coefficients, each incident's model."""

    hourly: tuple[float, ...]
    coefficients: dict[str, float]
    models: tuple[str, ...]
    dispersion: tuple[float, ...]
    rounds: int


def estimate_shared_profile(
    incidents: Sequence[tuple[Any, dt.datetime, dt.datetime]],
    *,
    timezone: str = "Europe/Brussels",
    propensity: Sequence[float] | None = None,
    families: Sequence[str] | str = "all",
    prior_sd: float = PROFILE_HARMONIC_SD,
    rounds: int = 2,
) -> SharedProfile:
    """Estimate one clock profile from several incidents' report times ``(times, onset, end)``.

    ``propensity`` is the assumed profile the correction is centred on (the default when
    None); ``prior_sd`` the Gaussian penalty's spread per coefficient (the bootstrap's profile
    spread). Each round refits every incident's candidates under the current profile, keeps
    the one chosen by AIC and measures its overdispersion φ_i, then maximises Σ_i ℓ_i/φ_i plus
    the penalty over those curves' parameters and the shared coefficients together.
    """
    if len(incidents) < 2:
        raise ParameterError(f"incidents: a shared profile needs at least 2 incidents, got {len(incidents)}")
    check_timezone(timezone)
    g0 = check_propensity(propensity)
    names = resolve_candidates(families)
    from analysis.recovery.reports import build_report_evidence  # reports imports the fitters this module shares

    evs = []
    for times, onset, end in incidents:
        clock = report_clock(times, onset=onset, end=end, level=0.9)
        ev, _ = build_report_evidence(
            clock.minutes, horizon=clock.horizon, onset_epoch=clock.onset_s, timezone=timezone, propensity=g0
        )
        evs.append(ev)
    coef = np.zeros(len(PROFILE_NAMES))
    models: list[str] = []
    phis: list[float] = []
    for _ in range(rounds):
        held: list[Any] = []
        models, phis = [], []
        for ev in evs:
            now = ev.with_propensity(ev.g * profile_factor(profile_basis(np.asarray(ev.hours)), coef[None, :])[0])
            best = choose(fit_candidates(now, names, level=0.9), what="down_reports")
            phi = max(1.0, estimate_dispersion(now, best.family, best.theta, sampling="spontaneous").phi)
            # the same reports with the profile free and no penalty of their own: ℓ_i(δ) at the held curve
            free = replace(ev, profile_prior=1e6)
            held.append((free, best.family, best.theta, phi))
            models.append(best.name)
            phis.append(phi)

        coef = _joint_step(held, coef, prior_sd)
    hours = np.arange(24) + 0.5
    g = g0 * np.exp(coef @ profile_basis(hours))
    return SharedProfile(
        hourly=tuple(float(x) for x in g / g.max()),
        coefficients={n.rstrip("_"): float(c) for n, c in zip(PROFILE_NAMES, coef, strict=True)},
        models=tuple(models),
        dispersion=tuple(phis),
        rounds=rounds,
    )
