"""docs/scheduling.md: the crontab line, the systemd units and the Airflow DAG are valid.

Each example's ``postmortem`` command is parsed by the real command line (unknown options
fail), the crontab schedule is checked field by field, the systemd units are parsed as
INI (and verified by ``systemd-analyze`` when it is installed), and the DAG compiles.
"""

from __future__ import annotations

import ast
import configparser
import py_compile
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import typer.exceptions
import typer.main

from analysis.cli import app
from analysis.config import PROJECT_ROOT
from analysis.report import RUN_ID

DOC = PROJECT_ROOT / "docs" / "scheduling.md"
DAG = PROJECT_ROOT / "docs" / "airflow" / "postmortem_dag.py"
HOME = "/srv/postmortem"


def blocks(info: str) -> list[str]:
    """Fenced code blocks of the doc whose info string is ``info``."""
    return re.findall(rf"^```{re.escape(info)}\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)


def parse_postmortem(args: list[str]) -> tuple[str, dict]:
    """Parse ``postmortem <command> ...`` with the real CLI, without running it."""
    group = typer.main.get_command(app)
    ctx = group.make_context("postmortem", list(args))
    command = group.get_command(ctx, args[0])  # type: ignore[attr-defined]
    assert command is not None, f"unknown command {args[0]!r}"
    sub = command.make_context(args[0], list(args[1:]), parent=ctx)  # unknown options raise here
    return args[0], sub.params


def command_args(shell: str) -> list[str]:
    """The arguments after the ``postmortem`` executable in a shell command line."""
    words = shlex.split(shell.rsplit("&&", maxsplit=1)[-1])
    at = next(i for i, w in enumerate(words) if Path(w).name == "postmortem")
    # redirections (>/dev/null) are the shell's, not arguments of the command
    return [w for w in words[at + 1 :] if not re.match(r"\d?>", w)]


def check_render_all(args: list[str]) -> dict:
    name, params = parse_postmortem(args)
    assert name == "render-all"
    assert params["quiet"] is True
    assert params["timeout"] > 0
    assert params["jobs"] >= 1
    return params


CRON_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def check_cron_field(field: str, low: int, high: int) -> None:
    for part in field.split(","):
        base, _, step = part.partition("/")
        if step:
            assert step.isdigit(), part
            assert int(step) >= 1, part
        if base == "*":
            continue
        first, _, last = base.partition("-")
        for value in (first, last) if last else (first,):
            assert value.isdigit(), part
            assert low <= int(value) <= high, part
        if last:
            assert int(first) <= int(last), part


def check_cron_schedule(fields: list[str]) -> None:
    assert len(fields) == 5
    for field, (low, high) in zip(fields, CRON_FIELDS, strict=True):
        check_cron_field(field, low, high)


def test_cli_parser_rejects_unknown_options() -> None:
    with pytest.raises(typer.exceptions.TyperException):
        parse_postmortem(["render-all", "data/raw", "--jobz", "2"])


def test_cron_field_checker_rejects_nonsense() -> None:
    for bad in (
        ["61", "2", "*", "*", "*"],
        ["15", "2-1", "*", "*", "*"],
        ["15", "*/0", "*", "*", "*"],
        ["x", "*", "*", "*", "*"],
    ):
        with pytest.raises(AssertionError):
            check_cron_schedule(bad)
    check_cron_schedule(["*/15", "1-5,22", "1", "1-12/2", "0"])


def test_crontab_line_parses() -> None:
    (block,) = blocks("crontab")
    jobs = []
    for line in block.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", stripped):  # an environment line (MAILTO=...)
            continue
        fields = stripped.split(None, 5)
        check_cron_schedule(fields[:5])
        jobs.append(fields[5])
    assert len(jobs) == 1
    assert jobs[0].startswith(f"cd {HOME} && ")
    params = check_render_all(command_args(jobs[0]))
    assert str(params["data_dir"]) == "data/raw"


def _units() -> dict[str, str]:
    units = {}
    for block in blocks("ini"):
        first = block.splitlines()[0]
        assert first.startswith("# /etc/systemd/system/"), first
        units[Path(first[2:]).name] = block
    assert set(units) == {"postmortem-render.service", "postmortem-render.timer"}
    return units


def _ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, empty_lines_in_values=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(text)
    return parser


def test_systemd_units_parse_and_agree() -> None:
    units = _units()
    service = _ini(units["postmortem-render.service"])
    timer = _ini(units["postmortem-render.timer"])
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["WorkingDirectory"] == HOME
    exec_start = shlex.split(service["Service"]["ExecStart"])
    assert exec_start[0] == f"{HOME}/.venv/bin/postmortem"
    check_render_all(exec_start[1:])
    assert re.fullmatch(r"\d+h", service["Service"]["TimeoutStartSec"])
    assert timer["Timer"]["Unit"] == "postmortem-render.service"
    assert timer["Timer"]["OnCalendar"]
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_units_verify(tmp_path: Path) -> None:
    home = tmp_path / "home"
    exe = home / ".venv" / "bin" / "postmortem"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    exe.chmod(0o755)
    paths = []
    for name, text in _units().items():
        path = tmp_path / name
        # verify checks that ExecStart exists: point the unit at a stand-in checkout
        path.write_text(text.replace(HOME, str(home)), encoding="utf-8")
        paths.append(str(path))
    proc = subprocess.run(["systemd-analyze", "verify", *paths], capture_output=True, text=True, timeout=60, check=False)
    problems = [line for line in (proc.stdout + proc.stderr).splitlines() if "postmortem-render" in line]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert problems == []
    on_calendar = _ini(_units()["postmortem-render.timer"])["Timer"]["OnCalendar"]
    cal = subprocess.run(["systemd-analyze", "calendar", on_calendar], capture_output=True, text=True, timeout=60, check=False)
    assert cal.returncode == 0, cal.stderr


def test_airflow_dag_compiles_and_calls_the_cli(tmp_path: Path) -> None:
    py_compile.compile(str(DAG), cfile=str(tmp_path / "dag.pyc"), doraise=True)
    tree = ast.parse(DAG.read_text(encoding="utf-8"))
    assigns = {t.id: node for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    template = ast.literal_eval(assigns["RENDER_ALL"].value)
    # the doc shows the DAG's command as it is in the file
    (shown,) = [b for b in blocks("python") if b.startswith("RENDER_ALL")]
    assert ast.literal_eval(ast.parse(shown).body[0].value) == template  # type: ignore[attr-defined]
    run_id = "scheduled__2024-01-01T02:15:00+00:00"
    command = jinja2.Template(template).render(params={"home": HOME}, run_id=run_id)
    assert command.startswith(f"cd {HOME} && ")
    params = check_render_all(command_args(command))
    assert params["run_id"] == run_id
    assert RUN_ID.fullmatch(params["run_id"])
    # the DAG is scheduled with a valid cron expression and uses BashOperator, not Airflow internals we do not test
    schedule = re.search(r'schedule="([^"]+)"', DAG.read_text(encoding="utf-8"))
    assert schedule is not None
    check_cron_schedule(schedule.group(1).split())
    assert "BashOperator(" in DAG.read_text(encoding="utf-8")


def _imports(tree: ast.AST) -> list[tuple[str, str]]:
    """(module, name) of every ``from module import name`` in the file, at any depth."""
    return [(n.module or "", a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names]


def test_airflow_dag_imports_serve_airflow_3_and_2() -> None:
    tree = ast.parse(DAG.read_text(encoding="utf-8"))
    # each version-specific import sits in a try/except ImportError, Airflow 3's first
    tries = [n for n in tree.body if isinstance(n, ast.Try)]
    pairs = []
    for node in tries:
        assert [h.type.id for h in node.handlers if isinstance(h.type, ast.Name)] == ["ImportError"]
        pairs.append((_imports(ast.Module(body=node.body, type_ignores=[])), _imports(node.handlers[0])))
    assert ([("airflow.sdk", "DAG")], [("airflow", "DAG")]) in pairs
    assert (
        [("airflow.providers.standard.operators.bash", "BashOperator")],
        [("airflow.operators.bash", "BashOperator")],
    ) in pairs
    # no other Airflow import outside those fallbacks (airflow.operators.bash warns under Airflow 3)
    top = [(m, n) for m, n in _imports(ast.Module(body=[x for x in tree.body if not isinstance(x, ast.Try)], type_ignores=[]))]
    assert not [m for m, _ in top if m.startswith("airflow")]


def test_airflow_dag_has_pool_retries_owner_and_failure_alert() -> None:
    tree = ast.parse(DAG.read_text(encoding="utf-8"))
    calls = {n.func.id: n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    dag_kw = {k.arg: k.value for k in calls["DAG"].keywords}
    default_args = dag_kw["default_args"]
    assert isinstance(default_args, ast.Dict)
    args = {ast.literal_eval(k): v for k, v in zip(default_args.keys, default_args.values, strict=True)}  # type: ignore[arg-type]
    assert ast.literal_eval(args["retries"]) >= 1
    assert ast.literal_eval(args["owner"])
    callback = args["on_failure_callback"]
    assert isinstance(callback, ast.Name)
    functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    assert callback.id in functions and len(functions[callback.id].args.args) == 1  # Airflow passes the context
    op_kw = {k.arg: k.value for k in calls["BashOperator"].keywords}
    assert ast.literal_eval(op_kw["pool"]) == "postmortem"
    assert ast.literal_eval(dag_kw["max_active_runs"]) == 1
    doc = DOC.read_text(encoding="utf-8")
    assert "airflow pools set postmortem" in doc and "airflow pools set postmortem" in DAG.read_text(encoding="utf-8")
    assert "Every worker needs the checkout and its environment" in doc
