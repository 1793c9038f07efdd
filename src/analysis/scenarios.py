"""Named synthetic incidents with known truth, written as complete incident folders.

A scenario is a generative story told with the seeded core of :mod:`analysis.simulate`:

1. ``n_affected`` customers are spread over the 565 municipalities in proportion to their
   population (times a per-province attack weight, or a user exposure table);
2. each region has its recovery curve S_r(t) (a family from :mod:`analysis.recovery`,
   with a delay and optionally a slow tail), and each affected customer's restoration
   time is drawn from it;
3. every still-affected customer reports at a rate proportional to the clock-hour
   propensity g, so region r's reports form an inhomogeneous Poisson process of intensity
   a·n_r·g(clock(t))·S_r(t). The number of reports is fixed exactly: the regions' counts
   are multinomial and, within a region, the times are a uniformly chosen subset of a
   thinned Poisson process drawn slightly larger (the points of a Poisson process given
   their number are i.i.d. with density ∝ λ, and so is any random subset of them);
4. each report names its municipality as people write it — the French or Dutch (or
   German) name, a section or village, a postal code with or without the name, GPS
   coordinates — and noise is added on request: case and accent variants, typos, missing
   places, reports known only within a time window, double posts (a report's row sent
   twice, with the same report id: ingest's identity rule rejects the copy) and rows with
   an unreadable time.

The folder holds ``incident.toml`` (``simulated = true``), the source file and
``truth.json``: the true S(t) quantiles, tail fraction, mean outage, S at each announcement,
per-region truth, every count needed to reconcile ingest, the parameters and the seed.
``truth_reports.parquet`` keeps, per report, the true time, municipality and how its place
was written (for checking the geocoder). Everything is a deterministic function of the
scenario, the size and the seed: the same call writes byte-identical files.

Times are minutes after onset inside the generator and local wall-clock time in the files
(as exports from an outage tracker are); the onset and end are local times of the scenario.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from analysis.errors import ParameterError
from analysis.simulate import family_theta, report_times, restoration_records, restoration_times
from analysis.vocab import EventKind, SourceKind

__all__ = [
    "SCENARIOS",
    "Noise",
    "Scenario",
    "SimulatedIncident",
    "exact_report_times",
    "get_scenario",
    "scenario_names",
    "simulate_incident",
    "true_survival",
    "write_incident",
    "write_scenario",
]


#: Place forms a report may use, in the order of the ``form`` code in ``truth_reports.parquet``.
PLACE_FORMS: tuple[str, ...] = ("name", "section", "postal_code", "coordinates", "missing")
#: Spelling variants, in the order of the ``variant`` code (typos follow as 4, 5, …).
VARIANTS: tuple[str, ...] = ("as_listed", "lower_case", "upper_case", "no_accents")

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Values an export holds where a time should be and that no time format reads: a missing
# value, an impossible day or hour, words, spreadsheet errors.
BAD_TIMES: tuple[str, ...] = (
    "",
    "2018-01-32 20:15:00",
    "2018-01-08 25:10:00",
    "20h61",
    "hier soir",
    "gisteravond",
    "??",
    "#VALUE!",
    "0000-00-00 00:00:00",
    "lundi vers 20h",
)
SERVICES: tuple[tuple[str, float], ...] = (("TV", 0.55), ("tv", 0.2), ("télé", 0.1), ("televisie", 0.1), ("decoder", 0.05))
COMMENTS: tuple[tuple[str | None, float], ...] = (
    (None, 0.72),
    ("Plus de télé depuis 20h", 0.05),
    ("Geen tv meer", 0.05),
    ("Toujours en panne", 0.04),
    ("Decoder herstart, niets", 0.03),
    ("écran noir sur toutes les chaînes", 0.03),
    ("Nog steeds geen beeld", 0.03),
    ("Seulement quelques chaînes", 0.02),
    ("TV werkt weer even, dan weer weg", 0.02),
    ("Internet ok mais pas la télé", 0.01),
)


# --------------------------------------------------------------------------- definitions


@dataclass(frozen=True)
class Noise:
    """What goes wrong in a real export, as rates per genuine report (0 switches a defect off).

    Parameters
    ----------
    case_rate
        Share of written place names in lower case, upper case or without accents (a third
        each). Not an error, just how people type.
    typo_rate
        Share of written place names with one typo (a letter dropped, doubled, swapped with
        its neighbour or replaced). Each name has at most ``typo_variants`` different typos,
        as real misspellings repeat.
    missing_place_rate
        Share of reports with no place at all.
    window_fraction, window_widths
        Share of reports known only within a time window, and the window widths (minutes)
        drawn from: the window is the cell of the local clock of that width holding the
        true time ("between 21:00 and 22:00", "Tuesday 06:00–12:00").
    duplicate_rate
        Extra rows that repeat a report exactly, its id included (a double submission), per
        report. The export's id column (a tracker's report id; a decoder's device id for
        telemetry) is what identifies them as copies: identical rows without a shared id
        would be other customers.
    bad_row_rate
        Extra rows whose time no format can read, per report.
    """

    case_rate: float = 0.15
    typo_rate: float = 0.03
    typo_variants: int = 3
    missing_place_rate: float = 0.03
    window_fraction: float = 0.02
    window_widths: tuple[float, ...] = (30.0, 60.0, 180.0, 360.0)
    duplicate_rate: float = 0.01
    bad_row_rate: float = 0.005

    def __post_init__(self) -> None:
        for name in ("case_rate", "typo_rate", "missing_place_rate", "window_fraction", "duplicate_rate", "bad_row_rate"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and 0 <= v <= 1):
                raise ParameterError(f"Noise.{name}: expected a rate in [0, 1], got {v!r}")
        if not (isinstance(self.typo_variants, int) and 1 <= self.typo_variants <= 60):
            raise ParameterError(f"Noise.typo_variants: expected an integer from 1 to 60, got {self.typo_variants!r}")
        if not self.window_widths or any(not (w > 0 and math.isfinite(w)) for w in self.window_widths):
            raise ParameterError(f"Noise.window_widths: expected positive minutes, got {self.window_widths!r}")

    @classmethod
    def none(cls) -> Noise:
        """A clean export: every place written as listed, no defect."""
        return cls(
            case_rate=0.0,
            typo_rate=0.0,
            missing_place_rate=0.0,
            window_fraction=0.0,
            duplicate_rate=0.0,
            bad_row_rate=0.0,
        )


@dataclass(frozen=True)
class Scenario:
    """A synthetic incident: when, how S(t) looks per region, how many report and how.

    ``params`` are the recovery family's parameters by name (minutes for scales); a
    ``region_params`` entry overrides some of them (and ``delay``) for one region
    ("Flanders", "Wallonia", "Brussels"). ``attack_weights`` multiply the population of a
    province (or of the Brussels region, which has none) to give the expected share of
    affected customers. ``events`` are (local time, label, kind, declares-resolved).
    """

    name: str
    title: str
    description: str
    kind: SourceKind = "down_reports"
    family: str = "mixture"
    params: Mapping[str, float] = field(default_factory=dict)
    delay: float = 0.0
    region_params: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    attack_weights: Mapping[str, float] = field(default_factory=dict)
    n_affected: int = 40_000
    n_reports: int = 5_400
    propensity: tuple[float, ...] | None = None
    declare_propensity: bool = False
    timezone: str = "Europe/Brussels"
    onset: str = "2018-01-08T20:00:00"
    end: str = "2018-01-10T12:00:00"
    origin: tuple[str, float, float] = ("Evere datacenter (simulated)", 50.87, 4.40)
    events: tuple[tuple[str, str, EventKind, bool], ...] = ()
    form_weights: Mapping[str, float] = field(
        default_factory=lambda: {"name": 0.58, "section": 0.22, "postal_code": 0.14, "coordinates": 0.06}
    )
    noise: Noise = field(default_factory=Noise)
    inspection_minutes: float = 15.0
    interval_fraction: float = 0.3


# proximus-2018, from the fact sheet (times local, minutes after the 20:00 onset):
# - delay 75: service "gradually restored nationwide from 21:15" (S1, S5, S7, S11; S4, S14: outage 20:00–21:15);
# - bulk Weibull λ = 15 min, ρ = 0.7 after the delay: a quick start then a spread-out restoration, so that
#   60 % are back at 21:30 ("lasted 1h30", S1, S16, S17: most customers), 84 % at 22:00 ("about two hours",
#   S3) and 91 % when "resolved" is declared shortly after 22:30 (S2): 9 % still out at that moment;
#   t50 ≈ 21:25, t90 ≈ 22:22;
# - slow tail: 5 % of customers (the "reduced number" still affected on Tuesday morning, S2) restored after
#   an exponential wait of mean 10 h: 1.5 % still out at 09:00 on Tuesday, 0.5 % at 21:00 when reports were
#   still arriving (S2), 0.1 % on Wednesday morning (S10: 16 reports left); t99 falls on Tuesday about
#   13:20, the "early afternoon" by which all technical problems were said to be resolved (S14);
# - 40,000 affected customers ("tens of thousands", S5, S8), weighted towards Antwerp, East and West
#   Flanders (hardest hit, S3) and away from Brussels and Flemish Brabant (a minority kept service, S2),
#   Wallonia in between ("almost all Flanders plus part of Wallonia", S8);
# - 5,400 reports: the busiest 15 minutes then hold about 740, the order of allestoringen.be's peak of 739
#   (S10; that peak came on Tuesday morning with the separate instability, so only its order is used).
_PROXIMUS_PARAMS = MappingProxyType({"lambda": 15.0, "rho": 0.7, "tail_fraction": 0.05, "tail_scale": 600.0})
_PROXIMUS_EVENTS: tuple[tuple[str, str, EventKind, bool], ...] = (
    ("2018-01-08T20:00:00", "Onset of the simulated outage (as on 8 January 2018)", "incident", False),
    ("2018-01-08T21:15:00", "Restoration starts (the simulated delay, as announced on 8 January 2018)", "action", False),
    (
        "2018-01-08T22:30:00",
        "Operator declares the outage resolved (as shortly after 22:30 on 8 January 2018)",
        "announcement",
        True,
    ),
)
# Press (S3, S8): Antwerp, East and West Flanders hardest hit, "almost all Flanders plus part
# of Wallonia"; (S2) a minority in Brussels and Flemish Brabant kept service.
_PROXIMUS_ATTACK = MappingProxyType(
    {
        "Antwerp": 1.0,
        "East Flanders": 1.0,
        "West Flanders": 1.0,
        "Limburg": 0.85,
        "Flemish Brabant": 0.6,
        "Brussels": 0.6,
        "Walloon Brabant": 0.55,
        "Hainaut": 0.55,
        "Liège": 0.55,
        "Luxembourg": 0.55,
        "Namur": 0.55,
    }
)
_DESCRIPTION = (
    "Synthetic reports generated by analysis.scenarios (scenario '{name}'), calibrated to the press facts of the "
    "Proximus TV outage of 8 January 2018. Not real data: the true recovery curve is in truth.json."
)

SCENARIOS: Mapping[str, Scenario] = MappingProxyType(
    {
        "proximus-2018": Scenario(
            name="proximus-2018",
            title="Simulated: Proximus TV outage of 8 January 2018 (scenario proximus-2018)",
            description=_DESCRIPTION.format(name="proximus-2018"),
            params=_PROXIMUS_PARAMS,
            delay=75.0,
            attack_weights=_PROXIMUS_ATTACK,
            events=_PROXIMUS_EVENTS,
        ),
        "regional": Scenario(
            name="regional",
            title="Simulated: outage restored more slowly in Wallonia (scenario regional)",
            description=_DESCRIPTION.format(name="regional")
            + " Wallonia's customers wait three times longer for the bulk restoration and twice as often end in the slow tail.",
            params=_PROXIMUS_PARAMS,
            delay=75.0,
            region_params=MappingProxyType({"Wallonia": MappingProxyType({"lambda": 45.0, "tail_fraction": 0.10})}),
            attack_weights=_PROXIMUS_ATTACK,
            events=_PROXIMUS_EVENTS,
        ),
        "flat": Scenario(
            name="flat",
            title="Simulated: outage with no daily reporting rhythm (scenario flat)",
            description=_DESCRIPTION.format(name="flat")
            + " Reporting propensity is the same at every hour (declared in [reporting]).",
            params=_PROXIMUS_PARAMS,
            delay=75.0,
            attack_weights=_PROXIMUS_ATTACK,
            propensity=(1.0,) * 24,
            declare_propensity=True,
            events=_PROXIMUS_EVENTS,
        ),
        "telemetry": Scenario(
            name="telemetry",
            title="Simulated: decoder telemetry of the 8 January 2018 outage (scenario telemetry)",
            description=_DESCRIPTION.format(name="telemetry")
            + " One row per affected decoder: the time it came back, a polling window, or still down at the end.",
            kind="restorations",
            params=_PROXIMUS_PARAMS,
            delay=75.0,
            attack_weights=_PROXIMUS_ATTACK,
            n_affected=20_000,
            n_reports=20_000,
            events=_PROXIMUS_EVENTS,
            noise=Noise(missing_place_rate=0.02, duplicate_rate=0.005, bad_row_rate=0.002),
        ),
    }
)


def scenario_names() -> tuple[str, ...]:
    """Names of the built-in scenarios."""
    return tuple(SCENARIOS)


def get_scenario(name: str | Scenario) -> Scenario:
    """The built-in scenario called ``name`` (a :class:`Scenario` is returned as is)."""
    if isinstance(name, Scenario):
        return name
    if name not in SCENARIOS:
        raise ParameterError(f"scenario: unknown name {name!r}; choose from {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


# --------------------------------------------------------------------------- truth


def _region_theta(sc: Scenario, region: str) -> tuple[Any, np.ndarray, dict[str, float]]:
    over = dict(sc.region_params.get(region, {}))
    delay = float(over.pop("delay", sc.delay))
    params = {k.rstrip("_"): float(v) for k, v in sc.params.items()} | {k.rstrip("_"): float(v) for k, v in over.items()}
    fam, theta = family_theta(sc.family, params, delay=delay)
    return fam, theta, params | {"delay": delay}


def true_survival(t: np.ndarray, components: Sequence[tuple[Any, np.ndarray, float]]) -> np.ndarray:
    """S(t) of a population made of groups: Σ w_g·S_g(t) for ``(family, theta, weight)`` triples.

    The national curve of a scenario whose regions recover differently is this mixture,
    weighted by each region's share of the affected customers.
    """
    t = np.asarray(t, dtype=float)
    total = sum(w for _, _, w in components)
    return sum(w / total * fam.sf(t, th) for fam, th, w in components)  # type: ignore[return-value]


def _quantiles(components: Sequence[tuple[Any, np.ndarray, float]], ps: Sequence[float]) -> list[float]:
    """Minutes by which a fraction p is restored, S(t) = 1 − p, by bisection on each p."""
    if len(components) == 1 or all(np.array_equal(components[0][1], c[1]) for c in components):
        fam, th, _ = components[0]
        return [float(fam.quantile(p, th)) for p in ps]
    out = []
    for p in ps:
        lo, hi = 0.0, 1.0
        while true_survival(np.array([hi]), components)[0] > 1 - p:
            hi *= 2.0
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            if true_survival(np.array([mid]), components)[0] > 1 - p:
                lo = mid
            else:
                hi = mid
        out.append(0.5 * (lo + hi))
    return out


def _curve_truth(components: Sequence[tuple[Any, np.ndarray, float]]) -> dict[str, Any]:
    total = sum(w for _, _, w in components)
    t50, t90, t99 = _quantiles(components, (0.5, 0.9, 0.99))
    mean = sum(w / total * float(fam.mean(th)) for fam, th, w in components)
    tails = [float(fam.tail_fraction(th)) for fam, th, _ in components]
    tail = sum(w / total * (0.0 if math.isnan(x) else x) for x, (_, _, w) in zip(tails, components, strict=True))
    return {
        "t50_minutes": round(t50, 4),
        "t90_minutes": round(t90, 4),
        "t99_minutes": round(t99, 4),
        "mean_outage_minutes": round(mean, 4),
        "tail_fraction": round(tail, 6) if not all(math.isnan(x) for x in tails) else None,
    }


def _sample_truth(times: np.ndarray) -> dict[str, Any]:
    if times.size == 0:
        return {"n": 0, "t50_minutes": None, "t90_minutes": None, "t99_minutes": None, "mean_outage_minutes": None}
    q = np.quantile(times, [0.5, 0.9, 0.99])
    return {
        "n": int(times.size),
        "t50_minutes": round(float(q[0]), 4),
        "t90_minutes": round(float(q[1]), 4),
        "t99_minutes": round(float(q[2]), 4),
        "mean_outage_minutes": round(float(times.mean()), 4),
    }


# --------------------------------------------------------------------------- places


@dataclass(frozen=True)
class _Places:
    """Every string a report may use for each municipality, grouped by (municipality, form)."""

    munis: pl.DataFrame  # nis_code, region, province, population, lat, lon
    strings: np.ndarray  # candidate strings (object)
    group_start: np.ndarray  # per (muni, form) group: first candidate, −1 when none
    group_count: np.ndarray
    cum: np.ndarray  # cumulative probability within each group, offset by the group's index
    coords: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # muni start, count, lat, lon (+ cum)
    coord_cum: np.ndarray


def _local_names(r: Mapping[str, Any]) -> list[tuple[str, float]]:
    """The municipality's names with how often each is written, by the language spoken there."""
    fr, nl, de = r["name_fr"], r["name_nl"], r["name_de"]
    if r["language"] == "de" and de:
        out = [(de, 0.8), (fr, 0.2)]
    elif r["region"] == "Brussels":
        out = [(fr, 0.6), (nl, 0.4)]
    elif r["region"] == "Flanders":
        out = [(nl, 0.85), (fr, 0.15)]
    else:
        out = [(fr, 0.9), (nl, 0.1)]
    merged: dict[str, float] = {}
    for name, w in out:
        if name:
            merged[name] = merged.get(name, 0.0) + w
    return list(merged.items())


