"""Bridges across holes in a customers-out series, and the tail after the window (analysis.recovery.outage_bridges)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.recovery.outage_bridges import blend_tails, bridges, decay_tails, end_decay, hole_areas, hole_indices, tail_scale

STEP = 15.0


def _series(curve, hole: tuple[float, float]):
    t = np.arange(0.0, 24 * 60 + 1, STEP)
    keep = (t <= hole[0]) | (t >= hole[1])
    return t[keep], curve(t[keep])


def test_holes_are_gaps_of_more_than_one_and_a_half_steps():
    t = np.array([0.0, 15.0, 30.0, 75.0, 90.0, 150.0])
    assert hole_indices(t, STEP).tolist() == [2, 4]


def test_on_a_straight_stretch_the_bridges_agree_and_add_nothing():
    line = lambda u: 0.9 - 0.0004 * np.asarray(u)  # noqa: E731
    t, y = _series(line, (600.0, 720.0))
    b = bridges(t, y, STEP, line)
    assert b.holes == 1
    assert b.shift == pytest.approx(0.0, abs=1e-9)
    assert b.variance == pytest.approx(0.0, abs=1e-12)


def test_over_a_top_the_bridges_fill_what_the_chord_leaves_and_their_spread_covers_the_rest():
    """A 3-h hole over the top of a parabola: the chord under-fills it; the mean bridge is closer, its SD reaches the truth."""
    top = lambda u: np.clip(1.0 - ((np.asarray(u) - 660.0) / 300.0) ** 2, 0.0, None)  # noqa: E731
    t, y = _series(top, (570.0, 750.0))
    u = np.linspace(570.0, 750.0, 721)
    true = float(np.trapezoid(top(u), u))
    i = int(hole_indices(t, STEP)[0])
    areas = hole_areas(t, y, i, top(u[::60]), u[::60])
    assert len(areas) == 3
    chord = areas[0]
    assert chord < true - 5.0  # the chord under-fills the top by ≈ 11 shares × minutes
    b = bridges(t, y, STEP, top)
    assert b.shift > 0
    assert abs(chord + b.shift - true) < abs(chord - true)
    assert abs(chord + b.shift - true) < 2.0 * math.sqrt(b.variance)


def test_a_model_that_misses_the_top_is_one_bridge_among_three():
    """A model curve flat across the hole: the bridges disagree, and the disagreement is the variance."""
    top = lambda u: np.clip(1.0 - ((np.asarray(u) - 660.0) / 300.0) ** 2, 0.0, None)  # noqa: E731
    t, y = _series(top, (570.0, 750.0))
    flat = lambda u: np.full(np.shape(u), 0.5)  # noqa: E731
    b_flat = bridges(t, y, STEP, flat)
    b_true = bridges(t, y, STEP, top)
    assert b_flat.shift < b_true.shift
    assert b_flat.variance > 0


def test_the_tail_is_scaled_down_to_the_readings_only_when_clearly_above_them():
    ends = np.array([0.04, 0.0042, 0.0038, 1e-12, 0.002])
    scale = tail_scale(ends, 0.004, 0.05)
    assert scale[0] == pytest.approx(0.1)  # the model 10x above the readings: down to them
    assert scale[1] == 1.0 and scale[2] == 1.0  # within twice the noise: the model's tail stands
    assert scale[3] == 1.0  # a curve at zero: nothing to scale
    assert scale[4] == 1.0  # below the readings: never up
    assert (tail_scale(ends, 0.004, 0.0) <= 1.0).all()


def _decline(rate_per_hour: float, noise: float, seed: int = 0):
    """Two days of readings after a peak at minute 0: exp(−rate·t), with lognormal noise."""
    t = np.arange(0.0, 48 * 60 + 1, STEP)
    rng = np.random.default_rng(seed)
    return t, np.exp(-rate_per_hour * t / 60.0 + noise * rng.standard_normal(t.size))


def test_the_readings_decline_at_the_end_is_measured_over_their_last_fall_by_e():
    t, y = _decline(0.1, 0.02)
    level = float(np.median(y[-3:]))
    d = end_decay(t, y, 0.0, level, 4)
    assert d is not None
    assert d.slope * 60 == pytest.approx(-0.1, rel=0.05)
    assert d.n == pytest.approx(10 * 60 / STEP, abs=3)  # a fall by e at 0.1/h: ten hours of readings
    assert math.exp(d.log_level) == pytest.approx(level, rel=0.05)
    tails = decay_tails(d, 4000, np.random.default_rng(1))
    assert (tails > 0).all()
    assert np.median(tails) == pytest.approx(level * 600.0, rel=0.05)  # level / rate, in minutes


def test_flat_readings_or_too_few_give_no_decline():
    t, y = _decline(0.0, 0.05)
    assert end_decay(t, y, 0.0, float(np.median(y[-3:])), 4) is None
    t, y = _decline(0.1, 0.02)
    assert end_decay(t[:5], y[:5], 0.0, float(y[4]), 4) is None
    assert end_decay(t, y, t[-4], float(y[-1]), 4) is None  # from the peak on: three readings
    t, y = _decline(0.015, 0.01)  # two days falling by 0.72 in log: not yet by e
    assert end_decay(t, y, 0.0, float(np.median(y[-3:])), 4) is None
    assert end_decay(t, y, 0.0, float(np.median(y[-3:])) / 2.0, 4) is not None  # the same readings, a lower end


def test_two_tails_blended_mean_between_them_spread_from_their_difference():
    rng = np.random.default_rng(2)
    same = blend_tails(np.full(5000, 3.0), np.full(5000, 3.0), rng)
    assert np.allclose(same, 3.0)  # agreeing tails add nothing uncertain
    apart = blend_tails(np.full(20000, 3.0), np.full(20000, 1.0), rng)
    assert apart.mean() == pytest.approx(2.0, rel=0.03)
    assert apart.std() == pytest.approx(math.sqrt(2.0), rel=0.05)
    assert (apart > 0).all()
    lo, hi = np.quantile(apart, [0.05, 0.95])
    assert lo < 1.0 and hi > 3.0  # the 90 % range holds both tails


def test_an_infinite_or_zero_model_tail_blends_without_nan():
    out = blend_tails(np.array([math.inf, 0.0, 2.0]), np.array([1.0, 0.0, 2.0]), np.random.default_rng(3))
    assert out[0] == math.inf and out[1] == 0.0 and out[2] == pytest.approx(2.0)
