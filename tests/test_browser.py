"""The rendered default report, opened the way people open it: double-clicked, as a file.

Headless Chromium (Debian's, installed by .ci/run) loads ``postmortem.html`` from
``file://`` with every network request refused, and the test asserts that nothing was
requested from any host, no console or page error happened, every figure actually drew
(SVG trace paths for charts, polygons or points for maps) and the headline numbers are on
the page. It saves a screenshot to ``tests/_artifacts/``.
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


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from analysis.report import render

    out = tmp_path_factory.mktemp("reports")
    result = render(DEFAULT_INCIDENT, out_root=out, overrides={"processed_dir": str(out / "processed")})
    return result.out_dir


def test_report_draws_offline_from_file(rendered: Path) -> None:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run must install Debian's chromium for this test")
        pytest.skip("chromium not installed on this machine (CI installs it)")
    from playwright.sync_api import sync_playwright

    page_file = rendered / "postmortem.html"
    metrics = json.loads((rendered / "metrics.json").read_text(encoding="utf-8"))
    blocked: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})

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
        page.on("requestfailed", lambda r: None)
        page.goto(page_file.as_uri(), wait_until="load")
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('.js-plotly-plot')).every(gd => gd.querySelector('.main-svg'))",
            timeout=60_000,
        )
        page.wait_for_timeout(1500)
        figures = page.evaluate(DRAWN_JS)
        text = page.inner_text("body")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=False)
        page.screenshot(path=str(ARTIFACTS / "report-full.png"), full_page=True)
        browser.close()

    assert blocked == [], f"the page tried to reach the network: {blocked[:5]}"
    assert errors == [], errors
    assert len(figures) >= 3, figures
    for fig in figures:
        assert fig["width"] > 100 and fig["height"] > 100, fig
        if fig["hasGeo"]:
            assert fig["geo"] > 0 or fig["geoPoints"] > 0, f"map {fig['i']} drew nothing: {fig}"
        else:
            assert fig["traces"] > 0, f"figure {fig['i']} drew no trace: {fig}"
    assert any(f["hasGeo"] for f in figures), "no map on the page"
    rec = metrics["recovery"]
    for key in ("t50_minutes", "t90_minutes"):
        if rec[key] is not None:
            assert format_duration(rec[key]) in text, f"{key} {format_duration(rec[key])!r} not on the page"
    assert metrics["title"] in text
    for stray in ("Traceback", "Warning:", "DeprecationWarning", "[IPKernelApp]"):
        assert stray not in text, f"stray log on the page: {stray}"
