"""The clock profile learned from the reports of the quiet days before the onset (``profile = "quiet"``)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from analysis.recovery import fit_down_reports
from analysis.recovery.clock_profile import profile_basis
from analysis.recovery.propensity import DEFAULT_PROPENSITY, local_hours
from analysis.recovery.quiet_profile import (
    MIN_QUIET_REPORTS,
    QUIET_GUARD_MINUTES,
    QUIET_TRANSFER_SD,
    quiet_profile,
    quiet_window,
)
from analysis.recovery.report_bins import profile_perturbation
from analysis.simulate import report_times

TZ = "Europe/Brussels"
ONSET = dt.datetime(2018, 1, 8, 7, 0, tzinfo=dt.UTC)  # 08:00 in Brussels
ONSET_S = ONSET.timestamp()
TRUE = np.array([-0.2, 0.1, 0.0, -0.5])  # the population's profile: the default times exp(δ) with these harmonics
DEFAULT = np.asarray(DEFAULT_PROPENSITY)


def _true_profile(coef: np.ndarray = TRUE) -> np.ndarray:
    g = DEFAULT * np.exp(coef @ profile_basis(np.arange(24) + 0.5))
    return g / g.max()


def _background(n_expected: float, days: float, seed: int, profile: np.ndarray, clump: int = 1) -> np.ndarray:
    """Background report times (UTC seconds) over ``days`` before the onset: Poisson by minute under ``profile``."""
    rng = np.random.default_rng(seed)
    minutes = ONSET_S - 60.0 * np.arange(int(days * 1440), 0, -1)
    g = profile[np.floor(local_hours(minutes, TZ)).astype(int)]
    events = rng.poisson(g * n_expected / clump / g.sum())
    t = np.repeat(minutes + 60.0 * rng.random(minutes.size), events)
    return np.repeat(t, clump)


def _estimate(t: np.ndarray):
    return quiet_profile(t, ONSET_S, timezone=TZ, assumed=DEFAULT)


def test_the_quiet_days_find_the_profile_and_its_precision():
    q = _estimate(_background(3000, 3, seed=1, profile=_true_profile()))
    assert q is not None and q.days == pytest.approx(3 - QUIET_GUARD_MINUTES / 1440, abs=0.02)
    sd = np.sqrt(np.diag(q.cov))
    # √(2/n) per coefficient for n Poisson reports spread over the day, up to the profile's unevenness
    assert np.all(sd > 0.5 * np.sqrt(2 / 3000)) and np.all(sd < 2.5 * np.sqrt(2 / 3000))
    assert np.all(np.abs(q.coef - TRUE) < 4 * sd + 0.05), (q.coef, sd)
    # the learned hourly weights are the true ones up to that precision (both have maximum 1)
    assert np.max(np.abs(np.log(q.propensity(DEFAULT)) - np.log(_true_profile()))) < 0.25
    # four times the reports, half the spread (on the Poisson scale: each φ is measured on its own noise)
    q4 = _estimate(_background(12000, 3, seed=2, profile=_true_profile()))
    assert q4.sd(0.0) / np.sqrt(q4.phi) == pytest.approx(q.sd(0.0) / np.sqrt(q.phi) / 2, rel=0.15)
    assert 1.0 <= q.phi < 1.5 and 1.0 <= q4.phi < 1.5


def test_a_population_with_the_default_profile_gets_no_correction():
    q = _estimate(_background(2000, 2, seed=3, profile=DEFAULT))
    sd = np.sqrt(np.diag(q.cov))
    assert np.all(np.abs(q.coef) < 3 * sd), (q.coef, sd)


def test_clumped_background_counts_as_fewer_reports():
    # every call repeated three times: the same 3000 reports carry a third of the information
    plain = _estimate(_background(3000, 3, seed=4, profile=_true_profile()))
    clumped = _estimate(_background(3000, 3, seed=4, profile=_true_profile(), clump=3))
    assert clumped.phi > 2.0 and plain.phi < 1.5
    assert clumped.sd(0.0) == pytest.approx(plain.sd(0.0) * np.sqrt(3), rel=0.35)


def test_too_few_quiet_reports_or_less_than_a_day_keep_the_assumed_profile():
    assert _estimate(_background(MIN_QUIET_REPORTS * 0.6, 3, seed=5, profile=DEFAULT)) is None
    assert _estimate(_background(3000, 0.8, seed=6, profile=DEFAULT)) is None  # not every clock hour seen
    assert _estimate(ONSET_S + 60.0 * np.arange(1, 5000)) is None  # only the incident's reports
    # the window stops the guard before the onset, whatever comes after it
    start, end, days = quiet_window(np.array([ONSET_S - 2 * 86400.0, ONSET_S + 600.0]), ONSET_S)
    assert end == ONSET_S - QUIET_GUARD_MINUTES * 60.0 and start >= ONSET_S - 2 * 86400.0 and 1.9 < days < 2.0


def test_the_bootstrap_draws_the_learned_covariance():
    chol = np.linalg.cholesky(np.diag([0.05, 0.10, 0.15, 0.20]) ** 2 + 0.002)
    hours = np.arange(0, 24, 0.25)
    factor = profile_perturbation(hours, np.random.default_rng(0), 20000, 0.25, chol)
    coef, *_ = np.linalg.lstsq(profile_basis(hours).T, np.log(factor).T, rcond=None)
    assert np.cov(coef) == pytest.approx(chol @ chol.T, abs=0.003)


def _incident(seed: int) -> np.ndarray:
    """An incident of the library's simulator under the true profile, as UTC seconds."""
    return report_times(
        family="weibull",
        params=[150.0, 1.2],
        rate_per_minute=10.0,
        horizon_minutes=1440.0,
        onset_epoch_s=ONSET_S,
        propensity=list(_true_profile()),
        rng=seed,
    )


