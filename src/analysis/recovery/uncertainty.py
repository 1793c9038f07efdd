"""Intervals that carry the uncertainty of the model choice, and what the data cannot identify.

The chosen family is rarely the only one the data allow. Conditional intervals (a bootstrap
of the chosen model only) pretend it is, and are too narrow whenever another candidate fits
nearly as well but implies a different curve. Here:

* **Model weights.** Akaike weights w_m ∝ exp(−Δ_m/2) of the criterion used for the choice:
  AIC, or QAIC = −2ℓ/φ + 2k when the reports are overdispersed (φ from
  :mod:`analysis.recovery.dispersion`; Burnham & Anderson 2002, §2.5).
* **Model-averaged bootstrap.** The ``n_boot`` replicates are shared out among the
  candidates in proportion to their weights (largest remainders; candidates together
  holding 99% of the weight, each above 1%); a candidate's replicates are simulated from
  its own fit and refitted with its own family. The percentile interval of the weighted
  mixture of the candidates' bootstrap distributions is the bootstrap form of the
  model-averaged tail-area (MATA) interval (Turek & Fletcher 2012, *Computational
  Statistics & Data Analysis* 56: 2809–2815), whose ends satisfy
  Σ_m w_m P_m(T_m ≤ low) = α/2. The reported value stays the chosen model's.
* **Delay identifiability.** For a delay model the log-likelihood is profiled over the
  delay d (the other parameters maximised at each d; d = 0 is the model without delay).
  The quasi-likelihood interval {d : 2[ℓ̂ − ℓ_p(d)]/φ ≤ χ²₁(level)} says whether the data
  separate a delay from a slow decline: when it reaches d = 0, they do not.

:func:`assemble_fit` builds a :class:`RecoveryFit` from fitted candidates for any evidence
kind, including the switch used by :meth:`RecoveryFit.with_model`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from analysis.recovery._optim import JointSpace, maximize_batch
from analysis.recovery.dispersion import Dispersion
from analysis.recovery.engine import BootResult, Candidate, bootstrap, candidate_table
from analysis.recovery.families import make_family
from analysis.recovery.result import Draws, RecoveryFit

MIN_WEIGHT = 0.01  # candidates below this weight get no replicates
WEIGHT_COVERED = 0.99  # candidates are taken, best first, until they hold this much weight


def criterion(c: Candidate, phi: float) -> float:
    """QAIC = −2ℓ/φ + 2k of a candidate (AIC when φ = 1); inf when it did not converge."""
    if not (c.converged and math.isfinite(c.loglik)):
        return math.inf
    return -2.0 * c.loglik / phi + 2.0 * c.n_params


def model_weights(cands: Sequence[Candidate], phi: float = 1.0) -> np.ndarray:
    """Akaike weights of the candidates under QAIC with dispersion ``phi`` (zero for failed fits)."""
    q = np.array([criterion(c, phi) for c in cands])
    if not np.isfinite(q).any():
        return np.zeros(len(cands))
    d = q - np.min(q)
    w = np.where(np.isfinite(d), np.exp(-0.5 * np.where(np.isfinite(d), d, 0.0)), 0.0)
    return w / w.sum()


def allocate(weights: np.ndarray, n_boot: int) -> np.ndarray:
    """Replicates per candidate: proportional to the weights of the best candidates (largest remainders)."""
    w = np.asarray(weights, dtype=float)
    order = np.argsort(-w)
    keep = np.zeros(w.size, dtype=bool)
    acc = 0.0
    for i in order:
        if w[i] < MIN_WEIGHT or acc >= WEIGHT_COVERED:
            break
        keep[i] = True
        acc += w[i]
    if not keep.any():
        keep[order[0]] = True
    share = np.where(keep, w, 0.0)
    share = share / share.sum()
    raw = share * n_boot
    n = np.floor(raw).astype(int)
    left = n_boot - int(n.sum())
    if left > 0:
        n[np.argsort(-(raw - n))[:left]] += 1
    return n


@dataclass(frozen=True, eq=False)
class Blocks:
    """The bootstrap replicates of every candidate that got some, with their model weights."""

    draws: tuple[Draws, ...]
    boots: dict[str, BootResult]

    @property
    def n_failed(self) -> int:
        """Refits that failed (dropped)."""
        return sum(b.n_failed for b in self.boots.values())

    @property
    def n_replicates(self) -> int:
        """Replicates kept, all candidates together."""
        return sum(d.theta.shape[0] for d in self.draws)

    @property
    def seconds(self) -> float:
        """Time spent."""
        return sum(b.seconds for b in self.boots.values())


def averaged_bootstrap(evidence: Any, cands: Sequence[Candidate], weights: np.ndarray, *, n_boot: int, seed: int) -> Blocks:
    """Share ``n_boot`` replicates among the candidates by weight; bootstrap each with its own model."""
    n = allocate(weights, n_boot)
    seeds = np.random.SeedSequence(seed).spawn(len(cands))
    draws, boots = [], {}
    kept = [i for i in range(len(cands)) if n[i] > 0]
    total_w = float(sum(weights[i] for i in kept))
    for i in kept:
        c = cands[i]
        b = bootstrap(evidence, c, n_boot=int(n[i]), seed=int(seeds[i].generate_state(1)[0]))
        boots[c.name] = b
        if b.theta.shape[0]:
            draws.append(Draws(c.name, c.family, b.theta, float(weights[i]) / total_w))
    return Blocks(tuple(draws), boots)


# --------------------------------------------------------------------------- delay profile


@dataclass(frozen=True)
class DelayProfile:
    """Profile log-likelihood of a delay model over its delay (minutes after onset)."""

    model: str
    grid: np.ndarray
    loglik: np.ndarray
    estimate: float
    low: float
    high: float
    upper: float
    phi: float
    level: float

    @property
    def excludes_zero(self) -> bool:
        """True when the data reject "restoration started at the onset" (no delay)."""
        return self.low > 0.0

    @property
    def bounded_above(self) -> bool:
        """True when the data rule out delays up to the end of observation."""
        return self.high < 0.95 * self.upper

    @property
    def identified(self) -> bool:
        """Both: the delay is pinned down from both sides."""
        return self.excludes_zero and self.bounded_above

    def to_metrics(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "model": self.model,
            "delay_minutes": round(self.estimate, 1),
            "delay_minutes_ci": [round(self.low, 1), round(self.high, 1)],
            "identified": self.identified,
            "excludes_no_delay": self.excludes_zero,
        }


def profile_delay(evidence: Any, cand: Candidate, *, phi: float, level: float, n_grid: int = 17) -> DelayProfile | None:
    """Profile ℓ over the delay of a converged delay candidate (vectorised over the grid); None if not applicable.

    The grid spans 0 to the largest delay the data allow, denser around the estimate; at
    each d the other parameters are maximised from the candidate's own values and from the
    default start, keeping the better.
    """
    fam = cand.family
    if not (fam.delay and cand.converged) or not hasattr(evidence, "as_batch"):
        return None
    k = fam.n_params
    d_hat = float(cand.theta[k - 1])
    upper = float(fam.delay_upper) if math.isfinite(fam.delay_upper) else 2.0 * max(d_hat, 1.0)
    near = d_hat + np.array([-120.0, -60.0, -30.0, -10.0, 10.0, 30.0, 60.0])
    grid = np.unique(np.clip(np.concatenate([np.linspace(0.0, upper, n_grid), near, [d_hat]]), 0.0, upper))
    base = make_family(fam.name, level=fam.level)
    space = JointSpace(base, tuple(evidence.extra_bounds))
    own = np.delete(cand.theta, k - 1)
    default = np.concatenate([base.start(evidence.typical_time(), 0.1), list(evidence.extra_start())])
    # both starts at every grid point, in one vectorised run
    d_rows = np.concatenate([grid, grid])
    batch = evidence.as_batch(d_rows.size)

    def f(th: np.ndarray, rows: np.ndarray) -> np.ndarray:
        full = np.concatenate([th[:, : k - 1], d_rows[rows, None], th[:, k - 1 :]], axis=1)
        return batch.loglik(fam, full, rows)

    def fg(th: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        full = np.concatenate([th[:, : k - 1], d_rows[rows, None], th[:, k - 1 :]], axis=1)
        got = batch.loglik_grad(fam, full, rows) if hasattr(batch, "loglik_grad") else None
        return None if got is None else (got[0], np.delete(got[1], k - 1, axis=1))  # the delay is held fixed

    start = np.vstack([np.tile(own, (grid.size, 1)), np.tile(default, (grid.size, 1))])
    _, ll = maximize_batch(f, space, start, maxiter=80, ftol=1e-5, loglik_grad=fg)
    best_ll = np.maximum(ll[: grid.size], ll[grid.size :])
    ll_hat = max(float(cand.loglik), float(np.max(best_ll)))
    dev = 2.0 * (ll_hat - best_ll) / phi
    crit = float(stats.chi2.ppf(level, 1))
    inside = grid[dev <= crit]
    low, high = (float(inside.min()), float(inside.max())) if inside.size else (d_hat, d_hat)
    return DelayProfile(cand.name, grid, best_ll, d_hat, low, high, upper, phi, level)


# --------------------------------------------------------------------------- verdict


def _hours(minutes: float) -> str:
    return f"{minutes / 60:.1f} h" if minutes >= 90 else f"{minutes:.0f} min"


def verdict_notes(
    *,
    chosen: str,
    cands: Sequence[Candidate],
    weights: np.ndarray,
    dispersion_text: str | None,
    delay: DelayProfile | None,
    averaged: bool,
) -> list[str]:
    """Plain-language sentences on what the data can and cannot tell."""
    notes = []
    if dispersion_text:
        notes.append(dispersion_text[0].upper() + dispersion_text[1:] + ".")
    idx = {c.name: i for i, c in enumerate(cands)}
    w_chosen = float(weights[idx[chosen]]) if chosen in idx else math.nan
    if math.isfinite(w_chosen) and w_chosen < 0.9 and len(cands) > 1:
        order = np.argsort(-weights)
        top = [f"{cands[i].name} {weights[i]:.2f}" for i in order[:4] if weights[i] >= 0.05]
        tail = " Intervals are averaged over them." if averaged else " Intervals are conditional on the reported model."
        notes.append(f"The data do not single out one model (weights: {', '.join(top)}).{tail}")
    if delay is not None:
        if not delay.excludes_zero:
            notes.append(
                f"The data cannot separate a delay ({_hours(delay.estimate)} under {delay.model}) from a slow decline "
                f"from the onset: delays from 0 to {_hours(delay.high)} fit about as well."
            )
        elif not delay.bounded_above:
            notes.append(
                f"The delay of {delay.model} is not bounded above: restoration may have started as late as "
                f"{_hours(delay.high)} after onset."
            )
        else:
            notes.append(
                f"Restoration started after a delay of {_hours(delay.estimate)} [{_hours(delay.low)}–{_hours(delay.high)}]."
            )
    return notes


# --------------------------------------------------------------------------- assembly


@dataclass(frozen=True, eq=False)
class FitSpec:
    """Everything about one fit that does not depend on the reported model.

    ``per_model(cand)`` returns the fields that do (diagnostics, sensitivity);
    ``method_noun`` names the bootstrap ("parametric bootstrap", "case-resampling
    bootstrap", …); ``method_suffix`` is appended to the method line (clumping, onset).
    """

    kind: str
    evidence: Any
    cands: tuple[Candidate, ...]
    phi: float
    level: float
    n_boot: int
    seed: int
    method_noun: str
    method_suffix: str
    dispersion_text: str | None
    dispersion_info: Mapping[str, Any]
    common: Mapping[str, Any]
    per_model: Callable[[Candidate], Mapping[str, Any]]
    profile_delays: bool = True


def fit_spec(
    kind: str,
    evidence: Any,
    cands: Sequence[Candidate],
    *,
    level: float,
    n_boot: int,
    seed: int,
    method_noun: str,
    onset: Any,
    end: Any,
    timezone: str,
    per_model: Callable[[Candidate], Mapping[str, Any]],
    method_suffix: str = "",
    dispersion: Dispersion | None = None,
    profile_delays: bool = True,
    onset_source: str = "config",
    onset_ci: Any = None,
    **fields: Any,
) -> FitSpec:
    """The :class:`FitSpec` of one fitter: what every evidence kind states the same way.

    ``onset``, ``onset_source``, ``onset_ci``, ``end``, ``timezone`` and the ``fields``
    (data quality, notes, timings, …) make ``common``. Without a measured
    ``dispersion`` the fit is Poisson-like: φ = 1 and no dispersion text or metrics.
    """
    disp_text = None
    if dispersion is not None and (dispersion.overdispersed or math.isfinite(dispersion.pearson)):
        disp_text = dispersion.describe()
    return FitSpec(
        kind=kind,
        evidence=evidence,
        cands=tuple(cands),
        phi=dispersion.phi if dispersion is not None else 1.0,
        level=float(level),
        n_boot=int(n_boot),
        seed=int(seed),
        method_noun=method_noun,
        method_suffix=method_suffix,
        dispersion_text=disp_text,
        dispersion_info=dispersion.to_metrics() if dispersion is not None else {},
        common={"onset": onset, "onset_source": onset_source, "onset_ci": onset_ci, "end": end, "timezone": timezone, **fields},
        per_model=per_model,
        profile_delays=profile_delays,
    )


def _delay_for(spec: FitSpec, chosen: Candidate, weights: np.ndarray) -> DelayProfile | None:
    """Profile the chosen model's delay, else that of the best delay candidate with weight ≥ 0.05."""
    if not spec.profile_delays:
        return None
    if chosen.family.delay:
        return profile_delay(spec.evidence, chosen, phi=spec.phi, level=spec.level)
    # the best-supported delay model whose delay is more than a rounding of zero
    delays = [
        (w, c)
        for c, w in zip(spec.cands, weights, strict=True)
        if c.family.delay and c.converged and w >= 0.05 and c.theta[c.family.n_params - 1] > max(5.0, 0.01 * c.family.delay_upper)
    ]
    if not delays:
        return None
    return profile_delay(spec.evidence, max(delays, key=lambda x: x[0])[1], phi=spec.phi, level=spec.level)


def assemble_fit(spec: FitSpec, name: str, *, averaged: bool) -> RecoveryFit:
    """Bootstrap and package the fit reported under candidate ``name``.

    ``averaged``: intervals from the model-averaged bootstrap over all candidates (the
    default fit); otherwise from the candidate's own bootstrap (a model chosen by the user).
    """
    t0 = time.perf_counter()
    cands = list(spec.cands)
    chosen = next(c for c in cands if c.name == name)
    weights = model_weights(cands, spec.phi)
    if averaged and len(cands) > 1:
        blocks = averaged_bootstrap(spec.evidence, cands, weights, n_boot=spec.n_boot, seed=spec.seed)
    else:
        boot = bootstrap(spec.evidence, chosen, n_boot=spec.n_boot, seed=spec.seed)
        d = (Draws(chosen.name, chosen.family, boot.theta, 1.0),) if boot.theta.shape[0] else ()
        blocks = Blocks(d, {chosen.name: boot})
    t1 = time.perf_counter()
    own = blocks.boots.get(chosen.name)
    theta_boot = own.theta if own is not None else np.empty((0, chosen.theta.size + len(spec.evidence.profiled_names)))
    models = [d for d in blocks.draws if d.weight > 0]
    crit = "QAIC" if spec.phi > 1 else "Akaike"
    if spec.n_boot == 0:
        method = "none (n_boot = 0)"
    elif averaged and len(models) > 1:
        method = (
            f"model-averaged {spec.method_noun}: {blocks.n_replicates} replicates shared among {len(models)} candidate "
            f"models by their {crit} weights, each refitted with its own model; percentile intervals of the weighted mixture"
        )
    else:
        method = f"{spec.method_noun}, {blocks.n_replicates} replicates of {name}, percentile intervals"
        if not averaged and len(cands) > 1:
            method += " (conditional on this model)"
        elif len(cands) > 1:
            method += " (the other candidates hold under 1% of the weight)"
    method += spec.method_suffix
    if blocks.n_failed:
        method += f" ({blocks.n_failed} refits failed and were dropped)"
    delay = _delay_for(spec, chosen, weights)
    notes = verdict_notes(
        chosen=name, cands=cands, weights=weights, dispersion_text=spec.dispersion_text, delay=delay, averaged=averaged
    )
    ident: dict[str, Any] = {
        "dispersion": dict(spec.dispersion_info),
        "model_weight": round(float(weights[cands.index(chosen)]), 4),
        "criterion": "QAIC" if spec.phi > 1 else "AIC",
        "delay": delay.to_metrics() if delay is not None else None,
    }
    theta = np.concatenate([chosen.theta, spec.evidence.profiled(chosen.family, chosen.theta)])
    t2 = time.perf_counter()
    extra = dict(spec.per_model(chosen))
    timings = dict(spec.common.get("timings", {}))
    timings.update({"bootstrap": t1 - t0, "profile": t2 - t1, **extra.pop("timings", {})})
    fields = {k: v for k, v in spec.common.items() if k != "timings"}
    fields.update(extra)
    return RecoveryFit(
        kind=spec.kind,
        model=name,
        family=chosen.family,
        theta=theta,
        theta_boot=theta_boot,
        param_names=(*chosen.family.all_param_names, *spec.evidence.extra_names, *spec.evidence.profiled_names),
        level=spec.level,
        candidates=candidate_table(cands, phi=spec.phi),
        interval_method=method,
        log_likelihood=chosen.loglik,
        aic=chosen.aic,
        n_observations=float(spec.evidence.n_obs),
        n_boot_failed=blocks.n_failed,
        timings=timings,
        draws=blocks.draws,
        dispersion=spec.phi,
        verdict=" ".join(notes),
        identifiability=ident,
        switch=lambda other: assemble_fit(spec, other, averaged=False),
        **fields,
    )
