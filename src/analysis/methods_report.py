"""The Methods and Provenance sections: the model in plain words and formulas per kind of evidence, the run's record.

The Methods text exists in en, fr and nl for each kind of evidence (down reports,
restoration records, a customers-out series); the estimators' own sentences (the interval
method) go through :func:`analysis.sentences.localized_html`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from analysis import series_report
from analysis.i18n import TEXT, format_percent, format_time, text
from analysis.narrative import heading, table
from analysis.privacy import esc
from analysis.sentences import localized_html

if TYPE_CHECKING:
    from analysis.pipeline import Analysis

_CHOICE_AND_INTERVALS = """
Candidate families for S (exponential, Weibull, log-normal, log-logistic, gamma, a two-component mixture
with a slow tail, each optionally with a delay before restoration starts) are compared by
AIC = 2k − 2 log L, or by QAIC = 2k − 2 log L / ĉ when the data are more variable than the model allows
(ĉ, the overdispersion, is estimated from the data); the best is drawn and every candidate is listed
with its weight. Intervals come from a parametric bootstrap that shares its replicates among the
candidates by their weights: each replicate is simulated from its model, refitted, and the interval is
the central range of all refitted values, so the doubt about which model is right is in the interval.</p>
"""

_CHOICE_AND_INTERVALS_FR = """
Les familles candidates pour S (exponentielle, Weibull, log-normale, log-logistique, gamma, un mélange à deux
composantes avec une queue lente, chacune avec un délai facultatif avant le début du rétablissement) sont
comparées par l'AIC = 2k − 2 log L, ou par le QAIC = 2k − 2 log L / ĉ quand les données varient plus que le
modèle ne le permet (ĉ, la surdispersion, est estimée à partir des données) ; la meilleure est tracée et
chaque candidate est listée avec son poids. Les intervalles viennent d'un bootstrap paramétrique qui
partage ses réplications entre les candidates selon leurs poids : chaque réplication est simulée à partir
de son modèle, réajustée, et l'intervalle est la plage centrale de toutes les valeurs réajustées ; le doute
sur le bon modèle est donc dans l'intervalle.</p>
"""

_CHOICE_AND_INTERVALS_NL = """
Kandidaat-families voor S (exponentieel, Weibull, lognormaal, log-logistisch, gamma, een mengsel van twee
componenten met een trage staart, elk met een optionele vertraging voor het herstel begint) worden
vergeleken met AIC = 2k − 2 log L, of met QAIC = 2k − 2 log L / ĉ wanneer de gegevens meer variëren dan het
model toelaat (ĉ, de overdispersie, wordt uit de gegevens geschat); de beste wordt getekend en elke
kandidaat staat in de lijst met zijn gewicht. De intervallen komen uit een parametrische bootstrap die zijn
replicaties over de kandidaten verdeelt volgens hun gewicht: elke replicatie wordt gesimuleerd uit haar
model en opnieuw aangepast, en het interval is het centrale bereik van alle opnieuw aangepaste waarden;
de twijfel over welk model juist is, zit dus in het interval.</p>
"""

#: The Methods text in French and Dutch, per kind of evidence (English in :data:`METHOD_TEXT`).
METHOD_TEXT_I18N: dict[str, dict[str, str]] = {
    "fr": {
        "down_reports": """
