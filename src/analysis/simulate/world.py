"""The simulated world: who is affected where, when each restoration happens, when reports are sent."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from analysis.errors import ParameterError
from analysis.simulate.places import _pick, _Places, _spell
from analysis.simulate.processes import report_times
from analysis.simulate.scenarios import Noise, Scenario


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
