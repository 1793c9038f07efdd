"""The simulated-storm generator (benchmarks/storms.py) and the storm validation harness (storm_validation.py)."""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from benchmarks import storm_validation as sv
from benchmarks.storms import (
    HEADER,
    RUN_MINUTES,
    SCENARIOS,
    VARIANTS,
    StormTruth,
    count_at,
    falls_below,
    simulate,
    step_count,
    sustained_onset,
    write_incident,
)

from analysis.config import load_incident
from analysis.ingest import ingest_incident

FRACTIONS = {"t50": 0.5, "t90": 0.1, "t99": 0.01}


@pytest.fixture(scope="module")
def storms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, StormTruth]]:
    """Every scenario written once (seed 3)."""
    root = tmp_path_factory.mktemp("storms")
    return {name: (root / name, write_incident(name, root / name, seed=3)) for name in SCENARIOS}


def _read_csv(folder: Path) -> list[dict[str, str]]:
    with (folder / "eaglei.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == HEADER
        return list(reader)


def _minute(truth: StormTruth, t: dt.datetime) -> float:
    return (t - truth.curve_start).total_seconds() / 60.0


# --------------------------------------------------------------------------- the event stream, on a known case


def test_crossings_and_onset_on_a_known_case():
    # 4 out at 0 and 6 at 10 (peak 10); a 20-minute spike of 5 before; restorations with a relapse
    events = [(-100, 5), (-80, -5), (0, 4), (10, 6), (100, -1), (200, -4), (250, -1), (300, -3), (350, 3), (360, -3), (400, -1)]
    times = np.array([t for t, _ in events], dtype=float)
    deltas = np.array([d for _, d in events], dtype=np.int64)
    uniq, after = step_count(times[::-1], deltas[::-1])  # order of the events does not matter
    assert after.max() == 10
    assert count_at(uniq, after, [-200, -90, 5, 10, 349.9, 355, 1000]).tolist() == [0, 5, 4, 10, 1, 4, 0]
    assert falls_below(uniq, after, 5.0) == 250.0  # count 5 until 250, then 4
    assert falls_below(uniq, after, 4.0) == 360.0  # back to 4 by the relapse at 350: not for good before 360
    assert falls_below(uniq, after, 1.0) == 400.0
    assert falls_below(uniq, after, 11.0) is None
    assert sustained_onset(uniq, after, 5.0) == 10.0  # the 20-minute spike at −100 is not sustained
    assert sustained_onset(uniq, after, 5.0, hold=10.0) == -100.0
    assert sustained_onset(uniq, after, 0.5) == 0.0  # ≥ 0.5 from −100 to −80 only, then from 0 to 400
    # simultaneous events are applied together (a substation restored by one repair)
    u2, a2 = step_count(np.array([0.0, 0.0, 5.0, 5.0, 5.0]), np.array([1, 1, -1, -1, 1]))
    assert u2.tolist() == [0.0, 5.0] and a2.tolist() == [2, 1]


# --------------------------------------------------------------------------- the truth


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_truth_is_self_consistent(name, storms):
    _folder, truth = storms[name]
    curve = truth.curve
    assert curve.min() >= 0
    # the peak is what a perfect feed at the same cadence shows: the largest true count at a run start
    n_runs = int((truth.window_end - truth.window_start).total_seconds() // (60 * RUN_MINUTES)) + 1
    run_minutes = [int(_minute(truth, truth.window_start)) + RUN_MINUTES * k for k in range(n_runs)]
    assert truth.peak == curve[run_minutes].max()
    assert truth.peak_time == truth.curve_start + dt.timedelta(minutes=run_minutes[int(np.argmax(curve[run_minutes]))])
    assert truth.peak_continuous >= curve.max() >= truth.peak >= 0.9 * truth.peak_continuous  # 1-min curve: between
    assert truth.window_start < truth.storm_start < truth.onset < truth.peak_time
    for key, f in FRACTIONS.items():
        t = truth.crossings_full[key]
        m = _minute(truth, t)
        assert (curve[math.ceil(m) :] < f * truth.peak).all(), key  # below for good after the crossing
        assert curve[: math.floor(m)].max() >= f * truth.peak, key
        inside = t <= truth.window_end
        assert (truth.crossings[key] == t) if inside else (truth.crossings[key] is None), key
    assert truth.crossings_full["t50"] < truth.crossings_full["t90"] < truth.crossings_full["t99"] <= truth.full_restoration
    # onset: ≥ 5% of the peak for the hour after it, and never an hour-long stretch before it
    m0 = _minute(truth, truth.onset)
    thr = 0.05 * truth.peak
    assert (curve[math.ceil(m0) : math.ceil(m0) + 60] >= thr).all()
    before = curve[: math.floor(m0)] >= thr
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], before.astype(int), [0]]))))[::2] if before.any() else []
    assert all(r < 60 for r in runs)
    # customer-hours from the onset: within the window the curve's integral; the whole event adds the
    # customers out at the window's end until restored, never a routine outage begun after it
    w = int(_minute(truth, truth.window_end))
    m0 = math.ceil(_minute(truth, truth.onset))
    assert truth.customer_hours_window == pytest.approx(curve[m0:w].sum() / 60.0, rel=2e-3)
    assert truth.customer_hours_window <= truth.customer_hours * (1 + 1e-9)
    assert truth.customer_hours <= curve[m0:].sum() / 60.0 * 1.01  # routine outages in progress after the curve ends: a little
    # the former truth: from the window's start, routine outages to full restoration
    assert truth.customer_hours_until_full == pytest.approx(curve.sum() / 60.0, rel=2e-3)
    r = truth.restoration
    assert 0 < r["draw_p50"] < r["draw_p90"]
    assert r["duration_p50"] >= r["draw_p50"] * 0.99  # durations add the wait for the crews