<p>La grandeur d'intérêt est <b>S(t)</b>, la part des clients touchés encore sans service <i>t</i>
minutes après le début. Les signalements de panne n'observent pas S directement : si chaque client encore
touché signale à un petit taux qui dépend de l'heure, l'intensité des signalements est</p>
<p style="text-align:center"><code>λ(t) = A · g(heure(t)) · S(t − début)</code></p>
<p>où <i>g</i> est la propension à signaler selon l'heure locale (les gens dorment : un signalement à 3 h
pèse plus qu'un à 20 h 30) et <i>A</i> une échelle. Le modèle est ajusté par maximum de vraisemblance sur
les comptes de Poisson de fins intervalles de temps ; un signalement connu seulement dans une fenêtre
contribue l'intégrale de λ sur cette fenêtre."""
        + _CHOICE_AND_INTERVALS_FR,
        "restorations": """
<p>La grandeur d'intérêt est <b>S(t)</b>, la part des clients touchés encore sans service <i>t</i>
minutes après le début. Les relevés de rétablissement l'observent directement : un client vu rétabli à
l'instant <i>t</i> apporte la densité f(t) ; un client revenu entre <i>a</i> et <i>b</i> apporte
S(a) − S(b) (censure par intervalle) ; un client encore privé de service lors du dernier relevé en
<i>c</i> apporte S(c) (censure à droite : jamais supposé rétabli). Le modèle est ajusté par maximum de
vraisemblance, et une courbe non paramétrique (Kaplan–Meier, ou Turnbull avec des intervalles) est
tracée à côté comme contrôle."""
        + _CHOICE_AND_INTERVALS_FR,
        "online_fraction": """
<p>La grandeur d'intérêt est <b>S(t)</b>, la part des clients touchés encore sans service <i>t</i>
minutes après le début. Une série mesurée de la part des clients privés de service l'observe
directement, à la part <i>c</i> des clients touchés et au bruit de mesure près :</p>
<p style="text-align:center"><code>privés(t) = c · S(t − début) + ε(t)</code></p>
<p>où ε est un bruit autocorrélé (un processus d'Ornstein–Uhlenbeck : une carte des pannes relevée
automatiquement dérive au lieu de sauter à chaque relevé). Les relevés qui ressemblent à des pannes du
flux (chutes isolées vers zéro, plateaux figés) sont signalés et écartés. Le modèle est ajusté par
maximum de vraisemblance."""
        + _CHOICE_AND_INTERVALS_FR,
    },
    "nl": {
        "down_reports": """
<p>De te schatten grootheid is <b>S(t)</b>, het aandeel getroffen klanten dat <i>t</i> minuten na het
begin nog zonder dienst is. Storingsmeldingen nemen S niet rechtstreeks waar: als elke nog getroffen klant
meldt met een kleine intensiteit die afhangt van het uur, is de meldingsintensiteit</p>
<p style="text-align:center"><code>λ(t) = A · g(uur(t)) · S(t − begin)</code></p>
<p>waarbij <i>g</i> de meldingsbereidheid per lokaal uur is (mensen slapen: een melding om 3 uur weegt
zwaarder dan een om 20.30 uur) en <i>A</i> een schaal. Het model wordt aangepast met maximale
aannemelijkheid op de Poissontellingen van fijne tijdsintervallen; een melding die alleen binnen een
tijdvenster bekend is, draagt de integraal van λ over dat venster bij."""
        + _CHOICE_AND_INTERVALS_NL,
        "restorations": """
<p>De te schatten grootheid is <b>S(t)</b>, het aandeel getroffen klanten dat <i>t</i> minuten na het
begin nog zonder dienst is. Herstelregistraties nemen het rechtstreeks waar: een klant die op tijdstip
<i>t</i> weer dienst heeft, draagt de dichtheid f(t) bij; een klant die tussen <i>a</i> en <i>b</i>
terugkwam, draagt S(a) − S(b) bij (intervalgecensureerd); een klant die bij de laatste waarneming op
<i>c</i> nog zonder dienst was, draagt S(c) bij (rechtsgecensureerd, nooit als hersteld aangenomen). Het
model wordt aangepast met maximale aannemelijkheid, en een niet-parametrische curve (Kaplan–Meier, of
Turnbull bij intervallen) wordt ernaast getekend als controle."""
        + _CHOICE_AND_INTERVALS_NL,
        "online_fraction": """
<p>De te schatten grootheid is <b>S(t)</b>, het aandeel getroffen klanten dat <i>t</i> minuten na het
begin nog zonder dienst is. Een gemeten reeks van het aandeel klanten zonder dienst neemt het
rechtstreeks waar, op het aandeel <i>c</i> getroffen klanten en meetruis na:</p>
<p style="text-align:center"><code>zonder(t) = c · S(t − begin) + ε(t)</code></p>
<p>waarbij ε gecorreleerde ruis is (een Ornstein–Uhlenbeckproces: een automatisch uitgelezen
storingskaart dwaalt af in plaats van bij elke meting onafhankelijk te springen). Metingen die op een
storing van de gegevensstroom lijken (losse dalingen tot bijna nul, bevroren plateaus) worden gemarkeerd
en weggelaten. Het model wordt aangepast met maximale aannemelijkheid."""
        + _CHOICE_AND_INTERVALS_NL,
    },
}

