"""The noticing ramp of down reports and the assumed clock profile's share of the intervals."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy.stats import norm

from analysis.errors import ParameterError
from analysis.recovery import fit_down_reports, make_family
from analysis.recovery.propensity import DEFAULT_PROPENSITY
from analysis.simulate import report_times

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)  # 20:00 in Brussels
END = ONSET + dt.timedelta(hours=28)
HORIZON = 28 * 60.0
THETA = [120.0, 1.3]  # Weibull: t50 ≈ 90 min


def _truth(p: float) -> float:
    return float(make_family("weibull").quantile(p, np.asarray(THETA)))


def _reports(seed: int, notice_median: float | None) -> np.ndarray:
    """Reports of λ = A·g·S, thinned by a log-normal noticing delay (median, σ 0.6) when given."""
    m = report_times(
        family="weibull", params=THETA, rate_per_minute=60.0, horizon_minutes=HORIZON, onset_epoch_s=ONSET.timestamp(), rng=seed
    )
    if notice_median is None:
        return m
    rng = np.random.default_rng(seed + 1000)
    with np.errstate(divide="ignore"):
        noticed = norm.cdf((np.log(m) - np.log(notice_median)) / 0.6)
    return m[rng.random(m.size) < noticed]


def test_a_noticing_ramp_no_longer_pushes_t50_late():
    # customers report only once they have noticed (median 12 min): the rate climbs over the
    # first half hour while S already falls; without the noticing factor the fit reads the
    # climb as "nothing restored yet"
    m = _reports(5, 12.0)
    fams = ["weibull", "weibull+delay"]
    plain = fit_down_reports(m, onset=ONSET, end=END, families=fams, n_boot=0, noticing=False)
    ramp = fit_down_reports(m, onset=ONSET, end=END, families=fams, n_boot=0, noticing=True)
    assert "notice_share_" in ramp.param_names and "notice_share_" not in plain.param_names
    # the model's ramp has a log-scale spread of 1 where these customers notice within a
    # spread of 0.6: it over-corrects, by less than the error it removes
    for p, share in ((0.5, 0.5), (0.9, 1.0)):
        truth = _truth(p)
        err_plain, err_ramp = (plain.quantile(p).value - truth) / truth, (ramp.quantile(p).value - truth) / truth
        assert err_plain > 0.15  # the climb read as "nothing restored yet"
        assert abs(err_ramp) < share * err_plain and abs(err_ramp) < 0.20, (p, err_plain, err_ramp)


def test_without_a_ramp_the_noticing_factor_collapses():
    # reports of λ = A·g·S exactly: the factor goes to its lower bound and changes nothing
    m = _reports(17, None)
    plain = fit_down_reports(m, onset=ONSET, end=END, families=["weibull"], n_boot=0, noticing=False)
    ramp = fit_down_reports(m, onset=ONSET, end=END, families=["weibull"], n_boot=0, noticing=True)
    share = dict(zip(ramp.param_names, ramp.theta, strict=True))["notice_share_"]
    assert share < 0.05
    assert ramp.t50.value == pytest.approx(plain.t50.value, rel=0.03)
    assert ramp.t90.value == pytest.approx(plain.t90.value, rel=0.03)
    assert ramp.log_likelihood == pytest.approx(plain.log_likelihood, abs=0.5)


def test_few_or_curated_reports_have_no_noticing_factor():
    m = _reports(3, None)
    kw = {"onset": ONSET, "end": END, "families": ["exponential"], "n_boot": 0, "noticing": None}
    few = fit_down_reports(m[:150], **kw)
    curated = fit_down_reports(m, sampling="curated", **kw)
    plenty = fit_down_reports(m, **kw)
    default = fit_down_reports(m, onset=ONSET, end=END, families=["exponential"], n_boot=0)
    assert "notice_share_" in plenty.param_names
    assert "notice_share_" not in default.param_names  # opt-in
    assert "notice_share_" not in few.param_names
    assert "notice_share_" not in curated.param_names
    with pytest.raises(ParameterError, match="noticing"):
        fit_down_reports(m, onset=ONSET, end=END, n_boot=0, noticing="yes")  # type: ignore[arg-type]


def test_an_assumed_profile_widens_the_intervals_a_stated_one_does_not():
    # the same profile, once assumed (the default) and once stated by the incident: the
    # assumed one is uncertain, so the bootstrap draws its data under distorted profiles
    m = _reports(9, None)
    kw = {"onset": ONSET, "end": END, "families": ["weibull"], "n_boot": 200, "seed": 4, "profile_uncertainty": True}
    assumed = fit_down_reports(m, **kw)
    stated = fit_down_reports(m, propensity=list(DEFAULT_PROPENSITY), **kw)
    plain = fit_down_reports(m, onset=ONSET, end=END, families=["weibull"], n_boot=200, seed=4)
    assert assumed.t50.value == pytest.approx(stated.t50.value, rel=0.05)
    assert stated.t50.high - stated.t50.low == pytest.approx(plain.t50.high - plain.t50.low, rel=0.25)
    for p in ("t50", "t90"):
        wa, ws = getattr(assumed, p).high - getattr(assumed, p).low, getattr(stated, p).high - getattr(stated, p).low
        assert wa > 1.5 * ws, (p, wa, ws)


@pytest.mark.slow
def test_reporting_switches_reach_the_fit_through_the_cli(tmp_path):
    # [reporting] noticing = true / false in incident.toml, as a user writes it, changes the
    # fit that `postmortem fit` reports; without the key both are pooled
    import json
    import subprocess
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.independent import write_incident
    from benchmarks.validation import add_reporting, postmortem_command

    t50 = {}
    hypotheses = {}
    cases = (("plain", {"noticing": False}), ("ramp", {"noticing": True, "profile_uncertainty": True}), ("pooled", {}))
    for label, switches in cases:
        folder = tmp_path / label
        write_incident("sparse", folder, seed=3)
        if switches:
            add_reporting(folder / "incident.toml", switches)
            assert f"noticing = {str(switches['noticing']).lower()}" in (folder / "incident.toml").read_text(encoding="utf-8")
        cmd = [*postmortem_command(), "fit", str(folder), "-p", "n_boot=20", "-p", f"processed_dir={tmp_path / 'processed'}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr[-2000:]
        rec = json.loads(proc.stdout)["recovery"]
        t50[label], hypotheses[label] = rec["t50_minutes"], rec["identifiability"]["reporting_hypotheses"]["pooled"]
    assert t50["ramp"] != pytest.approx(t50["plain"], rel=1e-3)
    assert hypotheses == {"plain": ["no_ramp"], "ramp": ["noticing_ramp"], "pooled": ["no_ramp", "noticing_ramp"]}


def test_reporting_switches_are_read_from_the_config(tmp_path):
    from analysis.config import load_incident

    text = """id = "x"
