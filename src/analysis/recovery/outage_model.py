"""The infinite-server queue behind a customers-out series, its likelihood and its bootstrap.

Customers go out at times with density N·a(s) and each outage lasts a restoration time with
survival S (Ji/Wei; Dobson), so the number out is

    out(t) = N · ∫ a(s) · S(t − s) ds.

a is a Weibull in time after a location t₀ (shape k ∈ [0.3, 30]: a near-instant jump when
its scale is below a reading step, a build-up over a day when it is long); S is one of the
recovery families. Readings y = out/peak carry Ornstein–Uhlenbeck noise (σ, τ): scraped
feeds wander slowly, and treating hundreds of correlated readings as independent would make
the intervals far too narrow. N and σ are profiled out in closed form (generalised least
squares on the OU innovations), so the optimiser only sees S, t₀, the arrival scale and
shape, and τ. The convolution is computed on a regular grid by FFT, all bootstrap
replicates at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import fft, stats

from analysis.recovery._optim import JointSpace, maximize_batch
from analysis.recovery.families import RecoveryFamily, make_family

INF = math.inf
N_EXTRA = 4  # t0, arrival scale, arrival shape, tau (optimised); then N, sigma (profiled)
EXTRA_NAMES = ("arrival_start_", "arrival_scale_", "arrival_shape_", "noise_minutes_", "total_outages_", "noise_sd_")
BOOT_MAXITER = 60
TAU_MAX = 240.0  # minutes
N_MAX = 20.0  # total outages above 20 peaks: S has collapsed to a step, not a fit
DEGENERATE_FREE = 25.0


@dataclass(frozen=True, eq=False)
class QueueGrid:
    """A regular grid from ``-lead`` to ``t_max`` minutes after onset, step ``step``."""

    lead: float
    step: float
    t_max: float
    u: np.ndarray = field(init=False)
    lags: np.ndarray = field(init=False)
    nfft: int = field(init=False)

    def __post_init__(self) -> None:
        g = math.ceil((self.t_max + self.lead) / self.step) + 2
        object.__setattr__(self, "u", -self.lead + self.step * np.arange(g))
        object.__setattr__(self, "lags", (np.arange(1, g) - 0.5) * self.step)
        object.__setattr__(self, "nfft", fft.next_fast_len(2 * g, real=True))

    def unit_curves(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """∫ a(s) S(u − s) ds on the grid (N = 1) for parameter rows ``theta`` (B, k + 4): shape (B, G)."""
        theta = np.atleast_2d(theta)
        k = family.n_params
        t0, lam, shape = theta[:, k : k + 1], theta[:, k + 1 : k + 2], theta[:, k + 2 : k + 3]
        edges = np.concatenate([self.u, [self.u[-1] + self.step]])
        x = np.maximum(edges[None, :] - t0, 0.0) / lam
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            arrived = -np.expm1(-(x**shape))
        d_a = np.diff(arrived, axis=1)
        g = self.u.size
        s = np.zeros((theta.shape[0], g))
        s[:, 1:] = family.sf(self.lags, theta[:, :k])
        out = fft.irfft(fft.rfft(d_a, self.nfft, axis=1) * fft.rfft(s, self.nfft, axis=1), self.nfft, axis=1)[:, :g]
        return np.maximum(out, 0.0)

    def at(self, curves: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Curves interpolated at minutes ``t`` (linear)."""
        pos = (np.asarray(t, dtype=float) + self.lead) / self.step
        i0 = np.clip(np.floor(pos).astype(int), 0, self.u.size - 2)
        f = np.clip(pos - i0, 0.0, 1.0)
        return curves[:, i0] * (1.0 - f) + curves[:, i0 + 1] * f


