"""Report language: labels, sentences and dates in English, French and Dutch.

One dictionary per language; a key missing in French or Dutch falls back to English so a
new label never breaks a report. Dates are formatted here (no locale of the machine is
used: a scheduler's locale must not change a report).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from zoneinfo import ZoneInfo

from analysis.i18n_geography import GEOGRAPHY_TEXT
from analysis.i18n_postmortem import POSTMORTEM_TEXT
from analysis.i18n_sections import SECTION_TEXT

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
        "declared_gap": "Declared resolved at {time}; an estimated {pct} [{lo}–{hi}] of affected customers were still without service.",
        "declared_last": "The last report came at {last}.",
        "still_affected": "still affected",
        "announcement": "Announcement",
        "family": "Family",
        "n_params": "Parameters",
        "akaike_weight": "Weight",
        "not_converged": "not converged",
        "event": "Event",
        "time": "Time",
        "kind": "Kind",
        "source": "Source",
        "metric": "Metric",
        "value": "Value",
        "interval": "Interval",
        "what_happened": "What happened",
        "caption_timeline": "Reports per interval, in local time. Solid bars: reports with a known time. Light bars: reports known only within a window, spread evenly over it. Numbered markers match the events table.",
        "no_geography": "No map: none of the {n} down reports names a place, a province or a region that the reference geography (Belgium's municipalities) can locate.",
        "caption_timeline_restorations": "Restorations per interval, in local time: solid bars when a customer was seen back at a known time, light bars when only a window is known (spread evenly over it). Numbered markers match the events table.",
        "caption_timeline_series": "The measured share of customers out, in local time. Numbered markers match the events table.",
        "caption_recovery": "Estimated share of affected customers still without service after onset (line) with its {level} band; the numbered markers along the top are the incident's events, numbered as in the timeline and its table (hover an announcement for the share still affected at that moment).",
        "caption_map": "Where reports came from. Circle size is the number of reports per municipality; area-level statements (provinces, regions) are listed below the map, not drawn as points.",
        "rejects_none": "No row was rejected.",
        "duplicates": "Identical and duplicate rows",
        "dup_identity": "{source}: {kept} of {identical} rows identical to an earlier row of this source were kept as separate reports (no report id; policy: identity — identical crowd reports come from different people). {rejected} rows were rejected as duplicates: a repeated report id, or the same user or device at the same time.",
        "dup_exact": '{source}: {identical} rows are identical to an earlier row of this source; {rejected} rows were rejected as duplicates (dedupe = "exact": the feed is known to post rows twice).',
        "dup_none": '{source}: {kept} of {identical} rows identical to an earlier row of this source were kept as separate reports (dedupe = "none": no row is rejected as a duplicate).',
        "dup_no_identical": "{source}: no row is identical to an earlier row of this source (policy: {policy}); {rejected} rows were rejected as duplicates.",
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
        "trust_very_little": "Very little data: {n} down statements. Every interval below is wide; the curve shape is a model assumption more than a measurement. Read the numbers as orders of magnitude.",
        "observations": "Observations",
        "ev_restorations": "restoration records",
        "ev_online_fraction": "readings of the customers-out series",
        "ev_down_reports": "down reports",
        "trust_direct": "The recovery curve is fitted to direct measurements ({n} {what}), not inferred from how often people reported.",
        "trust_limited": "Limited data: {n} down reports, so the ranges around each number are wide.",
        "trust_windows": "{windowed} of {n} reports are known only within a time window (e.g. 'Tuesday morning'), not to the minute.",
        "trust_areas": "{n} statements concern whole provinces, regions or the country, not places; they are not mapped as points.",
        "trust_coverage": "Source '{source}': {coverage}",
        "trust_curated": "Source '{source}' holds statements selected by others (e.g. a newsroom publishing reader messages), not every report: their timing reflects editorial choices, such as a call for testimonies, as much as the number of customers still without service. The recovery curve is what the model infers if the rate of statements followed the number still affected; it describes when statements were made more than it measures restoration.",
        "trust_t90_wide": "The 90%-restored time is very uncertain: its interval spans more than a factor of three.",
        "trust_rejects": "{rejected} of {raw} rows were rejected (see Data quality).",
        "m_detect": "Time to detect (first report)",
        "m_first_restorations": "Time to first restorations (5% back)",
        "m_50": "Time to 50% restored",
        "m_90": "Time to 90% restored",
        "m_declared": "Time to resolution declared",
        "m_last": "Time to last report",
        "m_milestone": "Milestone",
        "m_local_time": "Local time",
        "i_impact": "Impact",
        "i_service": "Service",
        "i_reports": "Reports (down / all rows)",
        "i_municipalities": "Municipalities with reports",
        "i_regions": "Regions with reports",
        "i_customer_hours": "Customer-hours lost",
        "candidates": "Candidate models",
        "announcements_vs": "Announcements against the estimate",
        "area_statements": "Area-level statements",
        "map_note": "Municipal boundaries approximate; circles at municipal seats.",
        "beyond_window": "beyond the observation window",
        "diagnostics": "Does the model fit?",
        "caption_observed_fitted": "Observed reports per interval against the fitted rate. Runs of bars above or below the line show where the model misses; windowed reports are allocated within their window in proportion to the fit.",
        "caption_curve_fitted": "The observed share (points: the nonparametric curve from the restoration records, or the measured series) against the fitted curve (line). Runs of points on one side of the line show where the model misses.",
        "caption_rescaling": "Time-rescaling check: if the fitted rate is right, the rescaled gaps between reports are uniform and the points stay on the diagonal, inside the band.",
        "caption_residuals": "Residuals over time: if the model is right they scatter around 0, mostly between the dotted lines at ±2, with no runs or trend. A run on one side is a stretch of time the model gets wrong.",
        "sensitivity": "Sensitivity to the reporting propensity",
        "caption_sensitivity": "The same model fitted with the default day/night reporting profile and with a flat one. Large differences mean the curve depends on how people report at night more than on the data.",
        "after_declared_maybe": " (another {n} may have)",
        "after_declared": "After that declaration, {n} down reports came in{maybe}, from {places} municipalities; the last one {hours:.0f} h later. These are counts, not model estimates.",
        "unknown": "unknown",
        "m_last_timed": "Time to last statement with an exact time",
        "m_last_dated": "Last statement known by date or window only (end of window)",
        "w_statements": "statements",
        "w_reports": "reports",
        "period_to": "to",
        "summary_curated_lead": "What the statements show. These are counts of published statements, not measurements of how many customers were without service.",
        "curated_after": "{n} statements are dated after the operator declared the outage resolved at {time}{maybe}, from {places} municipalities.",
        "curated_maybe": " (another {n} are known only by a window that straddles it)",
        "curated_last_timed": "Last statement with an exact time: {time}{place}.",
        "curated_last_dated": "Last statement known only by a date or a window: {window}{place}.",
        "curated_no_timed": "No statement has an exact time.",
        "curated_no_dated": "Every statement has an exact time.",
        "no_place": "no place named",
        "operator_claims": "What the operator said (its own statements, not measurements):",
        "curated_model_pointer": "A model that reads the timing of the statements as a recovery curve is under “Exploratory: timing of statements”; it describes when statements were made, not the share of customers restored.",
        "kpi_statements": "Reports of service out",
        "kpi_after_declared": "Statements after “resolved”",
        "kpi_after_declared_sub": "from {places} municipalities; {maybe} more straddle it",
        "kpi_last_timed": "Last statement with an exact time",
        "kpi_last_dated": "Last statement known by date or window only",
        "kpi_declared": "Declared resolved (operator)",
        "claim_item": "{time}: “{label}”",
        "rows_in": "{n} rows in",
        "kpi_declared_sub": "the operator's statement, not a measurement",
        "recovery_curated": "Exploratory: timing of statements",
        "recovery_curated_intro": "The statements were picked by newsrooms, so their timing follows editorial choices as much as the outage. The curve below is what the model infers if the rate of statements had followed the number of customers still without service: read it as a description of when statements were made, not as the share of customers restored.",
        "caption_recovery_curated": "Model of the timing of statements: the rate of statements over time relative to the onset (line), with its {level} band. It is not the share of customers restored. The numbered markers along the top are the incident's events, numbered as in the timeline and its table.",
        "axis_statements_model": "rate of statements, % of the rate at onset (model)",
        "misfit_more": "The model misses a burst of {what} on {period}: observed {observed}, model {expected}.",
        "misfit_fewer": "The model expects more {what} than came on {period}: observed {observed}, model {expected}.",
        "misfit_trust": "The fitted curve does not describe the data everywhere. {sentence} Numbers read from the curve are unreliable around that time.",
        "ks_too_few": "Too few exactly timed reports for a goodness-of-fit test ({n}).",
        "s_no_geography": "No map: the series names no place that the reference geography (Belgium's municipalities) can locate; its numbers are for the area the source covers as a whole.",
        "s_weak": "Per-customer restoration times are model-based and weakly determined: a count of customers out does not say when each outage began, so how long each lasted trades off against how the outages arrived. The crossings above are what the series measures.",
        "s_not_used": "not used: {other}",
        "coverage_line_series": "{n_reports} readings from {n_sources} source(s), {first} to {last}; {n_rejected} rows rejected.",
        "flag_used": "used",
        "flag_dropout": "dropout",
        "flag_flapping": "flapping",
        "flag_missing": "missing",
        "flag_stale": "stale",
        "flag_relapse": "relapse",
        "flag_above_total": "above total",
        "flag_before_onset": "before onset",
        "flag_after_end": "after end",
        "s_peak": "Peak customers out",
        "s_t50": "Out below 50% of peak",
        "s_t90": "Out below 10% of peak",
        "s_not_reached": "not reached by {end}",
        "s_not_reached_short": "not reached in the window",
        "s_extrapolated": "model extrapolation: {when}",
        "s_after_onset_peak": "{onset} after onset · {peak} after the peak",
        "s_readings": "Readings used",
        "s_readings_line": "{used} of {n} readings used; not used: {other}",
        "s_to_full": "from onset to full restoration",
        "s_to_full_extrapolated": "to full restoration, extrapolated past the window",
        "s_evidence": "Evidence",
        "s_evidence_value": "{n} readings of the number of customers out",
        "s_of_total": "of customers served",
        "s_of_peak": "of the peak",
        "s_at_end": "Still out at the last reading used",
        "s_customer_hours_window": "Customer-hours lost within the window",
        "s_per_customer": "Restoration time per customer, {pct} restored",
        "s_arrivals": "Outages began (5%–95% of them)",
        "s_window_end": "End of the observation window",
        "s_readings_title": "Readings of the series",
        "s_no_flags": "No reading could be screened: the series was not fitted.",
        "s_flag": "flag",
        "s_used": "used in the fit",
        "s_out": "customers out",
        "s_more_rows": "… and {n} more readings left out (all in processed/online.parquet).",
        "s_area": "area",
        "s_areas": "Per area",
        "s_model": "model (median over the bootstrap)",
        "s_used_readings": "readings used",
        "s_left_out": "readings left out (feed defects)",
        "s_axis": "customers out (% of the peak)",
        "yes": "yes",
        "no": "no",
        "caption_series": "Customers out as a share of the peak, in local time: each dot is a reading (crosses: readings left out as feed defects), the line the fitted outage-and-restoration model with its {level} band. Dotted lines: 50% and 10% of the peak.",
        "methods_series": "The count of customers out is modelled as an infinite-server queue: outages begin over the storm's build-up and each lasts a restoration time; both are fitted to the series, whose slow wandering is modelled as autocorrelated noise. The 50% and 10% times are the clock times at which the count falls below that share of its peak for good; past the end of the window they are model extrapolations and are shown as not reached.",
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
        "provenance": "Traçabilité",
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
        "declared_gap": "Déclarée résolue à {time} ; environ {pct} [{lo}–{hi}] des clients touchés étaient encore sans service.",
        "declared_last": "Le dernier signalement est arrivé à {last}.",
        "still_affected": "encore touchés",
        "announcement": "Annonce",
        "family": "Famille",
        "n_params": "Paramètres",
        "akaike_weight": "Poids",
        "not_converged": "non convergé",
        "event": "Événement",
        "time": "Heure",
        "kind": "Type",
        "source": "Source",
        "metric": "Indicateur",
        "value": "Valeur",
        "interval": "Intervalle",
        "what_happened": "Ce qui s'est passé",
        "caption_timeline": "Signalements par intervalle, en heure locale. Barres pleines : heure connue. Barres claires : signalements connus seulement dans une fenêtre, répartis uniformément. Les numéros renvoient au tableau des événements.",
        "no_geography": "Pas de carte : aucun des {n} signalements de panne ne nomme un lieu, une province ou une région que la géographie de référence (les communes de Belgique) sait situer.",
        "caption_timeline_restorations": "Rétablissements par intervalle, en heure locale : barres pleines quand un client a été vu rétabli à une heure connue, barres claires quand seule une fenêtre est connue (répartie uniformément). Les repères numérotés renvoient au tableau des événements.",
        "caption_timeline_series": "La part mesurée de clients sans service, en heure locale. Les repères numérotés renvoient au tableau des événements.",
        "caption_recovery": "Part estimée des clients touchés encore sans service après le début (ligne), avec sa bande à {level} ; les repères numérotés en haut sont les événements de l'incident, numérotés comme dans la chronologie et son tableau (survolez une annonce pour la part encore touchée à ce moment).",
        "caption_map": "Origine des signalements. La taille du cercle est le nombre de signalements par commune ; les mentions de provinces ou régions sont listées sous la carte, pas dessinées comme des points.",
        "rejects_none": "Aucune ligne rejetée.",
        "duplicates": "Lignes identiques et doublons",
        "dup_identity": "{source} : {kept} des {identical} lignes identiques à une ligne précédente de cette source ont été gardées comme des signalements distincts (pas d'identifiant de signalement ; règle : identity — des signalements identiques viennent de personnes différentes). {rejected} lignes ont été rejetées comme doublons : un identifiant de signalement répété, ou le même utilisateur ou appareil à la même heure.",
        "dup_exact": '{source} : {identical} lignes sont identiques à une ligne précédente de cette source ; {rejected} lignes ont été rejetées comme doublons (dedupe = "exact" : la source est connue pour publier des lignes deux fois).',
        "dup_none": '{source} : {kept} des {identical} lignes identiques à une ligne précédente de cette source ont été gardées comme des signalements distincts (dedupe = "none" : aucune ligne n\'est rejetée comme doublon).',
        "dup_no_identical": "{source} : aucune ligne n'est identique à une ligne précédente de cette source (règle : {policy}) ; {rejected} lignes ont été rejetées comme doublons.",
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
        "trust_very_little": "Très peu de données : {n} mentions de panne. Tous les intervalles ci-dessous sont larges ; la forme de la courbe relève davantage de l'hypothèse du modèle que de la mesure. Lisez les chiffres comme des ordres de grandeur.",
        "observations": "Observations",
        "ev_restorations": "enregistrements de rétablissement",
        "ev_online_fraction": "relevés de la série de clients privés de service",
        "ev_down_reports": "signalements de panne",
        "trust_direct": "La courbe de rétablissement est ajustée sur des mesures directes ({n} {what}), pas déduite de la fréquence des signalements.",
        "trust_limited": "Données limitées : {n} signalements de panne, les fourchettes autour de chaque valeur sont donc larges.",
        "trust_windows": "{windowed} des {n} signalements ne sont connus que dans une fenêtre de temps (p. ex. « mardi matin »), pas à la minute près.",
        "trust_areas": "{n} mentions concernent des provinces, régions ou tout le pays, pas des lieux ; elles ne sont pas placées comme des points.",
        "trust_coverage": "Source « {source} » : {coverage}",
        "trust_curated": "La source « {source} » contient des mentions choisies par d'autres (p. ex. une rédaction publiant des messages de lecteurs), pas tous les signalements : leur rythme reflète des choix éditoriaux, comme un appel à témoignages, autant que le nombre de clients encore sans service. La courbe de rétablissement est ce que le modèle déduit si le rythme des mentions suivait le nombre de clients touchés ; elle décrit quand les mentions ont été faites plus qu'elle ne mesure le rétablissement.",
        "trust_t90_wide": "Le délai de rétablissement à 90 % est très incertain : son intervalle couvre plus d'un facteur trois.",
        "trust_rejects": "{rejected} lignes sur {raw} ont été rejetées (voir Qualité des données).",
        "m_detect": "Délai de détection (premier signalement)",
        "m_first_restorations": "Délai des premiers rétablissements (5 %)",
        "m_50": "Délai jusqu'à 50 % rétablis",
        "m_90": "Délai jusqu'à 90 % rétablis",
        "m_declared": "Délai jusqu'à la déclaration de résolution",
        "m_last": "Délai jusqu'au dernier signalement",
        "m_milestone": "Étape",
        "m_local_time": "Heure locale",
        "i_impact": "Impact",
        "i_service": "Service",
        "i_reports": "Signalements (panne / toutes lignes)",
        "i_municipalities": "Communes avec signalements",
        "i_regions": "Régions avec signalements",
        "i_customer_hours": "Heures-clients perdues",
        "candidates": "Modèles candidats",
        "announcements_vs": "Les annonces face à l'estimation",
        "area_statements": "Mentions de zones",
        "map_note": "Limites communales approximatives ; cercles au chef-lieu de la commune.",
        "beyond_window": "au-delà de la période observée",
        "diagnostics": "Le modèle colle-t-il aux données ?",
        "caption_observed_fitted": "Signalements observés par intervalle face au rythme ajusté. Des séries de barres au-dessus ou en dessous de la ligne montrent où le modèle se trompe ; les signalements à fenêtre sont répartis dans leur fenêtre selon l'ajustement.",
        "caption_curve_fitted": "La part observée (points : courbe non paramétrique des rétablissements, ou série mesurée) face à la courbe ajustée (ligne). Des séries de points d'un même côté de la ligne montrent où le modèle se trompe.",
        "caption_rescaling": "Contrôle par changement d'échelle du temps : si le rythme ajusté est juste, les écarts remis à l'échelle sont uniformes et les points restent sur la diagonale, dans la bande.",
        "caption_residuals": "Résidus au fil du temps : si le modèle est juste, ils se dispersent autour de 0, surtout entre les pointillés à ±2, sans série ni tendance. Une série d'un même côté est une période que le modèle décrit mal.",
        "sensitivity": "Sensibilité à la propension à signaler",
        "caption_sensitivity": "Le même modèle ajusté avec le profil jour/nuit par défaut et avec un profil plat. De grands écarts signifient que la courbe dépend davantage de la façon dont les gens signalent la nuit que des données.",
        "after_declared_maybe": " ({n} autres peut-être)",
        "after_declared": "Après cette déclaration, {n} signalements de panne sont arrivés{maybe}, de {places} communes ; le dernier {hours:.0f} h plus tard. Ce sont des comptes, pas des estimations du modèle.",
        "unknown": "inconnu",
        "m_last_timed": "Délai jusqu'à la dernière mention à l'heure exacte",
        "m_last_dated": "Dernière mention connue par date ou fenêtre seulement (fin de fenêtre)",
        "w_statements": "mentions",
        "w_reports": "signalements",
        "period_to": "au",
        "summary_curated_lead": "Ce que montrent les mentions. Ce sont des comptes de mentions publiées, pas des mesures du nombre de clients sans service.",
        "curated_after": "{n} mentions sont datées après que l'opérateur a déclaré la panne résolue à {time}{maybe}, de {places} communes.",
        "curated_maybe": " ({n} autres ne sont connues que par une fenêtre qui chevauche cette heure)",
        "curated_last_timed": "Dernière mention avec une heure exacte : {time}{place}.",
        "curated_last_dated": "Dernière mention connue seulement par une date ou une fenêtre : {window}{place}.",
        "curated_no_timed": "Aucune mention n'a d'heure exacte.",
        "curated_no_dated": "Toutes les mentions ont une heure exacte.",
        "no_place": "aucun lieu cité",
        "operator_claims": "Ce qu'a dit l'opérateur (ses propres déclarations, pas des mesures) :",
        "curated_model_pointer": "Un modèle qui lit le rythme des mentions comme une courbe de rétablissement figure sous « Exploratoire : rythme des mentions » ; il décrit quand les mentions ont été faites, pas la part de clients rétablis.",
        "kpi_statements": "Signalements de service coupé",
        "kpi_after_declared": "Mentions après « résolu »",
        "kpi_after_declared_sub": "de {places} communes ; {maybe} autres chevauchent l'annonce",
        "kpi_last_timed": "Dernière mention avec heure exacte",
        "kpi_last_dated": "Dernière mention connue par date ou fenêtre",
        "kpi_declared": "Déclarée résolue (opérateur)",
        "claim_item": "{time} : « {label} »",
        "rows_in": "{n} lignes lues",
        "kpi_declared_sub": "déclaration de l'opérateur, pas une mesure",
        "recovery_curated": "Exploratoire : rythme des mentions",
        "recovery_curated_intro": "Les mentions ont été choisies par des rédactions : leur rythme suit des choix éditoriaux autant que la panne. La courbe ci-dessous est ce que le modèle déduit si le rythme des mentions avait suivi le nombre de clients encore sans service : lisez-la comme une description du moment des mentions, pas comme la part de clients rétablis.",
        "caption_recovery_curated": "Modèle du rythme des mentions : le rythme des mentions au fil du temps par rapport au début (ligne), avec sa bande à {level}. Ce n'est pas la part de clients rétablis. Les repères numérotés en haut sont les événements de l'incident, numérotés comme dans la chronologie et son tableau.",
        "axis_statements_model": "rythme des mentions, % du rythme au début (modèle)",
        "misfit_more": "Le modèle manque une rafale de {what} le {period} : observé {observed}, modèle {expected}.",
        "misfit_fewer": "Le modèle attend plus de {what} qu'il n'en est venu le {period} : observé {observed}, modèle {expected}.",
        "misfit_trust": "La courbe ajustée ne décrit pas partout les données. {sentence} Les chiffres lus sur la courbe ne sont pas fiables autour de ce moment.",
        "ks_too_few": "Trop peu de signalements à l'heure exacte pour un test d'adéquation ({n}).",
        "s_no_geography": "Pas de carte : la série ne nomme aucun lieu que la géographie de référence (les communes de Belgique) sait situer ; ses chiffres valent pour toute la zone couverte par la source.",
        "s_weak": "Les durées par client viennent du modèle et sont mal déterminées : un nombre de clients privés ne dit pas quand chaque coupure a commencé, si bien que leur durée se confond avec la façon dont elles sont arrivées. Les passages sous 50 % et 10 % sont ce que la série mesure.",
        "s_not_used": "non utilisés : {other}",
        "coverage_line_series": "{n_reports} relevés de {n_sources} source(s), du {first} au {last} ; {n_rejected} lignes rejetées.",
        "flag_used": "utilisé",
        "flag_dropout": "perte du flux",
        "flag_flapping": "flux instable",
        "flag_missing": "manquant",
        "flag_stale": "figé",
        "flag_relapse": "rechute",
        "flag_above_total": "au-dessus du total",
        "flag_before_onset": "avant le début",
        "flag_after_end": "après la fin",
        "s_peak": "Pic de clients privés",
        "s_t50": "Sous 50 % du pic",
        "s_t90": "Sous 10 % du pic",
        "s_not_reached": "pas atteint le {end}",
        "s_not_reached_short": "pas atteint dans la fenêtre",
        "s_extrapolated": "extrapolation du modèle : {when}",
        "s_after_onset_peak": "{onset} après le début · {peak} après le pic",
        "s_readings": "Relevés utilisés",
        "s_readings_line": "{used} relevés utilisés sur {n} ; non utilisés : {other}",
        "s_to_full": "du début au rétablissement complet",
        "s_to_full_extrapolated": "jusqu'au rétablissement complet, extrapolé au-delà de la fenêtre",
        "s_evidence": "Données",
        "s_evidence_value": "{n} relevés du nombre de clients privés de service",
        "s_of_total": "des clients desservis",
        "s_of_peak": "du pic",
        "s_at_end": "Encore privés au dernier relevé utilisé",
        "s_customer_hours_window": "Heures-clients perdues dans la fenêtre",
        "s_per_customer": "Durée de rétablissement par client, {pct} rétablis",
        "s_arrivals": "Début des coupures (5 %–95 %)",
        "s_window_end": "Fin de la fenêtre d'observation",
        "s_readings_title": "Relevés de la série",
        "s_no_flags": "Aucun relevé n'a pu être examiné : la série n'a pas été ajustée.",
        "s_flag": "marque",
        "s_used": "utilisé",
        "s_out": "clients privés",
        "s_more_rows": "… et {n} autres relevés écartés (tous dans processed/online.parquet).",
        "s_area": "zone",
        "s_areas": "Par zone",
        "s_model": "modèle (médiane du bootstrap)",
        "s_used_readings": "relevés utilisés",
        "s_left_out": "relevés écartés (défauts du flux)",
        "s_axis": "clients privés (% du pic)",
        "yes": "oui",
        "no": "non",
        "caption_series": "Clients privés de service en part du pic, en heure locale : chaque point est un relevé (croix : relevés écartés comme défauts du flux), la ligne le modèle ajusté avec sa bande à {level}. Pointillés : 50 % et 10 % du pic.",
        "methods_series": "Le nombre de clients privés est modélisé comme une file à serveurs infinis : les coupures commencent pendant la montée de la tempête et chacune dure un temps de rétablissement ; les deux sont ajustés sur la série, dont les lentes dérives sont un bruit autocorrélé. Les heures à 50 % et 10 % sont celles où le nombre passe durablement sous cette part du pic ; au-delà de la fenêtre ce sont des extrapolations, affichées comme non atteintes.",
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
        "announcement": "Aankondiging",
        "family": "Familie",
        "n_params": "Parameters",
        "akaike_weight": "Gewicht",
        "not_converged": "niet geconvergeerd",
        "event": "Gebeurtenis",
        "time": "Tijd",
        "value": "Waarde",
        "interval": "Interval",
        "declared_gap": "Opgelost verklaard om {time}; naar schatting {pct} [{lo}–{hi}] van de getroffen klanten had toen nog geen dienst.",
        "declared_last": "De laatste melding kwam om {last}.",
        "simulated_banner": "Gesimuleerd incident: alle cijfers op deze pagina komen uit synthetische data met gekende waarheid. Het is geen echte storing.",
        "trust_very_little": "Heel weinig gegevens: {n} meldingen van een storing. Alle intervallen hieronder zijn breed; de vorm van de curve is meer een modelaanname dan een meting. Lees de cijfers als grootteordes.",
        "observations": "Waarnemingen",
        "ev_restorations": "herstelregistraties",
        "ev_online_fraction": "metingen van de reeks klanten zonder dienst",
        "ev_down_reports": "storingsmeldingen",
        "trust_direct": "De herstelcurve is geschat op directe metingen ({n} {what}), niet afgeleid uit hoe vaak mensen meldden.",
        "trust_limited": "Beperkte gegevens: {n} storingsmeldingen, dus de marges rond elk getal zijn breed.",
        "trust_windows": "{windowed} van de {n} meldingen zijn alleen binnen een tijdvenster bekend (bv. 'dinsdagochtend'), niet op de minuut.",
        "trust_areas": "{n} meldingen gaan over hele provincies, gewesten of het land, niet over plaatsen; ze staan niet als punten op de kaart.",
        "trust_coverage": "Bron '{source}': {coverage}",
        "trust_curated": "Bron '{source}' bevat uitspraken die door anderen gekozen zijn (bv. een redactie die lezersberichten publiceert), niet alle meldingen: hun tijdstip weerspiegelt redactionele keuzes even goed als het aantal klanten zonder dienst. De herstelcurve is wat het model afleidt als het ritme van de uitspraken het aantal getroffen klanten volgde.",
        "trust_t90_wide": "De tijd tot 90% herstel is zeer onzeker: het interval beslaat meer dan een factor drie.",
        "trust_rejects": "{rejected} van {raw} rijen werden geweigerd (zie Datakwaliteit).",
        "m_detect": "Tijd tot detectie (eerste melding)",
        "m_first_restorations": "Tijd tot eerste herstel (5%)",
        "m_50": "Tijd tot 50% hersteld",
        "m_90": "Tijd tot 90% hersteld",
        "m_declared": "Tijd tot opgelost verklaard",
        "m_last": "Tijd tot laatste melding",
        "m_milestone": "Mijlpaal",
        "m_local_time": "Lokale tijd",
        "i_impact": "Impact",
        "i_service": "Dienst",
        "i_reports": "Meldingen (storing / alle rijen)",
        "i_municipalities": "Gemeenten met meldingen",
        "i_regions": "Gewesten met meldingen",
        "i_customer_hours": "Verloren klanturen",
        "candidates": "Kandidaatmodellen",
        "announcements_vs": "Aankondigingen tegenover de schatting",
        "area_statements": "Meldingen over gebieden",
        "map_note": "Gemeentegrenzen bij benadering; cirkels op de gemeentezetel.",
        "beyond_window": "voorbij de waargenomen periode",
        "diagnostics": "Past het model?",
        "caption_observed_fitted": "Waargenomen meldingen per interval tegenover het geschatte ritme. Reeksen balken boven of onder de lijn tonen waar het model misloopt; meldingen met een venster worden volgens de schatting over hun venster verdeeld.",
        "caption_curve_fitted": "Het waargenomen aandeel (punten: de niet-parametrische curve uit de herstelgegevens, of de gemeten reeks) tegenover de geschatte curve (lijn). Reeksen punten aan één kant van de lijn tonen waar het model misloopt.",
        "caption_rescaling": "Controle met herschaalde tijd: als het geschatte ritme klopt, zijn de herschaalde tussentijden uniform en blijven de punten op de diagonaal, binnen de band.",
        "caption_residuals": "Residuen in de tijd: als het model klopt, liggen ze verspreid rond 0, meestal tussen de stippellijnen op ±2, zonder reeksen of trend. Een reeks aan één kant is een periode die het model verkeerd beschrijft.",
        "sensitivity": "Gevoeligheid voor de meldingsneiging",
        "caption_sensitivity": "Hetzelfde model met het standaard dag/nachtprofiel en met een vlak profiel. Grote verschillen betekenen dat de curve meer afhangt van hoe mensen 's nachts melden dan van de gegevens.",
        "after_declared_maybe": " (mogelijk nog {n} meer)",
        "after_declared": "Na die verklaring kwamen nog {n} storingsmeldingen binnen{maybe}, uit {places} gemeenten; de laatste {hours:.0f} u later. Dit zijn tellingen, geen modelschattingen.",
        "no_fit": "Er kon geen herstelcurve worden geschat: {error}",
        "coverage_line": "{n_reports} registraties uit {n_sources} bron(nen), van {first} tot {last}; {n_rejected} rijen geweigerd, {n_unresolved} plaatsen niet gevonden.",
        "caption_timeline": "Meldingen per interval, in lokale tijd. Volle balken: meldingen met een gekend tijdstip. Lichte balken: meldingen die alleen binnen een venster gekend zijn, gelijk verdeeld. De nummers verwijzen naar de tabel met gebeurtenissen.",
        "no_geography": "Geen kaart: geen van de {n} storingsmeldingen noemt een plaats, provincie of gewest die de referentiegeografie (de Belgische gemeenten) kan plaatsen.",
        "caption_timeline_restorations": "Herstellingen per interval, in lokale tijd: volle balken wanneer een klant op een gekend tijdstip terug was, lichte balken wanneer alleen een venster gekend is (gelijk erover verdeeld). De genummerde markeringen verwijzen naar de tabel met gebeurtenissen.",
        "caption_timeline_series": "Het gemeten aandeel klanten zonder dienst, in lokale tijd. De genummerde markeringen verwijzen naar de tabel met gebeurtenissen.",
        "caption_recovery": "Geschat aandeel getroffen klanten nog zonder dienst na het begin (lijn), met de {level}-band; de genummerde markeringen bovenaan zijn de gebeurtenissen van het incident, genummerd zoals in de tijdlijn en haar tabel (beweeg over een aankondiging voor het aandeel dat toen nog getroffen was).",
        "caption_map": "Waar de meldingen vandaan kwamen. De cirkelgrootte is het aantal meldingen per gemeente; meldingen over provincies of gewesten staan onder de kaart.",
        "kind": "Soort",
        "source": "Bron",
        "sources": "Bronnen",
        "rejects_by_reason": "Geweigerde rijen per reden",
        "unresolved_places": "Niet gevonden plaatsen",
        "rejects_none": "Geen enkele rij geweigerd.",
        "duplicates": "Identieke en dubbele rijen",
        "dup_identity": "{source}: {kept} van de {identical} rijen die identiek zijn aan een eerdere rij van deze bron werden als aparte meldingen behouden (geen meldings-id; regel: identity — identieke meldingen komen van verschillende mensen). {rejected} rijen werden als dubbel geweigerd: een herhaalde meldings-id, of dezelfde gebruiker of hetzelfde toestel op hetzelfde tijdstip.",
        "dup_exact": '{source}: {identical} rijen zijn identiek aan een eerdere rij van deze bron; {rejected} rijen werden als dubbel geweigerd (dedupe = "exact": de bron plaatst rijen gekend twee keer).',
        "dup_none": '{source}: {kept} van de {identical} rijen die identiek zijn aan een eerdere rij van deze bron werden als aparte meldingen behouden (dedupe = "none": geen enkele rij wordt als dubbel geweigerd).',
        "dup_no_identical": "{source}: geen enkele rij is identiek aan een eerdere rij van deze bron (regel: {policy}); {rejected} rijen werden als dubbel geweigerd.",
        "unresolved_none": "Alle plaatsen werden gevonden.",
        "windows": "Meldingen die alleen binnen een tijdvenster gekend zijn",
        "coverage": "Dekking",
        "parameters": "Parameters",
        "inputs": "Invoerbestanden",
        "packages": "Pakketten",
        "code_version": "Codeversie",
        "metric": "Maat",
        "what_happened": "Wat er gebeurde",
        "minutes": "min",
        "hours": "u",
        "unknown": "onbekend",
        "m_last_timed": "Tijd tot laatste uitspraak met exact tijdstip",
        "m_last_dated": "Laatste uitspraak alleen met datum of venster (einde venster)",
        "w_statements": "uitspraken",
        "w_reports": "meldingen",
        "period_to": "tot",
        "summary_curated_lead": "Wat de uitspraken tonen. Dit zijn tellingen van gepubliceerde uitspraken, geen metingen van hoeveel klanten zonder dienst zaten.",
        "curated_after": "{n} uitspraken dateren van na de verklaring van de operator om {time} dat de storing opgelost was{maybe}, uit {places} gemeenten.",
        "curated_maybe": " (nog {n} zijn alleen gekend via een venster dat dat tijdstip overlapt)",
        "curated_last_timed": "Laatste uitspraak met een exact tijdstip: {time}{place}.",
        "curated_last_dated": "Laatste uitspraak die alleen via een datum of venster gekend is: {window}{place}.",
        "curated_no_timed": "Geen enkele uitspraak heeft een exact tijdstip.",
        "curated_no_dated": "Alle uitspraken hebben een exact tijdstip.",
        "no_place": "geen plaats genoemd",
        "operator_claims": "Wat de operator zei (eigen verklaringen, geen metingen):",
        "curated_model_pointer": "Een model dat het ritme van de uitspraken als herstelcurve leest, staat onder 'Verkennend: ritme van de uitspraken'; het beschrijft wanneer uitspraken gedaan werden, niet het aandeel herstelde klanten.",
        "kpi_statements": "Meldingen van uitval",
        "kpi_after_declared": "Uitspraken na 'opgelost'",
        "kpi_after_declared_sub": "uit {places} gemeenten; nog {maybe} overlappen de verklaring",
        "kpi_last_timed": "Laatste uitspraak met exact tijdstip",
        "kpi_last_dated": "Laatste uitspraak alleen met datum of venster",
        "kpi_declared": "Opgelost verklaard (operator)",
        "claim_item": "{time}: ‘{label}’",
        "rows_in": "{n} rijen gelezen",
        "kpi_declared_sub": "verklaring van de operator, geen meting",
        "recovery_curated": "Verkennend: ritme van de uitspraken",
        "recovery_curated_intro": "De uitspraken werden door redacties gekozen: hun ritme volgt redactionele keuzes even goed als de storing. De curve hieronder is wat het model afleidt als het ritme van de uitspraken het aantal klanten zonder dienst had gevolgd: lees ze als een beschrijving van wanneer uitspraken gedaan werden, niet als het aandeel herstelde klanten.",
        "caption_recovery_curated": "Model van het ritme van de uitspraken: het ritme van de uitspraken in de tijd tegenover het begin (lijn), met de {level}-band. Het is niet het aandeel herstelde klanten. De genummerde markeringen bovenaan zijn de gebeurtenissen van het incident, genummerd zoals in de tijdlijn en haar tabel.",
        "axis_statements_model": "ritme van de uitspraken, % van het ritme bij het begin (model)",
        "misfit_more": "Het model mist een golf van {what} op {period}: waargenomen {observed}, model {expected}.",
        "misfit_fewer": "Het model verwacht meer {what} dan er kwamen op {period}: waargenomen {observed}, model {expected}.",
        "misfit_trust": "De geschatte curve beschrijft de gegevens niet overal. {sentence} Cijfers die van de curve worden afgelezen zijn rond dat tijdstip onbetrouwbaar.",
        "ks_too_few": "Te weinig meldingen met een exact tijdstip voor een aanpassingstoets ({n}).",
        "s_no_geography": "Geen kaart: de reeks noemt geen plaats die de referentiegeografie (de Belgische gemeenten) kan plaatsen; haar cijfers gelden voor het hele gebied dat de bron dekt.",
        "s_weak": "Hersteltijden per klant komen uit het model en zijn zwak bepaald: een aantal klanten zonder stroom zegt niet wanneer elke onderbreking begon, dus hun duur valt niet los te maken van hoe ze begonnen. De tijden onder 50% en 10% zijn wat de reeks meet.",
        "s_not_used": "niet gebruikt: {other}",
        "coverage_line_series": "{n_reports} metingen uit {n_sources} bron(nen), van {first} tot {last}; {n_rejected} rijen geweigerd.",
        "flag_used": "gebruikt",
        "flag_dropout": "uitval van de feed",
        "flag_flapping": "wisselende feed",
        "flag_missing": "ontbrekend",
        "flag_stale": "bevroren",
        "flag_relapse": "terugval",
        "flag_above_total": "boven het totaal",
        "flag_before_onset": "vóór het begin",
        "flag_after_end": "na het einde",
        "s_peak": "Piek klanten zonder stroom",
        "s_t50": "Onder 50% van de piek",
        "s_t90": "Onder 10% van de piek",
        "s_not_reached": "niet bereikt op {end}",
        "s_not_reached_short": "niet bereikt in het venster",
        "s_extrapolated": "extrapolatie van het model: {when}",
        "s_after_onset_peak": "{onset} na het begin · {peak} na de piek",
        "s_readings": "Gebruikte metingen",
        "s_readings_line": "{used} van {n} metingen gebruikt; niet gebruikt: {other}",
        "s_to_full": "van het begin tot volledig herstel",
        "s_to_full_extrapolated": "tot volledig herstel, geëxtrapoleerd voorbij het venster",
        "s_evidence": "Gegevens",
        "s_evidence_value": "{n} metingen van het aantal klanten zonder dienst",
        "s_of_total": "van de bediende klanten",
        "s_of_peak": "van de piek",
        "s_at_end": "Nog zonder dienst bij de laatste gebruikte meting",
        "s_customer_hours_window": "Verloren klanturen binnen het venster",
        "s_per_customer": "Hersteltijd per klant, {pct} hersteld",
        "s_arrivals": "Begin van de onderbrekingen (5%–95%)",
        "s_window_end": "Einde van het waarnemingsvenster",
        "s_readings_title": "Metingen van de reeks",
        "s_no_flags": "Geen meting kon worden nagekeken: de reeks is niet geschat.",
        "s_flag": "markering",
        "s_used": "gebruikt",
        "s_out": "klanten zonder dienst",
        "s_more_rows": "… en nog {n} weggelaten metingen (alle in processed/online.parquet).",
        "s_area": "gebied",
        "s_areas": "Per gebied",
        "s_model": "model (mediaan van de bootstrap)",
        "s_used_readings": "gebruikte metingen",
        "s_left_out": "weggelaten metingen (fouten in de feed)",
        "s_axis": "klanten zonder dienst (% van de piek)",
        "yes": "ja",
        "no": "nee",
        "caption_series": "Klanten zonder dienst als aandeel van de piek, in lokale tijd: elk punt is een meting (kruisjes: weggelaten als fout in de feed), de lijn het geschatte model met zijn {level}-band. Stippellijnen: 50% en 10% van de piek.",
        "methods_series": "Het aantal klanten zonder dienst wordt gemodelleerd als een wachtrij met oneindig veel loketten: onderbrekingen beginnen tijdens de opbouw van de storm en elk duurt een hersteltijd; beide worden op de reeks geschat, waarvan de trage schommelingen als gecorreleerde ruis gelden. De tijden voor 50% en 10% zijn de kloktijden waarop het aantal blijvend onder dat aandeel van de piek zakt; voorbij het venster zijn het extrapolaties, getoond als niet bereikt.",
    },
}

for _lang, _labels in POSTMORTEM_TEXT.items():
    TEXT[_lang].update(_labels)
for _table in (SECTION_TEXT, GEOGRAPHY_TEXT):
    for _lang, _labels in _table.items():
        TEXT[_lang].update(_labels)


def text(language: str, key: str, **values: Any) -> str:
    """The label ``key`` in ``language`` (English if missing), formatted with ``values``."""
    template = TEXT.get(language, {}).get(key) or TEXT["en"][key]
    return template.format(**values) if values else template


def cldr_locale(language: str) -> str:
    """The CLDR locale of a report language (Belgian French and Dutch: the incidents are Belgian)."""
    return {"fr": "fr_BE", "nl": "nl_BE"}.get(language, "en_GB")


def format_time(t: dt.datetime | None, tz: str, language: str = "en", *, with_day: bool = True) -> str:
    """A UTC time as local wall-clock text: 'Monday 8 January 2018, 20:00 CET' (day and month names from CLDR)."""
    if t is None:
        return "—"
    local = t.astimezone(ZoneInfo(tz))
    clock = f"{local:%H:%M}"
    abbrev = local.tzname() or ""
    if not with_day:
        return f"{clock} {abbrev}".strip()
    sep = ", " if language == "en" else " à " if language == "fr" else " om "
    return f"{_day(local, language, year=True)}{sep}{clock} {abbrev}".strip()


def _day(local: dt.datetime, language: str, *, year: bool) -> str:
    from babel.dates import format_datetime

    return format_datetime(local, "EEEE d MMMM y" if year else "EEEE d MMMM", tzinfo=local.tzinfo, locale=cldr_locale(language))


def format_date(t: dt.datetime | None, tz: str, language: str = "en") -> str:
    """The local day of a UTC time, without a clock time: 'Friday 2 March 2018'."""
    if t is None:
        return "—"
    return _day(t.astimezone(ZoneInfo(tz)), language, year=True)


def format_period(start: dt.datetime, end: dt.datetime, tz: str, language: str = "en") -> str:
    """A stretch of time as local text: 'Tuesday 9 January 06:00–12:00 CET', or two dates when it spans days.

    The end is exclusive (a bin ending at midnight stays on its day), and the year is left
    out: a period is read next to the incident's own dates.
    """
    zone = ZoneInfo(tz)
    a, b = start.astimezone(zone), end.astimezone(zone)
    last = (end - dt.timedelta(microseconds=1)).astimezone(zone)
    if last.date() == a.date():
        return f"{_day(a, language, year=False)} {a:%H:%M}–{b:%H:%M} {a.tzname() or ''}".strip()
    return f"{_day(a, language, year=False)} {a:%H:%M} {text(language, 'period_to')} {_day(b, language, year=False)} {b:%H:%M} {b.tzname() or ''}".strip()


def _unit(value: int, unit: str, language: str) -> str:
    from babel.units import format_unit

    # plain "en" gives the unit names people write ("2 hr", "45 min"); en_GB's are plural forms
    loc = "en" if language == "en" else cldr_locale(language)
    return format_unit(value, f"duration-{unit}", length="short", locale=loc).replace("\u202f", "\xa0")


def longest_duration() -> float:
    """Minutes beyond which no duration is shown: the span limit (``POSTMORTEM_MAX_SPAN_DAYS``)."""
    from analysis.limits import limit

    return limit("MAX_SPAN_DAYS") * 1440


def format_duration(minutes: float | None, language: str = "en") -> str:
    """Minutes as people read them, with CLDR unit names: '45 min', '2 h 5 min', '2 days 3 h' (en dash when missing).

    A duration beyond the span limit (a model extrapolating to centuries) is shown as
    '> 366 days', never as its number.
    """
    if minutes is None or not math.isfinite(minutes):
        return "—"
    most = longest_duration()
    if minutes > most:
        return f"> {format_duration(most, language)}"
    m = round(minutes)
    if m < 90:
        return _unit(m, "minute", language)
    h, mm = divmod(m, 60)
    if h < 48:
        return f"{_unit(h, 'hour', language)} {_unit(mm, 'minute', language)}" if mm else _unit(h, "hour", language)
    d, hh = divmod(h, 24)
    return f"{_unit(d, 'day', language)} {_unit(hh, 'hour', language)}" if hh else _unit(d, "day", language)


def estimable(value: float | None, low: float | None = None, high: float | None = None) -> bool:
    """Whether a duration estimate can be shown: finite, within the span limit and inside its own interval."""
    if value is None or not math.isfinite(value) or value > longest_duration():
        return False
    slack = 1e-6 * max(1.0, abs(value))
    if low is not None and math.isfinite(low) and value < low - slack:
        return False
    return not (high is not None and math.isfinite(high) and value > high + slack)


def format_estimate(value: float | None, low: float | None, high: float | None, language: str = "en") -> str:
    """'2 h 5 min [1 h 40 min–3 h]'; 'not estimable' when :func:`estimable` says no.

    An interval end beyond the span limit reads '> 366 days'.
    """
    if not estimable(value, low, high):
        return text(language, "not_estimable")
    return f"{format_duration(value, language)} [{format_duration(low, language)}–{format_duration(high, language)}]"


def format_percent(x: float | None, digits: int = 0, language: str = "en") -> str:
    """A fraction as a percentage in the language's convention ('37%', '37 %'); non-finite: an en dash."""
    if x is None or not math.isfinite(x):
        return "—"
    if language == "en":
        return f"{100 * x:.{digits}f}%"
    from babel import Locale
    from babel.numbers import format_percent as babel_percent

    loc = cldr_locale(language)
    pattern = Locale.parse(loc).percent_formats[None].pattern
    if digits:
        pattern = pattern.replace("0", "0." + "0" * digits, 1) if "0" in pattern else pattern
    return babel_percent(x, format=pattern, locale=loc)


