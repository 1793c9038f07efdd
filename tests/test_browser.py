"""The rendered default report, opened the way people open it: double-clicked, as a file.

Headless Chromium (Debian's, installed by .ci/run) loads each language's page
(``postmortem.html``, ``.fr.html``, ``.nl.html``) from ``file://`` at 1280 and 1024 px with
every network request refused, and the test asserts that nothing was requested from any
host, no console or page error happened, every figure actually drew (SVG trace paths for
charts, polygons or points for maps), maps fill the column, no two text labels of a figure
(event numbers, map labels) print over each other, the headline numbers are on the English
page and the French and Dutch pages carry none of the sentinel English words. It saves
screenshots to ``tests/_artifacts/``; with ``POSTMORTEM_SCREENSHOTS=1`` it also refreshes the
README's screenshots in ``docs/images/``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from analysis.config import PROJECT_ROOT
from analysis.i18n import format_duration

from .conftest import DEFAULT_INCIDENT

pytestmark = pytest.mark.browser

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/usr/bin/chromium-browser")
ARTIFACTS = PROJECT_ROOT / "tests" / "_artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--allow-file-access-from-files",
]

# Per figure: what "drawn" means (chart traces have SVG paths; geo maps have location paths or points).
DRAWN_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot')).map((gd, i) => {
  const traces = gd.querySelectorAll('.cartesianlayer .trace path, .cartesianlayer .trace .point').length;
  const bars = gd.querySelectorAll('.barlayer .point path').length;
  const subplots = (gd._fullLayout && gd._fullLayout._subplots) || {};
  const geo = gd.querySelectorAll('.geolayer path.choroplethlocation').length;
  const geoPoints = gd.querySelectorAll('.geolayer .scattergeo path.point').length;
  const hasGeo = (subplots.geo || []).length > 0;
  const hasCartesian = (subplots.cartesian || []).length > 0;
  return {i, id: gd.id, hasGeo, hasCartesian, traces: traces + bars, geo, geoPoints,
          width: gd.getBoundingClientRect().width, height: gd.getBoundingClientRect().height};
})
"""


def chromium_path() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return shutil.which("chromium")


