"""The report's words: every section's HTML, generated from an :class:`Analysis`.

Everything that comes from data (titles, places, labels, messages) passes through
:func:`esc` — ``html.escape`` with quotes — before it reaches the page; nothing here
trusts its input. Functions return HTML strings; the notebook displays them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from analysis import series_report
from analysis.figure_text import area_name
from analysis.i18n import (
    TEXT,
    estimable,
    format_count,
    format_date,
    format_duration,
    format_estimate,
    format_number,
    format_percent,
    format_percents,
    format_period,
    format_time,
    text,
)
from analysis.metrics import offset
from analysis.privacy import esc, scrub_contacts
from analysis.sentences import localized_html
from analysis.timeline import events_in

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


def esc_config(value: str | None) -> str:
    """Escape analyst-written text (titles, labels) after removing contact details from it."""
    return esc(scrub_contacts(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, css: str = "") -> str:
    """A small HTML table with every cell escaped."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{esc(css)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def heading(anchor: str, title: str) -> str:
    """A section heading with a stable anchor (used by the table of contents)."""
    return f'<h2 id="{esc(anchor)}">{esc(title)}</h2>'


def caption(words: str) -> str:
    """A figure caption: what to see."""
    return f'<p class="pm-caption">{esc(words)}</p>'


def _estimate_text(est: Any, *, unit: str = "min", lang: str = "en", horizon: float = math.inf) -> tuple[str, str]:
    """A value and its interval as text; durations past the observation window say so."""
    if est is None or not math.isfinite(est.value):
        return text(lang, "not_estimable"), ""
    if unit == "pct":
        value, low, high = format_percents(est.value, est.low, est.high, lang)
        return value, f"[{low}–{high}]"
    if not estimable(est.value, est.low, None if getattr(est, "high_beyond", False) else est.high):
        return text(lang, "not_estimable"), ""
    beyond = text(lang, "beyond_window")
    value = format_duration(est.value, lang) if est.value <= horizon else f"> {format_duration(horizon, lang)} ({beyond})"
    capped = getattr(est, "high_beyond", False) or not math.isfinite(est.high) or est.high > horizon
    high = beyond if capped else format_duration(est.high, lang)
    return value, f"[{format_duration(est.low, lang)}–{high}]"


def header(a: Analysis) -> str:
    """Title, run line, coverage line, simulated banner and the trust note."""
    lang, inc, mt = a.params.language, a.incident, a.metrics
    tz = inc.timezone
    now = dt.datetime.now(dt.UTC)
    title = inc.title_in(lang) if hasattr(inc, "title_in") else inc.title
    parts = [f"<h1>{esc_config(title)}</h1>" if title != inc.title or lang == "en" else f'<h1 lang="en">{esc_config(title)}</h1>']
    parts.append(
        f'<p class="pm-meta">{esc(inc.id)} · {esc(text(lang, "generated"))} {esc(format_time(now, tz, lang))}'
        f" · {esc(text(lang, 'run'))} {esc(a.params.run_id or 'interactive')}</p>"
    )
    parts.append(
        "<p>"
        + esc(
            text(
                lang,
                "coverage_line_series" if series_report.is_series(a) and not mt["n_unresolved_place"] else "coverage_line",
                n_reports=mt["n_reports"],
                n_sources=len(inc.sources),
                first=format_time(a.span[0] + dt.timedelta(hours=1), tz, lang),
                last=format_time(a.span[1], tz, lang),
                n_rejected=mt["n_rejected"],
                n_unresolved=mt["n_unresolved_place"],
            )
        )
        + "</p>"
    )
    if inc.simulated:
        parts.append(f'<div class="pm-simulated">{esc(text(lang, "simulated_banner"))}</div>')
    notes = trust_notes(a)
    if notes:
        items = "".join(f"<li>{esc(n)}</li>" for n in notes)
        parts.append(f'<div class="pm-trust"><strong>{esc(text(lang, "trust_title"))}</strong><ul>{items}</ul></div>')
    return "\n".join(parts)


