"""The report's live parts: the "as of" banner of a live page and the communications review.

Kept apart from the other sections (one banner, one section) so the live features stay a
small addition to the page. Texts are in the three report languages here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from analysis.i18n import format_duration, format_percent, format_percents, format_time, text
from analysis.narrative import caption, esc, heading, table
from analysis.privacy import scrub_contacts

if TYPE_CHECKING:
    from analysis.pipeline import Analysis

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "peak_ahead": "The count may not have peaked yet: the times lean on the duration prior as well as on the curve.",
        "banner": "Live estimate as of {time}: only the evidence observed by then is used.",
        "still_out": "Still out: {value} [{low}–{high}].",
        "eta": "{share} restored by {time} [{low} – {high}].",
        "reached": "{share} restored at {time}.",
        "no_curve": "No recovery curve yet: times come from the duration prior alone.",
        "review": "Communications review",
        "review_lead": "At each announcement, what the evidence in hand at that moment implied, beside what all the evidence shows now.",
        "review_line": "At {time} the evidence in hand implied {then} [{then_low}–{then_high}] still out; we now know {now} [{now_low}–{now_high}].",
        "review_none": "At {time} the evidence in hand did not allow an estimate ({why}); we now know {now} [{now_low}–{now_high}].",
        "col_time": "Announcement",
        "col_label": "What was said",
        "col_then": "Still out, as of then",
        "col_now": "Still out, known now",
        "statements_lead": "The statements are a selection, not a measure of how many customers were still out (see How much to trust this): at each announcement, how many statements about the service came after it, in how many municipalities, and how long after it the last one ended.",
        "col_after": "Statements after it (and straddling it)",
        "col_places": "Municipalities after it",
        "col_last": "Last statement ends",
        "caption": "Intervals at the report's level. 'As of then' uses only reports stamped, and readings taken, by the announcement.",
    },
    "fr": {
        "peak_ahead": "Le nombre n'a peut-être pas encore atteint son maximum : les heures s'appuient aussi sur la loi a priori des durées.",
        "banner": "Estimation en direct, le {time} : seules les données observées à ce moment sont utilisées.",
        "still_out": "Encore privés de service : {value} [{low}–{high}].",
        "eta": "{share} rétablis vers le {time} [{low} – {high}].",
        "reached": "{share} rétablis le {time}.",
        "no_curve": "Pas encore de courbe de rétablissement : les heures viennent de la seule loi a priori des durées.",
        "review": "Revue des communications",
        "review_lead": "À chaque annonce, ce qu'impliquaient les données disponibles à ce moment, à côté de ce que montrent aujourd'hui toutes les données.",
        "review_line": "Le {time}, les données disponibles impliquaient {then} [{then_low}–{then_high}] encore privés de service ; nous savons aujourd'hui {now} [{now_low}–{now_high}].",
        "review_none": "Le {time}, les données disponibles ne permettaient pas d'estimation ({why}) ; nous savons aujourd'hui {now} [{now_low}–{now_high}].",
        "col_time": "Annonce",
        "col_label": "Ce qui a été dit",
        "col_then": "Encore privés, selon les données d'alors",
        "col_now": "Encore privés, selon ce qu'on sait aujourd'hui",
        "statements_lead": "Les déclarations sont une sélection, pas une mesure du nombre de clients encore privés de service (voir « Quelle confiance accorder à ce rapport ») : à chaque annonce, combien de déclarations sur le service sont venues après, dans combien de communes, et combien de temps après elle la dernière s'est terminée.",
        "col_after": "Déclarations après (et à cheval)",
        "col_places": "Communes après",
        "col_last": "Fin de la dernière déclaration",
        "caption": "Intervalles au niveau du rapport. « Selon les données d'alors » n'utilise que les signalements datés, et les relevés faits, avant l'annonce.",
    },
    "nl": {
        "peak_ahead": "Het aantal heeft mogelijk zijn piek nog niet bereikt: de tijden steunen ook op de a-priori-verdeling van de duur.",
        "banner": "Live schatting van {time}: alleen wat toen waargenomen was, wordt gebruikt.",
        "still_out": "Nog zonder dienst: {value} [{low}–{high}].",
        "eta": "{share} hersteld tegen {time} [{low} – {high}].",
        "reached": "{share} hersteld op {time}.",
        "no_curve": "Nog geen herstelcurve: de tijden komen alleen uit de a-priori-verdeling van de duur.",
        "review": "Terugblik op de communicatie",
        "review_lead": "Bij elke aankondiging: wat de toen beschikbare gegevens aangaven, naast wat alle gegevens nu tonen.",
        "review_line": "Op {time} wezen de beschikbare gegevens op {then} [{then_low}–{then_high}] nog zonder dienst; nu weten we {now} [{now_low}–{now_high}].",
        "review_none": "Op {time} lieten de beschikbare gegevens geen schatting toe ({why}); nu weten we {now} [{now_low}–{now_high}].",
        "col_time": "Aankondiging",
        "col_label": "Wat gezegd werd",
        "col_then": "Nog zonder dienst, volgens de gegevens van toen",
        "col_now": "Nog zonder dienst, zoals nu bekend",
        "statements_lead": "De verklaringen zijn een selectie, geen maat voor hoeveel klanten nog zonder dienst waren (zie “Hoeveel vertrouwen verdient dit”): bij elke aankondiging, hoeveel verklaringen over de dienst erna kwamen, in hoeveel gemeenten, en hoe lang erna de laatste eindigde.",
        "col_after": "Verklaringen erna (en erover heen)",
        "col_places": "Gemeenten erna",
        "col_last": "Einde van de laatste verklaring",
        "caption": "Intervallen op het niveau van het rapport. 'Van toen' gebruikt alleen meldingen met een tijdstip, en metingen, van vóór de aankondiging.",
    },
}


def _t(lang: str, key: str, **values: Any) -> str:
    return (TEXTS.get(lang) or TEXTS["en"]).get(key, TEXTS["en"][key]).format(**values)


def _pct(value: float | None, low: float | None, high: float | None, lang: str) -> tuple[str, str, str]:
    if value is None or not math.isfinite(value):
        return "—", "—", "—"
    return format_percents(value, low, high, lang)


def live_banner(a: Analysis) -> str:
    """The "as of" banner of a live page (empty for a retrospective run).

    One small box: the as-of time, the share still out, a warning when a series' count may
    not have peaked yet, and the 50 % / 90 % ETAs with their intervals, from
    :func:`analysis.nowcast.nowcast`.
    """
    if getattr(a, "as_of", None) is None:
        return ""
    from analysis.nowcast import nowcast

    lang, tz = a.params.language, a.incident.timezone
    nc = nowcast(a)
    lines = [_t(lang, "banner", time=format_time(a.as_of, tz, lang))]
    if a.fit is None:
        lines.append(_t(lang, "no_curve"))
    else:
        v, lo, hi = _pct(nc.still_out.value, nc.still_out.low, nc.still_out.high, lang)
        lines.append(_t(lang, "still_out", value=v, low=lo, high=hi))
    if nc.peak_may_be_ahead is not None:
        lines.append(_t(lang, "peak_ahead"))
    for key, share in (("t50", format_percent(0.5, 0, lang)), ("t90", format_percent(0.9, 0, lang))):
        f = nc.etas[key]
        when = nc.onset_time(f.reached_minutes) if f.reached else None
        if f.reached and when is not None:
            lines.append(_t(lang, "reached", share=share, time=format_time(when, tz, lang)))
        elif f.samples.size:
            lo_m, hi_m = f.interval(nc.level)
            times = [nc.onset_time(x) for x in (f.median, lo_m, hi_m)]
            lines.append(
                _t(
                    lang,
                    "eta",
                    share=share,
                    time=format_time(times[0], tz, lang),
                    low=format_time(times[1], tz, lang),
                    high=format_time(times[2], tz, lang),
                )
            )
    body = "".join(f"<div>{esc(x)}</div>" for x in lines)
    return f'<div class="pm-live" role="status" style="border:2px solid #b45309;padding:.4em .8em;margin:.6em 0">{body}</div>'


def _said(a: Analysis, time: Any, label: str) -> str:
    """An announcement in the reader's language as incident.toml words it (the review, computed once, keeps one language)."""
    for e in a.incident.announcements:
        if e.time == time:
            return e.label_in(a.params.language)
    return label


