"""The input of a report fit: its options, its clock (onset, end, horizon) and its windowed reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import numpy as np
import polars as pl

from analysis.errors import ParameterError
from analysis.recovery._time import as_times, epoch_seconds, to_utc
from analysis.recovery.onset import estimate_onset
from analysis.recovery.propensity import check_timezone
from analysis.vocab import Sampling


def check_options(level: float, n_boot: int, seed: int) -> None:
    """Validate the options every fitter shares."""
    if not (isinstance(level, float | int) and 0 < level < 1):
        raise ParameterError(f"level must be in (0, 1), got {level!r}")
    if not isinstance(n_boot, int | np.integer) or isinstance(n_boot, bool) or n_boot < 0:
        raise ParameterError(f"n_boot must be a non-negative integer, got {n_boot!r}")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise ParameterError(f"seed must be an integer, got {seed!r}")


def check_report_options(
    *,
    surge: Any,
    sampling: Any,
    dispersion: Any,
    model_uncertainty: Any,
    delay_profile: Any,
    noticing: Any,
    profile_uncertainty: Any,
) -> None:
    """One clear error for the first option of :func:`fit_down_reports` out of its range."""
    if not isinstance(surge, bool):
        raise ParameterError(f"surge must be True or False, got {surge!r}")
    if sampling not in ("spontaneous", "curated"):
        raise ParameterError(f"sampling must be 'spontaneous' or 'curated', got {sampling!r}")
    if dispersion not in ("auto", "poisson"):
        raise ParameterError(f"dispersion must be 'auto' or 'poisson', got {dispersion!r}")
    if model_uncertainty not in ("averaged", "chosen"):
        raise ParameterError(f"model_uncertainty must be 'averaged' or 'chosen', got {model_uncertainty!r}")
    if not isinstance(delay_profile, bool):
        raise ParameterError(f"delay_profile must be True or False, got {delay_profile!r}")
    if noticing is not None and not isinstance(noticing, bool) and noticing != "pooled":
        raise ParameterError(f"noticing must be True, False, None or 'pooled', got {noticing!r}")
    if not isinstance(profile_uncertainty, bool):
        raise ParameterError(f"profile_uncertainty must be True or False, got {profile_uncertainty!r}")


@dataclass(frozen=True)
class ReportOptions:
    """The options of a fit to down reports, given by keyword to :func:`fit_down_reports` and :func:`fit_by_group`.

    Every field is checked when the object is made (one :class:`ParameterError` naming it).
    :func:`fit_by_group` takes the fields up to ``delay_profile`` (``GROUP_OPTIONS``).

    Attributes
    ----------
    timezone : str
        IANA timezone of the clock hours of the propensity.
    propensity : sequence of 24 floats, optional
        Relative reporting propensity by local hour; None uses
        :data:`analysis.recovery.propensity.DEFAULT_PROPENSITY`.
    families : "all" or sequence of str
        Candidate families (e.g. ``["weibull", "weibull+delay"]``); chosen by AIC. In a fit by
        group, the candidates of the pooled fit, whose choice is used for every group.
    level : float
        Interval level (0.9).
    bin_minutes : float
        Bin width of the binned likelihood (minutes).
    n_boot : int
        Parametric bootstrap replicates of the chosen family (0: no intervals).
    seed : int
        Seed of the bootstrap (and of the tie-spreading in diagnostics).
    surge : bool
        Add an onset surge factor (1 + s·exp(−t/τ_s)) to the intensity.
    sampling : {"spontaneous", "curated"}
        How the reports were collected: ``"curated"`` when someone else picked them (a
        newsroom's reader messages); reports sharing one window or time are then one
        statement, and their clumping counts as overdispersion.
    delay_profile : bool
        Profile the log-likelihood over the delay of a delay model, to say in the verdict
        and ``identifiability`` whether the data pin the delay down. False skips it when
        only the curve and its intervals are wanted (the per-region fits).
    dispersion : {"auto", "poisson"}
        ``"auto"``: measure overdispersion (:mod:`analysis.recovery.dispersion`) and, when
        present, rank models by QAIC and simulate clumped reports in the bootstrap;
        ``"poisson"``: assume Poisson variation.
    model_uncertainty : {"averaged", "chosen"}
        ``"averaged"``: intervals from a bootstrap shared among the candidates by their
        weights (:mod:`analysis.recovery.uncertainty`); ``"chosen"``: conditional on the
        chosen family.
    noticing : bool, None or "pooled"
        Multiply the intensity by F_N(t), the log-normal distribution (spread 1 on the log
        scale) of the delay before a still-out customer notices and reports, with its median
        fitted in every candidate as a share of the time by which 20% are restored (at most
        30 min): reports climb over the first minutes while S already falls. None: on for
        spontaneous reports (at least ``MIN_NOTICING_REPORTS`` of them), off for curated
        ones. ``"pooled"`` (what ``postmortem fit`` uses unless ``[reporting] noticing`` is
        set): one incident's counts cannot tell such a ramp from an error of the assumed
        clock profile, so both reporting hypotheses are fitted on the same data — without a
        ramp, and with it — and the bootstrap draws half of ``n_boot`` under each, every data
        set under a randomly distorted clock profile when the profile is assumed (as
        ``profile_uncertainty``); the headline numbers are the medians
        and percentile intervals of the pooled replicates (:func:`pool_hypotheses`). Curated
        statements and fewer than ``MIN_NOTICING_REPORTS`` reports get the plain fit only.
        False (the library's default): no ramp. A fit by group has no ramp.
    profile_uncertainty : bool
        When the propensity is assumed (``propensity=None``), let the bootstrap draw each data
        set under a randomly distorted clock profile (two daily harmonics of log g, each
        coefficient N(0, 0.25²)) and refit under the assumed one, so the intervals carry the
        profile's error.
    delay_minutes : float
        Median reporting delay (minutes from a report's time stamp to its arrival in the
        data); > 0 scales the expected count of the last hours by the share already
        arrived (:func:`arrival_share`), so a lull caused by reports still on their way is
        not read as recovery. 0: reports arrive at once.
    profile : {"assumed", "estimated", "shared"}
        ``"estimated"``: with ``propensity=None``, two daily harmonics of log g fitted with S,
        penalised by the profile spread (:mod:`analysis.recovery.clock_profile`). ``"shared"``:
        the stated ``propensity`` is an estimate from other incidents, the bootstrap keeps the
        profile spread around it. ``"quiet"``: with ``propensity=None`` and spontaneous reports,
        the default profile corrected by two daily harmonics learned from the reports before the
        onset (at least ``MIN_QUIET_REPORTS`` over at least a day), the bootstrap drawing the
        profile's error around it (its covariance plus the spread of 0.25;
        :mod:`analysis.recovery.quiet_profile`); without enough of them, as ``"assumed"``. ``"assumed"``: g as given (a stated one is known).
    """

    timezone: str = "Europe/Brussels"
    propensity: Sequence[float] | None = None
    families: Sequence[str] | Literal["all"] = "all"
    level: float = 0.9
    bin_minutes: float = 5.0
    n_boot: int = 200
    seed: int = 0
    surge: bool = False
    sampling: Sampling = "spontaneous"
    delay_profile: bool = True
    dispersion: Literal["auto", "poisson"] = "auto"
    model_uncertainty: Literal["averaged", "chosen"] = "averaged"
    noticing: bool | Literal["pooled"] | None = False
    profile_uncertainty: bool = False
    delay_minutes: float = 0.0
    profile: Literal["assumed", "estimated", "shared", "quiet"] = "assumed"

    def __post_init__(self) -> None:
        check_options(self.level, self.n_boot, self.seed)
        check_report_options(
            surge=self.surge,
            sampling=self.sampling,
            dispersion=self.dispersion,
            model_uncertainty=self.model_uncertainty,
            delay_profile=self.delay_profile,
            noticing=self.noticing,
            profile_uncertainty=self.profile_uncertainty,
        )
        if self.profile not in ("assumed", "estimated", "shared", "quiet"):
            raise ParameterError(f"profile must be 'assumed', 'estimated', 'shared' or 'quiet', got {self.profile!r}")
        check_timezone(self.timezone)

    @property
    def profile_estimated(self) -> bool:
        """The clock profile's harmonics are fitted with S (``profile="estimated"`` and no stated propensity)."""
        return self.profile == "estimated" and self.propensity is None

    @property
    def profile_uncertain(self) -> bool:
        """The clock profile is not known: assumed (no stated propensity) or shared from other incidents."""
        return self.propensity is None or self.profile == "shared"

    @classmethod
    def of(
        cls, what: str, options: ReportOptions | None, overrides: Mapping[str, Any], allowed: Sequence[str] | None = None
    ) -> ReportOptions:
        """``options`` (the defaults when None) with the keyword ``overrides`` of a call to ``what``; unknown names are one error."""
        names = [f.name for f in fields(cls)] if allowed is None else list(allowed)
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise ParameterError(f"{what}: unknown option(s) {', '.join(unknown)}; the options are {', '.join(names)}")
        out = cls(**overrides) if options is None else replace(options, **overrides)
        unused = [f.name for f in fields(cls) if f.name not in names and getattr(out, f.name) != f.default]
        if unused:
            raise ParameterError(f"{what}: option(s) {', '.join(unused)} do not apply; the options are {', '.join(names)}")
        return out


# the options a fit by group takes (the pooled fit's; the groups share its binning and bootstrap)
GROUP_OPTIONS = (
    "timezone",
    "propensity",
    "families",
    "level",
    "bin_minutes",
    "n_boot",
    "seed",
    "surge",
    "sampling",
    "delay_profile",
)


@dataclass(frozen=True)
class ReportClock:
    """The times of a report fit: onset (given or estimated), end, horizon and the reports on that clock."""

    onset_utc: dt.datetime
    onset_source: str
    onset_ci: Any
    end_utc: dt.datetime
    onset_s: float
    horizon: float  # minutes from onset to the end of observation
    epoch: np.ndarray  # report times, seconds since the epoch
    minutes: np.ndarray  # report times, minutes after onset


def report_clock(times: Any, *, onset: dt.datetime | None, end: dt.datetime, level: float) -> ReportClock:
    """Read the report ``times`` and place them after the ``onset`` (estimated when None) up to ``end``."""
    end_utc = to_utc(end, "end")
    kind, vals = as_times(times, "times")
    onset_source, onset_ci = "config", None
    if onset is None:
        if kind != "epoch":
            raise ParameterError("onset: required when times are given as minutes after onset")
        early = vals[vals <= epoch_seconds(end_utc)]
        est = estimate_onset(np.round(early * 1e6).astype(np.int64).astype("datetime64[us]"), level=level)
        onset_utc, onset_source, onset_ci = est.time, "estimated", est.interval
    else:
        onset_utc = to_utc(onset, "onset")
    onset_s = epoch_seconds(onset_utc)
    horizon = (epoch_seconds(end_utc) - onset_s) / 60.0
    if not horizon > 0:
        raise ParameterError(f"end ({end_utc.isoformat()}) must be after the onset ({onset_utc.isoformat()})")
    epoch = vals if kind == "epoch" else onset_s + vals * 60.0
    return ReportClock(onset_utc, onset_source, onset_ci, end_utc, onset_s, horizon, epoch, (epoch - onset_s) / 60.0)


def window_arrays(windows: pl.DataFrame | None, onset_s: float) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Start, end (minutes after onset) and count of windowed reports; three None without any."""
    if windows is None:
        return None, None, None
    if not isinstance(windows, pl.DataFrame):
        raise ParameterError(f"windows: expected a polars DataFrame, got {type(windows).__name__}")
    return window_frame(windows, onset_s) if windows.height else (None, None, None)


def window_frame(windows: pl.DataFrame, onset_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end) in minutes after onset and the count of reports of each window row."""
    cols = set(windows.columns)
    if {"start", "end"} <= cols:
        a, b = "start", "end"
    elif {"reported_at", "reported_until"} <= cols:
        a, b = "reported_at", "reported_until"
    else:
        raise ParameterError(f"windows: need columns 'start' and 'end' (UTC), got {sorted(cols)}")
    out = []
    for c in (a, b):
        kind, v = as_times(windows.get_column(c), f"windows.{c}")
        out.append((v - onset_s) / 60.0 if kind == "epoch" else v)
    if "count" in cols:
        cnt = windows.get_column("count").cast(pl.Float64).to_numpy()
        if np.any(~np.isfinite(cnt)) or np.any(cnt < 0):
            raise ParameterError("windows.count: counts must be finite and >= 0")
    else:
        cnt = np.ones(windows.height)
    bad = np.nonzero(out[1] < out[0])[0]
    if bad.size:
        raise ParameterError(f"windows: row {int(bad[0])} ends before it starts ({b} < {a})")
    return out[0], out[1], cnt
