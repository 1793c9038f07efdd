"""The words of place names: postal-code and coordinate patterns, area and administrative words, domain words that are not places, foreign countries."""

from __future__ import annotations

import re

import polars as pl

from analysis.geo.normalize import compact_key

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

_SCORE = {"exact": 1.0, "alias": 0.97, "sector": 0.93, "section": 0.93, "postal_code": 1.0, "coordinates": 1.0, "area": 1.0}
_RANK = {"exact": 0, "alias": 1, "sector": 2, "section": 3}

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
