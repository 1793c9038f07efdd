"""Outage incidents drawn by a report process that is *not* the fitter's model, with known truth.

The library's own simulator (:mod:`analysis.simulate`) draws reports from the very intensity
the fitter assumes, λ(t) = A·g(local hour)·S(t − onset), so it can only show that the code
matches its own idea. This module is written from scratch with numpy (it imports nothing from
``analysis.simulate`` or ``analysis.recovery``; only the reference
geography is read, for municipality names and populations) and draws incidents the way they
happen: a population of customers, each restored at a time drawn from a known distribution,
and each still-affected customer reporting as a process of its own.

The estimand is the fitter's: S(t), the share of the affected customers still without service
t minutes after the onset. The truth (t50/t90/t99 of the restoration-time distribution and the
share still out at each announcement) is computed from the distribution itself by bisection on
its survival function, not from the sample.

Customers and restoration
-------------------------
* ``customers`` customers are placed in real Belgian municipalities with probability
  proportional to the municipality's population (``src/analysis/data/geo/municipalities.parquet``),
  optionally restricted to some regions.
* Each draws a restoration time (minutes after the onset) from the scenario's distribution, a
  mixture of components each with an optional delay: Weibull, log-normal, or a log-normal slow
  tail. A regional scenario gives each region its own distribution; the national truth is the
  population-weighted mixture of the regional ones.

The report process (what deliberately differs from λ = A·g·S)
-------------------------------------------------------------
* **Noticing delay**: a customer only starts reporting after noticing the outage, a
  log-normal delay with median 8 min (σ 0.7 on the log scale).
* **Follow-up gaps that are not exponential**: while still out, a customer's calls form a
  renewal process with Gamma(shape 2) gaps (more regular than Poisson: people call back after
  a while, not at random). The first gap after noticing is drawn from the process's
  stationary residual (½ Exp + ½ Gamma(2) for Gamma(2) gaps), so that, averaged over
  customers, the call rate of a still-out customer is constant from the moment they noticed —
  the deviation is in the dependence between reports, not in a built-in bias of the mean rate.
* **Report volume**: the base call rate is set so that the expected number of ordinary
  calls is ``target_reports``.
* **Per-area propensity**: every municipality has a multiplier of the call rate drawn from
  Gamma(shape 2, mean 1) (some places call a lot, some hardly).
* **A diurnal profile that is not the fitter's default**: candidate calls are thinned with
  the probability ``SLEEP_PROFILE[local hour]`` — near zero from 02:00 to 05:00, peaks at
  08–09 and 20–22, a dip in the afternoon. The incidents do not state a profile in
  ``[reporting]`` (a user would not know it), so the fitter uses its own default.
* **Bursts**: a few "social-media posts" (Poisson, mean ``posts``), written at the times of
  randomly chosen ordinary calls (people post when they are angry, i.e. while many are out);
  each makes every still-out customer who has noticed call with the probability of 10
  minutes of their ordinary calls (times their area's multiplier and the clock profile at the
  post), after an Exp(12 min) reaction time, if still out then: a clump of about 10 minutes'
  worth of reports arriving within a quarter of an hour, proportional to the share still
  out (about 5–12% of all reports).
* **Recording delay**: the ticket is logged a log-normal delay (median 3 min, σ 0.8) after
  the call, so a few reports are stamped after the caller's restoration.
* **Stamps**: minute stamps are truncated to the minute (as a logger writes them); 5-minute
  stamps are rounded to the nearest 5 minutes (an agent writing "20:35"): genuine ties.
* **Second short outage** (optional): a few percent of the customers, already restored, lose
  service again the next morning for an Exp(40 min) spell and report through the same process;
  those reports are not part of S(t) of the main incident.
* **Curated press statements** (optional): a few hundred calls are picked at random; 60% are
  published only within a window of the local clock ("shortly after 20:00": the half-hour
  cell; "between 20:00 and 22:00": a 2-hour cell; "Tuesday morning": the 6-hour part of the
  day), the rest to the minute. Statements sharing a cell are one article's list of places.
  The source is marked ``sampling = "curated"``.
* **Quiet days before the onset** (the ``*-quiet`` variants, :data:`QUIET_SCENARIOS`, not in
  :data:`SCENARIOS`): the same incident exported from two days before the onset, with
  background reports of single customers' own short outages, begun at random times and
  reported through the same process (noticing delay, renewal calls, area multiplier, clock
  profile, recording delay), about 3% of the incident's reports a day; they stop at the onset.
* **Feed defects**: a few planted bad rows (no time, unparseable or impossible times) that
  must be rejected, and about 1% of legitimate reports with an unknown or empty place that
  must be kept (unplaced). One export variant is cp1252 with semicolons, French column names
  and day-first times, its encoding and delimiter left for the reader to detect.

The delays are kept modest (medians of minutes) against restoration times of hours, which is
realistic. With a constant call rate per still-out customer modulated by the clock, the
expected report intensity is close to the fitter's assumption; the test is whether the
deviations above (dependence, heterogeneity, a wrong clock profile, bursts, delays, ties,
contamination, defects) leave the estimates and their 90% intervals honest.

Times are written as local naive times in Europe/Brussels, as a user exports them; one
scenario crosses the spring-forward night (last Sunday of March 2025). Incident folders follow
the README: ``incident.toml`` (id, title, timezone, onset, end, an announcement event,
``[[sources]]`` with path, kind, columns) and the CSV, with ``truth.json`` beside them.

Run: ``.venv/bin/python benchmarks/independent.py SCENARIO OUT_DIR [--seed N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from scipy.special import ndtr

MUNICIPALITIES = Path(__file__).resolve().parents[1] / "src" / "analysis" / "data" / "geo" / "municipalities.parquet"
TIMEZONE = "Europe/Brussels"

# Relative chance that a would-be call is made, by local hour: people sleep, call before work
# (08–09) and in the evening (20–22). Deliberately not the fitter's default profile.
SLEEP_PROFILE: tuple[float, ...] = (
    0.25, 0.12, 0.05, 0.03, 0.03, 0.06, 0.20, 0.60, 1.00, 1.00, 0.70, 0.55,
    0.60, 0.50, 0.40, 0.40, 0.45, 0.55, 0.70, 0.85, 1.00, 1.00, 0.90, 0.55,
)  # fmt: skip

NOTICE_MEDIAN_MIN, NOTICE_SIGMA = 8.0, 0.7
RECORD_MEDIAN_MIN, RECORD_SIGMA = 3.0, 0.8
GAP_SHAPE = 2.0
AREA_SHAPE = 2.0
BURST_REACTION_MIN = 12.0
BURST_WORTH_MIN = 10.0
UNKNOWN_PLACES = ("Atlantis", "", "Springfield", "???", "chez moi")


# --------------------------------------------------------------------------- restoration truth


@dataclass(frozen=True)
class Component:
    """One component of a restoration-time distribution (minutes after the onset).

    ``kind`` is ``"weibull"`` (``scale``, ``shape``) or ``"lognormal"`` (``median``,
    ``sigma``); nothing is restored before ``delay``.
    """

    kind: str
    a: float
    b: float
    delay: float = 0.0

    def survival(self, t: np.ndarray) -> np.ndarray:
        """P(T > t) for an array of times in minutes."""
        x = np.clip(np.asarray(t, dtype=float) - self.delay, 0.0, None)
        if self.kind == "weibull":
            return np.exp(-((x / self.a) ** self.b))
        if self.kind == "lognormal":
            with np.errstate(divide="ignore"):
                z = (np.log(x) - math.log(self.a)) / self.b
            return 1.0 - ndtr(z)
        raise ValueError(f"unknown component kind {self.kind!r}")

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` restoration times."""
        if self.kind == "weibull":
            return self.delay + self.a * rng.weibull(self.b, n)
        return self.delay + self.a * np.exp(self.b * rng.standard_normal(n))