def trust_notes(a: Analysis) -> list[str]:
    """Plain statements of what limits the conclusions, derived from the data."""
    lang = a.params.language
    notes = []
    down = a.down
    n = down.height
    windowed = down.filter(pl.col("reported_until").is_not_null()).height
    if a.evidence != "down_reports":
        notes.append(text(lang, "trust_direct", what=text(lang, f"ev_{a.evidence}"), n=evidence_rows(a)))
    elif n < 30:
        notes.append(text(lang, "trust_very_little", n=n))
    elif n < 200:
        notes.append(text(lang, "trust_limited", n=n))
    if n and windowed / n > 0.3:
        notes.append(text(lang, "trust_windows", windowed=windowed, n=n))
    area_rows = down.filter(pl.col("area_level").is_in(["province", "region", "country"])).height
    if area_rows:
        notes.append(text(lang, "trust_areas", n=area_rows))
    for s in a.incident.sources:
        if s.coverage:
            coverage = s.coverage_in(lang) if hasattr(s, "coverage_in") else s.coverage
            notes.append(text(lang, "trust_coverage", source=s.name, coverage=coverage))
        if s.sampling == "curated":
            notes.append(text(lang, "trust_curated", source=s.name))
    if a.fit is None:
        notes.append(text(lang, "no_fit", error=a.fit_error))
    elif not getattr(a, "curated", False):  # curated: t90 is not read as a restoration time
        t90 = a.fit.t90
        if math.isfinite(t90.high) and math.isfinite(t90.low) and t90.high > 3 * max(t90.low, 1):
            notes.append(text(lang, "trust_t90_wide"))
    for misfit in getattr(a, "misfits", []):
        notes.append(text(lang, "misfit_trust", sentence=misfit_sentence(a, misfit)))
    if a.data.n_rejected:
        notes.append(text(lang, "trust_rejects", rejected=a.data.n_rejected, raw=a.data.n_raw))
    return notes


def misfit_sentence(a: Analysis, misfit: Any) -> str:
    """One plain sentence for a stretch the model gets wrong (see :mod:`analysis.misfit`).

    'The model misses a burst of statements on Tuesday 9 January 06:00–12:00 CET: observed
    28, model 9.9.' Curated evidence is counted as statements, anything else as reports.
    """
    lang = a.params.language
    what = text(lang, "w_statements" if getattr(a, "curated", False) else "w_reports")
    return text(
        lang,
        "misfit_more" if misfit.sign > 0 else "misfit_fewer",
        what=what,
        period=format_period(misfit.start, misfit.end, a.incident.timezone, lang),
        observed=f"{misfit.observed:.0f}",
        expected=f"{misfit.expected:.1f}" if lang == "en" else f"{misfit.expected:.1f}".replace(".", ","),
    )


def evidence_rows(a: Analysis) -> int:
    """How many records the recovery curve was fitted to (restoration records or series points)."""
    if a.evidence == "restorations":
        return a.data.restorations.height
    if a.evidence == "online_fraction":
        return a.data.online.height
    return a.down.height


def kpi(label: str, value: str, ci: str = "", sub: str = "") -> str:
    """One headline number card."""
    return (
        f'<div class="pm-kpi"><div class="l">{esc(label)}</div><div class="v">{esc(value)}</div>'
        f'<div class="ci">{esc(ci)}</div><div class="ci">{esc(sub)}</div></div>'
    )


def summary(a: Analysis) -> str:
    """Executive summary: what happened, the headline numbers with intervals, the gap."""
    lang, inc, fit = a.params.language, a.incident, a.fit
    tz = inc.timezone
    parts = [heading("summary", text(lang, "summary"))]
    description, written_in = inc.description_in(lang) if hasattr(inc, "description_in") else (inc.description, "en")
    if description:
        marked = f' lang="{written_in}"' if written_in != lang else ""  # not written in the reader's language
        parts.append(f"<p{marked}>{esc_config(description.strip())}</p>")
    if getattr(a, "curated", False) and a.metrics.get("curated_summary"):
        return "\n".join(parts + curated_summary_parts(a))
    if series_report.is_series(a):
        parts += series_report.summary_parts(a, kpi)
        if fit is None:
            parts.append(f'<div class="pm-callout">{esc(text(lang, "no_fit", error=a.fit_error))}</div>')
        gap = declared_gap_sentence(a)
        if gap:
            parts.append(f'<div class="pm-callout">{esc(gap)}</div>')
        parts.append(_intervals_line(a))
        return "\n".join(parts)
    if a.evidence == "down_reports":
        cards = [kpi(text(lang, "reports"), f"{a.metrics['n_down_reports']}", sub=text(lang, "rows_in", n=a.metrics["n_raw"]))]
    else:
        cards = [kpi(text(lang, "observations"), f"{evidence_rows(a)}", sub=text(lang, f"ev_{a.evidence}"))]
    onset = fit.onset if fit is not None else inc.onset
    cards.append(kpi(text(lang, "onset"), format_time(onset, tz, lang, with_day=False), sub=a.metrics.get("onset_source") or ""))
    if fit is not None:
        for q in ("t50", "t90", "t99"):
            value, ci = _estimate_text(getattr(fit, q), lang=lang, horizon=fit.horizon_minutes)
            cards.append(kpi(text(lang, q), value, ci, text(lang, "after_onset")))
        value, ci = _estimate_text(fit.mean_outage_minutes, lang=lang, horizon=fit.horizon_minutes)
        cards.append(kpi(text(lang, "mean_outage"), value, ci))
        value, ci = _estimate_text(fit.tail_fraction, unit="pct", lang=lang)
        cards.append(kpi(text(lang, "tail_fraction"), value, ci))
    parts.append(f'<div class="pm-kpis">{"".join(cards)}</div>')
    if fit is None:
        parts.append(f'<div class="pm-callout">{esc(text(lang, "no_fit", error=a.fit_error))}</div>')
    gap = declared_gap_sentence(a)
    after = after_declaration_sentence(a.metrics.get("declared_resolved") or {}, lang)
    if gap and after:
        gap += " " + after
    if gap:
        parts.append(f'<div class="pm-callout">{esc(gap)}</div>')
    parts.append(_intervals_line(a))
    return "\n".join(parts)


