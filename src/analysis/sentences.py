"""Sentences the statistics modules write in English, in the reader's language.

The estimators (:mod:`analysis.recovery`, :mod:`analysis.spatial`,
:mod:`analysis.spatial_recovery`) describe what they did in plain English sentences that
also go to ``metrics.json``. On a French or Dutch page :func:`localize` rewrites the known
sentence shapes (numbers and names kept, region names in the reader's language);
:func:`localized_html` marks anything it does not know with ``lang="en"`` so browsers,
screen readers and the untranslated-word test see it for what it is.
"""

from __future__ import annotations

import re
from functools import cache

from analysis.figure_text import area_name
from analysis.privacy import esc

_REGION = r"(Flanders|Wallonia|Brussels)"

# (English pattern, French, Dutch): \1, \2… are the pattern's groups; region names are translated after.
RULES: tuple[tuple[str, str, str], ...] = (
    (
        r"source '([^']+)' covers (.+?) only \((\d+) of its reports come from it\): (.+?) is under-sampled, so its counts and rates are not comparable with the covered regions",
        r"la source « \1 » ne couvre que \2 (\3 de ses signalements en viennent) : \4 est sous-représentée, ses comptes et taux ne sont donc pas comparables à ceux des régions couvertes",
        r"bron '\1' dekt alleen \2 (\3 van haar meldingen komen ervandaan): \4 is ondervertegenwoordigd, dus de aantallen en percentages zijn niet vergelijkbaar met de gedekte gewesten",
    ),
    (
        r"source '([^']+)' covers (.+?) only: (.+?) is under-sampled, so its counts and rates are not comparable with the covered regions",
        r"la source « \1 » ne couvre que \2 : \3 est sous-représentée, ses comptes et taux ne sont donc pas comparables à ceux des régions couvertes",
        r"bron '\1' dekt alleen \2: \3 is ondervertegenwoordigd, dus de aantallen en percentages zijn niet vergelijkbaar met de gedekte gewesten",
    ),
    (
        r"pooled: national curve \(too few reports of its own\)",
        r"mise en commun : courbe nationale (trop peu de signalements propres)",
        r"samengevoegd: nationale curve (te weinig eigen meldingen)",
    ),
    (
        r"pooled: partly its own reports, pulled toward the national curve",
        r"mise en commun : en partie ses propres signalements, ramenés vers la courbe nationale",
        r"samengevoegd: deels eigen meldingen, naar de nationale curve getrokken",
    ),
    (
        r"pooled: mostly its own reports",
        r"mise en commun : surtout ses propres signalements",
        r"samengevoegd: vooral eigen meldingen",
    ),
    (
        r" \((\d+) reports, fewer than the (\d+) needed for its own curve\)",
        r" (\1 signalements, moins que les \2 nécessaires pour une courbe propre)",
        r" (\1 meldingen, minder dan de \2 nodig voor een eigen curve)",
    ),
    (
        r"no reports of its own: national curve",
        r"aucun signalement propre : courbe nationale",
        r"geen eigen meldingen: nationale curve",
    ),
    (r"no reports: national curve", r"aucun signalement : courbe nationale", r"geen meldingen: nationale curve"),
    (r"^own fit$", r"ajustement propre", r"eigen fit"),
    (
        r"(?:not performed: )?fewer than two regions have the (\d+) reports needed for a curve of their own \((.+); (\d+) needed per region\)",
        r"moins de deux régions ont les \1 signalements nécessaires pour une courbe propre (\2 ; \3 nécessaires par région)",
        r"minder dan twee gewesten hebben de \1 meldingen die nodig zijn voor een eigen curve (\2; \3 nodig per gewest)",
    ),
    (r"(\d+) reports\b", r"\1 signalements", r"\1 meldingen"),
    (
        r"Distance from (.+?) vs (onset|recovery pace|recovery): not tested \(only (\d+) (municipalities|areas) with a value\)\.",
        r"Distance depuis \1 et \2 : non testé (seulement \3 \4 avec une valeur).",
        r"Afstand tot \1 tegenover \2: niet getest (slechts \3 \4 met een waarde).",
    ),
    (
        r"Distance from (.+?) vs (onset|recovery pace|recovery): not tested \(no variation to compare\)\.",
        r"Distance depuis \1 et \2 : non testé (aucune variation à comparer).",
        r"Afstand tot \1 tegenover \2: niet getest (geen variatie om te vergelijken).",
    ),
    (
        r"No distance effect on (onset|recovery pace|recovery)( within regions)? \((.+)\)\.",
        r"Aucun effet de la distance sur \1\2 (\3).",
        r"Geen afstandseffect op \1\2 (\3).",
    ),
    (
        r"[Tt]he (\d+) distinct statements come in groups of identical time or window \(one article naming many places\), so they carry less information than their number suggests \(overdispersion ([\d.]+)\); intervals widened and models compared allowing for it",
        r"Les \1 mentions distinctes viennent par groupes de même heure ou fenêtre (un article citant plusieurs lieux) et portent donc moins d'information que leur nombre ne le suggère (surdispersion \2) ; intervalles élargis et modèles comparés en en tenant compte",
        r"De \1 afzonderlijke uitspraken komen in groepen met hetzelfde tijdstip of venster (één artikel dat veel plaatsen noemt), dus ze dragen minder informatie dan hun aantal doet vermoeden (overdispersie \2); intervallen verbreed en modellen vergeleken met die correctie",
    ),
    (
        r"[Rr]eports vary more than a Poisson process around the fitted curve \(overdispersion ([\d.]+), Pearson X²/df on (\d+) df\); intervals widened and models compared allowing for it",
        r"Les signalements varient plus qu'un processus de Poisson autour de la courbe ajustée (surdispersion \1, X²/ddl de Pearson sur \2 ddl) ; intervalles élargis et modèles comparés en en tenant compte",
        r"De meldingen variëren meer dan een Poissonproces rond de aangepaste curve (overdispersie \1, Pearson X²/df op \2 df); intervallen verbreed en modellen vergeleken met die correctie",
    ),
    (
        r"The data do not single out one model \(weights: (.+?)\)\. Intervals are averaged over them\.",
        r"Les données ne désignent pas un seul modèle (poids : \1). Les intervalles en font la moyenne.",
        r"De gegevens wijzen niet één model aan (gewichten: \1). De intervallen middelen erover.",
    ),
    (
        r"The data do not single out one model \(weights: (.+?)\)\. Intervals are conditional on the reported model\.",
        r"Les données ne désignent pas un seul modèle (poids : \1). Les intervalles supposent le modèle retenu.",
        r"De gegevens wijzen niet één model aan (gewichten: \1). De intervallen gaan uit van het gekozen model.",
    ),
    (
        r"windowed reports are allocated to bins in proportion to the fitted intensity and left out of the rescaling test",
        r"les signalements à fenêtre sont répartis entre les intervalles au prorata de l'intensité ajustée et exclus du test de changement d'échelle",
        r"meldingen met een tijdvenster worden over de intervallen verdeeld naar rato van de aangepaste intensiteit en niet opgenomen in de hertijdingstest",
    ),
    (
        r"report times spread uniformly within their ([\d.]+)-second clock resolution",
        r"heures des signalements réparties uniformément dans leur résolution d'horloge de \1 secondes",
        r"meldingstijden gelijkmatig gespreid binnen hun klokresolutie van \1 seconden",
    ),
    (
        r"(\d+) area\(s\) without a contiguous neighbour joined to their nearest area",
        r"\1 zone(s) sans voisine contiguë rattachée(s) à la zone la plus proche",
        r"\1 gebied(en) zonder aangrenzende buur gekoppeld aan het dichtstbijzijnde gebied",
    ),
    (
        r"the areas form (\d+) disconnected groups",
        r"les zones forment \1 groupes séparés",
        r"de gebieden vormen \1 losse groepen",
    ),
    (
        r"(\d+) area\(s\) without exposure left out",
        r"\1 zone(s) sans exposition écartée(s)",
        r"\1 gebied(en) zonder blootstelling weggelaten",
    ),
    (
        r"model-averaged parametric bootstrap: (\d+) replicates shared among (\d+) candidate models by their (QAIC|Akaike) weights, each refitted with its own model; percentile intervals of the weighted mixture",
        r"bootstrap paramétrique moyenné sur les modèles : \1 réplications partagées entre \2 modèles candidats selon leurs poids \3, chacune réajustée avec son propre modèle ; intervalles percentiles du mélange pondéré",
        r"over de modellen gemiddelde parametrische bootstrap: \1 replicaties verdeeld over \2 kandidaat-modellen volgens hun \3-gewichten, elk opnieuw aangepast met het eigen model; percentielintervallen van het gewogen mengsel",
    ),
    (
        r"model-averaged case-resampling bootstrap: (\d+) replicates shared among (\d+) candidate models by their (QAIC|Akaike) weights, each refitted with its own model; percentile intervals of the weighted mixture",
        r"bootstrap par rééchantillonnage des clients moyenné sur les modèles : \1 réplications partagées entre \2 modèles candidats selon leurs poids \3, chacune réajustée avec son propre modèle ; intervalles percentiles du mélange pondéré",
        r"over de modellen gemiddelde bootstrap met hertrekking van klanten: \1 replicaties verdeeld over \2 kandidaat-modellen volgens hun \3-gewichten, elk opnieuw aangepast met het eigen model; percentielintervallen van het gewogen mengsel",
    ),
    (
        r"model-averaged parametric bootstrap \(Ornstein–Uhlenbeck noise\): (\d+) replicates shared among (\d+) restoration families by their Akaike weights, each refitted with its own family; percentile intervals of the weighted mixture",
        r"bootstrap paramétrique moyenné sur les modèles (bruit d'Ornstein–Uhlenbeck) : \1 réplications partagées entre \2 familles de rétablissement selon leurs poids d'Akaike, chacune réajustée avec sa propre famille ; intervalles percentiles du mélange pondéré",
        r"over de modellen gemiddelde parametrische bootstrap (Ornstein–Uhlenbeckruis): \1 replicaties verdeeld over \2 herstelfamilies volgens hun Akaike-gewichten, elk opnieuw aangepast met de eigen familie; percentielintervallen van het gewogen mengsel",
    ),
    (
        r"^(parametric bootstrap \(Ornstein–Uhlenbeck noise\)|case-resampling bootstrap|parametric bootstrap), (\d+) replicates of ([\w+ -]+), percentile intervals",
        r"\1, \2 réplications du modèle \3, intervalles percentiles",
        r"\1, \2 replicaties van het model \3, percentielintervallen",
    ),
    (
        r"^parametric bootstrap \(Ornstein–Uhlenbeck noise\),",
        r"bootstrap paramétrique (bruit d'Ornstein–Uhlenbeck),",
        r"parametrische bootstrap (Ornstein–Uhlenbeckruis),",
    ),
    (r"^case-resampling bootstrap,", r"bootstrap par rééchantillonnage des clients,", r"bootstrap met hertrekking van klanten,"),
    (r"^parametric bootstrap,", r"bootstrap paramétrique,", r"parametrische bootstrap,"),
    (r" \(conditional on this model\)", r" (conditionnels à ce modèle)", r" (voorwaardelijk op dit model)"),
    (
        r" \(the other candidates hold under 1% of the weight\)",
        r" (les autres candidats ont moins de 1 % du poids)",
        r" (de andere kandidaten hebben minder dan 1% van het gewicht)",
    ),
    (
        r"; restoration stamps on a ([\d.]+ (?:min|s)(?:, [\d.]+ (?:min|s))*) grid \(u\) read as intervals ",
        r" ; heures de rétablissement sur une grille de \1 (u) lues comme des intervalles ",
        r"; hersteltijden op een raster van \1 (u) gelezen als intervallen ",
    ),
    (
        r"; restoration stamps read as exact times",
        r" ; heures de rétablissement lues comme exactes",
        r"; hersteltijden als exact gelezen",
    ),
    (
        r"; ([\d,]+) customers in ([\d,]+) distinct records",
        r" ; \1 clients dans \2 relevés distincts",
        r"; \1 klanten in \2 afzonderlijke registraties",
    ),
    (
        r"^(kaplan-meier|turnbull|nonparametric) curve against the fitted S; residual = nonparametric − fitted",
        r"courbe \1 face à la courbe S ajustée ; résidu = non paramétrique − ajusté",
        r"\1-curve tegenover de aangepaste S; residu = niet-parametrisch − aangepast",
    ),
    (
        r"observed and fitted as shares of the peak; residual = standardised OU innovation, N\(0, 1\) if the model holds",
        r"observé et ajusté en parts du pic ; résidu = innovation OU standardisée, N(0, 1) si le modèle tient",
        r"waargenomen en aangepast als aandeel van de piek; residu = gestandaardiseerde OU-innovatie, N(0, 1) als het model klopt",
    ),
    (
        r"The series departs from the smooth restoration curve for hours at a time \(the noise time constant reached its 4-h cap\): plateaus and relapses are real features the model smooths over\.",
        r"La série s'écarte de la courbe de rétablissement lisse pendant des heures (la constante de temps du bruit a atteint son plafond de 4 h) : paliers et rechutes sont réels, le modèle les lisse.",
        r"De reeks wijkt urenlang af van de gladde herstelcurve (de tijdconstante van de ruis bereikte haar plafond van 4 uur): plateaus en terugvallen zijn echt, het model strijkt ze glad.",
    ),
    (
        r"Relapses after the peak are kept in the fit and shown\.",
        r"Les rechutes après le pic sont gardées dans l'ajustement et montrées.",
        r"Terugvallen na de piek blijven in de fit en worden getoond.",
    ),
    (
        r"The series is still above half its peak at the end of the window: the 50 % crossing is an extrapolation\.",
        r"La série est encore au-dessus de la moitié de son pic à la fin de la fenêtre : le passage à 50 % est une extrapolation.",
        r"De reeks zit aan het einde van het venster nog boven de helft van haar piek: het passeren van 50% is een extrapolatie.",
    ),
    (
        r"; reports simulated in clumps \(overdispersion ([\d.]+)\)",
        r" ; signalements simulés par paquets (surdispersion \1)",
        r"; meldingen in groepjes gesimuleerd (overdispersie \1)",
    ),
    (
        r" \((\d+) refits failed and were dropped\)",
        r" (\1 réajustements ont échoué et ont été écartés)",
        r" (\1 heraanpassingen mislukten en werden weggelaten)",
    ),
    (
        r"The data cannot separate a delay \(([^)]*?) under ([^)]+)\) from a slow decline from the onset: delays from 0 to (.+?) fit about as well\.",
        r"Les données ne distinguent pas un délai (\1 selon \2) d'un lent déclin dès le début : des délais de 0 à \3 conviennent à peu près aussi bien.",
        r"De gegevens kunnen een vertraging (\1 volgens \2) niet onderscheiden van een trage daling vanaf het begin: vertragingen van 0 tot \3 passen ongeveer even goed.",
    ),
    (
        r"The delay of (\S+) is not bounded above: restoration may have started as late as (.+?) after onset\.",
        r"Le délai de \1 n'est pas borné vers le haut : le rétablissement a pu commencer jusqu'à \2 après le début.",
        r"De vertraging van \1 is niet naar boven begrensd: het herstel kan pas \2 na het begin begonnen zijn.",
    ),
    (
        r"Restoration started after a delay of (.+?) \[(.+?)\]\.",
        r"Le rétablissement a commencé après un délai de \1 [\2].",
        r"Het herstel begon na een vertraging van \1 [\2].",
    ),
    (r"\bonset\b", r"début", r"begin"),
    (r"\brecovery pace\b", r"rythme de rétablissement", r"hersteltempo"),
    (r"\bmunicipalities\b", r"communes", r"gemeenten"),
    (r"\bpermutation p\b", r"p de permutation", r"permutatie-p"),
    (r"\bwithin regions\b", r"au sein des régions", r"binnen de gewesten"),
)


@cache
def _compiled(language: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    col = {"fr": 1, "nl": 2}[language]
    return tuple((re.compile(rule[0]), rule[col]) for rule in RULES)


def localize(sentence: str | None, language: str) -> tuple[str, bool]:
    """``sentence`` in ``language`` where its shape is known: ``(text, translated)``.

    English passes through unchanged (``True``); a sentence no rule touches comes back as
    written with ``False``.
    """
    if not sentence or language == "en":
        return sentence or "", True
    out, hit = sentence, False
    for pattern, template in _compiled(language):
        new = pattern.sub(template, out)
        if new != out:
            out, hit = new, True
    if hit:
        out = re.sub(_REGION, lambda m: area_name(m.group(1), language), out)
        out = re.sub(r"(?<=\d)\.(?=\d)", ",", out)  # French and Dutch write a decimal comma: 17,6
    return out, hit


def localized_html(sentence: str | None, language: str) -> str:
    """:func:`localize`, escaped; marked ``lang="en"`` when it stays English on another language's page."""
    words, ok = localize(sentence, language)
    return esc(words) if ok else f'<span lang="en">{esc(words)}</span>'


__all__ = ["localize", "localized_html"]
