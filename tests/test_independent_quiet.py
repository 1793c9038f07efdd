"""The independent generator's quiet-period variants: the base incident plus background reports before the onset."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks.independent import ALL_SCENARIOS, QUIET_SCENARIOS, SCENARIOS, SLEEP_PROFILE, Clock, draw


@pytest.mark.parametrize("name", sorted(QUIET_SCENARIOS))
def test_a_quiet_variant_is_its_base_incident_plus_background_before_the_onset(name):
    sc = ALL_SCENARIOS[name]
    base = SCENARIOS[sc.base]
    assert name not in SCENARIOS  # the default validation runs are unchanged
    quiet, plain = draw(sc, 5), draw(base, 5)
    bg = quiet.kinds == "background"
    # the incident's own reports are the base scenario's draw, to the report
    assert (
        np.array_equal(np.sort(quiet.times[~bg]), np.sort(plain.times))
        and quiet.truth["t90_minutes"] == plain.truth["t90_minutes"]
    )
    # background: within the quiet days and before the onset (a few recorded just after it)
    t = quiet.times[bg]
    assert t.min() > -1440.0 * sc.quiet_days and np.mean(t < 0) > 0.99
    expected = sc.background_share * sc.target_reports * sc.quiet_days
    assert 0.6 * expected < t.size < 1.4 * expected


def test_background_reports_follow_the_generators_clock_profile():
    sc = QUIET_SCENARIOS["stamped-quiet"]
    clock = Clock.build(sc.onset, sc.end)
    t = np.concatenate([(d := draw(sc, s)).times[d.kinds == "background"] for s in range(6)])
    by_hour = np.bincount(clock.local_hour(t[t < 0]), minlength=24)
    profile = np.asarray(SLEEP_PROFILE)
    # the night (02:00-05:00) against the evening peak (20:00-22:00), as the profile has them
    night, evening = by_hour[2:5].sum() / profile[2:5].sum(), by_hour[20:22].sum() / profile[20:22].sum()
    assert night == pytest.approx(evening, rel=0.5)
    assert by_hour[2:5].sum() < 0.1 * by_hour[20:22].sum()


@pytest.mark.slow
def test_the_cli_learns_the_profile_from_a_written_quiet_variant(tmp_path):
    # an incident folder as the README describes it, without [reporting]: `postmortem fit`
    # learns the clock profile from the quiet days and says so in metrics.json
    import json
    import subprocess

    from benchmarks import validation
    from benchmarks.independent import write_incident

    truth = write_incident("rounded5-quiet", tmp_path / "inc", seed=3)
    assert "[reporting]" not in (tmp_path / "inc" / "incident.toml").read_text(encoding="utf-8")
    out = subprocess.run(
        [*validation.postmortem_command(), "fit", str(tmp_path / "inc"), "-p", "n_boot=20"],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    rec = json.loads(out.stdout)["recovery"]
    learned = rec["identifiability"]["clock_profile"]
    assert learned["profile"] == "quiet"
    assert 0.8 * truth["counts"]["background_reports"] < learned["quiet_reports"] <= truth["counts"]["background_reports"]
    assert learned["coefficients"]["profile_sin2"] < -0.2  # the generator's main departure from the default (−0.61)
    assert rec["identifiability"]["reporting_hypotheses"]["profile_spread"][0] > 0.25
