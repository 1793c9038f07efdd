"""The paths users take first, done as they do them.

JupyterLab (``make lab``, a kernel started in ``notebooks/``, the project kernel), papermill
and ``jupyter nbconvert --to postmortem`` on the command line, ``postmortem export``, the
terminal (``--version``, help, progress only on a terminal, ``--quiet``'s summary), and the
project files a user expects (LICENSE, CHANGELOG, py.typed, pre-commit).
"""

from __future__ import annotations

import ast
import fcntl
import json
import os
import pty
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
import tomllib
import urllib.request
from pathlib import Path

import nbformat
import pytest
import yaml

import analysis
from analysis.config import NOTEBOOKS, PROJECT_ROOT
from tests.render_fixtures import write_incident

SMALL = PROJECT_ROOT / "tests" / "data" / "incidents" / "small-fixture"
FIXTURE = PROJECT_ROOT / "tests" / "data" / "notebooks" / "fixture_report.ipynb"
BIN = Path(sys.executable).parent
ENV = os.environ | {"PYTHONUNBUFFERED": "1"}


def run(*args: str | Path, cwd: Path = PROJECT_ROOT, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=ENV)


def postmortem(*args: str | Path, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "analysis", *args, cwd=cwd)


def parameter_names(notebook: Path) -> list[str]:
    """Names assigned in the notebook's ``parameters`` cell, read with ``ast`` (not papermill)."""
    nb = nbformat.read(notebook, as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    return [n.target.id for n in ast.parse(cell.source).body if isinstance(n, ast.AnnAssign)]


EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)


def figure_divs(page: str) -> int:
    return len(re.findall(r'<div[^>]*\sclass="plotly-graph-div"', page))


# --------------------------------------------------------------------------- JupyterLab and notebooks


def test_both_notebooks_name_the_project_kernel_which_setup_registers() -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    for path in NOTEBOOKS.glob("*.ipynb"):
        assert nbformat.read(path, as_version=4).metadata.kernelspec.name == "postmortem", path.name
    spec = KernelSpecManager().get_kernel_spec("postmortem")  # NoSuchKernel if `make setup` did not register it
    assert spec.argv[0] == sys.executable
    assert spec.argv[-4:] == ["-m", "analysis.kernel", "-f", "{connection_file}"]


@pytest.mark.parametrize("name", ["explore.ipynb", "postmortem.ipynb"])
def test_help_notebook_lists_every_parameter(name: str) -> None:
    proc = run(BIN / "papermill", "--help-notebook", NOTEBOOKS / name)
    assert proc.returncode == 0, proc.stderr
    listed = re.findall(r"^  (\w+): ", proc.stdout, flags=re.M)
    assert listed == parameter_names(NOTEBOOKS / name)
    assert "Unable to parse" not in proc.stdout + proc.stderr


@pytest.mark.slow  # ~90 s: the tutorial fits twice and renders the report once
def test_explore_runs_from_the_notebooks_folder_as_lab_starts_it(tmp_path: Path) -> None:
    """papermill's command line, in notebooks/, with the kernel the notebook names: Lab's situation."""
    out = tmp_path / "explore.ipynb"
    rel_incident = SMALL.relative_to(PROJECT_ROOT)  # relative to the project root, not to notebooks/
    proc = run(
        BIN / "papermill",
        "explore.ipynb",
        out,
        "-p",
        "incident_dir",
        rel_incident,
        "-p",
        "processed_dir",
        tmp_path / "processed",
        "-p",
        "output_dir",
        tmp_path / "reports" / "small-fixture",
        "-p",
        "n_boot",
        "20",
        "--no-progress-bar",
        cwd=NOTEBOOKS,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Executing notebook with kernel: postmortem" in proc.stderr
    assert "without encryption" not in proc.stderr  # the project kernel does not print the TCP notice
    executed = nbformat.read(out, as_version=4)
    streams = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []) if o.output_type == "stream")
    assert "Warning" not in streams and "IProgress" not in streams, streams
    assert "small-fixture" in streams  # the incident was found from notebooks/
    figures = [o for c in executed.cells for o in c.get("outputs", []) if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figures) >= 2 and all("plotly-graph-div" in f.data["text/html"] for f in figures)
    assert (tmp_path / "processed" / "small-fixture" / "reports.parquet").is_file()
    report = tmp_path / "reports" / "small-fixture"
    assert json.loads((report / "manifest.json").read_text(encoding="utf-8"))["parameters"]["propensity"] == "flat"
    assert figure_divs((report / "postmortem.html").read_text(encoding="utf-8")) > 0


