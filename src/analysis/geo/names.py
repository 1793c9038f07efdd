"""Matching a written name to municipalities (exact, alias, section, fuzzy) and to provinces, regions and the country."""

from __future__ import annotations

from typing import Any

from analysis.geo.index import _empty, _Index, _Match
from analysis.geo.normalize import compact_key, split_parts, tokens
from analysis.geo.reference import (
    COUNTRY_CODE,
    REGION_NAMES,
)
from analysis.geo.words import (
    _ADMIN_PREFIX,
    _ADMIN_SUFFIX,
    _AREA_GLUE,
    _AREA_WORDS,
    _DOMAIN_WORDS,
    _FOREIGN_COUNTRIES,
    _RANK,
    _SCORE,
    _TEXT_WORDS,
)

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
    """Exact → alias → Statbel sector → section on the whole string and its parts; fuzzy; then words inside it."""
    whole = compact_key(text)
    if not whole:
        return _NameResult(note="no letters in the place")
    if whole in _DOMAIN_WORDS:
        return _NameResult(note=f"'{text}' is not a place")
    # 1. the whole string, then without administrative words; a short form of a compound
    #    municipality name ("Molenbeek") beats a village of that name ten times smaller
    for key in [whole, *(compact_key(v) for v in _strip_admin(text))]:
        hit = _one_key(key, text, idx, allowed)
        if hit is not None:
            return hit
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
    #    An exact name of a statistical section (a former municipality) that one municipality
    #    holds beats an approximate match or a word inside it: "Meilegem" is Zwalm's section, not
    #    Meigem in Deinze; "Les Forges" Sprimont's, not the Forges of Chimay
    exact_section = idx.section_fallback(whole) if allowed is None else None
    fuzzy = _NameResult()
    if fuzzy_threshold <= 100:
        fuzzy = _fuzzy(text, whole, idx, allowed=allowed, threshold=fuzzy_threshold)
        if fuzzy.match is not None and exact_section is not None and exact_section.nis != fuzzy.match.nis:
            return _section_name_result(exact_section, idx)
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
            if exact_section is not None and exact_section.nis != m.nis:
                return _section_name_result(exact_section, idx)
            return _NameResult(m, s, note="name found inside a longer text")
        if len(found2) > 1:
            return _resolve_several(list(found2.values()), text)
    return fuzzy


def _one_key(key: str, text: str, idx: _Index, allowed: set[str] | None) -> _NameResult | None:
    """The whole string's key (or a variant): a municipality, the competing ones, or None when the key names nothing."""
    m, cands = _choose(idx.lookup_with_sectors(key, allowed), allowed=allowed)
    short, short_cands = _choose(idx.parts.get(key, []), allowed=allowed)
    if m is not None and m.method == "sector":
        # Statbel's sectors name the section ("Heverlee" is in Leuven, not Oud-Heverlee),
        # unless the word is a shared part of several municipality names ("Woluwe")
        if m.nis in {c.nis for c in short_cands}:
            return _NameResult(candidates=short_cands, note=f"'{text}' names places in several municipalities")
        return _NameResult(m, _SCORE["sector"], note=f"section '{m.name}' of {idx.munis[m.nis]['name']} (Statbel sectors)")
    # a short form of a compound municipality name ("Molenbeek") beats a village of that name ten times smaller
    pick = short if short is not None and (m is None or (m.method == "section" and m.population * 10 < short.population)) else m
    if pick is not None and (doubt := _section_elsewhere(key, pick, idx, allowed, text)) is not None:
        return doubt
    if pick is not None and pick is short:
        return _NameResult(short, 0.9, note=f"short form of {short.name}")
    if m is not None:
        return _NameResult(m, _SCORE[m.method])
    if cands or short_cands:
        return _NameResult(candidates=cands or short_cands, note=f"'{text}' names places in several municipalities")
    return None


def _section_name_result(sec: _Match, idx: _Index) -> _NameResult:
    """A place resolved by the exact name of a statistical section its municipality alone holds."""
    return _NameResult(sec, _SCORE["sector"], note=f"section '{sec.name}' of {idx.munis[sec.nis]['name']} (Statbel sections)")


def _section_elsewhere(key: str, pick: _Match, idx: _Index, allowed: set[str] | None, text: str) -> _NameResult | None:
    """Ambiguous when a bare name is a statistical section of one municipality and another name elsewhere.

    "Berchem" is a section of Kluisbergen in Statbel's list and a district of Antwerp (and the
    short form of Berchem-Sainte-Agathe); "Werm" a section of Hoeselt and Waremme's Walloon
    name. Without a postal code or a province (``allowed``) nothing in the string tells which
    is meant, so neither is guessed. An official municipality name still wins ("Hamme", also
    a section of Merchtem, is Hamme); so does the section's own municipality.
    """
    if allowed is not None or pick.method == "exact":
        return None
    sec = idx.section_of(key)
    if sec is None or sec.nis == pick.nis:
        return None
    here, there = idx.munis[sec.nis]["name"], idx.munis[pick.nis]["name"]
    return _NameResult(
        candidates=[pick, sec],
        note=f"'{text}' is a section of {here} (Statbel) and also names a place in {there}; "
        "a postal code or a province would tell which",
    )


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
        best = [b for b in best if any(m.nis in allowed for m in idx.fuzzy_matches(b[0]))]
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
        matches += idx.fuzzy_matches(k)
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
