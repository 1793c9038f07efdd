"""Validation through the CLI on incidents the fitter did not generate: coverage, error, counts.

For each scenario of :mod:`benchmarks.independent` (a report process that deliberately
differs from the fitter's λ = A·g·S), ``--reps`` incidents are drawn with different seeds
into a temporary folder and fitted exactly as a user does, by running the project's
``postmortem fit DIR -p n_boot=N`` in a subprocess (two at a time by default) and reading
metrics.json from its stdout. Per scenario and metric (t50, t90, t99, share still out at the
announcement) it prints the truth, the median estimate and interval, the median relative
error, the coverage of the 90% intervals with a two-sided 95% Clopper–Pearson interval, the
shares of misses with the interval below / above the truth, the median width / truth, and
whether every point estimate lay inside its own interval. An interval end capped at the end
of observation (``tX_upper_extrapolated``) counts as open, as the library's own
``Estimate.covers`` does. For the regional scenarios: the rate of p < 0.01 and of p < 0.10 of
the equal-recovery test. The counts are checked too: rows in = kept + rejected, every
planted bad row rejected and no legitimate report rejected.

Run: ``.venv/bin/python benchmarks/validation.py [--scenarios ...] [--reps 20] [--n-boot 100]
[--jobs 2] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import math
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import beta

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.independent import ALL_SCENARIOS, SCENARIOS, write_incident

METRICS = ("t50", "t90", "t99", "still_out")
LEVEL = 0.90
SEED0 = 1000


def postmortem_command() -> list[str]:
    """The project's CLI: ``postmortem`` beside the running interpreter."""
    exe = Path(sys.executable).parent / "postmortem"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "analysis"]


def add_reporting(toml: Path, switches: dict[str, Any]) -> None:
    """Add ``key = true/false`` (or ``key = "text"``) lines to the ``[reporting]`` table of an incident.toml (made if absent)."""
    text = toml.read_text(encoding="utf-8")
    lines = "".join(f"{k} = {str(v).lower() if isinstance(v, bool) else json.dumps(v)}\n" for k, v in switches.items())
    if "[reporting]\n" in text:
        text = text.replace("[reporting]\n", "[reporting]\n" + lines, 1)
    else:
        text = text.rstrip("\n") + "\n\n[reporting]\n" + lines
    toml.write_text(text, encoding="utf-8")


def parse_switches(items: list[str]) -> dict[str, Any]:
    """``--reporting`` items: ``key`` (true), ``key=true``/``key=false`` or ``key=text`` (e.g. ``noticing=pooled``)."""
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in ("noticing", "profile_uncertainty", "profile"):
            raise argparse.ArgumentTypeError(f"--reporting: unknown switch {key!r} (noticing, profile_uncertainty, profile)")
        out[key] = True if not value or value == "true" else False if value == "false" else value
    return out


