"""The named scenarios: what each synthetic incident is made of, and its true recovery curve.

See :mod:`analysis.simulate` for the generative story.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from analysis.errors import ParameterError
from analysis.simulate.processes import family_theta
from analysis.vocab import EventKind, SourceKind

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
    "Synthetic reports generated by analysis.simulate (scenario '{name}'), calibrated to the press facts of the "
    "Proximus TV outage of 8 January 2018. Not real data: the true recovery curve is in truth.json."
)


def _proximus_like(name: str, title: str, extra: str = "", **changes: Any) -> Scenario:
    """A scenario on the proximus-2018 calibration (curve, delay, regions hit, events), with ``changes``."""
    return Scenario(
        name=name,
        title=f"Simulated: {title} (scenario {name})",
        description=_DESCRIPTION.format(name=name) + extra,
        params=_PROXIMUS_PARAMS,
        delay=75.0,
        attack_weights=_PROXIMUS_ATTACK,
        events=_PROXIMUS_EVENTS,
        **changes,
    )


SCENARIOS: Mapping[str, Scenario] = MappingProxyType(
    {
        sc.name: sc
        for sc in (
            _proximus_like("proximus-2018", "Proximus TV outage of 8 January 2018"),
            _proximus_like(
                "regional",
                "outage restored more slowly in Wallonia",
                " Wallonia's customers wait three times longer for the bulk restoration and twice as often end in the slow tail.",
                region_params=MappingProxyType({"Wallonia": MappingProxyType({"lambda": 45.0, "tail_fraction": 0.10})}),
            ),
            _proximus_like(
                "flat",
                "outage with no daily reporting rhythm",
                " Reporting propensity is the same at every hour (declared in [reporting]).",
                propensity=(1.0,) * 24,
                declare_propensity=True,
            ),
            _proximus_like(
                "telemetry",
                "decoder telemetry of the 8 January 2018 outage",
                " One row per affected decoder: the time it came back, a polling window, or still down at the end.",
                kind="restorations",
                n_affected=20_000,
                n_reports=20_000,
                noise=Noise(missing_place_rate=0.02, duplicate_rate=0.005, bad_row_rate=0.002),
            ),
        )
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