@cache
def _places() -> _Places:
    from analysis.geo.reference import places, postal_codes, reference_municipalities

    munis = reference_municipalities().sort("nis_code")
    index = {n: i for i, n in enumerate(munis["nis_code"].to_list())}
    sections = places().filter(pl.col("nis_method") != "seat").sort("nis_code", "name", "geonameid")
    sec_by: dict[str, list[tuple[str, float, float, float]]] = {}
    for name, nis, pop, lat, lon in sections.select("name", "nis_code", "population", "lat", "lon").iter_rows():
        if nis in index:
            sec_by.setdefault(nis, []).append((name, float(pop or 0) + 200.0, lat, lon))
    codes = postal_codes()
    shared = set(codes.group_by("postal_code").len().filter(pl.col("len") > 1)["postal_code"].to_list())
    pc_by: dict[str, list[str]] = {}
    for code, nis in codes.sort("postal_code").iter_rows():
        pc_by.setdefault(nis, []).append(code)

    strings: list[str] = []
    probs: list[float] = []
    n_forms = 3
    start = np.full(len(index) * n_forms, -1, dtype=np.int64)
    count = np.zeros(len(index) * n_forms, dtype=np.int64)
    group_of: list[int] = []
    c_start: list[int] = []
    c_count: list[int] = []
    c_lat: list[float] = []
    c_lon: list[float] = []
    c_w: list[float] = []
    for i, r in enumerate(munis.iter_rows(named=True)):
        names = _local_names(r)
        local = names[0][0]
        secs = sec_by.get(r["nis_code"], [])
        pcs = pc_by.get(r["nis_code"], [])
        forms: list[list[tuple[str, float]]] = [
            names,
            [(s[0], s[1]) for s in secs],
            [x for c in pcs for x in ([(c, 0.5), (f"{c} {local}", 0.5)] if c not in shared else [(f"{c} {local}", 1.0)])],
        ]
        for f, cands in enumerate(forms):
            g = i * n_forms + f
            if not cands:
                continue
            total = sum(w for _, w in cands)
            start[g], count[g] = len(strings), len(cands)
            for s, w in cands:
                strings.append(s)
                probs.append(w / total)
                group_of.append(g)
        pts = [(r["lat"], r["lon"], 1000.0)] + [(s[2], s[3], s[1]) for s in secs]
        c_start.append(len(c_lat))
        c_count.append(len(pts))
        tot = sum(p[2] for p in pts)
        for la, lo, w in pts:
            c_lat.append(la)
            c_lon.append(lo)
            c_w.append(w / tot)
    g_arr = np.asarray(group_of, dtype=float)
    cum = g_arr + _grouped_cumsum(np.asarray(probs), np.asarray(group_of))
    c_group = np.repeat(np.arange(len(c_start)), c_count).astype(float)
    coord_cum = c_group + _grouped_cumsum(np.asarray(c_w), c_group.astype(np.int64))
    return _Places(
        munis=munis.select("nis_code", "name", "region", "province", "population", "lat", "lon"),
        strings=np.asarray(strings, dtype=object),
        group_start=start,
        group_count=count,
        cum=cum,
        coords=(np.asarray(c_start), np.asarray(c_count), np.asarray(c_lat), np.asarray(c_lon)),
        coord_cum=coord_cum,
    )


