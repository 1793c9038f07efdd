"""Recovery per region: each region's own curve, else its pooled estimate, and the test of equal recovery.

A region with enough reports gets its own fit of the national family; a thinner one shows
its partially pooled estimate (:mod:`analysis.spatial.pooling`, areas = regions). Every
region with enough reports is in the test of equal recovery
(:mod:`analysis.spatial.equal_recovery`), run beside the regions' own fits. The pooled
estimates and the test are importable from here as well.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from analysis.errors import AnalysisError, ParameterError
from analysis.geo.reference import REGION_NAMES
from analysis.recovery import Estimate, RecoveryFit
from analysis.recovery.workers import beside, workers_open
from analysis.spatial.equal_recovery import LR_TEST, EqualRecoveryTest, equal_recovery_test, fit_group
from analysis.spatial.pooling import AreaRecovery, pooled_area_recovery, report_minutes, report_time_cdf
from analysis.timeline import DOWN_STATUSES

__all__ = [
    "AreaRecovery",
    "EqualRecoveryTest",
    "RegionComparison",
    "RegionResult",
    "compare_regions",
    "coverage_caveats",
    "equal_recovery_test",
    "pooled_area_recovery",
    "report_minutes",
    "report_time_cdf",
]


@dataclass(frozen=True, eq=False)
class RegionResult:
    """Recovery of one region: its own fit when it has enough reports, else the pooled estimate."""

    region: str
    n_reports: float
    basis: str
    t50: Estimate
    t90: Estimate
    scale: Estimate
    fit: RecoveryFit | None = None
    coverage_note: str | None = None
    horizon_minutes: float = math.inf

    def to_metrics(self) -> dict[str, Any]:
        """The region's entry in metrics.json ``regions``."""

        def num(x: float) -> float | None:
            return round(float(x), 2) if math.isfinite(x) else None

        return {
            "n_reports_fitted": round(self.n_reports),
            "t50_minutes": num(self.t50.value),
            "t90_minutes": num(self.t90.value),
            "t50_minutes_ci": [num(self.t50.low), num(self.t50.high)],
            "t90_minutes_ci": [num(self.t90.low), num(self.t90.high)],
            "t90_extrapolated": bool(math.isfinite(self.t90.value) and self.t90.value > self.horizon_minutes),
            "time_scale_vs_national": num(self.scale.value),
            "time_scale_vs_national_ci": [num(self.scale.low), num(self.scale.high)],
            "basis": self.basis,
            "model": self.fit.model if self.fit is not None else None,
            "coverage_caveat": self.coverage_note,
        }


@dataclass(frozen=True, eq=False)
class RegionComparison:
    """Per-region recovery and the equal-recovery test."""

    regions: dict[str, RegionResult]
    test: EqualRecoveryTest
    pooled: AreaRecovery | None
    notes: tuple[str, ...] = ()


def _region_label(name: str) -> str | None:
    """A region named in any language or by its code → its English label (None if unknown)."""
    from analysis.geo.normalize import compact_key
    from analysis.geo.reference import areas

    key = compact_key(name)
    for code, label, names in areas().filter(pl.col("level") == "region").select("code", "label", "names").iter_rows():
        if key in {compact_key(code), compact_key(label), *(compact_key(n) for n in names or [])}:
            return label
    return None


def coverage_caveats(
    coverage: Mapping[str, Sequence[str]], *, counts: Mapping[str, Mapping[str, float]] | None = None
) -> dict[str, str]:
    """Caveat per region not covered by a regional source.

    ``coverage`` maps a source name to the regions it covers, named in English, French,
    Dutch or German or by REFNIS code (empty: national, no caveat); ``counts`` optionally
    maps region → source → reports, to say how many of the region's reports that source
    supplied. A name that is no region is itself reported, rather than silently ignored.
    """
    out: dict[str, list[str]] = {}
    for source, regions in coverage.items():
        if not regions:
            continue
        labels = {r: _region_label(r) for r in regions}
        unknown = [r for r, lab in labels.items() if lab is None]
        if unknown:
            raise ParameterError(f"coverage_regions of source '{source}': not a Belgian region: {', '.join(unknown)}")
        covered = set(labels.values())
        for region in REGION_NAMES.values():
            if region in covered:
                continue
            n = (counts or {}).get(region, {}).get(source)
            extra = f" ({n:g} of its reports come from it)" if n else ""
            out.setdefault(region, []).append(
                f"source '{source}' covers {', '.join(sorted(covered))} only{extra}: {region} is under-sampled, "
                "so its counts and rates are not comparable with the covered regions"
            )
    return {r: "; ".join(v) for r, v in out.items()}