def _intervals_line(a: Analysis) -> str:
    """'Intervals: 90 %, <how they were computed>.' in the reader's language."""
    lang, fit = a.params.language, a.fit
    method = localized_html(fit.interval_method, lang) if fit is not None else "—"
    words = esc(text(lang, "mt_intervals", method="\x00", level=format_percent(a.params.level, 0, lang)))
    return f'<p class="pm-meta">{words.replace(chr(0), method)}</p>'


def _place(place: str | None, lang: str) -> str:
    """The place a statement names (a region or the country in the reader's language), or 'no place named'."""
    return area_name(place, lang) if place else text(lang, "no_place")


def _place_suffix(place: str | None, lang: str) -> str:
    """' (Messancy)', or ' (no place named)': appended to a sentence about a statement."""
    return f" ({_place(place, lang)})"


def window_text(start: dt.datetime, until: dt.datetime, tz: str, lang: str) -> str:
    """A statement's window in words: 'Wednesday 10 January 00:00–21:17 CET'."""
    return format_period(start, until, tz, lang)


def curated_summary_parts(a: Analysis) -> list[str]:
    """The executive summary of curated evidence: what the statements show, then the operator's claims.

    Statements picked by newsrooms do not measure how many customers were without
    service, so the summary leads with counts and dates read straight from them (the
    ``curated_summary`` block of metrics.json) and presents the operator's announcements
    as its own statements. Model numbers stay in the exploratory section.
    """
    lang, tz = a.params.language, a.incident.timezone
    facts = a.metrics["curated_summary"]
    when = dt.datetime.fromisoformat
    declared = when(facts["declared_resolved"]) if facts.get("declared_resolved") else None
    timed, dated = facts.get("last_timed_statement"), facts.get("last_dated_statement")
    after = facts.get("statements_after_declaration")
    maybe = facts.get("statements_possibly_after_declaration") or 0
    places = facts.get("municipalities_after_declaration") or 0

    cards = [kpi(text(lang, "kpi_statements"), str(facts["n_statements"]), sub=text(lang, "rows_in", n=a.metrics["n_raw"]))]
    if declared is not None and after is not None:
        cards.append(
            kpi(
                text(lang, "kpi_after_declared"), str(after), sub=text(lang, "kpi_after_declared_sub", places=places, maybe=maybe)
            )
        )
    cards.append(
        kpi(
            text(lang, "kpi_last_timed"),
            format_time(when(timed["time"]), tz, lang) if timed else "—",
            sub=_place(timed["place"], lang) if timed else "",
        )
    )
    cards.append(
        kpi(
            text(lang, "kpi_last_dated"),
            window_text(when(dated["from"]), when(dated["until"]), tz, lang) if dated else "—",
            sub=_place(dated["place"], lang) if dated else "",
        )
    )
    if declared is not None:
        cards.append(
            kpi(text(lang, "kpi_declared"), format_time(declared, tz, lang, with_day=False), sub=text(lang, "kpi_declared_sub"))
        )

    facts_html = []
    if declared is not None and after is not None:
        facts_html.append(
            text(
                lang,
                "curated_after",
                n=after,
                time=format_time(declared, tz, lang, with_day=False),
                maybe=text(lang, "curated_maybe", n=maybe) if maybe else "",
                places=places,
            )
        )
    facts_html.append(
        text(
            lang, "curated_last_timed", time=format_time(when(timed["time"]), tz, lang), place=_place_suffix(timed["place"], lang)
        )
        if timed
        else text(lang, "curated_no_timed")
    )
    facts_html.append(
        text(
            lang,
            "curated_last_dated",
            window=window_text(when(dated["from"]), when(dated["until"]), tz, lang),
            place=_place_suffix(dated["place"], lang),
        )
        if dated
        else text(lang, "curated_no_dated")
    )
    parts = [
        f'<div class="pm-kpis">{"".join(cards)}</div>',
        f"<p><b>{esc(text(lang, 'summary_curated_lead'))}</b></p>",
        "<ul>" + "".join(f"<li>{esc(x)}</li>" for x in facts_html) + "</ul>",
    ]
    claims = facts.get("operator_statements") or []
    if claims:
        lis = []
        for c in claims:
            label, label_lang = _translated_label(a, c["label"], lang)
            sentence = text(lang, "claim_item", time=format_time(when(c["time"]), tz, lang), label="\x00")
            source = f" ({esc_config(c['source'])})" if c.get("source") else ""
            lis.append(f"<li>{quoted_label(sentence, label, lang, label_lang)}{source}</li>")
        items = "".join(lis)
        parts.append(f"<p>{esc(text(lang, 'operator_claims'))}</p><ul>{items}</ul>")
    parts.append(f'<div class="pm-callout">{esc(text(lang, "curated_model_pointer"))}</div>')
    return parts


