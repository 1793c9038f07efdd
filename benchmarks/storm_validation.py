"""Validation through the CLI on simulated storms (customers-out series): error, coverage, flags.

For each scenario of :mod:`benchmarks.storms` (a storm simulated customer by customer,
published as an EAGLE-I-like series with noise and injected feed defects), ``--reps`` storms
are drawn with different seeds into a temporary folder and fitted exactly as a user does,
``postmortem fit DIR -p n_boot=N`` in a subprocess, and metrics.json is read from its stdout.

Compared with the truth, per scenario and metric:

* ``peak`` (``recovery.peak.estimate`` + ``estimate_ci``) against the largest true count at a
  run start (what a perfect feed at the same cadence shows; see :mod:`benchmarks.storms`);
* ``t50``, ``t90`` (``recovery.t50``/``t90``, ISO clock times: 50 % / 90 % of the peak
  restored, i.e. the true count falls below 50 % / 10 % of its peak for good), their ``_ci``;
  the relative error is taken relative to the time elapsed since the true onset. A crossing
  the fit *claims* inside the window (``recovery.tX_reached``; without that key, a value not
  ``tX_extrapolated`` and not after the end) when the truth says it is later is counted
  (must be 0); so is a crossing inside the window the fit says was not reached.
* ``customer_hours`` (``recovery.customer_hours`` + ``_ci``) against the same quantity from the
  event stream (:mod:`benchmarks.storms`: from the onset, every outage begun before the window's
  end, to its restoration; the former truth, routine outages to full restoration, is kept in
  each row as ``truth_until_full``); ``restoration_p50`` / ``restoration_p90``
  (``recovery.restoration_time.p50_minutes`` / ``p90_minutes`` + ``_ci``) against the storm outages'
  durations' median / 90th percentile; ``onset`` (when the incident does not configure it)
  against the first time the count is ≥ 5 % of the peak for an hour (error relative to the
  true onset → t50 time).
* the readings: ``recovery.readings`` present, and every injected feed-loss reading flagged
  (by time when the fit lists its flagged readings, otherwise by count).

Coverage is the share of 90 % intervals containing the truth, with a two-sided 95 %
Clopper–Pearson interval and the shares of misses below / above; for t50/t90 only the
replications whose crossing lies inside the window count; the crossings after the window's
end ("not reached by", extrapolated) are summarised apart (``beyond_coverage`` and its
interval, misses below / above, median error). A
CLI failure, unparsable output or a missing key is a counted failure, never a crash.

Targets the product must meet: times within 10 % of the elapsed time (median over
replications), intervals covering 0.85–0.95 at nominal 0.90.

Run: ``.venv/bin/python benchmarks/storm_validation.py [--scenario ...] [--reps 20]
[--n-boot 100] [--jobs 2] [--json out.json] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.storms import SCENARIOS, STORMS, StormTruth, write_incident
from benchmarks.validation import clopper_pearson, postmortem_command

TIMES = ("t50", "t90")
METRICS = ("peak", "t50", "t90", "customer_hours", "restoration_p50", "restoration_p90", "onset")
HEADLINE = ("peak", "t50", "t90", "customer_hours", "restoration_p50", "restoration_p90")
SEED0 = 2000
TIME_TARGET = 0.10
COVERAGE_TARGET = (0.85, 0.95)
# counts in recovery.readings that are not defects (everything else is a flag)
NOT_FLAGS = frozenset({"n", "n_readings", "total", "ok", "used", "clean", "flat", "before_onset", "after_end", "flagged"})


def parse_time(x: Any) -> dt.datetime | None:
    """An ISO time from metrics.json as an aware UTC datetime (None if absent or unreadable)."""
    if not isinstance(x, str):
        return None
    try:
        t = dt.datetime.fromisoformat(x)
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _pair(ci: Any) -> tuple[Any, Any]:
    return (ci[0], ci[1]) if isinstance(ci, (list, tuple)) and len(ci) == 2 else (None, None)


def judge(value: float | None, low: float | None, high: float | None, truth: float, scale: float) -> dict[str, Any]:
    """Hit / miss below / miss above, error relative to ``scale``, point inside its interval.

    ``value`` None is a missing estimate; an interval end None is open on that side.
    """
    if value is None or not math.isfinite(value):
        return {"missing": True}
    lo = -math.inf if low is None else low
    hi = math.inf if high is None else high
    below, above = hi < truth, lo > truth
    return {
        "missing": False,
        "value": value,
        "low": low,
        "high": high,
        "has_interval": low is not None or high is not None,
        "hit": not (below or above),
        "miss_low": below,
        "miss_high": above,
        "rel_error": (value - truth) / scale,
        "inside": lo <= value <= hi,
    }


def judge_time(rec: dict[str, Any], key: str, truth: StormTruth) -> dict[str, Any]:
    """One crossing time: error relative to elapsed time, coverage, and the inside-the-window claim."""
    t_true = truth.crossings_full[key]
    truth_min = truth.minutes(t_true)
    inside_window = truth.crossings[key] is not None
    v = parse_time(rec.get(key))
    lo, hi = (parse_time(x) for x in _pair(rec.get(f"{key}_ci")))
    j = judge(
        None if v is None else truth.minutes(v),
        None if lo is None else truth.minutes(lo),
        None if hi is None else truth.minutes(hi),
        truth_min,
        truth_min,
    )
    reached = rec.get(f"{key}_reached")
    if isinstance(reached, bool):
        claimed, source = reached, "reached"
    else:
        claimed = v is not None and not rec.get(f"{key}_extrapolated") and v <= truth.window_end
        source = "inferred"
    return {
        **j,
        "truth": truth_min,
        "truth_time": t_true.isoformat(),
        "truth_inside_window": inside_window,
        "extrapolated": rec.get(f"{key}_extrapolated"),
        "claimed_inside": claimed,
        "claim_source": source,
        "wrong_claim": bool(claimed and not inside_window),
        "missed_crossing": bool(inside_window and source == "reached" and not claimed),
    }


def judge_readings(rec: dict[str, Any], truth: StormTruth, left_out: Any = None) -> dict[str, Any]:
    """Whether the fit flagged the injected defects: by time from the readings it left out, else by count.

    ``left_out`` is metrics.json's ``series_readings_left_out`` (time and flag of every
    reading inside the window the fit did not use).
    """
    readings = rec.get("readings")
    losses = truth.times_of("feed_loss")
    if not isinstance(readings, dict):
        return {"present": False, "feed_loss_flagged": False, "injected": len(truth.defect_times)}
    listed = left_out if isinstance(left_out, list) else None
    if listed is not None:
        flagged = set()
        for item in listed:
            if isinstance(item, dict) and str(item.get("flag", "x")) != "ok":
                t = parse_time(item.get("time") or item.get("observed_at"))
                if t is not None:
                    flagged.add(t)
        by_kind = {
            d["kind"]: sum(t in flagged for t in d["times"]) for d in truth.defects if d["kind"] not in ("pre_storm_zero",)
        }
        return {
            "present": True,
            "method": "times",
            "feed_loss_flagged": all(t in flagged for t in losses),
            "flagged_by_kind": by_kind,
            "injected": len(truth.defect_times),
        }
    counts = {k: v for k, v in readings.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    n_flags = int(sum(v for k, v in counts.items() if k not in NOT_FLAGS))
    return {
        "present": True,
        "method": "counts",
        "counts": counts,
        "feed_loss_flagged": n_flags >= len(losses),
        "n_flagged": n_flags,
        "injected": len(truth.defect_times),
    }


def compare(metrics: dict[str, Any], truth: StormTruth, *, onset_configured: bool) -> dict[str, Any]:
    """Every metric of one fit against the truth."""
    rec = metrics.get("recovery") if isinstance(metrics.get("recovery"), dict) else {}
    out: dict[str, Any] = {k: judge_time(rec, k, truth) for k in TIMES}
    pk = rec.get("peak") if isinstance(rec.get("peak"), dict) else {}
    est = pk.get("estimate")
    lo, hi = _pair(pk.get("estimate_ci"))
    out["peak"] = {
        "truth": float(truth.peak),
        **judge(est if isinstance(est, (int, float)) else None, lo, hi, float(truth.peak), float(truth.peak)),
    }
    elapsed50 = truth.minutes(truth.crossings_full["t50"])
    ch = rec.get("customer_hours")
    lo, hi = _pair(rec.get("customer_hours_ci"))
    out["customer_hours"] = {
        "truth": truth.customer_hours,
        "truth_window": truth.customer_hours_window,
        "truth_until_full": truth.customer_hours_until_full,
        **judge(ch if isinstance(ch, (int, float)) else None, lo, hi, truth.customer_hours, truth.customer_hours),
    }
    rt = rec.get("restoration_time") if isinstance(rec.get("restoration_time"), dict) else {}
    for q in ("p50", "p90"):
        v = rt.get(f"{q}_minutes")
        lo, hi = _pair(rt.get(f"{q}_minutes_ci"))
        true_q = truth.restoration[f"duration_{q}"]
        out[f"restoration_{q}"] = {
            "truth": true_q,
            **judge(v if isinstance(v, (int, float)) else None, lo, hi, true_q, true_q),
        }
    if not onset_configured:
        v = parse_time(metrics.get("onset"))
        lo_t, hi_t = (parse_time(x) for x in _pair(metrics.get("onset_ci")))
        out["onset"] = {
            "truth": 0.0,
            "truth_time": truth.onset.isoformat(),
            **judge(
                None if v is None else truth.minutes(v),
                None if lo_t is None else truth.minutes(lo_t),
                None if hi_t is None else truth.minutes(hi_t),
                0.0,
                elapsed50,
            ),
        }
    out["readings"] = judge_readings(rec, truth, metrics.get("series_readings_left_out"))
    return out


def run_one(scenario: str, seed: int, n_boot: int, root: Path, *, keep: bool = False) -> dict[str, Any]:
    """Draw one storm, fit it through the CLI, compare with the truth (failures are recorded, not raised)."""
    folder = root / f"storm-{scenario}-{seed}"
    truth = write_incident(scenario, folder, seed=seed)
    cmd = [
        *postmortem_command(),
        "fit",
        str(folder),
        "-p",
        f"n_boot={n_boot}",
        "-p",
        f"seed={seed}",
        "-p",
        f"processed_dir={root / 'processed'}",
    ]
    t0 = time.perf_counter()
    row: dict[str, Any] = {"scenario": scenario, "seed": seed, "n_boot": n_boot}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        row["returncode"] = proc.returncode
        if proc.returncode != 0:
            row["error"] = proc.stderr.strip()[-2000:] or f"exit {proc.returncode}"
        else:
            metrics = json.loads(proc.stdout)
            if not isinstance(metrics, dict):
                raise ValueError("metrics.json is not an object")
            row["recovery_error"] = metrics.get("recovery_error")
            row.update(compare(metrics, truth, onset_configured=STORMS[scenario].onset_configured))
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        row.setdefault("returncode", -1)
        row["error"] = f"{type(exc).__name__}: {exc}"
    row["seconds"] = time.perf_counter() - t0
    row["ok"] = "error" not in row
    row["truth"] = {
        "onset": truth.onset.isoformat(),
        "window_end": truth.window_end.isoformat(),
        "peak": truth.peak,
        "defects": {d["kind"]: len(d["times"]) for d in truth.defects},
    }
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return row


def _median(xs: list[float]) -> float:
    return float(np.median(xs)) if xs else math.nan


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per scenario and metric: truth, estimate, errors, coverage, claims, failures."""
    out: dict[str, Any] = {}
    for sc in dict.fromkeys(r["scenario"] for r in rows):
        rs = [r for r in rows if r["scenario"] == sc]
        ok = [r for r in rs if r["ok"]]
        s: dict[str, Any] = {
            "reps": len(rs),
            "failed_fits": len(rs) - len(ok),
            "seconds_median": _median([r["seconds"] for r in rs]),
            "errors": sorted(
                {str(r.get("error") or r.get("recovery_error"))[-200:] for r in rs if not r["ok"] or r.get("recovery_error")}
            ),
        }
        for m in METRICS:
            js = [r[m] for r in ok if m in r]
            if not js:
                continue
            have = [j for j in js if not j["missing"]]
            counted = [j for j in have if j.get("truth_inside_window", True)]
            beyond = [j for j in have if not j.get("truth_inside_window", True)]
            n, k = len(counted), sum(j["hit"] for j in counted)
            d: dict[str, Any] = {
                "n": len(js),
                "missing": len(js) - len(have),
                "truth": _median([j["truth"] for j in js]),
                "estimate": _median([j["value"] for j in have]),
                "rel_error": _median([j["rel_error"] for j in have]),
                "abs_rel_error": _median([abs(j["rel_error"]) for j in have]),
                # what the data observe: the crossings whose truth lies inside the window
                "abs_rel_error_inside": _median([abs(j["rel_error"]) for j in counted]),
                "n_cover": n,
                "covered": k,
                "coverage": k / n if n else math.nan,
                "coverage_ci95": list(clopper_pearson(k, n)),
                "miss_low": sum(j["miss_low"] for j in counted) / n if n else math.nan,
                "miss_high": sum(j["miss_high"] for j in counted) / n if n else math.nan,
                "beyond_window": len(beyond),
                "beyond_covered": sum(j["hit"] for j in beyond),
                "beyond_coverage": sum(j["hit"] for j in beyond) / len(beyond) if beyond else math.nan,
                "beyond_coverage_ci95": list(clopper_pearson(sum(j["hit"] for j in beyond), len(beyond))),
                "beyond_miss_low": sum(j["miss_low"] for j in beyond) / len(beyond) if beyond else math.nan,
                "beyond_miss_high": sum(j["miss_high"] for j in beyond) / len(beyond) if beyond else math.nan,
                "beyond_rel_error": _median([j["rel_error"] for j in beyond]),
                "point_outside": sum(not j["inside"] for j in have),
                "no_interval": sum(not j["has_interval"] for j in have),
            }
            if m in TIMES:
                d["wrong_claims"] = sum(j["wrong_claim"] for j in js)
                d["missed_crossings"] = sum(j["missed_crossing"] for j in js)
                d["claims_inferred"] = sum(j["claim_source"] == "inferred" for j in js)
            s[m] = d
        rd = [r["readings"] for r in ok if "readings" in r]
        s["readings"] = {
            "n": len(rd),
            "present": sum(x["present"] for x in rd),
            "feed_loss_flagged": sum(x["feed_loss_flagged"] for x in rd),
            "by_time": sum(x.get("method") == "times" for x in rd),
        }
        out[sc] = s
    return out


