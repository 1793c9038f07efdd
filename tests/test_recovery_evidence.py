"""Report evidence with windows: one likelihood term per distinct window, bootstrap windows drawn per cell."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest
from scipy import optimize

from analysis.recovery import make_family
from analysis.recovery.dispersion import NO_DISPERSION, Dispersion, clumping_for
from analysis.recovery.engine import fit_candidate
from analysis.recovery.evidence import ReportEvidence, merge_windows, window_matrix
from analysis.recovery.reports import build_report_evidence
from analysis.simulate import report_times

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)  # on the 5-minute grid: every bin is 5 minutes
HORIZON = 28 * 60.0
WEIBULL = make_family("weibull")


def _exact(seed: int = 1) -> np.ndarray:
    return report_times(
        family="weibull",
        params=[90.0, 1.3],
        rate_per_minute=3.0,
        horizon_minutes=HORIZON,
        onset_epoch_s=ONSET.timestamp(),
        rng=seed,
    )


# hour cells of the clock (minutes after onset) and how many reports each holds
HOUR_CELLS = [(0.0, 60.0, 40), (60.0, 120.0, 25), (120.0, 180.0, 9), (240.0, 300.0, 3)]


def _evidence(scale: int = 1, cells: list[tuple[float, float, int]] = HOUR_CELLS) -> ReportEvidence:
    """Exact Weibull reports plus hour-cell windows, one window row per windowed report."""
    start = np.concatenate([np.full(c * scale, a) for a, _, c in cells])
    end = np.concatenate([np.full(c * scale, b) for _, b, c in cells])
    ev, _ = build_report_evidence(_exact(), horizon=HORIZON, onset_epoch=ONSET.timestamp(), win_start=start, win_end=end)
    return ev


def _per_report_loglik(ev: ReportEvidence, start: np.ndarray, end: np.ndarray, theta: np.ndarray) -> float:
    """The point-process log-likelihood with one term per windowed report, from the window × bin matrix."""
    m = ev.shape(WEIBULL, theta)
    lam = window_matrix(start, end, ev.edges) @ m
    pos = ev.counts > 0
    n = ev.counts.sum() + start.size
    return float(np.dot(ev.counts[pos], np.log(m[pos] / ev.widths[pos])) + np.log(lam).sum() + n * np.log(n / m.sum()) - n)


# ---------------------------------------------------------------- one term per distinct window


def test_window_rows_per_report_are_merged_and_give_the_per_report_likelihood():
    ev = _evidence()
    reps = ev.win_w.astype(int)
    start, end = np.repeat(ev.win_a, reps), np.repeat(ev.win_b, reps)
    rows = ReportEvidence(ev.edges, ev.g, ev.counts, start, end, np.ones(start.size), np.full(start.size, 60.0))
    assert start.size == 77
    assert rows.win_w.size == len(HOUR_CELLS)  # one likelihood term and one matrix row per distinct window
    assert rows.win.shape == (len(HOUR_CELLS), ev.edges.size - 1)
    assert sorted(rows.win_w.tolist()) == sorted(float(c) for _, _, c in HOUR_CELLS)
    for theta in ([90.0, 1.3], [60.0, 0.8], [300.0, 2.0]):
        th = np.array(theta)
        expected = _per_report_loglik(ev, start, end, th)
        assert rows.loglik(WEIBULL, th) == pytest.approx(expected, rel=1e-10)
        assert ev.loglik(WEIBULL, th) == pytest.approx(expected, rel=1e-10)


def test_grouped_windows_give_the_per_report_estimates():
    ev = _evidence()
    reps = ev.win_w.astype(int)
    start, end = np.repeat(ev.win_a, reps), np.repeat(ev.win_b, reps)
    fit = fit_candidate(ev, "weibull", level=0.9)

    def nll(x: np.ndarray) -> float:
        return -_per_report_loglik(ev, start, end, np.exp(x))

    ref = optimize.minimize(nll, np.log([80.0, 1.0]), method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10})
    assert fit.converged and ref.success
    assert np.allclose(fit.theta[:2], np.exp(ref.x), rtol=1e-3)
    assert fit.loglik == pytest.approx(-ref.fun, abs=1e-5)


def test_merge_windows_sums_counts_and_weights_raw_widths_by_count():
    a, b, c, raw = merge_windows(
        np.array([0.0, 60.0, 0.0]), np.array([60.0, 120.0, 60.0]), np.array([2.0, 1.0, 6.0]), np.array([90.0, 60.0, 60.0])
    )
    order = np.argsort(a)
    assert a[order].tolist() == [0.0, 60.0]
    assert b[order].tolist() == [60.0, 120.0]
    assert c[order].tolist() == [8.0, 1.0]
    assert raw[order].tolist() == pytest.approx([(2 * 90.0 + 6 * 60.0) / 8, 60.0])


# ---------------------------------------------------------------- the bootstrap's windows


def _grid_cells_upper_bound(ev: ReportEvidence) -> int:
    nb = ev.edges.size - 1
    return sum(len(ph) * (nb // w + 2) for w, (ph, _q) in ev.window_phases.items())


def test_bootstrap_window_rows_do_not_grow_with_the_windowed_reports():
    theta = np.array([90.0, 1.3])
    per_rep = []
    for scale in (1, 100):
        ev = _evidence(scale)
        assert ev.win_w.size == len(HOUR_CELLS)
        assert ev.win_w.sum() == 77 * scale
        batch = ev.simulate_batch(WEIBULL, theta, np.random.default_rng(0), 50)
        rows = np.bincount(batch.w_rep, minlength=50)
        assert rows.max() <= _grid_cells_upper_bound(ev)
        per_rep.append(rows.mean())
    # a hundred times the windowed reports: the same hour cells, not a hundred times the rows
    assert per_rep[1] < 3 * per_rep[0]
    assert _grid_cells_upper_bound(ev) < 40  # 336 five-minute bins, one grid of hour cells


def test_bootstrap_windows_lie_on_the_observed_clock_grid():
    # half-hour cells of the clock starting at :30 of the onset hour (30 minutes in): phase 6 on 5-minute bins
    cells = [(30.0 + 60.0 * i, 90.0 + 60.0 * i, 5) for i in range(6)] + [(0.0, 30.0, 4)]  # the first one clipped at the onset
    ev = _evidence(cells=cells)
    raw = np.array([60.0] * ev.win_w.size)
    ev = replace(ev, win_raw_widths=raw)
    assert set(ev.window_phases) == {12}
    phases, share = ev.window_phases[12]
    assert phases.tolist() == [6] and share.tolist() == [1.0]
    batch = ev.simulate_batch(WEIBULL, np.array([90.0, 1.3]), np.random.default_rng(1), 200)
    start = batch.w_ia + batch.w_fa.astype(int)
    end = batch.w_ib + batch.w_fb.astype(int)
    assert batch.w_cnt.size > 0
    assert np.all((start == 0) | (start % 12 == 6))
    assert np.all((end == ev.edges.size - 1) | (end % 12 == 6))


@pytest.mark.parametrize("phi", [1.0, 4.0])
def test_bootstrap_counts_have_the_fitted_expectation_per_window(phi):
    ev = _evidence()
    theta = np.array([90.0, 1.3])
    disp = NO_DISPERSION if phi == 1.0 else Dispersion(phi, phi, 10, float("nan"), 0, "pearson")
    ev = replace(ev, clumping=clumping_for(ev, disp))
    n = 4000
    batch = ev.simulate_batch(WEIBULL, theta, np.random.default_rng(7), n)
    mu = ev.expected(WEIBULL, theta)
    share = ev.win_w.sum() / ev.n_obs
    # every hour cell of the grid the observed windows lie on, with its expected count
    nb = mu.size
    lo = np.arange(0, nb, 12)
    hi = np.minimum(lo + 12, nb)
    cum = np.concatenate([[0.0], np.cumsum(mu)])
    expected = share * (cum[hi] - cum[lo])
    start = batch.w_ia + batch.w_fa.astype(int)
    assert set(np.unique(start).tolist()) <= set(lo.tolist())
    cell = np.searchsorted(lo, start)
    counts = np.zeros((n, lo.size))
    np.add.at(counts, (batch.w_rep, cell), batch.w_cnt)
    mean, var = counts.mean(axis=0), counts.var(axis=0)
    busy = expected > 1.0
    assert busy.sum() >= 3
    se = np.sqrt(phi * expected[busy] / n)
    assert np.all(np.abs(mean[busy] - expected[busy]) < 4.5 * se)
    assert np.allclose(var[busy] / expected[busy], phi, rtol=0.2)
    # exactly timed reports keep the other share of every bin
    exact = np.zeros((n, nb))
    np.add.at(exact, (batch.e_rep, batch.e_bin), batch.e_cnt)
    head = slice(0, 24)
    assert exact[:, head].mean(axis=0).sum() == pytest.approx((1 - share) * mu[head].sum(), rel=0.02)


@pytest.mark.parametrize("name", ["weibull", "mixture+delay"])
def test_many_parameter_rows_give_each_row_its_own_bin_integrals(name, monkeypatch):
    # rows are evaluated in blocks that fit the processor's cache: the result must be the
    # one of every row on its own, including a delay inside a bin and a delay on a bin edge
    from analysis.recovery import evidence

    ev = _evidence()
    fam = make_family(name)
    fam.delay_upper = ev.delay_upper()
    base = np.array([90.0, 1.3]) if name == "weibull" else np.array([60.0, 1.2, 0.1, 600.0, 42.5])
    rng = np.random.default_rng(4)
    theta = base * rng.uniform(0.8, 1.2, (37, base.size))
    if fam.delay:
        theta[3, -1] = 45.0  # exactly on a bin edge
    one_by_one = np.vstack([ev.shape(fam, th) for th in theta])
    monkeypatch.setattr(evidence, "BLOCK_VALUES", 5 * ev.nodes.size)  # blocks of 5 rows, the last one of 2
    np.testing.assert_array_equal(ev.shape(fam, theta), one_by_one)
    batch = ev.as_batch(theta.shape[0])
    expected = np.array([ev.loglik(fam, th) for th in theta])
    np.testing.assert_allclose(batch.loglik(fam, theta), expected, rtol=1e-12)
