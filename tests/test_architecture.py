"""The package's shape: data flows one way, no import cycles, no private name crosses a module, small modules and functions.

Layers, lowest first (DESIGN.md, "Packages"): a module may import only from its own layer or
the layers below. Geography sits below ingest because ingest resolves places while reading.
Imports inside ``if TYPE_CHECKING:`` are annotations only and do not count.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "analysis"

# module (or package prefix) -> layer; the longest matching prefix wins
LAYERS: dict[str, int] = {
    # 0 the shared words and guards every module may use
    "analysis.vocab": 0,
    "analysis.schema": 0,
    "analysis.paths": 0,
    "analysis.errors": 0,
    "analysis.privacy": 0,
    "analysis.limits": 0,
    "analysis.timeparse": 0,
    "analysis.kernel": 0,
    "analysis.tomlkeys": 0,  # a TOML table read key by key (config's tables, [postmortem])
    "analysis.catalogues": 0,  # every word of the report, one TOML catalogue per language (data, no imports)
    # 1 incident.toml and its source files (config picks a format from the sources' FORMATS registry)
    "analysis.sources": 1,
    "analysis.config": 1,
    "analysis.configcheck": 1,
    "analysis.postmortem": 1,
    "analysis.timeline": 1,
    # 2 reference geography and place resolution
    "analysis.geo": 2,
    # 4 canonical tables
    "analysis.ingest": 4,
    "analysis.ingest.partitions": 4,
    # 5 recovery curves, 6 the spatial statistics, 7 incidents with known truth
    "analysis.recovery": 5,
    "analysis.spatial": 6,  # areas, autocorrelation, distance, pooling, equal_recovery
    "analysis.spatial_recovery": 6,
    "analysis.spatial_analysis": 8,
    "analysis.simulate": 7,
    # 8 one analysed incident and its metrics.json
    "analysis.params": 8,
    "analysis.pipeline": 8,
    "analysis.facts": 8,
    "analysis.fitting": 8,
    "analysis.metrics": 8,
    "analysis.misfit": 8,
    "analysis.nowcast": 8,
    "analysis.nowcast_eta": 8,
    "analysis.nowcast_history": 8,
    "analysis.nowcast_shape": 8,
    "analysis.nowcast_series": 8,
    "analysis.nowcast_skill": 8,
    "analysis.distributed": 8,
    "analysis.aggregate": 8,  # the national fit and the report counts from cells
    # 9 the report: words, figures, maps, sections, the page, batches
    "analysis.i18n": 9,
    "analysis.languages": 9,
    "analysis.figure_text": 9,
    "analysis.narrative": 9,
    "analysis.methods_report": 9,
    "analysis.impact_report": 9,
    "analysis.quality_report": 9,
    "analysis.figures": 9,
    "analysis.maps": 9,  # the area map, statements, recovery, time-lapse, layout
    "analysis.series_report": 9,
    "analysis.spatial_report": 9,
    "analysis.distance_report": 9,
    "analysis.postmortem_report": 9,
    "analysis.evidence_appendix": 9,
    "analysis.sections": 9,
    "analysis.htmlexport": 9,
    "analysis.provenance": 9,
    "analysis.report": 9,
    "analysis.report_export": 9,
    "analysis.report_folders": 9,
    "analysis.report_kernel": 9,
    "analysis.sentences": 9,
    "analysis.nowcast_report": 9,
    "analysis.triage": 9,
    "analysis.batch": 9,
    "analysis.batch_plan": 9,
    "analysis.batch_index": 9,
    # 10 the command line and the public API
    "analysis.cli": 10,
    "analysis.__main__": 10,
    "analysis": 10,
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(modules: dict[str, Path]) -> list[tuple[str, str, str, int]]:
    """(importer, imported module, imported name or '', line) for every import of the package."""
    found = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                if base.split(".")[0] != "analysis":
                    continue
                for alias in node.names:
                    target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    found.append((name, target, "" if target != base else alias.name, node.lineno))
            elif isinstance(node, ast.Import):
                found += [(name, a.name, "", node.lineno) for a in node.names if a.name.split(".")[0] == "analysis"]
    return found


def layer_of(module: str) -> int:
    """The layer of a module: its longest prefix in LAYERS."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise KeyError(module)