#: a region with more rows than this is fitted in this process even when a worker is open
MAX_ASIDE_ROWS = 500_000
# a region's own bootstrap has this share of the national replicates (at least 20, at most all):
# as many as each reporting hypothesis of the national fit. Monte-Carlo error of a 90 %
# percentile end, in units of the interval's width: about 0.64/√n (4.5 % at 200, 6.4 % at 100);
# docs/performance.md, "sixth round"
REGION_BOOT_SHARE = 0.5
MIN_REGION_BOOT = 20


def region_replicates(n_boot: int) -> int:
    """Bootstrap replicates of each region's own fit when the national fit has ``n_boot``."""
    return min(n_boot, max(MIN_REGION_BOOT, round(REGION_BOOT_SHARE * n_boot)))


def _workers() -> int:
    """Threads for independent fits: the machine's cores, at most 4 (few regions)."""
    return max(1, min(4, os.cpu_count() or 1))


def _region_down_reports(reports: pl.DataFrame) -> pl.DataFrame:
    """Down reports inside a region (municipal, province and region statements; not country-wide ones).

    Merged per region, source and time (``weight`` summed): every region's fit, the pooled
    estimates and the test read counts of equal times, so the merged rows give the same
    evidence as the reports, in a table a few hundred thousand rows long at most (times
    to the second) instead of one row per report. ``reports`` may be the cells of
    :func:`analysis.spatial.down_cells`.
    """
    from analysis.spatial import merge_rows, report_scope

    # only the columns used here
    used = [
        c
        for c in (
            "scope", "reported_at", "reported_until", "weight", "status", "source", "region",
            "municipality", "province_code", "region_code", "nis_code", "area_level",
        )
        if c in reports.columns
    ]  # fmt: skip
    down = report_scope(reports.lazy().select(used)).filter(
        pl.col("status").is_in(DOWN_STATUSES)
        & pl.col("region").is_not_null()
        & pl.col("scope").is_in(["municipality", "province", "region"])
    )
    keys = [c for c in ("region", "source", "reported_at", "reported_until") if c in used]
    # one order whatever the engine's: the fits' inputs are built in it
    return merge_rows(down, keys).sort(keys, nulls_last=True)


def _reports_inside(down: pl.DataFrame, national: RecoveryFit, names: Sequence[str]) -> dict[str, float]:
    """Reports per region between onset and end of observation (weights summed)."""
    inside = (
        report_minutes(down, national.onset)
        .lazy()
        .filter((pl.col("end") >= 0) & (pl.col("start") <= national.horizon_minutes))
        .group_by("region")
        .agg(pl.col("w").sum())
        .collect()
    )
    return dict.fromkeys(names, 0.0) | {r: float(w) for r, w in inside.iter_rows() if r in names}


