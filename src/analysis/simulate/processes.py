"""Seeded generative core for synthetic incidents with known truth.

Pure functions of their arguments and a ``numpy.random.Generator``; nothing is read or
written. Tests, benchmarks and the ``postmortem simulate`` command share them, so a
statistical claim checked in a test is a claim about the same generator the simulator uses.

Times are minutes after onset (floats) unless a function says otherwise; clock-hour effects
need the onset as seconds since the epoch (UTC) and an IANA timezone. Only numpy is
imported at module level; the recovery families and the clock-hour helpers are imported when
first needed, so ``import analysis.simulate`` stays light.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Required, TypedDict, Unpack

import numpy as np

if TYPE_CHECKING:
    from analysis.recovery.families import RecoveryFamily

__all__ = [
    "ClumpedReports",
    "OnlineSeries",
    "ReportProcess",
    "RestorationRecords",
    "clumped_reports",
    "coarsen",
    "family_theta",
    "online_fraction_series",
    "report_counts",
    "report_times",
    "restoration_records",
    "restoration_times",
    "restoration_times_by_group",
]


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def family_theta(
    family: str | RecoveryFamily, params: Mapping[str, float] | Sequence[float] | np.ndarray, *, delay: float = 0.0
) -> tuple[RecoveryFamily, np.ndarray]:
    """Build a recovery family and its parameter vector from a name and parameters.

    ``params`` is a mapping by parameter name (``"lambda"`` or ``"lambda_"``) or a sequence in
    the family's order. A positive ``delay`` (minutes) selects the family's delay variant.
    """
    from analysis.errors import ParameterError
    from analysis.recovery.families import RecoveryFamily, make_family

    if isinstance(family, RecoveryFamily):
        fam = family
    else:
        base = family.split("+")[0]
        fam = make_family(f"{base}+delay" if delay > 0 or family.endswith("+delay") else base)
    names = fam.param_names
    if isinstance(params, Mapping):
        p = {k if k.endswith("_") else f"{k}_": float(v) for k, v in params.items()}
        unknown = set(p) - set(fam.all_param_names)
        if unknown:
            raise ParameterError(f"{fam.label}: unknown parameter(s) {sorted(unknown)}; expected {names}")
        missing = [n for n in names if n not in p]
        if missing:
            raise ParameterError(f"{fam.label}: missing parameter(s) {missing}")
        vals = [p[n] for n in names]
        if fam.delay:
            vals.append(p.get("delay_", float(delay)))
    else:
        vals = [float(v) for v in params]
        if fam.delay and len(vals) == len(names):
            vals.append(float(delay))
    theta = np.asarray(vals, dtype=float)
    if theta.size != fam.n_params:
        raise ParameterError(f"{fam.label}: expected {fam.n_params} parameters {fam.all_param_names}, got {theta.size}")
    return fam, theta


# --------------------------------------------------------------------------- restoration times


def restoration_times(
    n: int,
    *,
    family: str | RecoveryFamily = "weibull",
    params: Mapping[str, float] | Sequence[float] | np.ndarray,
    delay: float = 0.0,
    tail_fraction: float = 0.0,
    tail_mean: float | None = None,
    scale: float = 1.0,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Restoration times (minutes after onset) of ``n`` affected customers.

    Drawn by inversion from the family's S (with its delay). With ``tail_fraction`` > 0 a
    share of customers instead waits ``delay`` + Exponential(``tail_mean``) — a slow tail on
    top of any family. ``scale`` stretches every time (an accelerated-failure-time factor,
    e.g. 1.5 for a region that recovers 50% slower).
    """
    r = _rng(rng)
    fam, theta = family_theta(family, params, delay=delay)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    u = r.random(n)
    t = np.asarray(fam.quantile(u, theta), dtype=float).reshape(n)
    if tail_fraction > 0:
        if tail_mean is None or tail_mean <= 0:
            raise ValueError("tail_mean (minutes) must be > 0 when tail_fraction > 0")
        tail = r.random(n) < tail_fraction
        t[tail] = delay + r.exponential(tail_mean, int(tail.sum()))
    return t * scale


