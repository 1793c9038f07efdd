"""The duration prior learned from past incidents (``[nowcast] history``), by empirical Bayes.

A catalogue of past incidents (a CSV, one row per incident: ``incident_id``, ``evidence``,
``size``, ``t50_minutes``, ``t90_minutes``) replaces the assumed duration prior of
:class:`analysis.nowcast_eta.DurationPrior` by one fitted on those events. For each target
(t50, t90) and evidence kind the log duration of a past event is read relative to the
assumed prior's median for its size (a series' median scales with its peak^0.25, the
scaling of the assumed prior is kept: a handful of events cannot estimate a slope):

    r_i = log t_i − log m(size_i),   r_i ~ N(δ, s²),   δ ~ N(0, σ₀²)

with σ₀ the assumed prior's spread (1.2: how far the assumed median may be off). The
shift δ is estimated by its posterior mean (shrunk towards 0, the assumed prior, when the
events are few or scattered); the spread s pools the events' scatter with one pseudo-event
of the assumed spread (so two past events that agree by chance do not make the prior
sharp); the prior of a new event is log-normal with median m(size)·e^δ̂ and log-scale
spread √(s² + var δ̂). With fewer than :data:`MIN_EVENTS` usable past events of the same
evidence kind, the assumed prior stays. With at least :data:`CONFORMAL_MIN`, the spread
is then calibrated by split-conformal on the events held out one at a time
(:func:`conformal_scale`): the 90 % interval is made as wide as it needed to be to
cover 90 % of the past events, each predicted from the others.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

from analysis.errors import ConfigError, quote

#: Past events of the same evidence kind (with the target's duration) needed before the prior is learned.
MIN_EVENTS = 3
#: Past events (of the kind, with the target's duration) needed before the learned spread is calibrated
#: by split-conformal: the 90 % score needs ⌈(n + 1)·0.9⌉ ≤ n.
CONFORMAL_MIN = 9
CONFORMAL_LEVEL = 0.9
#: Pseudo-events of the assumed spread pooled into the learned spread.
PSEUDO_EVENTS = 1.0
#: Evidence kinds a history row may name (those of :func:`analysis.fitting.evidence_kind`).
EVIDENCE_KINDS = ("online_fraction", "down_reports", "restorations")
COLUMNS = ("incident_id", "evidence", "size", "t50_minutes", "t90_minutes")
#: The longest duration a history row may state (minutes): a year.
MAX_MINUTES = 366 * 24 * 60.0


@dataclass(frozen=True)
class PastEvent:
    """One past incident of the history: its evidence kind, size and observed crossings (minutes after onset).

    ``size``: the peak count out for a customers-out series, else the number of evidence
    rows (only a series' prior scales with it). A crossing not observed is NaN.
    """

    incident_id: str
    evidence: str
    size: float
    t50_minutes: float = math.nan
    t90_minutes: float = math.nan

    def minutes(self, p: float) -> float:
        """The observed time to ``p`` restored (t50 for p < 0.9, else t90)."""
        return self.t90_minutes if p >= 0.9 else self.t50_minutes


def _number(text: str, where: str, *, positive: bool, blank_ok: bool) -> float:
    text = text.strip()
    if not text:
        if blank_ok:
            return math.nan
        raise ConfigError(f"{where}: empty; a number is needed")
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{where}: not a number: {quote(text)}") from None
    if not math.isfinite(value) or (positive and not value > 0):
        raise ConfigError(f"{where}: expected a finite number > 0, got {quote(text)}")
    return value


def csv_rows(path: Path, columns: Sequence[str], what: str) -> list[tuple[str, dict[str, str | None]]]:
    """The rows of a small CSV file the nowcast reads, each with its place ("<file>: row N", the header row 1).

    Raises :class:`ConfigError` naming the file when it cannot be read or lacks one of ``columns``
    (``what`` says which file it is: "the nowcast history").
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read {what} ({type(exc).__name__}: {exc})") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise ConfigError(f"{path}: {what} lacks column(s) {', '.join(missing)} (expected {', '.join(columns)})")
    return [(f"{path}: row {row_no}", row) for row_no, row in enumerate(reader, start=2)]


def read_history(path: Path) -> tuple[PastEvent, ...]:
    """Past incidents from a CSV catalogue (columns :data:`COLUMNS`; t50/t90 may be blank, not both).

    Raises :class:`ConfigError` naming the file, row and column for a missing column, an
    unknown evidence kind, a size or duration that is not a positive number, t50 after
    t90, a duration over a year, or a repeated ``incident_id``.
    """
    events: list[PastEvent] = []
    seen: set[str] = set()
    for where, row in csv_rows(path, COLUMNS, "the nowcast history"):
        ident = (row.get("incident_id") or "").strip()
        if not ident:
            raise ConfigError(f"{where}, column 'incident_id': empty")
        if ident in seen:
            raise ConfigError(f"{where}, column 'incident_id': {quote(ident)} appears twice")
        seen.add(ident)
        kind = (row.get("evidence") or "").strip()
        if kind not in EVIDENCE_KINDS:
            raise ConfigError(f"{where}, column 'evidence': expected one of {', '.join(EVIDENCE_KINDS)}, got {quote(kind)}")
        size = _number(row.get("size") or "", f"{where}, column 'size'", positive=True, blank_ok=False)
        t50, t90 = (
            _number(row.get(c) or "", f"{where}, column '{c}'", positive=True, blank_ok=True)
            for c in ("t50_minutes", "t90_minutes")
        )
        if math.isnan(t50) and math.isnan(t90):
            raise ConfigError(f"{where}: neither t50_minutes nor t90_minutes is given")
        for c, v in (("t50_minutes", t50), ("t90_minutes", t90)):
            if v > MAX_MINUTES:
                raise ConfigError(f"{where}, column '{c}': {v:g} minutes is over a year")
        if t50 > t90:  # NaN compares False
            raise ConfigError(f"{where}, column 't50_minutes': {t50:g} is after t90_minutes {t90:g}")
        events.append(PastEvent(ident, kind, size, t50, t90))
    if not events:
        raise ConfigError(f"{path}: the nowcast history has no rows")
    return tuple(events)


@dataclass(frozen=True)
class LearnedShift:
    """The posterior of the log shift of one target's durations from the assumed prior, and the spread around it."""

    n_events: int
    shift: float
    spread: float


def learn_shift(residuals: Sequence[float], prior_sigma: float) -> LearnedShift | None:
    """The empirical-Bayes shift and predictive spread from log residuals (None below :data:`MIN_EVENTS`)."""
    r = [x for x in residuals if math.isfinite(x)]
    n = len(r)
    if n < MIN_EVENTS:
        return None
    mean = sum(r) / n
    scatter = sum((x - mean) ** 2 for x in r)
    s2 = (PSEUDO_EVENTS * prior_sigma**2 + scatter) / (PSEUDO_EVENTS + n - 1)
    precision = n / s2 + 1 / prior_sigma**2
    shift = (n / s2) * mean / precision
    return LearnedShift(n, shift, math.sqrt(s2 + 1 / precision))


def conformal_scale(residuals: Sequence[float], prior_sigma: float, level: float = CONFORMAL_LEVEL) -> float | None:
    """Split-conformal factor on the learned spread, from leave-one-out residuals (None below :data:`CONFORMAL_MIN`).

    Each past event is predicted from the others (:func:`learn_shift` without it); its
    standardised error |r_j − δ̂₋ⱼ| / s₋ⱼ is a conformity score. The ⌈(n + 1)·level⌉-th
    smallest score, over the normal quantile of that level, scales the spread so that the
    central ``level`` interval would have covered that share of the past events held out.
    """
    r = [x for x in residuals if math.isfinite(x)]
    n = len(r)
    rank = math.ceil((n + 1) * level)
    if n < CONFORMAL_MIN or rank > n:
        return None
    scores = []
    for j in range(n):
        rest = learn_shift(r[:j] + r[j + 1 :], prior_sigma)
        if rest is None:
            return None
        scores.append(abs(r[j] - rest.shift) / rest.spread)
    z = NormalDist().inv_cdf((1 + level) / 2)
    return sorted(scores)[rank - 1] / z


def usable(history: Iterable[PastEvent], evidence: str, *, exclude: str | None = None) -> list[PastEvent]:
    """The past events of this evidence kind, without ``exclude`` (the incident being forecast)."""
    return [e for e in history if e.evidence == evidence and e.incident_id != exclude]
