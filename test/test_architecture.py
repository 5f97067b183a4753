"""The package layering of docs/architecture.md § Layers: grasp6d_core's subpackages and top-level modules import
each other without a cycle, imports inside functions counted (tools/import_graph.py measures it from the source)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _import_graph():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools" / "import_graph.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_grasp6d_core_packages_form_a_dag(capsys):
    graph = _import_graph()
    assert graph.main([]) == 0 and "0 package cycle(s)" in capsys.readouterr().out   # the README's tool
    edges = graph.package_edges(graph.all_imports(ROOT / "grasp6d_core"))
    cycles = graph.strongly_connected(edges)
    detail = [f"{a} -> {b}: " + ", ".join(f"{i.source}:{i.line}" for i in why)
              for (a, b), why in sorted(edges.items()) for c in cycles if a in c and b in c]
    assert not cycles, "package cycle(s) " + "; ".join(" <-> ".join(c) for c in cycles) + "\n" + "\n".join(detail)
    # the documented direction of the main layers
    for low, high in [("physics", "hand"), ("data", "model"), ("data", "evaluation"), ("model", "evaluation"),
                      ("sim", "model"), ("evaluation", "commands")]:
        assert (low, high) not in edges, f"{low} imports {high}: " + ", ".join(
            f"{i.source}:{i.line}" for i in edges[(low, high)])


def test_a_cycle_closed_only_inside_a_function_is_found(tmp_path):
    """The check sees imports hidden in function bodies (and relative ones), but not TYPE_CHECKING-only ones."""
    graph = _import_graph()
    package = tmp_path / "grasp6d_core"
    for sub in ("low", "high", "typed"):
        (package / sub).mkdir(parents=True)
        (package / sub / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "high" / "top.py").write_text("from grasp6d_core.low import base\n")
    (package / "low" / "base.py").write_text("def f():\n    from ..high import top\n    return top\n")
    (package / "typed" / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                            "    from grasp6d_core.high import top\n")
    (package / "high" / "uses_typed.py").write_text("import grasp6d_core.typed.a\n")
    imports = graph.all_imports(package)
    assert [(i.source, i.target, i.local) for i in imports if i.source.endswith("base")] == \
        [("grasp6d_core.low.base", "grasp6d_core.high.top", True)]
    assert graph.strongly_connected(graph.package_edges(imports)) == [["high", "low"]]
