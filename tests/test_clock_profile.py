"""The clock profile estimated with S (``profile = "estimated"``): penalised daily harmonics of log g."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from analysis.errors import ParameterError
from analysis.recovery import fit_down_reports, make_family
from analysis.recovery.clock_profile import PROFILE_NAMES, profile_basis
from analysis.recovery.propensity import DEFAULT_PROPENSITY
from analysis.recovery.report_bins import profile_perturbation
from analysis.simulate import report_times

ONSET = dt.datetime(2018, 1, 8, 7, 0, tzinfo=dt.UTC)  # 08:00 in Brussels
HORIZON = 3 * 1440.0  # three days: the day's pattern repeats while S only falls
END = ONSET + dt.timedelta(minutes=HORIZON)
THETA = [1500.0, 1.0]  # Weibull: t50 ≈ 17 h, t90 ≈ 58 h
TRUE_SIN2 = 0.5  # the true profile is the default times exp(0.5·sin(4πh/24)): two spreads off


def _distorted() -> list[float]:
    delta = TRUE_SIN2 * profile_basis(np.arange(24) + 0.5)[3]
    g = np.asarray(DEFAULT_PROPENSITY) * np.exp(delta)
    return list(g / g.max())


def _reports(seed: int, propensity: list[float] | None) -> np.ndarray:
    return report_times(
        family="weibull",
        params=THETA,
        rate_per_minute=20.0,
        horizon_minutes=HORIZON,
        onset_epoch_s=ONSET.timestamp(),
        propensity=propensity,
        rng=seed,
    )


def _coef(fit) -> dict[str, float]:
    return dict(zip(fit.param_names, fit.theta, strict=False))


def test_a_long_incident_identifies_a_wrong_profile():
    # reports drawn under a profile the fitter does not assume; over three days the daily
    # pattern and the falling S separate, and the estimated profile finds the distortion
    m = _reports(11, _distorted())
    kw = {"onset": ONSET, "end": END, "families": ["weibull"], "n_boot": 0}
    assumed = fit_down_reports(m, **kw)
    estimated = fit_down_reports(m, profile="estimated", **kw)
    coef = _coef(estimated)
    assert all(n in estimated.param_names for n in PROFILE_NAMES)
    assert coef["profile_sin2_"] == pytest.approx(TRUE_SIN2, abs=0.15)
    for other in ("profile_cos1_", "profile_sin1_", "profile_cos2_"):
        assert abs(coef[other]) < 0.15, (other, coef[other])
    fam = make_family("weibull")
    for p in (0.5, 0.9):
        truth = float(fam.quantile(p, np.asarray(THETA)))
        err_assumed = abs(assumed.quantile(p).value - truth) / truth
        err_estimated = abs(estimated.quantile(p).value - truth) / truth
        assert err_estimated < 0.05 and err_estimated < err_assumed, (p, err_assumed, err_estimated)
    info = estimated.identifiability["clock_profile"]
    assert info["profile"] == "estimated" and info["prior_sd"] == 0.25
    assert len(info["hourly_factor"]) == 24 and info["coefficients"]["profile_sin2"] == pytest.approx(
        coef["profile_sin2_"], abs=1e-3
    )


def test_the_right_profile_is_left_alone():
    # reports drawn under the assumed profile: the penalty keeps the harmonics near zero and
    # the numbers are those of the assumed profile
    m = _reports(12, None)
    kw = {"onset": ONSET, "end": END, "families": ["weibull"], "n_boot": 0}
    assumed = fit_down_reports(m, **kw)
    estimated = fit_down_reports(m, profile="estimated", **kw)
    assert all(abs(_coef(estimated)[n]) < 0.1 for n in PROFILE_NAMES)
    assert estimated.t50.value == pytest.approx(assumed.t50.value, rel=0.05)
    assert estimated.t90.value == pytest.approx(assumed.t90.value, rel=0.05)
    assert "clock_profile" not in assumed.identifiability


def test_a_stated_profile_is_not_estimated_and_bad_values_fail():
    m = _reports(13, None)[::4]
    kw = {"onset": ONSET, "end": END, "families": ["exponential"], "n_boot": 0}
    stated = fit_down_reports(m, propensity=list(DEFAULT_PROPENSITY), profile="estimated", **kw)
    assert not any(n in stated.param_names for n in PROFILE_NAMES)
    with pytest.raises(ParameterError, match="profile must be 'assumed', 'estimated', 'shared' or 'quiet'"):
        fit_down_reports(m, profile="fitted", **kw)  # type: ignore[arg-type]


def test_estimated_profile_headlines_lie_inside_their_intervals():
    # pooled over both reporting hypotheses, the bootstrap refitting the profile too
    m = _reports(14, _distorted())
    fit = fit_down_reports(
        m, onset=ONSET, end=END, families=["weibull"], n_boot=30, seed=3, noticing="pooled", profile="estimated"
    )
    assert fit.identifiability["reporting_hypotheses"]["pooled"] == ["no_ramp", "noticing_ramp"]
    for key in ("t50", "t90", "t99", "mean_outage_minutes"):
        e = getattr(fit, key)
        assert e.low <= e.value <= e.high, (key, e)


def test_a_shared_profile_keeps_the_spread_a_known_one_drops():
    # the same stated profile, once as known and once as an estimate from other incidents
    # ("shared"): only the second draws the bootstrap's data under distorted profiles
    m = _reports(15, None)[::4]
    kw = {"onset": ONSET, "end": END, "families": ["weibull"], "n_boot": 40, "seed": 2, "propensity": list(DEFAULT_PROPENSITY)}
    known = fit_down_reports(m, noticing="pooled", **kw)
    shared = fit_down_reports(m, noticing="pooled", profile="shared", **kw)
    assert known.identifiability["reporting_hypotheses"]["profile_spread"] == [0.0, 0.0]
    assert shared.identifiability["reporting_hypotheses"]["profile_spread"] == [0.25, 0.25]
    assert shared.t50.value == pytest.approx(known.t50.value, rel=0.1)
    assert shared.t90.high - shared.t90.low > 1.5 * (known.t90.high - known.t90.low)
    alone = fit_down_reports(m, profile="shared", profile_uncertainty=True, **kw)
    assert alone.identifiability["reporting_hypotheses"]["profile_spread"] == [0.25]


def test_profile_is_read_from_the_config(tmp_path):
    from analysis.config import load_incident
    from analysis.errors import ConfigError

    text = """id = "x"