def test_every_api_the_tutorial_shows_is_documented() -> None:
    import importlib

    doc = (PROJECT_ROOT / "docs" / "notebooks.md").read_text(encoding="utf-8")
    code = "\n".join(c.source for c in nbformat.read(NOTEBOOKS / "explore.ipynb", as_version=4).cells if c.cell_type == "code")
    tree = ast.parse(code)
    shown: set[str] = set()
    modules: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("analysis"):
            for alias in node.names:
                if node.module == "analysis":
                    modules[alias.name] = f"analysis.{alias.name}"
                else:
                    shown.add(f"{node.module}.{alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            shown.add(f"{modules[node.value.id]}.{node.attr}")
    assert len(shown) >= 15
    for qualified in sorted(shown):
        module, _, attr = qualified.rpartition(".")
        obj = getattr(importlib.import_module(module), attr)
        assert (obj.__doc__ or "").strip(), f"{qualified} has no docstring"
        assert f"`{qualified}" in doc, f"{qualified} is shown in explore.ipynb but not in docs/notebooks.md"


def test_relative_inputs_resolve_from_the_project_root_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from analysis.paths import project_root, resolve_input, resolve_output

    monkeypatch.chdir(NOTEBOOKS)
    assert project_root() == PROJECT_ROOT
    assert resolve_input("tests/data/incidents/small-fixture") == PROJECT_ROOT / "tests" / "data" / "incidents" / "small-fixture"
    assert resolve_input("explore.ipynb") == Path("explore.ipynb")  # found from the working directory first
    assert resolve_input("no/such/thing") == Path("no/such/thing")  # left as written, so the error names it
    assert resolve_output("reports/x") == PROJECT_ROOT / "reports" / "x"


def test_make_lab_serves_the_repository_root_with_the_project_kernel(tmp_path: Path) -> None:
    # the recipe adds --allow-root exactly when make runs as root
    dry = run("make", "-n", "lab", "LAB_ARGS=--no-browser")
    assert dry.returncode == 0, dry.stderr
    line = next(x for x in dry.stdout.splitlines() if "jupyter lab" in x)
    assert ("--allow-root" in line) == (os.getuid() == 0)
    assert f"--ServerApp.root_dir={PROJECT_ROOT}" in line.replace('"', "") and line.rstrip().endswith("notebooks/explore.ipynb")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lab_args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token=t0k --ServerApp.port_retries=0"
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(
        ["make", "lab", f"LAB_ARGS={lab_args}"],
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        contents = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/data/raw?token=t0k", timeout=5) as r:
                    contents = json.load(r)
                break
            except OSError:
                time.sleep(1)
        assert contents is not None, (tmp_path / "lab.log").read_text()
        assert "proximus-2018-01-08" in {item["name"] for item in contents["content"]}  # data/ is browsable
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/kernelspecs?token=t0k", timeout=10) as r:
            specs = json.load(r)
        assert specs["kernelspecs"]["postmortem"]["spec"]["display_name"] == "Python (postmortem)"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


# --------------------------------------------------------------------------- nbconvert and export


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small fixture rendered by ``postmortem render`` (the report folder)."""
    out = tmp_path_factory.mktemp("rendered")
    proc = postmortem("render", SMALL, "--out", out, "-p", "n_boot=20", "-p", f"processed_dir={out / 'processed'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / "small-fixture"


def check_offline_page(page: str, *, figures: int) -> None:
    from plotly.offline import get_plotlyjs

    assert get_plotlyjs()[:2000].replace("</script>", "<\\/script>") in page  # the bundle, inline
    assert '<script src="http' not in page
    assert not EXTERNAL.search(page.replace(get_plotlyjs().replace("</script>", "<\\/script>"), ""))  # nothing fetched
    assert page.count(get_plotlyjs()[:2000].replace("</script>", "<\\/script>")) == 1  # plotly.js once
    assert figure_divs(page) == figures > 0


@pytest.mark.slow
def test_nbconvert_to_postmortem_gives_the_render_page(rendered: Path, tmp_path: Path) -> None:
    executed = tmp_path / "out.ipynb"
    shutil.copy(rendered / "postmortem.ipynb", executed)
    render_page = (rendered / "postmortem.html").read_text(encoding="utf-8")
    proc = run(BIN / "jupyter", "nbconvert", "--to", "postmortem", executed)
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "out.html").read_text(encoding="utf-8")
    check_offline_page(page, figures=figure_divs(render_page))
    assert "<title>Small simulated outage (test fixture)</title>" in page  # the incident's title, not "out"
    assert page.count('class="pm-toc"') == 1
    assert "plus de t" not in page  # input code and streams are not on the page either way
    # the same sections, in the same order, as the page render wrote
    assert re.findall(r'<h2 id="([^"]+)"', page) == re.findall(r'<h2 id="([^"]+)"', render_page)


@pytest.mark.slow  # a full simulated or rendered run; the plain suite keeps its lighter siblings
def test_postmortem_export_command(rendered: Path, tmp_path: Path) -> None:
    render_page = (rendered / "postmortem.html").read_text(encoding="utf-8")
    # inside the report folder (manifest.json beside it): the run footer too, as render writes it
    proc = postmortem("export", rendered / "postmortem.ipynb", "--out", tmp_path / "again.html")
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "again.html").read_text(encoding="utf-8")
    check_offline_page(page, figures=figure_divs(render_page))
    footer = re.search(r'<footer class="pm-meta pm-run".*?</footer>', render_page, re.S)
    assert footer is not None and footer.group(0) in page
    # a notebook elsewhere: the default output name, no footer
    shutil.copy(rendered / "postmortem.ipynb", tmp_path / "copy.ipynb")
    assert postmortem("export", tmp_path / "copy.ipynb").returncode == 0
    assert "pm-run" not in (tmp_path / "copy.html").read_text(encoding="utf-8")
    missing = postmortem("export", tmp_path / "nope.ipynb")
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"postmortem: error: {tmp_path / 'nope.ipynb'}: no such notebook"


def test_exporter_draws_figures_a_notebook_kept_only_as_plotly_json() -> None:
    """A notebook run with plotly's default renderer holds figures as JSON only; nbconvert drops those."""
    import plotly.graph_objects as go

    from analysis.htmlexport import PostmortemExporter

    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4])).to_plotly_json()
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# A title"),
            nbformat.v4.new_code_cell(
                "fig",
                outputs=[nbformat.v4.new_output("display_data", data={"application/vnd.plotly.v1+json": fig})],
            ),
        ]
    )
    page, _ = PostmortemExporter().from_notebook_node(nb, resources={"metadata": {"name": "out"}})
    check_offline_page(page, figures=1)
    assert "<title>out</title>" in page  # no incident, no h1 output: the notebook's name
    assert "text/html" not in nb.cells[1].outputs[0].data  # the caller's notebook is not changed


