"""A rendered notebook as the offline page: public paths, the page per language, the run footer."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from analysis.catalogues import languages as report_languages
from analysis.config import PROJECT_ROOT, Incident
from analysis.errors import RenderError
from analysis.languages import language_links
from analysis.params import ReportParams
from analysis.report_folders import read_manifest
from analysis.report_kernel import first_line

__all__ = ["display_path", "export_notebook", "export_page", "publish_paths", "run_footer"]


def publish_paths(executed: Path, replace: dict[Path, str]) -> None:
    """Rewrite server paths in an executed notebook (injected parameters, papermill's record) as public ones.

    The published notebook names the incident folder relative to the project, the report
    folder by the incident id and the project's own files relative to it, never by an
    absolute path on the server. Longer paths are replaced first.
    """
    pairs = sorted(((str(k), v) for k, v in replace.items()), key=lambda kv: -len(kv[0]))
    pairs.append((str(PROJECT_ROOT) + os.sep, ""))

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for old, new in pairs:
                if old in value:
                    value = value.replace(old, new)
            return value
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    doc = json.loads(executed.read_text(encoding="utf-8"))
    executed.write_text(json.dumps(clean(doc), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def export_page(
    executed: Path,
    out: Path,
    *,
    incident: Incident,
    params: ReportParams,
    manifest: dict[str, Any],
    languages: tuple[str, ...] = (),
) -> None:
    """The nbconvert page plus links to the other languages and a run footer (run id, start, code version, fingerprint, manifest link)."""
    from analysis.htmlexport import export_html
    from analysis.i18n import text as t

    export_html(
        executed,
        out,
        title=incident.title_in(params.language),
        language=params.language,
        toc_title=t(params.language, "contents"),
    )
    page = out.read_text(encoding="utf-8")
    nav = language_links(params.language, [x for x in report_languages() if x in languages])
    if nav and (at := page.find("<main>")) != -1:
        page = page[: at + len("<main>")] + nav + page[at + len("<main>") :]
    out.write_text(_with_footer(page, run_footer(manifest, language=params.language)), encoding="utf-8")


def export_notebook(notebook: Path, out: Path | None = None) -> Path:
    """Export an executed report notebook as the offline page ``postmortem render`` writes.

    Title and language come from the notebook (:class:`analysis.htmlexport.PostmortemExporter`);
    when a ``manifest.json`` sits beside the notebook (a report folder), the run footer is
    added as ``render`` adds it. ``out`` defaults to the notebook's path with ``.html``.

    Raises
    ------
    RenderError
        When the notebook is missing or not a notebook.
    """
    import nbformat

    from analysis.htmlexport import PostmortemExporter

    notebook = Path(notebook)
    out = Path(out) if out is not None else notebook.with_suffix(".html")
    try:
        nb = nbformat.read(notebook, as_version=4)
    except FileNotFoundError:
        raise RenderError(f"{notebook}: no such notebook") from None
    except (OSError, ValueError) as exc:
        raise RenderError(f"{notebook}: cannot read the notebook: {first_line(str(exc))}") from None
    page, _ = PostmortemExporter().from_notebook_node(nb, resources={"metadata": {"name": notebook.stem}})
    manifest = read_manifest(notebook.parent)
    if manifest is not None and manifest.get("run_id"):
        language = str(((nb.metadata.get("papermill") or {}).get("parameters") or {}).get("language") or "en")
        page = _with_footer(page, run_footer(manifest, language=language))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def _with_footer(page: str, footer: str) -> str:
    for anchor in ("</main>", "</body>"):
        at = page.rfind(anchor)
        if at != -1:
            return page[:at] + footer + page[at:]
    return page + footer


def run_footer(manifest: dict[str, Any], *, language: str = "en") -> str:
    """A one-paragraph record of the run that produced the page (all values escaped)."""
    from analysis.i18n import text as t

    code = (manifest.get("code_version") or {}).get("label") or "—"
    items = [
        (t(language, "run"), manifest.get("run_id") or "—"),
        ("started (UTC)", manifest.get("started") or "—"),
        (t(language, "code_version"), code),
        ("fingerprint", str(manifest.get("fingerprint") or "—")[:12]),
    ]
    body = " · ".join(f"{html.escape(str(k))}: <code>{html.escape(str(v))}</code>" for k, v in items)
    return f'<footer class="pm-meta pm-run" style="margin-top:3rem">{body} · <a href="manifest.json">manifest.json</a></footer>'


def display_path(path: Path) -> str:
    """``path`` relative to the project when inside it (as the published notebook names it), else as given."""
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)
