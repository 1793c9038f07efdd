"""Offline HTML: the plotly renderer used in notebooks and the nbconvert export.

Why this module exists (measured, see docs/architecture.md): inside a papermill kernel
plotly's default renderer emits only a mimetype nbconvert drops (no figures at all); the
``notebook`` renderer pulls MathJax from a CDN; nbconvert's ``lab`` template loads
require.js and MathJax from CDNs; and a plotly ``geo`` figure fetches its world topojson
from a CDN and draws nothing offline. Here:

* :func:`use_offline_renderer` registers a renderer that emits each figure as a ``<div>``
  plus the plotly mimetype (so JupyterLab still shows live figures), with no plotly.js,
  no MathJax and no request of any kind;
* :func:`export_html` converts an executed notebook with a template that removes every
  CDN script and inlines plotly.js once in ``<head>``, together with an empty world
  topology so geo figures (drawn from our own polygons) never ask the network for one;
  the same conversion is the nbconvert exporter :class:`PostmortemExporter`
  (``jupyter nbconvert --to postmortem``) and ``postmortem export``;
* a table of contents is built from the page's section headings.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import nbformat
import plotly.io as pio
from nbconvert import HTMLExporter
from plotly.io._base_renderers import MimetypeRenderer
from traitlets import Unicode, default

from analysis.catalogues import CATALOGUES, SOURCE

TEMPLATES = Path(__file__).resolve().parent / "templates"
RENDERER = "postmortem"
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "png", "scale": 2}}

# plotly.js asks for "world_110m" whenever a geo subplot is drawn; with the base layers
# hidden (geo.visible = False) an empty topology is all it needs.
EMPTY_TOPOLOGY = '{"type":"Topology","objects":{},"arcs":[],"bbox":[-180,-90,180,90]}'
GEO_PREFILL = (
    "<script>window.PlotlyGeoAssets = window.PlotlyGeoAssets || {topojson: {}};"
    f"window.PlotlyGeoAssets.topojson['world_110m'] = {EMPTY_TOPOLOGY};"
    f"window.PlotlyGeoAssets.topojson['world_50m'] = {EMPTY_TOPOLOGY};</script>"
)

REPORT_CSS = """
:root { --pm-ink: #1f2933; --pm-muted: #616e7c; --pm-accent: #c0392b; --pm-rule: #e4e7eb; }
body.pm-report { background: #fff; font-family: Inter, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--pm-ink); }
body.pm-report main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
.pm-report .jp-Cell { padding: 0; }
.pm-report .jp-RenderedHTMLCommon { font-size: 15px; line-height: 1.55; color: var(--pm-ink); padding-right: 0; }
.pm-report .jp-RenderedHTMLCommon h1 { font-size: 2rem; margin-top: 0.5rem; }
.pm-report .jp-RenderedHTMLCommon h2 { border-bottom: 2px solid var(--pm-rule); padding-bottom: .25rem; margin-top: 2.2rem; }
.pm-report .jp-RenderedHTMLCommon table { border-collapse: collapse; font-size: 13px; margin: .5rem 0 1rem; }
.pm-report .jp-RenderedHTMLCommon th, .pm-report .jp-RenderedHTMLCommon td { padding: .3rem .6rem; border-bottom: 1px solid var(--pm-rule); text-align: left !important; vertical-align: top; }
.pm-report .jp-RenderedHTMLCommon td.num, .pm-report .jp-RenderedHTMLCommon th.num { text-align: right !important; font-variant-numeric: tabular-nums; }
.pm-report .jp-RenderedHTMLCommon tbody tr:nth-child(odd) { background: #fafbfc; }
.pm-report .jp-OutputArea-output { overflow-x: auto; }
.pm-report .jp-OutputPrompt, .pm-report .jp-InputPrompt { display: none; }
.pm-caption { color: var(--pm-muted); font-size: 13px; margin: .2rem 0 1.4rem; }
.pm-callout { border-left: 4px solid var(--pm-accent); background: #fdf3f2; padding: .6rem 1rem; margin: 1rem 0; }
.pm-trust { border-left: 4px solid #e1a100; background: #fffaeb; padding: .6rem 1rem; margin: 1rem 0; }
.pm-kpis { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.pm-kpi { flex: 1 1 150px; border: 1px solid var(--pm-rule); border-radius: 6px; padding: .6rem .8rem; }
.pm-kpi .v { font-size: 1.5rem; font-weight: 600; }
.pm-kpi .l { color: var(--pm-muted); font-size: 12px; }
.pm-kpi .ci { color: var(--pm-muted); font-size: 12px; }
.pm-status { display: grid; grid-template-columns: minmax(6rem, max-content) minmax(0, 1fr); gap: .2rem 1rem; border-left: 4px solid var(--pm-rule); padding: .4rem .8rem; max-width: 100%; box-sizing: border-box; overflow-wrap: anywhere; }
.pm-status dt { font-weight: 600; } .pm-status dd { margin: 0; }
.pm-scroll { max-height: 32rem; overflow: auto; } .pm-evidence td, .pm-sources td, .pm-conflicts td { font-size: 13px; vertical-align: top; }
@media print { .pm-scroll { max-height: none; overflow: visible; } }
.pm-langs { float: right; font-size: 14px; margin-top: .4rem; }
.pm-toc { border: 1px solid var(--pm-rule); border-radius: 6px; padding: .6rem 1.2rem; margin: 1rem 0 2rem; font-size: 14px; }
.pm-toc ol { margin: .3rem 0; padding-left: 1.2rem; columns: 2; }
.pm-meta { color: var(--pm-muted); font-size: 13px; }
.pm-simulated { background: #eef6ff; border: 1px dashed #2f6f9f; padding: .5rem 1rem; margin: .5rem 0; }
@media print {
  body.pm-report main { max-width: none; padding: 0; }
  .pm-toc { display: none; }
  .pm-report h2 { break-before: page; }
  .pm-report .jp-OutputArea-output, .pm-report table, .js-plotly-plot { break-inside: avoid; }
  .modebar-container { display: none !important; }
  a { color: inherit; text-decoration: none; }
}
"""


def plotly_locale_js(language: str) -> str:
    """A ``Plotly.register`` call for ``language`` ('' for English), inlined: nothing is fetched.

    Day and month names, date order and separators come from CLDR (Babel) for the catalogue's
    locale, the modebar words from the catalogue's ``[plotly]`` (plotly's English where a word
    is missing); a language without a catalogue gets plotly's English.
    """
    words = CATALOGUES.get(language)
    if language == SOURCE or words is None:
        return ""
    import json

    from babel import Locale
    from babel.numbers import get_decimal_symbol, get_group_symbol

    loc = Locale.parse(words.locale)
    days = [loc.days["format"]["wide"][i] for i in (6, 0, 1, 2, 3, 4, 5)]  # plotly weeks start on Sunday
    short_days = [loc.days["format"]["abbreviated"][i] for i in (6, 0, 1, 2, 3, 4, 5)]
    months = [loc.months["format"]["wide"][i] for i in range(1, 13)]
    short_months = [loc.months["format"]["abbreviated"][i] for i in range(1, 13)]
    group = get_group_symbol(loc).replace("\u202f", "\xa0")
    spec = {
        "moduleType": "locale",
        "name": language,
        "dictionary": dict(words.plotly),
        "format": {
            "days": days,
            "shortDays": short_days,
            "months": months,
            "shortMonths": short_months,
            "date": "%d/%m/%Y",
            "decimal": get_decimal_symbol(loc),
            "thousands": group,
        },
    }
    return f'<script type="text/javascript">Plotly.register({json.dumps(spec, ensure_ascii=False)});</script>'


def plotly_config(language: str = "en") -> dict[str, Any]:
    """The figures' plotly config, with the reader's locale (registered by :func:`plotly_locale_js`)."""
    return PLOTLY_CONFIG | ({"locale": language} if language != SOURCE and language in CATALOGUES else {})


def _map_sizing(fig_dict: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A map without its fixed height, and the CSS height that makes its areas fill the column.

    A map carries ``layout.meta.map`` (:func:`analysis.maps.layout.geo_layout`): the height is the
    column's width ÷ the map's aspect plus the fixed rows above and below it.

    Any other figure is returned as is with plotly's default height ("100%": the layout's own).
    """
    layout = fig_dict.get("layout") or {}
    sizing = (layout.get("meta") or {}).get("map") if isinstance(layout.get("meta"), dict) else None
    if not sizing:
        return fig_dict, "100%"
    layout = {k: v for k, v in layout.items() if k != "height"}
    css = f"calc({100 / float(sizing['aspect']):.2f}cqw + {int(sizing['fixed_px'])}px)"
    return fig_dict | {"layout": layout}, css


class OfflineRenderer(MimetypeRenderer):
    """Emit a figure as an HTML ``<div>`` (no plotly.js, no MathJax) plus the plotly mimetype."""

    def __init__(self, language: str = "en") -> None:
        self.language = language

    def to_mimebundle(self, fig_dict: dict[str, Any]) -> dict[str, Any]:
        """Both representations: HTML for the exported page, JSON for JupyterLab (labels in the reader's language)."""
        from analysis.figure_text import translate_figure

        fig_dict = translate_figure(fig_dict, self.language)
        page_fig, height = _map_sizing(fig_dict)
        div = pio.to_html(
            page_fig,
            config=plotly_config(self.language),
            include_plotlyjs=False,
            include_mathjax=False,
            full_html=False,
            default_width="100%",
            default_height=height,
            validate=False,
            # an animated map opens (and prints) on its first frame; the reader presses play
            auto_play=False,
        )
        if page_fig is not fig_dict:  # a map: its height follows the column's width (container query units)
            div = f'<div class="pm-map" style="container-type: inline-size">{div}</div>'
        return {
            "text/html": div,
            "application/vnd.plotly.v1+json": {
                "data": fig_dict.get("data", []),
                "layout": fig_dict.get("layout", {}),
                "config": plotly_config(self.language),
            },
        }


def use_offline_renderer(language: str = "en") -> None:
    """Make every ``fig.show()`` / display in this kernel use :class:`OfflineRenderer` (figures in ``language``'s locale).

    Warnings raised by libraries during the run go to the ``py.warnings`` logger instead of
    the cell outputs, so the report never shows a stray warning.
    """
    import logging

    pio.renderers[RENDERER] = OfflineRenderer(language)
    pio.renderers.default = RENDERER
    logging.captureWarnings(True)
    logger = logging.getLogger("py.warnings")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


def plotly_head(language: str = "en") -> str:
    """The ``<head>`` scripts: plotly.js (inlined once), the reader's plotly locale and the empty world topology."""
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs().replace("</script>", "<\\/script>")
    return f'<script type="text/javascript">window.PlotlyConfig = {{MathJaxConfig: "local"}};</script>\n<script type="text/javascript">{js}</script>\n{plotly_locale_js(language)}\n{GEO_PREFILL}'


_H2 = re.compile(r'<h2 id="([^"]+)">(.*?)(?:<a class="anchor-link"[^>]*>.*?</a>)?</h2>', re.S)


def add_toc(page: str, *, title: str = "Contents") -> str:
    """Insert a table of contents before the first heading: the sections of :data:`analysis.sections.SECTIONS` on the page.

    The registry gives the order; each entry reads as its heading on the page. A heading
    no section declares is listed after them (the registry test fails on it).
    """
    from analysis.sections import anchors

    found = {anchor: re.sub(r"<[^>]+>", "", text).strip() for anchor, text in _H2.findall(page)}
    if not found:
        return page
    order = [anchor for anchor in anchors() if anchor in found]
    order += [anchor for anchor in found if anchor not in order]
    items = "".join(f'<li><a href="#{anchor}">{found[anchor]}</a></li>' for anchor in order)
    nav = f'<nav class="pm-toc" aria-label="{html.escape(title)}"><strong>{html.escape(title)}</strong><ol>{items}</ol></nav>'
    first = _H2.search(page)
    assert first is not None
    # put the contents just before the cell that holds the first section heading
    cell_start = page.rfind('<div class="jp-Cell', 0, first.start())
    at = cell_start if cell_start != -1 else first.start()
    return page[:at] + nav + page[at:]


def strip_streams(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without stdout/stderr outputs.

    Logs and warnings stay in the executed notebook (for auditing) and never reach the page.
    """
    import copy

    clean = copy.deepcopy(nb)
    for cell in clean.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", []) if o.get("output_type") != "stream"]
    return clean


def plotly_as_html(nb: nbformat.NotebookNode) -> int:
    """Give every plotly output that has only the plotly mimetype an offline ``<div>`` (in place).

    A notebook executed without :func:`use_offline_renderer` (plotly's default renderer in
    papermill) holds figures as ``application/vnd.plotly.v1+json`` only, which nbconvert
    drops; this draws them. Returns the number of outputs completed.
    """
    done = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data") or {}
            fig = data.get("application/vnd.plotly.v1+json")
            if fig and "text/html" not in data:
                data["text/html"] = OfflineRenderer().to_mimebundle(
                    {"data": fig.get("data", []), "layout": fig.get("layout", {})}
                )["text/html"]
                done += 1
    return done


def notebook_title(nb: nbformat.NotebookNode, *, fallback: str = "") -> str:
    """The page title of an executed notebook.

    In order: ``metadata.title``; the title of the incident papermill ran it on (its
    ``incident_dir`` parameter); the first ``<h1>`` of its outputs; ``fallback``.
    """
    title = str(nb.metadata.get("title") or "").strip()
    if title:
        return title
    injected = (nb.metadata.get("papermill") or {}).get("parameters") or {}
    if injected.get("incident_dir"):
        from analysis.config import load_incident
        from analysis.errors import AnalysisError
        from analysis.paths import resolve_input

        try:
            return load_incident(resolve_input(str(injected["incident_dir"]))).title
        except (AnalysisError, OSError):
            pass
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            found = re.search(r"<h1[^>]*>(.*?)</h1>", str((output.get("data") or {}).get("text/html") or ""), re.S)
            if found:
                text = html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()
                if text:
                    return text
    return fallback


class PostmortemExporter(HTMLExporter):
    """nbconvert exporter ``postmortem``: an executed notebook as the offline report page.

    Registered under the ``nbconvert.exporters`` entry point, so
    ``jupyter nbconvert --to postmortem executed.ipynb`` writes ``executed.html``: no code,
    no prompts, no stream outputs, plotly.js inlined once, every figure drawn (see
    :func:`plotly_as_html`), no request to any host, a table of contents, and the
    incident's title (:func:`notebook_title`). The report language is ``report_language``,
    else the notebook's papermill ``language`` parameter, else English.
    """

    export_from_notebook = "Post-mortem report (offline HTML)"
    report_language = Unicode("", help="Report language (en, fr, nl); empty: the notebook's own").tag(config=True)
    toc_title = Unicode("", help="Heading of the table of contents; empty: in the report language").tag(config=True)

    @default("template_name")
    def _template_name_default(self) -> str:
        return "postmortem"

    @default("extra_template_basedirs")
    def _extra_template_basedirs_default(self) -> list[str]:
        return [str(TEMPLATES)]

    @default("exclude_input")
    def _exclude_input_default(self) -> bool:
        return True

    @default("exclude_input_prompt")
    def _exclude_input_prompt_default(self) -> bool:
        return True

    @default("exclude_output_prompt")
    def _exclude_output_prompt_default(self) -> bool:
        return True

    def from_notebook_node(
        self, nb: nbformat.NotebookNode, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        """The report page of ``nb`` (a copy is changed, never ``nb`` itself)."""
        from analysis.i18n import text
        from analysis.privacy import scrub_contacts

        injected = (nb.metadata.get("papermill") or {}).get("parameters") or {}
        language = self.report_language or str(injected.get("language") or "") or "en"
        name = str(((resources or {}).get("metadata") or {}).get("name") or "")
        title = scrub_contacts(notebook_title(nb, fallback=name)) or ""
        nb = strip_streams(nb)
        plotly_as_html(nb)
        nb.metadata["title"] = title
        self.language_code = language
        resources = dict(resources or {})
        resources["metadata"] = dict(resources.get("metadata") or {}) | {"name": title}
        resources |= {"postmortem_head": plotly_head(language), "postmortem_css": REPORT_CSS}
        page, resources = super().from_notebook_node(nb, resources=resources, **kw)
        return add_toc(page, title=self.toc_title or text(language, "contents")), resources


def export_html(
    notebook: Path | nbformat.NotebookNode, out: Path, *, title: str, language: str = "en", toc_title: str = "Contents"
) -> Path:
    """Convert an executed notebook into the self-contained offline report page (see :class:`PostmortemExporter`)."""
    nb = nbformat.read(notebook, as_version=4) if isinstance(notebook, Path) else notebook
    nb = nbformat.from_dict(nb)  # a copy: the title below is not written into the caller's notebook
    nb.metadata["title"] = title
    page, _ = PostmortemExporter(report_language=language, toc_title=toc_title).from_notebook_node(nb)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