def _translated_label(a: Analysis, label: str, lang: str) -> tuple[str, str]:
    """An event label (as metrics.json keeps it, in English) in ``lang`` if written in it: ``(label, its language)``."""
    for e in a.incident.events:
        if e.label == label and e.labels.get(lang):
            return e.labels[lang], lang
    return label, "en"


def quoted_label(sentence: str, label: str | None, lang: str, label_lang: str = "en") -> str:
    """``sentence`` (a NUL character where the label goes) escaped, the analyst's label inside it.

    A label not written in the page's language (labels in ``incident.toml`` are English unless
    translated) is marked with its own ``lang``, so browsers, screen readers and translators
    know what it is.
    """
    label_html = esc(scrub_contacts(label))
    if label_lang != lang:
        label_html = f'<span lang="{esc(label_lang)}">{label_html}</span>'
    return esc(sentence).replace("\x00", label_html)


def after_declaration_sentence(after: dict[str, Any], lang: str = "en") -> str | None:
    """What the reports said after the outage was declared resolved (model-free counts).

    ``after`` is the ``declared_resolved`` block of metrics.json; ``None`` when it has no counts.
    """
    if after.get("reports_after") is None or after.get("last_report_hours_after") is None:
        return None
    maybe = after.get("reports_possibly_after") or 0
    return text(
        lang,
        "after_declared",
        n=after["reports_after"],
        maybe=text(lang, "after_declared_maybe", n=maybe) if maybe else "",
        places=after["municipalities_after"],
        hours=after["last_report_hours_after"],
    )


def declared_gap_sentence(a: Analysis) -> str | None:
    """'Declared resolved at 22:30; an estimated X% [a–b] … still without service …'."""
    lang, inc, fit = a.params.language, a.incident, a.fit
    event = inc.declared_resolved or (inc.announcements[-1] if inc.announcements else None)
    if event is None or fit is None:
        return None
    est = fit.still_affected(event.time)
    last = a.metrics.get("last_report")
    gap = text(
        lang,
        "declared_gap",
        time=format_time(event.time, inc.timezone, lang, with_day=False),
        **dict(zip(("pct", "lo", "hi"), format_percents(est.value, est.low, est.high, lang), strict=True)),
    )
    if last:  # evidence without reports (restorations, a measured series) has no last report
        gap += " " + text(lang, "declared_last", last=format_time(dt.datetime.fromisoformat(last), inc.timezone, lang))
    return gap