def _by_source(down: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Reports per region and source (for the coverage caveats)."""
    out: dict[str, dict[str, float]] = {}
    if "source" in down.columns:
        for r, src, n in down.group_by("region", "source").agg(pl.col("weight").sum()).iter_rows():
            out.setdefault(r, {})[src] = float(n or 0)
    return out


def _fits_and_test(
    eligible: Sequence[str],
    national: RecoveryFit,
    *,
    own_fit: Any,
    aside: Mapping[str, Any],
    test_of: Any,
    notes: list[str],
) -> tuple[dict[str, RecoveryFit], EqualRecoveryTest | AnalysisError | None]:
    """The eligible regions' own fits and the equal-recovery test over all of them.

    The fits and the test are independent, each seeded on its own: they run side by side
    (numpy releases the GIL in the likelihoods), with the same results as one after the
    other; ``aside`` holds the fits already started in the worker process (:func:`_aside`).
    Every eligible region is in the test, whether or not its own fit converged. A
    region whose own fit fails with the national family is refitted with the family the
    test settled on, when that is another one.
    """
    fits: dict[str, RecoveryFit] = {}
    failed: dict[str, AnalysisError] = {}
    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        pending: dict[str, Any] = {r: pool.submit(own_fit, r, None) for r in eligible if r not in aside} | dict(aside)
        test_job = pool.submit(test_of, list(eligible)) if len(eligible) >= 2 else None
        for r in eligible:
            try:
                fits[r] = pending[r].result()
            except AnalysisError as exc:
                failed[r] = exc
        test = test_job.result() if test_job is not None else None
    other = test.family if isinstance(test, EqualRecoveryTest) and test.family != national.model else None
    for r, exc in failed.items():
        why: AnalysisError = exc
        if other is not None:
            try:
                fits[r] = own_fit(r, other)
                notes.append(f"{r}: {national.model} did not converge ({exc}); fitted with {other}, the family of the test")
                continue
            except AnalysisError as exc2:
                why = exc2
        notes.append(f"{r}: own fit failed ({why}); pooled estimate shown")
    return fits, test


def _aside(eligible: Sequence[str], groups: Mapping[str, pl.DataFrame], job: _OwnFit, seed_of: Any) -> dict[str, Any]:
    """Start every other region's own fit in the worker process, when one is open (:func:`analysis.recovery.workers.beside`).

    The rest, the test and the area statistics share the analysis's own process (and its
    interpreter lock). A region of more than :data:`MAX_ASIDE_ROWS` rows stays there: sending
    it would cost more than it saves.
    """
    if not workers_open():
        return {}
    return {r: beside(job, groups[r], seed_of(r)) for r in eligible[::2] if groups[r].height <= MAX_ASIDE_ROWS}


@dataclass(frozen=True, eq=False)
class _OwnFit:
    """A region's own fit with the national family, the region's reports and seed given (picklable: a worker may run it)."""

    national: RecoveryFit  # without its switch
    propensity: Sequence[float] | None
    bin_minutes: float
    n_boot: int
    sampling: str

    def __call__(self, df: pl.DataFrame, seed: int) -> RecoveryFit:
        fit = fit_group(
            df, self.national, propensity=self.propensity, bin_minutes=self.bin_minutes, n_boot=self.n_boot, seed=seed,
            sampling=self.sampling,
        )  # fmt: skip
        return replace(fit, switch=None)


def _national_as_own(n_in: Mapping[str, float], national: RecoveryFit, eligible: Sequence[str]) -> dict[str, Future[RecoveryFit]]:
    """The national fit as the own fit of the region holding every report of it, if one does (else empty).

    Refitted with the national family alone, the same reports would give another curve: the
    national headline is averaged over its candidate models (and bootstrapped with its own
    seed and replicates), so the page would show two answers to one question.
    """
    n = national.n_observations
    for r in eligible:
        if n > 0 and math.isclose(n_in[r], n, rel_tol=1e-9) and math.isclose(sum(n_in.values()), n, rel_tol=1e-9):
            return {r: _done(national)}
    return {}


def _done(fit: RecoveryFit) -> Future[RecoveryFit]:
    """A fit already made, in the form of a fit started elsewhere (:func:`_fits_and_test` waits on either)."""
    out: Future[RecoveryFit] = Future()
    out.set_result(fit)
    return out


def _region_result(
    r: str,
    fit: RecoveryFit | None,
    row: pl.DataFrame,
    national: RecoveryFit,
    *,
    n: float,
    min_reports: int,
    caveat: str | None,
) -> RegionResult:
    """One region's entry: its own fit when it has one, else the pooled estimate, else the national curve."""
    if fit is not None:
        if row.height:  # the region's own (unpooled) time stretch against the national curve
            x = row.row(0, named=True)
            scale = Estimate(x["scale_own"], x["scale_own_low"], x["scale_own_high"])
        else:
            nat50 = national.t50.value
            scale = Estimate(fit.t50.value / nat50 if nat50 > 0 else math.nan, math.nan, math.nan)
        return RegionResult(r, n, "own fit", fit.t50, fit.t90, scale, fit, caveat, national.horizon_minutes)
    if row.height:
        x = row.row(0, named=True)
        t50 = Estimate(x["t50_minutes"], x["t50_low"], x["t50_high"])
        t90 = Estimate(x["t90_minutes"], x["t90_low"], x["t90_high"])
        scale = Estimate(x["scale"], x["scale_low"], x["scale_high"])
        basis = f"pooled: {x['basis']}" if n else "no reports: national curve"
    else:
        t50, t90, scale = national.t50, national.t90, Estimate(1.0, math.nan, math.nan)
        basis = "no reports of its own: national curve"
    if 0 < n < min_reports:
        basis += f" ({n:g} reports, fewer than the {min_reports} needed for its own curve)"
    return RegionResult(r, n, basis, t50, t90, scale, None, caveat, national.horizon_minutes)


