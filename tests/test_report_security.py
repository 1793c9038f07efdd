"""A report rendered from hostile data: nothing active, no personal data on the page."""

from __future__ import annotations

import re
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest

from analysis.report import render


class Tags(HTMLParser):
    """Every element name and every on* attribute in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.handlers: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        self.handlers += [(tag, k) for k, _ in attrs if k.lower().startswith("on")]


HOSTILE_PLACE = '<img src=x onerror="alert(1)">'
SCRIPT = "<script>alert('pwned')</script>"


@pytest.fixture
def hostile_incident(tmp_path: Path) -> Path:
    folder = tmp_path / "hostile"
    folder.mkdir()
    rows = ["when,town,msg"]
    for i in range(80):
        minute = 5 + i * 7
        place = ["Liège", "Namur", HOSTILE_PLACE, f"Gent {SCRIPT}", '" onmouseover="alert(2)'][i % 5]
        msg = [
            f"{SCRIPT} tv down, call me 0470 12 34 56",
            "mail jan.peeters@example.be for details",
            "Maximilien, de Perwez: still nothing",
            "<b onclick=alert(3)>bold</b> decoder dead",
        ][i % 4]
        hour, mins = divmod(20 * 60 + minute, 60)
        day = 8 + hour // 24
        rows.append(f'2018-01-{day:02d} {hour % 24:02d}:{mins:02d},"{place.replace(chr(34), chr(34) * 2)}","{msg}"')
    (folder / "r.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "incident.toml").write_text(
        textwrap.dedent(
            f"""\
            id = "hostile"
            title = "Outage {SCRIPT} call +32 2 345 67 89"
            timezone = "Europe/Brussels"
            onset = "2018-01-08T20:00:00"
            description = "Reported by ops@example.be <iframe src=//evil.example></iframe>"
            [[events]]
            time = "2018-01-08T21:00:00"
            label = '''Resolved" onmouseover="alert(4) {SCRIPT} ring 0470/99.88.77'''
            kind = "announcement"
            resolved = true
            [[sources]]
            path = "r.csv"
            kind = "down_reports"
            coverage = "{SCRIPT}"
            [sources.columns]
            reported_at = "when"
            place = "town"
            text = "msg"
            """
        ),
        encoding="utf-8",
    )
    return folder


@pytest.mark.slow
def test_hostile_data_is_inert_and_scrubbed(hostile_incident: Path, tmp_path: Path) -> None:
    result = render(
        hostile_incident,
        out_root=tmp_path / "reports",
        overrides={"processed_dir": str(tmp_path / "processed"), "n_boot": 20, "families": "exponential,weibull"},
    )
    page = (result.out_dir / "postmortem.html").read_text(encoding="utf-8")
    # strip the inlined plotly.js library (its own code legitimately contains markup strings)
    body = page[page.index("</head>") :]
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", body, flags=re.S)
    assert not any("alert(" in s for s in scripts if "Plotly.newPlot" not in s)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", body, flags=re.S)
    tags = Tags()
    tags.feed(page)
    assert not tags.handlers, tags.handlers[:5]  # no element carries an on* event handler
    assert not {"img", "iframe", "object", "embed"} & tags.names
    for active in ("<script>alert", "<img src=x", "<iframe", "<b onclick"):
        assert active not in markup, active
    # inside figure data the same strings exist only JSON-escaped (\u003c…), never as raw tags
    for s in scripts:
        if "Plotly.newPlot" in s:
            assert "<script" not in s and "<img" not in s
    for secret in ("0470 12 34 56", "345 67 89", "jan.peeters", "example.be", "Maximilien", "0470/99.88.77"):
        assert secret not in page, secret
    assert "&lt;script&gt;" in markup  # shown as text, not run