def impact(a: Analysis) -> str:
    """PagerDuty-style impact table and the time metrics from onset."""
    lang, inc, fit, mt = a.params.language, a.incident, a.fit, a.metrics
    if series_report.is_series(a):
        parts = [heading("impact", text(lang, "impact")), table([text(lang, "i_impact"), ""], series_report.impact_rows(a))]
        rows = series_report.milestone_rows(a)
        resolved = inc.declared_resolved
        if resolved is not None and fit is not None:
            after = format_duration((resolved.time - fit.onset).total_seconds() / 60, lang)
            rows.append((text(lang, "m_declared"), format_time(resolved.time, inc.timezone, lang), after))
        if rows:
            parts.append(table([text(lang, "m_milestone"), text(lang, "m_local_time"), text(lang, "after_onset")], rows))
        parts.append(series_report.areas_html(a, table))
        return "\n".join(parts)
    tz = inc.timezone
    onset = fit.onset if fit is not None else inc.onset
    rows: list[tuple[str, str, str]] = []

    def since(t: dt.datetime | None) -> str:
        if t is None or onset is None:
            return "—"
        return format_duration((t - onset).total_seconds() / 60, lang)

    first = dt.datetime.fromisoformat(mt["first_report"]) if mt.get("first_report") else None
    last = dt.datetime.fromisoformat(mt["last_report"]) if mt.get("last_report") else None
    rows.append((text(lang, "m_detect"), format_time(first, tz, lang), time_to_detect(mt, first, onset, lang)))
    # curated statements do not measure restoration: their model quantiles stay in the exploratory section
    if fit is not None and not getattr(a, "curated", False):
        for p, label in (
            (0.05, text(lang, "m_first_restorations")),
            (0.5, text(lang, "m_50")),
            (0.9, text(lang, "m_90")),
        ):
            est = fit.quantile(p)
            when = offset(onset, est.value)
            rows.append(
                (
                    label,
                    format_time(when, tz, lang),
                    format_estimate(est.value, est.low, est.high, lang),
                )
            )
    resolved = inc.declared_resolved
    rows.append(
        (
            text(lang, "m_declared"),
            format_time(resolved.time if resolved else None, tz, lang),
            since(resolved.time if resolved else None),
        )
    )
    facts = mt.get("curated_summary") if getattr(a, "curated", False) else None
    if facts:  # a dated statement's window end is not a report time: the two are shown apart
        timed, dated = facts.get("last_timed_statement"), facts.get("last_dated_statement")
        when = dt.datetime.fromisoformat
        if timed:
            rows.append((text(lang, "m_last_timed"), format_time(when(timed["time"]), tz, lang), since(when(timed["time"]))))
        if dated:
            rows.append((text(lang, "m_last_dated"), format_time(when(dated["until"]), tz, lang), since(when(dated["until"]))))
    else:
        rows.append((text(lang, "m_last"), format_time(last, tz, lang), since(last)))
    parts = [heading("impact", text(lang, "impact"))]
    # the incident's own service only ([postmortem] service); reports about other services are listed apart
    own = getattr(a, "service_down", a.down)
    others: dict[str, int] = getattr(a, "other_services", {})
    services = getattr(a, "services", ()) or sorted(set(own["service"].drop_nulls().unique().to_list()))
    n_own = int(own["weight"].sum()) if own.height else 0
    impact_rows = [
        (text(lang, "i_service"), ", ".join(service_name(x, lang) for x in services) or "—"),
        (text(lang, "i_reports"), f"{n_own} / {mt['n_raw']}")
        if a.evidence == "down_reports"
        else (text(lang, "observations"), f"{evidence_rows(a)} {text(lang, f'ev_{a.evidence}')}"),
        (text(lang, "i_municipalities"), str(own.filter(pl.col("municipality").is_not_null())["nis_code"].n_unique())),
        (
            text(lang, "i_regions"),
            ", ".join(sorted(area_name(r, lang) for r in own["region"].drop_nulls().unique().to_list())) or "—",
        ),
    ]
    if others:
        listed = ", ".join(f"{service_name(x, lang)} {n}" for x, n in others.items())
        impact_rows.append((text(lang, "i_other_services"), text(lang, "i_other_services_value", listed=listed)))
    if fit is not None and not getattr(a, "curated", False):
        value, ci = _estimate_text(fit.mean_outage_minutes, lang=lang, horizon=fit.horizon_minutes)
        impact_rows.append((text(lang, "mean_outage"), f"{value} {ci}"))
        if inc.affected_customers:
            est = fit.customer_hours_lost(inc.affected_customers)
            impact_rows.append(
                (
                    text(lang, "i_customer_hours"),
                    f"{format_count(est.value, lang)} [{format_count(est.low, lang)}–{format_count(est.high, lang)}]",
                )
            )
    parts.append(table([text(lang, "i_impact"), ""], impact_rows))
    parts.append(table([text(lang, "m_milestone"), text(lang, "m_local_time"), text(lang, "after_onset")], rows))
    return "\n".join(parts)


