"""The searchable index of every Belgian place name (municipalities, sections, exonyms, postal codes), built once per process."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import polars as pl

from analysis.geo.normalize import compact_key, tokens
from analysis.geo.reference import (
    PROVINCE_NAMES,
    REGION_NAMES,
    areas,
    foreign_names,
    places,
    postal_codes,
    reference_municipalities,
    section_names,
    sectors,
)
from analysis.geo.words import _RANK, RESOLUTION_COLUMNS

# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class _Match:
    """One reference name a key points to."""

    nis: str
    method: str  # exact | alias | sector | section
    population: int
    name: str


def _empty(method: str = "unresolved", note: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(RESOLUTION_COLUMNS)
    out["geo_method"] = method
    out["geo_note"] = note
    return out


# --------------------------------------------------------------------------- index

#: A sector name this close (rapidfuzz ratio) to a town abroad does not decide, when that town is
#: in a neighbouring country and at least this large ("Rijssel": Rijsel, Lille). Smaller or
#: farther towns one letter away are coincidences of short names (Soumoy ~ Soumy, Vorsen ~ Voren).
_NEAR_FOREIGN = 90.0
_NEAR_FOREIGN_COUNTRIES = ("FR", "NL", "DE", "LU")
_NEAR_FOREIGN_MIN_POPULATION = 30_000


class _Index:
    """Every way of naming a Belgian place, keyed by :func:`compact_key`, built once per process."""

    def __init__(self) -> None:
        munis = reference_municipalities()
        self.munis: dict[str, dict[str, Any]] = {r["nis_code"]: r for r in munis.iter_rows(named=True)}
        pop = {n: int(r["population"] or 0) for n, r in self.munis.items()}
        names: dict[str, list[_Match]] = defaultdict(list)

        def add(name: str | None, nis: str, method: str, population: int) -> None:
            if not name:
                return
            key = compact_key(name)
            if len(key) < 2:
                return
            names[key].append(_Match(nis, method, population, name))

        for nis, r in self.munis.items():
            for col in ("name", "name_fr", "name_nl", "name_de"):
                add(r[col], nis, "exact", pop[nis])
            if r["name_fr"] != r["name_nl"]:
                add(f"{r['name_nl']} / {r['name_fr']}", nis, "exact", pop[nis])
        f = foreign_names()
        self.foreign: dict[str, tuple[str, str]] = dict(zip(f["key"], zip(f["name"], f["country"], strict=True), strict=True))
        self.foreign_keys: list[str] = f["key"].to_list()
        self.near_foreign_keys: list[str] = [
            k
            for k, country, population in f.select("key", "country", "population").iter_rows()
            if country in _NEAR_FOREIGN_COUNTRIES and (population or 0) >= _NEAR_FOREIGN_MIN_POPULATION
        ]
        self._belgian_search: _KeySearch | None = None
        self.fuzzy_sections: dict[str, list[_Match]] = {}
        self._foreign_search: _KeySearch | None = None
        self._near_foreign_search: _KeySearch | None = None

        # Statbel sector and section names: kept apart (never fuzzy-matched nor read inside a
        # longer text), each key with every municipality that has a sector of that name
        secs: dict[str, list[_Match]] = defaultdict(list)
        for key, name, nis in sectors().select("key", "name", "nis_code").iter_rows():
            secs[key].append(_Match(nis, "sector", 0, name))
        self.sectors: dict[str, list[_Match]] = dict(secs)
        self.section_owner: dict[str, _Match] = _section_owners()

        for r in places().iter_rows(named=True):
            nis = r["nis_code"]
            method = "alias" if r["nis_method"] == "seat" else "section"
            p = pop[nis] if method == "alias" else int(r["population"] or 0)
            add(r["name"], nis, method, p)
            for alt in r["alternate_names"] or []:
                add(alt, nis, method, p)
        # strongest method first, then the larger place
        self.names: dict[str, list[_Match]] = {
            k: sorted(dict.fromkeys(v), key=lambda m: (_RANK[m.method], -m.population, m.nis)) for k, v in names.items()
        }
        self.keys: list[str] = sorted(self.names)

        # short forms of compound official names: "Molenbeek", "St-Josse", "Tongeren"
        parts: dict[str, list[_Match]] = defaultdict(list)
        for nis, r in self.munis.items():
            for col in ("name_fr", "name_nl", "name_de"):
                for key in _name_parts(r[col]):
                    if key not in self.names or all(m.method == "section" for m in self.names[key]):
                        parts[key].append(_Match(nis, "alias", pop[nis], r[col]))
        self.parts: dict[str, list[_Match]] = {
            k: sorted(dict.fromkeys(v), key=lambda m: (-m.population, m.nis)) for k, v in parts.items()
        }

        self.postal: dict[str, list[str]] = defaultdict(list)
        for code, nis in postal_codes().iter_rows():
            self.postal[code].append(nis)

        self.area_names: dict[str, list[tuple[str, str]]] = defaultdict(list)  # key -> [(level, code)]
        self.area_label: dict[str, tuple[str, str, str | None]] = {}  # code -> (level, label, region_code)
        for level, code, label, region_code, names_ in areas().iter_rows():
            self.area_label[code] = (level, label, region_code)
            for n in names_:
                key = compact_key(n)
                if (level, code) not in self.area_names[key]:
                    self.area_names[key].append((level, code))

    # ---- lookups

    def belgian_search(self) -> _KeySearch:
        """Fuzzy search over the Belgian name keys and the Statbel section names (built on first use)."""
        if self._belgian_search is None:
            # a section's own name (not a street or a hamlet sector) that the sectors give to one
            # municipality and that a town abroad does not veto: "Gasbeek" finds Gaasbeek
            extra: dict[str, list[_Match]] = {}
            for key in section_names().filter(pl.col("n_municipalities") == 1)["key"].to_list():
                if key not in self.names and (m := self.sector_match(key)) is not None:
                    extra[key] = [m]
            self.fuzzy_sections = extra
            self._belgian_search = _KeySearch(sorted([*self.keys, *extra]))
        return self._belgian_search

    def fuzzy_matches(self, key: str) -> list[_Match]:
        """The places a key found by :meth:`belgian_search` names (a Belgian name or a section name)."""
        return self.names.get(key) or self.fuzzy_sections.get(key, [])

    def foreign_search(self) -> _KeySearch:
        """Fuzzy search over the foreign name keys (built on first use)."""
        if self._foreign_search is None:
            self._foreign_search = _KeySearch(self.foreign_keys)
        return self._foreign_search

    def lookup(self, key: str) -> list[_Match]:
        return self.names.get(key, [])

    def near_foreign_search(self) -> _KeySearch:
        """Fuzzy search over the large towns of the neighbouring countries (built on first use)."""
        if self._near_foreign_search is None:
            self._near_foreign_search = _KeySearch(self.near_foreign_keys)
        return self._near_foreign_search

    def lookup_with_sectors(self, key: str, allowed: set[str] | None = None) -> list[_Match]:
        """The matches of ``key`` plus its Statbel sector name when that names one municipality (among ``allowed``)."""
        found = self.names.get(key, [])
        sec = self.sector_match(key, allowed)
        if sec is None:
            return found
        return sorted([*found, sec], key=lambda m: (_RANK[m.method], -m.population, m.nis))

    def sector_match(self, key: str, allowed: set[str] | None = None) -> _Match | None:
        """The municipality whose Statbel sectors alone carry the name ``key`` (among ``allowed``), else None."""
        if key in self.foreign:
            return None  # a street named after a town abroad ("Chaussée de Maubeuge") is no section
        sec = [m for m in self.sectors.get(key, []) if allowed is None or m.nis in allowed]
        if len({m.nis for m in sec}) != 1:
            return None  # a sector name shared by several municipalities decides nothing
        if self.near_foreign_search().best(key, _NEAR_FOREIGN) is not None:
            return None  # one letter from a town abroad ("Rijssel"): the town abroad is meant
        return sec[0]

    def section_of(self, key: str) -> _Match | None:
        """The municipality one of whose statistical sections is named ``key`` (only one holds it), else None."""
        return self.section_owner.get(key)

    def section_fallback(self, key: str) -> _Match | None:
        """:meth:`section_of` unless a town abroad may be meant (its name, or one letter from a large one)."""
        m = self.section_owner.get(key)
        if m is None or key in self.foreign or self.near_foreign_search().best(key, _NEAR_FOREIGN) is not None:
            return None
        return m

    def muni_result(self, nis: str, method: str, score: float | None, note: str | None = None) -> dict[str, Any]:
        r = self.munis[nis]
        return {
            "nis_code": nis,
            "municipality": r["name"],
            "province": r["province"],
            "province_code": r["province_code"],
            "region": r["region"],
            "region_code": r["region_code"],
            "geo_method": method,
            "geo_score": None if score is None else round(float(score), 4),
            "geo_note": note,
        }

    def area_result(self, level: str, code: str, note: str | None = None) -> dict[str, Any]:
        out = _empty("area", note)
        out["geo_score"] = 1.0
        out["nis_code"] = code
        if level == "province":
            out["province"] = PROVINCE_NAMES[code]
            out["province_code"] = code
            region = self.area_label[code][2]
            out["region_code"] = region
            out["region"] = REGION_NAMES.get(region or "")
        elif level == "region":
            out["region_code"] = code
            out["region"] = REGION_NAMES[code]
        return out


class _KeySearch:
    """The keys within a rapidfuzz ``ratio`` of a query, found without scoring every key.

    rapidfuzz's ``ratio`` of strings of lengths n and m is 100·(1 − d/(n + m)), d their
    insert/delete distance, so a ratio of at least r caps d and gives a longest common
    subsequence of L = (n + m − d)/2 characters. Its L − 1 neighbouring pairs are neighbours
    in both strings except where a deleted character sits between them (at most d places),
    so the strings share at least L − 1 − d letter pairs, counted with multiplicity. Only
    the keys sharing that many pairs (an inverted index of pairs counts them) are scored,
    by rapidfuzz itself: the answer is exactly that of scoring every key, in the same order
    (score, then position in the key list), at a small fraction of the cost. Results are
    cached per query and cutoff.
    """

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self._array = np.array(keys, dtype=object)
        self._lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
        token, owner = _pair_tokens(keys)
        order = np.argsort(token, kind="stable")
        token, self._owners = token[order], owner[order]
        self._tokens, self._starts = np.unique(token, return_index=True)
        self._ends = np.append(self._starts[1:], len(token))
        self._cache: dict[tuple[str, float], list[tuple[str, float]]] = {}
        self._needs: dict[tuple[int, float], np.ndarray | None] = {}

    def extract(self, query: str, cutoff: float) -> list[tuple[str, float]]:
        """Every key with ``ratio(query, key) >= cutoff``: best first, ties in key-list order."""
        found = self._cache.get((query, cutoff))
        if found is None:
            found = self._cache[(query, cutoff)] = self._extract(query, cutoff)
        return found

    def best(self, query: str, cutoff: float) -> tuple[str, float] | None:
        """The closest key at or above ``cutoff`` (the first in key-list order among equals)."""
        found = self.extract(query, cutoff)
        return found[0] if found else None

    def _extract(self, query: str, cutoff: float) -> list[tuple[str, float]]:
        from rapidfuzz import fuzz, process

        ids = self._candidates(query, cutoff)
        if ids.size == 0:
            return []
        hits = process.extract(query, self._array[ids].tolist(), scorer=fuzz.ratio, score_cutoff=cutoff, limit=None)
        hits.sort(key=lambda h: (-h[1], h[2]))
        return [(h[0], float(h[1])) for h in hits]

    def _candidates(self, query: str, cutoff: float) -> np.ndarray:
        """Positions of the keys that can reach ``cutoff`` (a superset of the answer)."""
        need = self._need(len(query), cutoff)
        if need is None:
            return np.array([], dtype=np.int64)
        seen: dict[int, int] = {}
        token = []
        for a, b in itertools.pairwise(query):
            pair = (ord(a) << 21) | ord(b)
            k = seen.get(pair, 0)
            seen[pair] = k + 1
            token.append((pair << 20) | k)
        wanted = np.array(token, dtype=np.int64)
        at = np.searchsorted(self._tokens, wanted)
        inside = at < len(self._tokens)
        at, wanted = at[inside], wanted[inside]
        at = at[self._tokens[at] == wanted]
        owners = [self._owners[self._starts[i] : self._ends[i]] for i in at.tolist()]
        if owners:
            counts = np.bincount(np.concatenate(owners), minlength=len(self.keys))
        else:
            counts = np.zeros(len(self.keys), dtype=np.int64)
        # every key sharing the fewest pairs any length needs, then the need of its own length
        ids = np.flatnonzero(counts >= need.min())
        return ids[counts[ids] >= need[self._lengths[ids]]]

    def _need(self, n: int, cutoff: float) -> np.ndarray | None:
        """Shared pairs a key of each length needs to reach ``cutoff`` with a query of ``n`` characters.

        Lengths that cannot reach it need more pairs than any key has; ``None`` when no length can.
        """
        found = self._needs.get((n, cutoff))
        if found is not None or (n, cutoff) in self._needs:
            return found
        longest = len(self._lengths) and int(self._lengths.max())
        need = np.full(longest + 1, longest + 1, dtype=np.int64)
        reachable = False
        for m in range(1, longest + 1):
            dmax = math.floor((1 - cutoff / 100) * (n + m) + 1e-7) if cutoff > 0 else n + m
            if (n + m - dmax) % 2:
                dmax -= 1  # the distance has the parity of n + m
            if dmax < abs(n - m):
                continue  # lengths too far apart: the distance alone exceeds what the cutoff allows
            need[m] = max((n + m - dmax) // 2 - 1 - dmax, 0)
            reachable = True
        self._needs[(n, cutoff)] = need if reachable else None
        return self._needs[(n, cutoff)]


def _pair_tokens(keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Letter-pair tokens of every key and the key each belongs to (vectorised).

    A token is the pair's two code points and its occurrence number within the key, so a
    pair written twice in a key gives two tokens and shared tokens count shared pairs with
    multiplicity.
    """
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    codes = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    owner = np.repeat(np.arange(len(keys), dtype=np.int64), lengths)
    first = np.flatnonzero(owner[:-1] == owner[1:])
    pair = (codes[first] << 21) | codes[first + 1]
    own = owner[first]
    order = np.lexsort((first, pair, own))
    pair, own = pair[order], own[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (pair[1:] != pair[:-1]) | (own[1:] != own[:-1])
    position = np.arange(len(order))
    occurrence = position - np.maximum.accumulate(np.where(new, position, 0))
    return (pair << 20) | occurrence, own


_MINOR = frozenset(
    {
        "st",
        "la",
        "le",
        "les",
        "de",
        "du",
        "des",
        "d",
        "l",
        "en",
        "sur",
        "sous",
        "lez",
        "aux",
        "au",
        "ten",
        "ter",
        "op",
        "aan",
        "den",
        "het",
        "van",
        "a",
    }
)


def _name_parts(name: str | None) -> set[str]:
    """Keys of the leading and trailing word runs of a compound name ("Molenbeek-Saint-Jean" → molenbeek, stjean, ...)."""
    if not name:
        return set()
    words = tokens(name)
    out = set()
    for i in range(1, len(words)):
        prefix, suffix = words[:i], words[i:]
        candidates = [prefix]
        if words[i - 1] not in _MINOR:  # "Neuve" alone is not Louvain-la-Neuve, "Gilles" not Saint-Gilles
            candidates.append(suffix)
        for run in candidates:
            if (run[0] in _MINOR and run[0] != "st") or run[-1] in _MINOR:
                continue
            key = "".join(run)
            if len(key) >= 5:
                out.add(key)
    return out


def _section_owners() -> dict[str, _Match]:
    """The statistical sections' own names (former municipalities: "Berchem", "Werm"), each with the one municipality holding it.

    A name that sections of several municipalities carry is left out.
    """
    owners: dict[str, dict[str, str]] = defaultdict(dict)
    for key, name, nis in section_names().select("key", "name", "nis_code").iter_rows():
        owners[key].setdefault(nis, name)
    return {k: _Match(nis, "sector", 0, name) for k, v in owners.items() if len(v) == 1 for nis, name in v.items()}


@cache
def _index() -> _Index:
    return _Index()
