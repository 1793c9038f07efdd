"""Recovery curve from a time series of the share of customers or devices online (``online_fraction``).

Model: the share of all customers out at time t after onset is

    y(t) = c·S(t) + e(t),

with c the share affected at onset and e an Ornstein–Uhlenbeck process (standard deviation
σ, time constant τ), because a scraped outage map wanders slowly rather than jumping
independently at every reading. The exact Gaussian likelihood of an OU process at irregular
times keeps the fit honest about autocorrelation: treating 400 correlated readings as 400
independent ones would make the intervals far too narrow. Intervals: parametric bootstrap
(new OU noise around the fitted curve at the same reading times, refit), with the noise
parameters first corrected for their small-sample bias by a pilot bootstrap (see
:meth:`OnlineEvidence.simulation_theta`).

Real feeds have defects. Before fitting, the series is screened and every reading gets a
visible ``flag`` in :attr:`RecoveryFit.data_quality`:

* ``dropout`` / ``spike``: short excursions (≤ ``max_dropout_run`` readings) to below half
  (or above twice) the median of the surrounding readings, which then come back — feed or
  parser glitches, left out of the fit. Only where the level is at least 5% of the peak and
  the jump too, so noise around zero at the end of an outage is not taken for glitches;
* ``stale``: a value repeated unchanged for ``stale_minutes`` or longer — a frozen feed;
  only the first reading of the run is kept (repeated values below 1% of the peak are "all
  restored", not stale);
* ``flat``: a stretch of at least six hours over which the value changes by less than 1% of
  the peak — kept (it may be a real pause in restoration) but shown;
* ``before_onset``, ``after_end``, ``missing``: outside the fitted window or empty.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from analysis.errors import FitError, ParameterError
from analysis.recovery._time import as_times, epoch_seconds, from_epoch_seconds, to_utc
from analysis.recovery.engine import choose, fit_candidates
from analysis.recovery.families import RecoveryFamily, resolve_candidates
from analysis.recovery.outage_screen import runs
from analysis.recovery.propensity import check_timezone
from analysis.recovery.report_input import check_options
from analysis.recovery.result import Diagnostics, RecoveryFit, innovation_diagnostics
from analysis.recovery.uncertainty import assemble_fit, fit_spec

INF = math.inf


# --------------------------------------------------------------------------- evidence


def _ou_loglik(r: np.ndarray, dtm: np.ndarray, sigma: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Exact Gaussian log-likelihood of OU residuals ``r`` (last axis = time)."""
    rho = np.exp(-dtm / tau)
    var = sigma**2 * (1.0 - rho**2)
    innov = r[..., 1:] - rho * r[..., :-1]
    ll0 = -0.5 * (np.log(2 * np.pi * sigma**2) + (r[..., :1] / sigma) ** 2)
    ll = -0.5 * (np.log(2 * np.pi * var) + innov**2 / var)
    return ll0.sum(axis=-1) + ll.sum(axis=-1)


