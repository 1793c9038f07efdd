"""Restoration numbers from a customers-out series (EAGLE-I, scraped outage maps).

A utility's count of customers without power, every 15 minutes, is the number in service
of an infinite-server queue (Ji/Wei; Dobson): outages begin over the storm's build-up and
each lasts a restoration time, so

    out(t) = N · ∫ a(s) · S(t − s) ds

with N the total number of outages, a the arrival-time density (a Weibull after a location
t₀, see :mod:`analysis.recovery.outage_model`) and S a recovery family. Readings carry
Ornstein–Uhlenbeck noise on the scale of the peak. Each restoration family is fitted by
maximum likelihood, the families are weighted by AIC, and the intervals come from a
model-averaged parametric bootstrap (the fitted mean plus fresh OU noise at the same
reading times, refitted; the noise parameters first corrected for their small-sample
bias by a pilot bootstrap). Every headline number is the median of its replicates and its
interval their equal-tailed percentiles, so a number always lies in its interval.

Two different times come out of it — say which one a number is:

* the **crossing** ``crossing(p)``: when the county's count falls below (1 − p) × peak for
  good — a property of the series, in minutes after onset or after the peak;
* the **restoration time** ``restoration_quantile(p)``: the p-quantile of S, how long one
  customer's outage lasts.

Defective readings are flagged and dropped before fitting (:mod:`outage_screen`).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from analysis.errors import FitError, ParameterError
from analysis.recovery._time import as_times, epoch_seconds, from_epoch_seconds, to_utc
from analysis.recovery.families import FAMILIES, resolve_candidates
from analysis.recovery.outage_model import (
    QueueCandidate,
    QueueEvidence,
    QueueGrid,
    bootstrap_family,
    fit_family,
    noise_correction,
)
from analysis.recovery.outage_result import CustomersOutFit, Draw, candidate_frame
from analysis.recovery.outage_screen import DEFECTS, USED, first_sustained, relapse_mask, screen_present
from analysis.recovery.propensity import check_timezone
from analysis.recovery.report_input import check_options
from analysis.recovery.uncertainty import allocate

LEAD_MINUTES = 1440.0  # arrivals may begin up to a day before the onset (less when a baseline reading is later)
ONSET_SHARE = 0.05  # onset: first reading at 5% of the peak held for an hour


def _prepare(series: pl.DataFrame, total: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float]:
    """Sorted, de-duplicated readings with absent runs inserted as NaN: epoch seconds, out, total, cadence (s)."""
    if not isinstance(series, pl.DataFrame):
        raise ParameterError(f"series: expected a polars DataFrame, got {type(series).__name__}")
    for col in ("observed_at", "out"):
        if col not in series.columns:
            raise ParameterError(f"series: missing column {col!r}; got {series.columns}")
    kind, _ = as_times(series.get_column("observed_at").head(1), "series.observed_at")
    if kind != "epoch":
        raise ParameterError("series.observed_at: expected UTC datetimes")
    aggs = [pl.col("out").cast(pl.Float64).mean().alias("out")]
    if "total" in series.columns:
        aggs.append(pl.col("total").cast(pl.Float64).mean().alias("total"))
    df = series.group_by("observed_at").agg(aggs).sort("observed_at")
    _, ts = as_times(df.get_column("observed_at"), "series.observed_at")
    out = df.get_column("out").to_numpy().astype(float)
    tot = df.get_column("total").to_numpy().astype(float) if "total" in df.columns else None
    if np.any(out[np.isfinite(out)] < 0):
        raise ParameterError("series.out: customers out cannot be negative")
    if total is not None:
        if not (isinstance(total, int | float) and total > 0 and math.isfinite(total)):
            raise ParameterError(f"total must be a positive number, got {total!r}")
        tot = np.full(out.size, float(total))
    if ts.size < 2:
        raise FitError(f"customers_out: {ts.size} reading(s); at least 10 are needed")
    cadence = float(np.median(np.diff(ts)))
    gaps = np.diff(ts)
    extra = [ts[i] + cadence * np.arange(1, round(g / cadence)) for i, g in enumerate(gaps) if g > 1.5 * cadence]
    if extra:
        new_t = np.concatenate(extra)
        ts_all = np.concatenate([ts, new_t])
        order = np.argsort(ts_all, kind="stable")
        out = np.concatenate([out, np.full(new_t.size, np.nan)])[order]
        if tot is not None:
            tot = np.concatenate([tot, np.full(new_t.size, np.nan)])[order]
        ts = ts_all[order]
    return ts, out, tot, cadence


def _typical(t: np.ndarray, y: np.ndarray, peak_i: int) -> float:
    """Restoration time scale seen in the data: exponential decline from the peak to the last readings."""
    span = max(float(t[-1] - t[peak_i]), 60.0)
    f = float(np.clip(np.median(y[-4:]), 0.05, 0.95))
    return span * math.log(2) / -math.log(f)


def fit_customers_out(
    series: pl.DataFrame,
    *,
    onset: dt.datetime | None = None,
    end: dt.datetime | None = None,
    total: float | None = None,
    timezone: str = "UTC",
    families: Sequence[str] | Literal["all"] = "all",
    level: float = 0.9,
    n_boot: int = 200,
    seed: int = 0,
) -> CustomersOutFit:
    """Fit the queue model to a customers-out series, with every reading flagged.

    Parameters
    ----------
    series : polars DataFrame
        ``observed_at`` (UTC Datetime), ``out`` (customers out; null = missing) and
        optionally ``total`` (customers served). Unsorted rows and duplicate times are
        accepted (duplicates are averaged).
    onset : datetime, optional
        Start of the event (UTC). None: the first reading at 5 % of the peak that stays
        there for an hour, ignoring flagged defects (``onset_source = "estimated"``).
    end : datetime, optional
        End of the window (UTC); default the last reading.
    total : float, optional
        Customers served (overrides a ``total`` column); readings above it are flagged.
    timezone : str
        IANA name used for clock times in :meth:`CustomersOutFit.to_metrics`.
    families : "all" or names
        Restoration families (plain names; a delay is not identifiable beside the arrival
        location, so ``+delay`` variants are reduced to their family). "all" fits the five
        single families and the mixture.
    level, n_boot, seed
        Interval level, bootstrap replicates shared among the families by AIC weight, seed.

    Returns
    -------
    CustomersOutFit
    """
    t_start = time.perf_counter()
    check_options(level, n_boot, seed)
    check_timezone(timezone)
    names = _family_names(families)
    ts, out, tot, cadence = _prepare(series, total)
    end_s = epoch_seconds(to_utc(end, "end")) if end is not None else float(ts[-1])
    sc = _screen(ts, out, tot, end_s, onset)
    ev, lead, step = _queue_evidence(sc, out, cadence)
    t1 = time.perf_counter()
    cands, weights, best = _fit_families(ev, names, level)
    t2 = time.perf_counter()
    rng = np.random.default_rng(seed)
    factors = noise_correction(ev, best, rng, min(40, max(n_boot // 5, 10)) if n_boot else 0)
    draws, n_failed = _boot(ev, cands, weights, n_boot=n_boot, rng=rng, factors=factors)
    t3 = time.perf_counter()
    fit = CustomersOutFit(
        model=f"weibull arrivals × {best.name} restoration",
        level=float(level),
        end=from_epoch_seconds(end_s),
        timezone=timezone,
        interval_method="",
        candidates=candidate_frame(cands, weights, QueueGrid(lead + step, step, 2 * sc.horizon + 2880.0)),
        **sc.fit_fields(ts, out),
        n_boot_failed=n_failed,
        timings={"fit": t2 - t1, "bootstrap": t3 - t2},
        log_likelihood=best.loglik,
        aic=best.aic,
        peak_time=from_epoch_seconds(sc.onset_s + 60.0 * ev.peak_minutes),
        total=float(np.nanmedian(tot)) if tot is not None and np.isfinite(tot).any() else None,
        evidence=ev,
        chosen=best,
        cands=tuple(cands),
        draws=draws,
        step=cadence / 60.0,
        noise_factors=factors,
        n_boot=int(n_boot),
        seed=int(seed),
    )
    return fit.finish(time.perf_counter() - t_start)


def _family_names(families: Sequence[str] | Literal["all"]) -> list[str]:
    """The restoration families asked for, ``+delay`` variants reduced to their family."""
    names: list[str] = []
    for n in resolve_candidates(families):
        base = n.split("+")[0]
        if base not in names:
            names.append(base)
    if families == "all":
        names = list(FAMILIES)
    return names


@dataclass(frozen=True, eq=False)
class _Screened:
    """Every reading flagged (``flag``; ``use``: it enters the fit), on the clock of the onset."""

    flag: np.ndarray
    use: np.ndarray
    minutes: np.ndarray  # after the onset
    y_all: np.ndarray  # share of the peak
    peak_out: float
    peak_pos: int  # position of the peak among the readings in the window
    onset_s: float
    onset_source: str
    onset_ci: tuple[dt.datetime, dt.datetime] | None
    horizon: float

    def fit_fields(self, ts: np.ndarray, out: np.ndarray) -> dict[str, Any]:
        """The fields of :class:`CustomersOutFit` the screening decides: onset, peak, data quality and flag counts."""
        return {
            "onset": from_epoch_seconds(self.onset_s),
            "onset_source": self.onset_source,
            "onset_ci": self.onset_ci,
            "peak_out": self.peak_out,
            "data_quality": self.quality(ts, out),
            "flag_counts": {str(f): int((self.flag == f).sum()) for f in np.unique(self.flag)},
            "n_observations": int(self.use.sum()),
        }

    def quality(self, ts: np.ndarray, out: np.ndarray) -> pl.DataFrame:
        """Every reading (``ts`` seconds since the epoch, ``out``) with its flag and whether the fit used it."""
        return pl.DataFrame(
            {
                "observed_at": [from_epoch_seconds(s) for s in ts],
                "minutes": self.minutes,
                "out": out,
                "share_of_peak": self.y_all,
                "flag": self.flag,
                "used": self.use,
            },
            schema_overrides={"observed_at": pl.Datetime("us", "UTC")},
        )


def _queue_evidence(sc: _Screened, out: np.ndarray, cadence: float) -> tuple[QueueEvidence, float, float]:
    """The used readings as queue evidence on a grid from the lead (minutes before the onset) by ``step``; (ev, lead, step)."""
    t_used, y_used = sc.minutes[sc.use], sc.y_all[sc.use]
    peak_minutes = float(t_used[sc.peak_pos])
    step = min(cadence / 60.0, 15.0)
    # arrivals cannot begin before the series was last at its baseline (under 1% of the peak)
    base = np.nonzero((sc.flag == "before_onset") & (out < 0.01 * sc.peak_out))[0]
    lead = LEAD_MINUTES if base.size == 0 else float(np.clip(-sc.minutes[base[-1]], step, LEAD_MINUTES))
    grid = QueueGrid(lead + step, step, sc.horizon)
    return QueueEvidence(t_used, y_used, grid, peak_minutes, _typical(t_used, y_used, sc.peak_pos)), lead, step


def _screen(ts: np.ndarray, out: np.ndarray, tot: np.ndarray | None, end_s: float, onset: dt.datetime | None) -> _Screened:
    """Flag the readings (defects, before the onset, after the end, relapses, above the total) and place the onset."""
    present = np.isfinite(out)
    flag = np.full(ts.size, "used", dtype=object)
    flag[~present] = "missing"
    pidx = np.nonzero(present)[0]
    screened = screen_present(ts[pidx] / 60.0, out[pidx])
    flag[pidx] = np.where(screened == "", "used", screened)
    clean = (flag == "used") | (flag == "stale")
    inwin = clean & (ts <= end_s)
    if inwin.sum() < 10:
        raise FitError(f"customers_out: {int(inwin.sum())} clean reading(s); at least 10 are needed")
    onset_s, onset_source, onset_ci = _onset(ts, out, inwin, onset)
    horizon = (end_s - onset_s) / 60.0
    if not horizon > 0:
        raise ParameterError("end must be after the onset")
    minutes = (ts - onset_s) / 60.0
    flag[clean & (minutes < 0)] = "before_onset"
    flag[clean & (minutes > horizon)] = "after_end"
    use = np.isin(flag, ["used", "stale"])
    if use.sum() < 10:
        raise FitError(f"customers_out: {int(use.sum())} clean reading(s) after the onset; at least 10 are needed")
    ui = np.nonzero(use)[0]
    peak_out = float(np.max(out[ui]))
    if not peak_out > 0:
        raise FitError("customers_out: no customer is out inside the window")
    y_all = out / peak_out
    peak_pos = int(np.argmax(out[ui]))
    rel = relapse_mask(minutes[ui], y_all[ui], peak_pos)
    flag[ui[rel & (flag[ui] == "used")]] = "relapse"
    if tot is not None:
        over = use & np.isfinite(tot) & (out > tot)
        flag[over & (flag == "used")] = "above_total"
    use = np.isin(flag, USED)
    return _Screened(flag.astype(str), use, minutes, y_all, peak_out, peak_pos, onset_s, onset_source, onset_ci, horizon)


def _onset(
    ts: np.ndarray, out: np.ndarray, inwin: np.ndarray, onset: dt.datetime | None
) -> tuple[float, str, tuple[dt.datetime, dt.datetime] | None]:
    """The onset (seconds since the epoch), its source and, when estimated, the interval between two readings."""
    if onset is not None:
        return epoch_seconds(to_utc(onset, "onset")), "config", None
    peak0 = float(np.max(out[inwin]))
    if not peak0 > 0:
        raise FitError("customers_out: no customer is ever out")
    ci = np.nonzero(inwin)[0]
    j = first_sustained(ts[ci] / 60.0, out[ci], ONSET_SHARE * peak0)
    if j < 0:
        raise FitError("customers_out: no sustained rise to 5% of the peak to take the onset from")
    onset_s = float(ts[ci[j]])
    before = ts[ci[j - 1]] if j > 0 else onset_s
    return onset_s, "estimated", (from_epoch_seconds(before), from_epoch_seconds(onset_s))


def _fit_families(ev: QueueEvidence, names: list[str], level: float) -> tuple[list[QueueCandidate], np.ndarray, QueueCandidate]:
    """Fit each family (Weibull first, its noise parameters warming the others); candidates, AIC weights, the best."""
    order = sorted(names, key=lambda n: (n != "weibull", n == "mixture"))
    fitted = {}
    warm = None
    for n in order:
        c = fit_family(ev, n, level=level, warm=warm)
        fitted[n] = c
        if warm is None and c.converged:
            warm = c.theta[c.family.n_params : c.family.n_params + 4]
    cands = [fitted[n] for n in names]
    ok = [c for c in cands if c.converged]
    if not ok:
        raise FitError(f"customers_out: no restoration family could be fitted (tried {', '.join(names)})")
    aics = np.array([c.aic for c in cands])
    w = np.where(np.isfinite(aics), np.exp(-0.5 * (aics - np.nanmin(aics[np.isfinite(aics)]))), 0.0)
    return cands, w / w.sum(), min(ok, key=lambda c: c.aic)


def _boot(
    ev: QueueEvidence,
    cands: Sequence[QueueCandidate],
    weights: np.ndarray,
    *,
    n_boot: int,
    rng: np.random.Generator,
    factors: tuple[float, float],
) -> tuple[tuple[Draw, ...], int]:
    """Replicates shared among the candidates by AIC weight, each refitted with its own family."""
    if n_boot == 0:
        return (), 0
    alloc = allocate(weights, n_boot)
    draws, failed = [], 0
    kept = [i for i in range(len(cands)) if alloc[i] > 0 and cands[i].converged]
    wsum = float(sum(weights[i] for i in kept))
    for i in kept:
        reps, nf = bootstrap_family(ev, cands[i], int(alloc[i]), rng, factors)
        failed += nf
        if reps.shape[0]:
            draws.append(Draw(cands[i].name, cands[i].family, reps, float(weights[i]) / wsum))
    return tuple(draws), failed


def fit_customers_out_by_area(series: pl.DataFrame, **options: object) -> dict[str, CustomersOutFit]:
    """One fit per value of the ``area`` column, plus ``"total"`` for the sum over areas.

    The sum is taken only at reading times where every area has a clean reading: a run
    missing in one area, or a feed defect flagged there (a dropout, a flip), is missing in
    the total — a partial sum would look like a dip too shallow to be caught in the total.
    Options are those of :func:`fit_customers_out`.
    """
    if not isinstance(series, pl.DataFrame) or "area" not in series.columns:
        raise ParameterError("series: need an 'area' column to fit by area")
    areas = sorted(str(a) for a in series.get_column("area").drop_nulls().unique().to_list())
    if not areas:
        raise ParameterError("series: the 'area' column is empty")
    out: dict[str, CustomersOutFit] = {}
    for a in areas:
        part = series.filter(pl.col("area").cast(pl.String) == a).drop("area")
        out[a] = fit_customers_out(part, **options)  # type: ignore[arg-type]
    agg = [pl.col("out").sum().alias("out"), pl.col("out").null_count().alias("_nulls"), pl.len().alias("_n")]
    if "total" in series.columns:
        # a total only where every area gives one (a sum of the areas that do would be too small)
        agg.append(pl.when(pl.col("total").null_count() == 0).then(pl.col("total").sum()).alias("total"))
    defects = pl.concat(
        [
            fit.data_quality.filter(pl.col("flag").is_in(DEFECTS)).select("observed_at", pl.lit(a).alias("area"))
            for a, fit in out.items()
        ]
    )
    clean = series.with_columns(pl.col("area").cast(pl.String)).join(defects, on=["observed_at", "area"], how="anti")
    summed = (
        clean.filter(pl.col("out").is_not_null())
        .group_by(["observed_at", "area"])
        .agg(pl.col("out").mean(), *([pl.col("total").mean()] if "total" in series.columns else []))
        .group_by("observed_at")
        .agg(agg)
        .filter(pl.col("_n") == len(areas))
        .drop("_nulls", "_n")
    )
    out["total"] = fit_customers_out(summed, **options)  # type: ignore[arg-type]
    return out
