"""The test of equal recovery across regions.

A region with enough reports gets its own fit of the national family; the test is a
likelihood-ratio test of one shared S (each region keeping its own report rate) against a
separate S per region, divided by the overdispersion measured around the per-region curves
and referred to F((G − 1)·k, df of φ) (χ² when φ = 1). When the national family does not
converge for every region, the converging family with the lowest AIC is used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from analysis.errors import AnalysisError, FitError, ParameterError
from analysis.recovery import GroupFit, RecoveryFit, fit_by_group, fit_down_reports

__all__ = ["FALLBACK_FAMILIES", "LR_TEST", "QLR_TEST", "EqualRecoveryTest", "equal_recovery_test", "fit_group"]


@dataclass(frozen=True)
class EqualRecoveryTest:
    """The test of "the regions recovered alike" (metrics.json ``regions_equal_recovery``).

    ``statistic`` is LR/φ; with ``reference`` ``"F"`` the p-value is that of (LR/φ)/df on
    F(df, ``dispersion_df``), with ``"chi2"`` that of LR/φ on χ²(df). ``family`` is the
    recovery family every region was fitted with (the national one unless it failed to
    converge somewhere), ``families_failed`` says which were tried and why they were not used.
    """

    test: str
    statistic: float | None
    p_value: float | None
    df: int | None
    groups: tuple[str, ...]
    note: str
    loglik_shared: float | None = None
    loglik_separate: float | None = None
    family: str | None = None
    dispersion: float | None = None
    dispersion_df: int | None = None
    dispersion_pooled: float | None = None
    reference: str | None = None
    families_failed: tuple[str, ...] = ()

    @property
    def performed(self) -> bool:
        """Whether a statistic could be computed."""
        return self.statistic is not None

    def to_metrics(self) -> dict[str, Any]:
        """JSON-ready block."""

        def num(x: float | None, digits: int = 4) -> float | None:
            return None if x is None or not math.isfinite(x) else round(float(x), digits)

        return {
            "test": self.test,
            "statistic": num(self.statistic),
            "p_value": None if self.p_value is None else float(f"{self.p_value:.4g}"),
            "df": self.df,
            "regions": list(self.groups),
            "performed": self.performed,
            "note": self.note,
            "family": self.family,
            "reference": self.reference,
            "dispersion": num(self.dispersion),
            "dispersion_df": self.dispersion_df,
            "dispersion_pooled": num(self.dispersion_pooled),
            "families_failed": list(self.families_failed),
        }

    def with_note(self, extra: str) -> EqualRecoveryTest:
        """The same test with ``extra`` appended to its note."""
        return replace(self, note=f"{self.note}; {extra}" if self.note else extra)


LR_TEST = "likelihood ratio: one recovery curve shared by the regions (each with its own report rate) vs one curve per region; χ² reference"
QLR_TEST = (
    "quasi-likelihood ratio: one recovery curve shared by the regions (each with its own report rate) vs one curve per "
    "region, divided by the overdispersion around the per-region curves; F reference"
)
FALLBACK_FAMILIES = ("weibull", "lognormal", "loglogistic", "gamma", "exponential")
MAX_FALLBACK = 4  # families tried after the national one (each is a joint fit of every region)
# a curve half restored sooner than this after the onset is a fit at the family's boundary
# (S drops at the onset, the report rate's amplitude takes up the rest), not a finding: no
# report clock resolves it (stamps are to the second at best)
DEGENERATE_T50_MINUTES = 1e-3


def _fit_inputs(df: pl.DataFrame) -> tuple[np.ndarray, pl.DataFrame | None]:
    point = df.filter(pl.col("reported_until").is_null())
    win = df.filter(pl.col("reported_until").is_not_null())
    w = point["weight"].cast(pl.Int64).fill_null(1).to_numpy() if "weight" in point.columns else np.ones(point.height, int)
    times = np.repeat(point["reported_at"].to_numpy(), w) if point.height else np.array([], dtype="datetime64[us]")
    windows = None
    if win.height:
        cnt = win["weight"].cast(pl.Float64).fill_null(1.0) if "weight" in win.columns else pl.Series([1.0] * win.height)
        windows = pl.DataFrame({"start": win["reported_at"], "end": win["reported_until"], "count": cnt})
    return times, windows


def fit_group(
    df: pl.DataFrame,
    national: RecoveryFit,
    *,
    propensity: Sequence[float] | None,
    bin_minutes: float,
    n_boot: int,
    seed: int,
    sampling: str = "spontaneous",
    family: str | None = None,
) -> RecoveryFit:
    """One region's own fit with ``family`` (default: the national one), no delay profile.

    A fit at the family's boundary (half restored within :data:`DEGENERATE_T50_MINUTES` of the
    onset) is a :class:`FitError`: the caller tries another family or shows the pooled estimate.
    """
    times, windows = _fit_inputs(df)
    fit = fit_down_reports(
        times,
        onset=national.onset,
        end=national.end,
        windows=windows,
        timezone=national.timezone,
        propensity=propensity,
        families=[family or national.model],
        level=national.level,
        bin_minutes=bin_minutes,
        n_boot=n_boot,
        seed=seed,
        sampling=sampling,  # type: ignore[arg-type]
        delay_profile=False,  # a region shows its curve and intervals; the delay's identifiability is the national fit's
    )
    t50 = fit.point(lambda fam, th: fam.quantile(0.5, th))
    if not t50 >= DEGENERATE_T50_MINUTES:
        raise FitError(f"{fit.model} is degenerate on these reports (half restored {t50:.2g} min after the onset)")
    return fit


@dataclass(frozen=True, eq=False)
class _GroupInputs:
    """The groups' reports as :func:`analysis.recovery.fit_by_group` takes them."""

    names: tuple[str, ...]
    times: np.ndarray
    labels: pl.Series
    windows: pl.DataFrame | None


