"""Each ETA piece's measured skill: its spread scaled by how far off it was on replays of past incidents.

A piece of the ETA forecast (the fitted crossing, a series' rate, the share restored with
the recovery's shape) states a log-scale spread; replayed on past
incidents whose crossing is known, its standardised errors z = (log t_true − log t̂) / spread
say whether that spread is honest. Per piece, evidence kind and stage of the event (the
elapsed time relative to the prior median of t_p, known live), the spread is multiplied by

    k = √((Σ z² + ν) / (n + ν)),

the posterior mean of the variance scale under an inverse-gamma prior worth ν pseudo-replays
at z² = 1 (:data:`PSEUDO_REPLAYS`): few replays leave the stated spread nearly as it is, many
replay the piece's actual error. A piece that was early and wrongly confident (the fit of a
storm before its peak has passed) gets a wide spread and so little weight in the combination
(:func:`analysis.nowcast_eta.model_average`); one that was better than it said gets more.
This is the log-score-optimal scale of a normal predictive for each piece (docs/nowcast.md,
"Which pieces to trust"). The duration prior is not scaled: it has its own calibration
(the split-conformal width of :mod:`analysis.nowcast_history`).

When the replays also give each piece's stated spread and the prior's (the columns
``spread`` and ``prior_spread``), the scale and the probability that the piece misleads are
learned together (:func:`fit_mixture`): each replay is either informative, z ~ N(0, k²), or
misleading, read as the combination reads a misleading piece (its value a draw spread
√(prior spread² + :data:`MISLEAD_SIGMA`²) around the prior median, so z ~ N(0, that / spread²)).
The maximum-posterior mixture — a Beta prior worth ν pseudo-replays at :data:`MISLEAD`, the
same inverse-gamma prior on k² — is found by EM. A piece that was sometimes wildly off gets
a high probability of misleading and keeps an honest scale for the times it was right,
instead of one wide spread that dulls it always; the combination
(:func:`analysis.nowcast_eta.model_average`) uses each piece's own probability.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis.errors import ConfigError, quote
from analysis.nowcast_history import EVIDENCE_KINDS, csv_rows

#: Stages of an event by elapsed time / prior median of t_p: "early" below the first bound, "late" from the second.
STAGE_BOUNDS = (1 / 3, 2 / 3)
#: The stages :func:`stage` names.
STAGES = ("early", "middle", "late")
#: Columns of a ``[nowcast] skill`` file: one row per piece of a forecast replayed on a past incident.
SKILL_COLUMNS = ("incident_id", "piece", "evidence", "stage", "z")
#: Pseudo-replays at z² = 1 pooled into each piece's measured error (set, not fitted).
PSEUDO_REPLAYS = 2.0
#: Prior probability that one piece of evidence behind an ETA misleads (the combination's default).
MISLEAD = 0.2
#: Log-scale spread around the prior median with which a misleading piece's value is read.
MISLEAD_SIGMA = 3.0
#: Optional columns of a skill file: the piece's stated log spread and the prior's (for :func:`fit_mixture`).
SPREAD_COLUMNS = ("spread", "prior_spread")
#: EM iterations of :func:`fit_mixture` at most, and the change of the parameters at which it stops.
EM_ITERATIONS, EM_TOLERANCE = 500, 1e-9


def stage(elapsed: float, prior_median: float) -> str:
    """The stage of an event at ``elapsed`` minutes: early, middle or late relative to the prior median of t_p."""
    ratio = elapsed / prior_median if prior_median > 0 else math.inf
    if ratio < STAGE_BOUNDS[0]:
        return "early"
    return "middle" if ratio < STAGE_BOUNDS[1] else "late"


@dataclass(frozen=True)
class Replayed:
    """One piece's forecast on a replayed past incident: which piece, of which evidence, at which stage, and its z."""

    piece: str
    evidence: str
    stage: str
    z: float
    #: the piece's stated log-scale spread and the duration prior's (NaN: not known, the scale alone is learned)
    spread: float = math.nan
    prior_spread: float = math.nan

    @property
    def misleading_width(self) -> float:
        """The spread, in units of the piece's own, of a misleading piece's z: √(prior² + :data:`MISLEAD_SIGMA`²) / spread."""
        return math.sqrt(self.prior_spread**2 + MISLEAD_SIGMA**2) / self.spread


def standardised_error(log_eta: float, spread: float, truth_minutes: float) -> float:
    """(log t_true − log t̂) / spread: how many of its own spreads a piece was off."""
    return (math.log(truth_minutes) - log_eta) / spread


@dataclass(frozen=True)
class PieceSkill:
    """Spread scales per (piece, evidence kind, stage); 1 where nothing was replayed."""

    scales: Mapping[tuple[str, str, str], float] = field(default_factory=dict)
    replays: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    #: the probability that the piece misleads, where the replays gave the spreads to learn it (:func:`fit_mixture`)
    misleads: Mapping[tuple[str, str, str], float] = field(default_factory=dict)

    def scale(self, piece: str, evidence: str, at: str) -> float:
        """The factor on the spread of ``piece`` for this evidence kind at stage ``at``."""
        return self.scales.get((piece, evidence, at), 1.0)

    def mislead(self, piece: str, evidence: str, at: str) -> float:
        """The probability that ``piece`` misleads, for this evidence kind at stage ``at`` (:data:`MISLEAD` where not learned)."""
        return self.misleads.get((piece, evidence, at), MISLEAD)