# --------------------------------------------------------------------------- terminal


def test_version_everywhere() -> None:
    version = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert analysis.__version__ == version
    proc = run(BIN / "postmortem", "--version")
    assert (proc.returncode, proc.stdout.strip()) == (0, f"postmortem {version}")
    assert f"## [{version}]" in (PROJECT_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_help_shows_flags_without_a_value() -> None:
    for command in ("render", "render-all", "simulate", "fit", "export", "ingest", "validate", "geocode"):
        proc = run(BIN / "postmortem", command, "--help")
        assert proc.returncode == 0, proc.stderr
        assert "<bool>" not in proc.stdout, command
    render_help = run(BIN / "postmortem", "render", "--help").stdout
    assert re.search(r"--progress / --no-progress\s", render_help)
    assert re.search(r"-p, --param NAME=VALUE\s", render_help)


def on_terminal(args: list[str]) -> tuple[int, bytes]:
    """Run ``args`` with stderr on a pseudo-terminal 100 columns wide; return (exit code, what it showed)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=follower, env=ENV)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the process ended
                break
            if not chunk:
                break
            seen += chunk
        return proc.wait(timeout=300), seen
    finally:
        os.close(leader)


@pytest.mark.slow
def test_fit_shows_elapsed_time_on_a_terminal_only(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "analysis", "fit", str(SMALL), "-p", "n_boot=40", "-p", f"processed_dir={tmp_path}"]
    piped = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, env=ENV)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""  # a log or cron mail gets nothing but the JSON on stdout
    json.loads(piped.stdout)
    code, seen = on_terminal(args)
    assert code == 0
    assert re.search(rb"\rfitting .*small-fixture\xe2\x80\xa6 \d+ s", seen), seen


@pytest.mark.slow
def test_render_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    folder = write_incident(tmp_path / "data", "alpha")
    args = [sys.executable, "-m", "analysis", "render", str(folder), "--out", str(tmp_path / "out"), "--notebook", str(FIXTURE)]
    piped = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, env=ENV)
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stderr and "Executing" not in piped.stderr
    # the same command with stderr on a terminal shows papermill's cell progress
    code, seen = on_terminal(args)
    assert code == 0, seen.decode(errors="replace")
    assert b"Executing" in seen and b"cell/s" in seen


@pytest.mark.slow
def test_render_all_in_cron_has_no_progress_bars_and_quiet_says_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_incident(data, "alpha")
    out = tmp_path / "reports"
    proc = postmortem("render-all", data, "--out", out, "--jobs", "1", "--notebook", FIXTURE)
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "Executing" not in proc.stderr  # stderr is a pipe, as in cron or a log
    assert "\r" not in (out / "render-all.log").read_text(encoding="utf-8")
    quiet = postmortem("render-all", data, "--out", out, "--quiet", "--force", "--notebook", FIXTURE)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    (line,) = quiet.stdout.splitlines()
    assert re.fullmatch(
        r"postmortem render-all: 1 incident\(s\): 1 ok, 0 skipped, 0 failed in [\d.]+ s; index .*index\.html", line
    )


def test_every_config_problem_at_once_with_suggestions(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "small-fixture"
    shutil.copytree(SMALL, folder)
    text = (folder / "incident.toml").read_text(encoding="utf-8")
    text = text.replace("title =", "titel =").replace('kind = "down_reports"', 'knd = "down_reports"')
    text = text.replace('reported_at = "when"', 'reportd_at = "when"').replace('kind = "announcement"', 'kind = "anouncement"')
    (folder / "incident.toml").write_text(text, encoding="utf-8")
    proc = postmortem("validate", folder)
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"postmortem: error: {folder / 'incident.toml'}: 5 problems: ")
    for expected in (
        "key 'title': is required but missing",
        "key 'titel': unknown key (did you mean 'title'?)",
        "key 'sources[0].knd': unknown key (did you mean 'kind'?)",
        "key 'sources[0].columns.reportd_at': not a canonical column for kind 'down_reports' (did you mean 'reported_at'?)",
        "key 'events[0].kind': expected one of announcement, action, incident, other; got 'anouncement' (did you mean 'announcement'?)",
    ):
        assert expected in line, line


def test_misspelt_incident_folder_and_id_that_differs_from_its_folder(tmp_path: Path) -> None:
    shutil.copytree(SMALL, tmp_path / "data" / "small-fixture-2018")
    proc = postmortem("validate", tmp_path / "data" / "small-fixture-2081")
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(f"did you mean {tmp_path / 'data' / 'small-fixture-2018'}?"), proc.stderr
    ok = postmortem("validate", tmp_path / "data" / "small-fixture-2018")
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr.splitlines() == [
        f"postmortem: warning: {tmp_path / 'data' / 'small-fixture-2018' / 'incident.toml'}: id 'small-fixture' "
        "differs from its folder name 'small-fixture-2018' (reports go to <out>/small-fixture/)"
    ]


# --------------------------------------------------------------------------- project files


def test_license_changelog_typing_marker_and_pre_commit() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    licence = (PROJECT_ROOT / "LICENSE").read_text(encoding="utf-8")
    assert project["license"] == "MIT" and licence.startswith("MIT License")
    assert project["authors"][0]["name"] in licence
    assert (PROJECT_ROOT / "src" / "analysis" / "py.typed").is_file()
    hooks = yaml.safe_load((PROJECT_ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    ids = {h["id"] for repo in hooks["repos"] for h in repo["hooks"]}
    assert {"ruff", "ruff-format"} <= ids or {"ruff-check", "ruff-format"} <= ids