MODULES = _modules()
IMPORTS = _imports(MODULES)


def test_every_module_has_a_layer() -> None:
    missing = []
    for module in MODULES:
        try:
            layer_of(module)
        except KeyError:
            missing.append(module)
    assert missing == [], f"give these modules a layer in {__file__}: {missing}"
    stale = [k for k in LAYERS if k not in MODULES and not any(m.startswith(k + ".") for m in MODULES)]
    assert stale == [], f"these layer entries name no module: {stale}"


def test_nothing_imports_from_a_layer_above() -> None:
    upward = [
        f"{src} (layer {layer_of(src)}) imports {dst} (layer {layer_of(dst)}) at line {line}"
        for src, dst, _, line in IMPORTS
        if dst in MODULES and layer_of(dst) > layer_of(src)
    ]
    assert upward == []


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for src, dst, _, _ in IMPORTS:
        if dst in MODULES and dst != src and not src.startswith(dst + ".") and src != "analysis":
            graph[src].add(dst)
    # a package's __init__ importing its own modules is how it exports them, not a cycle
    for src in list(graph):
        graph[src] = {d for d in graph[src] if not (MODULES[d].name == "__init__.py" and src.startswith(d + "."))}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert cycles == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_crosses_modules(module: str) -> None:
    crossing = [
        f"{src} imports {dst}.{name} at line {line}"
        for src, dst, name, line in IMPORTS
        if src == module
        and name.startswith("_")
        and not name.startswith("__")
        and dst != src
        # a private helper may be shared inside one subpackage (recovery, geo), never beyond it
        and not (dst.rpartition(".")[0] == src.rpartition(".")[0] != "analysis")
    ]
    assert crossing == []


# --------------------------------------------------------------------------- sizes

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80  # from ``def`` to the last line, docstring included

# Modules and functions over the limits, each with the reason it stays so for now. An entry
# that is no longer over its limit fails the test below: the list only shrinks.
PENDING = "pending split"
LARGE_MODULES: dict[str, str] = {}
LONG_FUNCTIONS: dict[str, str] = {}


def _module_lines() -> dict[str, int]:
    return {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}


def _function_lines() -> dict[str, int]:
    """Every function and method of the package, by qualified name (``module.Class.method``), and its length."""
    found: dict[str, int] = {}

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[f"{prefix}.{child.name}"] = (child.end_lineno or child.lineno) - child.lineno + 1
                walk(child, f"{prefix}.{child.name}")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}.{child.name}")
            else:
                walk(child, prefix)

    for name, path in MODULES.items():
        walk(ast.parse(path.read_text(encoding="utf-8")), name)
    return found


@pytest.mark.parametrize(
    ("what", "measure", "limit", "listed"),
    [
        ("modules", _module_lines, MAX_MODULE_LINES, LARGE_MODULES),
        ("functions", _function_lines, MAX_FUNCTION_LINES, LONG_FUNCTIONS),
    ],
)
def test_nothing_over_the_size_limits_unless_listed(
    what: str, measure: Callable[[], dict[str, int]], limit: int, listed: dict[str, str]
) -> None:
    lines = measure()
    over = {name: n for name, n in lines.items() if n > limit and name not in listed}
    assert over == {}, f"split these {what} (at most {limit} lines) or list them with a reason"
    shrunk = [name for name in listed if lines.get(name, 0) <= limit]
    assert shrunk == [], f"these {what} are within {limit} lines now: remove them from the list: {shrunk}"
    assert all(reason.strip() for reason in listed.values())
