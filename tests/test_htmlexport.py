from __future__ import annotations

import re
from pathlib import Path

import nbformat
import plotly.graph_objects as go
import plotly.io as pio
from nbformat.v4 import new_code_cell, new_notebook, new_output

from analysis.htmlexport import OfflineRenderer, add_toc, export_html, use_offline_renderer

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)


def test_renderer_emits_div_and_mimetype_without_scripts_from_anywhere() -> None:
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    bundle = OfflineRenderer().to_mimebundle(fig.to_dict())
    assert "application/vnd.plotly.v1+json" in bundle
    html = bundle["text/html"]
    assert "Plotly.newPlot" in html
    assert (
        "plotly.min.js" not in html and "cdn" not in html.lower() and "mathjax" not in html.lower().replace("mathjaxconfig", "")
    )
    before = pio.renderers.default
    try:
        use_offline_renderer()
        assert pio.renderers.default == "postmortem"
    finally:
        pio.renderers.default = before


def test_export_inlines_plotly_once_and_requests_nothing(tmp_path: Path) -> None:
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    bundle = OfflineRenderer().to_mimebundle(fig.to_dict())
    outputs = [new_output("display_data", data=bundle)]
    nb = new_notebook(
        cells=[
            new_code_cell(
                "secret_code()", outputs=[new_output("display_data", data={"text/html": '<h2 id="one">One</h2><p>x</p>'})]
            ),
            new_code_cell("show()", outputs=outputs),
            new_code_cell("more()", outputs=[new_output("display_data", data={"text/html": '<h2 id="two">Two &amp; more</h2>'})]),
        ]
    )
    out = export_html(nb, tmp_path / "page.html", title="T <script>", language="fr")
    page = out.read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot") == 1
    assert page.count("topojson['world_110m']") == 1
    assert len(re.findall(r"plotly\.js v\d", page)) == 1  # the library's banner: inlined once
    markup = re.sub(r"<script[^>]*>.*?</script>", "<script></script>", page, flags=re.S)
    assert not EXTERNAL.search(markup)  # no external src/href in the page's own markup
    assert "require.min.js" not in page and "MathJax.js" not in page and "mermaid" not in page.lower().replace("jp-mermaid", "")
    assert "secret_code" not in page
    assert '<html lang="fr">' in page
    assert "<title>T &lt;script&gt;</title>" in page
    assert 'href="#one"' in page and 'href="#two"' in page
    assert page.index("pm-toc") < page.index('id="one"')


def test_toc_is_a_noop_without_headings() -> None:
    assert add_toc("<p>none</p>") == "<p>none</p>"


def test_notebooks_are_committed_without_outputs() -> None:
    from analysis.config import NOTEBOOKS

    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert paths
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


def test_streams_never_reach_the_page(tmp_path: Path) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell(
                "x()",
                outputs=[
                    new_output("stream", name="stderr", text="TqdmWarning: IProgress not found"),
                    new_output("display_data", data={"text/html": "<p>kept</p>"}),
                ],
            )
        ]
    )
    page = export_html(nb, tmp_path / "p.html", title="t").read_text(encoding="utf-8")
    assert "kept" in page
    assert "TqdmWarning" not in page
    assert nb.cells[0].outputs[0].output_type == "stream"  # the notebook itself is untouched
