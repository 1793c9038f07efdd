"""Backtest of the live nowcast: replay incidents as they unfolded and score the ETA forecasts.

Each incident is replayed with forecasts issued on the 15-minute clock grid; the forecasts
scored are the ones issued when 10 %, 25 %, 50 % and 75 % of the time from the onset to the
target crossing had passed (the last issue time at or before that point). Only the evidence
observed by the issue time is used (:func:`analysis.nowcast.observed_by`); the onset is the
incident's own (configured, or estimated from the evidence in hand).

Incidents
---------
* ``real``: the EAGLE-I series in ``../shared/data/real/`` (CC BY 4.0). None reaches 90 %
  restored inside its window, so the target there is the **50 %** crossing (the first time
  the count stays below half its peak, from the data README): Harris/Beryl and Volusia/Ian.
  Charlotte/Ian never reaches 50 % in its window and cannot be scored.
* ``storms``: simulated storms (:mod:`benchmarks.storms`, every scenario), target the true
  90 % crossing (the count below 10 % of its peak for good, to full restoration).
* ``crowd``: simulated crowd-report incidents (:mod:`benchmarks.independent`: scenarios
  ``stamped``, ``rounded5``, ``longtail-dst``, ``sparse``), target the true t90 of the
  restoration-time distribution. The ``…+delay`` variants replay the same incidents with
  reports reaching the data a log-normal delay (median 30 min) after their stamp, fitted
  with ``[reporting] delay_minutes = 30``.

Methods, all built on the same evidence
---------------------------------------
* ``nowcast``: the product — the fit's ETA, extrapolations of the recovery so far and the
  size-scaled log-normal duration prior, averaged over which pieces to trust
  (:func:`analysis.nowcast_eta.model_average`), mixed with the prior alone while a series'
  peak may still be ahead, conditioned on "not reached yet" — with the prior **learned from
  the other incidents of the backtest** (:mod:`analysis.nowcast_history`; each incident,
  and its delayed-arrival replay, left out of the history its own forecasts learn from);
* ``nowcast-skill``: the same with each piece's spread scaled by its measured error on the
  other incidents' replays (:mod:`analysis.nowcast_skill`; ``--skill-csv FILE`` writes
  those replays as a ``[nowcast] skill`` file);
* ``nowcast-assumed``: the same without a history (the assumed prior);
* ``fit``: the fitted curve without a prior (the same distribution, unweighted);
* ``prior``: the assumed log-normal duration prior conditioned on the event's size and on "not yet";
* ``prior-learned``: the prior learned from the other incidents alone, conditioned on "not yet";
* ``rate``: the current recovery rate extrapolated linearly (series: the readings of the
  last 3 h; reports: the fitted S over the last 2 h), a point forecast.

Scores (per group and progress point): coverage of the 50/80/90 % central intervals;
median width of the 90 % interval relative to the remaining time (truth − issue time);
CRPS relative to the remaining time (mean; a point forecast's CRPS is its absolute error; every
relative score capped at 10, which a forecast of "never" gets);
median absolute error of the median relative to the remaining time; and the CRPS gain of
each product over the best baseline, 1 − CRPS(product) / min CRPS(baselines), over every
forecast and again over the forecasts made with a curve (every method has one there).

Run: ``.venv/bin/python benchmarks/nowcast.py [--quick] [--seeds 3] [--first-seed 0] [--n-boot 100] [--json out.json]
[--cache DIR]`` (``--cache``: the fits kept and reused, so a change of the forecast is re-scored on the same fits).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.config import load_incident  # noqa: E402  (path set above for a plain script run)
from analysis.errors import AnalysisError  # noqa: E402
from analysis.fitting import customers_out_series, evidence_kind, first_observation, fit_evidence  # noqa: E402
from analysis.ingest import ingest_incident  # noqa: E402
from analysis.nowcast import EtaForecast, eta_forecasts, event_size, incident_as_of, observed_by  # noqa: E402
from analysis.nowcast_eta import DurationPrior  # noqa: E402
from analysis.nowcast_history import PastEvent  # noqa: E402
from analysis.nowcast_skill import (  # noqa: E402
    PieceSkill,
    Replayed,
    learn_skill,
    stage,
    standardised_error,
    write_replays,
)
from analysis.params import validate_params  # noqa: E402

FRACTIONS = (0.10, 0.25, 0.50, 0.75)
LEVELS = (0.5, 0.8, 0.9)
ISSUE_MINUTES = 15
METHODS = ("nowcast", "nowcast-skill", "nowcast-assumed", "fit", "prior", "prior-learned", "rate")
PRODUCTS = (
    "nowcast",
    "nowcast-skill",
    "nowcast-assumed",
)  # with the prior learned from the other incidents, and with the assumed prior
BASELINES = ("fit", "prior", "prior-learned", "rate")
REAL = {
    # file, timezone, onset (UTC), 50 % crossing for good (UTC), from the data README
    "beryl": ("eaglei_outages_2024_harris_beryl.csv", "America/Chicago", "2024-07-08T14:15:00", "2024-07-11T21:45:00"),
    "volusia": ("eaglei_2022_ian_volusia_fl.csv", "America/New_York", "2022-09-29T00:15:00", "2022-10-01T13:15:00"),
}
CROWD = ("stamped", "rounded5", "longtail-dst", "sparse")
DELAY_MINUTES = 30.0
CAP = 10.0  # scores are capped at 10 remaining times (a forecast of "never" is 10 off, not infinitely)


@dataclasses.dataclass
class Case:
    """One incident to replay: its folder, target quantile and true crossing (UTC)."""

    name: str
    group: str
    folder: Path
    p: float
    truth: dt.datetime
    onset: dt.datetime
    delay: float = 0.0  # reports reach the data this median delay after their stamp
    t50: dt.datetime | None = None  # the true crossings (UTC) this incident adds to the others' history
    t90: dt.datetime | None = None

    @property
    def incident(self) -> str:
        """The incident replayed (a delayed-arrival variant is the same incident as its original)."""
        return self.folder.name


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def real_cases(work: Path) -> list[Case]:
    """The real EAGLE-I series, when the files are there."""
    folder = next((p for p in (ROOT.parent / "shared" / "data" / "real", Path("/work/shared/data/real")) if p.is_dir()), None)
    cases = []
    for name, (file, tz, onset, t50) in REAL.items():
        if folder is None or not (folder / file).is_file():
            print(f"real series {file} not found: skipped", file=sys.stderr)
            continue
        out = work / f"real-{name}"
        out.mkdir(parents=True, exist_ok=True)
        (out / "outages.csv").write_bytes((folder / file).read_bytes())
        (out / "incident.toml").write_text(
            f'id = "real-{name}"\ntitle = "{name}"\ntimezone = "{tz}"\nonset = "{onset}+00:00"\n'
            '[[sources]]\npath = "outages.csv"\nkind = "online_fraction"\ntimezone = "UTC"\n'
            '[sources.columns]\nobserved_at = "run_start_time"\nout = "customers_out"\n',
            encoding="utf-8",
        )
        cases.append(Case(f"real-{name}", "real", out, 0.5, _utc(t50), _utc(onset), t50=_utc(t50)))
    return cases


def storm_cases(work: Path, seeds: int, first: int = 0) -> list[Case]:
    """Simulated storms, every scenario, ``seeds`` draws each (seeds ``first``, ``first`` + 1, …)."""
    from benchmarks import storms

    cases = []
    for name in storms.SCENARIOS:
        for seed in range(first, first + seeds):
            out = work / f"storm-{name}-{seed}"
            truth = storms.write_incident(name, out, seed=seed)
            full = truth.crossings_full
            cases.append(Case(out.name, "storms", out, 0.9, full["t90"], truth.onset, t50=full["t50"], t90=full["t90"]))
    return cases


def crowd_cases(work: Path, seeds: int, *, delayed: bool, first: int = 0) -> list[Case]:
    """Simulated crowd-report incidents (and their delayed-arrival variants)."""
    from zoneinfo import ZoneInfo

    from benchmarks import independent

    cases = []
    for name in CROWD:
        for seed in range(first, first + seeds):
            out = work / f"crowd-{name}-{seed}"
            truth = independent.write_incident(name, out, seed=seed)
            onset = dt.datetime.fromisoformat(truth["onset"]).replace(tzinfo=ZoneInfo(truth["timezone"])).astimezone(dt.UTC)
            t90 = onset + dt.timedelta(minutes=truth["t90_minutes"])
            t50 = onset + dt.timedelta(minutes=truth["t50_minutes"])
            cases.append(Case(out.name, "crowd", out, 0.9, t90, onset, t50=t50, t90=t90))
            if delayed:
                cases.append(Case(out.name + "+delay", "crowd+delay", out, 0.9, t90, onset, DELAY_MINUTES, t50=t50, t90=t90))
    return cases


def history_of(cases: list[Case]) -> tuple[PastEvent, ...]:
    """The incidents of the backtest as a history of past incidents (one row per incident, its true crossings).

    A forecast of an incident leaves that incident out of it (``exclude``): leave one
    incident out, so no forecast sees its own outcome.
    """
    events: dict[str, PastEvent] = {}
    for case in cases:
        if case.incident in events:
            continue
        data = ingest_incident(load_incident(case.folder))
        kind = evidence_kind(data)

        def minutes(t: dt.datetime | None, onset: dt.datetime = case.onset) -> float:
            return (t - onset).total_seconds() / 60.0 if t is not None else math.nan

        events[case.incident] = PastEvent(case.incident, kind, event_size(None, kind, data), minutes(case.t50), minutes(case.t90))
    return tuple(events.values())


def issue_time(case: Case, fraction: float) -> dt.datetime:
    """The last 15-minute issue time at or before ``fraction`` of the way to the crossing."""
    t = case.onset + (case.truth - case.onset) * fraction
    epoch = int(t.timestamp()) // (ISSUE_MINUTES * 60) * (ISSUE_MINUTES * 60)
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def delayed_arrivals(data: Any, as_of: dt.datetime, median: float, seed: int) -> Any:
    """The reports that had *arrived* by ``as_of`` when each arrives a log-normal delay after its stamp."""
    from analysis.recovery.reports import DELAY_SIGMA

    r = data.reports
    rng = np.random.default_rng(seed)
    delay = np.exp(math.log(median) + DELAY_SIGMA * rng.standard_normal(r.height))
    arrived = (r["reported_at"].dt.epoch("s").to_numpy() + delay * 60.0) <= as_of.timestamp()
    return dataclasses.replace(data, reports=r.filter(pl.Series(arrived)))


def rate_forecast(fit: Any, data: Any, evidence: str, as_of: dt.datetime, p: float) -> float:
    """ETA (minutes after the fit's onset) extrapolating the current recovery rate linearly; inf when not falling."""
    elapsed = (as_of - fit.onset).total_seconds() / 60.0
    line = 1.0 - p
    if evidence == "online_fraction":
        s = customers_out_series(data.online).drop_nulls("out").sort("observed_at")
        peak = float(s["out"].max())
        recent = s.filter(pl.col("observed_at") >= as_of - dt.timedelta(hours=3))
        if recent.height < 3 or peak <= 0:
            return math.inf
        x = (recent["observed_at"] - fit.onset).dt.total_seconds().to_numpy() / 60.0
        y = recent["out"].to_numpy() / peak
        slope, icpt = np.polyfit(x, y, 1)
        now = icpt + slope * elapsed
    else:
        now = float(fit.survival(np.array([elapsed]))[0])
        before = float(fit.survival(np.array([max(elapsed - 120.0, 0.0)]))[0])
        slope = (now - before) / min(120.0, max(elapsed, 1.0))
    if now <= line:
        return elapsed
    return elapsed + (now - line) / -slope if slope < 0 else math.inf


def score_one(f: EtaForecast, truth: float, elapsed: float) -> dict[str, Any]:
    """Coverage flags, relative width, relative CRPS and relative absolute error of one forecast."""
    remaining = max(truth - elapsed, 1.0)
    med = f.reached_minutes if f.reached else f.median
    out: dict[str, Any] = {"remaining_minutes": remaining, "elapsed": elapsed, "truth": truth, "median": med}
    for lv in LEVELS:
        lo, hi = f.interval(lv) if not f.reached else (f.reached_minutes, f.reached_minutes)
        out[f"cover{int(lv * 100)}"] = bool(lo <= truth <= hi)
        if lv == 0.9:
            out["rel_width90"] = (hi - lo) / remaining
            out["low90"], out["high90"] = lo, hi
    # a forecast with no value (or absurdly far) scores as 10 remaining times off, like a rate that is not falling
    err, crps = abs(med - truth) / remaining, f.crps(truth) / remaining
    out["rel_abs_error"] = min(err, CAP) if math.isfinite(err) else CAP
    out["rel_crps"] = min(crps, CAP) if math.isfinite(crps) else CAP
    return out


def stretch_needed(row: dict[str, Any]) -> float:
    """The factor by which a forecast's 90 % interval, on the log scale of the remaining time around its median, must be stretched to reach the truth.

    The two sides are stretched separately (the interval is skewed); 1 or less: it covers
    the truth already. Infinite for a forecast already "reached" (no interval).
    """
    e, m, t = row["elapsed"], row["median"], row["truth"]
    lo, hi = row["low90"], row["high90"]
    if not (m > e and hi > m and t > e):
        return math.inf
    side = (math.log(hi - e) - math.log(m - e)) if t >= m else (math.log(m - e) - math.log(max(lo - e, 1e-9)))
    return abs(math.log(t - e) - math.log(m - e)) / side if side > 0 else math.inf


def stage_conformal(rows: list[dict[str, Any]], method: str = "nowcast", level: float = 0.9) -> pl.DataFrame:
    """The product's 90 % intervals calibrated by split-conformal per progress point, each incident left out.

    For each forecast, the stretch factors (:func:`stretch_needed`) of the same method's
    forecasts of the *other* incidents at the same progress point are conformity scores;
    its interval is stretched (or shrunk) by their ⌈(n + 1)·level⌉-th smallest, on the log
    scale of the remaining time around its median. What a forecast calibrated on replayed
    past forecasts would achieve: coverage and median width per group and progress point.
    """
    mine = [r for r in rows if r.get("method") == method and "low90" in r]
    out = []
    for r in mine:
        others = sorted(
            stretch_needed(o)
            for o in mine
            if o["fraction"] == r["fraction"] and o["case"].split("+")[0] != r["case"].split("+")[0]
        )
        rank = math.ceil((len(others) + 1) * level)
        if rank > len(others) or not math.isfinite(others[rank - 1]):
            continue
        k = others[rank - 1]
        e, m = r["elapsed"], r["median"]
        if not m > e:
            continue
        lo = e + (m - e) * math.exp(-k * (math.log(m - e) - math.log(max(r["low90"] - e, 1e-9))))
        hi = e + (m - e) * math.exp(k * (math.log(r["high90"] - e) - math.log(m - e)))
        out.append(
            {
                "group": r["group"],
                "fraction": r["fraction"],
                "k": k,
                "cover90": lo <= r["truth"] <= hi,
                "rel_width90": (hi - lo) / r["remaining_minutes"],
            }
        )
    if not out:  # too few incidents for a conformal rank (a quick run)
        return pl.DataFrame(
            schema={
                "group": pl.String,
                "fraction": pl.Float64,
                "n": pl.UInt32,
                "stretch": pl.Float64,
                "cover90": pl.Float64,
                "width90": pl.Float64,
            }
        )
    df = pl.DataFrame(out)
    both = pl.concat([df, df.with_columns(pl.lit("all").alias("group"))])
    return (
        both.group_by("group", "fraction")
        .agg(
            pl.len().alias("n"),
            pl.col("k").median().alias("stretch"),
            pl.col("cover90").cast(pl.Float64).mean().alias("cover90"),
            pl.col("rel_width90").median().alias("width90"),
        )
        .sort("group", "fraction")
    )


def point_score(eta: float, truth: float, elapsed: float) -> dict[str, Any]:
    """A point forecast's scores (its CRPS is its absolute error; no interval)."""
    remaining = max(truth - elapsed, 1.0)
    err = abs(eta - truth) / remaining if math.isfinite(eta) else CAP
    return {"rel_crps": min(err, CAP), "rel_abs_error": min(err, CAP)}


class FrozenReportFit:
    """What the forecasts read from a fit of reports, kept so it can be cached (the fit itself cannot be pickled).

    Its quantiles, the share still out at the issue time and S at the two times the
    "rate" baseline reads: exactly the answers the backtest asks of that fit.
    """

    def __init__(self, fit: Any, as_of: dt.datetime) -> None:
        self.onset, self.model = fit.onset, fit.model
        self._q = {p: fit.quantile(p) for p in (0.5, 0.9)}
        self._as_of, self._still = as_of, fit.still_affected(as_of)
        elapsed = (as_of - fit.onset).total_seconds() / 60.0
        times = [elapsed, max(elapsed - 120.0, 0.0)]
        self._s = dict(zip(times, (float(v) for v in fit.survival(np.array(times))), strict=True))

    def quantile(self, p: float) -> Any:
        """The fit's t_p."""
        return self._q[p]

    def still_affected(self, t: dt.datetime) -> Any:
        """The share still out at the issue time (the only time asked)."""
        assert t == self._as_of, "a frozen fit answers for its issue time only"
        return self._still

    def survival(self, minutes: np.ndarray) -> np.ndarray:
        """S at the times the rate baseline reads."""
        return np.array([self._s[float(m)] for m in minutes])


def _fit_cached(
    cache: Path | None, key: str, inc: Any, *, seen: Any, params: Any, as_of: dt.datetime
) -> tuple[Any, str, str | None]:
    """The fit of the evidence in hand (fit, evidence kind, error), kept in ``cache`` when given.

    The fits do not depend on how the forecast is made from them: a cache lets the
    forecast be changed and re-scored without refitting (``--cache DIR``).
    """
    path = cache / f"{key}.pickle" if cache is not None else None
    if path is not None and path.is_file():
        with path.open("rb") as fh:
            return pickle.load(fh)
    try:
        outcome = fit_evidence(inc, seen, params, end=inc.end or as_of)
        result: tuple[Any, str, str | None] = (outcome.fit, outcome.evidence, None)
    except (AnalysisError, ValueError) as exc:
        result = (None, evidence_kind(seen), str(exc).splitlines()[0][:160])
    if path is not None:
        kept = result
        if result[0] is not None and not hasattr(result[0], "crossing"):
            kept = (FrozenReportFit(result[0], as_of), *result[1:])
        try:
            with path.open("wb") as fh:
                pickle.dump(kept, fh)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            path.unlink(missing_ok=True)
            print(f"cache: {key} not kept ({exc})", file=sys.stderr)
    return result


def _prepare(case: Case, n_boot: int, seed: int) -> tuple[Any, Any, Any]:
    """The incident as replayed (with its reporting delay), its evidence and the fit parameters."""
    incident = load_incident(case.folder)
    if case.delay:
        incident = dataclasses.replace(incident, reporting=dataclasses.replace(incident.reporting, delay_minutes=case.delay))
    params = validate_params(incident_dir=str(case.folder), output_dir="", n_boot=n_boot, seed=seed)
    return incident, ingest_incident(incident), params


def _issue(case: Case, incident: Any, data: Any, params: Any, fraction: float, *, cache: Path | None) -> dict[str, Any]:
    """What a forecast issued ``fraction`` of the way to the crossing sees: the evidence in hand, its fit, the times."""
    as_of = issue_time(case, fraction)
    inc = incident_as_of(incident, as_of)
    seen = observed_by(data, as_of)
    if case.delay:
        seen = delayed_arrivals(seen, as_of, case.delay, seed=sum(map(ord, case.name)))
    fit, evidence, error = _fit_cached(cache, f"{case.name}-{fraction}", inc, seen=seen, params=params, as_of=as_of)
    onset = fit.onset if fit is not None else (incident.onset or first_observation(seen))
    elapsed = (as_of - onset).total_seconds() / 60.0
    truth = (case.truth - onset).total_seconds() / 60.0
    return {"as_of": as_of, "seen": seen, "fit": fit, "evidence": evidence, "error": error, "elapsed": elapsed, "truth": truth}


def piece_replays(case: Case, *, n_boot: int, cache: Path | None = None, history: tuple[PastEvent, ...] = ()) -> list[Replayed]:
    """Every piece of the product's forecasts of one incident, with its standardised error: the others' measured skill."""
    incident, data, params = _prepare(case, n_boot, 1)
    key = "t50" if case.p == 0.5 else "t90"
    out: list[Replayed] = []
    for fraction in FRACTIONS:
        s = _issue(case, incident, data, params, fraction, cache=cache)
        fit, evidence, seen, elapsed = s["fit"], s["evidence"], s["seen"], s["elapsed"]
        record: dict[str, list[tuple[str, float, float]]] = {}
        learned = {"history": history, "exclude": case.incident}
        eta_forecasts(fit, evidence=evidence, data=seen, elapsed=elapsed, level=params.level, record=record, **learned)  # type: ignore[arg-type]
        prior = DurationPrior.for_event(evidence, event_size(fit, evidence, seen), history, exclude=case.incident)
        at = stage(elapsed, prior.median(case.p))
        out += [
            Replayed(name, evidence, at, standardised_error(mu, sd, s["truth"]), sd, prior.spread(case.p))
            for name, mu, sd in record.get(key, [])
        ]
    return out


def replay(
    case: Case,
    *,
    n_boot: int,
    seed: int = 1,
    cache: Path | None = None,
    history: tuple[PastEvent, ...] = (),
    skill: PieceSkill | None = None,
) -> list[dict[str, Any]]:
    """Every scored forecast of one incident: one row per progress point and method.

    ``history``: the backtest's incidents as past incidents; this one is left out of it.
    ``skill``: the pieces' measured skill on the other incidents' replays ("nowcast-skill").
    """
    incident, data, params = _prepare(case, n_boot, seed)
    key = "t50" if case.p == 0.5 else "t90"
    rows: list[dict[str, Any]] = []
    for fraction in FRACTIONS:
        base = {"case": case.name, "group": case.group, "fraction": fraction, "target": key}
        t0 = time.perf_counter()
        s = _issue(case, incident, data, params, fraction, cache=cache)
        fit, evidence, error, seen, elapsed, truth = s["fit"], s["evidence"], s["error"], s["seen"], s["elapsed"], s["truth"]
        base["as_of"] = s["as_of"].isoformat()
        common = {"evidence": evidence, "data": seen, "elapsed": elapsed, "level": params.level}
        learned = {"history": history, "exclude": case.incident}
        forecasts = {
            "nowcast": eta_forecasts(fit, **common, **learned)[key],  # type: ignore[arg-type]
            "nowcast-skill": eta_forecasts(fit, **common, **learned, skill=skill or PieceSkill())[key],  # type: ignore[arg-type]
            "nowcast-assumed": eta_forecasts(fit, **common)[key],  # type: ignore[arg-type]
            "prior": eta_forecasts(None, **common)[key],  # type: ignore[arg-type]
            "prior-learned": eta_forecasts(None, **common, **learned)[key],  # type: ignore[arg-type]
        }
        if fit is not None:
            forecasts["fit"] = eta_forecasts(fit, **common, prior=False)[key]  # type: ignore[arg-type]
        seconds = time.perf_counter() - t0
        model = fit.model if fit is not None else "prior only"
        for method, f in forecasts.items():
            rows.append(
                base | {"method": method, "seconds": seconds, "model": model, "fit_error": error} | score_one(f, truth, elapsed)
            )
        if fit is None:
            print(f"{case.name:28s} {fraction:4.0%}  no curve ({error}): prior only", file=sys.stderr)
            continue
        eta = rate_forecast(fit, seen, evidence, s["as_of"], case.p)
        rows.append(base | {"method": "rate"} | point_score(eta, truth, elapsed))
        by = {r["method"]: r["rel_crps"] for r in rows[-len(METHODS) :]}
        print(
            f"{case.name:28s} {fraction:4.0%}  CRPS/remaining: nowcast {by['nowcast']:.3f} (skill {by['nowcast-skill']:.3f}, "
            f"assumed prior {by['nowcast-assumed']:.3f})  fit {by['fit']:.3f}  prior {by['prior']:.3f} "
            f"(learned {by['prior-learned']:.3f})  rate {by['rate']:.3f}  ({seconds:.1f} s)",
            file=sys.stderr,
        )
    return rows


def summarize(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Scores per group (and all groups together), progress point and method."""
    ok = pl.DataFrame([r for r in rows if "error" not in r])
    frames = [ok, ok.with_columns(pl.lit("all").alias("group"))]
    both = pl.concat(frames, how="diagonal_relaxed")
    agg = [
        pl.len().alias("n"),
        pl.col("rel_crps").mean().alias("crps"),
        pl.col("rel_abs_error").median().alias("mae"),
    ]
    if "cover90" in both.columns:
        agg += [pl.col(f"cover{int(lv * 100)}").cast(pl.Float64).mean().alias(f"cover{int(lv * 100)}") for lv in LEVELS]
        agg.append(pl.col("rel_width90").median().alias("width90"))
    table = both.group_by("group", "fraction", "method").agg(agg).sort("group", "fraction", "method")
    best = (
        table.filter(pl.col("method").is_in(BASELINES))
        .group_by("group", "fraction")
        .agg(pl.col("crps").min().alias("best_baseline_crps"))
    )
    # the same gain on the forecasts every method made (those with a curve: without one the
    # fit and rate baselines have nothing to say, and the means above are over different sets)
    with_curve = {(r["case"], r["fraction"]) for r in rows if r.get("method") == "fit" and "error" not in r}
    pairs = both.filter(
        pl.struct("case", "fraction").map_elements(lambda k: (k["case"], k["fraction"]) in with_curve, pl.Boolean)
    )
    paired = pairs.group_by("group", "fraction", "method").agg(pl.col("rel_crps").mean().alias("crps"), pl.len().alias("n"))
    paired_gain = (
        paired.filter(pl.col("method").is_in(PRODUCTS))
        .join(
            paired.filter(pl.col("method").is_in(BASELINES)).group_by("group", "fraction").agg(pl.col("crps").min().alias("b")),
            on=["group", "fraction"],
        )
        .select(
            "group",
            "fraction",
            "method",
            (1 - pl.col("crps") / pl.col("b")).alias("gain_with_curve"),
            pl.col("n").alias("n_with_curve"),
        )
    )
    return (
        table.join(best, on=["group", "fraction"], how="left")
        .with_columns(
            pl.when(pl.col("method").is_in(PRODUCTS))
            .then(1 - pl.col("crps") / pl.col("best_baseline_crps"))
            .alias("gain_vs_best")
        )
        .join(paired_gain, on=["group", "fraction", "method"], how="left")
    )


def markdown(table: pl.DataFrame, method: str = "nowcast") -> str:
    """The rows of ``method`` (a product's, or a baseline's) with the baselines' CRPS, as a markdown table."""
    lines = [
        f"{method}:",
        "",
        "| group | at | n | cover 50 | cover 80 | cover 90 | width 90 / remaining | CRPS / remaining | "
        "median abs. error / remaining | CRPS fit / prior / learned prior / rate | CRPS gain vs best baseline | "
        "same, forecasts with a curve (n) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (group, fraction), part in table.group_by("group", "fraction", maintain_order=True):
        by = {r["method"]: r for r in part.iter_rows(named=True)}
        n = by.get(method)
        if n is None or n.get("cover90") is None:
            continue
        others = " / ".join(f"{by[m]['crps']:.2f}" if m in by else "—" for m in BASELINES)
        lines.append(
            f"| {group} | {fraction:.0%} | {n['n']} | {n['cover50']:.2f} | {n['cover80']:.2f} | {n['cover90']:.2f} | "
            f"{n['width90']:.2f} | {n['crps']:.3f} | {n['mae']:.2f} | {others} | "
            + (f"{n['gain_vs_best']:+.0%} | " if n.get("gain_vs_best") is not None else "— | ")
            + (f"{n['gain_with_curve']:+.0%} ({n['n_with_curve']}) |" if n.get("gain_with_curve") is not None else "— (0) |")
        )
    return "\n".join(lines)


def run(
    *,
    quick: bool,
    seeds: int,
    n_boot: int,
    groups: tuple[str, ...],
    work: Path,
    cache: Path | None = None,
    first_seed: int = 0,
    skill_csv: Path | None = None,
) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    """Build the incidents, replay them, return the rows and the summary table.

    ``skill_csv``: write the pieces' replays here, a ``[nowcast] skill`` file for later incidents.
    """
    cases: list[Case] = []
    if "real" in groups:
        cases += real_cases(work)
    if "storms" in groups:
        cases += storm_cases(work, 1 if quick else seeds, first_seed)
    if "crowd" in groups:
        cases += crowd_cases(work, 1 if quick else seeds, delayed=not quick, first=first_seed)
    if quick:  # one incident per kind of evidence: a smoke run that still exercises every path
        keep = {"real-beryl", "storm-two-bands-0", "crowd-stamped-0"}
        cases = [c for c in cases if c.name in keep]
    history = history_of(cases)
    cache = cache if cache is not None else work / "fits"  # the pieces' replays and the scored forecasts share the fits
    cache.mkdir(parents=True, exist_ok=True)
    replays = {case.name: piece_replays(case, n_boot=n_boot, cache=cache, history=history) for case in cases}
    if skill_csv is not None:
        write_replays(skill_csv, [(c.incident, r) for c in cases for r in replays[c.name]])
    rows: list[dict[str, Any]] = []
    for case in cases:  # each incident's pieces are scaled by their skill on the other incidents
        skill = learn_skill(r for c in cases if c.incident != case.incident for r in replays[c.name])
        rows += replay(case, n_boot=n_boot, cache=cache, history=history, skill=skill)
    return rows, summarize(rows)


def main(argv: list[str] | None = None) -> int:
    """Command line: run the backtest, print the markdown table, optionally write the rows as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one incident per evidence kind (smoke run, a few minutes)")
    parser.add_argument("--seeds", type=int, default=3, help="draws per simulated scenario (full run)")
    parser.add_argument("--first-seed", type=int, default=0, help="the simulated scenarios' first seed (other draws)")
    parser.add_argument("--n-boot", type=int, default=100, help="bootstrap replicates per fit")
    parser.add_argument("--groups", default="real,storms,crowd", help="comma-separated: real, storms, crowd")
    parser.add_argument("--json", type=Path, help="write the scored rows and the summary here")
    parser.add_argument("--cache", type=Path, help="keep the fits here and reuse them (forecasts are recomputed)")
    parser.add_argument("--skill-csv", type=Path, help="write the pieces' replays here (a [nowcast] skill file)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nowcast-backtest-") as tmp:
        rows, table = run(
            quick=args.quick,
            seeds=args.seeds,
            n_boot=args.n_boot,
            groups=tuple(g.strip() for g in args.groups.split(",")),
            work=Path(tmp),
            cache=args.cache,
            first_seed=args.first_seed,
            skill_csv=args.skill_csv,
        )
    for method in (*PRODUCTS, "prior-learned"):
        print(markdown(table, method) + "\n")
    print("nowcast, 90 % intervals calibrated per progress point (split-conformal, each incident left out):\n")
    print("| group | at | n | median stretch | cover 90 | width 90 / remaining |\n|---|---|---|---|---|---|")
    for r in stage_conformal(rows).iter_rows(named=True):
        print(f"| {r['group']} | {r['fraction']:.0%} | {r['n']} | {r['stretch']:.2f} | {r['cover90']:.2f} | {r['width90']:.2f} |")
    failures = [r for r in rows if "error" in r]
    print(f"\n{len({r['case'] for r in rows})} incidents, {len(failures)} failed forecasts, {time.perf_counter() - start:.0f} s")
    for r in failures:
        print(f"  failed: {r['case']} at {r['fraction']:.0%}: {r['error']}")
    if args.json:
        args.json.write_text(
            json.dumps({"rows": rows, "summary": table.to_dicts()}, indent=1, default=str) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