def restoration_times_by_group(
    sizes: Mapping[str, int],
    *,
    scale_factors: Mapping[str, float] | None = None,
    rng: np.random.Generator | int | None = None,
    **kwargs: Any,
) -> dict[str, np.ndarray]:
    """Restoration times per group; ``scale_factors`` stretch some groups (default 1)."""
    r = _rng(rng)
    sf = dict(scale_factors or {})
    return {g: restoration_times(n, scale=sf.get(g, 1.0), rng=r, **kwargs) for g, n in sizes.items()}


# --------------------------------------------------------------------------- reports


def _g(t: np.ndarray, onset_epoch_s: float | None, timezone: str, propensity: Sequence[float] | None) -> np.ndarray:
    if onset_epoch_s is None:
        if propensity is not None:
            raise ValueError("onset_epoch_s is needed to apply a clock-hour propensity")
        return np.ones_like(t)
    from analysis.recovery.propensity import check_propensity, hourly_weights

    return hourly_weights(onset_epoch_s + t * 60.0, timezone, check_propensity(propensity))


class ReportProcess(TypedDict, total=False):
    """The report intensity λ(t) = A·g(clock)·S(t)·(1 + surge·e^(−t/τ)) shared by the report generators.

    ``family`` (default ``"weibull"``), ``params`` (required) and ``delay`` (minutes, default 0)
    give S; ``rate_per_minute`` (required) is A; ``onset_epoch_s`` (seconds since the epoch,
    UTC) and ``timezone`` (default ``"Europe/Brussels"``) place the clock hours of the
    propensity g (``None``: the default profile; without an onset g ≡ 1); ``surge`` and
    ``surge_minutes`` (default 0 and 60) the early surge of reports.
    """

    family: str | RecoveryFamily
    params: Required[Mapping[str, float] | Sequence[float] | np.ndarray]
    delay: float
    rate_per_minute: Required[float]
    onset_epoch_s: float | None
    timezone: str
    propensity: Sequence[float] | None
    surge: float
    surge_minutes: float


@dataclass(frozen=True)
class _Intensity:
    """A :class:`ReportProcess` with its defaults applied and its family built."""

    family: RecoveryFamily
    theta: np.ndarray
    rate: float
    onset_epoch_s: float | None
    timezone: str
    propensity: Sequence[float] | None
    surge: float
    surge_minutes: float

    @classmethod
    def of(cls, process: ReportProcess) -> _Intensity:
        # (with postponed annotations the TypedDict does not see ``Required`` at run time: named here)
        unknown = sorted(set(process) - ReportProcess.__optional_keys__ - ReportProcess.__required_keys__)
        missing = sorted({"params", "rate_per_minute"} - set(process))
        if unknown or missing:  # as a plain signature would
            what = f"unexpected keyword argument(s) {unknown}" if unknown else f"missing keyword argument(s) {missing}"
            raise TypeError(what)
        fam, theta = family_theta(process.get("family", "weibull"), process["params"], delay=process.get("delay", 0.0))
        return cls(
            fam,
            theta,
            float(process["rate_per_minute"]),
            process.get("onset_epoch_s"),
            process.get("timezone", "Europe/Brussels"),
            process.get("propensity"),
            process.get("surge", 0.0),
            process.get("surge_minutes", 60.0),
        )

    def shape(self, t: np.ndarray) -> np.ndarray:
        """S(t)·(1 + surge·e^(−t/τ)): decreasing in t."""
        s = self.family.sf(t, self.theta)
        if self.surge > 0:
            s = s * (1.0 + self.surge * np.exp(-t / self.surge_minutes))
        return s

    def g(self, t: np.ndarray) -> np.ndarray:
        """The clock-hour propensity at ``t`` minutes after onset (1 without an onset)."""
        return _g(t, self.onset_epoch_s, self.timezone, self.propensity)