def detection_html(a: Analysis) -> str:
    """The Detection section: onset, first signal, first acknowledgement and the gaps between them.

    Reads the ``detection`` block of metrics.json (:func:`analysis.facts.detection`); the
    time to detect is 'unknown' when the onset was configured rather than observed.
    """
    lang, tz = a.params.language, a.incident.timezone
    d = a.metrics.get("detection") or {}
    when = dt.datetime.fromisoformat

    def t(key: str) -> dt.datetime | None:
        return when(d[key]) if d.get(key) else None

    onset, signal, until, ack = t("onset"), t("first_signal"), t("first_signal_until"), t("first_acknowledgement")
    source_word = {"config": "det_onset_config", "estimated": "det_onset_estimated", "observed": "det_onset_estimated"}
    rows: list[tuple[str, str, str]] = [
        (
            text(lang, "det_onset"),
            format_time(onset, tz, lang),
            text(lang, source_word[d["onset_source"]]) if d.get("onset_source") in source_word else "",
        )
    ]
    signal_text = format_period(signal, until, tz, lang) if signal and until else format_time(signal, tz, lang)
    rows.append((text(lang, "det_first_signal"), signal_text, ""))
    if ack is not None:
        label, label_lang = _translated_label(a, d.get("first_acknowledgement_label") or "", lang)
        note = esc(scrub_contacts(label))
        if label_lang != lang:
            note = f'<span lang="{esc(label_lang)}">{note}</span>'
        if d.get("first_acknowledgement_source"):
            note += f" ({esc(scrub_contacts(d['first_acknowledgement_source']))})"
        rows.append((text(lang, "det_first_ack"), format_time(ack, tz, lang), _Html(note)))
    else:
        rows.append((text(lang, "det_first_ack"), "—", text(lang, "det_none")))
    detect = d.get("time_to_detect_minutes")
    if detect is not None:
        detect_text = format_duration(detect, lang)
    elif d.get("onset_source") == "config":
        detect_text = text(lang, "det_unknown_configured")
    else:
        detect_text = text(lang, "unknown")
    rows.append((text(lang, "det_time_to_detect"), detect_text, ""))
    to_ack = d.get("time_to_acknowledge_minutes")
    if to_ack:
        low, high = to_ack
        ack_text = (
            format_duration(low, lang)
            if low == high
            else text(lang, "det_between", low=format_duration(low, lang), high=format_duration(high, lang))
        )
        rows.append((text(lang, "det_time_to_ack"), ack_text, ""))
    if d.get("acknowledged_after_onset_minutes") is not None:
        rows.append((text(lang, "det_ack_after_onset"), format_duration(d["acknowledged_after_onset_minutes"], lang), ""))
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, _Html) else esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return "\n".join(
        [
            heading("detection", text(lang, "det_title")),
            f"<p>{esc(text(lang, 'det_intro'))}</p>",
            f"<table><thead><tr><th>{esc(text(lang, 'm_milestone'))}</th><th>{esc(text(lang, 'time'))}</th><th></th></tr></thead>"
            f"<tbody>{body}</tbody></table>",
        ]
    )


class _Html(str):
    """A table cell that is already escaped HTML."""


def customer_impact_html(a: Analysis) -> str:
    """Impact in customer-hours when the affected count is known; says why not otherwise."""
    lang = a.params.language
    c = a.metrics.get("customer_impact") or {}
    level = format_percent(a.params.level, 0, lang)
    hours = format_count(c.get("customer_hours"), lang)
    low, high = (c.get("customer_hours_ci") or [None, None])[:2]
    affected = format_count(c["affected_customers"], lang) if c.get("affected_customers") else None
    basis = c.get("basis")
    if basis == "model":
        words = text(
            lang,
            "ci_model",
            affected=affected,
            hours=hours,
            low=format_count(low, lang),
            high=format_count(high, lang),
            level=level,
        )
    elif basis == "series":
        words = text(lang, "ci_series", hours=hours, low=format_count(low, lang), high=format_count(high, lang), level=level)
    elif basis == "operator_timeline":
        d = a.metrics.get("detection") or {}
        declared = (a.metrics.get("declared_resolved") or {}).get("minutes_after_onset")
        if declared is None and d.get("onset") and a.incident.declared_resolved is not None:
            declared = (a.incident.declared_resolved.time - dt.datetime.fromisoformat(d["onset"])).total_seconds() / 60
        words = text(lang, "ci_operator", affected=affected, duration=format_duration(declared, lang), hours=hours)
    else:
        words = text(
            lang,
            {"no_declared_resolution": "ci_no_declared", "no_fit": "ci_no_fit"}.get(c.get("reason") or "", "ci_affected_unknown"),
        )
    rows = [
        (text(lang, "ci_affected"), affected or text(lang, "ci_unknown")),
        (text(lang, "ci_hours"), hours if basis else "—"),
    ]
    return "\n".join([heading("customer-impact", text(lang, "ci_title")), table(["", ""], rows), f"<p>{esc(words)}</p>"])


