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
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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


def standardised_error(log_eta: float, spread: float, truth_minutes: float) -> float:
    """(log t_true − log t̂) / spread: how many of its own spreads a piece was off."""
    return (math.log(truth_minutes) - log_eta) / spread


@dataclass(frozen=True)
class PieceSkill:
    """Spread scales per (piece, evidence kind, stage); 1 where nothing was replayed."""

    scales: Mapping[tuple[str, str, str], float] = field(default_factory=dict)
    replays: Mapping[tuple[str, str, str], int] = field(default_factory=dict)

    def scale(self, piece: str, evidence: str, at: str) -> float:
        """The factor on the spread of ``piece`` for this evidence kind at stage ``at``."""
        return self.scales.get((piece, evidence, at), 1.0)


def learn_skill(replays: Iterable[Replayed], pseudo: float = PSEUDO_REPLAYS) -> PieceSkill:
    """The spread scales from replayed pieces: k = √((Σ z² + ν) / (n + ν)) per piece, evidence kind and stage."""
    sums: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in replays:
        if math.isfinite(r.z):
            sums[(r.piece, r.evidence, r.stage)].append(r.z * r.z)
    scales = {key: math.sqrt((sum(z2) + pseudo) / (len(z2) + pseudo)) for key, z2 in sums.items()}
    return PieceSkill(scales, {key: len(z2) for key, z2 in sums.items()})


def read_replays(path: Path) -> tuple[tuple[str, Replayed], ...]:
    """The replayed pieces of a ``[nowcast] skill`` CSV (columns :data:`SKILL_COLUMNS`), each with its incident id.

    Raises :class:`ConfigError` naming the file, row and column for a missing column, an
    empty id or piece, an unknown evidence kind or stage, or a z that is not a finite number.
    """
    out: list[tuple[str, Replayed]] = []
    for where, row in csv_rows(path, SKILL_COLUMNS, "the nowcast skill"):
        values = {c: (row.get(c) or "").strip() for c in SKILL_COLUMNS}
        for c in ("incident_id", "piece"):
            if not values[c]:
                raise ConfigError(f"{where}, column '{c}': empty")
        for c, allowed in (("evidence", EVIDENCE_KINDS), ("stage", STAGES)):
            if values[c] not in allowed:
                raise ConfigError(f"{where}, column '{c}': expected one of {', '.join(allowed)}, got {quote(values[c])}")
        try:
            z = float(values["z"])
        except ValueError:
            z = math.nan
        if not math.isfinite(z):
            raise ConfigError(f"{where}, column 'z': expected a finite number, got {quote(values['z'])}")
        out.append((values["incident_id"], Replayed(values["piece"], values["evidence"], values["stage"], z)))
    return tuple(out)


def write_replays(path: Path, replays: Sequence[tuple[str, Replayed]]) -> None:
    """Write replayed pieces as a ``[nowcast] skill`` CSV (what :func:`read_replays` reads)."""
    lines = [",".join(SKILL_COLUMNS)]
    lines += [f"{i},{r.piece},{r.evidence},{r.stage},{r.z:.6g}" for i, r in replays if math.isfinite(r.z)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def skill_for(replays: Iterable[tuple[str, Replayed]], *, exclude: str | None = None) -> PieceSkill:
    """The skill learned from replays of past incidents, the incident ``exclude`` (the one forecast) left out."""
    return learn_skill(r for i, r in replays if i != exclude)
