"""Two pieces of a report forecast read from the same fit: their errors are correlated, so together they count for less."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import nowcast_eta
from analysis.nowcast_eta import SAME_FIT_CORRELATION, EtaForecast, model_average, trusted_posterior


def test_without_links_the_posterior_is_the_precision_combination() -> None:
    prior = (math.log(600.0), 0.5)
    parts = [(math.log(500.0), 0.3), (math.log(700.0), 0.4)]
    _, mu, sd = trusted_posterior(parts, [0, 1], prior)
    precision = 1 / 0.5**2 + 1 / 0.3**2 + 1 / 0.4**2
    expected = (prior[0] / 0.5**2 + parts[0][0] / 0.3**2 + parts[1][0] / 0.4**2) / precision
    assert mu == pytest.approx(expected) and sd == pytest.approx(math.sqrt(1 / precision))
    # one linked piece alone has nothing to be correlated with
    assert trusted_posterior(parts, [0, 1], prior, [True, False])[1:] == pytest.approx((mu, sd))


def test_two_linked_pieces_count_for_less_than_two_independent_ones() -> None:
    """Equal spreads s and correlation ρ: the pair's precision is 2 / (s²(1 + ρ)), not 2 / s²."""
    assert 0 < SAME_FIT_CORRELATION < 1
    prior, s = (math.log(600.0), 0.5), 0.3
    parts = [(math.log(500.0), s), (math.log(520.0), s)]
    _, mu_free, sd_free = trusted_posterior(parts, [0, 1], prior)
    _, mu, sd = trusted_posterior(parts, [0, 1], prior, [True, True])
    precision = 1 / 0.5**2 + 2 / (s**2 * (1 + SAME_FIT_CORRELATION))
    assert sd == pytest.approx(math.sqrt(1 / precision)) and sd > sd_free
    pair = (parts[0][0] + parts[1][0]) / 2
    assert mu == pytest.approx((prior[0] / 0.5**2 + pair * (precision - 1 / 0.5**2)) / precision)
    assert mu > mu_free  # less pull away from the prior median (600) toward the pair (about 510)


def test_only_the_trusted_pieces_enter_and_none_gives_the_prior() -> None:
    prior = (math.log(600.0), 0.5)
    parts = [(math.log(500.0), 0.3), (math.log(520.0), 0.3), (math.log(900.0), 0.8)]
    logl, mu, sd = trusted_posterior(parts, [], prior, [True, True, False])
    assert (logl, mu, sd) == (0.0, prior[0], prior[1])
    one = trusted_posterior(parts, [0, 2], prior, [True, True, False])
    assert one[1:] == pytest.approx(trusted_posterior(parts, [0, 2], prior)[1:])


def test_the_averaged_forecast_is_wider_with_the_link(monkeypatch: pytest.MonkeyPatch) -> None:
    prior = (math.log(600.0), 0.5)
    parts = [(math.log(500.0), 0.25), (math.log(540.0), 0.25)]

    def width(linked: list[bool] | None) -> float:
        x, w = model_average(parts, prior, 60.0, 4000, linked=linked)
        lo, hi = EtaForecast(0.9, x, w).interval(0.9)
        return math.log(hi / lo)

    linked, free = width([True, True]), width(None)
    assert linked > free * 1.05
    monkeypatch.setattr(nowcast_eta, "SAME_FIT_CORRELATION", 0.0)
    assert width([True, True]) == pytest.approx(free, rel=1e-9)
    assert np.isfinite(linked)