def test_the_fit_uses_the_quiet_days_and_their_spread():
    incident = ONSET_S + 60.0 * _incident(7)
    quiet = _background(1500, 2, seed=8, profile=_true_profile())
    kw = {"onset": ONSET, "end": ONSET + dt.timedelta(days=1), "families": ["weibull"], "n_boot": 20, "seed": 1}
    times = np.concatenate([quiet, incident]).astype("datetime64[s]").astype("datetime64[us]")
    fit = fit_down_reports(times, noticing="pooled", profile="quiet", **kw)
    learned = fit.identifiability["clock_profile"]
    assert learned["profile"] == "quiet" and learned["quiet_reports"] == pytest.approx(1500, rel=0.1)
    # the bootstrap's spread: the estimate's own (here about 0.05) and what the quiet days cannot measure
    own = np.asarray(learned["coefficient_sd"])
    assert np.all((own > 0.02) & (own < 0.125)) and learned["transfer_sd"] == QUIET_TRANSFER_SD
    spread = fit.identifiability["reporting_hypotheses"]["profile_spread"]
    assert spread[0] == spread[1] == pytest.approx(np.sqrt(np.mean(own**2) + QUIET_TRANSFER_SD**2), abs=1e-3)
    assert any("learned from" in n for n in fit.notes)
    # the incident's reports alone: the assumed profile and its full spread, and the note says why
    alone = fit_down_reports(incident.astype("datetime64[s]").astype("datetime64[us]"), noticing="pooled", profile="quiet", **kw)
    assert "clock_profile" not in alone.identifiability
    assert alone.identifiability["reporting_hypotheses"]["profile_spread"] == [0.25, 0.25]
    assert any("clock profile assumed: 0 report(s)" in n for n in alone.notes)
    for key in ("t50", "t90", "t99"):
        e = getattr(fit, key)
        assert e.low <= e.value <= e.high, (key, e)
