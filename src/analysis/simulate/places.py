"""Where simulated reports come from and how people write the place: names, sections, postal codes, typos."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import polars as pl

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
