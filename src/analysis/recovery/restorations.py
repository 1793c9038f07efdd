"""Recovery curve from per-customer restoration records (``restorations``).

Each record says when one customer (or device) got service back: exactly (``observed_at``
with ``restored`` true), not yet at the last look (``restored`` false: right-censored), or
only between two looks (``restored_after``/``restored_before``: interval-censored). The
censored likelihood is in :meth:`RecoveryFamily.censored_loglik`; Kaplan–Meier (no interval
records) or Turnbull (with them) is returned beside the parametric fit.

Intervals: a case-resampling bootstrap (customers drawn with replacement, the chosen family
refitted to each replicate). For independent customers this is the standard bootstrap, and
unlike a parametric one it needs no model of *why* records are censored (end of observation,
inspection rounds): resampling whole records keeps the censoring mechanism as it was.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl

from analysis.errors import FitError, ParameterError
from analysis.recovery._time import as_times, epoch_seconds, to_utc
from analysis.recovery.engine import bootstrap, candidate_table, choose, fit_candidates
from analysis.recovery.evidence import RestorationEvidence
from analysis.recovery.families import CensoredData, RecoveryFamily, resolve_candidates
from analysis.recovery.nonparametric import kaplan_meier, turnbull
from analysis.recovery.propensity import check_timezone
from analysis.recovery.reports import check_options
from analysis.recovery.result import Diagnostics, RecoveryFit


def _minutes(frame: pl.DataFrame, column: str, onset_s: float) -> np.ndarray:
    """Convert a time column to minutes after onset (NaN where null)."""
    col = frame.get_column(column)
    mask = col.is_null().to_numpy()
    out = np.full(frame.height, np.nan)
    if (~mask).any():
        kind, v = as_times(col.filter(~col.is_null()), column)
        out[~mask] = (v - onset_s) / 60.0 if kind == "epoch" else v
    return out


def restoration_data(records: pl.DataFrame, *, onset: dt.datetime) -> CensoredData:
    """Turn restoration records into censored data in minutes after ``onset``.

    Columns: ``observed_at`` with ``restored`` (bool), and/or ``restored_after`` /
    ``restored_before`` (an interval; either may be null: left- or right-open), optionally
    ``count`` (customers the row stands for). Times are UTC datetimes or minutes after onset.
    Rows before the onset count as restored at 0+ only if they are intervals ending later.
    """
    if not isinstance(records, pl.DataFrame):
        raise ParameterError(f"records: expected a polars DataFrame, got {type(records).__name__}")
    cols = set(records.columns)
    has_point = "observed_at" in cols
    has_int = bool({"restored_after", "restored_before"} & cols)
    if not (has_point or has_int):
        raise ParameterError(
            f"records: need 'observed_at' (+ 'restored') or 'restored_after'/'restored_before'; got {sorted(cols)}"
        )
    if has_point and "restored" not in cols:
        raise ParameterError("records: 'observed_at' needs a boolean 'restored' column (false = still down then)")
    n = records.height
    onset_s = epoch_seconds(onset)
    w = records.get_column("count").cast(pl.Float64).to_numpy() if "count" in cols else np.ones(n)
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ParameterError("records.count: counts must be finite and >= 0")
    obs = _minutes(records, "observed_at", onset_s) if has_point else np.full(n, np.nan)
    restored = records.get_column("restored").cast(pl.Boolean).to_numpy() if has_point else np.zeros(n, bool)
    lo = _minutes(records, "restored_after", onset_s) if "restored_after" in cols else np.full(n, np.nan)
    hi = _minutes(records, "restored_before", onset_s) if "restored_before" in cols else np.full(n, np.nan)
    is_int = ~np.isnan(lo) | ~np.isnan(hi)
    point = ~is_int & ~np.isnan(obs)
    missing = np.nonzero(~is_int & ~point)[0]
    if missing.size:
        raise ParameterError(f"records: row {int(missing[0])} has no time (observed_at and the interval are all null)")
    restored = np.asarray([bool(x) if x is not None else False for x in restored])
    lo_f = np.where(np.isnan(lo), 0.0, np.maximum(lo, 0.0))
    hi_f = np.where(np.isnan(hi), np.inf, hi)
    bad = np.nonzero(is_int & (hi_f < lo_f))[0]
    if bad.size:
        raise ParameterError(f"records: row {int(bad[0])} has restored_before earlier than restored_after")
    early = np.nonzero((point & (obs < 0)) | (is_int & (hi_f <= 0)))[0]
    if early.size:
        raise ParameterError(f"records: row {int(early[0])} is restored before the onset; check the onset or the row")
    ex = point & restored
    rt = point & ~restored
    return CensoredData.build(
        exact=obs[ex],
        exact_w=w[ex],
        right=obs[rt],
        right_w=w[rt],
        lower=lo_f[is_int],
        upper=hi_f[is_int],
        interval_w=w[is_int],
    )


def _nonparametric(data: CensoredData, level: float) -> pl.DataFrame:
    """Kaplan–Meier (no interval records) or Turnbull, as ``minutes``, ``survival`` (+ method)."""
    if data.lower.size == 0:
        km = kaplan_meier(data, level=level)
        return km.with_columns(pl.lit("kaplan-meier").alias("method"))
    tb = turnbull(data)
    return tb.select(pl.col("end").alias("minutes"), "survival", pl.lit("turnbull").alias("method")).filter(
        pl.col("minutes").is_finite()
    )


def _diagnostics(family: RecoveryFamily, theta: np.ndarray, np_table: pl.DataFrame) -> Diagnostics:
    """Nonparametric vs fitted S at the nonparametric curve's times."""
    t = np_table["minutes"].to_numpy()
    fitted = family.sf(t, theta) if t.size else np.empty(0)
    table = np_table.select("minutes", pl.col("survival").alias("observed")).with_columns(
        pl.Series("fitted", fitted), pl.Series("residual", np_table["survival"].to_numpy() - fitted)
    )
    return Diagnostics(
        observed_vs_fitted=table,
        residuals=table.select("minutes", "residual"),
        note=f"{np_table['method'][0] if np_table.height else 'nonparametric'} curve against the fitted S; "
        "residual = nonparametric − fitted",
    )


