"""One exception family: every error class grasp6d defines derives from Grasp6dError, so a caller can catch them
all in one clause, and keeps a builtin base so older `except ValueError` code still works."""
import ast
import importlib
from pathlib import Path

import pytest

from grasp6d_core.errors import Grasp6dError

ROOT = Path(__file__).resolve().parent.parent
# Modules that need a ROS install or optional packages to import; their classes are checked by source alone.
SOURCES = sorted(p for pkg in ("grasp6d_core", "grasp6d_ros") for p in (ROOT / pkg).rglob("*.py"))


def error_classes(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.name, [ast.unparse(b) for b in node.bases]) for node in tree.body
            if isinstance(node, ast.ClassDef) and node.name.endswith(("Error", "Unavailable", "Refused"))]


def test_every_error_class_derives_from_the_family():
    found = {f"{p.relative_to(ROOT)}:{name}": bases for p in SOURCES for name, bases in error_classes(p)}
    assert len(found) >= 12, found
    outside = {where: bases for where, bases in found.items()
               if "Grasp6dError" not in bases and not where.endswith("errors.py:Grasp6dError")}
    assert not outside, f"error classes outside the Grasp6dError family: {outside}"


@pytest.mark.parametrize("module, name, builtin", [
    ("grasp6d_core.pipeline", "PipelineError", ValueError),
    ("grasp6d_core.model.checkpoint", "CheckpointError", ValueError),
    ("grasp6d_core.sensing.frame", "SourceError", RuntimeError),
    ("grasp6d_core.targets", "ConstraintError", ValueError),
])
def test_one_clause_catches_the_family_and_the_builtin_base_still_works(module, name, builtin):
    cls = getattr(importlib.import_module(module), name)
    for catch in (Grasp6dError, builtin):
        with pytest.raises(catch):
            raise cls("x")


def test_cli_prints_a_family_error_as_one_line(capsys, monkeypatch):
    from grasp6d_core import cli
    from grasp6d_core.sensing.frame import SourceError

    class Command:
        @staticmethod
        def add_arguments(parser):
            parser.add_argument("--root")

        @staticmethod
        def run(args):
            raise SourceError("camera 123: not connected\n(second line)")

    monkeypatch.setattr(cli, "_load", lambda module: Command)
    assert cli.main(["eval", "--root", "/nonexistent"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "grasp6d eval: camera 123: not connected; (second line)", err
