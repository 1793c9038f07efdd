"""Report language: labels, sentences and dates in English, French and Dutch.

One dictionary per language; a key missing in French or Dutch falls back to English so a
new label never breaks a report. Dates are formatted here (no locale of the machine is
used: a scheduler's locale must not change a report).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
}
MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    "nl": (
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ),
}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "contents": "Contents",
        "run": "Run",
        "generated": "generated",
        "coverage_line": "{n_reports} records from {n_sources} source(s), {first} to {last}; {n_rejected} rows rejected, {n_unresolved} places unresolved.",
        "trust_title": "How much to trust this",
        "summary": "Executive summary",
        "impact": "Impact and time metrics",
        "timeline": "Timeline",
        "recovery": "Recovery",
        "geography": "Geography",
        "data_quality": "Data quality",
        "methods": "Methods and assumptions",
        "provenance": "Provenance",
        "simulated_banner": "Simulated incident: every number on this page comes from synthetic data generated with known truth. It is not a real outage.",
        "onset": "Onset",
        "t50": "Half restored (t50)",
        "t90": "90% restored (t90)",
        "t99": "99% restored (t99)",
        "mean_outage": "Mean outage per affected customer",
        "tail_fraction": "Slow-tail fraction",
        "reports": "Reports",
        "minutes": "min",
        "hours": "h",
        "after_onset": "after onset",
        "not_estimable": "not estimable",
        "no_fit": "No recovery curve could be fitted: {error}",
        "declared_gap": "Declared resolved at {time}; an estimated {pct} [{lo}–{hi}] of affected customers were still without service. The last report came at {last}.",
        "still_affected": "still affected",
        "event": "Event",
        "time": "Time",
        "kind": "Kind",
        "source": "Source",
        "metric": "Metric",
        "value": "Value",
        "interval": "Interval",
        "what_happened": "What happened",
        "caption_timeline": "Reports per interval, in local time. Solid bars: reports with a known time. Light bars: reports known only within a window, spread evenly over it. Numbered markers match the events table.",
        "caption_recovery": "Estimated share of affected customers still without service after onset (line) with its {level} band; dashed lines mark announcements with the share still affected at that moment.",
        "caption_map": "Where reports came from. Circle size is the number of reports per municipality; area-level statements (provinces, regions) are listed below the map, not drawn as points.",
        "rejects_none": "No row was rejected.",
        "unresolved_none": "Every place was resolved.",
        "sources": "Sources",
        "rejects_by_reason": "Rejected rows by reason",
        "unresolved_places": "Unresolved places",
        "windows": "Reports known only within a time window",
        "coverage": "Coverage",
        "parameters": "Parameters",
        "inputs": "Input files",
        "packages": "Packages",
        "code_version": "Code version",
    },
    "fr": {
        "contents": "Sommaire",
        "run": "Exécution",
        "generated": "générée",
        "coverage_line": "{n_reports} enregistrements de {n_sources} source(s), du {first} au {last} ; {n_rejected} lignes rejetées, {n_unresolved} lieux non résolus.",
        "trust_title": "Quelle confiance accorder à ce rapport",
        "summary": "Résumé",
        "impact": "Impact et délais",
        "timeline": "Chronologie",
        "recovery": "Rétablissement",
        "geography": "Géographie",
        "data_quality": "Qualité des données",
        "methods": "Méthodes et hypothèses",
        "provenance": "Provenance",
        "simulated_banner": "Incident simulé : tous les chiffres de cette page proviennent de données synthétiques dont la vérité est connue. Ce n'est pas une panne réelle.",
        "onset": "Début",
        "t50": "Moitié rétablie (t50)",
        "t90": "90 % rétablis (t90)",
        "t99": "99 % rétablis (t99)",
        "mean_outage": "Durée moyenne de coupure par client touché",
        "tail_fraction": "Part de la traîne lente",
        "reports": "Signalements",
        "minutes": "min",
        "hours": "h",
        "after_onset": "après le début",
        "not_estimable": "non estimable",
        "no_fit": "Aucune courbe de rétablissement n'a pu être ajustée : {error}",
        "declared_gap": "Déclarée résolue à {time} ; environ {pct} [{lo}–{hi}] des clients touchés étaient encore sans service. Le dernier signalement est arrivé à {last}.",
        "still_affected": "encore touchés",
        "event": "Événement",
        "time": "Heure",
        "kind": "Type",
        "source": "Source",
        "metric": "Indicateur",
        "value": "Valeur",
        "interval": "Intervalle",
        "what_happened": "Ce qui s'est passé",
        "caption_timeline": "Signalements par intervalle, en heure locale. Barres pleines : heure connue. Barres claires : signalements connus seulement dans une fenêtre, répartis uniformément. Les numéros renvoient au tableau des événements.",
        "caption_recovery": "Part estimée des clients touchés encore sans service après le début (ligne), avec sa bande à {level} ; les traits pointillés marquent les annonces et la part encore touchée à ce moment.",
        "caption_map": "Origine des signalements. La taille du cercle est le nombre de signalements par commune ; les mentions de provinces ou régions sont listées sous la carte, pas dessinées comme des points.",
        "rejects_none": "Aucune ligne rejetée.",
        "unresolved_none": "Tous les lieux ont été résolus.",
        "sources": "Sources",
        "rejects_by_reason": "Lignes rejetées par motif",
        "unresolved_places": "Lieux non résolus",
        "windows": "Signalements connus seulement dans une fenêtre de temps",
        "coverage": "Couverture",
        "parameters": "Paramètres",
        "inputs": "Fichiers d'entrée",
        "packages": "Paquets",
        "code_version": "Version du code",
    },
    "nl": {
        "contents": "Inhoud",
        "run": "Run",
        "generated": "gemaakt",
        "summary": "Samenvatting",
        "impact": "Impact en tijden",
        "timeline": "Tijdlijn",
        "recovery": "Herstel",
        "geography": "Geografie",
        "data_quality": "Datakwaliteit",
        "methods": "Methoden en aannames",
        "provenance": "Herkomst",
        "trust_title": "Hoeveel vertrouwen verdient dit",
        "onset": "Begin",
        "t50": "Helft hersteld (t50)",
        "t90": "90% hersteld (t90)",
        "t99": "99% hersteld (t99)",
        "mean_outage": "Gemiddelde onderbreking per getroffen klant",
        "tail_fraction": "Aandeel trage staart",
        "reports": "Meldingen",
        "after_onset": "na het begin",
        "not_estimable": "niet te schatten",
        "still_affected": "nog getroffen",
        "event": "Gebeurtenis",
        "time": "Tijd",
        "value": "Waarde",
        "interval": "Interval",
        "declared_gap": "Opgelost verklaard om {time}; naar schatting {pct} [{lo}–{hi}] van de getroffen klanten had toen nog geen dienst. De laatste melding kwam om {last}.",
        "simulated_banner": "Gesimuleerd incident: alle cijfers op deze pagina komen uit synthetische data met gekende waarheid. Het is geen echte storing.",
    },
}


def text(language: str, key: str, **values: Any) -> str:
    """The label ``key`` in ``language`` (English if missing), formatted with ``values``."""
    template = TEXT.get(language, {}).get(key) or TEXT["en"][key]
    return template.format(**values) if values else template


def format_time(t: dt.datetime | None, tz: str, language: str = "en", *, with_day: bool = True) -> str:
    """A UTC time as local wall-clock text: 'Monday 8 January 2018, 20:00 CET'."""
    if t is None:
        return "—"
    local = t.astimezone(ZoneInfo(tz))
    clock = f"{local:%H:%M}"
    abbrev = local.tzname() or ""
    if not with_day:
        return f"{clock} {abbrev}".strip()
    day = DAYS.get(language, DAYS["en"])[local.weekday()]
    month = MONTHS.get(language, MONTHS["en"])[local.month - 1]
    sep = ", " if language == "en" else " à " if language == "fr" else " om "
    return f"{day} {local.day} {month} {local.year}{sep}{clock} {abbrev}".strip()


def format_duration(minutes: float | None, language: str = "en") -> str:
    """Minutes as '45 min', '2 h 05', '1 d 3 h' (non-finite: an en dash)."""
    import math

    if minutes is None or not math.isfinite(minutes):
        return "—"
    m = round(minutes)
    if m < 90:
        return f"{m} min"
    h, mm = divmod(m, 60)
    if h < 48:
        return f"{h} h {mm:02d}"
    d, hh = divmod(h, 24)
    day = {"en": "d", "fr": "j", "nl": "d"}.get(language, "d")
    return f"{d} {day} {hh} h"


def format_percent(x: float | None, digits: int = 0) -> str:
    """A fraction as a percentage ('37%'); non-finite: an en dash."""
    import math

    if x is None or not math.isfinite(x):
        return "—"
    return f"{100 * x:.{digits}f}%"