def _group_inputs(groups: Mapping[str, pl.DataFrame]) -> _GroupInputs:
    """Exact report times, their group labels and the windowed reports (with ``group``), built once for every family tried."""
    names = tuple(groups)
    times, sizes, windows = [], [], []
    for g in names:
        t, w = _fit_inputs(groups[g])
        times.append(t.astype("datetime64[us]"))
        sizes.append(t.size)
        if w is not None:
            windows.append(w.with_columns(pl.lit(g).alias("group")))
    # one label per report, built in polars (no ten million Python strings)
    labels = pl.Series("group", names, dtype=pl.String).gather(np.repeat(np.arange(len(names)), sizes))
    return _GroupInputs(names, np.concatenate(times), labels, pl.concat(windows) if windows else None)


def _fallback_families(national: RecoveryFit) -> list[str]:
    """Families to try when the national one does not converge for every region.

    The national fit's converged candidates, best first, then the plain families of
    :data:`FALLBACK_FAMILIES` (a national fit restricted to one family has no others); at
    most :data:`MAX_FALLBACK` of them, as each costs a joint fit of every region.
    """
    cands = national.candidates
    names: list[str] = []
    if {"family", "converged"} <= set(cands.columns):
        names = [f for f, ok in cands.select("family", "converged").iter_rows() if ok]
    return [f for f in dict.fromkeys([*names, *FALLBACK_FAMILIES]) if f != national.model][:MAX_FALLBACK]


def _grouped(
    inputs: _GroupInputs, national: RecoveryFit, family: str, *, propensity: Sequence[float] | None, bin_minutes: float, seed: int
) -> GroupFit | str:
    """The joint fit of every group with ``family`` (``separate`` pooling), or why it cannot serve the test."""
    curated = (national.identifiability.get("dispersion") or {}).get("clump_index") is not None
    try:
        gf = fit_by_group(
            inputs.times,
            inputs.labels,
            onset=national.onset,
            end=national.end,
            windows=inputs.windows,
            timezone=national.timezone,
            propensity=propensity,
            families=[family],
            pooling="separate",
            level=national.level,
            bin_minutes=bin_minutes,
            n_boot=0,
            seed=seed,
            sampling="curated" if curated else "spontaneous",
            share_delay=True,
            delay_profile=False,  # the test uses the pooled curve, not its delay's profile
        )
    except AnalysisError as exc:
        return f"{family}: {exc}"
    bad = [w.replace("separate: ", "").replace("separate", "the per-region model") for w in gf.failed if "shared_shape" not in w]
    if bad:
        return f"{family}: did not converge for {', '.join(bad)}"
    return gf


