"""The ``grasp6d`` command line: one subcommand per module in :mod:`grasp6d_core.commands`.

Each command module defines ``NAME``, ``HELP`` and ``add_arguments(parser)`` plus ``run(args) -> int``. They
are imported lazily (only the chosen one), so ``grasp6d --help`` stays fast and a command whose heavy
dependency is missing fails alone, with its own message.

Errors a user can cause — a missing or unwritable path, a bad value, an unreadable or refused file — are
raised as OSError or ValueError (CheckpointError is one) by the commands and turned into one line on stderr
and exit status 2 here, in one place. Set GRASP6D_TRACEBACK=1 to get the traceback instead.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from types import ModuleType

import grasp6d_core.commands as commands_package
from grasp6d_core.errors import Grasp6dError

# What a user's mistake raises (a path, a value, a file we refuse, a source that cannot open); anything else is a
# bug and keeps its traceback.
USER_ERRORS = (OSError, ValueError, Grasp6dError)


def command_modules() -> dict[str, str]:
    """Command name -> module path, from the module file names (``synth.py`` -> ``synth``, ``sim_bench.py``
    -> ``sim-bench``)."""
    found = {}
    for info in pkgutil.iter_modules(commands_package.__path__):
        if not info.name.startswith("_"):
            found[info.name.replace("_", "-")] = f"{commands_package.__name__}.{info.name}"
    return dict(sorted(found.items()))


def _load(module_path: str) -> ModuleType:
    return importlib.import_module(module_path)


def build_parser(load: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser. Only the command named ``load`` gets its full argument set (import cost)."""
    from grasp6d_core import __version__

    parser = argparse.ArgumentParser(prog="grasp6d", description="6-DoF grasp detection: data, training, "
                                     "detection, evaluation and benchmarks (no ROS needed).")
    parser.add_argument("--version", action="version", version=f"grasp6d {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_path in command_modules().items():
        if name == load:
            module = _load(module_path)
            command_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
            module.add_arguments(command_parser)
        else:
            # The help line is read from the module's HELP without running its heavy imports.
            sub.add_parser(name, help=_help_line(module_path), add_help=False)
    return parser


def _help_line(module_path: str) -> str:
    spec = importlib.util.find_spec(module_path)
    if spec is None or spec.origin is None:
        return ""
    for line in open(spec.origin, encoding="utf-8"):
        if line.startswith("HELP = "):
            return line.split("=", 1)[1].strip().strip("\"'")
    return ""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    modules = command_modules()
    parser = build_parser(load=chosen if chosen in modules else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(_load(modules[args.command]).run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as error:
        if os.environ.get("GRASP6D_TRACEBACK") == "1":
            raise
        print(f"grasp6d {args.command}: {one_line(error)}", file=sys.stderr)
        return 2


def one_line(error: BaseException) -> str:
    """The error's message on one line (an OSError from the system as 'path: reason')."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error) or type(error).__name__
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


if __name__ == "__main__":
    sys.exit(main())