def _grouped_cumsum(p: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``p`` restarting at each group (rows are sorted by group); last of each = 1."""
    c = np.cumsum(p)
    first = np.r_[True, groups[1:] != groups[:-1]]
    base = np.maximum.accumulate(np.where(first, np.r_[0.0, c[:-1]], 0.0))
    out = c - base
    last = np.r_[groups[1:] != groups[:-1], True]
    out[last] = 1.0  # exact upper end, whatever the rounding
    return out


def _pick(cum: np.ndarray, group: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index of the candidate drawn with uniform ``u`` inside each row's group."""
    return np.searchsorted(cum, group + u, side="right")


def _strip_accents(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def _typo(s: str, rng: np.random.Generator) -> str:
    """One keyboard slip in ``s``: a letter dropped, doubled, swapped with the next, or replaced."""
    letters = [i for i, c in enumerate(s) if c.isalpha()]
    if len(letters) < 4:
        return s + s[-1]
    for _ in range(10):
        i = int(letters[int(rng.integers(1, len(letters)))])  # people rarely miss the first letter
        op = int(rng.integers(4))
        if op == 0:
            out = s[:i] + s[i + 1 :]
        elif op == 1:
            out = s[: i + 1] + s[i:]
        elif op == 2 and i + 1 < len(s) and s[i + 1].isalpha():
            out = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
        else:
            out = s[:i] + "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(26))] + s[i + 1 :]
        if out != s:
            return out
    return s + s[-1]


def _spell(s: str, variant: int, rng: np.random.Generator) -> str:
    if variant == 1:
        return s.lower()
    if variant == 2:
        return s.upper()
    if variant == 3:
        return _strip_accents(s)
    if variant >= 4:
        return _typo(s, rng)
    return s


# --------------------------------------------------------------------------- the generator


@dataclass(frozen=True)
class SimulatedIncident:
    """A generated incident in memory: what :func:`write_incident` puts on disk."""

    scenario: Scenario
    seed: int
    incident_toml: str
    source_name: str
    rows: pl.DataFrame
    truth: dict[str, Any]
    report_truth: pl.DataFrame


def _epoch(local_iso: str, tz: ZoneInfo) -> float:
    t = dt.datetime.fromisoformat(local_iso)
    return t.replace(tzinfo=tz).timestamp()


def _iso(epoch_s: float, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(round(epoch_s), tz=dt.UTC).astimezone(tz).isoformat()


def _expected_integral(fam: Any, theta: np.ndarray, *, horizon: float, onset_s: float, timezone: str, propensity: Any) -> float:
    """∫₀ᴴ g(clock(t))·S(t) dt in minutes (Simpson on a one-minute grid)."""
    from analysis.recovery.propensity import check_propensity, hourly_weights

    edges = np.append(np.arange(0.0, horizon, 1.0), horizon)
    w = np.diff(edges)
    mid = edges[:-1] + 0.5 * w
    s_e = fam.sf(edges, theta)
    s_m = fam.sf(mid, theta)
    g = hourly_weights(onset_s + mid * 60.0, timezone, check_propensity(propensity))
    return float(np.sum(g * w / 6.0 * (s_e[:-1] + 4 * s_m + s_e[1:])))


def exact_report_times(
    n: int,
    *,
    family: Any,
    theta: np.ndarray,
    horizon: float,
    onset_s: float,
    timezone: str,
    propensity: Any,
    integral: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Exactly ``n`` report times (minutes, sorted) from the intensity ∝ g·S on [0, horizon].

    A thinned Poisson process (:func:`analysis.simulate.report_times`) is drawn with about
    six standard deviations more points than needed and a uniformly chosen ``n`` of them is
    kept: given their number, the points of a Poisson process are i.i.d. with density
    λ/Λ, and so is any random subset of them.
    """
    if n <= 0:
        return np.empty(0)
    target = n + 6.0 * math.sqrt(n) + 10.0
    rate = target / integral
    while True:
        t = report_times(
            family=family,
            params=theta,
            rate_per_minute=rate,
            horizon_minutes=horizon,
            onset_epoch_s=onset_s,
            timezone=timezone,
            propensity=propensity,
            rng=rng,
        )
        if t.size >= n:
            break
        rate *= 1.5  # practically never: a 6σ shortfall
    keep = rng.choice(t.size, size=n, replace=False, shuffle=False)
    return np.sort(t[np.sort(keep)])


def _affected(sc: Scenario, places: _Places, exposure: pl.DataFrame | None, rng: np.random.Generator) -> np.ndarray:
    """Affected customers per municipality (multinomial on population × attack weight, or exposure)."""
    m = places.munis
    if exposure is not None:
        if not {"nis_code", "exposure"} <= set(exposure.columns):
            raise ParameterError(f"exposure: needs columns 'nis_code' and 'exposure', got {exposure.columns}")
        e = m.select("nis_code").join(
            exposure.select(pl.col("nis_code").cast(pl.String), pl.col("exposure").cast(pl.Float64)),
            on="nis_code",
            how="left",
            maintain_order="left",
        )
        w = e["exposure"].fill_null(0.0).to_numpy()
        if np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise ParameterError("exposure: values must be finite, >= 0 and not all 0")
    else:
        key = m.select(pl.coalesce("province", "region")).to_series().to_list()
        unknown = set(sc.attack_weights) - set(key)
        if unknown:
            raise ParameterError(f"scenario {sc.name!r}: attack_weights name unknown areas {sorted(unknown)}")
        w = m["population"].cast(pl.Float64).to_numpy() * np.array([sc.attack_weights.get(k, 1.0) for k in key])
    return rng.multinomial(sc.n_affected, w / w.sum())


@dataclass(frozen=True)
class _World:
    """The drawn state shared by the writers of one simulated incident."""

    sc: Scenario
    seed: int
    places: _Places
    per_muni: np.ndarray  # affected customers per municipality
    models: Mapping[str, tuple[Any, np.ndarray, dict[str, float]]]  # region → (family, theta, params)
    n_aff: Mapping[str, int]
    restore: Mapping[str, np.ndarray]  # region → restoration times (minutes)
    streams: list[np.random.Generator]
    onset_s: float
    end_s: float

    @property
    def horizon(self) -> float:
        """Minutes from onset to the end of observation."""
        return (self.end_s - self.onset_s) / 60.0

    @property
    def components(self) -> list[tuple[Any, np.ndarray, float]]:
        """(family, theta, affected customers) of every region with affected customers."""
        return [(self.models[r][0], self.models[r][1], float(self.n_aff[r])) for r in sorted(self.n_aff) if self.n_aff[r] > 0]


def simulate_incident(
    scenario: str | Scenario,
    *,
    n_reports: int | None = None,
    seed: int = 0,
    incident_id: str | None = None,
    noise: Noise | None = None,
    exposure: pl.DataFrame | None = None,
    report_truth: bool = True,
) -> SimulatedIncident:
    """Generate a scenario in memory (pure: nothing is read but the reference geography).

    Parameters
    ----------
    scenario
        A name from :data:`SCENARIOS` or a :class:`Scenario`.
    n_reports
        Genuine reports (``restorations``: devices) to generate; None uses the scenario's
        default. Duplicate and bad rows come on top.
    seed
        Seed of every random choice; the same seed gives the same incident.
    incident_id
        The ``id`` written in ``incident.toml`` (default ``simulated-<scenario>``).
    noise
        Overrides the scenario's defects (``Noise.none()`` for a clean file).
    exposure
        Columns ``nis_code`` and ``exposure`` (customers or population per municipality):
        spreads the affected customers instead of population × attack weight.
    report_truth
        Keep the per-report truth table (skip it for very large benchmark files).
    """
    sc = get_scenario(scenario)
    if noise is not None:
        sc = replace(sc, noise=noise)
    n = sc.n_reports if n_reports is None else n_reports
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1:
        raise ParameterError(f"n_reports: expected a positive integer, got {n!r}")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ParameterError(f"seed: expected a non-negative integer, got {seed!r}")
    n = int(n)
    if sc.kind == "restorations":
        sc = replace(sc, n_affected=n)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(8)]
    tz = ZoneInfo(sc.timezone)
    onset_s, end_s = _epoch(sc.onset, tz), _epoch(sc.end, tz)
    places = _places()
    munis = places.munis
    regions = sorted(set(munis["region"].to_list()))
    unknown = set(sc.region_params) - set(regions)
    if unknown:
        raise ParameterError(f"scenario {sc.name!r}: region_params name unknown regions {sorted(unknown)}")

    # 1. affected customers and their restoration times, per region
    per_muni = _affected(sc, places, exposure, streams[0])
    muni_region = munis["region"].to_numpy()
    models = {r: _region_theta(sc, r) for r in regions}
    n_aff = {r: int(per_muni[muni_region == r].sum()) for r in regions}
    restore = {r: restoration_times(n_aff[r], family=models[r][0], params=models[r][1], rng=streams[0]) for r in regions}
    world = _World(sc, int(seed), places, per_muni, models, n_aff, restore, streams, onset_s, end_s)

    if sc.kind == "down_reports":
        rows, rtruth, counts = _report_rows(world, n)
    else:
        rows, rtruth, counts = _telemetry_rows(world)
    truth = _truth_doc(world, n, counts, rtruth)
    iid = incident_id or f"simulated-{sc.name}"
    return SimulatedIncident(
        scenario=sc,
        seed=int(seed),
        incident_toml=_toml(sc, iid, int(seed), n_affected=sum(n_aff.values())),
        source_name="reports.csv" if sc.kind == "down_reports" else "telemetry.csv",
        rows=rows,
        truth=truth,
        report_truth=rtruth if report_truth else rtruth.clear(),
    )


def _assign_places(
    muni: np.ndarray,
    forms: np.ndarray,
    *,
    places: _Places,
    noise: Noise,
    rng: np.random.Generator,
    typo_rng: np.random.Generator,
) -> tuple[pl.Series, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Place strings (null for none), lat, lon (NaN for none), final form and variant codes."""
    n = muni.size
    forms = forms.copy()
    # a municipality without sections or postal codes is named instead
    group = muni * 3 + np.minimum(forms, 2)
    textual = forms <= 2
    absent = textual & (places.group_start[group] < 0)
    forms[absent] = 0
    group = muni * 3 + np.minimum(forms, 2)
    cand = np.full(n, -1, dtype=np.int64)
    u = rng.random(n)
    cand[textual] = _pick(places.cum, group[textual].astype(float), u[textual])
    # spelling: postal codes are copied, names get case/accent variants and typos
    variant = np.zeros(n, dtype=np.int64)
    named = textual & (forms != 2)
    v = rng.random(n)
    case = named & (v < noise.case_rate)
    variant[case] = 1 + rng.integers(0, 3, int(case.sum()))
    typo = named & (v >= noise.case_rate) & (v < noise.case_rate + noise.typo_rate)
    variant[typo] = 4 + rng.integers(0, noise.typo_variants, int(typo.sum()))
    # each distinct (candidate, variant) is spelled once, in sorted order, so the result is deterministic
    key = cand[textual] * 64 + variant[textual]
    present = np.zeros(places.strings.size * 64, dtype=bool)  # a counting sort: no 10⁷-row argsort
    present[key] = True
    uniq = np.flatnonzero(present)
    lookup = np.full(present.size, -1, dtype=np.int64)
    lookup[uniq] = np.arange(uniq.size)
    spelled = [_spell(places.strings[k // 64], int(k % 64), typo_rng) for k in uniq.tolist()]
    pos = np.full(n, -1, dtype=np.int64)
    pos[textual] = lookup[key]
    text = _gather(spelled, pos)
    # coordinates: the seat or a village of the municipality, a couple of hundred metres off
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    gps = forms == 3
    if gps.any():
        _c_start, _c_count, c_lat, c_lon = places.coords
        k = _pick(places.coord_cum, muni[gps].astype(float), rng.random(int(gps.sum())))
        k = np.minimum(k, c_lat.size - 1)
        lat[gps] = np.round(c_lat[k] + rng.normal(0, 0.002, k.size), 5)
        lon[gps] = np.round(c_lon[k] + rng.normal(0, 0.003, k.size), 5)
    return text, lat, lon, forms, variant


def _gather(values: Sequence[str | None], index: np.ndarray) -> pl.Series:
    """``values[index]`` as a polars string column, null where ``index`` is −1 (fast for 10⁷ rows)."""
    idx = pl.Series(index).set(pl.Series(index < 0), None) if (index < 0).any() else pl.Series(index)
    return pl.Series(list(values), dtype=pl.String).gather(idx.cast(pl.UInt32 if len(values) < 2**32 else pl.UInt64))


def _choice_strings(options: Sequence[tuple[str | None, float]], n: int, rng: np.random.Generator) -> pl.Series:
    p = np.array([w for _, w in options])
    return _gather([o for o, _ in options], rng.choice(len(options), size=n, p=p / p.sum()))


def _local_strings(epoch_s: np.ndarray, tz: str, *, unit: float = 1.0, up: bool = False) -> pl.Series:
    """Local wall-clock strings of UTC instants, rounded down (or ``up``) to ``unit`` seconds."""
    steps = np.ceil(epoch_s / unit - 1e-9) if up else np.floor(epoch_s / unit + 1e-9)
    us = steps.astype(np.int64) * round(unit * 1e6)
    return pl.Series(us).cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(tz).dt.strftime(TIME_FORMAT)


def _clock_windows(
    minutes: np.ndarray, widths: np.ndarray, *, onset_s: float, timezone: str, horizon: float
) -> tuple[np.ndarray, np.ndarray]:
    """The local-clock cell of width ``widths`` (minutes, from local midnight) holding each time.

    A report known only as "between 21:00 and 22:00" or "Tuesday morning" (06:00–12:00) lies
    in a fixed cell of the clock, whatever its true time inside it: the coarsening does not
    depend on the time beyond the cell, so the likelihood may treat the window as "somewhere
    in it" (coarsened at random). Cells are clipped to the observation period; near a
    daylight-saving change a cell is an hour longer or shorter.
    """
    from analysis.recovery.propensity import local_hours

    clock = local_hours(onset_s + minutes * 60.0, timezone) * 60.0  # local minutes after midnight
    start = np.round((minutes - np.mod(clock, widths)) * 60.0) / 60.0  # on whole seconds, as the clock is
    return np.clip(start, 0.0, horizon), np.clip(start + widths, 0.0, horizon)


def _report_rows(world: _World, n: int) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """The export of an outage tracker: one row per report, plus duplicates and bad rows."""
    sc, places, per_muni, models, n_aff, streams = (
        world.sc,
        world.places,
        world.per_muni,
        world.models,
        world.n_aff,
        world.streams,
    )
    onset_s, horizon = world.onset_s, world.horizon
    munis = places.munis
    region_of = munis["region"].to_numpy()
    regions = [r for r in sorted(n_aff) if n_aff[r] > 0]
    integral = {
        r: _expected_integral(
            models[r][0], models[r][1], horizon=horizon, onset_s=onset_s, timezone=sc.timezone, propensity=sc.propensity
        )
        for r in regions
    }
    mass = np.array([n_aff[r] * integral[r] for r in regions])
    r_times = streams[1]
    n_by_region = r_times.multinomial(n, mass / mass.sum())
    times, muni = [], []
    for r, k in zip(regions, n_by_region.tolist(), strict=True):
        t = exact_report_times(
            k,
            family=models[r][0],
            theta=models[r][1],
            horizon=horizon,
            onset_s=onset_s,
            timezone=sc.timezone,
            propensity=sc.propensity,
            integral=integral[r],
            rng=r_times,
        )
        idx = np.flatnonzero(region_of == r)
        w = per_muni[idx].astype(float)
        times.append(t)
        muni.append(idx[r_times.choice(idx.size, size=k, p=w / w.sum())])
    minutes = np.concatenate(times)
    muni_idx = np.concatenate(muni)
    order = np.argsort(minutes, kind="stable")
    minutes, muni_idx = minutes[order], muni_idx[order]
    rate_per_customer = n / float(mass.sum())  # a: reports per affected customer per minute at g = 1

    # 2. how each report names its place
    r_place = streams[2]
    noise = sc.noise
    fw = dict(sc.form_weights)
    f_p = np.array([fw.get(f, 0.0) for f in PLACE_FORMS[:4]])
    forms = r_place.choice(4, size=n, p=f_p / f_p.sum())
    forms[r_place.random(n) < noise.missing_place_rate] = 4
    text, lat, lon, forms, variant = _assign_places(muni_idx, forms, places=places, noise=noise, rng=r_place, typo_rng=streams[6])

    # 3. time windows ("Tuesday morning")
    r_win = streams[3]
    win = r_win.random(n) < noise.window_fraction
    widths = np.asarray(noise.window_widths, dtype=float)
    w = widths[r_win.integers(0, widths.size, int(win.sum()))]
    w_start, w_end = _clock_windows(minutes[win], w, onset_s=onset_s, timezone=sc.timezone, horizon=horizon)
    start_min = minutes.copy()
    start_min[win] = w_start
    tz = sc.timezone
    time_s = _local_strings(onset_s + minutes * 60.0, tz)
    if win.any():
        win_idx = np.flatnonzero(win)
        time_s = time_s.scatter(win_idx, _local_strings(onset_s + w_start * 60.0, tz, unit=60.0))
        until = pl.Series("until", [None] * n, dtype=pl.String).scatter(
            win_idx, _local_strings(onset_s + w_end * 60.0, tz, unit=60.0, up=True)
        )
    else:
        until = pl.Series("until", [None] * n, dtype=pl.String)

    r_misc = streams[4]
    genuine = pl.DataFrame(
        {
            "time": time_s,
            "until": until,
            "place": text,
            "lat": pl.Series(lat, nan_to_null=True),
            "lon": pl.Series(lon, nan_to_null=True),
            "service": _choice_strings(SERVICES, n, r_misc),
            "comment": _choice_strings(COMMENTS, n, r_misc),
        }
    )

    # 4. duplicates and bad rows, placed in time order like the rest of the export
    n_dup = round(noise.duplicate_rate * n)
    n_bad = round(noise.bad_row_rate * n)
    dup_of = np.sort(r_misc.choice(n, size=n_dup, replace=False)) if n_dup else np.empty(0, dtype=np.int64)
    bad_like = r_misc.integers(0, n, n_bad)
    bad_times = _choice_strings([(b, 1.0) for b in BAD_TIMES], n_bad, r_misc)
    bad = genuine[bad_like].with_columns(bad_times.alias("time"), pl.lit(None, pl.String).alias("until"))
    kind = np.concatenate([np.zeros(n, np.int8), np.ones(n_dup, np.int8), np.full(n_bad, 2, np.int8)])
    source = np.concatenate([np.arange(n), dup_of, bad_like])
    # stable: a duplicate or bad row follows the report it copies (rows are concatenated in that order)
    sort_key = np.concatenate([start_min, start_min[dup_of], start_min[bad_like]])
    order = np.argsort(sort_key, kind="stable")
    rows = pl.concat([genuine, genuine[dup_of], bad], how="vertical")[order]
    # ids: one per row of the export, a duplicate repeating its original's
    kind_o, source_o = kind[order], source[order]
    own = kind_o != 1
    seq = np.cumsum(own)
    row_id = seq.copy()
    orig_pos = np.flatnonzero(kind_o == 0)
    id_of_genuine = np.empty(n, dtype=np.int64)
    id_of_genuine[source_o[orig_pos]] = seq[orig_pos]
    row_id[~own] = id_of_genuine[source_o[~own]]
    width = len(str(int(seq[-1]))) if seq.size else 1
    ids = pl.Series(row_id).cast(pl.String).str.zfill(width)
    rows = rows.with_columns(("R" + ids).alias("id")).select("id", *genuine.columns)

    rtruth = pl.DataFrame(
        {
            "id": ("R" + pl.Series(id_of_genuine).cast(pl.String).str.zfill(width)),
            "minutes": minutes,
            "nis_code": munis["nis_code"].gather(muni_idx),
            "region": munis["region"].gather(muni_idx),
            "form": pl.Series(np.asarray(PLACE_FORMS, dtype=object)[forms], dtype=pl.String),
            "variant": pl.Series(variant, dtype=pl.Int64),
            "windowed": win,
        }
    )
    counts = {
        "n_rows": int(rows.height),
        "n_reports": n,
        "n_duplicates": int(n_dup),
        "n_bad_rows": int(n_bad),
        "n_windowed": int(win.sum()),
        "n_missing_place": int((forms == 4).sum()),
        "n_typos": int((variant >= 4).sum()),
        "n_case_variants": int(((variant >= 1) & (variant <= 3)).sum()),
        "by_form": {f: int((forms == i).sum()) for i, f in enumerate(PLACE_FORMS)},
        "reports_by_region": {r: int(k) for r, k in zip(regions, n_by_region.tolist(), strict=True)},
        "rate_per_customer_per_minute": rate_per_customer,
        "expected_peak_reports_per_15min": _peak(world, rate_per_customer),
    }
    return rows, rtruth, counts


def _peak(world: _World, a: float) -> float:
    """Expected number of reports in the busiest 15 minutes (a sliding window)."""
    from analysis.recovery.propensity import check_propensity, hourly_weights

    t = np.arange(0.0, world.horizon, 0.25) + 0.125
    g = hourly_weights(world.onset_s + t * 60.0, world.sc.timezone, check_propensity(world.sc.propensity))
    lam = sum(a * w * fam.sf(t, th) for fam, th, w in world.components) * g
    return round(float(np.max(np.convolve(lam * 0.25, np.ones(60), mode="valid"))), 1)


def _telemetry_rows(world: _World) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """A decoder-telemetry export: one row per affected device (restored, still down, or a polling window)."""
    sc, places, per_muni, restore, streams = world.sc, world.places, world.per_muni, world.restore, world.streams
    onset_s, horizon = world.onset_s, world.horizon
    munis = places.munis
    region_of = munis["region"].to_numpy()
    times, muni = [], []
    for r in sorted(restore):
        idx = np.flatnonzero(region_of == r)
        times.append(restore[r])
        muni.append(np.repeat(idx, per_muni[idx]))
    truth_t = np.concatenate(times)
    muni_idx = np.concatenate(muni)
    n = truth_t.size
    perm = streams[1].permutation(n)  # devices in no particular order, as an export lists them
    truth_t, muni_idx = truth_t[perm], muni_idx[perm]
    rec = restoration_records(
        truth_t,
        censor_at=horizon,
        inspection_minutes=sc.inspection_minutes,
        interval_fraction=sc.interval_fraction,
        rng=streams[5],
    )
    # where the decoder is: a postal code of its municipality, sometimes missing
    r_place = streams[2]
    forms = np.full(n, 2, dtype=np.int64)
    forms[r_place.random(n) < sc.noise.missing_place_rate] = 4
    text, _lat, _lon, forms, _variant = _assign_places(
        muni_idx, forms, places=places, noise=Noise.none(), rng=r_place, typo_rng=streams[6]
    )
    postal = text.str.extract(r"^(\d{4})")

    tz = sc.timezone
    exact = rec.kind == "exact"
    right = rec.kind == "right"
    interval = rec.kind == "interval"
    obs_min = np.where(exact, rec.lower, np.where(right, rec.lower, np.nan))
    obs = _local_strings(onset_s + np.nan_to_num(obs_min) * 60.0, tz)
    obs = pl.select(pl.when(pl.Series(~interval)).then(obs)).to_series()
    after = _local_strings(onset_s + np.where(interval, rec.lower, 0.0) * 60.0, tz)
    after = pl.select(pl.when(pl.Series(interval)).then(after)).to_series()
    before = _local_strings(onset_s + np.where(interval, np.minimum(rec.upper, horizon), 0.0) * 60.0, tz, up=True)
    before = pl.select(pl.when(pl.Series(interval)).then(before)).to_series()
    restored = _gather(["true", "false"], np.where(exact, 0, np.where(right, 1, -1)))
    device = "D" + pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(len(str(n)))
    genuine = pl.DataFrame(
        {
            "device": device,
            "observed_at": obs,
            "restored": restored,
            "restored_after": after,
            "restored_before": before,
            "postal_code": postal,
        }
    )
    r_misc = streams[4]
    n_dup = round(sc.noise.duplicate_rate * n)
    n_bad = round(sc.noise.bad_row_rate * n)
    dup_of = r_misc.choice(n, size=n_dup, replace=False) if n_dup else np.empty(0, dtype=np.int64)
    bad_like = r_misc.integers(0, n, n_bad)
    bad_times = _choice_strings([(b, 1.0) for b in BAD_TIMES if b], n_bad, r_misc)
    bad = genuine[bad_like].with_columns(
        bad_times.alias("observed_at"),
        pl.lit("true").alias("restored"),
        pl.lit(None, pl.String).alias("restored_after"),
        pl.lit(None, pl.String).alias("restored_before"),
        ("X" + pl.Series(np.arange(1, n_bad + 1)).cast(pl.String)).alias("device"),
    )
    source = np.concatenate([np.arange(n), dup_of, bad_like])
    kind = np.concatenate([np.zeros(n, np.int8), np.ones(n_dup, np.int8), np.full(n_bad, 2, np.int8)])
    order = np.lexsort((kind, source))
    rows = pl.concat([genuine, genuine[dup_of], bad], how="vertical")[order]
    rtruth = pl.DataFrame(
        {
            "id": device,
            "minutes": truth_t,
            "nis_code": munis["nis_code"].gather(muni_idx),
            "region": munis["region"].gather(muni_idx),
            "form": pl.Series(np.asarray(PLACE_FORMS, dtype=object)[forms], dtype=pl.String),
            "record": pl.Series(rec.kind.astype(str)),
        }
    )
    counts = {
        "n_rows": int(rows.height),
        "n_reports": n,
        "n_duplicates": int(n_dup),
        "n_bad_rows": int(n_bad),
        "n_exact": int(exact.sum()),
        "n_right_censored": int(right.sum()),
        "n_interval": int(interval.sum()),
        "n_missing_place": int((forms == 4).sum()),
        "by_form": {f: int((forms == i).sum()) for i, f in enumerate(PLACE_FORMS)},
    }
    return rows, rtruth, counts


def _truth_doc(world: _World, n: int, counts: dict[str, Any], rtruth: pl.DataFrame) -> dict[str, Any]:
    """The ``truth.json`` document: what the analysis of this incident should find."""
    sc, models, n_aff, restore, components = world.sc, world.models, world.n_aff, world.restore, world.components
    seed, onset_s, end_s, horizon = world.seed, world.onset_s, world.end_s, world.horizon
    from analysis.recovery.propensity import check_propensity

    tz = ZoneInfo(sc.timezone)
    curve = _curve_truth(components)
    for q in ("t50", "t90", "t99"):
        curve[q] = _iso(onset_s + curve[f"{q}_minutes"] * 60.0, tz)
    grid = np.array([0, 30, 60, 75, 90, 105, 120, 150, 180, 240, 360, 720, 1440, horizon])
    announcements = []
    for when, label, kind, resolved in sc.events:
        m = (_epoch(when, tz) - onset_s) / 60.0
        if kind == "announcement":
            s = float(true_survival(np.array([m]), components)[0])
            announcements.append({"time": _iso(_epoch(when, tz), tz), "label": label, "resolved": resolved, "still_affected": s})
    all_t = np.concatenate([restore[r] for r in sorted(restore)])
    regions = {}
    for r in sorted(n_aff):
        fam, th, params = models[r]
        reg = {"n_affected": n_aff[r], "family": fam.label, "params": params}
        if n_aff[r]:
            reg |= _curve_truth([(fam, th, 1.0)])
        reg["sample"] = _sample_truth(restore[r])
        if "reports_by_region" in counts:
            reg["n_reports"] = counts["reports_by_region"].get(r, 0)
        elif rtruth.height:
            reg["n_reports"] = int((rtruth["region"] == r).sum())
        regions[r] = reg
    return {
        "scenario": sc.name,
        "seed": seed,
        "simulated": True,
        "generator": "analysis.scenarios.simulate_incident",
        "kind": sc.kind,
        "timezone": sc.timezone,
        "onset": _iso(onset_s, tz),
        "end": _iso(end_s, tz),
        "horizon_minutes": round(horizon, 4),
        "family": models[sorted(models)[0]][0].label,
        "params": _region_theta(sc, "")[2],
        "region_params": {k: dict(v) for k, v in sc.region_params.items()},
        "attack_weights": dict(sc.attack_weights),
        "propensity": [round(float(x), 6) for x in check_propensity(sc.propensity)],
        "propensity_declared": sc.declare_propensity,
        "n_affected": int(sum(n_aff.values())),
        "n_reports": n,
        "recovery": curve,
        "survival": {"minutes": [float(x) for x in grid], "S": [float(x) for x in true_survival(grid, components)]},
        "sample": _sample_truth(all_t),
        "announcements": announcements,
        "regions": regions,
        "rows": counts,
        "noise": {k: (list(v) if isinstance(v, tuple) else v) for k, v in sc.noise.__dict__.items()},
    }


# --------------------------------------------------------------------------- writing


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # JSON string escapes are valid TOML basic strings


def _toml(sc: Scenario, incident_id: str, seed: int, *, n_affected: int) -> str:
    lines = [
        f"# Simulated incident: scenario {sc.name!r}, seed {seed}. Written by `postmortem simulate`; the true recovery",
        "# curve, the parameters and every count are in truth.json beside this file.",
        "",
        f"id = {_toml_str(incident_id)}",
        f"title = {_toml_str(sc.title)}",
        f"timezone = {_toml_str(sc.timezone)}",
        f"onset = {_toml_str(sc.onset)}",
        f"end = {_toml_str(sc.end)}",
        "simulated = true",
        f"affected_customers = {n_affected}",
        f"description = {_toml_str(sc.description)}",
        "",
        "[origin]",
        f"name = {_toml_str(sc.origin[0])}",
        f"lat = {sc.origin[1]}",
        f"lon = {sc.origin[2]}",
    ]
    if sc.declare_propensity:
        lines += ["", "[reporting]", "hourly_propensity = [" + ", ".join(f"{x:g}" for x in (sc.propensity or ())) + "]"]
    for when, label, kind, resolved in sc.events:
        lines += ["", "[[events]]", f"time = {_toml_str(when)}", f"label = {_toml_str(label)}", f"kind = {_toml_str(kind)}"]
        if resolved:
            lines.append("resolved = true")
    lines += ["", "[[sources]]"]
    if sc.kind == "down_reports":
        lines += [
            'path = "reports.csv"',
            'kind = "down_reports"',
            'name = "reports"',
            'coverage = "Simulated outage-tracker reports: every affected customer equally likely to report, by the clock hour."',
            f"time_format = {_toml_str(TIME_FORMAT)}",
            'delimiter = ","',
            'encoding = "utf-8"',
            "",
            "[sources.columns]",
            'report_id = "id"',
            'reported_at = "time"',
            'reported_until = "until"',
            'place = "place"',
            'lat = "lat"',
            'lon = "lon"',
            'service = "service"',
            'text = "comment"',
        ]
    else:
        lines += [
            'path = "telemetry.csv"',
            'kind = "restorations"',
            'name = "telemetry"',
            'coverage = "Simulated decoder telemetry: every affected decoder, polled or reporting its return."',
            f"time_format = {_toml_str(TIME_FORMAT)}",
            'delimiter = ","',
            'encoding = "utf-8"',
            "",
            "[sources.columns]",
            'customer_id = "device"',
            'observed_at = "observed_at"',
            'restored = "restored"',
            'restored_after = "restored_after"',
            'restored_before = "restored_before"',
            'postal_code = "postal_code"',
        ]
    return "\n".join(lines) + "\n"


def write_incident(sim: SimulatedIncident, out_dir: str | Path) -> Path:
    """Write a generated incident: ``incident.toml``, the source CSV, ``truth.json`` (+ per-report truth).

    Returns the folder. Existing files of the same names are replaced.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "incident.toml").write_text(sim.incident_toml, encoding="utf-8")
    sim.rows.write_csv(out / sim.source_name, float_precision=5)
    (out / "truth.json").write_text(json.dumps(sim.truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    truth_path = out / "truth_reports.parquet"
    if sim.report_truth.height:
        sim.report_truth.write_parquet(truth_path, statistics=False)
    elif truth_path.exists():
        truth_path.unlink()
    return out


def write_scenario(
    name: str | Scenario,
    out_dir: str | Path,
    *,
    n_reports: int | None = None,
    seed: int = 0,
    noise: Noise | None = None,
    exposure: pl.DataFrame | None = None,
    report_truth: bool = True,
) -> Path:
    """Generate scenario ``name`` and write it as an incident folder; returns the folder.

    The incident ``id`` is the folder's name (``data/raw/<id>/``), so two simulations in two
    folders never share processed data or reports. See :func:`simulate_incident` for the
    options.
    """
    out = Path(out_dir)
    iid = out.resolve().name
    if not iid or iid.startswith(".") or any(c in iid for c in "/\\"):
        iid = f"simulated-{get_scenario(name).name}"
    sim = simulate_incident(
        name, n_reports=n_reports, seed=seed, incident_id=iid, noise=noise, exposure=exposure, report_truth=report_truth
    )
    return write_incident(sim, out)
