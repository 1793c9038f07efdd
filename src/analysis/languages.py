"""One report, several languages: page names, the links between them, one analysis for all.

A render writes one page per language side by side — ``postmortem.html`` in English, the
project's default language, and ``postmortem.fr.html``, ``postmortem.nl.html`` — each
linking to the others. The notebook runs once per language; the analysis (the expensive
part: ingest, fits, bootstrap) runs in the first and is reused by the others through a
cache file in the run's work folder (:func:`analyze_once`), which the render removes.
"""

from __future__ import annotations

import copyreg
import dataclasses
import hashlib
import html
import json
import types
from typing import Any

from analysis.catalogues import CATALOGUES

#: The language of ``postmortem.html``.
DEFAULT_LANGUAGE = "en"
CACHE_FILE = ".analysis-cache.pkl"


def page_name(language: str) -> str:
    """The page file of ``language``: ``postmortem.html`` (default language) or ``postmortem.<lang>.html``."""
    return "postmortem.html" if language == DEFAULT_LANGUAGE else f"postmortem.{language}.html"


def language_links(current: str, languages: tuple[str, ...] | list[str]) -> str:
    """A small navigation to the same report in the other languages ('' for a single language)."""
    if len(languages) < 2:
        return ""
    items = []
    for lang in languages:
        name = html.escape(CATALOGUES[lang].name if lang in CATALOGUES else lang)  # its name in itself
        if lang == current:
            items.append(f'<strong lang="{lang}" aria-current="page">{name}</strong>')
        else:
            items.append(f'<a href="{page_name(lang)}" hreflang="{lang}" lang="{lang}">{name}</a>')
    return f'<nav class="pm-langs" aria-label="languages">{" · ".join(items)}</nav>'


def _proxy(d: dict[str, Any]) -> types.MappingProxyType[str, Any]:
    return types.MappingProxyType(d)


def _key(params: Any) -> str:
    """What the analysis depends on: every parameter but the language."""
    values = {k: v for k, v in dataclasses.asdict(params).items() if k != "language"}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def analyze_once(params: Any) -> Any:
    """:func:`analysis.pipeline.analyze`, reused across the languages of one render.

    The first call stores the analysis in ``<output_dir>/.analysis-cache.pkl`` (keyed by
    every parameter but the language); a later call with the same parameters in another
    language loads it and only swaps the language. Outside a render (no ``output_dir``) it
    is a plain call.
    """
    import cloudpickle

    from analysis.paths import resolve_output
    from analysis.pipeline import analyze

    out = resolve_output(params.output_dir) if getattr(params, "output_dir", "") else None
    cache = out / CACHE_FILE if out is not None else None
    key = _key(params)
    if cache is not None and cache.is_file():
        stored_key, a, spatial = cloudpickle.loads(cache.read_bytes())
        if stored_key == key:
            b: Any = dataclasses.replace(a, params=params) if dataclasses.is_dataclass(a) and not isinstance(a, type) else a
            if spatial is not None:  # the maps' statistics do not depend on the language either
                from analysis import spatial_analysis as spatial_module

                spatial_module.remember(b, spatial)
            return b
    a = analyze(params)
    if cache is not None and out is not None and out.is_dir():
        if a.fit is not None and a.incident.announcements and not a.curated:
            from analysis.nowcast import review_for

            review_for(a)  # one as-of fit per announcement, shared by every language's page
        spatial = None
        if getattr(a, "has_geography", False):
            from analysis.spatial_analysis import spatial_analysis

            try:
                spatial = spatial_analysis(a)
            except Exception:  # the Geography section reports its own failure; the cache just goes without
                spatial = None
        copyreg.pickle(types.MappingProxyType, lambda m: (_proxy, (dict(m),)))
        cache.write_bytes(cloudpickle.dumps((key, a, spatial)))
    return a
