"""B report sets on the bins of one report evidence, for the vectorised bootstrap and profiles.

Split from :mod:`analysis.recovery.evidence`, which draws the sets (``simulate_batch``) and
repeats the observed one (``as_batch``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from analysis.recovery.report_bins import NOTICE_SIGMA, gather_rows, notice_factor_grad, replicate_offsets, tail_sums

if TYPE_CHECKING:
    from analysis.recovery.evidence import ReportEvidence
    from analysis.recovery.family_base import RecoveryFamily

INF = math.inf
BLOCK_VALUES = 65_536  # values of S per block of parameter rows in ReportEvidence.shape (0.5 MB temporaries)


@dataclass(frozen=True, eq=False)
class ReportBatch:
    """B report sets on the bins of one :class:`ReportEvidence` (vectorised bootstrap and profiles).

    Exactly timed reports are stored as the non-zero counts (``e_rep``, ``e_bin``,
    ``e_cnt``) and windows as rows (``w_rep``, bin index and fraction of each end, count),
    both sorted by replicate, so the likelihood of a subset of replicates touches only their
    own rows.
    """

    base: ReportEvidence
    n_rep: int
    e_rep: np.ndarray
    e_bin: np.ndarray
    e_cnt: np.ndarray
    w_rep: np.ndarray
    w_ia: np.ndarray
    w_fa: np.ndarray
    w_ib: np.ndarray
    w_fb: np.ndarray
    w_cnt: np.ndarray
    _n: np.ndarray = field(init=False)
    _e_off: np.ndarray = field(init=False)
    _w_off: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        b = self.n_rep
        n = np.bincount(self.e_rep, weights=self.e_cnt, minlength=b) + np.bincount(self.w_rep, weights=self.w_cnt, minlength=b)
        object.__setattr__(self, "_n", n)
        object.__setattr__(self, "_e_off", replicate_offsets(self.e_rep, b))
        object.__setattr__(self, "_w_off", replicate_offsets(self.w_rep, b))

    def n_obs(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Return the number of reports per replicate (of ``rows``, default all)."""
        return self._n if rows is None else self._n[rows]

    def loglik(self, family: RecoveryFamily, theta: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Log-likelihood of replicates ``rows`` (default all), each at its own row of ``theta``."""
        rows = np.arange(self.n_rep) if rows is None else np.asarray(rows)
        m = shared_shape(self.base, family, theta)
        total = m.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            sel, r = gather_rows(self._e_off, rows)
            kb = self.e_bin[sel]
            ll = np.zeros(rows.size)
            if sel.size:
                ll += np.bincount(r, weights=self.e_cnt[sel] * np.log(m[r, kb] / self.base.widths[kb]), minlength=rows.size)
            sel, r = gather_rows(self._w_off, rows)
            if sel.size:
                tails = tail_sums(m)
                ia, ib = self.w_ia[sel], self.w_ib[sel]
                lam = (tails[r, ia + 1] + (1.0 - self.w_fa[sel]) * m[r, ia]) - (
                    tails[r, ib + 1] + (1.0 - self.w_fb[sel]) * m[r, ib]
                )
                ll += np.bincount(r, weights=self.w_cnt[sel] * np.log(lam), minlength=rows.size)
            n = self.n_obs(rows)
            ll += np.where(n > 0, n * np.log(n / total), 0.0) - n + self.base.penalty(family, theta)
        return np.where(np.isfinite(ll) & (total > 0), ll, -INF)

    def loglik_grad(
        self, family: RecoveryFamily, theta: np.ndarray, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """:meth:`loglik` and its gradient in the natural parameters (``(B, k)``), or None without a closed form.

        ∂ℓ/∂m_k is n_k/m_k for exact reports, Σ_j c_j/Λ(W_j)·∂Λ(W_j)/∂m_k for windows and
        −N/Σm for the profiled rate; pushed through Simpson's weights to the nodes, it is
        the weight V of :meth:`RecoveryFamily.sf_vjp` (a bin split by the delay is taken
        piece by piece, its nodes and widths moving with the delay). Rows are done in
        blocks that keep the temporaries in cache. None when the family has no closed-form
        derivatives or the evidence carries a surge factor or an estimated clock profile (a noticing factor:
        :func:`notice_factor_grad`).
        """
        base = self.base
        if not (family.has_sf_grad and not base.surge and not base.fits_profile):
            return None
        rows = np.arange(self.n_rep) if rows is None else np.asarray(rows)
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        ll = np.empty(rows.size)
        grad = np.empty((rows.size, theta.shape[1]))
        step = max(1, BLOCK_VALUES // base.nodes.size)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for i in range(0, rows.size, step):
                ll[i : i + step], grad[i : i + step] = self._loglik_grad_block(family, theta[i : i + step], rows[i : i + step])
        ok = np.isfinite(ll)
        grad[~ok] = np.nan
        return np.where(ok, ll, -INF), grad

    def _loglik_grad_block(self, family: RecoveryFamily, th: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        base = self.base
        nb, k = base.widths.size, family.n_params
        s, vjp = shared_sf_vjp(family, base.nodes, th[:, :k])
        w6 = base.widths / 6.0
        m = base.g * w6 * (s[:, 0:-1:2] + 4.0 * s[:, 1::2] + s[:, 2::2])
        split = None
        if family.delay:
            d = th[:, k - 1]
            j = np.clip(np.searchsorted(base.edges, d, side="right") - 1, 0, nb - 1)
            a, b = base.edges[j], base.edges[j + 1]
            inside = (d > a) & (d < b)
            if inside.any():
                r_in = np.nonzero(inside)[0]
                jr, dr, ar, br = j[r_in], d[r_in], a[r_in], b[r_in]
                # S at the bin's ends and the pieces' nodes, with every derivative
                pts = np.stack([ar, 0.5 * (ar + dr), dr, 0.5 * (dr + br), br], axis=1)
                sp, dsp = family.sf_grad(pts, th[r_in, :k])
                da, db = dr - ar, br - dr
                left, right = sp[:, 0] + 4.0 * sp[:, 1] + sp[:, 2], sp[:, 2] + 4.0 * sp[:, 3] + sp[:, 4]
                m[r_in, jr] = base.g[jr] * (da / 6.0 * left + db / 6.0 * right)
                # ∂(bin integral)/∂θ; for the delay the nodes move by 0, 1/2, 1, 1/2, 0 and the
                # widths by +1, −1, and S at a moving node x changes by ∂S/∂delay·(1 − dx/d delay)
                dint = da / 6.0 * (dsp[:, :, 0] + 4.0 * dsp[:, :, 1] + dsp[:, :, 2]) + db / 6.0 * (
                    dsp[:, :, 2] + 4.0 * dsp[:, :, 3] + dsp[:, :, 4]
                )
                gd = dsp[k - 1]
                dint[k - 1] = (
                    da / 6.0 * (gd[:, 0] + 2.0 * gd[:, 1]) + db / 6.0 * (2.0 * gd[:, 3] + gd[:, 4]) + (left - right) / 6.0
                )
                split = (r_in, jr, dint.T)
        notice = notice_factor_grad(base, family, th, s, NOTICE_SIGMA) if base.noticing else None
        plain, m = m, (m * notice[0] if notice is not None else m)
        total = m.sum(axis=1)
        # ∂ℓ/∂m per bin
        wm = np.zeros((rows.size, nb + 1))
        sel, r = gather_rows(self._e_off, rows)
        ll = np.zeros(rows.size)
        if sel.size:
            kb = self.e_bin[sel]
            mk = m[r, kb]
            ll += np.bincount(r, weights=self.e_cnt[sel] * np.log(mk / base.widths[kb]), minlength=rows.size)
            wm[r, kb] = self.e_cnt[sel] / mk  # one entry per (row, bin): the non-zero counts of a replicate
        sel, r = gather_rows(self._w_off, rows)
        if sel.size:
            ia, ib, fa, fb = self.w_ia[sel], self.w_ib[sel], self.w_fa[sel], self.w_fb[sel]
            tails = tail_sums(m)
            lam = (tails[r, ia + 1] + (1.0 - fa) * m[r, ia]) - (tails[r, ib + 1] + (1.0 - fb) * m[r, ib])
            ll += np.bincount(r, weights=self.w_cnt[sel] * np.log(lam), minlength=rows.size)
            q = self.w_cnt[sel] / lam
            # Λ = Σ_{ia < i ≤ ib} m_i + (1 − fa)·m_ia − (1 − fb)·m_ib: a run of ones and two end terms
            run = np.zeros((rows.size, nb + 2))
            np.add.at(run, (r, ia + 1), q)
            np.add.at(run, (r, ib + 1), -q)
            wm += np.cumsum(run, axis=1)[:, : nb + 1]
            np.add.at(wm, (r, ia), q * (1.0 - fa))
            np.add.at(wm, (r, ib), -q * (1.0 - fb))
        wm = wm[:, :nb]
        n = self.n_obs(rows)
        ll += np.where(n > 0, n * np.log(n / total), 0.0) - n
        wm -= (n / total)[:, None]
        grad = np.zeros((rows.size, th.shape[1]))
        if notice is not None:  # through the ramp's median; the rest through S's integrals, as without a ramp
            grad, wm = grad + np.sum(wm * plain * notice[1], axis=1)[:, None] * notice[2], wm * notice[0]
        if split is not None:
            r_in, jr, dint = split
            grad[r_in, :k] += (wm[r_in, jr] * base.g[jr])[:, None] * dint
            wm[r_in, jr] = 0.0  # that bin is not Simpson on the regular nodes
        u = wm * base.g * w6
        v = np.empty_like(s)
        v[:, 1::2] = 4.0 * u
        v[:, 0::2] = 0.0
        v[:, 0:-1:2] += u
        v[:, 2::2] += u
        grad[:, :k] += vjp(v)
        ok = np.isfinite(ll) & (total > 0)
        return np.where(ok, ll, -INF), grad

    def profiled(self, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
        """Return A for each replicate, shape ``(B, 1)``."""
        return (self.n_obs() / self.base.shape(family, theta).sum(axis=1))[:, None]


def _distinct_rows(th: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The distinct rows of ``th`` and each row's index among them, when at most half are distinct (else None)."""
    n = th.shape[0]
    if th.ndim != 2 or n < 4 or not np.all(np.isfinite(th)):
        return None
    uniq, inv = np.unique(th, axis=0, return_inverse=True)
    return (uniq, inv.ravel()) if 2 * uniq.shape[0] <= n else None


def shared_shape(base: ReportEvidence, family: RecoveryFamily, theta: np.ndarray) -> np.ndarray:
    """``base.shape(family, theta)`` computed once per distinct parameter row.

    A finite-difference gradient of a joint model of several groups (the equal-recovery test)
    moves one group's parameters at a time: every other group's likelihood sees the same row
    again and again. The bin integrals are computed row by row, so each row's are those of
    the row alone, bit for bit.
    """
    theta = np.asarray(theta, dtype=float)
    found = _distinct_rows(theta)
    if found is None:
        return base.shape(family, theta)
    uniq, inv = found
    return base.shape(family, uniq)[inv]


def shared_sf_vjp(
    family: RecoveryFamily, nodes: np.ndarray, th: np.ndarray
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """``family.sf_vjp(nodes, th)`` with S and its parts computed once per distinct parameter row.

    A bootstrap's refits start every replicate at the same few points (the estimate, the
    second start): their first evaluation then computes S once per start, not once per
    replicate. S is elementwise in the rows, so each row's values and weighted derivatives
    are those of the row alone (bit for bit); only the weights V differ between the rows of a group.
    """
    n = th.shape[0]
    found = _distinct_rows(th)
    if found is None:
        return family.sf_vjp(nodes, th)
    uniq, inv = found
    groups = [np.nonzero(inv == j)[0] for j in range(uniq.shape[0])]
    parts = [family.sf_vjp(nodes, uniq[j : j + 1]) for j in range(uniq.shape[0])]
    s = np.empty((n, np.shape(parts[0][0])[-1]))
    for rows, (sj, _) in zip(groups, parts, strict=True):
        s[rows] = sj

    def vjp(v: np.ndarray) -> np.ndarray:
        out = np.empty((n, th.shape[1]))
        for rows, (_, fj) in zip(groups, parts, strict=True):
            out[rows] = fj(v[rows])
        return out

    return s, vjp