@dataclass(frozen=True)
class Restoration:
    """A mixture of :class:`Component` with weights summing to one."""

    components: tuple[tuple[float, Component], ...]

    def survival(self, t: np.ndarray | float) -> np.ndarray:
        """Share still out at ``t`` minutes after the onset."""
        t = np.asarray(t, dtype=float)
        return sum(w * c.survival(t) for w, c in self.components)  # type: ignore[return-value]

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` restoration times: the component by its weight, then its time."""
        w = np.array([w for w, _ in self.components])
        which = rng.choice(len(w), size=n, p=w / w.sum())
        out = np.empty(n)
        for k, (_, c) in enumerate(self.components):
            idx = np.flatnonzero(which == k)
            out[idx] = c.sample(idx.size, rng)
        return out

    def describe(self) -> list[dict[str, float | str]]:
        """The components as JSON-ready dicts."""
        names = {"weibull": ("scale", "shape"), "lognormal": ("median", "sigma")}
        return [
            {"weight": w, "kind": c.kind, names[c.kind][0]: c.a, names[c.kind][1]: c.b, "delay": c.delay}
            for w, c in self.components
        ]


def mixed_survival(parts: list[tuple[float, Restoration]], t: np.ndarray | float) -> np.ndarray:
    """Survival of a population made of parts (weight, distribution), e.g. regions."""
    total = sum(w for w, _ in parts)
    return sum(w / total * r.survival(t) for w, r in parts)  # type: ignore[return-value]


def quantile_minutes(parts: list[tuple[float, Restoration]], p: float, hi: float = 1e7) -> float:
    """Time by which a share ``p`` is restored, i.e. S(t) = 1 − p, by bisection (to 1e-9 min).

    Bisection on the exact survival function, so mixtures, delays and tails are handled alike.
    """
    lo_t, hi_t = 0.0, hi
    target = 1.0 - p
    for _ in range(200):
        mid = 0.5 * (lo_t + hi_t)
        if float(mixed_survival(parts, mid)) > target:
            lo_t = mid
        else:
            hi_t = mid
        if hi_t - lo_t < 1e-9:
            break
    return 0.5 * (lo_t + hi_t)


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    """Everything that defines an independently generated incident.

    ``restoration`` maps a region name (or ``"*"`` for all) to its distribution; the
    customers are placed only in the regions named (all of Belgium for ``"*"``).
    ``target_reports`` is the expected number of legitimate calls before curation.
    ``quiet_days`` > 0 starts the export that many days before the onset, with background
    reports (customers with small outages of their own, calling through the same process) of
    about ``background_share`` × ``target_reports`` a day (:func:`_background`).
    """

    name: str
    title: str
    onset: str
    end: str
    restoration: dict[str, Restoration]
    customers: int
    target_reports: int
    announcement_minutes: float
    stamp_minutes: int = 1
    export: str = "iso"
    posts: float = 4.0
    bad_rows: int = 6
    unknown_place_share: float = 0.01
    second_outage: tuple[float, str] | None = None
    statements: int | None = None
    note: str = ""
    quiet_days: int = 0
    background_share: float = 0.0
    base: str = ""  # a variant draws its base scenario's incident (same seed, same reports)

    @property
    def draw_name(self) -> str:
        """The name that seeds the draw: the base scenario's for a variant."""
        return self.base or self.name


WEIBULL_BULK = Restoration(((1.0, Component("weibull", 150.0, 1.3)),))
DELAYED = Restoration(((1.0, Component("weibull", 110.0, 1.1, delay=45.0)),))
LONGTAIL = Restoration(((0.92, Component("weibull", 80.0, 1.6)), (0.08, Component("lognormal", 840.0, 0.45))))
LOGNORMAL = Restoration(((1.0, Component("lognormal", 200.0, 0.8)),))
PRESS = Restoration(((1.0, Component("weibull", 260.0, 1.2, delay=30.0)),))
REGION_FAST = Restoration(((1.0, Component("weibull", 120.0, 1.3)),))
REGION_SLOW = Restoration(((1.0, Component("weibull", 240.0, 1.3)),))

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "stamped",
            "Independent: Weibull-ish recovery, call-centre tickets stamped to the minute",
            onset="2025-02-11T19:40:00",
            end="2025-02-13T08:00:00",
            restoration={"*": WEIBULL_BULK},
            customers=60_000,
            target_reports=15_000,
            announcement_minutes=240.0,
            note="Weibull(150 min, 1.3); ~15,000 minute-stamped tickets, UTF-8 CSV",
        ),
        Scenario(
            "rounded5",
            "Independent: delayed restoration, tickets rounded to 5 minutes, cp1252 export",
            onset="2025-05-06T07:55:00",
            end="2025-05-07T18:00:00",
            restoration={"*": DELAYED},
            customers=50_000,
            target_reports=10_000,
            announcement_minutes=180.0,
            stamp_minutes=5,
            export="cp1252",
            second_outage=(0.03, "2025-05-07T08:10:00"),
            note="45 min delay then Weibull(110, 1.1); 5-min stamps; cp1252 ';' export; 3% second outage next morning",
        ),
        Scenario(
            "longtail-dst",
            "Independent: fast bulk and an 8% slow tail through the spring-forward night",
            onset="2025-03-29T17:30:00",
            end="2025-03-31T09:00:00",
            restoration={"*": LONGTAIL},
            customers=60_000,
            target_reports=12_000,
            announcement_minutes=300.0,
            note="92% Weibull(80, 1.6) + 8% log-normal tail (median 14 h); crosses 30 March 2025 02:00→03:00",
        ),
        Scenario(
            "sparse",
            "Independent: log-normal recovery, few reports",
            onset="2025-09-16T18:20:00",
            end="2025-09-18T06:00:00",
            restoration={"*": LOGNORMAL},
            customers=12_000,
            target_reports=1_500,
            announcement_minutes=360.0,
            bad_rows=3,
            note="log-normal(median 200 min, σ 0.8); ~1,500 reports",
        ),
        Scenario(
            "curated",
            "Independent: press statements with 'Tuesday morning' windows",
            onset="2025-10-13T20:05:00",
            end="2025-10-15T12:00:00",
            restoration={"*": PRESS},
            customers=30_000,
            target_reports=4_000,
            announcement_minutes=180.0,
            statements=320,
            bad_rows=2,
            note="30 min delay then Weibull(260, 1.2); 320 statements picked from ~4,000 calls, 60% windowed",
        ),
        Scenario(
            "regional",
            "Independent: Wallonia restored twice as slowly as Flanders",
            onset="2025-01-21T19:10:00",
            end="2025-01-23T09:00:00",
            restoration={"Flanders": REGION_FAST, "Wallonia": REGION_SLOW},
            customers=80_000,
            target_reports=12_000,
            announcement_minutes=240.0,
            note="Flanders Weibull(120, 1.3), Wallonia Weibull(240, 1.3); ≥ 3,000 reports per region",
        ),
        Scenario(
            "regional-equal",
            "Independent: Flanders and Wallonia restored alike",
            onset="2025-01-21T19:10:00",
            end="2025-01-23T09:00:00",
            restoration={"Flanders": REGION_FAST, "Wallonia": REGION_FAST},
            customers=80_000,
            target_reports=11_000,
            announcement_minutes=240.0,
            note="both regions Weibull(120, 1.3); ≥ 3,000 reports per region",
        ),
    )
}


def _with_quiet_period(sc: Scenario, days: int = 2, share: float = 0.03) -> Scenario:
    """``sc`` exported from ``days`` days before the onset, with background reports (a baseline of the same people)."""
    return replace(
        sc,
        name=f"{sc.name}-quiet",
        base=sc.name,
        title=sc.title + ", with the two quiet days before it",
        quiet_days=days,
        background_share=share,
        note=sc.note + f"; export from {days} days before the onset, background ≈ {share:.0%} of the reports a day",
    )


# variants whose export starts before the onset: the background reports of the days before
# carry the population's own clock profile (not in SCENARIOS, so the default runs are unchanged)
QUIET_SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (_with_quiet_period(SCENARIOS[n]) for n in ("rounded5", "longtail-dst", "stamped"))
}
ALL_SCENARIOS: dict[str, Scenario] = {**SCENARIOS, **QUIET_SCENARIOS}


# --------------------------------------------------------------------------- clock


@dataclass(frozen=True)
class Clock:
    """Minutes after the onset ↔ local naive time, across DST changes."""

    onset_utc: dt.datetime
    horizon: float
    offsets: np.ndarray  # local − UTC offset (minutes) of each UTC hour after the onset

    @classmethod
    def build(cls, onset: str, end: str, tz: str = TIMEZONE) -> Clock:
        """From local naive onset and end (ISO text)."""
        zone = ZoneInfo(tz)
        on = dt.datetime.fromisoformat(onset).replace(tzinfo=zone).astimezone(dt.UTC)
        en = dt.datetime.fromisoformat(end).replace(tzinfo=zone).astimezone(dt.UTC)
        horizon = (en - on).total_seconds() / 60.0
        hours = math.ceil(horizon / 60.0) + 4
        base = on.replace(minute=0, second=0, microsecond=0)
        offsets = np.array(
            [(base + dt.timedelta(hours=h)).astimezone(zone).utcoffset().total_seconds() / 60.0 for h in range(hours)]  # type: ignore[union-attr]
        )
        return cls(on, horizon, offsets)

    def _offset(self, t: np.ndarray) -> np.ndarray:
        base = self.onset_utc.replace(minute=0, second=0, microsecond=0)
        lead = (self.onset_utc - base).total_seconds() / 60.0
        idx = np.clip(((np.asarray(t) + lead) // 60).astype(int), 0, self.offsets.size - 1)
        return self.offsets[idx]

    def local_minutes_of_day(self, t: np.ndarray) -> np.ndarray:
        """Minutes since local midnight at ``t`` minutes after the onset."""
        utc_min = self.onset_utc.hour * 60 + self.onset_utc.minute + self.onset_utc.second / 60.0
        return np.mod(utc_min + np.asarray(t) + self._offset(t), 1440.0)

    def local_hour(self, t: np.ndarray) -> np.ndarray:
        """Local clock hour (0..23) at ``t`` minutes after the onset."""
        return (self.local_minutes_of_day(t) // 60).astype(int)

    def local_naive(self, t: np.ndarray) -> np.ndarray:
        """Local naive datetime64[s] at ``t`` minutes after the onset."""
        start = np.datetime64(self.onset_utc.replace(tzinfo=None), "s")
        secs = np.round((np.asarray(t) + self._offset(t)) * 60.0).astype("int64")
        return start + secs.astype("timedelta64[s]")

    def minutes_of_local(self, local: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`local_naive` (for times not in a repeated hour)."""
        start = np.datetime64(self.onset_utc.replace(tzinfo=None), "s")
        raw = (np.asarray(local, dtype="datetime64[s]") - start).astype("int64") / 60.0
        return raw - self._offset(raw - self._offset(raw))


def _profile(clock: Clock, t: np.ndarray) -> np.ndarray:
    return np.asarray(SLEEP_PROFILE)[clock.local_hour(t)]


def _cumulative_profile(clock: Clock) -> tuple[np.ndarray, np.ndarray]:
    grid = np.arange(0.0, clock.horizon + 1.0, 1.0)
    g = _profile(clock, grid[:-1] + 0.5)
    return grid, np.concatenate([[0.0], np.cumsum(g)])


# --------------------------------------------------------------------------- the report process


def _municipalities(regions: list[str] | None) -> pl.DataFrame:
    m = pl.read_parquet(MUNICIPALITIES, columns=["name", "region", "population"])
    if regions is not None:
        m = m.filter(pl.col("region").is_in(regions))
    return m.filter(pl.col("population") > 0)


def _renewal_calls(
    start: np.ndarray, stop: np.ndarray, rate: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Stationary Gamma(2) renewal calls in [start, stop) per customer at ``rate`` per minute.

    Returns (customer index, call time). The first gap is the stationary residual of the
    gap distribution, so each customer's mean call rate is ``rate`` from ``start`` on.
    """
    theta = 1.0 / (GAP_SHAPE * rate)
    first_exp = rng.random(start.size) < 0.5
    gap0 = np.where(first_exp, rng.exponential(theta), rng.gamma(GAP_SHAPE, theta))
    t = start + gap0
    who_all, when_all = [], []
    alive = np.flatnonzero(t < stop)
    t = t[alive]
    while alive.size:
        who_all.append(alive)
        when_all.append(t)
        t = t + rng.gamma(GAP_SHAPE, theta[alive])
        keep = t < stop[alive]
        alive, t = alive[keep], t[keep]
    if not who_all:
        return np.empty(0, dtype=int), np.empty(0)
    return np.concatenate(who_all), np.concatenate(when_all)


def _background(
    scenario: Scenario, clock: Clock, rate: float, mult: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Background reports of the quiet days before the onset: (customer index, call time in minutes).

    Small outages of single customers begin uniformly in time over the ``quiet_days`` before
    the onset and last Exp(60 min); each customer notices and calls as in the incident (same
    noticing delay, Gamma(2) renewal calls at the incident's rate times their area's
    multiplier ``mult``, thinned by the clock profile). Calls stop at the onset: what follows
    is the incident's (this variant has no background after it). The expected number is
    about ``background_share`` × ``target_reports`` a day.
    """
    span = 1440.0 * scenario.quiet_days
    probe = NOTICE_MEDIAN_MIN * np.exp(NOTICE_SIGMA * rng.standard_normal(4096))
    per_outage = rate * float(np.mean(SLEEP_PROFILE)) * 60.0 * float(np.mean(np.exp(-probe / 60.0)))
    n_out = int(rng.poisson(scenario.background_share * scenario.target_reports * scenario.quiet_days / per_outage))
    who = rng.integers(0, mult.size, n_out)  # customers of the incident's population, with their areas' multipliers
    begin = -span + span * rng.random(n_out)
    start = begin + NOTICE_MEDIAN_MIN * np.exp(NOTICE_SIGMA * rng.standard_normal(n_out))
    stop = np.minimum(begin + rng.exponential(60.0, n_out), 0.0)
    w, t = _renewal_calls(start, np.maximum(stop, start), rate * mult[who], rng)
    keep = rng.random(t.size) < _profile(clock, t)
    return who[w[keep]], t[keep]


@dataclass
class Drawn:
    """One drawn incident before it is written: reports, planted defects, truth."""

    times: np.ndarray  # minutes after onset (recorded, before stamping)
    places: list[str]
    kinds: np.ndarray  # "main", "burst", "second"
    truth: dict


def draw(scenario: Scenario, seed: int) -> Drawn:
    """Draw the customers, their restorations and their calls (all in minutes after the onset)."""
    rng = np.random.default_rng([seed, sum(map(ord, scenario.draw_name))])
    clock = Clock.build(scenario.onset, scenario.end)
    horizon = clock.horizon
    regions = None if "*" in scenario.restoration else list(scenario.restoration)
    mun = _municipalities(regions)
    pop = mun["population"].to_numpy().astype(float)
    n = scenario.customers
    where = rng.choice(mun.height, size=n, p=pop / pop.sum())
    region_of = mun["region"].to_numpy()[where]
    restored = np.empty(n)
    parts: list[tuple[float, Restoration]] = []
    for reg, dist in scenario.restoration.items():
        idx = np.arange(n) if reg == "*" else np.flatnonzero(region_of == reg)
        restored[idx] = dist.sample(idx.size, rng)
        share = 1.0 if reg == "*" else float(pop[mun["region"].to_numpy() == reg].sum() / pop.sum())
        parts.append((share, dist))
    area_mult = rng.gamma(AREA_SHAPE, 1.0 / AREA_SHAPE, mun.height)
    mult = area_mult[where]
    notice = NOTICE_MEDIAN_MIN * np.exp(NOTICE_SIGMA * rng.standard_normal(n))
    stop = np.minimum(restored, horizon)

    # base call rate so that the expected number of calls (after clock thinning) is the target
    grid, cum_g = _cumulative_profile(clock)
    exposure = np.clip(np.interp(stop, grid, cum_g) - np.interp(np.minimum(notice, stop), grid, cum_g), 0.0, None)
    rate = scenario.target_reports / float((mult * exposure).sum())
    # a post is worth BURST_WORTH_MIN minutes of a still-out customer's ordinary calls
    burst_p = rate * BURST_WORTH_MIN
    who, when = _renewal_calls(notice, stop, rate * mult, rng)
    keep = rng.random(when.size) < _profile(clock, when)
    who, when = who[keep], when[keep]
    # posts are written by people who call: their times are those of random ordinary calls
    n_posts = min(int(rng.poisson(scenario.posts)), when.size)
    posts = np.sort(rng.choice(when, size=n_posts, replace=False)) if n_posts else np.empty(0)
    out_at_post = [(notice < p) & (restored > p) for p in posts]
    kinds = [np.full(who.size, "main")]
    whos, whens = [who], [when]
    for p, o in zip(posts, out_at_post, strict=True):
        cand = np.flatnonzero(o)
        hit = cand[rng.random(cand.size) < np.clip(burst_p * mult[cand] * _profile(clock, np.array([p]))[0], 0, 1)]
        t_b = p + rng.exponential(BURST_REACTION_MIN, hit.size)
        ok = t_b < stop[hit]
        whos.append(hit[ok])
        whens.append(t_b[ok])
        kinds.append(np.full(int(ok.sum()), "burst"))
    n_second = 0
    if scenario.second_outage is not None:
        share, start_local = scenario.second_outage
        start2 = float(clock.minutes_of_local(np.array([np.datetime64(start_local, "s")]))[0])
        cand = np.flatnonzero(restored < start2)
        hit = rng.choice(cand, size=round(share * n), replace=False)
        notice2 = start2 + NOTICE_MEDIAN_MIN * np.exp(NOTICE_SIGMA * rng.standard_normal(hit.size))
        stop2 = np.minimum(start2 + rng.exponential(40.0, hit.size), horizon)
        w2, t2 = _renewal_calls(notice2, np.maximum(stop2, notice2), rate * mult[hit], rng)
        keep2 = rng.random(t2.size) < _profile(clock, t2)
        whos.append(hit[w2[keep2]])
        whens.append(t2[keep2])
        kinds.append(np.full(int(keep2.sum()), "second"))
        n_second = int(keep2.sum())
    if scenario.quiet_days > 0:
        # its own generator, so that the incident itself is the base scenario's draw
        bg_rng = np.random.default_rng([seed, 11, sum(map(ord, scenario.name))])
        w_bg, t_bg = _background(scenario, clock, rate, mult, bg_rng)
        whos.append(w_bg)
        whens.append(t_bg)
        kinds.append(np.full(w_bg.size, "background"))
    who = np.concatenate(whos)
    when = np.concatenate(whens) + RECORD_MEDIAN_MIN * np.exp(RECORD_SIGMA * rng.standard_normal(sum(w.size for w in whos)))
    kind = np.concatenate(kinds)
    names = mun["name"].to_numpy()[where[who]]
    order = np.argsort(when, kind="stable")
    when, kind, names = when[order], kind[order], names[order]

    truth = {
        "t50_minutes": quantile_minutes(parts, 0.5),
        "t90_minutes": quantile_minutes(parts, 0.9),
        "t99_minutes": quantile_minutes(parts, 0.99),
        "announcements": [
            {
                "minutes_after_onset": scenario.announcement_minutes,
                "still_out": float(mixed_survival(parts, scenario.announcement_minutes)),
            }
        ],
        "regions": (
            {}
            if regions is None
            else {
                reg: {
                    "population_share": share,
                    "t50_minutes": quantile_minutes([(1.0, d)], 0.5),
                    "t90_minutes": quantile_minutes([(1.0, d)], 0.9),
                }
                for (share, d), reg in zip(parts, scenario.restoration, strict=True)
            }
        ),
        "regions_differ": regions is not None and len({id(d) for d in scenario.restoration.values()}) > 1,
        "restoration": {reg: d.describe() for reg, d in scenario.restoration.items()},
        "horizon_minutes": horizon,
        "report_process": {
            "calls_per_still_out_customer_per_hour_at_peak": rate * 60.0,
            "posts_minutes": posts.tolist(),
            "burst_probability": burst_p,
            "second_outage_reports": n_second,
        },
        "sample": {
            "customers": n,
            "t50_minutes_empirical": float(np.quantile(restored, 0.5)),
            "still_out_at_end": float(np.mean(restored > horizon)),
        },
    }
    return Drawn(when, list(names), kind, truth)


# --------------------------------------------------------------------------- writing


def _stamp(clock: Clock, times: np.ndarray, minutes: int) -> np.ndarray:
    local = clock.local_naive(times).astype("datetime64[s]").astype("int64")
    step = 60 * minutes
    # a logger truncates to the minute; an agent rounds to the nearest 5 minutes
    stamped = (local // step) * step if minutes == 1 else np.round(local / step).astype("int64") * step
    return stamped.astype("datetime64[s]")


def _curate(
    clock: Clock, times: np.ndarray, places: list[str], n: int, rng: np.random.Generator
) -> tuple[list[str | None], list[str | None], list[str | None], list[str]]:
    """Pick ``n`` statements; 60% become windows of the local clock (30 min, 2 h or 6 h cells)."""
    pick = np.sort(rng.choice(times.size, size=min(n, times.size), replace=False))
    at: list[str | None] = []
    frm: list[str | None] = []
    until: list[str | None] = []
    out_places = []
    minute_of_day = clock.local_minutes_of_day(times[pick])
    stamps = _stamp(clock, times[pick], 1)
    onset_local = clock.local_naive(np.array([0.0]))[0]
    end_local = clock.local_naive(np.array([clock.horizon]))[0]
    fmt = "%Y-%m-%d %H:%M"
    for k, i in enumerate(pick):
        out_places.append(places[i])
        if rng.random() < 0.4:
            at.append(stamps[k].astype(dt.datetime).strftime(fmt))
            frm.append(None)
            until.append(None)
            continue
        width = int(rng.choice([30, 120, 360], p=[0.2, 0.3, 0.5]))
        cell0 = stamps[k] - np.timedelta64(round(minute_of_day[k] % width * 60), "s")
        a = max(cell0.astype("datetime64[m]"), onset_local.astype("datetime64[m]"))
        b = min((cell0 + np.timedelta64(width, "m")).astype("datetime64[m]"), end_local.astype("datetime64[m]"))
        at.append(None)
        frm.append(a.astype(dt.datetime).strftime(fmt))
        until.append(b.astype(dt.datetime).strftime(fmt))
    return at, frm, until, out_places


def write_incident(name: str, out: Path | str, seed: int = 0, *, state_profile: bool = False) -> dict:
    """Draw scenario ``name`` with ``seed`` and write its incident folder; return the truth.

    The folder holds ``incident.toml`` and the source CSV exactly as the README describes,
    and ``truth.json`` (not read by the fitter) with the true quantiles, the share still out
    at the announcement, and the planted counts: rows written, bad rows, legitimate rows,
    unknown places.
    """
    sc = ALL_SCENARIOS[name]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 7, sum(map(ord, sc.draw_name))])
    clock = Clock.build(sc.onset, sc.end)
    drawn = draw(sc, seed)
    inside = drawn.times < clock.horizon  # the export stops at the end of observation
    times = drawn.times[inside]
    places = [p for p, k in zip(drawn.places, inside, strict=True) if k]
    kinds = drawn.kinds[inside]
    if sc.statements:
        at, frm, until, places = _curate(clock, times, places, sc.statements, rng)
        n_legit = len(places)
        n_windowed = sum(x is not None for x in frm)
    else:
        stamps = _stamp(clock, times, sc.stamp_minutes)
        # a 5-minute stamp rounded past the end of the export is not in it
        end_local = clock.local_naive(np.array([clock.horizon]))[0]
        ok = stamps <= end_local
        stamps, places = stamps[ok], [p for p, k in zip(places, ok, strict=True) if k]
        kinds = kinds[ok]
        fmt = "%d/%m/%Y %H:%M" if sc.export == "cp1252" else "%Y-%m-%d %H:%M"
        at = [s.astype(dt.datetime).strftime(fmt) for s in stamps]
        frm = until = [None] * len(at)
        n_legit = len(at)
        n_windowed = 0
    unknown = rng.random(n_legit) < sc.unknown_place_share
    places = [str(rng.choice(UNKNOWN_PLACES)) if u else p for p, u in zip(places, unknown, strict=True)]
    ids = [f"T{k + 1:06d}" for k in range(n_legit)]
    comments = rng.choice(["", "", "", "TV down", "plus de télé", "geen internet", "still nothing"], n_legit).tolist()
    bad_times = ["", "??", "2025-02-30 25:61", "unknown", "tomorrow", "99/99/2025 99:99"]
    rows = list(zip(ids, at, frm, until, places, comments, strict=True))
    bad_at = rng.choice(len(rows) + 1, size=sc.bad_rows, replace=True)
    for j, pos in enumerate(sorted(bad_at.tolist(), reverse=True)):
        rows.insert(int(pos), (f"X{j + 1:04d}", bad_times[j % len(bad_times)], None, None, "Gent", "test row"))
    if sc.statements:
        table = pl.DataFrame(
            rows, schema=["report_id", "reported_at", "reported_from", "reported_until", "place", "text"], orient="row"
        )
        columns = {
            "report_id": "report_id",
            "reported_at": "reported_at",
            "reported_from": "reported_from",
            "reported_until": "reported_until",
            "place": "place",
            "text": "text",
        }
    else:
        table = pl.DataFrame([(r[0], r[1], r[4], r[5]) for r in rows], schema=["id", "time", "place", "comment"], orient="row")
        columns = {"report_id": "id", "reported_at": "time", "place": "place", "text": "comment"}
    if sc.export == "cp1252":
        fr = {"id": "ticket", "time": "ouverture", "place": "commune", "comment": "remarque"}
        table = table.rename(fr)
        columns = {k: fr[v] for k, v in columns.items()}
        text = table.write_csv(separator=";", null_value="")
        (out / "tickets.csv").write_bytes(text.encode("cp1252", errors="replace"))
        source_file = "tickets.csv"
    else:
        source_file = "statements.csv" if sc.statements else "tickets.csv"
        table.write_csv(out / source_file, null_value="")

    announce_local = clock.local_naive(np.array([sc.announcement_minutes]))[0].astype(dt.datetime)
    lines = [
        f"# Independently generated incident: scenario '{name}', seed {seed} (benchmarks/independent.py).",
        "# The truth is in truth.json beside this file; the fitter does not read it.",
        "",
        f'id = "{out.name}"',
        f'title = "{sc.title}"',
        f'timezone = "{TIMEZONE}"',
        f'onset = "{sc.onset}"',
        f'end = "{sc.end}"',
        f"affected_customers = {sc.customers}",
        "",
    ]
    if state_profile:
        lines += ["[reporting]", f"hourly_propensity = [{', '.join(map(str, SLEEP_PROFILE))}]", ""]
    lines += [
        "[[events]]",
        f'time = "{announce_local.strftime("%Y-%m-%dT%H:%M:%S")}"',
        'label = "Operator declares the outage resolved"',
        'kind = "announcement"',
        "resolved = true",
        "",
        "[[sources]]",
        f'path = "{source_file}"',
        'kind = "down_reports"',
        f'name = "{"press" if sc.statements else "callcentre"}"',
    ]
    if sc.statements:
        lines += ['sampling = "curated"', 'time_format = "%Y-%m-%d %H:%M"', 'delimiter = ","']
    elif sc.export == "cp1252":
        lines += ['time_format = "%d/%m/%Y %H:%M"']
    else:
        lines += ['time_format = "%Y-%m-%d %H:%M"']
    lines += ["", "[sources.columns]"] + [f'{k} = "{v}"' for k, v in columns.items()]
    (out / "incident.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    truth = {
        "generator": "benchmarks.independent",
        "scenario": name,
        "seed": seed,
        "note": sc.note,
        "timezone": TIMEZONE,
        "onset": sc.onset,
        "end": sc.end,
        **drawn.truth,
        "counts": {
            "rows": n_legit + sc.bad_rows,
            "bad_rows": sc.bad_rows,
            "legitimate_rows": n_legit,
            "windowed_rows": n_windowed,
            "unknown_places": int(unknown.sum()),
            "burst_reports": int((kinds == "burst").sum()) if not sc.statements else None,
            "second_outage_reports": int((kinds == "second").sum()) if not sc.statements else None,
            "background_reports": int((kinds == "background").sum()) if not sc.statements else None,
        },
    }
    truth["announcements"][0]["time"] = announce_local.strftime("%Y-%m-%dT%H:%M:%S")
    (out / "truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return truth


def main() -> None:
    """Write one incident folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(ALL_SCENARIOS))
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--state-profile", action="store_true", help="write the true clock profile into [reporting]")
    args = parser.parse_args()
    truth = write_incident(args.scenario, args.out, args.seed, state_profile=args.state_profile)
    print(json.dumps({k: truth[k] for k in ("t50_minutes", "t90_minutes", "t99_minutes", "counts")}, indent=2))


if __name__ == "__main__":
    main()