def print_table(summary: dict[str, Any], n_boot: int) -> None:
    """The summary as a plain-text table (times in minutes after the true onset)."""
    print(
        f"90% intervals; {n_boot} bootstrap replicates per fit; times in minutes after the true onset, relative error "
        f"relative to the elapsed time; coverage over the replications whose truth is inside the window (95% Clopper–Pearson)"
    )
    print(
        "beyond = covered / n of the crossings after the end of the window; wrong = crossings claimed inside the window "
        "when the truth is later; outside = estimates outside their own interval; missing = key absent or null"
    )
    head = (
        f"{'scenario':14} {'metric':16} {'truth':>9} {'estimate':>9} {'relerr':>7} {'|err|':>6} {'cover':>9} "
        f"{'95% CI':>12} {'low':>5} {'high':>5} {'beyond':>7} {'wrong':>5} {'outside':>7} {'missing':>7}"
    )
    print(head)
    for sc, s in summary.items():
        for m in METRICS:
            if m not in s:
                continue
            d = s[m]
            fmt = "{:9.0f}" if m not in ("customer_hours", "peak") else "{:9.3g}"
            est = fmt.format(d["estimate"]) if math.isfinite(d["estimate"]) else f"{'-':>9}"
            ci = d["coverage_ci95"]
            cover = f"{d['covered']}/{d['n_cover']}"
            ci_txt = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if d["n_cover"] else "-"
            flag = (
                ""
                if not (m in TIMES and math.isfinite(d["abs_rel_error"]))
                else ("" if d["abs_rel_error"] <= TIME_TARGET else " >10%")
            )
            print(
                f"{sc:14} {m:16} {fmt.format(d['truth'])} {est} {d['rel_error']:+7.3f} {d['abs_rel_error']:6.3f} {cover:>9} "
                f"{ci_txt:>12} {d['miss_low']:5.2f} {d['miss_high']:5.2f} {d['beyond_covered']:>3}/{d['beyond_window']:<3} "
                f"{d.get('wrong_claims', ''):>5} {d['point_outside']:>7} {d['missing']:>3}/{d['n']:<3}{flag}"
            )
        r = s["readings"]
        print(
            f"{sc:14} fits {s['reps'] - s['failed_fits']}/{s['reps']}, {s['seconds_median']:.1f} s/fit; readings reported "
            f"{r['present']}/{r['n']}, every feed loss flagged {r['feed_loss_flagged']}/{r['n']} (checked by time in {r['by_time']})"
        )
        for e in s["errors"][:3]:
            print(f"{'':14} error: {e}")