def service_name(service: str, lang: str) -> str:
    """A service as the data name it (``tv``, ``web``) in the reader's words where the report knows it."""
    key = f"svc_{service}"
    return text(lang, key) if key in TEXT["en"] else service


def time_to_detect(mt: dict[str, Any], first: dt.datetime | None, onset: dt.datetime | None, lang: str) -> str:
    """First report minus onset, or 'unknown' when the onset was configured rather than observed.

    A configured onset is usually the time the first complaints arrived, so the difference
    would be zero by construction and would say nothing about detection. Only an onset
    estimated from the data (``onset_source`` ``estimated`` or ``observed``) makes the gap a
    measurement.
    """
    if mt.get("onset_source") not in ("estimated", "observed") or first is None or onset is None:
        return text(lang, "unknown")
    return format_duration((first - onset).total_seconds() / 60, lang)


def events_html(a: Analysis) -> str:
    """The timeline table (numbered like the figure's markers), in the reader's language where it can be."""
    from analysis.figure_text import CODE_LABELS, translate_text

    lang = a.params.language

    def label(r: dict[str, Any]) -> str:
        # the analyst's labels as written (translated where incident.toml gives them), the code's own in the reader's language
        own = r["origin"] == "config" and r["label"] not in CODE_LABELS  # "Onset (configured)" is the code's words
        return scrub_contacts(r["label"]) if own else translate_text(r["label"], lang)

    def word(prefix: str, value: str | None) -> str:
        key = f"{prefix}_{value}"
        return text(lang, key) if value and key in TEXT["en"] else (value or "")

    rows = [
        (
            i,
            (format_date if r.get("date_only") else format_time)(r["time"], a.incident.timezone, lang),
            label(r),
            word("kind", r["kind"]),
            r["source"] or word("origin", r["origin"]),
        )
        for i, r in enumerate(events_in(a.events, lang).iter_rows(named=True), start=1)
    ]
    return table(["#", text(lang, "time"), text(lang, "event"), text(lang, "kind"), text(lang, "source")], rows)


def rejects_by_reason(rejects: pl.DataFrame, *, by: Sequence[str] = ("reason",)) -> pl.DataFrame:
    """Rejected rows counted per reason, most frequent first, with the first five row numbers.

    Reasons that differ only by the row they point to ("duplicate of row 84") count as one.
    """
    return (
        rejects.with_columns(pl.col("reason").str.replace(r"duplicate of row \d+", "duplicate of an earlier row"))
        .group_by(*by)
        .agg(pl.len().alias("rows"), pl.col("row").sort().head(5).cast(pl.String).str.join(", ").alias("first rows"))
        .sort("rows", *by, descending=[True] + [False] * len(by))
    )


def duplicates_sentence(counts: Any, lang: str) -> str:
    """How many rows of a source are identical to an earlier one, what became of them, and the policy.

    Always said, whatever the policy: under the default (identity) identical rows are kept
    as separate reports, and a reader must be able to see how many there were.
    """
    values = {
        "source": counts.source,
        "identical": counts.n_identical,
        "kept": counts.n_identical_kept,
        "rejected": counts.n_duplicates,
        "policy": counts.dedupe,
    }
    if counts.n_identical == 0:
        return text(lang, "dup_no_identical", **values)
    return text(lang, f"dup_{counts.dedupe}", **values)