def learn_skill(replays: Iterable[Replayed], pseudo: float = PSEUDO_REPLAYS) -> PieceSkill:
    """The spread scales (and, where the spreads are known, the probabilities of misleading) per piece, evidence kind and stage.

    k = √((Σ z² + ν) / (n + ν)); with every replay of a key giving its spreads, k and the
    probability of misleading from :func:`fit_mixture` instead.
    """
    groups: dict[tuple[str, str, str], list[Replayed]] = defaultdict(list)
    for r in replays:
        if math.isfinite(r.z):
            groups[(r.piece, r.evidence, r.stage)].append(r)
    scales, misleads = {}, {}
    for key, rs in groups.items():
        widths = [r.misleading_width for r in rs]
        if all(math.isfinite(w) and w > 0 for w in widths):
            scales[key], misleads[key] = fit_mixture([r.z for r in rs], widths, pseudo)
        else:
            scales[key] = math.sqrt((sum(r.z * r.z for r in rs) + pseudo) / (len(rs) + pseudo))
    return PieceSkill(scales, {key: len(rs) for key, rs in groups.items()}, misleads)


def fit_mixture(z: Sequence[float], widths: Sequence[float], pseudo: float = PSEUDO_REPLAYS) -> tuple[float, float]:
    """The scale k and the probability π of misleading that maximise the posterior of replays z (EM).

    z_i ~ (1 − π) N(0, k²) + π N(0, w_i²), w_i the misleading width of replay i; priors:
    π ~ Beta worth ``pseudo`` replays at :data:`MISLEAD`, k² inverse-gamma worth ``pseudo``
    replays at z² = 1 (as :func:`learn_skill` without the widths). No replays: (1, :data:`MISLEAD`).
    """
    zs, ws = np.asarray(z, dtype=float), np.asarray(widths, dtype=float)
    k, pi = 1.0, MISLEAD
    for _ in range(EM_ITERATIONS):
        informative = (1 - pi) * np.exp(-0.5 * (zs / k) ** 2) / k
        misleading = pi * np.exp(-0.5 * (zs / ws) ** 2) / ws
        g = informative / np.maximum(informative + misleading, 1e-300)  # each replay's share of "informative"
        new_pi = (float(np.sum(1 - g)) + pseudo * MISLEAD) / (zs.size + pseudo)
        new_k = math.sqrt((float(np.sum(g * zs**2)) + pseudo) / (float(np.sum(g)) + pseudo))
        done = abs(new_pi - pi) + abs(new_k - k) < EM_TOLERANCE
        k, pi = new_k, new_pi
        if done:
            break
    return k, pi


def read_replays(path: Path) -> tuple[tuple[str, Replayed], ...]:
    """The replayed pieces of a ``[nowcast] skill`` CSV (columns :data:`SKILL_COLUMNS`), each with its incident id.

    The optional columns :data:`SPREAD_COLUMNS` (the stated spreads) may be blank. Raises
    :class:`ConfigError` naming the file, row and column for a missing column, an empty id
    or piece, an unknown evidence kind or stage, a z that is not a finite number, or a
    spread given that is not a positive number.
    """
    out: list[tuple[str, Replayed]] = []
    for where, row in csv_rows(path, SKILL_COLUMNS, "the nowcast skill"):
        values = {c: (row.get(c) or "").strip() for c in (*SKILL_COLUMNS, *SPREAD_COLUMNS)}
        for c in ("incident_id", "piece"):
            if not values[c]:
                raise ConfigError(f"{where}, column '{c}': empty")
        for c, allowed in (("evidence", EVIDENCE_KINDS), ("stage", STAGES)):
            if values[c] not in allowed:
                raise ConfigError(f"{where}, column '{c}': expected one of {', '.join(allowed)}, got {quote(values[c])}")
        z = _number(values["z"])
        if not math.isfinite(z):
            raise ConfigError(f"{where}, column 'z': expected a finite number, got {quote(values['z'])}")
        spreads = [_number(values[c]) if values[c] else math.nan for c in SPREAD_COLUMNS]
        for c, v in zip(SPREAD_COLUMNS, spreads, strict=True):
            if values[c] and not (math.isfinite(v) and v > 0):
                raise ConfigError(f"{where}, column '{c}': expected a positive number or nothing, got {quote(values[c])}")
        out.append((values["incident_id"], Replayed(values["piece"], values["evidence"], values["stage"], z, *spreads)))
    return tuple(out)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def write_replays(path: Path, replays: Sequence[tuple[str, Replayed]]) -> None:
    """Write replayed pieces as a ``[nowcast] skill`` CSV (what :func:`read_replays` reads), with their spreads where known."""

    def spread(v: float) -> str:
        return f"{v:.6g}" if math.isfinite(v) else ""

    lines = [",".join((*SKILL_COLUMNS, *SPREAD_COLUMNS))]
    lines += [
        f"{i},{r.piece},{r.evidence},{r.stage},{r.z:.6g},{spread(r.spread)},{spread(r.prior_spread)}"
        for i, r in replays
        if math.isfinite(r.z)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def skill_for(replays: Iterable[tuple[str, Replayed]], *, exclude: str | None = None) -> PieceSkill:
    """The skill learned from replays of past incidents, the incident ``exclude`` (the one forecast) left out."""
    return learn_skill(r for i, r in replays if i != exclude)