@dataclass(frozen=True, eq=False)
class OnlineEvidence:
    """Share out y at minutes t after onset; nuisance c (affected share), σ, τ (OU noise)."""

    t: np.ndarray
    y: np.ndarray
    kind: str = "online_fraction"
    extra_names: tuple[str, ...] = ("affected_share_", "noise_sd_", "noise_minutes_")
    profiled_names: tuple[str, ...] = ()
    dt: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dt", np.diff(self.t))

    @property
    def n_obs(self) -> float:
        """Number of readings used."""
        return float(self.t.size)

    @property
    def horizon(self) -> float:
        """Last reading, minutes after onset."""
        return float(self.t[-1])

    @property
    def extra_bounds(self) -> tuple[tuple[float, float], ...]:
        """Return bounds: c in (0, ∞), σ in (0, ∞), τ in (0, 100 × the span)."""
        return ((0.0, INF), (0.0, INF), (0.0, 100.0 * max(self.horizon, 1.0)))

    def _y0(self) -> float:
        return float(np.median(self.y[: min(3, self.y.size)]))

    def extra_start(self) -> list[float]:
        """Return starting values: c from the first readings, σ from successive differences, τ a few readings."""
        y0 = max(self._y0(), 1e-6)
        sd = float(np.std(np.diff(self.y)) / math.sqrt(2)) if self.y.size > 2 else 0.01 * y0
        step = float(np.median(self.dt)) if self.dt.size else 1.0
        return [y0, max(sd, 1e-3 * y0), 4.0 * step]

    def delay_upper(self) -> float:
        """Return the largest delay: it must end before the last reading."""
        return 0.999 * self.horizon

    def typical_time(self) -> float:
        """Median time from the decline seen: exponential through the first and last levels."""
        y0 = max(self._y0(), 1e-12)
        f = float(np.clip(np.median(self.y[-3:]) / y0, 0.05, 0.95))
        return self.horizon * math.log(2) / -math.log(f)

    def loglik(self, family: RecoveryFamily, theta: np.ndarray) -> float:
        """OU log-likelihood of y − c·S(t)."""
        k = family.n_params
        c, sigma, tau = theta[k], theta[k + 1], theta[k + 2]
        r = self.y - c * family.sf(self.t, theta[:k])
        ll = float(_ou_loglik(r, self.dt, sigma, tau))
        return ll if math.isfinite(ll) else -INF

    def profiled(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """Nothing profiled."""
        del family, theta
        return np.empty(0)

    def fitted(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """c·S(t) at the readings."""
        k = family.n_params
        return theta[k] * family.sf(self.t, theta[:k])

    def simulation_theta(self, family: RecoveryFamily, theta: np.ndarray, pilot: np.ndarray) -> np.ndarray:
        """Noise parameters corrected for their bias, measured on pilot replicates (log scale).

        σ and τ estimated around a fitted curve are too small (the curve absorbs part of the
        slow noise), and a bootstrap simulated from them gives too narrow intervals. With
        b = mean(log σ*) − log σ̂ over the pilot refits, the main bootstrap uses
        log σ̂ − b (and likewise τ), capped at a factor of 3.
        """
        k = family.n_params
        out = np.asarray(theta, dtype=float).copy()
        if pilot.shape[0] < 10:
            return out
        for j in (k + 1, k + 2):
            bias = float(np.mean(np.log(pilot[:, j]))) - math.log(out[j])
            out[j] = out[j] * math.exp(float(np.clip(-bias, 0.0, math.log(3.0))))
        return out

    def as_batch(self, n: int) -> OnlineBatch:
        """The observed series repeated ``n`` times: for evaluating n parameter vectors at once."""
        return OnlineBatch(self, np.tile(self.y, (n, 1)))

    def simulate_batch(self, family: RecoveryFamily, theta: np.ndarray, rng: np.random.Generator, n: int) -> OnlineBatch:
        """Draw ``n`` series: the fitted curve plus fresh OU noise at the same reading times."""
        k = family.n_params
        sigma, tau = theta[k + 1], theta[k + 2]
        mean = self.fitted(family, theta)
        e = np.empty((n, self.t.size))
        e[:, 0] = rng.normal(0.0, sigma, n)
        rho = np.exp(-self.dt / tau)
        z = rng.normal(0.0, 1.0, (n, self.t.size))
        for i in range(1, self.t.size):
            e[:, i] = rho[i - 1] * e[:, i - 1] + sigma * math.sqrt(1.0 - rho[i - 1] ** 2) * z[:, i]
        return OnlineBatch(self, mean[None, :] + e)


@dataclass(frozen=True, eq=False)
class OnlineBatch:
    """B simulated series on the reading times of one :class:`OnlineEvidence`."""

    base: OnlineEvidence
    y: np.ndarray

    def loglik(self, family: RecoveryFamily, theta: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """OU log-likelihood of replicates ``rows`` at their own parameters."""
        y = self.y if rows is None else self.y[rows]
        k = family.n_params
        c, sigma, tau = theta[:, k : k + 1], theta[:, k + 1 : k + 2], theta[:, k + 2 : k + 3]
        r = y - c * family.sf(self.base.t, theta[:, :k])
        ll = _ou_loglik(r, self.base.dt, sigma, tau)
        return np.where(np.isfinite(ll), ll, -INF)

    def profiled(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """Nothing profiled."""
        del family
        return np.empty((np.asarray(theta).shape[0], 0))


# --------------------------------------------------------------------------- screening


def screen_series(
    minutes: np.ndarray,
    values: np.ndarray,
    *,
    horizon: float,
    ratio: float = 0.5,
    max_dropout_run: int = 8,
    stale_minutes: float = 120.0,
    window: int = 12,
) -> np.ndarray:
    """Flag each reading: ``ok``, ``dropout``, ``spike``, ``stale``, ``flat``, ``before_onset``, ``after_end``, ``missing``.

    See the module docstring for the rules. ``values`` may contain NaN (missing).
    """
    n = values.size
    flag = np.full(n, "ok", dtype=object)
    flag[np.isnan(values)] = "missing"
    flag[(minutes < 0) & (flag == "ok")] = "before_onset"
    flag[(minutes > horizon) & (flag == "ok")] = "after_end"
    idx = np.nonzero(flag == "ok")[0]
    if idx.size >= 3:
        v = values[idx]
        pad = np.concatenate([np.full(window, np.nan), v, np.full(window, np.nan)])
        win = sliding_window_view(pad, 2 * window + 1).copy()
        win[:, window] = np.nan  # the neighbours only
        with warnings.catch_warnings():  # all-NaN windows at the edges are expected
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(win, axis=1)
        peak = float(np.nanmax(np.abs(v))) or 1.0
        # relative excursions only mean something where the level is a real share of the peak,
        # and only count when large in absolute terms too (noise around zero is not a glitch)
        big = np.abs(v - med) > 0.05 * peak
        low = (v < ratio * med) & (med > 0.05 * peak) & big
        high = (v > med / ratio) & (v > 0.05 * peak) & big
        for mask, name in ((low, "dropout"), (high, "spike")):
            for a, b in runs(mask):
                if b - a > max_dropout_run or a == 0 or b >= v.size:
                    continue
                before, after = v[a - 1], v[b]
                # a glitch comes back: the reading after it is near the one before it
                comes_back = after >= ratio * before if name == "dropout" else after <= before / ratio
                if comes_back:
                    flag[idx[a:b]] = name
    # stale: identical consecutive readings spanning stale_minutes or more (keep the first)
    idx = np.nonzero(flag == "ok")[0]
    if idx.size >= 2:
        v = values[idx]
        level = 0.01 * (float(np.nanmax(np.abs(v))) or 1.0)  # a repeated ~0 is "all restored", not a frozen feed
        same = np.concatenate([[False], (v[1:] == v[:-1]) & (np.abs(v[1:]) > level)])
        for a, b in runs(same):
            first = a - 1
            if minutes[idx[b - 1]] - minutes[idx[first]] >= stale_minutes:
                flag[idx[a:b]] = "stale"
    # flat: ≥ 6 h with a range below 1% of the peak (informational; kept in the fit)
    idx = np.nonzero(flag == "ok")[0]
    if idx.size >= 3:
        v, m = values[idx], minutes[idx]
        peak = float(np.nanmax(np.abs(v))) or 1.0
        j = 0
        for i in range(idx.size):
            j = max(j, i)
            while j + 1 < idx.size and np.ptp(v[i : j + 2]) < 0.01 * peak:
                j += 1
            if m[j] - m[i] >= 360.0:
                flag[idx[i : j + 1]] = "flat"
    return flag.astype(str)


# --------------------------------------------------------------------------- public fitter


def _share(series: pl.DataFrame, total: float | None) -> tuple[np.ndarray, str]:
    """Compute the share out from whichever value columns the series has, and how it was normalised."""
    cols = set(series.columns)

    def col(name: str) -> np.ndarray:
        return series.get_column(name).cast(pl.Float64).to_numpy()

    if "online_fraction" in cols:
        f = col("online_fraction")
        if np.nanmin(f) < 0 or np.nanmax(f) > 1:
            raise ParameterError("series.online_fraction: values must lie in [0, 1]")
        return 1.0 - f, "1 − online_fraction"
    if {"online", "total"} <= cols:
        return 1.0 - col("online") / col("total"), "1 − online / total"
    if "out" in cols:
        out = col("out")
        if "total" in cols:
            return out / col("total"), "out / total"
        if total is not None:
            if not (total > 0 and math.isfinite(total)):
                raise ParameterError(f"total must be a positive number, got {total}")
            return out / float(total), f"out / {total:g}"
        peak = float(np.nanmax(out))
        if not peak > 0:
            raise FitError("series.out: no customer is ever out")
        return out / peak, "out / peak (S relative to the worst reading)"
    raise ParameterError(f"series: need 'online_fraction', 'online' + 'total', or 'out' (+ 'total'); got {sorted(cols)}")


def fit_online_fraction(
    series: pl.DataFrame,
    *,
    onset: dt.datetime | None,
    end: dt.datetime | None = None,
    total: float | None = None,
    timezone: str = "Europe/Brussels",
    families: Sequence[str] | Literal["all"] = "all",
    level: float = 0.9,
    n_boot: int = 200,
    seed: int = 0,
    stale_minutes: float = 120.0,
    max_dropout_run: int = 8,
) -> RecoveryFit:
    """Fit S(t) to a series of the share of customers online (or out), with defects flagged.

    Parameters
    ----------
    series : polars DataFrame
        ``observed_at`` (UTC) and one of ``online_fraction`` (0–1), ``online`` + ``total``,
        or ``out`` (+ ``total`` column or argument; alone, shares are relative to the peak).
    onset : datetime or None
        Start of restoration (UTC). None: the time of the highest share out among the clean
        readings (``onset_source = "estimated"``).
    end : datetime, optional
        Last time used (UTC); default the last reading.
    total : float, optional
        Customers served, when the series has ``out`` but no ``total`` column.
    timezone, families, level, n_boot, seed
        As in :func:`fit_down_reports`; intervals from a parametric bootstrap.
    stale_minutes, max_dropout_run
        Screening thresholds (see the module docstring).

    Returns
    -------
    RecoveryFit
        ``data_quality`` lists every reading with its flag; ``summary`` includes the affected
        share c and the noise parameters.
    """
    check_options(level, n_boot, seed)
    check_timezone(timezone)
    names = resolve_candidates(families)
    series, tv = _read_series(series)
    y, norm = _share(series, total)
    screen: dict[str, Any] = {"max_dropout_run": max_dropout_run, "stale_minutes": stale_minutes}
    onset_s, onset_source, end_s, horizon = _clock(tv, y, onset=onset, end=end, screen=screen)
    minutes = (tv - onset_s) / 60.0
    flags = screen_series(minutes, y, horizon=horizon, **screen)
    use = np.isin(flags, ["ok", "flat"])
    if use.sum() < 5:
        raise FitError(f"online_fraction: {int(use.sum())} clean reading(s) after the onset; at least 5 are needed")
    ev = OnlineEvidence(minutes[use], y[use])
    t1 = time.perf_counter()
    cands = fit_candidates(ev, names, level=level)
    best = choose(cands, what="online_fraction")
    t2 = time.perf_counter()
    quality = series.select("observed_at").with_columns(
        pl.Series("minutes", minutes), pl.Series("share_out", y), pl.Series("flag", flags), pl.Series("used", use)
    )
    counts = {f: int((flags == f).sum()) for f in np.unique(flags) if f != "ok"}
    notes = [f"share out = {norm}"] + [f"{v} reading(s) flagged {k}" for k, v in sorted(counts.items())]
    used_times = series.get_column("observed_at").filter(pl.Series(use))
    spec = fit_spec(
        "online_fraction",
        ev,
        cands,
        level=level,
        n_boot=n_boot,
        seed=seed,
        method_noun="parametric bootstrap (Ornstein–Uhlenbeck noise)",
        onset=from_epoch_seconds(onset_s),
        onset_source=onset_source,
        end=from_epoch_seconds(end_s),
        timezone=timezone,
        per_model=lambda c: {"diagnostics": _diagnostics(ev, c.family, c.theta, used_times, level)},
        data_quality=quality,
        notes=tuple(notes),
        timings={"fit": t2 - t1},
    )
    return assemble_fit(spec, best.name, averaged=True)


def _read_series(series: Any) -> tuple[pl.DataFrame, np.ndarray]:
    """The series sorted by time and its times (seconds since the epoch); one clear error when unusable."""
    if not isinstance(series, pl.DataFrame):
        raise ParameterError(f"series: expected a polars DataFrame, got {type(series).__name__}")
    if "observed_at" not in series.columns:
        raise ParameterError(f"series: missing column 'observed_at'; got {series.columns}")
    if series.height < 5:
        raise FitError(f"online_fraction: {series.height} reading(s); at least 5 are needed")
    series = series.sort("observed_at")
    kind, tv = as_times(series.get_column("observed_at"), "series.observed_at")
    if kind != "epoch":
        raise ParameterError("series.observed_at: expected UTC datetimes")
    return series, tv


def _clock(
    tv: np.ndarray, y: np.ndarray, *, onset: dt.datetime | None, end: dt.datetime | None, screen: dict[str, Any]
) -> tuple[float, str, float, float]:
    """Onset (given, or the highest clean share out), its source, end (seconds) and the horizon (minutes)."""
    end_s = epoch_seconds(to_utc(end, "end")) if end is not None else float(tv.max())
    onset_source = "config"
    if onset is None:
        pre = screen_series(np.zeros_like(tv), y, horizon=INF, **screen)
        ok = (pre == "ok") & (tv <= end_s)
        if not ok.any():
            raise FitError("online_fraction: no clean reading to take the onset from")
        onset_s = float(tv[ok][int(np.argmax(y[ok]))])
        onset_source = "estimated"
    else:
        onset_s = epoch_seconds(to_utc(onset, "onset"))
    horizon = (end_s - onset_s) / 60.0
    if not horizon > 0:
        raise ParameterError("end must be after the onset")
    return onset_s, onset_source, end_s, horizon


def _diagnostics(ev: OnlineEvidence, family: RecoveryFamily, theta: np.ndarray, times: pl.Series, level: float) -> Diagnostics:
    """Observed vs fitted series and standardised OU innovations (N(0, 1) under the model)."""
    k = family.n_params
    fit = ev.fitted(family, theta)
    r = ev.y - fit
    sigma, tau = theta[k + 1], theta[k + 2]
    table = pl.DataFrame({"observed_at": times, "minutes": ev.t, "observed": ev.y, "fitted": fit, "residual": r})
    note = "residual = standardised Ornstein–Uhlenbeck innovation, N(0, 1) if the model holds; KS against N(0, 1)"
    return innovation_diagnostics(table, dt=ev.dt, sigma=sigma, tau=tau, level=level, note=note)
