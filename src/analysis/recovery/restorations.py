"""Recovery curve from per-customer restoration records (``restorations``).

Each record says when one customer (or device) got service back: exactly (``observed_at``
with ``restored`` true), not yet at the last look (``restored`` false: right-censored), or
only between two looks (``restored_after``/``restored_before``: interval-censored). The
censored likelihood is in :meth:`RecoveryFamily.censored_loglik`; Kaplan–Meier (no interval
records) or Turnbull (with them) is returned beside the parametric fit.

Recording resolution. A device log stamps a restoration to the second (or the minute), not
to the instant: "21:15:00" means some time in [21:15:00, 21:15:01). Read as an exact time, a
stamp is a density point, and where S drops steeply — just after a restoration delay, with a
Weibull shape below 1 the density is unbounded there — the likelihood of a delay just under
the earliest stamp grows without limit, pulling the curve off the truth. Each source's
restoration stamps are therefore checked for a grid (1 ms, 1 s, 1 min, … 1 h; a grid counts
only when chance cannot explain it) and a stamp on a grid of width u is the interval
(t, t + u] (truncated stamps, as loggers write them) or (t − u/2, t + u/2] (rounded ones).
Check times (``restored_after``/``restored_before``, still-down stamps) are taken as given:
polls happen at the time they record.

Grouping. Devices with the same record — kind, lower and upper time — contribute the same
factor to the likelihood, so they are grouped into one record with the summed count
(:func:`group_records`): the cost of a likelihood evaluation, and of each bootstrap
replicate, then grows with the number of distinct records, not with the number of devices.

Intervals: a case-resampling bootstrap (customers drawn with replacement, the chosen family
refitted to each replicate). For independent customers this is the standard bootstrap, and
unlike a parametric one it needs no model of *why* records are censored (end of observation,
inspection rounds): resampling whole records keeps the censoring mechanism as it was. On
grouped records a replicate draws the devices as multinomial counts over the groups, which
is the same distribution as drawing devices one by one and grouping them afterwards.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from analysis.errors import FitError, ParameterError
from analysis.recovery._time import as_times, epoch_seconds, to_utc
from analysis.recovery.engine import choose, fit_candidates
from analysis.recovery.families import INF, CensoredData, RecoveryFamily, resolve_candidates
from analysis.recovery.nonparametric import kaplan_meier, turnbull
from analysis.recovery.propensity import check_timezone
from analysis.recovery.report_input import check_options
from analysis.recovery.restoration_evidence import RestorationBatch, RestorationEvidence
from analysis.recovery.result import Diagnostics, RecoveryFit
from analysis.recovery.uncertainty import assemble_fit, fit_spec

# grid widths (seconds) a restoration stamp may be recorded to, finest first; the widest grid
# every stamp lies on wins (10 and 15 min both listed: logs write 21:10, 21:20 or 21:15, 21:30)
RESOLUTIONS_S = (0.001, 1.0, 60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
_FINEST_S = 1e-6  # what a datetime itself resolves (microseconds): the alternative to the first grid
_CHANCE = 1e-6  # a grid is accepted only when stamps this unlikely would land on it by chance
_ON_GRID = 5e-4  # |stamp/u − round(stamp/u)| below this is on the grid (float rounding of epoch seconds)


def _stamps(frame: pl.DataFrame, column: str, onset_s: float) -> tuple[np.ndarray, np.ndarray, float]:
    """A time column as minutes after onset and as seconds on its recording clock (NaN where null).

    The clock is the epoch for datetimes (grids are wall-clock grids) and the onset for
    numbers (minutes after onset); minutes = (clock − base) / 60 with the returned base.
    """
    col = frame.get_column(column)
    mask = col.is_null().to_numpy()
    minutes = np.full(frame.height, np.nan)
    clock = np.full(frame.height, np.nan)
    base = 0.0
    if (~mask).any():
        kind, v = as_times(col.filter(~col.is_null()), column)
        minutes[~mask] = (v - onset_s) / 60.0 if kind == "epoch" else v
        clock[~mask] = v if kind == "epoch" else v * 60.0
        base = onset_s if kind == "epoch" else 0.0
    return minutes, clock, base


def detect_resolution(seconds: np.ndarray) -> float:
    """Recording resolution of time stamps, in seconds (0: no grid, the times are exact).

    Returns the widest grid of :data:`RESOLUTIONS_S` on which every distinct stamp lies,
    accepting each wider grid only if so many distinct stamps could not all land on it by
    chance when recorded at the finer one ((finer/u)^k < 10⁻⁶, k distinct stamps): two
    stamps on whole seconds say "seconds", but whole minutes need four distinct stamps and
    whole hours after half hours twenty.

    Parameters
    ----------
    seconds : numpy.ndarray
        Stamps in seconds on their clock (since the epoch, UTC, for datetimes); NaN ignored.
    """
    v = np.unique(np.asarray(seconds, dtype=float))
    v = v[np.isfinite(v)]
    found, finer = 0.0, _FINEST_S
    for u in RESOLUTIONS_S:
        x = v / u
        if v.size == 0 or np.any(np.abs(x - np.round(x)) > _ON_GRID):
            continue  # not this grid (a wider one may still hold: 10 min data fail 15 min only)
        if v.size * math.log(u / finer) < -math.log(_CHANCE):
            break  # too few stamps to tell this grid from chance
        found, finer = u, u
    return found


def _check_resolution(resolution: float | Literal["auto"], rounding: str) -> None:
    if rounding not in ("down", "nearest"):
        raise ParameterError(f"rounding: expected 'down' or 'nearest', got {rounding!r}")
    if resolution == "auto":
        return
    if isinstance(resolution, bool) or not isinstance(resolution, numbers.Real) or not (0 <= resolution < math.inf):
        raise ParameterError(f"resolution: expected 'auto' or a number of seconds >= 0, got {resolution!r}")


def restoration_data(
    records: pl.DataFrame,
    *,
    onset: dt.datetime,
    resolution: float | Literal["auto"] = "auto",
    rounding: Literal["down", "nearest"] = "down",
) -> CensoredData:
    """Turn restoration records into censored data in minutes after ``onset``.

    Columns: ``observed_at`` with ``restored`` (bool), and/or ``restored_after`` /
    ``restored_before`` (an interval; either may be null: left- or right-open), optionally
    ``count`` (customers the row stands for) and ``source`` (each source's stamps get their
    own resolution). Times are UTC datetimes or minutes after onset.

    Parameters
    ----------
    records : polars DataFrame
        One row per customer or device (or per ``count`` of them).
    onset : datetime
        Outage onset (UTC).
    resolution : float or "auto"
        Width in seconds of the grid restoration stamps (``observed_at`` of restored rows)
        were recorded to; a stamp t then stands for the interval (t, t + u] (see
        ``rounding``). ``"auto"``: detected per source by :func:`detect_resolution`; 0:
        the stamps are exact times.
    rounding : {"down", "nearest"}
        How stamps were cut to the grid: truncated (loggers, ``strftime``), so the event is
        in (t, t + u]; or rounded to the nearest, (t − u/2, t + u/2].

    Returns
    -------
    CensoredData
        Exact times (resolution 0), right-censored times, and intervals: polling windows
        and restoration stamps on a grid.
    """
    cols, has_point, w = _record_columns(records)
    _check_resolution(resolution, rounding)
    n = records.height
    onset_s = epoch_seconds(onset)
    nan = np.full(n, np.nan)
    obs, clock, base = _stamps(records, "observed_at", onset_s) if has_point else (nan, nan, 0.0)
    restored = records.get_column("restored").cast(pl.Boolean).to_numpy() if has_point else np.zeros(n, bool)
    lo = _stamps(records, "restored_after", onset_s)[0] if "restored_after" in cols else nan
    hi = _stamps(records, "restored_before", onset_s)[0] if "restored_before" in cols else nan
    shift = _own_starts(records, onset_s)
    obs, lo, hi = obs - shift, lo - shift, hi - shift
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
        raise ParameterError(
            f"records: row {int(early[0])} is restored before the onset (or its own start); check the onset or the row"
        )
    ex = point & restored
    rt = point & ~restored
    width = _stamp_widths(records, clock, ex, resolution)  # seconds
    grid = ex & (width > 0)
    exact = ex & ~grid
    g_lo, g_hi = _stamp_intervals(clock, width, base + 60.0 * shift, rounding)
    return CensoredData.build(
        exact=obs[exact],
        exact_w=w[exact],
        right=obs[rt],
        right_w=w[rt],
        lower=np.concatenate([lo_f[is_int], g_lo[grid]]),
        upper=np.concatenate([hi_f[is_int], g_hi[grid]]),
        interval_w=np.concatenate([w[is_int], w[grid]]),
    )


def _own_starts(records: pl.DataFrame, onset_s: float) -> np.ndarray:
    """Minutes from the onset to each record's own outage start (``started_at``; 0 where there is none).

    A record with a start measures its duration from it: S is then the share of customers
    still out a duration d after their own start, and a clock time is onset + d.
    """
    if "started_at" not in records.columns:
        return np.zeros(records.height)
    return np.nan_to_num(_stamps(records, "started_at", onset_s)[0], nan=0.0)


def _sources(records: pl.DataFrame) -> np.ndarray:
    """Each row's source name ("" without a ``source`` column or where it is null)."""
    if "source" in records.columns:
        return records.get_column("source").cast(pl.String).fill_null("").to_numpy()
    return np.full(records.height, "", dtype=object)


