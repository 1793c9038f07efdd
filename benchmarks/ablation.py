"""One deviation at a time: fit an independently drawn incident directly, with parts of it removed.

Draws a scenario of :mod:`benchmarks.independent` (the same draw as ``validation.py`` for the
same seed), then fits the report times with :func:`fit_down_reports` as ``postmortem fit``
does by default (``noticing="pooled"``, the profile spread when the profile is assumed),
once per variant, each changing one thing:

* ``base`` — the reports as written (stamps rounded as the scenario rounds them);
* ``minute`` — stamps truncated to the minute instead;
* ``nosecond`` — the second outage's reports left out;
* ``noburst`` — the social-media bursts left out;
* ``profile`` — the true clock profile stated (``propensity``), as ``--state-profile`` does;
* any comma-joined combination, e.g. ``profile,nosecond``.

``--region NAME`` keeps only the reports from that region's municipalities (a regional
scenario's regions fitted one at a time, as the regional test fits them).

``--mode plain`` fits without the noticing ramp only; ``--families`` restricts the
candidates (e.g. ``weibull+delay``, the true family of ``rounded5``); ``--profile estimated``
fits the clock profile's harmonics with S (``[reporting] profile = "estimated"``); ``--propensity
FILE`` states the 24 hourly weights in FILE (a JSON list, e.g. from ``shared_profile.py``), as
known, or with ``--profile shared`` as an estimate the profile spread is kept around. Prints one JSON line per
fit: t50, t90 and the share still out at the announcement as ``[estimate, low, high]`` and
each reporting hypothesis's t50/t90.

Run: ``.venv/bin/python benchmarks/ablation.py rounded5 --seeds 1000 1001 --variants base
nosecond profile``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analysis.recovery import fit_down_reports
from benchmarks import independent as ind

VARIANT_PARTS = ("base", "minute", "nosecond", "noburst", "profile")


def variant_times(scenario: str, seed: int, variant: str, region: str | None = None) -> tuple[np.ndarray, list[float] | None]:
    """Report times (minutes after the onset) and the propensity to state, with ``variant``'s parts changed.

    ``region`` keeps only the reports placed in that region's municipalities.
    """
    parts = set(variant.split(","))
    unknown = parts - set(VARIANT_PARTS)
    if unknown:
        raise SystemExit(f"unknown variant part(s) {sorted(unknown)}; choose from {', '.join(VARIANT_PARTS)}")
    sc = ind.ALL_SCENARIOS[scenario]
    clock = ind.Clock.build(sc.onset, sc.end)
    d = ind.draw(sc, seed)
    keep = d.times < clock.horizon
    if "nosecond" in parts:
        keep &= d.kinds != "second"
    if "noburst" in parts:
        keep &= d.kinds != "burst"
    if region is not None:
        regions = dict(ind._municipalities(None).select("name", "region").iter_rows())
        keep &= np.array([regions.get(p) == region for p in d.places], dtype=bool)
    # as benchmarks.independent stamps them: the onsets lie on the 5-minute grid and the UTC
    # offsets are whole hours, so minutes after the onset round like the local clock
    step = 1 if "minute" in parts else sc.stamp_minutes
    times = d.times[keep]
    stamped = np.floor(times) if step == 1 else np.round(times / step) * step
    return stamped[stamped <= clock.horizon], (list(ind.SLEEP_PROFILE) if "profile" in parts else None)


def fit_variant(
    scenario: str,
    seed: int,
    variant: str,
    *,
    mode: str = "pooled",
    families: Any = "all",
    n_boot: int = 40,
    profile: str = "assumed",
    stated: list[float] | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Fit one drawn incident of ``scenario`` with the parts named in ``variant`` changed."""
    t, prop = variant_times(scenario, seed, variant, region)
    prop = stated if stated is not None else prop
    sc = ind.ALL_SCENARIOS[scenario]
    clock = ind.Clock.build(sc.onset, sc.end)
    onset = clock.onset_utc
    noticing: Any = False if mode == "plain" else "pooled"
    t0 = time.perf_counter()
    fit = fit_down_reports(
        t,
        onset=onset,
        end=onset + dt.timedelta(minutes=clock.horizon),
        timezone=ind.TIMEZONE,
        propensity=prop,
        families=families,
        n_boot=n_boot,
        seed=seed,
        noticing=noticing,  # "pooled" adds the profile spread itself when the profile is assumed, as the CLI does
        profile=profile,  # type: ignore[arg-type]
    )
    so = fit.still_affected(onset + dt.timedelta(minutes=sc.announcement_minutes))
    hyp = fit.identifiability.get("reporting_hypotheses", {})

    def trio(e: Any, digits: int) -> list[float]:
        return [round(float(x), digits) for x in (e.value, *e.interval)]

    return {
        "scenario": scenario,
        "seed": seed,
        "variant": variant,
        "region": region,
        "mode": mode,
        "profile": profile if stated is None or profile == "shared" else "stated",
        "reports": int(t.size),
        "model": fit.model,
        "t50": trio(fit.t50, 1),
        "t90": trio(fit.t90, 1),
        "still_out": trio(so, 3),
        "hypotheses_t50": hyp.get("t50_minutes"),
        "hypotheses_t90": hyp.get("t90_minutes"),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: one JSON line per (seed, variant)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=list(ind.ALL_SCENARIOS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1000])
    parser.add_argument("--variants", nargs="+", default=["base"])
    parser.add_argument("--mode", choices=["pooled", "plain"], default="pooled")
    parser.add_argument("--families", default="all", help="'all' or comma-separated candidate names")
    parser.add_argument("--n-boot", type=int, default=40)
    parser.add_argument("--profile", choices=["assumed", "estimated", "shared", "quiet"], default="assumed")
    parser.add_argument("--propensity", type=Path, default=None, help="state this JSON list of 24 hourly weights")
    parser.add_argument("--region", default=None, help="keep only this region's reports (e.g. Wallonia)")
    args = parser.parse_args(argv)
    families = "all" if args.families == "all" else args.families.split(",")
    stated = None if args.propensity is None else [float(x) for x in json.loads(args.propensity.read_text(encoding="utf-8"))]
    for seed in args.seeds:
        for v in args.variants:
            print(
                json.dumps(
                    fit_variant(
                        args.scenario,
                        seed,
                        v,
                        mode=args.mode,
                        families=families,
                        n_boot=args.n_boot,
                        profile=args.profile,
                        stated=stated,
                        region=args.region,
                    )
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
