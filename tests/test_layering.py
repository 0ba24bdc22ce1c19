"""The import graph of catalog/, optimizer/ and cli.py, as data: no cycles, no forbidden direction.

Every `import` and `from ... import` is an edge, wherever it stands (a function-level import made
to keep start-up fast is still a dependency). Rules:
- no cycle among the project's modules;
- catalog/ never imports optimizer/ or cli (the catalog is data and its schema; the optimizer uses it);
- optimizer/ never imports click or cli (the library neither parses flags nor prints);
- nothing imports cli (it is the top: parse, call the library, render).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("catalog", "optimizer")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {"cli": ROOT / "cli.py"}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute module a relative import names."""
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([target] if target else []))


def import_graph() -> dict[str, set[str]]:
    """module -> every module (project or third-party) it imports, by absolute dotted name."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node.level, node.module)
                edges.add(base)
                # `from . import sizing` / `from optimizer import plot` import submodules
                edges |= {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules}
        graph[name] = edges
    return graph


def project_graph() -> dict[str, set[str]]:
    """The graph restricted to the project's own modules; importing `a.b` also runs `a/__init__`,
    but that is a package edge, not a dependency of the importer on the package's other modules,
    so edges go to the named module only."""
    graph = import_graph()
    return {m: {t for t in targets if t in graph and t != m} for m, targets in graph.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first = last), or None; depth-first search with colours."""
    colour = {m: 0 for m in graph}        # 0 unseen, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        colour[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if colour[t] == 1:
                return stack[stack.index(t):] + [t]
            if colour[t] == 0 and (cycle := visit(t)):
                return cycle
        stack.pop()
        colour[m] = 2
        return None

    for m in sorted(graph):
        if colour[m] == 0 and (cycle := visit(m)):
            return cycle
    return None


def test_the_graph_sees_known_edges():
    graph = project_graph()
    assert "optimizer.model" in graph["optimizer.solve"]          # from .model import ...
    assert "optimizer.sizing" in graph["optimizer.capacity"]      # from . import sizing
    assert "catalog" in graph["optimizer.solve"]                  # from catalog import Catalog
    assert "click" in import_graph()["cli"]


def test_find_cycle_finds_one_and_only_when_there_is_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycles():
    cycle = find_cycle(project_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_layers_point_one_way():
    graph = import_graph()
    wrong = []
    for module, targets in sorted(graph.items()):
        for t in sorted(targets):
            top = t.split(".")[0]
            if module.startswith("catalog") and top in ("optimizer", "cli"):
                wrong.append(f"{module} imports {t} (catalog must not depend on the optimizer)")
            if module.startswith("optimizer") and top in ("click", "cli"):
                wrong.append(f"{module} imports {t} (the library must not parse flags or depend on the CLI)")
            if module != "cli" and top == "cli":
                wrong.append(f"{module} imports cli")
    assert not wrong, "\n".join(wrong)
