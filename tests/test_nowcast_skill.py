"""Each ETA piece's spread scaled by its measured error on replayed past incidents (analysis.nowcast_skill)."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.config import load_incident
from analysis.errors import ConfigError
from analysis.nowcast_eta import DurationPrior, eta_forecast, model_average
from analysis.nowcast_skill import (
    MISLEAD,
    MISLEAD_SIGMA,
    PSEUDO_REPLAYS,
    STAGES,
    PieceSkill,
    Replayed,
    fit_mixture,
    learn_skill,
    read_replays,
    skill_for,
    stage,
    standardised_error,
    write_replays,
)
from analysis.recovery.result import Estimate

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SMALL = PROJECT_ROOT / "tests" / "data" / "incidents" / "small-fixture"
FAST = ("-p", "n_boot=20", "-p", "families=exponential,weibull")
HISTORY_HEADER = "incident_id,evidence,size,t50_minutes,t90_minutes\n"
PRIOR = DurationPrior(600.0, sigma=0.5, median_t50=200.0, sigma_t50=0.5)


def test_the_scale_is_the_pieces_rms_error_pooled_with_pseudo_replays_and_one_where_nothing_was_replayed() -> None:
    rng = np.random.default_rng(3)
    wide = [Replayed("fit", "online_fraction", "early", float(z)) for z in rng.normal(0, 3.0, 400)]
    narrow = [Replayed("shape", "down_reports", "late", float(z)) for z in rng.normal(0, 0.5, 400)]
    skill = learn_skill(wide + narrow)
    assert skill.scale("fit", "online_fraction", "early") == pytest.approx(3.0, rel=0.1)
    assert skill.scale("shape", "down_reports", "late") == pytest.approx(0.5, rel=0.15)
    # another stage, evidence kind or piece: not replayed, the stated spread stands
    assert skill.scale("fit", "online_fraction", "late") == 1.0
    assert skill.scale("fit", "down_reports", "early") == 1.0
    assert skill.replays[("fit", "online_fraction", "early")] == 400
    # one replay far off is pooled with the pseudo-replays at z² = 1, not taken at face value
    one = learn_skill([Replayed("rate", "online_fraction", "middle", 10.0), Replayed("rate", "x", "y", math.nan)])
    assert one.scale("rate", "online_fraction", "middle") == pytest.approx(
        math.sqrt((100 + PSEUDO_REPLAYS) / (1 + PSEUDO_REPLAYS))
    )
    assert 1.0 < one.scale("rate", "online_fraction", "middle") < 10.0
    assert ("rate", "x", "y") not in one.replays


def test_stage_and_standardised_error() -> None:
    assert [stage(e, 600.0) for e in (10.0, 199.0, 200.0, 399.0, 400.0, 5000.0)] == [
        "early",
        "early",
        "middle",
        "middle",
        "late",
        "late",
    ]
    assert stage(10.0, 0.0) == "late"
    assert standardised_error(math.log(100.0), 0.5, 100.0 * math.e) == pytest.approx(2.0)
    assert standardised_error(math.log(100.0), 0.5, 100.0 / math.e) == pytest.approx(-2.0)


def _forecast(value: float, skill: PieceSkill | None) -> object:
    est = Estimate(value, value * math.exp(-1.645 * 0.3), value * math.exp(1.645 * 0.3))  # a stated spread of 0.3
    return eta_forecast(est, 0.9, elapsed=1.0, level=0.9, prior=PRIOR, n=400, skill=skill, skill_evidence="online_fraction")


def test_a_piece_measured_as_over_confident_loses_its_pull_and_one_measured_as_modest_gains_it() -> None:
    neutral = PieceSkill()
    bad = PieceSkill({("fit", "online_fraction", "early"): 4.0})
    good = PieceSkill({("fit", "online_fraction", "early"): 0.5})
    plain = _forecast(1200.0, None)
    # scale 1 everywhere: the forecast without skill, sample for sample
    same = _forecast(1200.0, neutral)
    assert np.array_equal(plain.samples, same.samples) and np.array_equal(plain.weights, same.weights)  # type: ignore[attr-defined]
    medians = [_forecast(1200.0, s).median for s in (bad, neutral, good)]  # type: ignore[attr-defined]
    assert 600.0 < medians[0] < medians[1] < medians[2] < 1200.0
    # the prior is not scaled (it has its own calibration, docs/nowcast.md): a "prior" entry changes nothing
    alone = eta_forecast(Estimate.nan(), 0.9, elapsed=1.0, level=0.9, prior=PRIOR, n=400)
    scaled = eta_forecast(
        Estimate.nan(),
        0.9,
        elapsed=1.0,
        level=0.9,
        prior=PRIOR,
        n=400,
        skill=PieceSkill({("prior", "online_fraction", "early"): 3.0}),
        skill_evidence="online_fraction",
    )
    assert alone.interval(0.9) == scaled.interval(0.9)


def test_with_the_skill_learned_on_replays_the_combination_covers_as_promised_where_the_stated_spreads_do_not() -> None:
    rng = np.random.default_rng(11)
    stated, actual = 0.3, 1.2  # the fit says ±0.3 on the log scale and is off by ±1.2

    def draw() -> tuple[float, float]:
        truth = math.log(PRIOR.median_t90) + PRIOR.sigma * float(rng.normal())
        return truth, truth + actual * float(rng.normal())

    replays = []
    for _ in range(200):
        truth, fit = draw()
        replays.append(Replayed("fit", "online_fraction", "early", standardised_error(fit, stated, math.exp(truth))))
    skill = learn_skill(replays)
    covered = {"stated": 0, "skill": 0}
    for _ in range(150):
        truth, fit = draw()
        for name, s in (("stated", None), ("skill", skill)):
            lo, hi = _forecast(math.exp(fit), s).interval(0.9)  # type: ignore[attr-defined]
            covered[name] += lo <= math.exp(truth) <= hi
    assert covered["skill"] / 150 == pytest.approx(0.9, abs=0.07)
    assert covered["stated"] / 150 < covered["skill"] / 150 - 0.08


def _mixed_replays(rng: np.random.Generator, n: int, share_off: float, spread: float = 0.3) -> list[Replayed]:
    """Replays of a piece stating ``spread`` whose error is ±0.3 when right and a misleading draw otherwise."""
    prior_spread = 0.5
    wide = math.sqrt(prior_spread**2 + MISLEAD_SIGMA**2)
    out = []
    for _ in range(n):
        error = wide * rng.normal() if rng.random() < share_off else 0.3 * rng.normal()
        out.append(Replayed("fit", "online_fraction", "early", float(error / spread), spread, prior_spread))
    return out


def test_a_piece_sometimes_wildly_off_gets_a_probability_of_misleading_and_keeps_its_scale_for_when_it_is_right() -> None:
    rng = np.random.default_rng(5)
    mixed = _mixed_replays(rng, 600, 0.15)
    skill = learn_skill(mixed)
    key = ("fit", "online_fraction", "early")
    assert skill.mislead(*key) == pytest.approx(0.15, abs=0.05)
    assert skill.scale(*key) == pytest.approx(1.0, abs=0.12)  # its error when right is what it states
    # without the spreads the same z's give one wide scale, the misleading replays' rms spread over all
    blind = learn_skill(dataclasses.replace(r, spread=math.nan) for r in mixed)
    assert blind.scale(*key) > 3.0 and blind.mislead(*key) == MISLEAD and key not in blind.misleads
    # a piece that is never off: a probability below the assumed one
    honest = learn_skill(_mixed_replays(rng, 600, 0.0))
    assert honest.mislead(*key) < 0.02 and honest.scale(*key) == pytest.approx(1.0, abs=0.1)
    # no replays, or only a few: the priors (scale 1, probability MISLEAD) stand or nearly so
    assert fit_mixture([], []) == (1.0, MISLEAD)
    k, pi = fit_mixture([0.5], [10.0])
    assert 0.8 < k < 1.0 and MISLEAD * 2 / 3 < pi < MISLEAD
    # a key not replayed: the assumed probability
    assert skill.mislead("shape", "down_reports", "late") == MISLEAD


def test_a_piece_likely_to_mislead_loses_its_pull_and_a_reliable_one_gains_it() -> None:
    prior = (math.log(600.0), 0.5)
    piece = [(math.log(1500.0), 0.2)]  # far from the prior median, stated narrowly
    medians = []
    for pi in (0.01, MISLEAD, 0.9):
        x, w = model_average(piece, prior, 1.0, 2000, [pi])
        order = np.argsort(x)
        medians.append(float(x[order][np.searchsorted(np.cumsum(w[order]) / w.sum(), 0.5)]))
    assert medians[0] > medians[1] > medians[2] and medians[2] > 600.0 and medians[0] < 1500.0
    # the default is the assumed probability, sample for sample
    x0, w0 = model_average(piece, prior, 1.0, 500)
    x1, w1 = model_average(piece, prior, 1.0, 500, [MISLEAD])
    assert np.array_equal(x0, x1) and np.array_equal(w0, w1)


SKILL_HEADER = "incident_id,piece,evidence,stage,z\n"


def test_a_skill_file_that_names_a_bad_row_or_column_is_refused_with_one_line(tmp_path: Path) -> None:
    good = tmp_path / "skill.csv"
    good.write_text(SKILL_HEADER + "a,fit,down_reports,early,2.5\nb,shape,online_fraction,late,-0.4\n", encoding="utf-8")
    replays = read_replays(good)
    assert [i for i, _ in replays] == ["a", "b"] and replays[1][1] == Replayed("shape", "online_fraction", "late", -0.4)
    assert skill_for(replays, exclude="a").replays == {("shape", "online_fraction", "late"): 1}
    for body, column in (
        ("a,fit,telepathy,early,1\n", "evidence"),
        ("a,fit,down_reports,soon,1\n", "stage"),
        ("a,fit,down_reports,early,nan\n", "z"),
        ("a,fit,down_reports,early,x\n", "z"),
        (",fit,down_reports,early,1\n", "incident_id"),
    ):
        bad = tmp_path / "bad.csv"
        bad.write_text(SKILL_HEADER + body, encoding="utf-8")
        with pytest.raises(ConfigError, match=f"row 2, column '{column}'"):
            read_replays(bad)
    bad.write_text("incident_id,piece,z\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="lacks column"):
        read_replays(bad)
    written = tmp_path / "written.csv"
    write_replays(written, list(replays))
    assert read_replays(written) == replays
    # the optional spreads: read when given, blank allowed, else a positive number
    spreads = tmp_path / "spreads.csv"
    spreads.write_text(
        SKILL_HEADER.strip() + ",spread,prior_spread\na,fit,down_reports,early,2.5,0.4,0.6\nb,fit,down_reports,early,1,,\n"
    )
    both = read_replays(spreads)
    assert both[0][1] == Replayed("fit", "down_reports", "early", 2.5, 0.4, 0.6) and math.isnan(both[1][1].spread)
    write_replays(written, list(both))
    again = read_replays(written)
    assert again[0] == both[0] and math.isnan(again[1][1].prior_spread)
    for body, column in (
        ("a,fit,down_reports,early,1,0,0.5\n", "spread"),
        ("a,fit,down_reports,early,1,0.3,x\n", "prior_spread"),
    ):
        bad.write_text(SKILL_HEADER.strip() + ",spread,prior_spread\n" + body, encoding="utf-8")
        with pytest.raises(ConfigError, match=f"row 2, column '{column}'"):
            read_replays(bad)


def test_nowcast_line_scales_the_pieces_by_the_skill_file_of_the_config(tmp_path: Path) -> None:
    """Replays in which every piece of report forecasts was far off: the pieces lose their pull, the line says how many."""
    past = "".join(f"past-{i},down_reports,{300 + i},{40 + 5 * i},{120 + 25 * i}\n" for i in range(6))
    folder = tmp_path / "small-fixture"
    shutil.copytree(SMALL, folder)
    (folder / "past.csv").write_text(HISTORY_HEADER + past, encoding="utf-8")
    rows = [
        f"past-{i},{piece},down_reports,{at},{8.0 * (-1) ** i}\n"
        for i in range(6)
        for piece in ("fit", "shape", "progress")
        for at in STAGES
    ]
    own = "small-fixture,fit,down_reports,early,0.0\n"  # its own replays are left out
    (folder / "skill.csv").write_text(SKILL_HEADER + "".join(rows) + own, encoding="utf-8")
    toml = (folder / "incident.toml").read_text(encoding="utf-8")
    config = toml.replace("[origin]", '[nowcast]\nhistory = "past.csv"\n\n[origin]')
    (folder / "incident.toml").write_text(config, encoding="utf-8")
    args = ("--as-of", "2018-01-08T20:30:00", *FAST, "-p", f"processed_dir={tmp_path}")
    plain = json.loads(run("nowcast", str(folder), *args).stdout)
    (folder / "incident.toml").write_text(
        config.replace('history = "past.csv"', 'history = "past.csv"\nskill = "skill.csv"'), encoding="utf-8"
    )
    assert load_incident(folder).nowcast_skill == (folder / "skill.csv").resolve()
    scaled = json.loads(run("nowcast", str(folder), *args).stdout)
    assert plain["skill_replays"] is None and scaled["skill_replays"] == len(rows)
    assert scaled["eta_t90_ci"] != plain["eta_t90_ci"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600, check=False
    )