def profile_noise(g: np.ndarray, y: np.ndarray, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Profile log-likelihood, N and σ of y = N·g + OU noise (rows: replicates; ``rho`` = e^(−Δt/τ))."""
    n = y.shape[1]
    w = np.concatenate([np.ones((rho.shape[0], 1)), 1.0 / (1.0 - rho**2)], axis=1)
    x = np.concatenate([g[:, :1], g[:, 1:] - rho * g[:, :-1]], axis=1)
    z = np.concatenate([y[:, :1], y[:, 1:] - rho * y[:, :-1]], axis=1)
    big_n = np.maximum(np.sum(w * x * z, axis=1) / np.maximum(np.sum(w * x * x, axis=1), 1e-300), 1e-9)
    r = z - big_n[:, None] * x
    s2 = np.maximum(np.sum(w * r * r, axis=1) / n, 1e-300)
    ll = -0.5 * n * (np.log(2 * np.pi * s2) + 1.0) - 0.5 * np.sum(np.log(1.0 - rho**2), axis=1)
    return ll, big_n, np.sqrt(s2)


@dataclass(frozen=True, eq=False)
class QueueEvidence:
    """Readings ``y`` (share of the peak) at minutes ``t`` after onset, and the grid that models them."""

    t: np.ndarray
    y: np.ndarray
    grid: QueueGrid
    peak_minutes: float
    typical: float
    dt: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dt", np.diff(self.t))

    @property
    def horizon(self) -> float:
        """Last reading, minutes after onset."""
        return float(self.t[-1])

    def extra_bounds(self) -> tuple[tuple[float, float], ...]:
        """Bounds of t₀, the arrival scale and shape, and τ.

        Arrivals start at most ``lead`` before the onset and before the peak; their scale is
        at most two days and their shape at least 1 (a tail no heavier than exponential), so
        a slow decline is not explained by outages that keep starting for days. τ is at most
        4 h: a deviation lasting longer is part of the restoration curve (a plateau, a
        relapse), not feed noise; letting the noise take it would leave the curve unidentified.
        """
        hi = max(self.peak_minutes, self.grid.step)
        return ((-self.grid.lead + self.grid.step, hi), (1.0, 2880.0), (1.0, 30.0), (0.0, TAU_MAX))

    def space(self, family: RecoveryFamily) -> JointSpace:
        """Free-scale map of S's parameters and the extras."""
        return JointSpace(family, self.extra_bounds())

    def loglik(self, family: RecoveryFamily, theta: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """Profile log-likelihood, N and σ of parameter rows ``theta`` against series ``y`` (rows, default the data)."""
        theta = np.atleast_2d(theta)
        k = family.n_params
        yy = np.broadcast_to(self.y, (theta.shape[0], self.y.size)) if y is None else y
        g = self.grid.at(self.grid.unit_curves(family, theta), self.t)
        rho = np.exp(-self.dt[None, :] / theta[:, k + 3 : k + 4])
        ll, big_n, sigma = profile_noise(g, yy, rho)
        ll = np.where(np.isfinite(ll), ll, -INF)
        return ll, big_n, sigma

    def starts(self, family: RecoveryFamily, warm: np.ndarray | None = None) -> np.ndarray:
        """Starting rows: restoration scales around the decline seen, quick and slow build-ups, short and long noise.

        With ``warm`` (t₀, scale, shape, τ of a family already fitted) the build-up is taken
        from it and only the restoration scale varies, plus two default rows.
        """
        step = self.grid.step
        tp = max(self.peak_minutes, step)
        builds = (
            (-0.5 * step, max(0.5 * tp, 0.5 * step), 2.0),
            (-0.25 * self.grid.lead, min(0.25 * self.grid.lead + tp, 2000.0), 2.0),
        )
        rows = []
        if warm is not None:
            rows += [[*family.start(sc * self.typical), *warm] for sc in (0.6, 1.0, 2.0)]
            rows += [[*family.start(self.typical), *b, 120.0] for b in builds]
        else:
            for sc in (0.5, 1.0, 2.5):
                for b in builds:
                    rows.append([*family.start(sc * self.typical), *b, 120.0])
        return np.asarray(rows, dtype=float)

    def full(self, family: RecoveryFamily, theta: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """Rows with the profiled N and σ appended."""
        _, big_n, sigma = self.loglik(family, theta, y)
        return np.concatenate([np.atleast_2d(theta), big_n[:, None], sigma[:, None]], axis=1)

    def mean(self, family: RecoveryFamily, full: np.ndarray) -> np.ndarray:
        """Fitted mean N·g at the readings for full rows (B, k + 6)."""
        full = np.atleast_2d(full)
        k = family.n_params
        g = self.grid.at(self.grid.unit_curves(family, full[:, : k + N_EXTRA]), self.t)
        return full[:, k + N_EXTRA : k + N_EXTRA + 1] * g

    def simulate(self, family: RecoveryFamily, full: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` series: the mean of ``full`` plus fresh OU noise at the same reading times."""
        k = family.n_params
        tau, sigma = float(full[k + 3]), float(full[k + 5])
        mean = self.mean(family, full)[0]
        rho = np.exp(-self.dt / tau)
        z = rng.normal(0.0, 1.0, (n, self.t.size))
        e = np.empty_like(z)
        e[:, 0] = sigma * z[:, 0]
        innov = sigma * np.sqrt(1.0 - rho**2)
        for i in range(1, self.t.size):
            e[:, i] = rho[i - 1] * e[:, i - 1] + innov[i - 1] * z[:, i]
        return mean[None, :] + e


@dataclass(frozen=True, eq=False)
class QueueCandidate:
    """One restoration family fitted: full parameter row (S, t₀, scale, shape, τ, N, σ), log-likelihood, AIC."""

    name: str
    family: RecoveryFamily
    theta: np.ndarray
    loglik: float
    converged: bool
    hess_inv: np.ndarray | None = None

    @property
    def n_params(self) -> int:
        """Free parameters, profiled ones included."""
        return self.family.n_params + N_EXTRA + 2

    @property
    def aic(self) -> float:
        """2k − 2ℓ (inf when the fit failed)."""
        return 2 * self.n_params - 2 * self.loglik if self.converged and math.isfinite(self.loglik) else INF


def degenerate(space: JointSpace, theta: np.ndarray) -> np.ndarray:
    """Rows whose open-ended parameters ran off to a flat end of the likelihood."""
    bounds = [*space.family.param_bounds(), *space.extra_bounds]
    open_ended = np.array([not (math.isfinite(lo) and math.isfinite(hi)) for lo, hi in bounds])
    with np.errstate(all="ignore"):
        u = np.atleast_2d(space.to_free(np.atleast_2d(theta)))
    return np.any((np.abs(u) > DEGENERATE_FREE) & open_ended, axis=1) | ~np.all(np.isfinite(u), axis=1)


def fit_family(ev: QueueEvidence, name: str, *, level: float, warm: np.ndarray | None = None) -> QueueCandidate:
    """Maximum likelihood of one restoration family: every start at once, then a polish of the best."""
    family = make_family(name, level=level)
    space = ev.space(family)
    starts = ev.starts(family, warm)

    def f(th: np.ndarray, rows: np.ndarray) -> np.ndarray:
        del rows
        return ev.loglik(family, th)[0]

    th, ll = maximize_batch(f, space, starts, maxiter=60, ftol=1e-4)
    order = np.argsort(-np.where(np.isfinite(ll), ll, -INF))[:1]
    th2, ll2, hinv = maximize_batch(f, space, th[order], maxiter=200, gtol=1e-4, ftol=1e-8, return_hess_inv=True)
    i = int(np.argmax(np.where(np.isfinite(ll2), ll2, -INF)))
    best = th2[i]
    full = ev.full(family, best)[0]
    ok = bool(np.isfinite(ll2[i])) and not bool(degenerate(space, best)[0]) and full[-2] < N_MAX
    return QueueCandidate(name, family, full, float(ll2[i]), ok, hinv[i])


def refit(ev: QueueEvidence, cand: QueueCandidate, ys: np.ndarray, *, maxiter: int = BOOT_MAXITER) -> np.ndarray:
    """Refit ``cand``'s family to each series in ``ys`` from its estimate; full rows (NaN where the refit failed)."""
    family = cand.family
    space = ev.space(family)
    k = family.n_params
    n = ys.shape[0]
    theta0 = np.tile(cand.theta[: k + N_EXTRA], (n, 1))

    def f(th: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return ev.loglik(family, th, ys[rows])[0]

    th, ll = maximize_batch(f, space, theta0, hess_inv0=cand.hess_inv, maxiter=maxiter, ftol=1e-5)
    full = ev.full(family, th, ys)
    bad = ~np.isfinite(ll) | degenerate(space, th) | ~np.all(np.isfinite(full), axis=1) | (full[:, -2] >= N_MAX)
    full[bad] = np.nan
    return full


def noise_correction(ev: QueueEvidence, cand: QueueCandidate, rng: np.random.Generator, n_pilot: int) -> tuple[float, float]:
    """Factors for σ and τ that undo their small-sample bias, measured on a pilot bootstrap (each in [1, 3]).

    σ and τ estimated around a fitted curve are too small (the curve absorbs part of the
    slow noise); a bootstrap simulated from them would give too narrow intervals.
    """
    if n_pilot < 10:
        return 1.0, 1.0
    k = cand.family.n_params
    pilot = refit(ev, cand, ev.simulate(cand.family, cand.theta, rng, n_pilot), maxiter=40)
    pilot = pilot[np.all(np.isfinite(pilot), axis=1)]
    if pilot.shape[0] < 5:
        return 1.0, 1.0
    out = []
    for j in (k + 5, k + 3):
        bias = float(np.mean(np.log(pilot[:, j]))) - math.log(cand.theta[j])
        out.append(math.exp(float(np.clip(-bias, 0.0, math.log(3.0)))))
    return out[0], out[1]


def bootstrap_family(
    ev: QueueEvidence, cand: QueueCandidate, n: int, rng: np.random.Generator, factors: tuple[float, float]
) -> tuple[np.ndarray, int]:
    """``n`` parametric-bootstrap replicates of ``cand`` (noise inflated by ``factors``); rows kept and refits failed."""
    if n <= 0:
        return np.empty((0, cand.theta.size)), 0
    k = cand.family.n_params
    sim = cand.theta.copy()
    sim[k + 5] *= factors[0]
    sim[k + 3] *= factors[1]
    reps = refit(ev, cand, ev.simulate(cand.family, sim, rng, n))
    ok = np.all(np.isfinite(reps), axis=1)
    return reps[ok], int((~ok).sum())


# ---------------------------------------------------------------------------- the feed's noise, level-proportional

NOISE_WINDOW = 240.0  # minutes: the blocks the feed's noise is measured in
NOISE_TAUS = np.geomspace(5.0, TAU_MAX, 40)  # time constants tried (minutes)


@dataclass(frozen=True)
class FeedNoise:
    """The feed's noise: SD ``sd_peak`` (share of the peak) at the peak, ∝ level^``power``, OU memory ``tau`` minutes.

    At a level m (share of the peak) the noise's SD is ``sd_peak · m^power`` in shares of the
    peak, ``sd_peak · m^(power − 1)`` on the log scale. ``blocks``: how many blocks of
    readings measured it (0: nothing could be measured, the values are fallbacks).
    """

    sd_peak: float
    power: float
    tau: float
    blocks: int

    def sd(self, level: float) -> float:
        """SD of the noise at ``level`` (share of the peak), in shares of the peak."""
        return self.sd_peak * max(level, 1e-9) ** self.power

    def log_sd(self, level: float) -> float:
        """SD of the noise at ``level`` on the log scale (relative SD)."""
        return self.sd_peak * max(level, 1e-9) ** (self.power - 1.0)


def _block_reml(u: np.ndarray, z: np.ndarray, taus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """REML of OU noise (σ profiled) around a quadratic trend, per time constant: (log-likelihoods, σ²).

    The restricted likelihood is that of the residuals' contrasts, so the trend the block's
    quadratic takes away (and with it part of a slow noise) is accounted for exactly. Every
    time constant at once (stacked matrices).
    """
    n = u.size
    x = np.column_stack([np.ones(n), u / 60.0, (u / 60.0) ** 2])
    p = x.shape[1]
    lls, s2s = np.full(taus.size, -INF), np.full(taus.size, np.nan)
    d = np.abs(u[:, None] - u[None, :])
    r_mat = np.exp(-d[None, :, :] / taus[:, None, None]) + 1e-9 * np.eye(n)
    try:
        c = np.linalg.cholesky(r_mat)
    except np.linalg.LinAlgError:
        return lls, s2s
    rhs = np.broadcast_to(np.column_stack([x, z]), (taus.size, n, p + 1))
    sol = np.linalg.solve(c, rhs)
    q, rr = np.linalg.qr(sol[:, :, :p])
    zs = sol[:, :, p]
    res = zs - np.einsum("bij,bj->bi", q, np.einsum("bij,bi->bj", q, zs))
    s2 = np.einsum("bi,bi->b", res, res) / (n - p)
    logdet_r = 2.0 * np.sum(np.log(np.diagonal(c, axis1=1, axis2=2)), axis=1)
    logdet_x = 2.0 * np.sum(np.log(np.abs(np.diagonal(rr, axis1=1, axis2=2))), axis=1)
    ok = s2 > 0
    lls[ok] = -0.5 * ((n - p) * np.log(s2[ok]) + logdet_r[ok] + logdet_x[ok] + (n - p))
    s2s[ok] = s2[ok]
    return lls, s2s


def level_power(t: np.ndarray, y: np.ndarray, *, step: float, floor: float = 0.05) -> float | None:
    """How the feed's noise grows with the level, from the readings' second differences: SD ∝ level^power.

    For readings three cadence steps in a row (``t`` minutes, ``y`` shares of the peak, fresh
    and ≥ ``floor``), d = log y₁ − 2·log y₂ + log y₃ is the noise's second difference plus the
    curve's curvature over two steps, which is small beside the noise except at a kink (the
    peak's turn, a substation) — and a kink moves a few d, not the median. Only the
    readings from the largest one on: the build-up's bands bend the curve reading by reading. Under noise whose
    log-scale SD is s·level^β, log|d| = log s + β·log(level) + a constant (the log of a
    |normal|), whatever the noise's memory; β is the Theil–Sen slope of log|d| on log(level),
    and power = β + 1 (1: a share of the count; 0: a constant number of customers). None when
    fewer than 12 differences or a range of levels under a factor 4 cannot show it.
    """
    fresh = np.concatenate([[True], y[1:] != y[:-1]]) & (y >= floor) & (np.arange(y.size) >= int(np.argmax(y)))
    t, z = t[fresh], np.log(y[fresh])
    if t.size < 3:
        return None
    gap = np.diff(t)
    run = (np.abs(gap[:-1] - step) < 0.25 * step) & (np.abs(gap[1:] - step) < 0.25 * step)
    d = z[:-2] - 2.0 * z[1:-1] + z[2:]
    ok = run & (np.abs(d) > 0)
    lvl = z[1:-1][ok]
    if ok.sum() < 12 or float(np.ptp(lvl)) < math.log(4.0):
        return None
    return float(np.clip(stats.theilslopes(np.log(np.abs(d[ok])), lvl)[0], -1.0, 0.5)) + 1.0


def feed_noise(
    t: np.ndarray, y: np.ndarray, *, step: float, fallback: FeedNoise, window: float = NOISE_WINDOW, taus: np.ndarray = NOISE_TAUS
) -> FeedNoise:
    """The feed's noise measured from the readings alone, robust to the model's misfit.

    A scraped count is off by a share of itself (its noise grows with the level), slowly
    (for hours). Measured around the queue model's curve, that noise would also hold the
    model's misfit (bands, a substation's step) and, as one SD for the whole series, be too
    small at the top. Here the fresh readings (a repeat of the reading before is not one)
    are cut into blocks of 4 h; in each, log(readings) minus a quadratic trend is taken as
    Ornstein–Uhlenbeck noise, by restricted maximum likelihood (REML: what the quadratic
    takes away of a slow noise is accounted for). The memory τ is shared by the blocks
    (each has its own SD); the blocks' SDs against their levels give the power law
    SD ∝ level^power (Theil–Sen on the logs, so a block the trend cannot follow does not
    tilt it); blocks far above that line (a step, a relapse) are dropped and τ measured
    again. Blocks below 5 % of the peak (rounding, background outages) are not used.
    ``fallback`` when fewer than three blocks can be measured.

    ``t`` minutes, ``y`` readings as shares of the peak, ``step`` the cadence (minutes);
    ``window`` the blocks' length and ``taus`` the memories tried (minutes).
    """
    measured_power = level_power(t, y, step=step)
    fresh = np.concatenate([[True], y[1:] != y[:-1]]) & (y > 0)
    t, y = t[fresh], y[fresh]
    if t.size < 12:
        return fallback
    edges = np.arange(t[0], t[-1] + window, window)
    idx = np.searchsorted(edges, t, side="right") - 1
    blocks = []
    for b in np.unique(idx):
        sel = idx == b
        if sel.sum() < max(8, int(0.5 * window / step)):
            continue
        yb = y[sel]
        if float(np.min(yb)) < 0.05:
            continue
        u = t[sel] - float(np.mean(t[sel]))
        lls, s2s = _block_reml(u, np.log(yb), taus)
        if np.isfinite(lls).any():
            blocks.append((float(np.exp(np.mean(np.log(yb)))), lls, s2s))
    keep = np.ones(len(blocks), dtype=bool)
    power, alpha, tau_i = 1.0, math.nan, 0
    for _ in range(2):
        if keep.sum() < 3:
            return fallback
        total = np.sum([blocks[i][1] for i in np.nonzero(keep)[0]], axis=0)
        tau_i = int(np.argmax(total))
        lvl = np.log([b[0] for b in blocks])
        log_sd = 0.5 * np.log([b[2][tau_i] for b in blocks])
        ok = keep & np.isfinite(log_sd)
        if ok.sum() < 3:
            return fallback
        # the power from the readings' second differences (the blocks' own SDs against their
        # levels are tilted by the blocks whose curve a quadratic cannot follow); too narrow a
        # range of levels to see it: multiplicative
        beta = measured_power - 1.0 if measured_power is not None else 0.0
        alpha = float(np.median(log_sd[ok] - beta * lvl[ok]))
        power = beta + 1.0
        resid = log_sd - alpha - beta * lvl
        mad = 1.4826 * float(np.median(np.abs(resid[ok] - np.median(resid[ok]))))
        keep = keep & np.isfinite(resid) & (resid <= max(3.0 * mad, math.log(1.5)))
    return FeedNoise(math.exp(alpha), power, float(taus[tau_i]), int(keep.sum()))