def report_times(
    *, horizon_minutes: float, rng: np.random.Generator | int | None = None, **process: Unpack[ReportProcess]
) -> np.ndarray:
    """Report times (minutes after onset, sorted) from λ(t) = A·g(clock)·S(t)·(1 + surge·e^(−t/τ)).

    An inhomogeneous Poisson process drawn by thinning (Lewis–Shedler) with a piecewise
    envelope on one-minute steps, so almost every candidate is kept and the cost is linear
    in the number of reports. ``onset_epoch_s`` (seconds since the epoch, UTC) and
    ``timezone`` place the clock hours; without them g ≡ 1. ``propensity=None`` with an onset
    uses the default profile.
    """
    r = _rng(rng)
    lam_of = _Intensity.of(process)
    if lam_of.rate < 0 or horizon_minutes <= 0:
        raise ValueError("rate_per_minute must be >= 0 and horizon_minutes > 0")
    edges = np.append(np.arange(0.0, horizon_minutes, 1.0), horizon_minutes)
    a, b = edges[:-1], edges[1:]
    # S and the surge factor decrease, so their value at a step's start bounds the step
    env = lam_of.rate * lam_of.shape(a) * np.maximum(lam_of.g(a), lam_of.g(np.maximum(b - 1e-9, a)))
    n = r.poisson(env * (b - a))
    step = np.repeat(np.arange(a.size), n)
    t = a[step] + r.random(step.size) * (b - a)[step]
    keep = r.random(t.size) * env[step] < lam_of.rate * lam_of.shape(t) * lam_of.g(t)
    return np.sort(t[keep])


def report_counts(
    edges: np.ndarray, *, rng: np.random.Generator | int | None = None, **process: Unpack[ReportProcess]
) -> np.ndarray:
    """Poisson report counts in the bins ``edges`` (minutes) directly, without drawing times.

    The cheap way to make 10⁷ reports: cost grows with the number of bins only. The clock-hour
    propensity is taken at each bin's midpoint.
    """
    r = _rng(rng)
    lam_of = _Intensity.of(process)
    edges = np.asarray(edges, dtype=float)
    w = np.diff(edges)
    mid = edges[:-1] + 0.5 * w
    s_e, s_m = lam_of.shape(edges), lam_of.shape(mid)
    mu = lam_of.rate * lam_of.g(mid) * w / 6.0 * (s_e[:-1] + 4 * s_m + s_e[1:])
    return r.poisson(mu)