#: Text elements of a figure (event numbers, map labels) whose boxes overlap by more than a few pixels.
OVERLAPS_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot')).map((gd, i) => {
  const boxes = Array.from(gd.querySelectorAll('.scatterlayer .textpoint text, .geolayer .textpoint text'))
    .filter(t => t.textContent.trim())
    .map(t => ({text: t.textContent, r: t.getBoundingClientRect()}))
    .filter(b => b.r.width > 0 && b.r.height > 0);
  const hits = [];
  for (let a = 0; a < boxes.length; a++) for (let b = a + 1; b < boxes.length; b++) {
    const p = boxes[a].r, q = boxes[b].r;
    const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
    const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
    if (w > 2 && h > 2) hits.push(boxes[a].text + ' / ' + boxes[b].text);
  }
  return {i, n: boxes.length, hits};
})
"""
#: Per map: the width its areas span (union of the drawn polygons) against the page column holding it.
MAP_WIDTH_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot')).map((gd, i) => {
  const boxes = Array.from(gd.querySelectorAll('.geolayer path.choroplethlocation'))
    .map(p => p.getBoundingClientRect()).filter(r => r.width > 0);
  if (!boxes.length) return null;
  const column = (gd.closest('.jp-OutputArea-output') || gd.parentElement).getBoundingClientRect().width;
  const span = Math.max(...boxes.map(r => r.right)) - Math.min(...boxes.map(r => r.left));
  return {i, map: span, column, share: span / column};
}).filter(m => m !== null)
"""
LANGUAGES = ("en", "fr", "nl")
WIDTHS = (1280, 1024)
#: README screenshots, refreshed from this test when POSTMORTEM_SCREENSHOTS=1: (file, page language, section anchor or None).
SCREENSHOTS = (
    ("report-summary.png", "en", None),
    ("report-recovery.png", "en", "recovery"),
    ("report-geography.fr.png", "fr", "geography"),
    ("report-summary.nl.png", "nl", None),
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default incident rendered the way `postmortem render` does: one page per language."""
    from analysis.report import render

    out = tmp_path_factory.mktemp("reports")
    result = render(DEFAULT_INCIDENT, out_root=out, overrides={"processed_dir": str(out / "processed")}, languages=LANGUAGES)
    return result.out_dir


def _open(pw, path: str, width: int):
    browser = pw.chromium.launch(executable_path=path, headless=True, args=LAUNCH_ARGS)
    context = browser.new_context(viewport={"width": width, "height": 900})
    blocked: list[str] = []
    errors: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            return r.continue_()
        blocked.append(url)
        return r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on(
        "console",
        lambda m: (
            errors.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") and "swiftshader" not in m.text.lower()
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    return browser, page, blocked, errors


def _load(page, page_file: Path) -> None:
    page.goto(page_file.as_uri(), wait_until="load")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot')).every(gd => gd.querySelector('.main-svg'))",
        timeout=120_000,
    )
    page.wait_for_timeout(1500)


@pytest.mark.slow
def test_every_language_draws_offline_at_1280_and_1024_px(rendered: Path) -> None:
    """Each page (en, fr, nl) at 1280 and 1024 px: offline, no error, every figure drawn, no overprinted labels."""
    from .test_languages import english_words, visible

    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run must install Debian's chromium for this test")
        pytest.skip("chromium not installed on this machine (CI installs it)")
    from playwright.sync_api import sync_playwright

    from analysis.languages import page_name

    metrics = json.loads((rendered / "metrics.json").read_text(encoding="utf-8"))
    refresh = os.environ.get("POSTMORTEM_SCREENSHOTS") == "1"
    problems: list[str] = []
    with sync_playwright() as pw:
        for width in WIDTHS:
            browser, page, blocked, errors = _open(pw, path, width)
            for lang in LANGUAGES:
                where = f"{lang} at {width} px"
                page_file = rendered / page_name(lang)
                _load(page, page_file)
                figures = page.evaluate(DRAWN_JS)
                overlaps = page.evaluate(OVERLAPS_JS)
                text = page.inner_text("body")
                if width == WIDTHS[0]:
                    ARTIFACTS.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(ARTIFACTS / f"report.{lang}.png"), full_page=False)
                    for name, shot_lang, anchor in SCREENSHOTS:
                        if shot_lang != lang:
                            continue
                        if anchor:
                            page.locator(f"#{anchor}").scroll_into_view_if_needed()
                            page.evaluate(f"document.getElementById('{anchor}').scrollIntoView()")
                            page.wait_for_timeout(500)
                        else:
                            page.evaluate("window.scrollTo(0, 0)")
                        page.screenshot(path=str(ARTIFACTS / name), full_page=False)
                        if refresh:
                            shutil.copyfile(ARTIFACTS / name, PROJECT_ROOT / "docs" / "images" / name)
                if len(figures) < 3:
                    problems.append(f"{where}: only {len(figures)} figures")
                for fig in figures:
                    if not (fig["width"] > 100 and fig["height"] > 100):
                        problems.append(f"{where}: figure {fig['i']} is {fig['width']}×{fig['height']} px")
                    if fig["hasGeo"] and not (fig["geo"] > 0 or fig["geoPoints"] > 0):
                        problems.append(f"{where}: map {fig['i']} drew nothing")
                    if not fig["hasGeo"] and fig["traces"] == 0:
                        problems.append(f"{where}: figure {fig['i']} drew no trace")
                if not any(f["hasGeo"] for f in figures):
                    problems.append(f"{where}: no map on the page")
                # maps fill the column: the drawn areas span at least 90 % of the content width
                for m in page.evaluate(MAP_WIDTH_JS):
                    if m["share"] < 0.9:
                        problems.append(f"{where}: map {m['i']} draws {m['map']:.0f} of {m['column']:.0f} px")
                for o in overlaps:
                    if o["hits"]:
                        problems.append(f"{where}: figure {o['i']} prints labels over each other: {o['hits'][:3]}")
                if lang == "en":
                    if metrics["title"] not in text:
                        problems.append(f"{where}: title missing")
                    for key in ("t50_minutes", "t90_minutes"):
                        value = metrics["recovery"][key]
                        if value is not None and format_duration(value) not in text:
                            problems.append(f"{where}: {key} {format_duration(value)!r} not on the page")
                for stray in ("Traceback", "Warning:", "DeprecationWarning", "[IPKernelApp]"):
                    if stray in text:
                        problems.append(f"{where}: stray log on the page: {stray}")
                if lang != "en":
                    html = page_file.read_text(encoding="utf-8")
                    words = english_words(visible(html))
                    if words:
                        problems.append(f"{where}: untranslated English: {words}")
            browser.close()
            if blocked:
                problems.append(f"{width} px: the page tried to reach the network: {blocked[:5]}")
            if errors:
                problems.append(f"{width} px: {errors[:5]}")
    assert problems == [], "\n".join(problems)
