"""Where the nowcast's interval width comes from: each piece of an ETA scored alone, by evidence kind and progress point.

Replays the incidents of :mod:`benchmarks.nowcast` on its cached fits (``--cache DIR`` of a
run of that script: nothing is refitted when the cache holds every fit) and, for each
scored forecast of the product (the prior learned from the other incidents), scores every
piece that entered it on its own — the duration prior, the fitted crossing, the series'
rate, the log-linear decline ("progress"), the share restored with the recovery's shape
("shape") — each as a log-normal truncated at the issue time, like the product. Printed:
per group and progress point, for each piece how often it was there, its 90 % coverage, its
median 90 % width relative to the remaining time and its mean CRPS relative to the
remaining time, beside the product's.

Run: ``.venv/bin/python benchmarks/nowcast_breakdown.py --cache DIR [--seeds 2] [--first-seed 0]``
(the same seeds as the run that filled the cache).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "src"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from analysis.config import load_incident  # noqa: E402
from analysis.fitting import first_observation  # noqa: E402
from analysis.ingest import ingest_incident  # noqa: E402
from analysis.nowcast import EtaForecast, eta_forecasts, incident_as_of, observed_by, truncated_lognormal  # noqa: E402
from analysis.nowcast_eta import DurationPrior, event_size  # noqa: E402
from analysis.params import validate_params  # noqa: E402
from benchmarks import nowcast as bt  # noqa: E402

N = 2000
# a cache written by ``benchmarks/nowcast.py`` run as a script holds its fits of reports as ``__main__.FrozenReportFit``
sys.modules["__main__"].FrozenReportFit = bt.FrozenReportFit


def _piece(mu: float, sd: float, elapsed: float) -> EtaForecast:
    x = truncated_lognormal(mu, sd, max(elapsed, 1e-6), N)
    return EtaForecast(0.9, x, np.ones_like(x))


def breakdown_rows(case: bt.Case, cache: Path, history: Any, n_boot: int) -> list[dict[str, Any]]:
    """One row per progress point and piece (and the product) of one incident."""
    incident = load_incident(case.folder)
    if case.delay:
        import dataclasses

        incident = dataclasses.replace(incident, reporting=dataclasses.replace(incident.reporting, delay_minutes=case.delay))
    data = ingest_incident(incident)
    params = validate_params(incident_dir=str(case.folder), output_dir="", n_boot=n_boot, seed=1)
    key = "t50" if case.p == 0.5 else "t90"
    rows: list[dict[str, Any]] = []
    for fraction in bt.FRACTIONS:
        as_of = bt.issue_time(case, fraction)
        seen = observed_by(data, as_of)
        if case.delay:
            seen = bt.delayed_arrivals(seen, as_of, case.delay, seed=sum(map(ord, case.name)))
        inc = incident_as_of(incident, as_of)
        fit, evidence, _ = bt._fit_cached(cache, f"{case.name}-{fraction}", inc, seen=seen, params=params, as_of=as_of)
        onset = fit.onset if fit is not None else (incident.onset or first_observation(seen))
        elapsed = (as_of - onset).total_seconds() / 60.0
        truth = (case.truth - onset).total_seconds() / 60.0
        record: dict[str, list[tuple[str, float, float]]] = {}
        f = eta_forecasts(
            fit,
            evidence=evidence,
            data=seen,
            elapsed=elapsed,
            level=params.level,
            history=history,
            exclude=case.incident,
            record=record,
        )[key]
        prior = DurationPrior.for_event(evidence, event_size(fit, evidence, seen), history, exclude=case.incident)
        p = case.p
        pieces = [("prior", math.log(prior.median(p)), prior.spread(p)), *record.get(key, [])]
        base = {"case": case.name, "group": case.group, "fraction": fraction}
        rows.append(base | {"piece": "product"} | bt.score_one(f, truth, elapsed))
        for name, mu, sd in pieces:
            rows.append(base | {"piece": name, "sd": sd} | bt.score_one(_piece(mu, sd, elapsed), truth, elapsed))
    return rows


def table(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Per group (and all), progress point and piece: n, 90 % coverage, median width and mean CRPS (relative)."""
    df = pl.DataFrame(rows)
    both = pl.concat([df, df.with_columns(pl.lit("all").alias("group"))])
    return (
        both.group_by("group", "fraction", "piece")
        .agg(
            pl.len().alias("n"),
            pl.col("cover90").cast(pl.Float64).mean().alias("cover90"),
            pl.col("rel_width90").median().alias("width90"),
            pl.col("rel_crps").mean().alias("crps"),
            pl.col("sd").median().alias("median_sd"),
        )
        .sort("group", "fraction", "piece")
    )


def main(argv: list[str] | None = None) -> int:
    """Command line: the breakdown table as markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--n-boot", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nowcast-breakdown-") as tmp:
        work = Path(tmp)
        cases = bt.real_cases(work) + bt.storm_cases(work, args.seeds, args.first_seed)
        cases += bt.crowd_cases(work, args.seeds, delayed=True, first=args.first_seed)
        history = bt.history_of(cases)
        rows = [r for case in cases for r in breakdown_rows(case, args.cache, history, args.n_boot)]
    t = table(rows)
    print("| group | at | piece | n | cover 90 | width 90 / remaining | CRPS / remaining | median log-scale spread |")
    print("|---|---|---|---|---|---|---|---|")
    for r in t.iter_rows(named=True):
        sd = f"{r['median_sd']:.2f}" if r["median_sd"] is not None else "—"
        print(
            f"| {r['group']} | {r['fraction']:.0%} | {r['piece']} | {r['n']} | {r['cover90']:.2f} | "
            f"{r['width90']:.2f} | {r['crps']:.3f} | {sd} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