def format_percents(value: float | None, low: float | None, high: float | None, language: str = "en") -> tuple[str, str, str]:
    """An estimate and its interval as percentages, with just enough decimals to tell the bounds apart.

    '9% [9%–9%]' hides a real interval: it becomes '9.1% [8.8%–9.4%]' (at most two decimals).
    """
    digits = 0
    if all(x is not None and math.isfinite(x) for x in (low, high)) and low != high:
        while digits < 2 and format_percent(low, digits) == format_percent(high, digits):
            digits += 1
    return (
        format_percent(value, digits, language),
        format_percent(low, digits, language),
        format_percent(high, digits, language),
    )


def format_count(x: float | None, language: str = "en") -> str:
    """A whole number with the language's grouping (CLDR): '12,500', '12 500', '12.500'; an en dash when missing."""
    if x is None or not math.isfinite(x):
        return "—"
    from babel.numbers import format_decimal

    return format_decimal(round(x), locale=cldr_locale(language)).replace("\u202f", "\xa0")


def format_number(x: float | None, digits: int = 2, language: str = "en") -> str:
    """A number to ``digits`` significant figures without scientific notation: 190, 0.0052, 12,000 (0,0052 in fr/nl).

    Missing or non-finite values are an en dash.
    """
    if x is None or not math.isfinite(x):
        return "—"
    v = float(f"{x:.{digits}g}")
    if abs(v) >= 10 ** (digits - 1):
        out = f"{v:,.0f}"
    else:
        decimals = max(digits - 1 - math.floor(math.log10(abs(v))), 0) if v else 0
        out = f"{v:.{decimals}f}"
    if language == "en":
        return out
    from babel.numbers import get_decimal_symbol, get_group_symbol

    loc = cldr_locale(language)
    return out.replace(",", "\0").replace(".", get_decimal_symbol(loc)).replace("\0", get_group_symbol(loc))