def communications_section(a: Analysis) -> list[str]:
    """The communications review: each announcement's as-of estimate beside the retrospective one.

    Empty when the incident has no announcement or no curve (nothing to compare). With
    curated statements for evidence the curve says when statements were made, not how many
    customers were out: each announcement is set beside the statements that came after it.
    """
    if a.incident.announcements and getattr(a, "curated", False) and a.evidence == "down_reports":
        return _statements_review(a)
    if a.fit is None or not a.incident.announcements or getattr(a, "curated", False):
        return []
    from analysis.nowcast import review_for

    lang, tz = a.params.language, a.incident.timezone
    review = review_for(a)
    lines, rows = [], []
    for r in review.iter_rows(named=True):
        now, now_lo, now_hi = _pct(r["now_still_out"], r["now_low"], r["now_high"], lang)
        then, then_lo, then_hi = _pct(r["as_of_still_out"], r["as_of_low"], r["as_of_high"], lang)
        when = format_time(r["time"], tz, lang)
        if r["as_of_still_out"] is None:
            line = _t(lang, "review_none", time=when, why=r["note"] or "—", now=now, now_low=now_lo, now_high=now_hi)
        else:
            line = _t(
                lang,
                "review_line",
                time=when,
                then=then,
                then_low=then_lo,
                then_high=then_hi,
                now=now,
                now_low=now_lo,
                now_high=now_hi,
            )
        lines.append(f"<li>{esc(line)}</li>")
        said = scrub_contacts(_said(a, r["time"], r["label"])) or ""
        rows.append([when, said, f"{then} [{then_lo}–{then_hi}]", f"{now} [{now_lo}–{now_hi}]"])
    headers = [_t(lang, k) for k in ("col_time", "col_label", "col_then", "col_now")]
    return [
        heading("communications", text(lang, "comm_title")),
        f"<p>{esc(_t(lang, 'review_lead'))}</p>",
        f"<ul>{''.join(lines)}</ul>",
        table(headers, rows, css="pm-comms"),
        caption(_t(lang, "caption")),
    ]


def _statements_review(a: Analysis) -> list[str]:
    """Each announcement beside the statements about the incident's service that came after it (model-free)."""
    from analysis.facts import after_declaration

    lang, tz = a.params.language, a.incident.timezone
    rows = []
    for e in a.incident.announcements:
        after = after_declaration(a.service_down, e.time)
        n, maybe = after["reports_after"], after["reports_possibly_after"]
        hours = after["last_report_hours_after"]
        rows.append(
            [
                format_time(e.time, tz, lang),
                scrub_contacts(e.label_in(lang)) or "",
                f"{n} (+{maybe})" if maybe else str(n),
                str(after["municipalities_after"]),
                format_duration(hours * 60, lang) if hours is not None else "—",
            ]
        )
    headers = [_t(lang, k) for k in ("col_time", "col_label", "col_after", "col_places", "col_last")]
    return [
        heading("communications", text(lang, "comm_title")),
        f"<p>{esc(_t(lang, 'statements_lead'))}</p>",
        table(headers, rows, css="pm-comms"),
    ]