def run(
    scenarios: list[str], reps: int, n_boot: int, jobs: int, *, keep: Path | None = None, seed0: int = SEED0
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run every (scenario, replication) through the CLI; return the rows and the summary."""
    tmp = Path(tempfile.mkdtemp(prefix="postmortem-storms-")) if keep is None else keep
    tmp.mkdir(parents=True, exist_ok=True)
    tasks = [(s, seed0 + i) for i in range(reps) for s in scenarios]
    rows: list[dict[str, Any]] = []
    try:
        with cf.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(run_one, s, seed, n_boot, tmp, keep=keep is not None) for s, seed in tasks]
            for fut in cf.as_completed(futures):
                rows.append(fut.result())
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    rows.sort(key=lambda r: (scenarios.index(r["scenario"]), r["seed"]))
    return rows, summarise(rows)


def main(argv: list[str] | None = None) -> None:
    """Command line: run, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", nargs="+", default=list(SCENARIOS), choices=list(STORMS))
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=SEED0, help="seed of the first replication (then +1, +2, …)")
    parser.add_argument("--json", type=Path, default=None, help="write rows and summary here")
    parser.add_argument("--keep", type=Path, default=None, help="keep the incident folders under this directory")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    rows, summary = run(args.scenario, args.reps, args.n_boot, args.jobs, keep=args.keep, seed0=args.seed)
    print_table(summary, args.n_boot)
    print(f"{len(rows)} fits in {time.perf_counter() - t0:.0f} s with {args.jobs} jobs")
    if args.json is not None:
        args.json.write_text(
            json.dumps({"reps": args.reps, "n_boot": args.n_boot, "summary": summary, "rows": rows}, indent=1, default=str)
            + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