def coarsen(
    times: np.ndarray,
    *,
    fraction: float,
    widths: Sequence[float],
    horizon_minutes: float | None = None,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Make a share of reports known only within a window (as "Tuesday morning" in a press report).

    Each report is coarsened with probability ``fraction``; its window has a width drawn from
    ``widths`` (minutes) and is placed uniformly at random around the true time, clipped to
    [0, horizon]. Returns ``(exact_times, window_start, window_end)``.
    """
    r = _rng(rng)
    t = np.asarray(times, dtype=float)
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    pick = r.random(t.size) < fraction
    tw = t[pick]
    w = r.choice(np.asarray(widths, dtype=float), size=tw.size)
    start = tw - r.random(tw.size) * w
    end = start + w
    lo = 0.0
    hi = math.inf if horizon_minutes is None else horizon_minutes
    return t[~pick], np.clip(start, lo, hi), np.clip(end, lo, hi)


@dataclass(frozen=True)
class ClumpedReports:
    """Reports that arrive in clumps: exact times, windows (start, end) and the clump of each.

    ``exact`` (minutes after onset) and ``exact_clump``; ``win_start``/``win_end`` and
    ``win_clump`` (one row per report: a windowed clump's reports share its window).
    """

    exact: np.ndarray
    exact_clump: np.ndarray
    win_start: np.ndarray
    win_end: np.ndarray
    win_clump: np.ndarray

    @property
    def n_reports(self) -> int:
        """Reports, exact and windowed."""
        return int(self.exact.size + self.win_start.size)


def clumped_reports(
    *,
    horizon_minutes: float,
    mean_clump: float = 4.0,
    spread_minutes: float = 0.0,
    window_fraction: float = 0.0,
    widths: Sequence[float] = (),
    rng: np.random.Generator | int | None = None,
    **process: Unpack[ReportProcess],
) -> ClumpedReports:
    """Reports in clumps: a burst after a post, or one press article naming many places.

    Clumps arrive as the Poisson process of :func:`report_times` with rate
    ``rate_per_minute / mean_clump``; a clump holds K reports, K geometric on 1, 2, … with
    mean ``mean_clump``, so the expected number of reports per minute is still
    A·g(clock)·S(t) while counts vary φ = 2·mean_clump − 1 times more than Poisson. Exact
    clumps spread their reports after the clump time by Exponential(``spread_minutes``)
    (0: all at one time); a share ``window_fraction`` of clumps is known only within one
    window shared by its reports, of a width drawn from ``widths`` (minutes), placed
    uniformly around the clump time and clipped to [0, horizon].
    """
    r = _rng(rng)
    if mean_clump < 1:
        raise ValueError(f"mean_clump must be >= 1, got {mean_clump}")
    if not 0 <= window_fraction <= 1:
        raise ValueError(f"window_fraction must be in [0, 1], got {window_fraction}")
    if window_fraction > 0 and not len(widths):
        raise ValueError("widths (minutes) are needed when window_fraction > 0")
    clumps: ReportProcess = {**process, "rate_per_minute": _Intensity.of(process).rate / mean_clump}
    t = report_times(horizon_minutes=horizon_minutes, rng=r, **clumps)
    k = r.geometric(1.0 / mean_clump, t.size) if mean_clump > 1 else np.ones(t.size, dtype=int)
    windowed = r.random(t.size) < window_fraction
    ids = np.arange(t.size)
    ex = ~windowed
    exact_clump = np.repeat(ids[ex], k[ex])
    exact = np.repeat(t[ex], k[ex])
    if spread_minutes > 0:
        exact = exact + r.exponential(spread_minutes, exact.size)
    keep = exact <= horizon_minutes
    exact, exact_clump = exact[keep], exact_clump[keep]
    w = r.choice(np.asarray(widths, dtype=float), size=int(windowed.sum())) if windowed.any() else np.empty(0)
    start = t[windowed] - r.random(w.size) * w
    end = start + w
    start, end = np.clip(start, 0.0, horizon_minutes), np.clip(end, 0.0, horizon_minutes)
    kw = k[windowed]
    order = np.argsort(exact, kind="stable")
    return ClumpedReports(
        exact[order], exact_clump[order], np.repeat(start, kw), np.repeat(end, kw), np.repeat(ids[windowed], kw)
    )


# --------------------------------------------------------------------------- restoration records


@dataclass(frozen=True)
class RestorationRecords:
    """Per-customer observations: exact restorations, still-down (right-censored), intervals.

    ``kind`` is ``"exact"``, ``"right"`` or ``"interval"``; ``lower``/``upper`` are minutes
    after onset (equal for exact, ``upper = inf`` for right-censored).
    """

    kind: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    truth: np.ndarray


def restoration_records(
    times: np.ndarray,
    *,
    censor_at: float | np.ndarray,
    inspection_minutes: float | None = None,
    interval_fraction: float = 0.0,
    rng: np.random.Generator | int | None = None,
) -> RestorationRecords:
    """Observe restoration ``times`` as a monitoring system would.

    Customers not restored by ``censor_at`` (the end of observation, scalar or per customer)
    are right-censored there. A share ``interval_fraction`` is only checked every
    ``inspection_minutes`` (random phase per customer), so their restoration is known to lie
    between two checks.
    """
    r = _rng(rng)
    t = np.asarray(times, dtype=float)
    c = np.broadcast_to(np.asarray(censor_at, dtype=float), t.shape)
    kind = np.where(t <= c, "exact", "right").astype(object)
    lower = np.where(t <= c, t, c)
    upper = np.where(t <= c, t, math.inf)
    if interval_fraction > 0:
        if not inspection_minutes or inspection_minutes <= 0:
            raise ValueError("inspection_minutes must be > 0 when interval_fraction > 0")
        sel = (r.random(t.size) < interval_fraction) & (kind == "exact")
        phase = r.random(t.size) * inspection_minutes
        k = np.floor((t - phase) / inspection_minutes)
        lo = np.maximum(phase + k * inspection_minutes, 0.0)
        hi = phase + (k + 1) * inspection_minutes
        right_after = sel & (hi > c)  # last check before the end saw it still down
        lower = np.where(sel, lo, lower)
        upper = np.where(sel, hi, upper)
        kind = np.where(sel, "interval", kind)
        lower = np.where(right_after, lo, lower)
        upper = np.where(right_after, math.inf, upper)
        kind = np.where(right_after, "right", kind)
    return RestorationRecords(kind.astype(str), lower, upper, t)


# --------------------------------------------------------------------------- online fraction


@dataclass(frozen=True)
class OnlineSeries:
    """A synthetic share-of-customers-out series with the defects planted in it.

    ``minutes`` after onset (negative before it), ``out_share`` observed, ``truth`` the
    noiseless c·S(t), and ``defect``: ``""``, ``"dropout"`` or ``"stale"``.
    """

    minutes: np.ndarray
    out_share: np.ndarray
    truth: np.ndarray
    defect: np.ndarray


def online_fraction_series(
    *,
    family: str | RecoveryFamily = "weibull",
    params: Mapping[str, float] | Sequence[float] | np.ndarray,
    delay: float = 0.0,
    horizon_minutes: float,
    step_minutes: float = 15.0,
    before_minutes: float = 0.0,
    affected_share: float = 1.0,
    noise_sd: float = 0.01,
    noise_minutes: float = 60.0,
    n_dropouts: int = 0,
    stale_runs: int = 0,
    stale_length: int = 8,
    rng: np.random.Generator | int | None = None,
) -> OnlineSeries:
    """Share of customers out, sampled every ``step_minutes``: c·S(t) plus autocorrelated noise.

    The noise is an Ornstein–Uhlenbeck process (sd ``noise_sd``, time constant
    ``noise_minutes``), the kind of wander a scraped outage map shows. ``n_dropouts`` isolated
    readings fall to near zero (feed glitches) and ``stale_runs`` stretches repeat one value
    ``stale_length`` times (a frozen feed). Before the onset the share is 0.
    """
    r = _rng(rng)
    fam, theta = family_theta(family, params, delay=delay)
    m = np.arange(-before_minutes, horizon_minutes + 1e-9, step_minutes)
    truth = np.where(m < 0, 0.0, affected_share * fam.sf(np.maximum(m, 0.0), theta))
    rho = math.exp(-step_minutes / noise_minutes) if noise_minutes > 0 else 0.0
    e = np.empty(m.size)
    e[0] = r.normal(0, noise_sd)
    innov = r.normal(0, noise_sd * math.sqrt(1 - rho * rho), m.size)
    for i in range(1, m.size):
        e[i] = rho * e[i - 1] + innov[i]
    y = np.where(m < 0, 0.0, np.clip(truth + e, 0.0, None))
    defect = np.full(m.size, "", dtype=object)
    post = np.nonzero(m > step_minutes * 2)[0]
    post = post[:-2] if post.size > 4 else post
    if stale_runs and post.size > stale_length + 2:
        for s in r.choice(post[: -stale_length - 1], size=stale_runs, replace=False):
            y[s + 1 : s + stale_length] = y[s]
            defect[s + 1 : s + stale_length] = "stale"
    if n_dropouts and post.size:
        free = post[defect[post] == ""]
        for i in r.choice(free, size=min(n_dropouts, free.size), replace=False):
            y[i] = affected_share * r.uniform(0.0, 0.003)
            defect[i] = "dropout"
    return OnlineSeries(m, y, truth, defect.astype(str))