title = "T"
timezone = "Europe/Brussels"
onset = "2018-01-08T20:00:00"
end = 2018-01-09T12:00:00+01:00
[reporting]
profile = "estimated"
[[sources]]
path = "r.csv"
kind = "down_reports"
[sources.columns]
reported_at = "when"
"""
    (tmp_path / "incident.toml").write_text(text, encoding="utf-8")
    (tmp_path / "r.csv").write_text("when\n", encoding="utf-8")
    assert load_incident(tmp_path).reporting.profile == "estimated"
    # absent, or no [reporting] at all: learned from the quiet days when the file has them (else the assumed profile)
    (tmp_path / "incident.toml").write_text(text.replace('[reporting]\nprofile = "estimated"\n', ""), encoding="utf-8")
    assert load_incident(tmp_path).reporting.profile == "quiet"
    (tmp_path / "incident.toml").write_text(text.replace('profile = "estimated"\n', ""), encoding="utf-8")
    assert load_incident(tmp_path).reporting.profile == "quiet"
    # a stated profile without `profile` is known, as before
    known = "hourly_propensity = [" + ", ".join(["1"] * 24) + "]"
    (tmp_path / "incident.toml").write_text(text.replace('profile = "estimated"', known), encoding="utf-8")
    assert load_incident(tmp_path).reporting.profile == "assumed"
    (tmp_path / "incident.toml").write_text(text.replace('"estimated"', '"fitted"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"key 'reporting.profile'.*\"assumed\", \"estimated\", \"shared\" or \"quiet\""):
        load_incident(tmp_path)
    # "shared" names the stated profile as an estimate: without one it is a mistake
    (tmp_path / "incident.toml").write_text(text.replace('"estimated"', '"shared"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"key 'reporting.profile'.*state it too"):
        load_incident(tmp_path)
    stated = 'profile = "shared"\nhourly_propensity = [' + ", ".join(["1"] * 24) + "]"
    (tmp_path / "incident.toml").write_text(text.replace('profile = "estimated"', stated), encoding="utf-8")
    assert load_incident(tmp_path).reporting.profile == "shared"
    (tmp_path / "incident.toml").write_text(text.replace('"estimated"', '"quiet"'), encoding="utf-8")
    assert load_incident(tmp_path).reporting.profile == "quiet"


@pytest.mark.slow
def test_profile_estimated_reaches_the_fit_through_the_cli(tmp_path):
    # [reporting] profile = "estimated" in incident.toml, as a user writes it: metrics.json
    # carries the fitted profile and every headline lies inside its interval
    import json
    import subprocess
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.independent import write_incident
    from benchmarks.validation import add_reporting, postmortem_command

    folder = tmp_path / "sparse"
    write_incident("sparse", folder, seed=3)
    add_reporting(folder / "incident.toml", {"profile": "estimated"})
    cmd = [*postmortem_command(), "fit", str(folder), "-p", "n_boot=20", "-p", f"processed_dir={tmp_path / 'processed'}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = json.loads(proc.stdout)["recovery"]
    prof = rec["identifiability"]["clock_profile"]
    assert prof["profile"] == "estimated" and len(prof["hourly_factor"]) == 24
    for key in ("t50", "t90"):
        lo, hi = rec[f"{key}_minutes_ci"]
        assert lo <= rec[f"{key}_minutes"] <= hi


def test_incidents_at_different_hours_identify_a_shared_profile():
    # three short incidents of one population, begun at 06:00, 11:00 and 17:00 local time, all
    # drawn under a profile the fitter does not assume: S runs on the time since each onset,
    # the profile on the clock, so together they show the profile that none shows alone
    from analysis.recovery.shared_profile import estimate_shared_profile

    incidents = []
    for i, hour in enumerate((5, 10, 16)):  # UTC: 06:00, 11:00, 17:00 in Brussels
        onset = dt.datetime(2018, 1, 8 + i, hour, 0, tzinfo=dt.UTC)
        m = report_times(
            family="weibull",
            params=[150.0, 1.2],
            rate_per_minute=30.0,
            horizon_minutes=1440.0,
            onset_epoch_s=onset.timestamp(),
            propensity=_distorted(),
            rng=100 + i,
        )
        incidents.append((m, onset, onset + dt.timedelta(days=1)))
    shared = estimate_shared_profile(incidents, families=["weibull"], rounds=2)
    assert shared.coefficients["profile_sin2"] == pytest.approx(TRUE_SIN2, abs=0.15)
    for other in ("profile_cos1", "profile_sin1", "profile_cos2"):
        assert abs(shared.coefficients[other]) < 0.15, (other, shared.coefficients)
    assert len(shared.hourly) == 24 and max(shared.hourly) == pytest.approx(1.0)
    # the profile's shape against the one the reports were drawn under (log ratio, centred: the
    # level is the rate A's): at its worst hour, about half the assumed profile's error (0.27
    # against 0.48 on the log scale when written)
    truth = np.log(np.asarray(_distorted()))

    def worst(g: np.ndarray) -> float:
        r = np.log(g) - truth
        return float(np.max(np.abs(r - r.mean())))

    assert worst(np.asarray(shared.hourly)) < 0.6 * worst(np.asarray(DEFAULT_PROPENSITY)), shared.hourly
    with pytest.raises(ParameterError, match="at least 2 incidents"):
        estimate_shared_profile(incidents[:1])


@pytest.mark.slow
def test_profile_command_estimates_across_incident_folders(tmp_path):
    # `postmortem profile A B`, as a user runs it on two incident folders of one population
    # written as the README says: one JSON object with 24 hourly weights to state
    import json
    import subprocess
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.independent import write_incident
    from benchmarks.validation import postmortem_command

    folders = []
    for name, seed in (("sparse", 5), ("rounded5", 6)):  # begun at 18:20 and at 07:55
        write_incident(name, tmp_path / name, seed=seed)
        folders.append(str(tmp_path / name))
    proc = subprocess.run([*postmortem_command(), "profile", *folders], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert len(out["hourly_propensity"]) == 24 and max(out["hourly_propensity"]) == pytest.approx(1.0, abs=1e-3)
    assert [r["folder"] for r in out["incidents"]] == folders and all(r["reports"] >= 200 for r in out["incidents"])
    # one folder is not enough, and says so in one line
    proc = subprocess.run([*postmortem_command(), "profile", folders[0]], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "at least 2 incidents" in proc.stderr


def _drawn_coefficients(df: float, n: int = 40000) -> np.ndarray:
    """The four harmonic coefficients of the bootstrap's profile distortions, read back from exp(δ)."""
    hours = np.arange(0, 24, 0.25)
    factor = profile_perturbation(hours, np.random.default_rng(5), n, 0.25, df=df)
    coef, *_ = np.linalg.lstsq(profile_basis(hours).T, np.log(factor).T, rcond=None)
    return coef.T


