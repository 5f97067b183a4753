"""Measure grasp6d_core's import graph from the source (ast; nothing is imported).

Every import statement is counted, those inside functions too: an import hidden in a function still makes its
package depend on the imported one, so a cycle that only function-level imports close is still a cycle.
Imports under ``if TYPE_CHECKING:`` are annotations only and are left out. A node of the package graph is a
subpackage of grasp6d_core (``data``, ``model``, ...) or a top-level module (``hand``, ``pipeline``, ...); the
root ``grasp6d_core/__init__.py`` (version, lazy short names) is ``__init__``.

    .venv/bin/python tools/import_graph.py            # counts, the package edges, the cycles (exit 1 if any)
    .venv/bin/python tools/import_graph.py --local    # also list every function-level import of grasp6d_core
"""
from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "grasp6d_core"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE


@dataclass(frozen=True)
class Import:
    source: str          # importing module, dotted
    target: str          # imported module, dotted (absolute)
    line: int
    local: bool          # inside a function body


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, root: Path) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: resolve against the importing module's package
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[:len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    # `from pkg import sub` imports the submodule pkg.sub when it is one
    found = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        rel = Path(*sub.split("."))
        if base.startswith(PACKAGE) and ((root.parent / rel).with_suffix(".py").exists()
                                         or (root.parent / rel / "__init__.py").exists()):
            found.append(sub)
        else:
            found.append(base)
    return found


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    """Every import statement of one file with whether it sits inside a function (TYPE_CHECKING blocks left out)."""
    module = module_name(path, root)
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit(other, local)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for target in dict.fromkeys(_targets(child, module, is_package, root)):
                    found.append(Import(module, target, child.lineno, local))
            visit(child, local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text(), str(path)), False)
    return found


def all_imports(root: Path = ROOT) -> list[Import]:
    return [imp for path in sorted(root.rglob("*.py")) for imp in imports_of(path, root)]


def node_of(module: str) -> str | None:
    """The package-graph node of a grasp6d_core module: its subpackage or top-level module (None outside)."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def package_edges(imports: list[Import]) -> dict[tuple[str, str], list[Import]]:
    """(importing node, imported node) -> the imports that make the edge; edges inside one node left out."""
    edges: dict[tuple[str, str], list[Import]] = {}
    for imp in imports:
        a, b = node_of(imp.source), node_of(imp.target)
        if a and b and a != b:
            edges.setdefault((a, b), []).append(imp)
    return edges


def strongly_connected(edges) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one node (each a cycle of the package graph)."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return components


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--local", action="store_true", help="list every function-level import of grasp6d_core")
    parser.add_argument("--root", type=Path, default=ROOT, help="the grasp6d_core folder to measure (default: this one)")
    args = parser.parse_args(argv)
    imports = all_imports(args.root.resolve())
    local = [imp for imp in imports if imp.local]
    internal_local = [imp for imp in local if node_of(imp.target)]
    print(f"{len(imports)} imports, {len(local)} inside functions "
          f"({len(internal_local)} of them of grasp6d_core modules, {len(local) - len(internal_local)} of "
          f"other packages)")
    if args.local:
        for imp in internal_local:
            print(f"  {imp.source}:{imp.line} -> {imp.target}")
    edges = package_edges(imports)
    print(f"{len(edges)} package edges:")
    for (a, b), why in sorted(edges.items()):
        kind = "local only" if all(imp.local for imp in why) else "module level"
        print(f"  {a} -> {b}  ({len(why)}, {kind})")
    cycles = strongly_connected(edges)
    for component in cycles:
        print("cycle: " + " <-> ".join(component))
        for (a, b), why in sorted(edges.items()):
            if a in component and b in component:
                for imp in why:
                    print(f"    {a} -> {b}: {imp.source}:{imp.line} {imp.target}{' (in a function)' * imp.local}")
    print(f"{len(cycles)} package cycle(s)")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