def _as_test(gf: GroupFit, family: str, failed: Sequence[str]) -> EqualRecoveryTest:
    """The grouped fit's test as the report states it, saying which family, which φ and what was not used."""
    t = gf.test
    ll = dict(zip(gf.models["model"], gf.models["log_likelihood"], strict=True))
    k = t["df"] // max(1, len(gf.groups) - 1)
    note = f"{family} curves, {k} parameter(s) each; {len(gf.groups)} regions compared"
    if "+delay" in family:
        note += "; one delay shared by the regions (the curves are compared after a common start)"
    if failed:
        note += f"; not used: {'; '.join(failed)}; {family} chosen by AIC among the families that converged for every region"
    if t["dispersion"] > 1.0:
        how = (
            "the clumping of identical statements"
            if t["dispersion_source"] == "clumps"
            else (f"Pearson X² of the region × time interaction around the per-region curves, {t['dispersion_df']} df")
        )
        note += f"; statistic divided by the overdispersion {t['dispersion']:.2f} ({how})"
    if gf.skipped:
        note += "; left out: " + ", ".join(f"{g} ({why})" for g, why in gf.skipped.items())
    if t["reference"] == "F":
        name = QLR_TEST
    elif t["dispersion"] == 1.0:
        name = LR_TEST
    else:
        name = f"quasi-{LR_TEST} (statistic divided by the clump index of the statements)"
    return EqualRecoveryTest(
        name, t["statistic"], t["p_value"], t["df"], tuple(gf.groups), note, ll["equal"], ll["separate"],
        family=family, dispersion=t["dispersion"], dispersion_df=t["dispersion_df"],
        dispersion_pooled=t["dispersion_pooled"], reference=t["reference"], families_failed=tuple(failed),
    )  # fmt: skip


def equal_recovery_test(
    groups: Mapping[str, pl.DataFrame],
    national: RecoveryFit,
    *,
    fits: Mapping[str, RecoveryFit] | None = None,
    propensity: Sequence[float] | None = None,
    bin_minutes: float = 5.0,
    seed: int = 0,
) -> EqualRecoveryTest:
    """Likelihood-ratio test that the groups share one recovery curve S.

    H0: every group's report intensity is A_g·g(clock)·S(t; θ) with one θ (the rates A_g
    differ freely: regions differ in size and in how much they report). H1: each group has
    its own θ_g. Both are fitted jointly by :func:`analysis.recovery.fit_by_group`
    (``pooling="separate"``). LR = 2·[ℓ(H1) − ℓ(H0)] is divided by the overdispersion φ
    measured around the per-region curves (clumped reports would otherwise make chance
    differences look significant; measured around the pooled curve, φ would grow with the
    difference under test and take the test's power), and referred to F((G − 1)·k, df of
    φ) — or χ²((G − 1)·k) when φ = 1 or comes from clumps of curated statements.

    The family is the national one. When it fails to converge for some group (a mixture
    whose tail runs to infinity in a slow region, say), the national fit's other converged
    candidates and the plain families are tried, and the one with the lowest AIC of the
    per-group model among those converging for every group is used, so that a test is
    made whenever two groups have reports enough. ``fits`` (the groups' own fits) are
    accepted for compatibility and not needed.

    Raises
    ------
    ParameterError
        Fewer than two groups.
    FitError
        No family converged for every group (the message names each family and why).
    """
    del fits
    if len(groups) < 2:
        raise ParameterError(f"equal_recovery_test: at least two groups are needed, got {len(groups)}")
    inputs = _group_inputs(groups)

    def attempt(family: str) -> GroupFit | str:
        return _grouped(inputs, national, family, propensity=propensity, bin_minutes=bin_minutes, seed=seed)

    first = attempt(national.model)
    if isinstance(first, GroupFit):
        return _as_test(first, national.model, ())
    failed = [first]
    good: dict[str, GroupFit] = {}
    for family in _fallback_families(national):
        got = attempt(family)
        if isinstance(got, GroupFit):
            good[family] = got
        else:
            failed.append(got)
    if not good:
        raise FitError("no recovery family converged for every region (" + "; ".join(failed) + ")")
    aic = {f: float(g.models.filter(pl.col("model") == "separate")["aic"][0]) for f, g in good.items()}
    best = min(aic, key=aic.__getitem__)
    return _as_test(good[best], best, failed)