def _final_test(
    test: EqualRecoveryTest | AnalysisError | None, eligible: Sequence[str], n_in: Mapping[str, float], min_reports: int
) -> EqualRecoveryTest:
    """The test as reported: with the regions left out named, or why it was not made."""
    if test is None:
        counts = ", ".join(f"{r} {n_in[r]:g} reports" for r in n_in)
        return EqualRecoveryTest(
            LR_TEST, None, None, None, tuple(eligible),
            f"not performed: fewer than two regions have the {min_reports} reports needed for a curve of their own "
            f"({counts}; {min_reports} needed per region)",
        )  # fmt: skip
    if isinstance(test, AnalysisError):
        return EqualRecoveryTest(LR_TEST, None, None, None, tuple(eligible), f"not performed: {test}")
    left = [f"{r} ({n_in[r]:g} reports)" for r in n_in if r not in eligible and n_in[r] > 0]
    return test.with_note(f"left out (fewer than {min_reports} reports): {', '.join(left)}") if left else test


def compare_regions(
    reports: pl.DataFrame,
    national: RecoveryFit,
    *,
    pooled: AreaRecovery | None = None,
    propensity: Sequence[float] | None = None,
    bin_minutes: float = 5.0,
    n_boot: int = 200,
    seed: int = 0,
    min_reports: int = 20,
    coverage: Mapping[str, Sequence[str]] | None = None,
    regions: Sequence[str] | None = None,
    sampling: str = "spontaneous",
) -> RegionComparison:
    """Recovery per region and the test of equal recovery.

    ``sampling`` is passed to each region's fit (``curated``: identical statements count once,
    as in the national fit).

    Parameters
    ----------
    reports : polars.DataFrame
        Canonical reports with ``region`` and ``region_code`` (resolved); down reports
        inside a region (municipal, province and region statements) are used,
        country-wide statements are not.
    national : RecoveryFit
        The national fit (its family is used for every region, so the curves compare;
        another converging family only when it fails, see :func:`equal_recovery_test`).
    pooled : AreaRecovery, optional
        Region-level pooled estimates (``area_key`` = region code) for regions too thin for
        their own fit; computed here when not given.
    min_reports : int
        Reports a region needs (between onset and end of observation) for its own fit and
        for a place in the test; below it the region shows the pooled estimate. Every
        region with that many is in the test.
    coverage : mapping, optional
        Source name → regions it covers (``coverage_regions`` in incident.toml).
    regions : sequence of str, optional
        Region names to report (default: Flanders, Wallonia, Brussels).
    """
    if isinstance(min_reports, bool) or not isinstance(min_reports, int) or min_reports < 3:
        raise ParameterError(f"min_reports must be an integer >= 3, got {min_reports!r}")
    names = list(regions or REGION_NAMES.values())
    code_of = {v: k for k, v in REGION_NAMES.items()}
    down = _region_down_reports(reports)
    n_in = _reports_inside(down, national, names)
    caveats = coverage_caveats(coverage or {}, counts=_by_source(down))
    notes: list[str] = []
    if pooled is None:
        keyed = down.with_columns(pl.col("region").replace_strict(code_of, default=None).alias("area_key"))
        try:
            pooled = pooled_area_recovery(keyed, national, propensity=propensity, bin_minutes=bin_minutes)
        except AnalysisError as exc:
            notes.append(f"pooled region estimates unavailable: {exc}")
    groups = {r: down.filter(pl.col("region") == r) for r in names}
    eligible = [r for r in names if n_in[r] >= min_reports]

    def own_fit(r: str, family: str | None) -> RecoveryFit:
        return fit_group(
            groups[r], national, propensity=propensity, bin_minutes=bin_minutes, n_boot=n_boot,
            seed=seed + 101 * (names.index(r) + 1), sampling=sampling, family=family,
        )  # fmt: skip

    def test_of(tested: list[str]) -> EqualRecoveryTest | AnalysisError:
        try:
            return equal_recovery_test(
                {r: groups[r] for r in tested}, national, propensity=propensity, bin_minutes=bin_minutes, seed=seed
            )
        except AnalysisError as exc:
            return exc

    job = _OwnFit(replace(national, switch=None), propensity, bin_minutes, n_boot, sampling)
    given = _national_as_own(n_in, national, eligible)
    aside = _aside([r for r in eligible if r not in given], groups, job, lambda r: seed + 101 * (names.index(r) + 1)) | given
    fits, test = _fits_and_test(eligible, national, own_fit=own_fit, aside=aside, test_of=test_of, notes=notes)
    out = {}
    for r in names:
        row = pooled.table.filter(pl.col("key") == code_of.get(r, r)) if pooled is not None else pl.DataFrame()
        out[r] = _region_result(r, fits.get(r), row, national, n=n_in[r], min_reports=min_reports, caveat=caveats.get(r))
    return RegionComparison(out, _final_test(test, eligible, n_in, min_reports), pooled, tuple(notes))