#: The model in plain words and formulas, per kind of evidence the curve was fitted to.
METHOD_TEXT: dict[str, str] = {
    "down_reports": """
<p>The quantity of interest is <b>S(t)</b>, the share of affected customers still without service
<i>t</i> minutes after onset. Down reports do not observe S directly: if every still-affected
customer reports at a small rate that depends on the clock hour, the report intensity is</p>
<p style="text-align:center"><code>λ(t) = A · g(hour(t)) · S(t − onset)</code></p>
<p>where <i>g</i> is the reporting propensity by local hour (people sleep: a report at 03:00 weighs more
than one at 20:30) and <i>A</i> a scale. The model is fitted by maximum likelihood on the Poisson counts of
fine time bins; a report known only within a window contributes the integral of λ over that window."""
    + _CHOICE_AND_INTERVALS,
    "restorations": """
<p>The quantity of interest is <b>S(t)</b>, the share of affected customers still without service
<i>t</i> minutes after onset. Restoration records observe it directly: a customer seen back at time
<i>t</i> contributes the density f(t); one known to have come back between <i>a</i> and <i>b</i>
contributes S(a) − S(b) (interval-censored); one still out when last seen at <i>c</i> contributes S(c)
(right-censored, never assumed restored). The model is fitted by maximum likelihood, and a
nonparametric curve (Kaplan–Meier, or Turnbull with intervals) is drawn beside it as a check."""
    + _CHOICE_AND_INTERVALS,
    "online_fraction": """
<p>The quantity of interest is <b>S(t)</b>, the share of affected customers still without service
<i>t</i> minutes after onset. A measured series of the share of customers out observes it directly,
up to the share <i>c</i> of customers the outage hit and measurement noise:</p>
<p style="text-align:center"><code>out(t) = c · S(t − onset) + ε(t)</code></p>
<p>where ε is autocorrelated noise (an Ornstein–Uhlenbeck process: a scraped outage map wanders
rather than jumping independently at every reading). Readings that look like feed failures (isolated
drops to near zero, frozen plateaus) are flagged and left out. The model is fitted by maximum
likelihood."""
    + _CHOICE_AND_INTERVALS,
}


def methods(a: Analysis) -> str:
    """Plain-language methods and assumptions, with the formulas."""
    lang = a.params.language
    fit = a.fit
    method = f"<p>{esc(text(lang, 'methods_series'))}</p>" if series_report.is_series(a) else None
    translated = METHOD_TEXT_I18N.get(lang, {}).get(a.evidence)
    if method is None:
        if lang == "en" or translated:
            method = translated or METHOD_TEXT.get(a.evidence, METHOD_TEXT["down_reports"])
        else:  # not translated yet: shown in English, and marked as such
            method = f'<div lang="en">{METHOD_TEXT.get(a.evidence, METHOD_TEXT["down_reports"])}</div>'
    parts = [heading("methods", text(lang, "methods")), method]
    tz = a.incident.timezone
    when = dt.datetime.fromisoformat
    onset = a.metrics.get("onset")
    source = a.metrics.get("onset_source")
    items = [
        text(lang, "mt_evidence", what=text(lang, f"kind_{a.evidence}") if f"kind_{a.evidence}" in TEXT["en"] else a.evidence),
        text(
            lang,
            "mt_onset",
            onset=format_time(when(onset), tz, lang) if onset else "—",
            source=text(lang, "mt_onset_config" if source == "config" else "mt_onset_estimated") if source else "—",
            tz=tz,
        ),
        text(lang, "mt_end", end=format_time(when(a.metrics["end"]), tz, lang) if a.metrics.get("end") else "—"),
    ]
    interval = localized_html(fit.interval_method, lang) if fit is not None else "—"
    lis = [f"<li>{esc(x)}</li>" for x in items]
    lis.append(
        "<li>"
        + esc(text(lang, "mt_intervals", method="\x00", level=format_percent(a.params.level, 0, lang))).replace("\x00", interval)
        + "</li>"
    )
    if getattr(a, "has_geography", True):
        lis.append(f"<li>{esc(text(lang, 'mt_places'))}</li>")
    lis.append(f"<li>{esc(text(lang, 'mt_scrub'))}</li>")
    parts.append("<ul>" + "".join(lis) + "</ul>")
    return "\n".join(parts)


def provenance_html(a: Analysis, record: dict[str, Any]) -> str:
    """Run id, code version, input hashes, parameters, package versions."""
    lang = a.params.language
    cv = record["code_version"]
    parts = [heading("provenance", text(lang, "provenance"))]
    parts.append(
        table(
            ["", ""],
            [
                (text(lang, "run"), record.get("run_id") or "interactive"),
                (text(lang, "code_version"), cv.get("label")),
                (text(lang, "pv_incident"), record["incident_id"]),
            ],
        )
    )
    parts.append(f"<h3>{esc(text(lang, 'inputs'))}</h3>")
    inputs = [(i["path"], i.get("bytes"), i.get("sha256")) for i in record["inputs"]]
    parts.append(table([text(lang, "pv_h_file"), text(lang, "pv_h_bytes"), "sha256"], inputs))
    parts.append(f"<h3>{esc(text(lang, 'parameters'))}</h3>")
    parts.append(table([text(lang, "pv_h_name"), text(lang, "pv_h_value")], sorted(record["parameters"].items())))
    parts.append(f"<h3>{esc(text(lang, 'packages'))}</h3>")
    packages = sorted((k, v or "—") for k, v in record["packages"].items())
    parts.append(table([text(lang, "pv_h_package"), text(lang, "pv_h_version")], packages))
    if getattr(a, "has_geography", True):
        parts.append(f'<p class="pm-meta">{esc(text(lang, "pv_reference"))}</p>')
    return "\n".join(parts)
