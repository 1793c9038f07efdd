"""Figure and map labels in the reader's language.

The figure builders (:mod:`analysis.figures`, :mod:`analysis.maps`) write their labels in
English; when a figure is shown on a French or Dutch page, :func:`translate_figure` replaces
the known phrases in every label, legend, hover text, annotation and button of the figure
(never in its data). Region and province names are the official ones in each language;
weekday and month abbreviations written by Python come from CLDR (Babel), like plotly's own
axis dates (:func:`analysis.htmlexport.plotly_locale_js`).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

# English phrase → (French, Dutch). Longer phrases first where one contains another.
PHRASES: dict[str, tuple[str, str]] = {
    "Onset (configured)": ("Début (configuré)", "Begin (ingesteld)"),
    "Onset (estimated)": ("Début (estimé)", "Begin (geschat)"),
    "Half of affected customers back (t50)": (
        "La moitié des clients touchés rétablis (t50)",
        "Helft van de getroffen klanten terug (t50)",
    ),
    "90% back (t90)": ("90 % rétablis (t90)", "90% terug (t90)"),
    "Out below 50% of the peak (t50)": (
        "Moins de 50 % du pic sans service (t50)",
        "Minder dan 50% van de piek zonder dienst (t50)",
    ),
    "Out below 10% of the peak (t90)": (
        "Moins de 10 % du pic sans service (t90)",
        "Minder dan 10% van de piek zonder dienst (t90)",
    ),
    "First down report": ("Premier signalement de panne", "Eerste storingsmelding"),
    "Last down report": ("Dernier signalement de panne", "Laatste storingsmelding"),
    "Municipal boundaries are approximate (derived from judicial cantons and GeoNames places).": (
        "Limites communales approximatives (dérivées des cantons judiciaires et des lieux GeoNames).",
        "Gemeentegrenzen bij benadering (afgeleid uit gerechtelijke kantons en GeoNames-plaatsen).",
    ),
    "known only within a window (spread evenly)": (
        "connus seulement dans une fenêtre (répartis uniformément)",
        "alleen binnen een tijdvenster bekend (gelijk gespreid)",
    ),
    "reports per 10,000 inhabitants (population estimate)": (
        "signalements pour 10 000 habitants (population estimée)",
        "meldingen per 10.000 inwoners (geschatte bevolking)",
    ),
    "per 10,000 inhabitants (population estimate)": (
        "pour 10 000 habitants (population estimée)",
        "per 10.000 inwoners (geschatte bevolking)",
    ),
    "estimate (median over the models)": ("estimation (médiane des modèles)", "schatting (mediaan over de modellen)"),
    "hours after onset, last down report": (
        "heures après le début, dernier signalement de panne",
        "uren na het begin, laatste storingsmelding",
    ),
    "observed (window, allocated)": ("observé (fenêtre, réparti)", "waargenomen (venster, verdeeld)"),
    "observed (known time)": ("observé (heure connue)", "waargenomen (tijdstip bekend)"),
    "reports with a known time": ("signalements à l'heure connue", "meldingen met gekend tijdstip"),
    "restorations with a known time": ("rétablissements à l'heure connue", "herstellingen met gekend tijdstip"),
    "still affected": ("encore touchés", "nog getroffen"),
    "restorations": ("rétablissements", "herstellingen"),
    "affected customers still without service (%)": (
        "clients touchés encore sans service (%)",
        "getroffen klanten nog zonder dienst (%)",
    ),
    "share of customers out (%)": ("part des clients privés de service (%)", "aandeel klanten zonder dienst (%)"),
    "share of customers (%)": ("part des clients (%)", "aandeel klanten (%)"),
    "% of peak": ("% du pic", "% van de piek"),
    "still without service": ("encore sans service", "nog zonder dienst"),
    "customers out (measured)": ("clients privés de service (mesurés)", "klanten zonder dienst (gemeten)"),
    "last 'still down' report": ("dernier signalement « toujours en panne »", "laatste melding 'nog steeds uit'"),
    "reports in the hour": ("signalements dans l'heure", "meldingen in het uur"),
    "report(s) this hour": ("signalement(s) cette heure", "melding(en) dit uur"),
    "Belgium (whole country)": ("Belgique (tout le pays)", "België (heel het land)"),
    "observed ÷ expected": ("observé ÷ attendu", "waargenomen ÷ verwacht"),
    "Pearson residual": ("résidu de Pearson", "Pearson-residu"),
    "observed − fitted, in standard deviations,": (
        "observé − ajusté, en écarts-types,",
        "waargenomen − aangepast, in standaardafwijkingen,",
    ),
    "Clusters (LISA)": ("Grappes (LISA)", "Clusters (LISA)"),
    "LISA cluster": ("grappe LISA", "LISA-cluster"),
    "not significant": ("non significatif", "niet significant"),
    "as expected": ("comme attendu", "zoals verwacht"),
    "more than expected": ("plus qu'attendu", "meer dan verwacht"),
    "fewer than expected": ("moins qu'attendu", "minder dan verwacht"),
    "hour from": ("heure depuis", "uur vanaf"),
    "local time": ("heure locale", "lokale tijd"),
    "own fit": ("ajustement propre", "eigen fit"),
    "pooled": ("courbe nationale", "nationale curve"),
    "national": ("national", "nationaal"),
    "fitted": ("ajusté", "aangepast"),
    "observed": ("observé", "waargenomen"),
    "(spread)": ("(réparti)", "(gespreid)"),
    "expected": ("attendu(s)", "verwacht"),
    "high-high": ("haut-haut", "hoog-hoog"),
    "high-low": ("haut-bas", "hoog-laag"),
    "low-high": ("bas-haut", "laag-hoog"),
    "low-low": ("bas-bas", "laag-laag"),
    "reports; some kept service": (
        "signalements ; une partie a gardé le service",
        "meldingen; een deel behield de dienst",
    ),
    "not affected": ("non touché", "niet getroffen"),
    "not_affected": ("non touché", "niet getroffen"),
    "partial": ("en partie", "gedeeltelijk"),
    "intermittent": ("par intermittence", "met onderbrekingen"),
    "down": ("en panne", "uit"),
    "restored": ("rétabli", "hersteld"),
    "reports": ("signalements", "meldingen"),
    "report(s)": ("signalement(s)", "melding(en)"),
    "statements": ("déclarations", "verklaringen"),
    "areas": ("zones", "gebieden"),
    "outline": ("contour", "omtrek"),
    "(origin)": ("(origine)", "(oorsprong)"),
    "event: announcement": ("événement : annonce", "gebeurtenis: aankondiging"),
    "event: action": ("événement : action", "gebeurtenis: actie"),
    "event: incident": ("événement : incident", "gebeurtenis: incident"),
    "event: other": ("événement : autre", "gebeurtenis: andere"),
    "event: onset": ("événement : début", "gebeurtenis: begin"),
    "event: data": ("événement : données", "gebeurtenis: gegevens"),
    "event: fit milestone": ("événement : jalon du modèle", "gebeurtenis: mijlpaal van het model"),
    "Last 'still down' report": ("Dernier « toujours en panne »", "Laatste 'nog steeds uit'"),
    "Observed vs expected": ("Observé / attendu", "Waargenomen / verwacht"),
    "Area t90 (pooled)": ("t90 de la zone (mis en commun)", "t90 van het gebied (samengevoegd)"),
    "Reports": ("Signalements", "Meldingen"),
    "Rate": ("Taux", "Ratio"),
    "min": ("min", "min"),
    "▶ Play": ("▶ Lecture", "▶ Afspelen"),
    "❚❚ Pause": ("❚❚ Pause", "❚❚ Pauze"),
    # regions and provinces: official names
    "Brussels-Capital Region": ("Région de Bruxelles-Capitale", "Brussels Hoofdstedelijk Gewest"),
    "Antwerp province": ("province d'Anvers", "provincie Antwerpen"),
    "Flemish Brabant": ("Brabant flamand", "Vlaams-Brabant"),
    "Walloon Brabant": ("Brabant wallon", "Waals-Brabant"),
    "East Flanders": ("Flandre-Orientale", "Oost-Vlaanderen"),
    "West Flanders": ("Flandre-Occidentale", "West-Vlaanderen"),
    "Flanders": ("Flandre", "Vlaanderen"),
    "Wallonia": ("Wallonie", "Wallonië"),
    "Brussels": ("Bruxelles", "Brussel"),
    "Antwerp": ("Anvers", "Antwerpen"),
    "Limburg": ("Limbourg", "Limburg"),
    "Hainaut": ("Hainaut", "Henegouwen"),
    "Luxembourg": ("Luxembourg", "Luxemburg"),
    "Liège": ("Liège", "Luik"),
    "Namur": ("Namur", "Namen"),
    "Belgium": ("Belgique", "België"),
    "province": ("province", "provincie"),
    "region": ("région", "gewest"),
    "country": ("pays", "land"),
}
_PATTERNS: dict[str, list[tuple[re.Pattern[str], str]]] = {}


def _rules(language: str) -> list[tuple[re.Pattern[str], str]]:
    if language not in _PATTERNS:
        i = {"fr": 0, "nl": 1}[language]
        rules = [
            (re.compile(r"(\d+)% band"), r"bande à \1 %" if language == "fr" else r"\1%-band"),
            (
                re.compile(r"(\d+) more statement\(s\) concern the whole country"),
                r"\1 autre(s) déclaration(s) visent tout le pays"
                if language == "fr"
                else r"\1 andere verklaring(en) over heel het land",
            ),
            (re.compile(r"per (\d+) min"), r"par \1 min" if language == "fr" else r"per \1 min"),
        ]
        for en in sorted(PHRASES, key=len, reverse=True):
            rules.append((re.compile(rf"(?<![\w/-]){re.escape(en)}(?![\w-])"), PHRASES[en][i].replace("\\", r"\\")))
        _PATTERNS[language] = rules
    return _PATTERNS[language]


@cache
def _day_names(language: str) -> dict[str, str]:
    from babel import Locale

    from analysis.i18n import cldr_locale

    loc = Locale.parse(cldr_locale(language))
    days = dict(
        zip(
            ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
            (loc.days["format"]["abbreviated"][i] for i in range(7)),
            strict=True,
        )
    )
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return days | {m: loc.months["format"]["abbreviated"][i + 1] for i, m in enumerate(months)}


_DAY = re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b(?= ?\d)")
_PLOTLY_FORMAT = re.compile(r"%\{[^}]*\}|%[a-zA-Z]|<[^>]+>")


#: An event marker's hover: '3. Mon 08 Jan 21:15 — <label written in incident.toml>'.
_EVENT = re.compile(r"^(\d+\. [^—]*— )(.*)$", re.S)
CODE_LABELS = (
    "Onset (configured)",
    "Onset (estimated)",
    "First down report",
    "Last down report",
    "Half of affected customers back (t50)",
    "90% back (t90)",
    "Out below 50% of the peak (t50)",
    "Out below 10% of the peak (t90)",
)


#: Region, province and country names this module knows in French and Dutch.
AREAS = (
    "Brussels-Capital Region",
    "Antwerp province",
    "Flemish Brabant",
    "Walloon Brabant",
    "East Flanders",
    "West Flanders",
    "Flanders",
    "Wallonia",
    "Brussels",
    "Antwerp",
    "Limburg",
    "Hainaut",
    "Luxembourg",
    "Liège",
    "Namur",
    "Belgium",
)


def area_name(name: str | None, language: str) -> str:
    """A region, province or country name in ``language`` (official names); others unchanged."""
    if not name or language not in ("fr", "nl") or name not in AREAS:
        return name or ""
    return PHRASES[name][0 if language == "fr" else 1]


def translate_text(value: str, language: str) -> str:
    """``value`` with its known English phrases in ``language`` (plotly placeholders and markup kept).

    An event's label is the analyst's text from ``incident.toml``: only the date before it is
    translated, never words inside it (a half-translated sentence reads worse than English).
    """
    if language not in ("fr", "nl") or not value:
        return value
    if "<br>" in value and _EVENT.match(value):  # several markers at one place: one event per line
        return "<br>".join(translate_text(line, language) for line in value.split("<br>"))
    event = _EVENT.match(value)
    if event and event.group(2) not in CODE_LABELS:
        return _translate(event.group(1), language) + event.group(2)
    return _translate(value, language)


def _translate(
    value: str, language: str
) -> str:  # keep plotly placeholders (%{y:.0f}, %a) and tags out of reach of the phrase rules
    kept: list[str] = []

    def hold(m: re.Match[str]) -> str:
        kept.append(m.group(0))
        return f"\x00{len(kept) - 1}\x00"

    out = _PLOTLY_FORMAT.sub(hold, value)
    names = _day_names(language)
    out = _DAY.sub(lambda m: names[m.group(1)], out)
    for pattern, repl in _rules(language):
        out = pattern.sub(repl, out)
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], out)


#: Keys of a figure whose strings are labels (the rest is data, ids, colours, settings).
_TEXT_KEYS = {"name", "text", "title", "hovertext", "hovertemplate", "label", "legendgrouptitle", "ticktext", "prefix"}
_SKIP_KEYS = {"geojson", "locations", "customdata", "ids", "x", "y", "z", "lat", "lon", "featureidkey", "meta", "uid"}


def translate_figure(fig: dict[str, Any], language: str) -> dict[str, Any]:
    """A figure dict with every label translated; data arrays are left alone. English: unchanged."""
    if language not in ("fr", "nl"):
        return fig

    def walk(o: Any, key: str = "") -> Any:
        if key == "frames" and isinstance(o, list):  # frame names are what the slider's steps point at
            return [{k: (v if k == "name" else walk(v, k)) for k, v in f.items()} if isinstance(f, dict) else f for f in o]
        if key == "args" and isinstance(o, list):  # a button's or step's arguments: frame names stay, restyles are walked
            return [walk(v, "restyle") if isinstance(v, dict) else v for v in o]
        if isinstance(o, dict):
            return {k: (v if k in _SKIP_KEYS else walk(v, k)) for k, v in o.items()}
        if isinstance(o, list):
            return [walk(v, key) for v in o]
        if isinstance(o, tuple):
            return tuple(walk(v, key) for v in o)
        if isinstance(o, str) and key in _TEXT_KEYS:
            return translate_text(o, language)
        return o

    return walk(fig)