def clopper_pearson(k: int, n: int, conf: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial interval for k successes out of n."""
    if n == 0:
        return (math.nan, math.nan)
    a = (1.0 - conf) / 2.0
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1.0 - a, k + 1, n - k))
    return lo, hi


def _estimates(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Value, interval and capped flag of each metric from a metrics.json."""
    rec = metrics.get("recovery") or {}
    out: dict[str, dict[str, Any]] = {}
    for key in ("t50", "t90", "t99"):
        ci = rec.get(f"{key}_minutes_ci") or [None, None]
        out[key] = {
            "value": rec.get(f"{key}_minutes"),
            "low": ci[0],
            "high": ci[1],
            "open_high": bool(rec.get(f"{key}_upper_extrapolated")),
        }
    ann = (metrics.get("announcements") or [{}])[0]
    ci = ann.get("still_affected_ci") or [None, None]
    out["still_out"] = {"value": ann.get("still_affected"), "low": ci[0], "high": ci[1], "open_high": False}
    return out


def judge(est: dict[str, Any], truth: float) -> dict[str, Any]:
    """Hit / miss below / miss above, relative error, width / truth, point inside its interval."""
    v, lo, hi, open_high = est["value"], est["low"], est["high"], est["open_high"]
    if v is None or lo is None or hi is None:
        return {"hit": None, "miss_low": None, "miss_high": None, "rel_error": None, "width": None, "inside": None}
    below = (not open_high) and hi < truth  # the whole interval lies below the truth
    above = lo > truth
    return {
        "value": v,
        "low": lo,
        "high": hi,
        "open_high": open_high,
        "hit": not (below or above),
        "miss_low": below,
        "miss_high": above,
        "rel_error": (v - truth) / truth,
        "width": (hi - lo) / truth,
        "inside": lo <= v and (open_high or v <= hi),
    }


def run_one(
    scenario: str,
    seed: int,
    n_boot: int,
    root: Path,
    *,
    keep: bool = False,
    state_profile: bool = False,
    reporting: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Draw one incident, fit it through the CLI, compare with the truth.

    ``reporting``: switches added to the incident's ``[reporting]`` table (``noticing``,
    ``profile_uncertainty``, ``profile``), as a user would write them.
    """
    folder = root / f"{scenario}-{seed}"
    truth = write_incident(scenario, folder, seed=seed, state_profile=state_profile)
    if reporting:
        add_reporting(folder / "incident.toml", reporting)
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
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    row: dict[str, Any] = {"scenario": scenario, "seed": seed, "seconds": seconds, "returncode": proc.returncode}
    if proc.returncode != 0:
        row["error"] = proc.stderr.strip()[-2000:]
        return row
    metrics = json.loads(proc.stdout)
    est = _estimates(metrics)
    truths = {
        "t50": truth["t50_minutes"],
        "t90": truth["t90_minutes"],
        "t99": truth["t99_minutes"],
        "still_out": truth["announcements"][0]["still_out"],
    }
    for m in METRICS:
        row[m] = {"truth": truths[m], **judge(est[m], truths[m])}
    counts = truth["counts"]
    row["counts"] = {
        "n_raw": metrics.get("n_raw"),
        "n_reports": metrics.get("n_reports"),
        "n_rejected": metrics.get("n_rejected"),
        "planted_bad": counts["bad_rows"],
        "legitimate": counts["legitimate_rows"],
        "rows_reconcile": metrics.get("n_raw") == (metrics.get("n_reports") or 0) + (metrics.get("n_rejected") or 0),
        "rows_in_match": metrics.get("n_raw") == counts["rows"],
        "no_legitimate_rejected": metrics.get("n_rejected") == counts["bad_rows"]
        and metrics.get("n_reports") == counts["legitimate_rows"],
    }
    rec = metrics.get("recovery") or {}
    row["model"] = rec.get("model")
    row["dispersion"] = rec.get("dispersion")
    test = metrics.get("regions_equal_recovery") or {}
    row["p_value"] = test.get("p_value")
    row["regions"] = {k: v.get("n_reports") for k, v in (metrics.get("regions") or {}).items()}
    row["regions_differ"] = truth.get("regions_differ", False)
    row["regional"] = bool(truth.get("regions"))
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per scenario and metric: coverage with its binomial interval, errors, widths."""
    out: dict[str, Any] = {}
    for sc in dict.fromkeys(r["scenario"] for r in rows):
        rs = [r for r in rows if r["scenario"] == sc]
        ok = [r for r in rs if r["returncode"] == 0]
        s: dict[str, Any] = {
            "reps": len(rs),
            "failed_fits": len(rs) - len(ok),
            "seconds_median": float(np.median([r["seconds"] for r in rs])) if rs else math.nan,
            "models": {m: sum(r.get("model") == m for r in ok) for m in sorted({str(r.get("model")) for r in ok})},
            "dispersion_median": float(np.median([r["dispersion"] for r in ok if r.get("dispersion") is not None]))
            if ok
            else math.nan,
        }
        for m in METRICS:
            js = [r[m] for r in ok if r[m]["hit"] is not None]
            n = len(js)
            k = sum(j["hit"] for j in js)
            lo, hi = clopper_pearson(k, n)
            s[m] = {
                "truth": float(np.median([j["truth"] for j in js])) if js else math.nan,
                "n": n,
                "covered": k,
                "coverage": k / n if n else math.nan,
                "coverage_ci95": [lo, hi],
                "miss_low": sum(j["miss_low"] for j in js) / n if n else math.nan,
                "miss_high": sum(j["miss_high"] for j in js) / n if n else math.nan,
                "estimate_median": float(np.median([j["value"] for j in js])) if js else math.nan,
                "low_median": float(np.median([j["low"] for j in js])) if js else math.nan,
                "high_median": float(np.median([j["high"] for j in js])) if js else math.nan,
                "rel_error_median": float(np.median([j["rel_error"] for j in js])) if js else math.nan,
                "abs_rel_error_median": float(np.median([abs(j["rel_error"]) for j in js])) if js else math.nan,
                "width_median": float(np.median([j["width"] for j in js])) if js else math.nan,
                "open_high": sum(j["open_high"] for j in js),
                "point_inside_always": all(j["inside"] for j in js) if js else None,
                "point_outside": sum(not j["inside"] for j in js),
            }
        s["counts"] = {
            "rows_reconcile": sum(r["counts"]["rows_reconcile"] for r in ok),
            "rows_in_match": sum(r["counts"]["rows_in_match"] for r in ok),
            "no_legitimate_rejected": sum(r["counts"]["no_legitimate_rejected"] for r in ok),
            "of": len(ok),
        }
        ps = [r["p_value"] for r in ok if r.get("p_value") is not None]
        if any(r.get("regional") for r in ok) and ps:
            s["regional_test"] = {
                "regions_differ": bool(ok[0]["regions_differ"]),
                "n": len(ps),
                "reject_p01": sum(p < 0.01 for p in ps) / len(ps),
                "reject_p10": sum(p < 0.10 for p in ps) / len(ps),
                "reports_per_region_median": {
                    reg: float(np.median([r["regions"].get(reg, 0) for r in ok])) for reg in ok[0]["regions"]
                },
            }
        out[sc] = s
    return out


def print_table(summary: dict[str, Any], n_boot: int) -> None:
    """The summary as a plain-text table."""
    print(f"90% intervals; {n_boot} bootstrap replicates per fit; coverage with a 95% Clopper–Pearson interval")
    head = (
        f"{'scenario':15} {'metric':9} {'truth':>8} {'estimate':>8} {'interval':>19} {'relerr':>7} "
        f"{'cover':>9} {'95% CI':>13} {'low':>5} {'high':>5} {'w/truth':>7} {'inside':>6}"
    )
    print(head)
    for sc, s in summary.items():
        for m in METRICS:
            d = s[m]
            if not d["n"]:
                print(f"{sc:15} {m:9} (no estimate)")
                continue
            fmt = "{:8.3f}" if m == "still_out" else "{:8.1f}"
            interval = f"[{d['low_median']:.3g}, {d['high_median']:.3g}]"
            print(
                f"{sc:15} {m:9} {fmt.format(d['truth'])} {fmt.format(d['estimate_median'])} {interval:>19} "
                f"{d['rel_error_median']:+7.3f} {d['covered']:>4}/{d['n']:<4} "
                f"[{d['coverage_ci95'][0]:.2f}, {d['coverage_ci95'][1]:.2f}] {d['miss_low']:5.2f} {d['miss_high']:5.2f} "
                f"{d['width_median']:7.3f} {'yes' if d['point_inside_always'] else 'NO':>6}"
            )
        c = s["counts"]
        extra = ""
        if "regional_test" in s:
            t = s["regional_test"]
            extra = (
                f"; equal-recovery test (regions {'differ' if t['regions_differ'] else 'equal'}): "
                f"p<0.01 {t['reject_p01']:.2f}, p<0.10 {t['reject_p10']:.2f}, reports/region {t['reports_per_region_median']}"
            )
        print(
            f"{sc:15} fits {s['reps'] - s['failed_fits']}/{s['reps']}, {s['seconds_median']:.1f} s/fit, "
            f"φ median {s['dispersion_median']:.2f}, models {s['models']}; counts: rows reconcile {c['rows_reconcile']}/{c['of']}, "
            f"rows in = written {c['rows_in_match']}/{c['of']}, no legitimate row rejected {c['no_legitimate_rejected']}/{c['of']}"
            f"{extra}"
        )


def markdown_table(summary: dict[str, Any]) -> str:
    """The summary as the Markdown table of docs/recovery.md."""
    lines = [
        "| scenario | metric | truth | median estimate [median interval] | median rel. error | coverage (95% CI) "
        "| misses below / above | width / truth | estimate inside |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for sc, s in summary.items():
        for m in METRICS:
            d = s[m]
            if not d["n"]:
                continue
            f = (lambda x: f"{x:.3f}") if m == "still_out" else (lambda x: f"{x:.0f}")
            inside = "all" if d["point_inside_always"] else f"{d['point_outside']} outside"
            lines.append(
                f"| {sc} | {m} | {f(d['truth'])} | {f(d['estimate_median'])} [{f(d['low_median'])}, {f(d['high_median'])}] "
                f"| {d['rel_error_median']:+.2f} | {d['covered']}/{d['n']} = {d['coverage']:.2f} "
                f"({d['coverage_ci95'][0]:.2f}–{d['coverage_ci95'][1]:.2f}) | {d['miss_low']:.2f} / {d['miss_high']:.2f} "
                f"| {d['width_median']:.2f} | {inside} |"
            )
    return "\n".join(lines)


def run(
    scenarios: list[str],
    reps: int,
    n_boot: int,
    jobs: int,
    *,
    keep: Path | None = None,
    seed0: int = SEED0,
    rows_file: Path | None = None,
    state_profile: bool = False,
    reporting: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run every (scenario, replication) through the CLI; return the rows and the summary.

    The tasks are ordered replication by replication (every scenario's first seed, then every
    second seed, ...), so a run stopped early still covers every scenario alike. With
    ``rows_file`` each finished fit is appended to it as one JSON line at once, and fits
    already there are not run again (a long run can be resumed or summarised part-way).
    """
    tmp = Path(tempfile.mkdtemp(prefix="postmortem-validation-")) if keep is None else keep
    tmp.mkdir(parents=True, exist_ok=True)
    done: list[dict[str, Any]] = []
    if rows_file is not None and rows_file.exists():
        done = [json.loads(line) for line in rows_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        done = [
            r
            for r in done
            if r["scenario"] in scenarios
            and r["n_boot"] == n_boot
            and r.get("state_profile", False) == state_profile
            and r.get("reporting", {}) == (reporting or {})
        ]
    seen = {(r["scenario"], r["seed"]) for r in done}
    tasks = [(s, seed0 + i) for i in range(reps) for s in scenarios if (s, seed0 + i) not in seen]
    rows: list[dict[str, Any]] = list(done)
    lock = threading.Lock()

    def task(scenario: str, seed: int) -> dict[str, Any]:
        row = {
            "n_boot": n_boot,
            "state_profile": state_profile,
            "reporting": reporting or {},
            **run_one(scenario, seed, n_boot, tmp, keep=keep is not None, state_profile=state_profile, reporting=reporting),
        }
        if rows_file is not None:
            with lock, rows_file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, default=str) + "\n")
        return row

    try:
        with cf.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(task, s, seed) for s, seed in tasks]
            for fut in cf.as_completed(futures):
                rows.append(fut.result())
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    rows = [r for r in rows if r["seed"] < seed0 + reps and r["seed"] >= seed0]
    rows.sort(key=lambda r: (scenarios.index(r["scenario"]), r["seed"]))
    return rows, summarise(rows)


def main(argv: list[str] | None = None) -> None:
    """Command line: run, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(ALL_SCENARIOS))
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=SEED0, help="seed of the first replication (then +1, +2, …)")
    parser.add_argument("--json", type=Path, default=None, help="write rows and summary here")
    parser.add_argument("--keep", type=Path, default=None, help="keep the incident folders under this directory")
    parser.add_argument(
        "--rows", type=Path, default=None, help="append each fit here (JSON lines); fits already there are reused"
    )
    parser.add_argument(
        "--state-profile", action="store_true", help="write the true clock profile into the incidents (diagnostic)"
    )
    parser.add_argument(
        "--reporting",
        nargs="+",
        default=[],
        help="set these in every incident's [reporting] table: noticing, profile_uncertainty (true), "
        "or key=value, e.g. noticing=false (no ramp only), noticing=pooled (the default), profile=estimated",
    )
    parser.add_argument(
        "--propensity",
        type=Path,
        default=None,
        help="a JSON list of 24 hourly weights to state as [reporting] hourly_propensity (e.g. from shared_profile.py)",
    )
    parser.add_argument("--markdown", action="store_true", help="also print the summary as a Markdown table")
    parser.add_argument("--summarise", action="store_true", help="only summarise the fits already in --rows")
    args = parser.parse_args(argv)
    try:
        switches = parse_switches(args.reporting)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if args.propensity is not None:
        switches["hourly_propensity"] = [float(x) for x in json.loads(args.propensity.read_text(encoding="utf-8"))]
    t0 = time.perf_counter()
    if args.summarise:
        if args.rows is None or not args.rows.exists():
            parser.error("--summarise needs an existing --rows file")
        rows = [json.loads(x) for x in args.rows.read_text(encoding="utf-8").splitlines() if x.strip()]
        rows = [
            r
            for r in rows
            if r["scenario"] in args.scenarios
            and r["n_boot"] == args.n_boot
            and r.get("state_profile", False) == args.state_profile
            and r.get("reporting", {}) == switches
        ]
        rows.sort(key=lambda r: (args.scenarios.index(r["scenario"]), r["seed"]))
        summary = summarise(rows)
        print_table(summary, args.n_boot)
        if args.markdown:
            print(markdown_table(summary))
        return
    rows, summary = run(
        args.scenarios,
        args.reps,
        args.n_boot,
        args.jobs,
        keep=args.keep,
        seed0=args.seed,
        rows_file=args.rows,
        state_profile=args.state_profile,
        reporting=switches,
    )
    print_table(summary, args.n_boot)
    if args.markdown:
        print(markdown_table(summary))
    failed = [r for r in rows if r["returncode"] != 0]
    for r in failed[:5]:
        print(f"FAILED {r['scenario']} seed {r['seed']}: {r.get('error', '')[-300:]}")
    print(f"{len(rows)} fits in {time.perf_counter() - t0:.0f} s with {args.jobs} jobs")
    if args.json is not None:
        args.json.write_text(
            json.dumps({"reps": args.reps, "n_boot": args.n_boot, "summary": summary, "rows": rows}, indent=1, default=str)
            + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
