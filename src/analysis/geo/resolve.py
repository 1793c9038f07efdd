"""Resolve the places reports name to today's municipalities, offline.

Order of evidence, strongest first (DESIGN.md, "Geography"):

1. coordinates: point in the (approximate) municipality polygons; points outside Belgium
   stay unresolved;
2. postal code, given alone or inside the text ("4000 Liège", "B-1348 …"); a code shared by
   several municipalities is settled by the name when there is one, else flagged ambiguous;
3. exact municipality name in French, Dutch or German (case, accents, hyphens, apostrophes,
   "St"/"Saint"/"Sint" normalised);
4. exonyms and alternate names of the municipality's seat (Luik, Nieuport, Antwerp, …);
5. sections and villages (a GeoNames place → its municipality: Jumet, Leernes, Westende);
6. fuzzy matching (rapidfuzz) above a score threshold, refused when the string is closer to
   a town abroad (Rijsel, Maastricht, Aachen) than to any Belgian name.

Area-level rows ("Antwerp province", "Flanders", "Belgium") resolve to the area itself,
never to a town. Every result says how it was found (``geo_method``), how sure it is
(``geo_score``, 0–1) and, when unresolved or ambiguous, why (``geo_note``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np
import polars as pl

from analysis.errors import GeoError, ParameterError
from analysis.geo.normalize import PLACEHOLDERS, compact_key, fold, split_parts, tokens
from analysis.geo.reference import (
    COUNTRY_CODE,
    PROVINCE_NAMES,
    REGION_NAMES,
    areas,
    foreign_names,
    places,
    postal_codes,
    reference_municipalities,
)
from analysis.vocab import PlaceScope

__all__ = [
    "DEFAULT_FUZZY_THRESHOLD",
    "GEO_METHODS",
    "RESOLUTION_COLUMNS",
    "format_resolution",
    "geocode_table",
    "resolve_place",
    "resolve_places",
]

GEO_METHODS: tuple[str, ...] = (
    "exact",
    "alias",
    "section",
    "postal_code",
    "coordinates",
    "fuzzy",
    "area",
    "ambiguous",
    "unresolved",
)
AREA_LEVELS: tuple[str, ...] = ("province", "region", "country")

#: Minimum rapidfuzz ``ratio`` (0–100) of a fuzzy match on the compact keys.
DEFAULT_FUZZY_THRESHOLD = 85.0
GEO_SLICE_ROWS = 1_000_000  # rows resolved together by resolve_places (bounds its working memory)

#: Columns added by :func:`resolve_places`, in order, with their dtypes.
RESOLUTION_COLUMNS: dict[str, pl.DataType] = {
    "nis_code": pl.String(),
    "municipality": pl.String(),
    "province": pl.String(),
    "province_code": pl.String(),
    "region": pl.String(),
    "region_code": pl.String(),
    "geo_method": pl.String(),
    "geo_score": pl.Float64(),
    "geo_note": pl.String(),
}

_SCORE = {"exact": 1.0, "alias": 0.97, "section": 0.93, "postal_code": 1.0, "coordinates": 1.0, "area": 1.0}
_RANK = {"exact": 0, "alias": 1, "section": 2}

# a Belgian postal code, optionally prefixed B- / BE-; the lookbehind keeps 5-digit numbers out
_BE_POSTAL = re.compile(r"(?<![\w-])(?:(?:B|BE)\s?-\s?|(?:B|BE)(?=\d))?(\d{4})(?![\d\w])", re.IGNORECASE)
# postal codes of neighbouring countries: F-59000, D-52062, 59000 (5 digits), NL-6211, 6211 AB, L-1234
_FOREIGN_POSTAL = re.compile(
    r"(?<![\w-])(?:(?:F|FR|D|DE|NL|L|LU)\s?-\s?\d{4,5}|\d{5}|\d{4}\s?[A-Z]{2})(?![\d\w])",
)
_COORDS = re.compile(r"^\s*\(?\s*([-+]?\d{1,3}(?:[.,]\d+)?)\s*[,; ]\s*([-+]?\d{1,3}(?:[.,]\d+)?)\s*\)?\s*$")
_COORDS_DOT = re.compile(r"^\s*\(?\s*([-+]?\d{1,3}\.\d+)\s*[,; ]\s*([-+]?\d{1,3}\.\d+)\s*\)?\s*$")

# Words that mark an administrative area in a place string, in the languages reports use.
_AREA_WORDS = {
    "province": ("province", "provincie", "provinz", "prov"),
    "region": ("region", "regio", "gewest", "regione"),
}
_AREA_GLUE = frozenset({"of", "de", "du", "d", "van", "von", "la", "der", "het", "des"})
# Words people add around a town's name ("Ville de Namur", "Gemeente Lier", "Gent centrum").
_ADMIN_PREFIX = ("ville de", "ville d", "commune de", "commune d", "city of", "town of", "gemeente", "stad", "stadt", "gemeinde")
_ADMIN_SUFFIX = ("ville", "stad", "city", "centre", "center", "centrum", "zentrum", "city centre", "town")

# Outage vocabulary: never a place on its own, even where GeoNames lists a homonym
# ("panne" is an alternate name of De Panne).
_DOMAIN_WORDS = frozenset(
    compact_key(w)
    for w in (
        "panne",
        "pannes",
        "storing",
        "storingen",
        "coupure",
        "coupures",
        "outage",
        "outages",
        "down",
        "tv",
        "tele",
        "télé",
        "television",
        "televisie",
        "internet",
        "wifi",
        "proximus",
        "decodeur",
        "decoder",
        "modem",
        "reseau",
        "netwerk",
        "network",
        "signal",
        "signaal",
        "telephone",
        "telefoon",
        "gsm",
        "sms",
    )
)
# Everyday words that must not be read as a place when they sit inside a longer text
# ("la télé ne marche plus" is not Marche-en-Famenne).
_TEXT_WORDS = _DOMAIN_WORDS | frozenset(
    compact_key(w)
    for w in (
        "marche",
        "plus",
        "rien",
        "pas",
        "encore",
        "toujours",
        "depuis",
        "chez",
        "moi",
        "ici",
        "maison",
        "partout",
        "soir",
        "matin",
        "nuit",
        "heure",
        "heures",
        "minutes",
        "werkt",
        "niet",
        "geen",
        "nog",
        "altijd",
        "sinds",
        "thuis",
        "overal",
        "avond",
        "ochtend",
        "nacht",
        "uur",
        "home",
        "still",
        "since",
        "nothing",
        "everywhere",
        "evening",
        "morning",
        "night",
        "hour",
        "hours",
        "ville",
        "centre",
        "centrum",
        "rue",
        "straat",
        "avenue",
        "laan",
        "place",
        "plein",
        "chaussee",
        "steenweg",
        "route",
        "weg",
        "bus",
        "boite",
        "noord",
        "zuid",
        "oost",
        "nord",
        "sud",
        "est",
        "ouest",
        "haut",
        "bas",
        "mont",
        "bois",
        "hof",
        "dorp",
        "village",
        "lez",
        "sur",
        "kapelle",
        "chapelle",
        "eglise",
        "kerk",
        "station",
        "gare",
        "zone",
        "wijk",
        "quartier",
    )
)

# Natural and cultural regions people name instead of a town: not one municipality.
_INFORMAL_REGIONS = frozenset(
    compact_key(w)
    for w in (
        "Brabant",
        "Ardennes",
        "Ardennen",
        "Ardenne",
        "Kempen",
        "Campine",
        "Wallonie picarde",
        "Borinage",
        "Pajottenland",
        "Westhoek",
        "Meetjesland",
        "Waasland",
        "Pays de Waes",
        "Haspengouw",
        "Hesbaye",
        "Condroz",
        "Famenne",
        "Gaume",
        "Fagne",
        "Ostbelgien",
        "Oostkantons",
        "Cantons de l'Est",
        "East Cantons",
        "Eifel",
        "Hageland",
        "Vlaamse Ardennen",
        "Zuiderkempen",
        "Noorderkempen",
        "Limburgse Kempen",
        "Maasland",
        "Kust",
        "Côte belge",
        "Belgian coast",
        "Littoral",
        "Région du Centre",
        "Pays de Herve",
        "Entre-Sambre-et-Meuse",
        "Thudinie",
        "Botte du Hainaut",
    )
)

# Countries other than Belgium, by the names reports use (fr/nl/de/en); "Luxembourg" alone
# is the Belgian province, so only the Grand Duchy's long forms are listed here.
_FOREIGN_COUNTRIES = {
    compact_key(n): code
    for code, names in {
        "FR": ("France", "Frankrijk", "Frankreich", "FR", "Fra"),
        "NL": ("Nederland", "Netherlands", "The Netherlands", "Pays-Bas", "Niederlande", "Holland", "Hollande", "NL"),
        "DE": ("Deutschland", "Germany", "Allemagne", "Duitsland", "DE", "BRD"),
        "LU": (
            "Grand-Duché de Luxembourg",
            "Groothertogdom Luxemburg",
            "Großherzogtum Luxemburg",
            "Grand Duchy of Luxembourg",
            "LU",
        ),
        "GB": ("United Kingdom", "Royaume-Uni", "Verenigd Koninkrijk", "UK", "England", "Angleterre", "Engeland"),
        "ES": ("Spain", "Espagne", "Spanje", "España"),
        "IT": ("Italy", "Italie", "Italië", "Italia"),
        "US": ("USA", "United States", "Etats-Unis", "Verenigde Staten"),
        "CH": ("Switzerland", "Suisse", "Zwitserland", "Schweiz"),
    }.items()
    for n in names
}


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class _Match:
    """One reference name a key points to."""

    nis: str
    method: str  # exact | alias | section
    population: int
    name: str


def _empty(method: str = "unresolved", note: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(RESOLUTION_COLUMNS)
    out["geo_method"] = method
    out["geo_note"] = note
    return out


# --------------------------------------------------------------------------- index


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

        f = foreign_names()
        self.foreign: dict[str, tuple[str, str]] = dict(zip(f["key"], zip(f["name"], f["country"], strict=True), strict=True))
        self.foreign_keys: list[str] = f["key"].to_list()
        self._belgian_search: _KeySearch | None = None
        self._foreign_search: _KeySearch | None = None

    # ---- lookups

    def belgian_search(self) -> _KeySearch:
        """Fuzzy search over the Belgian name keys (built on first use)."""
        if self._belgian_search is None:
            self._belgian_search = _KeySearch(self.keys)
        return self._belgian_search

    def foreign_search(self) -> _KeySearch:
        """Fuzzy search over the foreign name keys (built on first use)."""
        if self._foreign_search is None:
            self._foreign_search = _KeySearch(self.foreign_keys)
        return self._foreign_search

    def lookup(self, key: str) -> list[_Match]:
        return self.names.get(key, [])

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


@cache
def _index() -> _Index:
    return _Index()


# --------------------------------------------------------------------------- name matching


def _choose(matches: list[_Match], *, allowed: set[str] | None = None) -> tuple[_Match | None, list[_Match]]:
    """Pick one municipality from the matches of a key, or report the competing ones.

    The strongest method wins; within it, one municipality, or a place at least three times
    as populous as the next municipality's; otherwise the key is ambiguous.
    """
    if allowed is not None:
        matches = [m for m in matches if m.nis in allowed]
    if not matches:
        return None, []
    best_rank = _RANK[matches[0].method]
    top = [m for m in matches if _RANK[m.method] == best_rank]
    by_nis: dict[str, _Match] = {}
    for m in top:
        by_nis.setdefault(m.nis, m)
    ranked = sorted(by_nis.values(), key=lambda m: (-m.population, m.nis))
    if len(ranked) == 1 or ranked[0].population >= 3 * max(ranked[1].population, 1):
        return ranked[0], []
    return None, ranked


def _strip_admin(text: str) -> list[str]:
    """Variants of a folded place string without "Ville de", "Gemeente", "centrum" and the like."""
    f = " ".join(tokens(text))
    out = []
    for p in _ADMIN_PREFIX:
        if f.startswith(p + " "):
            out.append(f[len(p) + 1 :])
    for s in _ADMIN_SUFFIX:
        if f.endswith(" " + s):
            out.append(f[: -len(s) - 1])
    return out


class _NameResult:
    """Outcome of matching a place string against the Belgian names."""

    __slots__ = ("candidates", "match", "note", "score")

    def __init__(
        self, match: _Match | None = None, score: float = 0.0, candidates: list[_Match] | None = None, note: str | None = None
    ):
        self.match = match
        self.score = score
        self.candidates = candidates or []
        self.note = note


def _match_name(text: str, idx: _Index, *, allowed: set[str] | None = None, fuzzy_threshold: float) -> _NameResult:
    """Exact → alias → section on the whole string, its parts and its words; then fuzzy."""
    whole = compact_key(text)
    if not whole:
        return _NameResult(note="no letters in the place")
    if whole in _DOMAIN_WORDS:
        return _NameResult(note=f"'{text}' is not a place")
    # 1. the whole string, then without administrative words; a short form of a compound
    #    municipality name ("Molenbeek") beats a village of that name ten times smaller
    for key in [whole, *(compact_key(v) for v in _strip_admin(text))]:
        m, cands = _choose(idx.lookup(key), allowed=allowed)
        short, short_cands = _choose(idx.parts.get(key, []), allowed=allowed)
        if short is not None and (m is None or (m.method == "section" and m.population * 10 < short.population)):
            return _NameResult(short, 0.9, note=f"short form of {short.name}")
        if m is not None:
            return _NameResult(m, _SCORE[m.method])
        if cands or short_cands:
            return _NameResult(candidates=cands or short_cands, note=f"'{text}' names places in several municipalities")
    # 2. parts separated by commas, brackets, slashes: "Jumet (Charleroi)", "Liège, Belgique"
    parts = split_parts(text)
    if len(parts) > 1:
        found: dict[str, tuple[_Match, float]] = {}
        ambiguous: list[_Match] = []
        for part in parts:
            sub = _match_name(part, idx, allowed=allowed, fuzzy_threshold=101.0)
            if sub.match is not None:
                found.setdefault(sub.match.nis, (sub.match, sub.score))
            ambiguous += sub.candidates
        if len(found) == 1:
            m, s = next(iter(found.values()))
            return _NameResult(m, s)
        if len(found) > 1:
            return _resolve_several(list(found.values()), text)
        if ambiguous:
            return _NameResult(candidates=ambiguous, note=f"'{text}' names places in several municipalities")
    # 3. a misspelt name: fuzzy on the whole string (before looking for names inside it, so
    #    "Sint-Gillis-Waaas" is Sint-Gillis-Waas and not Sint-Gillis)
    fuzzy = _NameResult()
    if fuzzy_threshold <= 100:
        fuzzy = _fuzzy(text, whole, idx, allowed=allowed, threshold=fuzzy_threshold)
        if fuzzy.match is not None or (fuzzy.note and " is closer to " in fuzzy.note):
            return fuzzy
    # 4. word windows inside a longer text: "panne à Jumet ce soir", "storing Gent"
    words = tokens(text)
    if 1 < len(words) <= 12:
        found2: dict[str, tuple[_Match, float]] = {}
        for size in range(min(4, len(words)), 0, -1):
            for i in range(len(words) - size + 1):
                key = "".join(words[i : i + size])
                if len(key) < 4 or (size == 1 and (words[i] in _AREA_GLUE or key in _TEXT_WORDS)):
                    continue
                m, _ = _choose(idx.lookup(key), allowed=allowed)
                if m is not None and m.nis not in found2:
                    found2[m.nis] = (m, _SCORE[m.method] * 0.95)
            if found2:
                break
        if len(found2) == 1:
            m, s = next(iter(found2.values()))
            return _NameResult(m, s, note="name found inside a longer text")
        if len(found2) > 1:
            return _resolve_several(list(found2.values()), text)
    return fuzzy


def _resolve_several(found: list[tuple[_Match, float]], text: str) -> _NameResult:
    """Several municipalities named at once: a section and its own municipality agree; otherwise ambiguous."""
    nis = {m.nis for m, _ in found}
    if len(nis) == 1:
        m, s = found[0]
        return _NameResult(m, s)
    names = ", ".join(sorted({m.name for m, _ in found}))
    return _NameResult(candidates=[m for m, _ in found], note=f"'{text}' names several municipalities ({names})")


def _fuzzy(text: str, key: str, idx: _Index, *, allowed: set[str] | None, threshold: float) -> _NameResult:
    """Closest Belgian name by rapidfuzz ratio on the compact keys, unless a town abroad is as close."""
    if len(key) < 4:
        return _NameResult(note=f"'{text}' is too short to match approximately")
    # short names need a near-perfect match: one wrong letter in 5 is another town
    cutoff = max(threshold, 100.0 * (1 - 1.0 / max(len(key), 1)) - 1e-9) if len(key) <= 6 else threshold
    best = idx.belgian_search().extract(key, cutoff)
    if allowed is not None:
        best = [b for b in best if any(m.nis in allowed for m in idx.names[b[0]])]
    best = best[:5]
    if not best:
        return _NameResult(note=f"no Belgian place name close to '{text}'")
    top_score = best[0][1]
    foreign = idx.foreign_search().best(key, top_score)
    if foreign is not None:
        name, country = idx.foreign[foreign[0]]
        return _NameResult(note=f"'{text}' is closer to {name} ({country}) than to any Belgian place")
    tied = [k for k, s in best if s >= top_score - 1e-9]
    matches: list[_Match] = []
    for k in tied:
        matches += idx.names[k]
    matches.sort(key=lambda m: (_RANK[m.method], -m.population, m.nis))
    m, cands = _choose(matches, allowed=allowed)
    if m is None:
        return _NameResult(candidates=cands, note=f"'{text}' is equally close to several places")
    return _NameResult(m, top_score / 100.0 * 0.95, note=f"approximate match for '{m.name}'")


# --------------------------------------------------------------------------- areas


def _strip_area_words(text: str, level: str | None) -> tuple[str, str | None]:
    """Remove "province"/"provincie"/"region"/"gewest" words; return the rest and the level they imply."""
    words = tokens(text)
    found = None
    for lvl, marks in _AREA_WORDS.items():
        if level not in (None, lvl):
            continue
        if words and words[0] in marks:
            words = words[1:]
            while words and words[0] in _AREA_GLUE:
                words = words[1:]
            found = lvl
        elif words and words[-1] in marks:
            words = words[:-1]
            found = lvl
    return " ".join(words), found


def _area_lookup(text: str, idx: _Index, level: str | None) -> tuple[str, str] | None:
    """(level, code) of an area named by ``text`` at ``level`` (any level when None)."""
    hits = idx.area_names.get(compact_key(text), [])
    hits = [h for h in hits if level is None or h[0] == level]
    if not hits:
        return None
    order = {"province": 0, "region": 1, "country": 2}
    return sorted(hits, key=lambda h: order[h[0]])[0]


def _lift(res: dict[str, Any], level: str, idx: _Index, note: str) -> dict[str, Any]:
    """Lift a municipality result to its province, region or the country."""
    if level == "country":
        return idx.area_result("country", COUNTRY_CODE, note)
    if level == "province" and res["province_code"] is not None:
        return idx.area_result("province", res["province_code"], note)
    if res["region_code"] is None:
        return _empty("unresolved", note)
    extra = " (Brussels has no province)" if level == "province" else ""
    return idx.area_result("region", res["region_code"], note + extra)


def _resolve_area(text: str | None, level: str, idx: _Index, fuzzy_threshold: float) -> dict[str, Any]:
    """Resolve an area-level row to the province, region or country it names, never a town."""
    if level == "country":
        if text and compact_key(text) in _FOREIGN_COUNTRIES:
            return _empty("unresolved", f"'{text}' is not Belgium")
        return idx.area_result("country", COUNTRY_CODE)
    if not text or not text.strip():
        return _empty("unresolved", f"area_level '{level}' without a place")
    bare, _ = _strip_area_words(text, level)
    for candidate in (text, bare):
        hit = _area_lookup(candidate, idx, level)
        if hit:
            return idx.area_result(*hit)
    # the area is named by a town in it ("Brussels" as a province, "Gent" as a province)
    hit_any = _area_lookup(bare, idx, None) or _area_lookup(text, idx, None)
    if hit_any and hit_any[0] != "country":
        lvl, code = hit_any
        if lvl == "region" or level == "region":
            region = code if lvl == "region" else idx.area_label[code][2]
            note = None if lvl == "region" and level == "region" else f"'{text}' read as region {REGION_NAMES[region]}"
            if lvl == "region" and level == "province":
                note = f"'{text}' is a region, not a province"
            return idx.area_result("region", region, note)
    sub = _match_name(bare or text, idx, fuzzy_threshold=fuzzy_threshold)
    if sub.match is None:
        return _empty("unresolved", sub.note or f"no {level} named '{text}'")
    muni = idx.muni_result(sub.match.nis, "exact", 1.0)
    return _lift(muni, level, idx, f"{level} of {muni['municipality']}")


# --------------------------------------------------------------------------- one place


def _postal_in(text: str) -> tuple[str | None, str]:
    """Find the first Belgian postal code written in ``text`` (must exist); return it and the text without it."""
    idx = _index()
    for mt in _BE_POSTAL.finditer(text):
        code = mt.group(1)
        if code in idx.postal:
            rest = (text[: mt.start()] + " " + text[mt.end() :]).strip(" ,;-")
            return code, rest
    return None, text


def _clean_postal(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        value = int(value)
    s = str(value).strip().upper()
    s = re.sub(r"^(?:BE|B)\s?-?\s?", "", s)
    return s or None


def _resolve_text(
    place: str | None,
    postal: str | None,
    area_level: str | None,
    fuzzy_threshold: float,
) -> dict[str, Any]:
    """Resolve one (place, postal code, area level) key."""
    idx = _index()
    place = place.strip() if isinstance(place, str) else None
    level = area_level.strip().lower() if isinstance(area_level, str) and area_level.strip() else None
    if level in AREA_LEVELS:
        return _resolve_area(place, level, idx, fuzzy_threshold)

    text = place or ""
    if text and fold(text) in PLACEHOLDERS and not postal:
        return _empty("unresolved", f"'{text}' is a placeholder, not a place")

    # coordinates written as text: "50.85, 4.35"
    if text and (mt := _COORDS_DOT.match(text)):
        return resolve_coordinates(float(mt.group(1)), float(mt.group(2)))

    note_parts: list[str] = []
    code = _clean_postal(postal)
    if code is not None and code not in idx.postal:
        note_parts.append(f"postal code '{postal}' is not Belgian")
        code = None
    if code is None and text:
        if _FOREIGN_POSTAL.search(text):
            return _empty("unresolved", f"'{place}' carries a foreign postal code")
        code, text = _postal_in(text)

    # country names in the text: "Lille, France" is abroad; "Liège, Belgique" is not.
    # A province or region named beside a town narrows the search: "Hasselt, Limburg".
    within: set[str] | None = None
    if text:
        parts = split_parts(text)
        kept: list[str] = []
        areas_named: list[tuple[str, tuple[str, str]]] = []
        for part in parts:
            if compact_key(part) in _FOREIGN_COUNTRIES:
                return _empty("unresolved", f"'{place}' is abroad ({part})")
            if len(parts) > 1 and _area_lookup(part, idx, "country"):
                continue
            area = (_area_lookup(part, idx, "province") or _area_lookup(part, idx, "region")) if len(parts) > 1 else None
            if area is not None and not areas_named:
                areas_named.append((part, area))
                continue
            kept.append(part)
        if areas_named and kept:
            code_ = areas_named[0][1][1]
            within = {n for n, r in idx.munis.items() if code_ in (r["province_code"], r["region_code"])}
            if _match_name(", ".join(kept), idx, allowed=within, fuzzy_threshold=fuzzy_threshold).match is None:
                # the area does not hold the town: read the string as written
                within = None
                kept = [p for p in parts if not _area_lookup(p, idx, "country")]
        elif areas_named:
            kept = [areas_named[0][0]]  # "Liège, Belgique": the area-like part is the place itself
        text = ", ".join(kept)

    if code is not None:
        nis_list = idx.postal[code]
        if not text or fold(text) in PLACEHOLDERS:
            if len(nis_list) == 1:
                return idx.muni_result(nis_list[0], "postal_code", 1.0, "; ".join(note_parts) or None)
            names = ", ".join(idx.munis[n]["name"] for n in nis_list)
            return _empty("ambiguous", f"postal code {code} is shared by {names}; no name to choose")
        sub = _match_name(text, idx, allowed=set(nis_list), fuzzy_threshold=fuzzy_threshold)
        if sub.match is not None:
            return idx.muni_result(sub.match.nis, "postal_code", 1.0, "; ".join(note_parts) or None)
        if len(nis_list) == 1:
            other = _match_name(text, idx, fuzzy_threshold=fuzzy_threshold)
            if other.match is not None and other.match.nis != nis_list[0]:
                note_parts.append(f"name '{text}' points to {idx.munis[other.match.nis]['name']}; postal code kept")
            return idx.muni_result(nis_list[0], "postal_code", 1.0 if other.match is None else 0.9, "; ".join(note_parts) or None)
        names = ", ".join(idx.munis[n]["name"] for n in nis_list)
        return _empty("ambiguous", f"postal code {code} is shared by {names}; '{text}' does not choose")

    if not text:
        return _empty("unresolved", "; ".join(note_parts) or "no place given")
    if compact_key(text) in _INFORMAL_REGIONS:
        return _empty("unresolved", f"'{text}' is a region, not a municipality")

    # an area named without area_level: "Flanders", "Provincie Limburg", "Belgium"
    bare, marked = _strip_area_words(text, None)
    area_hit = _area_lookup(text, idx, None) or (_area_lookup(bare, idx, marked) if marked else None)
    if area_hit is not None:
        lvl, acode = area_hit
        muni_matches = idx.lookup(compact_key(text)) if not marked else []
        key = compact_key(text)
        inside = [
            m
            for m in muni_matches
            if m.method in ("exact", "alias")
            and (
                idx.munis[m.nis]["province_code"] == acode
                or idx.munis[m.nis]["region_code"] == acode
                or lvl == "country"
                or compact_key(idx.munis[m.nis]["name"]) == key
            )
        ]
        # "Namur", "Antwerpen", "Brussels": a town inside the area it shares a name with is the
        # town; so is a town written in its own official name ("Limbourg", in Liège province,
        # not the province of Limburg), while its name in another language ("Limburg") is the area
        if not inside:
            return idx.area_result(lvl, acode)

    sub = _match_name(text, idx, allowed=within, fuzzy_threshold=fuzzy_threshold)
    if sub.match is not None:
        method = "fuzzy" if sub.note and sub.note.startswith("approximate") else sub.match.method
        notes = [*note_parts, *([sub.note] if sub.note else [])]
        return idx.muni_result(sub.match.nis, method, sub.score, "; ".join(notes) or None)
    if sub.candidates:
        return _empty("ambiguous", sub.note)
    key = compact_key(text)
    if key in idx.foreign:
        name, country = idx.foreign[key]
        return _empty("unresolved", f"'{text}' is a place abroad ({name}, {country})")
    return _empty("unresolved", sub.note or f"no Belgian place named '{text}'")


# --------------------------------------------------------------------------- coordinates


_NEAR_BORDER_M = 100.0
#: (south, west, north, east) in degrees: a box around Belgium with a margin of a few km.
_BELGIUM_BBOX = (49.45, 2.50, 51.55, 6.45)


def resolve_coordinates(lat: float, lon: float) -> dict[str, Any]:
    """Municipality holding a WGS84 point; unresolved outside Belgium (see :func:`_coords_frame`)."""
    return _coords_frame(np.array([lat], dtype=float), np.array([lon], dtype=float)).row(0, named=True)


@cache
def _muni_frame() -> pl.DataFrame:
    m = reference_municipalities()
    return m.select(
        "nis_code",
        pl.col("name").alias("municipality"),
        "province",
        "province_code",
        "region",
        "region_code",
    )


def _coords_frame(lat: np.ndarray, lon: np.ndarray) -> pl.DataFrame:
    """Point-in-polygon for many points at once, as a frame of resolution columns (one row per point).

    Points within 100 m outside the simplified national outline still count (the outline
    is simplified at ~50 m); a point that only falls in Belgium with latitude and longitude
    swapped is resolved with a note; anything else outside is unresolved.
    """
    import shapely

    from analysis.geo.boundaries import _piece_index

    tree, piece_nis, to_metric = _piece_index()
    n = len(lat)
    piece_nis_arr = np.array(piece_nis, dtype=object)
    found = np.full(n, -1)
    swapped = np.zeros(n, dtype=bool)
    valid = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)

    def locate(la: np.ndarray, lo: np.ndarray) -> np.ndarray:
        x, y = to_metric(lo, la)
        pts = shapely.points(x, y)
        out = np.full(len(la), -1)
        pi, gi = tree.query(pts, predicate="within")
        out[pi] = gi
        miss = np.flatnonzero(out < 0)
        if len(miss):
            mi, gi2 = tree.query_nearest(pts[miss], max_distance=_NEAR_BORDER_M, all_matches=False)
            out[miss[mi]] = gi2
        return out

    def near_belgium(la: np.ndarray, lo: np.ndarray) -> np.ndarray:
        s, w, n_, e = _BELGIUM_BBOX
        return (la >= s) & (la <= n_) & (lo >= w) & (lo <= e)

    ok = np.flatnonzero(valid & near_belgium(lat, lon))
    if len(ok):
        found[ok] = locate(lat[ok], lon[ok])
    # a swapped pair is only worth a look when it lands near Belgium
    miss = np.flatnonzero(valid & (found < 0))
    miss = miss[near_belgium(lon[miss], lat[miss])]
    if len(miss):
        again = locate(lon[miss], lat[miss])
        found[miss] = again
        swapped[miss[again >= 0]] = True
    nis = np.where(found >= 0, piece_nis_arr[np.maximum(found, 0)], None)
    frame = pl.DataFrame(
        {
            "nis_code": pl.Series(nis.tolist(), dtype=pl.String),
            "__lat": lat,
            "__lon": lon,
            "__valid": valid,
            "__swapped": swapped,
        }
    )
    out = frame.join(_muni_frame(), on="nis_code", how="left", maintain_order="left")
    resolved = pl.col("nis_code").is_not_null()
    out = out.with_columns(
        pl.when(resolved).then(pl.lit("coordinates")).otherwise(pl.lit("unresolved")).alias("geo_method"),
        pl.when(~resolved)
        .then(None)
        .when(pl.col("__swapped"))
        .then(pl.lit(0.9))
        .otherwise(pl.lit(1.0))
        .cast(pl.Float64)
        .alias("geo_score"),
        pl.when(~pl.col("__valid"))
        .then(pl.lit("coordinates are not valid WGS84 degrees"))
        .when(~resolved)
        .then(
            pl.format(
                "coordinates ({}, {}) are outside Belgium",
                pl.col("__lat").round(5).cast(pl.String),
                pl.col("__lon").round(5).cast(pl.String),
            )
        )
        .when(pl.col("__swapped"))
        .then(pl.lit("latitude and longitude were swapped"))
        .otherwise(None)
        .alias("geo_note"),
    )
    return out.select([pl.col(c).cast(t) for c, t in RESOLUTION_COLUMNS.items()])


# --------------------------------------------------------------------------- public API


def resolve_place(
    place: str | None = None,
    *,
    postal_code: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    area_level: PlaceScope | None = None,
    fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD,
) -> dict[str, Any]:
    """Resolve one place to a municipality (or an area), with how and how sure.

    Parameters
    ----------
    place
        Free text as written in the report ("Luik", "B-1348 Louvain-la-Neuve", "Jumet").
    postal_code
        A Belgian postal code, if the source has a separate column.
    lat, lon
        WGS84 degrees; when both are given they decide (points outside Belgium stay unresolved).
    area_level
        ``"province"``, ``"region"`` or ``"country"`` when the report names an area, not a town.
    fuzzy_threshold
        Minimum rapidfuzz ratio (0–100) of an approximate match.

    Returns
    -------
    dict
        ``nis_code``, ``municipality``, ``province``, ``province_code``, ``region``,
        ``region_code``, ``geo_method``, ``geo_score`` (0–1 or None), ``geo_note``.
    """
    _check_threshold(fuzzy_threshold)
    if area_level is not None and area_level not in AREA_LEVELS:
        raise ParameterError(f"area_level: expected one of {', '.join(AREA_LEVELS)} or None, got {area_level!r}")
    if lat is not None and lon is not None and not (lat == 0 and lon == 0) and area_level is None:
        return resolve_coordinates(float(lat), float(lon))
    return dict(_resolve_text_cached(place, _clean_postal(postal_code), area_level, float(fuzzy_threshold)))


@lru_cache(maxsize=500_000)  # bounded: a long-lived kernel may see millions of distinct strings
def _resolve_text_cached(place: str | None, postal: str | None, area_level: str | None, threshold: float) -> tuple:
    return tuple(_resolve_text(place, postal, area_level, threshold).items())


def _check_threshold(fuzzy_threshold: float) -> None:
    if not (isinstance(fuzzy_threshold, (int, float)) and 0 < fuzzy_threshold <= 101):
        raise ParameterError(
            f"fuzzy_threshold: expected a rapidfuzz score in (0, 100] (101 disables fuzzy), got {fuzzy_threshold!r}"
        )


def resolve_places(
    df: pl.DataFrame,
    *,
    place_col: str = "place_raw",
    postal_col: str = "postal_code",
    lat_col: str = "lat",
    lon_col: str = "lon",
    area_level_col: str = "area_level",
    fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD,
    boundaries: Any = None,
) -> pl.DataFrame:
    """Add the resolved geography to a table of reports, one row out per row in.

    Each distinct (place, postal code, area level) is resolved once and each distinct
    coordinate pair is located once (vectorised), then joined back, so a million reports
    naming a few thousand places take about a second. Missing input columns count as
    all-null. Rows with an ``area_level`` of province, region or country resolve to that
    area (``geo_method`` "area"); other values of ``area_level`` are ignored.

    Parameters
    ----------
    df
        The reports. Not modified.
    place_col, postal_col, lat_col, lon_col, area_level_col
        Names of the input columns (any may be absent).
    fuzzy_threshold
        Minimum rapidfuzz ratio (0–100) of an approximate name match; 101 disables fuzzy matching.
    boundaries
        Optional user areas (GeoDataFrame with a ``key`` column, any CRS): adds ``area_key``,
        the area holding each report's coordinates, or else its municipality's seat.

    Returns
    -------
    polars.DataFrame
        ``df`` with ``nis_code``, ``municipality``, ``province``, ``province_code``, ``region``,
        ``region_code``, ``geo_method``, ``geo_score``, ``geo_note`` added (replaced if present).
    """
    if not isinstance(df, pl.DataFrame):
        raise ParameterError(f"resolve_places: expected a polars DataFrame, got {type(df).__name__}")
    _check_threshold(fuzzy_threshold)
    threshold = float(fuzzy_threshold)
    names = (place_col, postal_col, lat_col, lon_col, area_level_col)
    # a large table is resolved in slices of rows (distinct places are still resolved once:
    # the text cache is shared), so the working columns cost a slice, not the table
    parts = [_resolve_rows(df.slice(at, GEO_SLICE_ROWS), names, threshold) for at in range(0, max(df.height, 1), GEO_SLICE_ROWS)]
    geo = parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical")
    del parts
    result = df.with_columns(geo.get_columns())
    if boundaries is not None:
        from analysis.geo.boundaries import assign_areas

        result = assign_areas(result, boundaries, lat_col=lat_col, lon_col=lon_col)
    return result


def _resolve_rows(df: pl.DataFrame, names: tuple[str, str, str, str, str], threshold: float) -> pl.DataFrame:
    """The resolution columns (:data:`RESOLUTION_COLUMNS`) of each row of ``df``, in order."""
    place_col, postal_col, lat_col, lon_col, area_level_col = names

    def col(name: str, dtype: pl.DataType) -> pl.Expr:
        if name in df.columns:
            return (
                pl.col(name).cast(pl.String).str.strip_chars() if dtype == pl.String else pl.col(name).cast(dtype, strict=False)
            )
        return pl.repeat(None, pl.len(), dtype=dtype)  # full height even when no input column exists

    use = (
        pl.col("__lat").is_not_null()
        & pl.col("__lon").is_not_null()
        & ~((pl.col("__lat") == 0) & (pl.col("__lon") == 0))
        & ~pl.col("__level").is_in(list(AREA_LEVELS)).fill_null(False)
    )
    try:
        # one key per row: the text fields for a row resolved by name, the coordinates for
        # a row resolved by coordinates (the other half nulled), so one join brings every row back
        keys = (
            df.lazy()
            .select(
                col(place_col, pl.String).alias("__place"),
                (col(postal_col, pl.Int64).cast(pl.String) if _is_numeric(df, postal_col) else col(postal_col, pl.String)).alias(
                    "__postal"
                ),
                col(area_level_col, pl.String).str.to_lowercase().alias("__level"),
                col(lat_col, pl.Float64).alias("__lat"),
                col(lon_col, pl.Float64).alias("__lon"),
            )
            .select(
                use.alias("__use"),
                *(pl.when(~use).then(pl.col(c)).alias(c) for c in ("__place", "__postal", "__level")),
                *(pl.when(use).then(pl.col(c)).alias(c) for c in ("__lat", "__lon")),
            )
            .collect()
        )
    except pl.exceptions.PolarsError as exc:
        raise GeoError(f"resolve_places: cannot read the location columns: {exc}") from exc
    key_cols = ["__use", "__place", "__postal", "__level", "__lat", "__lon"]
    # the join back runs on one 64-bit hash of the key instead of six columns (a tenth of the
    # memory on a large table), unless two distinct keys happen to share a hash
    keys = keys.with_columns(pl.struct(key_cols).hash(seed=0).alias("__key"))
    distinct = keys.unique(subset=key_cols)
    if distinct["__key"].n_unique() == distinct.height:
        keys, join_on = keys.select("__key"), ["__key"]
    else:
        join_on = key_cols
    text_keys = distinct.filter(~pl.col("__use"))
    text_rows = [
        _resolve_text_cached(p, _clean_postal(pc), lv, threshold)
        for p, pc, lv in text_keys.select("__place", "__postal", "__level").iter_rows()
    ]
    coord_keys = distinct.filter(pl.col("__use"))
    resolved = pl.concat(
        [
            text_keys.hstack(_rows_frame([dict(r) for r in text_rows])),
            coord_keys.hstack(
                _coords_frame(coord_keys["__lat"].to_numpy(), coord_keys["__lon"].to_numpy())
                if coord_keys.height
                else pl.DataFrame(schema=RESOLUTION_COLUMNS)
            ),
        ],
        how="vertical",
    )
    return (
        keys.lazy()
        .join(resolved.lazy(), on=join_on, how="left", nulls_equal=True, maintain_order="left")
        .select(list(RESOLUTION_COLUMNS))
        .collect()
    )


def _is_numeric(df: pl.DataFrame, name: str) -> bool:
    return name in df.columns and df.schema[name].is_numeric()


def _rows_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=RESOLUTION_COLUMNS, orient="row") if rows else pl.DataFrame(schema=RESOLUTION_COLUMNS)


def geocode_table(df: pl.DataFrame, *, fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD) -> pl.DataFrame:
    """``postmortem geocode --csv``: resolve a table with any of ``place``, ``postal_code``, ``lat``, ``lon``.

    Returns the table row for row with the resolution columns added. A table with none of
    the four columns is an error (nothing to resolve).
    """
    known = {"place", "postal_code", "lat", "lon", "area_level"}
    if not known & set(df.columns):
        raise GeoError(
            f"geocode: the table needs at least one of the columns place, postal_code, lat, lon; it has {', '.join(df.columns)}"
        )
    return resolve_places(df, place_col="place", fuzzy_threshold=fuzzy_threshold)


def format_resolution(res: dict[str, Any], *, place: str | None = None) -> str:
    """One line describing a resolution, for the command line."""
    head = f"{place!r} → " if place is not None else ""
    method = res.get("geo_method")
    score = res.get("geo_score")
    how = f"[{method}{f' {score:.2f}' if isinstance(score, float) else ''}]"
    note = f" ({res['geo_note']})" if res.get("geo_note") else ""
    if method in ("unresolved", "ambiguous"):
        return f"{head}{method}{note}"
    if res.get("municipality"):
        where = ", ".join(x for x in (res.get("province"), res.get("region")) if x)
        return f"{head}{res['municipality']} (NIS {res['nis_code']}; {where}) {how}{note}"
    label = res.get("province") or res.get("region") or "Belgium"
    return f"{head}{label} (area {res['nis_code']}) {how}{note}"
