"""Does one incident's own fit show a daily pattern it misses? Residuals of the plain fit by clock hour.

For each drawn incident of a scenario (:mod:`benchmarks.independent`, the same draw as
``validation.py``) the candidates are fitted without a noticing ramp and without a bootstrap,
as the plain half of ``postmortem fit`` does; the fitted counts per bin are then compared with
the observed ones on the clock: a weighted least-squares fit of the relative residual
(observed − fitted) / fitted on a constant and the two daily harmonics the bootstrap's profile
spread draws (weights: the fitted counts), so the four coefficients read as a correction
δ(h) of the log profile. Bins before the noticing delay's 90th percentile at its cap
(``NOTICE_MAX_MINUTES``·e^{1.28·NOTICE_SIGMA}, 108 min) are left out: there the plain fit
misses the ramp, whatever the clock. ``chi2`` tests the four together with the residuals'
own dispersion (a Wald statistic, 4 degrees of freedom; 18.5 is p = 0.001).

``--null`` fits incidents of the library's own simulator instead (the default profile true,
so the pattern should be noise): three onsets, two seeds each.

Run: ``.venv/bin/python benchmarks/profile_residuals.py rounded5 stamped --seeds 1000 1001``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analysis.recovery import fit_down_reports
from analysis.recovery.clock_profile import profile_basis
from analysis.recovery.propensity import local_hours
from analysis.recovery.report_bins import NOTICE_MAX_MINUTES, NOTICE_SIGMA
from analysis.simulate import report_times
from benchmarks import independent as ind
from benchmarks.ablation import variant_times

# the noticing delay's 90th percentile at its cap (log-normal, z = 1.2816)
SKIP_MINUTES = NOTICE_MAX_MINUTES * math.exp(1.2816 * NOTICE_SIGMA)
NULL_CASES = (
    (dt.datetime(2018, 1, 8, 6, 0, tzinfo=dt.UTC), "weibull", [180.0, 1.5]),
    (dt.datetime(2018, 1, 8, 17, 0, tzinfo=dt.UTC), "weibull", [150.0, 1.2]),
    (dt.datetime(2018, 1, 8, 15, 30, tzinfo=dt.UTC), "lognormal", [math.log(80.0), 1.2]),
)


def clock_pattern(table: pl.DataFrame, timezone: str, skip_minutes: float = SKIP_MINUTES) -> dict[str, Any]:
    """The daily pattern of a report fit's residuals: harmonic coefficients, their standard errors, φ and χ².

    ``table``: the fit's ``diagnostics.observed_vs_fitted`` (``bin_start``, ``bin_end``,
    ``minutes_start``, ``minutes_end``, ``observed``, ``observed_windowed``, ``fitted``).
    """
    mu = table["fitted"].to_numpy()
    obs = (table["observed"] + table["observed_windowed"]).to_numpy()
    mid = 0.5 * (table["bin_start"].dt.epoch("s").to_numpy() + table["bin_end"].dt.epoch("s").to_numpy())
    minutes = 0.5 * (table["minutes_start"].to_numpy() + table["minutes_end"].to_numpy())
    keep = (mu > 0) & (minutes > skip_minutes)
    x = np.column_stack([np.ones(int(keep.sum())), profile_basis(local_hours(mid[keep].astype(float), timezone)).T])
    w, y = mu[keep], (obs[keep] - mu[keep]) / mu[keep]
    xtw = x.T * w
    beta = np.linalg.solve(xtw @ x, xtw @ y)
    phi = float(np.sum(w * (y - x @ beta) ** 2) / max(int(keep.sum()) - x.shape[1], 1))
    cov = phi * np.linalg.inv(xtw @ x)[1:, 1:]
    c = beta[1:]
    return {
        "coef": [round(float(v), 3) for v in c],
        "se": [round(float(v), 3) for v in np.sqrt(np.diag(cov))],
        "phi": round(phi, 2),
        "chi2": round(float(c @ np.linalg.solve(cov, c)), 1),
        "bins": int(keep.sum()),
    }


def _plain_fit(times: np.ndarray, onset: dt.datetime, horizon: float, seed: int, timezone: str) -> Any:
    end = onset + dt.timedelta(minutes=horizon)
    return fit_down_reports(times, onset=onset, end=end, timezone=timezone, n_boot=0, seed=seed, noticing=False)


def main(argv: list[str] | None = None) -> None:
    """Command line: one JSON line per incident."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", choices=list(ind.ALL_SCENARIOS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1000, 1001, 1002, 1003, 1004])
    parser.add_argument("--null", action="store_true", help="the library's simulator, the default profile true")
    args = parser.parse_args(argv)
    for name in args.scenarios:
        sc = ind.ALL_SCENARIOS[name]
        clock = ind.Clock.build(sc.onset, sc.end)
        for seed in args.seeds:
            t, _ = variant_times(name, seed, "base")
            fit = _plain_fit(t, clock.onset_utc, clock.horizon, seed, ind.TIMEZONE)
            out = clock_pattern(fit.diagnostics.observed_vs_fitted, ind.TIMEZONE)
            print(json.dumps({"scenario": name, "seed": seed, "model": fit.model, **out}), flush=True)
    if args.null:
        for onset, family, params in NULL_CASES:
            for seed in (1, 2):
                t = report_times(
                    family=family,
                    params=params,
                    rate_per_minute=100.0,
                    horizon_minutes=1440.0,
                    onset_epoch_s=onset.timestamp(),
                    timezone=ind.TIMEZONE,
                    rng=seed,
                )
                fit = _plain_fit(t, onset, 1440.0, seed, ind.TIMEZONE)
                out = clock_pattern(fit.diagnostics.observed_vs_fitted, ind.TIMEZONE)
                print(json.dumps({"null": f"{family} from {onset:%H:%M} UTC", "seed": seed, "model": fit.model, **out}))


if __name__ == "__main__":
    main()
