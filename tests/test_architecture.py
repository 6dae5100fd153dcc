"""The shape of the code: imports flow one way, one cost model, typed public functions.

The layers, from the bottom (README, "Layout"): what a module may import is its own layer
and those below it; the command line and the app sit on top of everything, and the
library never imports the app.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import ROOT

LIBRARY = ROOT / "service_circle"
APP = ROOT / "api"

LAYERS: dict[str, int] = {
    # foundations: errors, checks, escaping, time limits, safe writing, datums, catalogue,
    # profiles, provenance
    **dict.fromkeys(
        [
            "_errors",
            "_validate",
            "_escape",
            "_deadline",
            "folders",
            "coords",
            "catalogue",
            "hours",
            "profiles",
            "provenance",
            "targets",
        ],
        0,
    ),
    # inputs: files read as they come
    **dict.fromkeys(["readers", "facilities", "demand", "units"], 1),
    # the network: its sources and its compiled arrays
    **dict.fromkeys(
        [
            "_walkable",
            "walk_network",
            "network",
            "synthetic",
            "terrain",
            "crossings",
            "_segments",
            "_contract",
        ],
        2,
    ),
    "cost": 3,
    **dict.fromkeys(["snapping", "search"], 4),
    "study": 5,
    **dict.fromkeys(
        [
            "judging",
            "coverage",
            "opening",
            "isochrones",
            "gaps",
            "completeness",
            "neighbourhood",
            "reach",
            "accessibility",
            "capacity",
            "_raster",
            "plan",
            "rural",
            "terrain_effect",
        ],
        6,
    ),
    **dict.fromkeys(["siting", "_highs", "_pmedian", "candidates", "siting_study"], 7),
    **dict.fromkeys(["writers", "tables", "indicators", "maps", "batch_report"], 8),
    **dict.fromkeys(["pipeline", "sample", "batch"], 9),
    **dict.fromkeys(["cli", "__init__"], 99),
}


def _modules() -> list[str]:
    return sorted(p.stem for p in LIBRARY.glob("*.py"))


def _imports(path: Path) -> set[str]:
    """service_circle modules ``path`` imports (at any level), and the app's if any.

    The deprecated aliases of a module (its ``__getattr__``) may point where a name moved,
    and names imported only for type hints (``if TYPE_CHECKING:``) are not imports at run time.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "__getattr__"]
    typing_only = [
        n
        for n in tree.body
        if isinstance(n, ast.If) and isinstance(n.test, ast.Name) and n.test.id == "TYPE_CHECKING"
    ]
    skipped = {id(inner) for block in aliases + typing_only for inner in ast.walk(block)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "service_circle":
                if len(parts) > 1:
                    found.add(parts[1])
                else:
                    found.update(alias.name for alias in node.names)
            elif parts[0] in ("service_circle_api", "api"):
                found.add("<app>")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "service_circle" and len(parts) > 1:
                    found.add(parts[1])
                elif parts[0] in ("service_circle_api", "api"):
                    found.add("<app>")
    return found


def test_every_module_has_a_layer():
    assert set(_modules()) <= set(LAYERS), set(_modules()) - set(LAYERS)


@pytest.mark.parametrize("module", _modules())
def test_imports_flow_one_way(module):
    mine = LAYERS[module]
    for other in _imports(LIBRARY / f"{module}.py"):
        if other == "<app>":
            assert module == "cli", f"{module} imports the app: the library never does"
            continue
        if other not in LAYERS:  # a name imported from the package itself (__init__)
            continue
        assert LAYERS[other] <= mine, f"{module} (layer {mine}) imports {other} ({LAYERS[other]})"


def test_no_module_but_the_cost_model_converts_units():
    conversion = re.compile(r"[*/]\s*60(\.0)?\b|speed_m_s\s*[*/]|[*/]\s*[\w.]*speed_m_s")
    offenders = []
    for path in [*LIBRARY.glob("*.py"), *APP.rglob("*.py")]:
        if path.name == "cost.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if conversion.search(code) and 'r"' not in code:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def _public_functions(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith(
            "_"
        ):
            yield node.name, node
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    not item.name.startswith("_") or item.name == "__init__"
                ):
                    yield f"{node.name}.{item.name}", item


def test_public_functions_are_typed():
    untyped = []
    for path in [*LIBRARY.glob("*.py"), *APP.rglob("*.py")]:
        for name, node in _public_functions(path):
            args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            args = [a for a in args if a.arg not in ("self", "cls")]
            missing = [a.arg for a in args if a.annotation is None]
            if node.returns is None and node.name != "__init__":
                missing.append("return")
            if missing:
                untyped.append(f"{path.relative_to(ROOT)}: {name} ({', '.join(missing)})")
    assert untyped == []


def test_the_app_is_installed_under_its_own_name():
    import service_circle_api

    assert Path(service_circle_api.__file__).parent == APP


def test_readme_layout_names_every_module():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = text[text.index("## Layout") : text.index("## Tested with")]
    missing = [
        p.relative_to(ROOT).as_posix()
        for p in [*LIBRARY.glob("*.py"), *APP.glob("*.py")]
        if p.name != "__init__.py" and not re.search(rf"\b{re.escape(p.name)}\b", layout)
    ]
    assert not missing, f"README's layout does not list {missing}"


def _cycles() -> list[list[str]]:
    """The import cycles among the library's modules (imports in functions included)."""
    graph = {m: {o for o in _imports(LIBRARY / f"{m}.py") if o in LAYERS and o != m}
             for m in _modules() if m != "__init__"}  # fmt: skip
    found, state, stack = [], dict.fromkeys(graph, 0), []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other == "__init__":
                continue
            if state.get(other) == 1:
                found.append([*stack[stack.index(other) :], other])
            elif state.get(other) == 0:
                visit(other)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node)
    return found


def test_no_import_cycle_even_hidden_in_a_function():
    """walk_network↔_segments and indicators↔tables imported each other inside functions."""
    assert _cycles() == []