def data_quality(a: Analysis) -> str:
    """Sources, counts, rejects by reason, unresolved places, windows, coverage notes."""
    lang, data = a.params.language, a.data
    parts = [heading("data-quality", text(lang, "data_quality"))]
    rows = [
        (
            s.source,
            text(lang, f"kind_{s.kind}") if f"kind_{s.kind}" in TEXT["en"] else s.kind,
            s.path,
            s.n_raw,
            s.n_accepted,
            s.n_rejected,
            s.encoding or "",
            repr(s.delimiter) if s.delimiter else "",
        )
        for s in data.sources
    ]
    parts.append(f"<h3>{esc(text(lang, 'sources'))}</h3>")
    headers = ["source", "kind", "file", "rows", "kept", "rejected", "encoding", "delimiter"]
    parts.append(table([text(lang, f"dq_h_{h}") for h in headers], rows))
    parts.append(f"<p>{esc(text(lang, 'dq_rows_balance', raw=data.n_raw, kept=data.n_reports, rejected=data.n_rejected))}</p>")
    if series_report.is_series(a):
        parts.append(series_report.quality_html(a, table))
    parts.append(f"<h3>{esc(text(lang, 'duplicates'))}</h3>")
    parts.extend(f"<p>{esc(duplicates_sentence(s, lang))}</p>" for s in data.sources)
    parts.append(f"<h3>{esc(text(lang, 'rejects_by_reason'))}</h3>")
    if data.rejects.height:
        by = rejects_by_reason(data.rejects, by=("source", "reason"))
        parts.append(table([text(lang, f"dq_h_{h}") for h in ("source", "reason", "rows", "first_rows")], by.rows()))
    else:
        parts.append(f"<p>{esc(text(lang, 'rejects_none'))}</p>")
    reports = data.reports
    if series_report.is_series(a) and reports.height == 0:
        # a series has readings, not reports: no places to resolve, no windows
        warned = data.online.filter(pl.col("issues").is_not_null())
        if warned.height:
            parts.append(f"<h3>{esc(text(lang, 'dq_kept_warning'))}</h3>")
            by = warned.group_by("issues").agg(pl.len().alias("readings")).sort("readings", descending=True).head(20)
            parts.append(table([text(lang, "dq_h_warning"), text(lang, "dq_h_readings")], by.rows()))
        return "\n".join(parts)
    parts.append(f"<h3>{esc(text(lang, 'unresolved_places'))}</h3>")
    unresolved = reports.filter(
        (pl.col("geo_method").is_null() | pl.col("geo_method").is_in(["unresolved", "ambiguous"]))
        & pl.col("place_raw").is_not_null()
    )
    if unresolved.height:
        cols = ["place_raw"] + (["geo_note"] if "geo_note" in unresolved.columns else [])
        by = unresolved.group_by(cols).agg(pl.len().alias("reports")).sort("reports", descending=True).head(50)
        headers = [
            text(lang, "dq_h_place_written"),
            *([text(lang, "dq_h_why")] if len(cols) > 1 else []),
            text(lang, "dq_h_reports"),
        ]
        parts.append(table(headers, by.rows()))
    else:
        parts.append(f"<p>{esc(text(lang, 'unresolved_none'))}</p>")
    no_place = reports.filter(pl.col("place_raw").is_null() & pl.col("lat").is_null() & pl.col("postal_code").is_null()).height
    if no_place:
        parts.append(f"<p>{esc(text(lang, 'dq_no_place', n=no_place))}</p>")
    windowed = reports.filter(pl.col("reported_until").is_not_null())
    parts.append(f"<h3>{esc(text(lang, 'windows'))}</h3>")
    if windowed.height:
        spans = windowed.select(((pl.col("reported_until") - pl.col("reported_at")).dt.total_minutes() / 60).alias("h"))["h"]
        words = text(
            lang,
            "dq_windows",
            n=windowed.height,
            total=reports.height,
            median=format_number(spans.median(), 2, lang),
            widest=format_number(spans.max(), 3, lang),
        )
        parts.append(f"<p>{esc(words)}</p>")
    else:
        parts.append(f"<p>{esc(text(lang, 'dq_all_timed'))}</p>")
    issues = reports.filter(pl.col("issues").is_not_null())
    if issues.height:
        parts.append(f"<h3>{esc(text(lang, 'dq_kept_warning'))}</h3>")
        by = issues.group_by("issues").agg(pl.len().alias("reports")).sort("reports", descending=True).head(20)
        parts.append(table([text(lang, "dq_h_warning"), text(lang, "dq_h_reports")], by.rows()))
    cov = [
        (
            s.name,
            s.coverage_in(lang) if hasattr(s, "coverage_in") else s.coverage,
            ", ".join(area_name(r, lang) for r in s.coverage_regions),
        )
        for s in a.incident.sources
        if s.coverage
    ]
    if cov:
        parts.append(f"<h3>{esc(text(lang, 'coverage'))}</h3>")
        parts.append(table([text(lang, f"dq_h_{h}") for h in ("source", "coverage", "regions_covered")], cov))
        by_region = a.down.group_by("region").agg(pl.len().alias("reports")).sort("reports", descending=True)
        if by_region.height:
            rows = [(area_name(r, lang) if r else text(lang, "dq_no_region"), n) for r, n in by_region.rows()]
            parts.append(table([text(lang, "dq_h_region"), text(lang, "dq_h_down_reports")], rows))
    return "\n".join(parts)


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
