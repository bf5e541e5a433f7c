"""How the code's parts depend on each other: no import cycle in lib/, lib/ without Streamlit or torch
at import, and pages that reach the engine only over HTTP (through lib.services.providers)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, in_functions: bool = False) -> set[str]:
    """Every module `path` imports while it is being imported: module-level imports, `importlib.import_module`
    of a constant name included; imports inside functions (unless `in_functions`) and under
    `if TYPE_CHECKING:` are not run then."""
    found: set[str] = set()

    def visit(nodes: list[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and not in_functions:
                continue
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module")
                  and node.args and isinstance(node.args[0], ast.Constant)):
                found.add(str(node.args[0].value))
            visit(list(ast.iter_child_nodes(node)))

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def _graph(folder: str) -> dict[str, set[str]]:
    """module -> the project modules it imports at import time (a package's __init__ counts as imported)."""
    modules = {_module_name(p): p for p in (ROOT / folder).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path):
            parts = imported.split(".")
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                if target in modules and target != name and not name.startswith(target + "."):
                    targets.add(target)
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_lib_imports_itself_back():
    assert _cycles(_graph("lib")) == []


def test_every_lib_module_imports_alone_without_streamlit_or_torch():
    # A fresh interpreter, so nothing another test imported hides a missing or circular import.
    code = (
        "import importlib, pkgutil, sys, lib\n"
        "names = [m.name for m in pkgutil.walk_packages(lib.__path__, 'lib.') if not m.name.endswith('__main__')]\n"
        "for name in names: importlib.import_module(name)\n"
        "print(len(names), sorted(m for m in ('streamlit', 'torch', 'transformers') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    count, heavy = done.stdout.split(" ", 1)
    assert int(count) > 40 and heavy.strip() == "[]"


def test_pages_reach_the_engine_only_through_lib_providers():
    # The engine may run on a team's GPU machine: a page that imported lib.engine (or called the SDK
    # itself) would read this computer instead.
    for folder in ("ui", "views"):
        for path in (ROOT / folder).rglob("*.py"):
            imported = _imports(path, in_functions=True)
            assert not {m for m in imported if m.startswith(("lib.engine", "openai"))}, path