def test_truncated_window_ends_near_sixty_percent_restored(storms):
    _folder, truth = storms["truncated"]
    assert truth.crossings["t50"] is not None
    assert truth.crossings["t90"] is None and truth.crossings["t99"] is None
    m = int(_minute(truth, truth.window_end))
    assert truth.curve[m] == pytest.approx(0.4 * truth.peak, rel=0.1)
    assert truth.customer_hours_window < truth.customer_hours
    _folder, full = storms["fast-bulk"]
    assert all(v is not None for v in full.crossings.values())


# --------------------------------------------------------------------------- the published series


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_csv_rows_defects_and_missing_runs_are_where_the_truth_says(name, storms):
    folder, truth = storms[name]
    rows = _read_csv(folder)
    assert len(rows) == truth.n_rows
    times = [dt.datetime.strptime(r["run_start_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC) for r in rows]
    values = {t: int(r["customers_out"]) for t, r in zip(times, rows, strict=True)}
    assert all(v >= 0 for v in values.values())
    assert all(int(r["total_customers"]) == truth.customers for r in rows)
    assert len({(r["fips_code"], r["county"], r["state"]) for r in rows}) == 1
    assert times == sorted(times) and times[0] == truth.window_start and times[-1] == truth.window_end
    # a regular 15-minute grid with exactly the missing runs absent
    n = int((truth.window_end - truth.window_start).total_seconds() // (60 * RUN_MINUTES)) + 1
    grid = [truth.window_start + dt.timedelta(minutes=RUN_MINUTES * k) for k in range(n)]
    assert sorted(set(grid) - set(times)) == sorted(truth.missing_times)
    assert len(truth.missing_times) == SCENARIOS[name].missing
    assert set(truth.defect_times) <= set(times)
    assert not set(truth.defect_times) & set(truth.missing_times)

    def true_at(t: dt.datetime) -> int:
        return int(truth.curve[int(_minute(truth, t))])

    kinds = {d["kind"] for d in truth.defects}
    assert {"feed_loss", "dip", "flapping", "pre_storm_zero"} <= kinds
    for d in truth.defects:
        for t in d["times"]:
            if d["kind"] == "feed_loss":
                assert values[t] == d["value"] < 20
                assert true_at(t) >= 0.25 * truth.peak
            elif d["kind"] == "dip":
                assert values[t] < 0.75 * true_at(t)
            elif d["kind"] == "flapping":
                assert values[t] == d["value"] < 0.8 * true_at(t)
            else:
                assert values[t] == 0 < true_at(t)
                assert t < truth.storm_start
        if d["kind"] == "feed_loss":
            assert 2 <= len(d["times"]) <= 8  # 30–120 min
            assert d["times"][-1] - d["times"][0] == dt.timedelta(minutes=RUN_MINUTES * (len(d["times"]) - 1))
    # away from defects the reading is the true count with a few % of noise
    clean = [t for t in times if t not in set(truth.defect_times) and true_at(t) > 1000]
    ratio = np.array([values[t] / true_at(t) for t in clean])
    assert np.median(np.abs(np.log(ratio))) < 0.1


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_incident_toml_loads_as_the_readme_describes(name, storms):
    folder, truth = storms[name]
    sc = SCENARIOS[name]
    inc = load_incident(folder)
    assert inc.timezone == sc.timezone
    (src,) = inc.sources
    assert src.kind == "online_fraction"
    assert src.path == (folder / "eaglei.csv").resolve() or src.path.name == "eaglei.csv"
    assert src.timezone == ("UTC" if sc.timezone != "UTC" else None)
    expected = {"observed_at": "run_start_time", "out": "customers_out"}
    if sc.total_mapped:
        expected["total"] = "total_customers"
    assert dict(src.columns) == expected
    assert (inc.onset == truth.onset.replace(second=0, microsecond=0)) if sc.onset_configured else inc.onset is None
    assert (inc.end == truth.window_end) if sc.end_configured else inc.end is None
    # the series is read as UTC whatever the incident's own timezone
    online = ingest_incident(inc, geocode=False).online
    assert online.height == truth.n_rows
    assert online["observed_at"].min() == truth.window_start
    assert online["observed_at"].max() == truth.window_end


def test_scenarios_cover_the_configuration_variants():
    scs = SCENARIOS.values()
    assert {s.onset_configured for s in scs} == {True, False}
    assert {s.total_mapped for s in scs} == {True, False}
    assert {s.end_configured for s in scs} == {True, False}
    assert {s.timezone for s in scs} == {"UTC", "America/Chicago"}


def test_variants_draw_what_they_say():
    """`weibull-crews` restores by Weibull(1.4) draws of median 6 h; `second-storm` is hit again 30 h later.

    Neither is in the per-scenario tests: the scenarios were tuned against those, these were not.
    """
    assert not set(VARIANTS) & set(SCENARIOS)
    weib = simulate("weibull-crews", 1).truth.restoration
    assert weib["draw_p50"] == pytest.approx(360.0, rel=0.03)
    # Weibull: p90/p50 = (ln 10 / ln 2)^(1/k) = 2.36 for k = 1.4; a log-normal of σ 0.8 would give 2.79
    assert weib["draw_p90"] / weib["draw_p50"] == pytest.approx((math.log(10) / math.log(2)) ** (1 / 1.4), rel=0.03)
    two = simulate("second-storm", 1).truth
    hourly = two.curve[::60].astype(float)
    top = int(np.argmax(hourly[: int(np.argmax(hourly > 0.05 * two.peak)) + 12]))  # the first storm's top
    trough = top + int(np.argmin(hourly[top : top + 36]))
    assert hourly[trough] < 0.8 * hourly[top]  # partly restored ...
    assert hourly[trough:].max() > 1.2 * hourly[trough]  # ... then hit again


def test_a_second_storms_half_crossing_is_not_a_point_before_the_readings_above(tmp_path):
    """A county hit again 30 h later: the 50 % crossing for good is after the second storm's readings above the line.

    The local line's window (its half-width from the single-storm model's slope) reached back
    over the second storm's rise and crossed the line before the last reading clearly above
    it; clipped there, value and interval collapsed to that reading, 26–95 min before the
    truth, in 14 of 20 storms (coverage 6/20). The crossing now lies between that reading and
    the first one clearly below the line.
    """
    folder = tmp_path / "storm"
    truth = write_incident("second-storm", folder, seed=5003)
    fit = _fit(folder, tmp_path)
    cross = fit.crossing(0.5)
    true_minutes = (truth.crossings["t50"] - fit.onset).total_seconds() / 60.0
    assert cross.reached
    assert cross.minutes.low < cross.minutes.high
    assert cross.minutes.low <= true_minutes <= cross.minutes.high
    assert cross.minutes.low <= cross.minutes.value <= cross.minutes.high


@pytest.mark.slow
def test_variants_go_through_the_cli():
    """One storm of each variant through `postmortem fit` by the harness, as a user would: a fit, feed losses flagged."""
    rows, summary = sv.run(list(VARIANTS), reps=1, n_boot=20, jobs=1)
    assert [r["ok"] for r in rows] == [True, True], [r.get("error") for r in rows]
    for name in VARIANTS:
        assert summary[name]["failed_fits"] == 0
        assert all(r["readings"]["feed_loss_flagged"] for r in rows if r["scenario"] == name)


def test_same_seed_writes_the_same_folder(tmp_path):
    a = write_incident("two-bands", tmp_path / "a", seed=5)
    b = write_incident("two-bands", tmp_path / "b", seed=5)
    write_incident("two-bands", tmp_path / "c", seed=6)
    for f in ("eaglei.csv", "truth.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    assert (tmp_path / "a" / "eaglei.csv").read_bytes() != (tmp_path / "c" / "eaglei.csv").read_bytes()
    assert a.crossings_full == b.crossings_full
    assert np.array_equal(simulate("fast-bulk", 1).truth.curve, simulate("fast-bulk", 1).truth.curve)


# --------------------------------------------------------------------------- the harness's judgement, without the CLI


def _iso(truth: StormTruth, minutes: float) -> str:
    return (truth.onset + dt.timedelta(minutes=minutes)).isoformat()


def test_harness_judges_claims_coverage_missing_keys_and_flags(storms):
    _folder, truth = storms["truncated"]
    t50 = truth.minutes(truth.crossings_full["t50"])
    t90 = truth.minutes(truth.crossings_full["t90"])
    losses = truth.times_of("feed_loss")
    rec = {
        "t50": _iso(truth, 1.05 * t50),
        "t50_ci": [_iso(truth, 0.9 * t50), _iso(truth, 1.2 * t50)],
        "t50_reached": True,
        "t90": _iso(truth, 0.8 * t90),
        "t90_ci": [_iso(truth, 0.7 * t90), None],  # open above
        "t90_reached": True,  # wrong: the truth is beyond the window
        "peak": {"out": 1.1 * truth.peak, "estimate": 1.02 * truth.peak, "estimate_ci": [0.95 * truth.peak, 1.1 * truth.peak]},
        "customer_hours": 0.5 * truth.customer_hours,
        "customer_hours_ci": [0.4 * truth.customer_hours, 0.6 * truth.customer_hours],
        "readings": {"used": 380, "dropout": len(losses)},
    }
    left_out = [{"time": t.isoformat(), "flag": "dropout"} for t in losses]
    out = sv.compare({"recovery": rec, "onset": None, "series_readings_left_out": left_out}, truth, onset_configured=True)
    assert out["peak"]["hit"] and out["peak"]["rel_error"] == pytest.approx(0.02) and out["peak"]["inside"]
    assert out["t50"]["hit"] and out["t50"]["rel_error"] == pytest.approx(0.05)
    assert not out["t50"]["wrong_claim"] and out["t50"]["claim_source"] == "reached"
    assert out["t90"]["wrong_claim"] and out["t90"]["hit"] and out["t90"]["inside"]
    ch = out["customer_hours"]
    assert ch["miss_low"] and not ch["hit"] and ch["rel_error"] == pytest.approx(-0.5)
    assert out["restoration_p50"]["missing"]
    assert "onset" not in out
    assert out["readings"] == {
        "present": True,
        "method": "times",
        "feed_loss_flagged": True,
        "flagged_by_kind": {**{d["kind"]: 0 for d in truth.defects if d["kind"] != "pre_storm_zero"}, "feed_loss": len(losses)},
        "injected": len(truth.defect_times),
    }
    # counts only: enough flags for the feed losses, or not
    assert sv.judge_readings({"readings": {"n": 400, "ok": 380, "dropout": len(losses)}}, truth)["feed_loss_flagged"]
    assert not sv.judge_readings({"readings": {"n": 400, "ok": 399, "flat": 50}}, truth)["feed_loss_flagged"]
    # nothing at all: every metric missing, no crash
    empty = sv.compare({}, truth, onset_configured=False)
    assert all(empty[m]["missing"] for m in sv.METRICS)
    assert not empty["readings"]["present"]
    s = sv.summarise([{"scenario": "truncated", "seed": 1, "seconds": 1.0, "ok": True, **out}])["truncated"]
    assert s["t90"]["wrong_claims"] == 1 and s["t90"]["n_cover"] == 0 and s["t90"]["beyond_window"] == 1
    # the crossing past the window is judged apart: covered by its interval open above, 20 % early
    assert s["t90"]["beyond_coverage"] == 1.0 and s["t90"]["beyond_rel_error"] == pytest.approx(-0.2)
    assert s["t90"]["beyond_miss_low"] == s["t90"]["beyond_miss_high"] == 0.0
    assert s["peak"]["covered"] == 1 and s["peak"]["n_cover"] == 1
    assert s["t50"]["covered"] == 1 and s["customer_hours"]["miss_low"] == 1.0 and s["restoration_p50"]["missing"] == 1


def test_harness_counts_a_cli_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(sv, "postmortem_command", lambda: ["false"])
    row = sv.run_one("fast-bulk", 1, 20, tmp_path)
    assert not row["ok"] and row["returncode"] != 0
    assert not (tmp_path / "storm-fast-bulk-1").exists()
    monkeypatch.setattr(sv, "postmortem_command", lambda: ["echo", "not json"])
    row = sv.run_one("fast-bulk", 1, 20, tmp_path)
    assert not row["ok"] and "JSONDecodeError" in row["error"]
    s = sv.summarise([row])["fast-bulk"]
    assert s["failed_fits"] == 1


# --------------------------------------------------------------------------- through the CLI: the product's targets
# These fail until `postmortem fit` fits customers-out series: they assert the targets, not the present state.


def _target_problems(summary: dict, rows: list[dict]) -> list[str]:
    """Every way a run misses the targets checked per replication and by median (not coverage)."""
    problems = [
        f"{r['scenario']} seed {r['seed']}: {r.get('error') or r.get('recovery_error')}"
        for r in rows
        if not r["ok"] or r.get("recovery_error")
    ]
    for name, s in summary.items():
        for m in sv.TIMES:
            d = s.get(m)
            if d is None:
                problems.append(f"{name} {m}: no fit")
                continue
            if d["wrong_claims"]:
                problems.append(
                    f"{name} {m}: crossing claimed inside the window {d['wrong_claims']} times when the truth is later"
                )
            if d["claims_inferred"]:
                problems.append(f"{name} {m}: recovery.{m}_reached missing in {d['claims_inferred']}/{d['n']} fits")
            # the accuracy target is for crossings the data observe; one past the window's end is a
            # flagged extrapolation ("not reached by"), whose claim is checked above
            if d["missing"] or (d["n_cover"] and not d["abs_rel_error_inside"] <= sv.TIME_TARGET):
                problems.append(
                    f"{name} {m}: median |error| {d['abs_rel_error_inside']:.3f} of elapsed time where the truth is inside "
                    f"the window (missing {d['missing']}/{d['n']})"
                )
        for m in sv.HEADLINE:
            d = s.get(m)
            if d is None:
                continue
            if d["missing"] or d["no_interval"] or d["point_outside"]:
                problems.append(
                    f"{name} {m}: missing {d['missing']}, no interval {d['no_interval']}, outside its own interval "
                    f"{d['point_outside']} (of {d['n']})"
                )
        r = s["readings"]
        if r["present"] < r["n"] or r["feed_loss_flagged"] < r["n"]:
            problems.append(
                f"{name}: recovery.readings in {r['present']}/{r['n']} fits, every feed loss flagged in {r['feed_loss_flagged']}/{r['n']}"
            )
    return problems


def test_peak_uncertainty_is_the_feeds_not_the_storms_shape(storms, tmp_path):
    """A storm in several bands: the peak's SD stays near the feed's noise (3 %), and t90's interval covers the truth.

    Measured around one quadratic over a day, the bands' shape read as a 14–19 % drift and
    made every crossing's interval two to five times too wide.
    """
    from analysis.params import ReportParams
    from analysis.pipeline import analyze

    folder, truth = storms["two-bands"]
    a = analyze(ReportParams(incident_dir=str(folder), n_boot=20, processed_dir=str(tmp_path)))
    fit = a.fit
    assert math.sqrt(fit._peak_level()[1]) < 2.5 * SCENARIOS["two-bands"].noise_sigma
    crossing = fit.crossing(0.9)
    assert crossing.source == "readings"
    true_minutes = (truth.crossings["t90"] - fit.onset).total_seconds() / 60.0
    est = crossing.minutes
    assert est.low <= true_minutes <= est.high
    assert (est.high - est.low) / true_minutes < 0.12


def _fit(folder: Path, tmp_path: Path, n_boot: int = 20):
    from analysis.params import ReportParams
    from analysis.pipeline import analyze

    return analyze(ReportParams(incident_dir=str(folder), n_boot=n_boot, processed_dir=str(tmp_path), seed=1)).fit


def test_a_feed_loss_over_the_peak_widens_the_peak_not_hides_it(tmp_path):
    """The true top falls in a 2-h feed loss: the largest reading is > 10 % below it; the peak's interval still covers it.

    Taking the largest reading (with the feed's noise) as the peak put the 90 % interval
    at [12.8k, 14.6k] for a true peak of 15.9k, and every crossing's line with it.
    """
    folder = tmp_path / "storm"
    truth = write_incident("defects-heavy", folder, seed=5004)
    fit = _fit(folder, tmp_path)
    assert fit.peak_out < 0.9 * truth.peak  # the feed shows less than the storm's top
    loss = [t for t in truth.times_of("feed_loss") if abs((t - truth.peak_time).total_seconds()) <= 3600]
    assert loss, "the scenario's seed no longer puts a feed loss at the peak"
    peak = fit.peak_estimate()
    assert peak.low <= truth.peak <= peak.high
    assert peak.value > fit.peak_out
    rec = fit.to_metrics()
    assert rec["peak"]["estimate"] == pytest.approx(peak.value)
    assert rec["peak"]["estimate_ci"] == pytest.approx([peak.low, peak.high])
    assert rec["peak"]["out"] == fit.peak_out  # the largest clean reading, as before


def test_the_peak_interval_carries_the_feeds_noise_at_the_top(tmp_path):
    """A fast storm whose feed reads 5 % under the true top: the peak's interval covers it, by the feed's noise there.

    The feed's noise is 3 % of the count. The model's one SD for the whole series (0.8 % of
    the peak here, pulled down by the low readings) made the interval ±1.3 % and missed the
    truth by four times its width; the noise measured level by level is a share of the count.
    """
    folder = tmp_path / "storm"
    truth = write_incident("fast-bulk", folder, seed=5014)
    fit = _fit(folder, tmp_path)
    noise = fit.feed_noise()
    assert noise.blocks >= 3  # measured from the readings, not the fallback
    assert fit._noise_sd() < 0.5 * SCENARIOS["fast-bulk"].noise_sigma  # the homoscedastic fit: too small at the top
    assert noise.sd(1.0) >= SCENARIOS["fast-bulk"].noise_sigma
    assert noise.power > 0.5  # grows with the level
    peak = fit.peak_estimate()
    assert abs(peak.value - truth.peak) > 1.645 * fit._noise_sd() * fit.peak_out  # the old interval missed it
    assert peak.low <= truth.peak <= peak.high
    assert peak.low <= peak.value <= peak.high
    assert (peak.high - peak.low) / truth.peak < 0.25
    rec = fit.to_metrics()
    assert rec["peak"]["estimate_ci"] == pytest.approx([peak.low, peak.high])
    assert rec["feed_noise"]["sd_at_peak"] == pytest.approx(noise.sd_peak)
    assert rec["feed_noise"]["blocks"] == noise.blocks


def test_a_crossing_past_the_window_is_the_readings_decline_continued(tmp_path):
    """The export stops at 60 % restored: t90 lies beyond it, and its value continues the readings' decline.

    The queue model's curves put this storm's 90 % crossing 35 % late with an interval that
    missed the truth (and customer-hours 19 % high, missed too); the decline at the end of
    the window, continued, is within 10 %, and the interval spans both tails.
    """
    folder = tmp_path / "storm"
    truth = write_incident("truncated", folder, seed=5004)
    fit = _fit(folder, tmp_path, n_boot=40)
    c = fit.crossing(0.9)
    assert not c.reached and c.extrapolated and c.source == "trend"
    true_minutes = (truth.crossings_full["t90"] - fit.onset).total_seconds() / 60.0
    assert truth.crossings["t90"] is None  # beyond the window
    est = c.minutes
    assert est.low > fit.horizon_minutes  # "not reached by <end>": no end of the interval inside the window
    assert est.low <= true_minutes <= est.high
    assert abs(est.value - true_minutes) / true_minutes < 0.10
    trend = fit._end_crossing(0.1 * fit._peak_level()[0], 0.0)
    assert trend is not None and est.value == pytest.approx(trend[0], rel=1e-3)
    ch = fit.customer_hours_lost()
    assert ch.high_beyond  # the total rests on the extrapolation, said so
    assert ch.low <= truth.customer_hours <= ch.high
    assert abs(ch.value - truth.customer_hours) / truth.customer_hours < 0.10
    rec = fit.to_metrics()
    assert rec["t90_source"] == "trend" and rec["t90_extrapolated"] and not rec["t90_reached"]


@pytest.mark.slow
def test_storms_through_the_cli_meet_the_targets():
    """3 replications of every storm scenario through `postmortem fit` (≈ 12 fits, 2 jobs)."""
    rows, summary = sv.run(list(SCENARIOS), reps=3, n_boot=40, jobs=2)
    problems = _target_problems(summary, rows)
    assert not problems, "\n".join(problems)


@pytest.mark.validation
@pytest.mark.timeout(4 * 3600)
@pytest.mark.parametrize("scenario", [*SCENARIOS, *VARIANTS])
def test_storm_interval_coverage(scenario):
    """Two-sided coverage of the 90 % intervals over 100 storms: 0.85–0.95 for every headline.

    The scenarios and the two variants the fitter was not tuned against (Weibull crews, a
    second storm): the same targets for both.

    The peak, the crossings inside the window (t50, t90), customer-hours, and the crossings
    past the window's end ("not reached by", extrapolated) where a scenario has them.
    """
    _rows, summary = sv.run([scenario], reps=100, n_boot=100, jobs=2)
    s = summary[scenario]
    assert s["failed_fits"] == 0, s["errors"]
    problems = []
    lo, hi = sv.COVERAGE_TARGET
    for m in ("peak", *sv.TIMES, "customer_hours"):
        d = s[m]
        if d["n_cover"] >= 20 and not lo <= d["coverage"] <= hi:
            problems.append(
                f"{m} coverage {d['covered']}/{d['n_cover']} (misses low {d['miss_low']:.2f}, high {d['miss_high']:.2f}; "
                f"missing {d['missing']})"
            )
        if m in sv.TIMES and d["beyond_window"] >= 20 and not lo <= d["beyond_coverage"] <= hi:
            problems.append(f"{m} past the window: coverage {d['beyond_covered']}/{d['beyond_window']}")
    for m in sv.TIMES:
        if s[m]["n_cover"] + s[m]["beyond_window"] < 100:
            problems.append(f"{m}: {s[m]['missing']} of {s[m]['n']} fits gave no value")
    assert not problems, "; ".join(problems)


def test_competing_shapes_add_nothing_on_a_straight_decline_and_the_bend_where_it_bends():
    """The local crossing's shape term: zero where log(readings) is straight, about the misplacement where it bends.

    The straight line over the window misplaces the crossing of a curve whose decline slows
    at the line (a second, slower wave); the competing shapes (half and twice the window, a
    parabola) disagree by as much, and the interval widens to cover the true crossing.
    """
    from analysis.recovery.outage_crossing import local_crossing, shape_variance

    t = np.arange(-720.0, 720.0, 15.0)
    straight = -0.004 * t
    assert shape_variance(t, straight, center=0.0, line=0.0, half_width=120.0, at=0.0) < 1e-12
    # the decline slows threefold at t = 0 where it meets the line (log 0.5 → crossing at 0)
    bent = np.where(t < 0, -0.006 * t, -0.002 * t) + math.log(0.5)
    rng = np.random.default_rng(4)
    noisy = bent + 0.005 * rng.standard_normal(t.size)
    line = math.log(0.5) - 0.1  # crossed at +50 min on the slow part
    truth = 0.1 / 0.002
    plain = local_crossing(t, noisy, center=0.0, line=line, line_var=0.0, half_width=180.0, lag=2, level=0.9, shapes=False)
    shaped = local_crossing(t, noisy, center=0.0, line=line, line_var=0.0, half_width=180.0, lag=2, level=0.9)
    assert plain is not None and shaped is not None
    assert not plain[1] <= truth <= plain[2]  # the straight line alone misses it
    assert shaped[0] == plain[0]  # the value is the same trend's
    assert shaped[1] <= truth <= shaped[2]
    assert math.sqrt(shape_variance(t, noisy, center=0.0, line=line, half_width=180.0, at=plain[0])) >= 0.5 * abs(
        plain[0] - truth
    )


def test_a_simple_storms_intervals_carry_the_feeds_noise_not_the_curves_shape(tmp_path):
    """One fast band, bulk restoration: customer-hours' and the crossings' intervals come from the feed's measured noise.

    Measured around one quadratic of log(readings) over ±12 h, the decline's own shape read
    as a drift of ≈ 20 % of the count (for a feed off by 3 %), and customer-hours' interval
    covered 100/100 storms. The interval is now the feed's noise, level by level, with its
    memory, summed exactly over the readings where the customers out are.
    """
    from analysis.recovery.outage_crossing import ou_mean_variance

    folder = tmp_path / "storm"
    truth = write_incident("fast-bulk", folder, seed=5003)
    fit = _fit(folder, tmp_path)
    t, y = fit.evidence.t, fit.evidence.y
    noise = fit.feed_noise()
    assert noise.blocks >= 3
    # the exact variance of the trapezoid integral under that noise, summed reading by reading
    w = np.zeros(t.size)
    w[:-1] += np.diff(t) / 2
    w[1:] += np.diff(t) / 2
    var = sum(
        w[i] * noise.sd(y[i]) * w[j] * noise.sd(y[j]) * math.exp(-abs(t[i] - t[j]) / noise.tau)
        for i in range(t.size)
        for j in range(t.size)
    )
    # relative to the readings' integral with its holes bridged (the straight chords plus the bridges' shift)
    assert fit._measured() == pytest.approx(float(np.sum(w * y)) + fit._bridges().shift)
    assert fit.window_noise_sd() == pytest.approx(math.sqrt(var + fit._hole_variance()) / fit._measured(), rel=1e-6)
    middle = float(t[np.argmin(np.abs(y - 0.5))])
    pos = y > 0
    quad_sd, quad_tau = fit._drift(t[pos], np.log(y[pos]), middle, 720.0)
    assert quad_sd > 3 * SCENARIOS["fast-bulk"].noise_sigma  # the old allowance: the decline's shape
    assert fit.window_noise_sd() < math.sqrt(ou_mean_variance(quad_sd, quad_tau, fit.horizon_minutes))
    true_minutes = {k: (truth.crossings[k] - fit.onset).total_seconds() / 60.0 for k in ("t50", "t90")}
    for key, est, true in (
        ("customer_hours", fit.customer_hours_lost(), truth.customer_hours),
        ("t50", fit.crossing(0.5).minutes, true_minutes["t50"]),
        ("t90", fit.crossing(0.9).minutes, true_minutes["t90"]),
    ):
        assert est.low <= true <= est.high, key
        assert est.low <= est.value <= est.high, key
    assert fit.crossing(0.9).source == "readings" and fit.crossing(0.9).reached


def test_customer_hours_carry_the_shape_the_feed_losses_hide(tmp_path):
    """Feed losses on the storm's rise: the straight bridge across them misses customer-hours; the holes' term covers it.

    The readings' integral bridges each hole with a straight line; on a bend (the rise
    levelling off) the count inside went elsewhere. The feed's noise alone gave ±2 % here for
    an error of ≈ 4 %; the model's curve and the readings continued into each hole, as
    competing shapes, carry what the bridge can miss.
    """
    folder = tmp_path / "storm"
    truth = write_incident("defects-heavy", folder, seed=5016)
    fit = _fit(folder, tmp_path)
    t = fit.evidence.t
    assert np.any(np.diff(t) > 4 * fit.step)  # the feed losses are holes, not zeros
    total = fit._measured()
    hole_sd = math.sqrt(fit._hole_variance()) / total
    noise_only = math.sqrt(fit.window_noise_sd() ** 2 - hole_sd**2)
    assert hole_sd > noise_only
    est = fit.customer_hours_in_window
    true = truth.customer_hours_window
    measured = total * fit.peak_out / 60.0
    z = 1.645
    assert not measured * math.exp(-z * noise_only) <= true <= measured * math.exp(z * noise_only)  # noise alone misses
    assert est.low <= true <= est.high


def test_a_second_storms_tail_starts_where_the_readings_end(tmp_path):
    """One storm's shape over two storms ends far above the readings; the tail is scaled down to them.

    The model ended at ≈ 4 % of the peak where the readings and the truth show ≈ 0.5 %; its
    tail put customer-hours +15 % over the truth, with an interval [+5 %, +32 %]. Scaled to
    the readings' level at the end, the tail is a few tenths of a percent of the total.
    """
    folder = tmp_path / "storm"
    truth = write_incident("second-storm", folder, seed=5006)
    fit = _fit(folder, tmp_path)
    curves, _ = fit._curves()
    end_model = float(fit.survival(np.array([fit.horizon_minutes]))[0])
    assert end_model > 4 * fit._end_level()  # the model's misfit at the end, as measured
    assert np.median(fit._tail_scale(curves)) < 0.5
    ch, window = fit.customer_hours_lost(), fit.customer_hours_in_window
    assert (ch.value - window.value) / truth.customer_hours < 0.03
    assert ch.low <= truth.customer_hours <= ch.high


def test_a_second_storms_tail_is_averaged_with_the_readings_decline(tmp_path):
    """The model's tail, scaled to the readings' level, clears the last customers at the first storm's slow rate.

    Second-storm seed 5006: scaled down it was ≈ 3 times the true tail (1.3 % of the
    customer-hours against 0.46 %); the readings' decline over their last fall by e,
    continued, is near the truth; the tail reported lies between the two.
    """
    from analysis.recovery.outage_bridges import decay_tails, end_decay
    from analysis.recovery.outage_model import N_EXTRA

    folder = tmp_path / "storm"
    truth = write_incident("second-storm", folder, seed=5006)
    fit = _fit(folder, tmp_path)
    true_tail = (truth.customer_hours - truth.customer_hours_window) / (fit.peak_out / 60.0)
    curves, _ = fit._curves()
    totals = fit._values(lambda fam, th: th[:, fam.n_params + N_EXTRA] * np.asarray(fam.mean(th[:, : fam.n_params])))[0]
    inside = fit._grid().u <= fit.horizon_minutes
    modelled = np.concatenate([np.trapezoid(m[:, inside], fit._grid().u[inside], axis=1) for m in curves])
    model = np.maximum(totals[:, 0] - modelled, 0.0) * fit._tail_scale(curves)
    decay = end_decay(fit.evidence.t, fit.evidence.y, fit.peak_minutes, fit._end_level(), fit._lag())
    assert decay is not None
    readings = decay_tails(decay, 2000, np.random.default_rng(0))
    assert 0.7 < np.median(readings) / true_tail < 1.6
    assert np.median(model) / true_tail > 2.0  # the model's slow clearing, as measured
    blended = np.median(fit._tail_after(model))
    assert np.median(readings) < blended < np.median(model)


def test_restoration_time_interval_spans_the_arrival_windows_the_count_cannot_exclude(tmp_path):
    """Outages over ~12 h in two bands, durations' median ~4 h: the fit puts the arrivals in ~2 h and the median at ~14 h.

    The bootstrap, holding the fitted arrival window, gave [786, 884] min for a true 233;
    profiled over the arrival window's span, the interval holds the truth and the fitted one.
    """
    folder = tmp_path / "storm"
    truth = write_incident("defects-heavy", folder, seed=5000)
    fit = _fit(folder, tmp_path, n_boot=40)
    for p, key in ((0.5, "duration_p50"), (0.9, "duration_p90")):
        given, wide = fit.restoration_quantile(p, profiled=False), fit.restoration_quantile(p)
        assert given.low > truth.restoration[key]  # the trade-off the bootstrap does not carry
        assert wide.low <= truth.restoration[key] <= wide.high
        assert wide.low <= given.low and wide.high >= given.high
