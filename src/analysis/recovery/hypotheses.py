"""Reporting hypotheses the counts cannot separate: pooling their bootstrap replicates with equal weights.

A crowd-report fit is made without and with a noticing ramp (docs/recovery.md, "Reporting
hypotheses the counts cannot separate"); this module joins the two into one fit whose
headline numbers are the medians of the pooled replicates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from analysis.recovery.engine import Candidate, start_sources
from analysis.recovery.result import Draws, RecoveryFit
from analysis.recovery.uncertainty import assemble_fit, criterion

RAMP_NONE = "no_ramp"
RAMP_FITTED = "noticing_ramp"
HYPOTHESIS_WORDS = {RAMP_NONE: "without a noticing ramp", RAMP_FITTED: "with a fitted noticing ramp"}
# the fit with a ramp is made for the candidates within this many (Q)AIC units of the best fit
# without one (docs/recovery.md, "Which candidates the ramp half fits"): a candidate needs
# Δ ≤ 2·ln 100 ≈ 9.2 for the 1 % of the weight that gives it replicates, so one left out would
# have to gain 5.4 log-likelihood units more from the ramp than the best candidate does
RAMP_SCREEN_DELTA = 20.0


def ramp_candidates(cands: Sequence[Candidate], phi: float, delta: float = RAMP_SCREEN_DELTA) -> list[str]:
    """The candidates to fit with a noticing ramp, given the fits without one (``cands``, in their order).

    Kept: every candidate whose criterion (QAIC with ``phi``) is within ``delta`` of the best,
    a plain family whose delay form is not a candidate (the ramp can stand in for the delay
    it lacks, so its gain is not bounded by the others'), and the candidates those draw their
    starting values from (:func:`~analysis.recovery.engine.start_sources`), so that each kept
    candidate is fitted from the same starts as when all are. A plain family whose delay form is
    left out is bounded by it: the plain family is the delay form at a delay of 0, so its AIC is
    at most 2 below. The ramp half's candidate table is not reported; its candidates without
    replicates carry no weight.
    """
    names = [c.name for c in cands]
    q = {c.name: criterion(c, phi) for c in cands}
    best = min(q.values(), default=math.inf)
    if not math.isfinite(best):
        return names
    keep = {n for n in names if q[n] - best <= delta or ("+" not in n and f"{n}+delay" not in q)}
    todo = list(keep)
    while todo:
        for src in start_sources(todo.pop()):
            if src in q and src not in keep:
                keep.add(src)
                todo.append(src)
    return [n for n in names if n in keep]


def hypotheses_metrics(hyps: Sequence[tuple[str, float, RecoveryFit]]) -> dict[str, Any]:
    """metrics.json's ``identifiability.reporting_hypotheses``: which hypotheses gave the replicates, and what each says."""
    n = [sum(d.theta.shape[0] for d in f.draws) for _, _, f in hyps]
    total = max(sum(n), 1)
    return {
        "pooled": [h for h, _, _ in hyps],
        "weights": [round(1.0 / len(hyps), 4)] * len(hyps),
        "replicates": n,
        "profile_spread": [round(float(sd), 4) for _, sd, _ in hyps],
        "models": [f.model for _, _, f in hyps],
        "t50_minutes": [_round(f.t50.value) for _, _, f in hyps],
        "t90_minutes": [_round(f.t90.value) for _, _, f in hyps],
        "share_of_replicates": [round(k / total, 4) for k in n],
    }


def fit_hypothesis(
    plan: Any, evidence: Any, n_boot: int, seed: int, averaged: bool, *, warm: Mapping[str, np.ndarray] | None = None
) -> RecoveryFit:
    """One reporting hypothesis's fit: ``plan.spec`` on ``evidence``, then its bootstrap of ``n_boot`` replicates.

    Module-level, with picklable arguments, so that it can run in a worker process
    (:func:`analysis.recovery.workers.beside`) beside the other hypothesis; the fit comes back
    without its ``switch`` (the pooled fit switches models under the first hypothesis only).
    ``warm``: a start per candidate family (the other hypothesis's optima).
    """
    spec, name = plan.spec(evidence, n_boot_h=n_boot, seed_h=seed, describe=False, warm=warm)
    return replace(assemble_fit(spec, name, averaged=averaged), switch=None)


def _round(x: float) -> float | None:
    return round(float(x), 1) if math.isfinite(x) else None


def pool_hypotheses(hyps: Sequence[tuple[str, float, RecoveryFit]]) -> RecoveryFit:
    """One fit whose replicates are those of every reporting hypothesis, each hypothesis weighing alike.

    ``hyps``: ``(name, profile spread, fit)``, the first being the one whose model, candidate
    table, diagnostics and delay profile are reported. Within a hypothesis the candidates keep
    their (Q)AIC weights; across hypotheses the weights are equal: the hypotheses are not
    nested alternatives that a likelihood can rank (the ramp model contains the plain one and
    would always fit at least as well) but explanations of the same early counts that one
    incident cannot separate (docs/recovery.md, "Reporting hypotheses"). Every headline number
    is then the median of the pooled replicates and lies inside their percentile interval.
    """
    base = hyps[0][2]
    share = 1.0 / len(hyps)
    draws = []
    for name, _, f in hyps:
        for d in f.draws:
            draws.append(Draws(f"{d.name} ({name})", d.family, d.theta, d.weight * share))
    parts = []
    for name, sd, f in hyps:
        spread = f", the clock profile randomly distorted (harmonic sd {sd:g})" if sd > 0 else ""
        parts.append(f"{HYPOTHESIS_WORDS.get(name, name)}{spread}: {f.interval_method}")
    method = (
        f"pooled over {len(hyps)} reporting hypotheses the counts cannot separate, equal weights; "
        + "; ".join(f"[{p}]" for p in parts)
        + "; percentile intervals of the pooled replicates"
    )
    say = ", ".join(f"t50 {_words_minutes(f.t50.value)} {HYPOTHESIS_WORDS.get(n, n)}" for n, _, f in hyps)
    sentence = (
        "One incident's report counts cannot tell customers noticing the outage late from an error of the assumed "
        f"clock profile; the intervals pool both ({say})."
    )
    timings = dict(base.timings)
    for name, _, f in hyps[1:]:
        for k, v in f.timings.items():
            timings[f"{k}_{name}"] = v
    ident = {**base.identifiability, "reporting_hypotheses": hypotheses_metrics(hyps)}
    return replace(
        base,
        draws=tuple(draws),
        interval_method=method,
        n_boot_failed=sum(f.n_boot_failed for _, _, f in hyps),
        verdict=(base.verdict + " " + sentence).strip(),
        identifiability=ident,
        timings=timings,
    )


def _words_minutes(x: float) -> str:
    if not math.isfinite(x):
        return "unknown"
    return f"{x / 60:.1f} h" if x >= 90 else f"{x:.0f} min"