def _stamp_widths(records: pl.DataFrame, clock: np.ndarray, restored: np.ndarray, resolution: float | str) -> np.ndarray:
    """Grid width (seconds) of each row's restoration stamp: given, or detected per source."""
    if resolution != "auto":
        return np.full(records.height, float(resolution))
    out = np.zeros(records.height)
    src = _sources(records)
    for s in np.unique(src[restored]):
        rows = restored & (src == s)
        out[rows] = detect_resolution(clock[rows])
    return out


def stamp_resolutions(records: pl.DataFrame, *, onset: dt.datetime) -> dict[str, float]:
    """Detected resolution (seconds) of the restoration stamps of each source (key "" without a source column)."""
    if not isinstance(records, pl.DataFrame) or not {"observed_at", "restored"} <= set(records.columns):
        return {}
    _, clock, _ = _stamps(records, "observed_at", epoch_seconds(onset))
    ok = records.get_column("restored").cast(pl.Boolean).fill_null(False).to_numpy() & np.isfinite(clock)
    src = _sources(records)
    return {str(s): detect_resolution(clock[ok & (src == s)]) for s in np.unique(src[ok])}


def group_records(data: CensoredData) -> CensoredData:
    """Merge identical records (same kind, lower and upper time) into one with the summed weight.

    The censored likelihood is a weighted sum over records, so grouping leaves it — and the
    fit — unchanged while its cost, and that of every bootstrap replicate, falls to the
    number of distinct records. Records of zero weight are dropped.
    """

    def merge(keys: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = w > 0
        keys, w = keys[keep], w[keep]
        if keys.shape[0] == 0:
            return keys, w
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        return uniq, np.bincount(inv.ravel(), weights=w, minlength=uniq.shape[0])

    e, ew = merge(data.exact[:, None], data.exact_w)
    r, rw = merge(data.right[:, None], data.right_w)
    b, bw = merge(np.column_stack([data.lower, data.upper]), data.interval_w)
    return CensoredData(e[:, 0], ew, r[:, 0], rw, b[:, 0], b[:, 1], bw)


_BLOCK = 1 << 17  # elements per block of replicate rows in the likelihood (1 MB of float64)


@dataclass(frozen=True, eq=False)
class _DistinctTimes:
    """Where each record's times sit among the distinct finite times of grouped data.

    Neighbouring stamps on a grid share an end ((t, t + u] and (t + u, t + 2u]), and many
    polling windows share a check time: S is evaluated once per distinct time and gathered.
    """

    points: np.ndarray
    right: np.ndarray
    lower: np.ndarray
    upper: np.ndarray  # index P (one past the points) for an infinite upper end: S = 0 there

    @classmethod
    def of(cls, data: CensoredData) -> _DistinctTimes:
        ends = np.concatenate([data.right, data.lower, data.upper])
        points, inv = np.unique(ends, return_inverse=True)
        inv = inv.ravel()
        finite = np.isfinite(points)
        idx = np.where(finite[inv], inv, int(finite.sum()))
        a, b = data.right.size, data.right.size + data.lower.size
        return cls(points[finite], idx[:a], idx[a:b], idx[b:])


def _dot(w: np.ndarray, term: np.ndarray) -> np.ndarray:
    """Σ_j w_ij term_ij per row, with 0 · (−inf) = 0: a record absent from a replicate costs nothing.

    An impossible record (−inf) with a positive weight still makes the row −inf: −1e300 times
    a count of at least one overflows to −inf in the sum or is far below any real likelihood.
    """
    return np.einsum("ij,ij->i", w, np.fmax(term, -1e300))  # fmax: NaN counts as impossible too


def _grouped_loglik(
    family: RecoveryFamily, theta: np.ndarray, data: CensoredData, at: _DistinctTimes, w: np.ndarray
) -> np.ndarray:
    """Censored log-likelihood of replicates with weights ``w`` (B, records) at parameters ``theta`` (B, k).

    The same sum as :class:`RestorationBatch`, with S evaluated once per distinct time; rows
    are taken in blocks whose temporaries stay in cache (whole (B, records) temporaries
    cost more in memory traffic than in arithmetic).
    """
    th = np.asarray(theta, dtype=float)[:, : family.n_params]
    step = max(1, _BLOCK // max(1, w.shape[1]))
    if th.shape[0] > step:
        return np.concatenate(
            [_grouped_loglik(family, th[i : i + step], data, at, w[i : i + step]) for i in range(0, th.shape[0], step)]
        )
    a, b = data.exact.size, data.exact.size + data.right.size
    ll = np.zeros(w.shape[0])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if a:
            ll += _dot(w[:, :a], family.log_pdf(data.exact, th))
        if at.points.size or at.upper.size:
            ls = family.log_sf(at.points, th) if at.points.size else np.empty((th.shape[0], 0))
            ls = np.concatenate([ls, np.full((th.shape[0], 1), -INF)], axis=1)
            if data.right.size:
                ll += _dot(w[:, a:b], ls[:, at.right])
            if data.lower.size:
                lo, up = ls[:, at.lower], ls[:, at.upper]
                term = lo + np.log(-np.expm1(np.minimum(up - lo, 0.0)))
                ll += _dot(w[:, b:], term)
    return np.where(np.isfinite(ll) & (ll > -1e299), ll, -INF)


@dataclass(frozen=True, eq=False)
class _GroupedBatch(RestorationBatch):
    """Replicate weights over grouped records, S evaluated once per distinct time."""

    at: _DistinctTimes | None = None

    def loglik(self, family: RecoveryFamily, theta: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Censored log-likelihood of replicates ``rows`` (default all) at their own parameters."""
        at = self.at if self.at is not None else _DistinctTimes.of(self.data)
        w = self.weights if rows is None else self.weights[rows]
        return _grouped_loglik(family, theta, self.data, at, w)


@dataclass(frozen=True, eq=False)
class GroupedRestorationEvidence(RestorationEvidence):
    """Restoration evidence on grouped records (:func:`group_records`).

    Likelihood and bootstrap as :class:`RestorationEvidence` — a replicate draws the
    customers as multinomial counts over the groups — with S evaluated once per distinct
    time, so the cost follows the number of distinct times and records.
    """

    at: _DistinctTimes | None = None

    @classmethod
    def of(cls, data: CensoredData) -> GroupedRestorationEvidence:
        """Group ``data`` and index its distinct times."""
        g = group_records(data)
        return cls(g, at=_DistinctTimes.of(g))

    def _at(self) -> _DistinctTimes:
        return self.at if self.at is not None else _DistinctTimes.of(self.data)

    def loglik(self, family: RecoveryFamily, theta: np.ndarray) -> float:
        """Censored log-likelihood."""
        th = np.asarray(theta, dtype=float)[None, :]
        d = self.data
        w = np.concatenate([d.exact_w, d.right_w, d.interval_w])[None, :]
        return float(_grouped_loglik(family, th, d, self._at(), w)[0])

    def as_batch(self, n: int) -> _GroupedBatch:
        """The records repeated ``n`` times: for evaluating n parameter vectors at once."""
        return _GroupedBatch(self.data, super().as_batch(n).weights, self._at())

    def simulate_batch(self, family: RecoveryFamily, theta: np.ndarray, rng: np.random.Generator, n: int) -> _GroupedBatch:
        """Draw ``n`` case-resampled data sets (multinomial counts over the groups)."""
        return _GroupedBatch(self.data, super().simulate_batch(family, theta, rng, n).weights, self._at())


def _n_records(data: CensoredData) -> int:
    return int(data.exact.size + data.right.size + data.lower.size)


def _resolution_text(res: dict[str, float], rounding: str) -> str:
    """E.g. "; restoration stamps on a 1 s grid read as intervals (t, t + 1 s]"."""
    widths = sorted({u for u in res.values() if u > 0})
    if not widths:
        return "; restoration stamps read as exact times"

    def label(u: float) -> str:
        return f"{u / 60:g} min" if u >= 60 else f"{u:g} s"

    grid = ", ".join(label(u) for u in widths)
    form = "(t, t + u]" if rounding == "down" else "(t − u/2, t + u/2]"
    return f"; restoration stamps on a {grid} grid (u) read as intervals {form}"


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


def _record_columns(records: Any) -> tuple[set[str], bool, np.ndarray]:
    """The columns of restoration records, whether they have point observations, and each row's count."""
    if not isinstance(records, pl.DataFrame):
        raise ParameterError(f"records: expected a polars DataFrame, got {type(records).__name__}")
    cols = set(records.columns)
    has_point = "observed_at" in cols
    if not (has_point or {"restored_after", "restored_before"} & cols):
        raise ParameterError(
            f"records: need 'observed_at' (+ 'restored') or 'restored_after'/'restored_before'; got {sorted(cols)}"
        )
    if has_point and "restored" not in cols:
        raise ParameterError("records: 'observed_at' needs a boolean 'restored' column (false = still down then)")
    w = records.get_column("count").cast(pl.Float64).to_numpy() if "count" in cols else np.ones(records.height)
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ParameterError("records.count: counts must be finite and >= 0")
    return cols, has_point, w


def _stamp_intervals(
    clock: np.ndarray, width: np.ndarray, base: float | np.ndarray, rounding: str
) -> tuple[np.ndarray, np.ndarray]:
    """The interval (minutes after onset) each stamp on a grid of ``width`` seconds stands for."""
    shift = 0.0 if rounding == "down" else 0.5
    # from the clock's own seconds, so that one stamp's upper end is exactly the next one's
    # lower end (shared ends are evaluated once in the likelihood)
    return np.maximum((clock - shift * width - base) / 60.0, 0.0), (clock + (1.0 - shift) * width - base) / 60.0


def _restoration_evidence(
    records: pl.DataFrame, onset_utc: dt.datetime, resolution: float | Literal["auto"], rounding: Literal["down", "nearest"]
) -> tuple[CensoredData, GroupedRestorationEvidence]:
    """The records as recorded (grouped) and the evidence of the likelihood; at least 3 customers, one restored."""
    # the likelihood reads each stamp as the interval of its recording grid; the
    # nonparametric curve and the end of observation use the stamps as recorded
    recorded = group_records(restoration_data(records, onset=onset_utc, resolution=0.0))
    ev = GroupedRestorationEvidence.of(restoration_data(records, onset=onset_utc, resolution=resolution, rounding=rounding))
    if ev.data.n < 3:
        raise FitError(f"restorations: {ev.data.n:g} customer record(s); at least 3 are needed")
    if ev.data.n_events <= 0:
        raise FitError("restorations: no customer is known to have been restored; S cannot be fitted")
    return recorded, ev


def _end_of(recorded: CensoredData, onset_utc: dt.datetime, end: dt.datetime | None) -> dt.datetime:
    """End of observation: given, or the latest time in the records."""
    if end is not None:
        return to_utc(end, "end")
    r = recorded
    finite = np.concatenate([r.exact, r.right, r.lower, r.upper[np.isfinite(r.upper)]])
    return onset_utc + dt.timedelta(minutes=float(finite.max()))


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
    resolution: float | Literal["auto"] = "auto",
    rounding: Literal["down", "nearest"] = "down",
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
    resolution, rounding
        Recording grid of the restoration stamps (seconds; ``"auto"``: detected per
        source) and how stamps were cut to it; see :func:`restoration_data`. Identical
        records are grouped (:func:`group_records`), so the cost follows the number of
        distinct records.

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
    _check_resolution(resolution, rounding)
    recorded, ev = _restoration_evidence(records, onset_utc, resolution, rounding)
    data = ev.data
    n_own = int(records.get_column("started_at").is_not_null().sum()) if "started_at" in records.columns else 0
    end_utc = _end_of(recorded, onset_utc, None if n_own else end)  # durations: the longest follow-up
    t1 = time.perf_counter()
    cands = fit_candidates(ev, names, level=level)
    best = choose(cands, what="restorations")
    t2 = time.perf_counter()
    npt = _nonparametric(recorded, level)
    res = stamp_resolutions(records, onset=onset_utc) if resolution == "auto" else {"": float(resolution)}
    suffix = _resolution_text(res, rounding) + f"; {data.n:,.0f} customers in {_n_records(data):,} distinct records"
    suffix += f"; {n_own:,} of them measured from their own outage start" if n_own else ""
    spec = fit_spec(
        "restorations",
        ev,
        cands,
        level=level,
        n_boot=n_boot,
        seed=seed,
        method_noun="case-resampling bootstrap",
        method_suffix=suffix,
        onset=onset_utc,
        end=end_utc,
        timezone=timezone,
        per_model=lambda c: {"diagnostics": _diagnostics(c.family, c.theta[: c.family.n_params], npt)},
        nonparametric=npt,
        timings={"fit": t2 - t1},
    )
    return assemble_fit(spec, best.name, averaged=True)
