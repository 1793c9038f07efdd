"""Restoration evidence: per-customer restoration times, exact or censored, and their resampled batches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.recovery.family_base import INF, CensoredData, RecoveryFamily


@dataclass(frozen=True, eq=False)
class RestorationEvidence:
    """Per-customer restoration times: exact, right-censored and interval-censored.

    ℓ = Σ w log f(t) + Σ w log S(c) + Σ w log[S(L) − S(R)]. No nuisance parameters.
    """

    data: CensoredData
    kind: str = "restorations"
    extra_names: tuple[str, ...] = ()
    extra_bounds: tuple[tuple[float, float], ...] = ()
    profiled_names: tuple[str, ...] = ()

    @property
    def n_obs(self) -> float:
        """Number of customers (sum of weights)."""
        return self.data.n

    def extra_start(self) -> list[float]:
        """No nuisance parameters."""
        return []

    def delay_upper(self) -> float:
        """No restoration can precede the delay."""
        return self.data.delay_upper()

    def typical_time(self) -> float:
        """Weighted median of the known times."""
        return self.data.typical_time()

    def loglik(self, family: RecoveryFamily, theta: np.ndarray) -> float:
        """Censored log-likelihood."""
        return family.censored_loglik(theta[: family.n_params], self.data)

    def profiled(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """Nothing profiled."""
        del family, theta
        return np.empty(0)

    def as_batch(self, n: int) -> RestorationBatch:
        """The observed records repeated ``n`` times: for evaluating n parameter vectors at once."""
        d = self.data
        w = np.concatenate([d.exact_w, d.right_w, d.interval_w])
        return RestorationBatch(d, np.tile(w, (n, 1)))

    def simulate_batch(self, family: RecoveryFamily, theta: np.ndarray, rng: np.random.Generator, n: int) -> RestorationBatch:
        """Draw ``n`` case-resampled data sets at once (multinomial weights per replicate).

        Resampling whole records keeps whatever censoring mechanism produced the data (end
        of observation, inspection times) without having to model it.
        """
        del family, theta
        d = self.data
        w = np.concatenate([d.exact_w, d.right_w, d.interval_w])
        total = round(float(w.sum()))
        return RestorationBatch(d, rng.multinomial(total, w / w.sum(), size=n).astype(float))


@dataclass(frozen=True, eq=False)
class RestorationBatch:
    """B resampled restoration data sets: the same records with replicate-specific weights."""

    data: CensoredData
    weights: np.ndarray

    def loglik(self, family: RecoveryFamily, theta: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Censored log-likelihood of replicates ``rows`` (default all) at their own parameters."""
        d = self.data
        k = family.n_params
        th = np.asarray(theta, dtype=float)[:, :k]
        a, b = d.exact.size, d.exact.size + d.right.size
        w = self.weights if rows is None else self.weights[rows]
        ll = np.zeros(w.shape[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            if d.exact.size:
                ll += np.where(w[:, :a] > 0, w[:, :a] * family.log_pdf(d.exact, th), 0.0).sum(axis=1)
            if d.right.size:
                ll += np.where(w[:, a:b] > 0, w[:, a:b] * family.log_sf(d.right, th), 0.0).sum(axis=1)
            if d.lower.size:
                lo = family.log_sf(d.lower, th)
                up = family.log_sf(d.upper, th)
                term = lo + np.log(-np.expm1(np.minimum(up - lo, 0.0)))
                ll += np.where(w[:, b:] > 0, w[:, b:] * term, 0.0).sum(axis=1)
        return np.where(np.isfinite(ll), ll, -INF)

    def profiled(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """Nothing profiled."""
        del family
        return np.empty((np.asarray(theta).shape[0], 0))
