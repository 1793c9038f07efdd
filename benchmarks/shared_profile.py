"""A clock profile estimated across independently drawn incidents, against the generator's true one.

Draws one incident of each named scenario of :mod:`benchmarks.independent` (seeds never used by
``validation.py``'s default runs: 2000 onwards), estimates one shared clock profile from their
report times with :func:`analysis.recovery.shared_profile.estimate_shared_profile`, and prints
its harmonic coefficients beside those of the generator's true profile (log of the true over
the assumed default, least squares on the 24 hours) as JSON; ``--out FILE`` writes the 24
hourly weights for ``ablation.py --propensity FILE`` or ``validation.py --propensity FILE``.

Run: ``.venv/bin/python benchmarks/shared_profile.py stamped rounded5 longtail-dst sparse --out profile.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analysis.recovery.clock_profile import PROFILE_NAMES, profile_basis
from analysis.recovery.propensity import DEFAULT_PROPENSITY
from analysis.recovery.shared_profile import estimate_shared_profile
from benchmarks import independent as ind
from benchmarks.ablation import variant_times


def true_coefficients() -> dict[str, float]:
    """The generator's profile against the assumed default, on the harmonics the estimate uses (plus a constant)."""
    true = np.log(np.asarray(ind.SLEEP_PROFILE, dtype=float)) - np.log(np.asarray(DEFAULT_PROPENSITY, dtype=float))
    design = np.vstack([np.ones(24), profile_basis(np.arange(24) + 0.5)]).T
    coef = np.linalg.lstsq(design, true, rcond=None)[0][1:]
    return {n.rstrip("_"): round(float(c), 3) for n, c in zip(PROFILE_NAMES, coef, strict=True)}


def main(argv: list[str] | None = None) -> None:
    """Command line: one JSON object with the estimate, the truth and the time taken."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="+", choices=list(ind.SCENARIOS))
    parser.add_argument("--seed", type=int, default=2000)
    parser.add_argument("--families", default="weibull,weibull+delay,loglogistic+delay,lognormal+delay")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the 24 hourly weights (JSON list) here")
    args = parser.parse_args(argv)
    incidents = []
    for i, name in enumerate(args.scenarios):
        times, _ = variant_times(name, args.seed + i, "base")
        sc = ind.SCENARIOS[name]
        clock = ind.Clock.build(sc.onset, sc.end)
        incidents.append((times, clock.onset_utc, clock.onset_utc + dt.timedelta(minutes=clock.horizon)))
    t0 = time.perf_counter()
    fams = args.families.split(",") if args.families != "all" else "all"
    est = estimate_shared_profile(incidents, timezone=ind.TIMEZONE, families=fams, rounds=args.rounds)
    out = {
        "scenarios": args.scenarios,
        "seeds": [args.seed + i for i in range(len(args.scenarios))],
        "estimated": {k: round(v, 3) for k, v in est.coefficients.items()},
        "true": true_coefficients(),
        "models": list(est.models),
        "dispersion": [round(p, 1) for p in est.dispersion],
        "hourly": [round(x, 3) for x in est.hourly],
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out), flush=True)
    if args.out:
        args.out.write_text(json.dumps(out["hourly"]) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