title = "T"
timezone = "Europe/Brussels"
onset = "2018-01-08T20:00:00"
end = 2018-01-09T12:00:00+01:00
[reporting]
noticing = true
profile_uncertainty = true
[[sources]]
path = "r.csv"
kind = "down_reports"
[sources.columns]
reported_at = "when"
"""
    (tmp_path / "incident.toml").write_text(text, encoding="utf-8")
    (tmp_path / "r.csv").write_text("when\n", encoding="utf-8")
    inc = load_incident(tmp_path)
    assert inc.reporting.noticing and inc.reporting.profile_uncertainty
    (tmp_path / "incident.toml").write_text(text.replace("noticing = true", "noticing = 1"), encoding="utf-8")
    with pytest.raises(Exception, match="noticing"):
        load_incident(tmp_path)


def test_pooled_intervals_span_both_reporting_hypotheses():
    # a noticing ramp the plain fit reads as "nothing restored yet": pooled, half of the
    # replicates come from each hypothesis; a 50/50 mixture's 5% and 95% points lie outside
    # each half's 10%–90% range, so the interval holds both hypotheses' medians, and its median
    # lies between them
    m = _reports(5, 12.0)
    kw = {"onset": ONSET, "end": END, "families": ["weibull", "weibull+delay"], "n_boot": 61, "seed": 2}
    pooled = fit_down_reports(m, noticing="pooled", **kw)
    plain = fit_down_reports(m, noticing=False, **kw)
    hyp = pooled.identifiability["reporting_hypotheses"]
    assert hyp["pooled"] == ["no_ramp", "noticing_ramp"]
    assert hyp["weights"] == [0.5, 0.5]
    assert hyp["profile_spread"] == [0.25, 0.25]  # the profile is assumed: both halves carry its error
    assert sum(hyp["replicates"]) <= 61 and min(hyp["replicates"]) >= 28  # the cost of one bootstrap, shared
    assert "pooled over 2 reporting hypotheses" in pooled.interval_method
    assert "cannot tell customers noticing the outage late" in pooled.verdict
    for key in ("t50", "t90", "t99"):
        e = getattr(pooled, key)
        assert e.low <= e.value <= e.high, key  # the headline inside its own interval
        for v in hyp[f"{key}_minutes"] if key != "t99" else []:
            assert e.low <= v <= e.high, (key, v, e)
        lo, hi = sorted(hyp.get(f"{key}_minutes", [e.value, e.value]))
        assert lo * 0.99 <= e.value <= hi * 1.01, (key, lo, e.value, hi)
    # the plain fit alone misses the true t50 late; the pooled interval reaches it
    truth = _truth(0.5)
    assert plain.t50.low > truth
    assert pooled.t50.covers(truth), (pooled.t50, truth)
    assert plain.identifiability["reporting_hypotheses"]["pooled"] == ["no_ramp"]
    # another model is reported conditional on the plain hypothesis, with the whole bootstrap
    other = pooled.with_model("weibull")
    assert other.model == "weibull" and sum(d.theta.shape[0] for d in other.draws) > 50


def test_few_or_curated_reports_are_not_pooled():
    m = _reports(3, None)
    kw = {"onset": ONSET, "end": END, "families": ["exponential"], "n_boot": 20, "noticing": "pooled"}
    for fit in (fit_down_reports(m[:150], **kw), fit_down_reports(m, sampling="curated", **kw)):
        assert fit.identifiability["reporting_hypotheses"]["pooled"] == ["no_ramp"]
        assert "notice_share_" not in fit.param_names and "pooled" not in fit.interval_method


def test_noticing_is_pooled_unless_the_config_says_otherwise(tmp_path):
    from analysis.config import load_incident
    from analysis.errors import ConfigError

    base = """id = "x"
title = "T"
timezone = "Europe/Brussels"
onset = "2018-01-08T20:00:00"
[[sources]]
path = "r.csv"
kind = "down_reports"
[sources.columns]
reported_at = "when"
"""
    (tmp_path / "r.csv").write_text("when\n", encoding="utf-8")
    for extra, expected in (
        ("", "pooled"),
        ('[reporting]\nnoticing = "pooled"\n', "pooled"),
        ("[reporting]\nnoticing = false\n", False),
    ):
        (tmp_path / "incident.toml").write_text(base.replace("[[sources]]", extra + "[[sources]]"), encoding="utf-8")
        assert load_incident(tmp_path).reporting.noticing == expected
    (tmp_path / "incident.toml").write_text(
        base.replace("[[sources]]", '[reporting]\nnoticing = "maybe"\n[[sources]]'), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"noticing.*true, false or \"pooled\""):
        load_incident(tmp_path)