def test_the_normal_spread_is_the_default_draw() -> None:
    hours = np.arange(0, 24, 0.25)
    drawn = profile_perturbation(hours, np.random.default_rng(1), 50, 0.25)
    by_hand = np.exp(np.random.default_rng(1).normal(0.0, 0.25, size=(50, 4)) @ profile_basis(hours))
    assert np.array_equal(drawn, by_hand)  # df = 0 draws nothing more: the default's replicates do not move
    assert np.std(_drawn_coefficients(0.0), axis=0) == pytest.approx([0.25] * 4, rel=0.03)


def test_a_student_t_spread_per_harmonic() -> None:
    c = _drawn_coefficients(3.0)
    # each coefficient is a t with 3 degrees of freedom of scale 0.25: the same middle, heavier tails
    assert np.median(np.abs(c), axis=0) == pytest.approx([0.25 * 0.7649] * 4, rel=0.05)
    assert np.mean(np.abs(c) > 0.61, axis=0) == pytest.approx([0.0923] * 4, abs=0.01)
    assert np.mean(np.abs(_drawn_coefficients(0.0)) > 0.61) < 0.02
    # one scale per harmonic: a pair's coefficients are large together, the two harmonics independently
    sq = np.log(c**2)
    assert np.corrcoef(sq[:, 0], sq[:, 1])[0, 1] > 0.1 and np.corrcoef(sq[:, 2], sq[:, 3])[0, 1] > 0.1
    assert abs(np.corrcoef(sq[:, 0], sq[:, 2])[0, 1]) < 0.03