def fit_restorations(
    records: pl.DataFrame,
    *,
    onset: dt.datetime,
    end: dt.datetime | None = None,
    timezone: str = "Europe/Brussels",
    families: Sequence[str] | Literal["all"] = "all",
    level: float = 0.9,
    n_boot: int = 200,
    seed: int = 0,
) -> RecoveryFit:
    """Fit S(t) to per-customer restoration records (exact, right- and interval-censored).

    Parameters
    ----------
    records : polars DataFrame
        See :func:`restoration_data` for the columns.
    onset : datetime
        Outage onset (UTC); restoration times are measured from it.
    end : datetime, optional
        End of observation (UTC), used to flag extrapolated quantiles; default: the latest
        time in the records.
    timezone : str
        Incident timezone (for times of day in the metrics).
    families, level, n_boot, seed
        As in :func:`fit_down_reports`; intervals come from a case-resampling bootstrap.

    Returns
    -------
    RecoveryFit
        With ``nonparametric`` holding the Kaplan–Meier or Turnbull curve.

    Raises
    ------
    FitError
        Fewer than 3 customers, or none restored.
    """
    check_options(level, n_boot, seed)
    check_timezone(timezone)
    names = resolve_candidates(families)
    if onset is None:
        raise ParameterError("onset: required for restorations (restoration times are measured from it)")
    onset_utc = to_utc(onset, "onset")
    data = restoration_data(records, onset=onset_utc)
    if data.n < 3:
        raise FitError(f"restorations: {data.n:g} customer record(s); at least 3 are needed")
    if data.n_events <= 0:
        raise FitError("restorations: no customer is known to have been restored; S cannot be fitted")
    if end is None:
        finite = np.concatenate([data.exact, data.right, data.lower, data.upper[np.isfinite(data.upper)]])
        end_utc = onset_utc + dt.timedelta(minutes=float(finite.max()))
    else:
        end_utc = to_utc(end, "end")
    ev = RestorationEvidence(data)
    t1 = time.perf_counter()
    cands = fit_candidates(ev, names, level=level)
    best = choose(cands, what="restorations")
    t2 = time.perf_counter()
    boot = bootstrap(ev, best, n_boot=int(n_boot), seed=int(seed))
    npt = _nonparametric(data, level)
    k = best.family.n_params
    method = (
        f"case-resampling bootstrap, {boot.theta.shape[0]} replicates of the chosen model, percentile intervals"
        if n_boot
        else "none (n_boot = 0)"
    )
    if boot.n_failed:
        method += f" ({boot.n_failed} refits failed and were dropped)"
    return RecoveryFit(
        kind="restorations",
        model=best.name,
        family=best.family,
        theta=best.theta,
        theta_boot=boot.theta,
        param_names=best.family.all_param_names,
        level=float(level),
        onset=onset_utc,
        onset_source="config",
        onset_ci=None,
        end=end_utc,
        timezone=timezone,
        candidates=candidate_table(cands),
        interval_method=method,
        log_likelihood=best.loglik,
        aic=best.aic,
        n_observations=data.n,
        diagnostics=_diagnostics(best.family, best.theta[:k], npt),
        nonparametric=npt,
        n_boot_failed=boot.n_failed,
        timings={"fit": t2 - t1, "bootstrap": boot.seconds},
    )
